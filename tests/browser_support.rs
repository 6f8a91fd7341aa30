//! What the browser tests share: the tools they need, and the check of the orders a
//! browser session sent against what reached the mock Conversions API.

use std::collections::HashMap;
use std::path::PathBuf;

use eventmap_mock_capi::MockCapi;
use serde_json::{Map, Value};

use crate::serve::wait_until;

/// tests/node, once the npm packages and Chromium are there (says what is missing).
pub fn node_dir(packages: &[&str]) -> PathBuf {
    let dir = crate::repo().join("tests/node");
    for package in packages {
        assert!(
            dir.join("node_modules").join(package).exists(),
            "the browser test tools are not installed ({package}): run `npm ci --prefix tests/node`"
        );
    }
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: install Debian's `chromium` package (apt-get install chromium)"
    );
    dir
}

/// Waits until each order of `expected` (whole price → the `oppref` it must carry, or
/// null for none) is at the mock as `order_created`, checks its `oppref`, and returns
/// the mapped events by price.
pub fn assert_orders_at_mock(
    mock: &MockCapi,
    expected: &Map<String, Value>,
) -> HashMap<String, Value> {
    let cents = |price: &str| price.parse::<i64>().unwrap_or(0) * 100;
    let find = |events: &HashMap<String, Value>, price: &str| {
        events
            .values()
            .find(|e| e["data"]["amount"].as_i64() == Some(cents(price)))
            .cloned()
    };
    wait_until("every browser order at the mock", || {
        let record = mock.record();
        expected
            .keys()
            .all(|price| find(&record.events, price).is_some())
    });
    let record = mock.record();
    let mut by_price = HashMap::new();
    for (price, oppref) in expected {
        let event = find(&record.events, price).expect("found above");
        assert_eq!(event["type"], "order_created", "{event}");
        match oppref.as_str() {
            Some(oppref) => assert_eq!(event["oppref"], oppref, "{event}"),
            None => assert!(event.get("oppref").is_none(), "order {price}: {event}"),
        }
        by_price.insert(price.clone(), event);
    }
    by_price
}
