//! The real server SDKs as clients of `eventmap serve`: `@segment/analytics-node` and
//! `@rudderstack/rudder-sdk-node` (which gzips its batches), pinned in
//! tests/node/package-lock.json, post events as a customer's backend would; every event
//! must reach the mock Conversions API mapped as expected.
//!
//! Needs `npm ci --prefix tests/node` first (the README's test command and `.ci/run` do
//! it); without it this test fails and says so.

use std::process::Command;

use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_tests::delivery::{KEY, MAPPING, META_MAPPING, PIXEL};
use eventmap_tests::serve::{wait_until, Server, WRITE_KEY};
use eventmap_tests::{repo, Scratch};
use serde_json::json;

fn post_through(sdk: &str, server: &Server, prefix: &str, count: usize) {
    let node_dir = repo().join("tests/node");
    assert!(
        node_dir
            .join("node_modules/@segment/analytics-node")
            .exists()
            && node_dir
                .join("node_modules/@rudderstack/rudder-sdk-node")
                .exists(),
        "the SDKs are not installed: run `npm ci --prefix tests/node`"
    );
    let host = format!("http://{}", server.addr);
    let output = Command::new("node")
        .arg("post-events.mjs")
        .args([sdk, &host, WRITE_KEY, prefix, &count.to_string()])
        .current_dir(&node_dir)
        .output()
        .expect("node runs (Node.js 18 or later is needed)");
    assert!(
        output.status.success(),
        "{sdk}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_orders_arrived(mock: &MockCapi, mapping: &str, prefix: &str, count: usize) {
    let ids: Vec<String> = (0..count).map(|i| format!("{prefix}-{i}")).collect();
    wait_until(&format!("{prefix} events at the mock"), || {
        let record = mock.record();
        ids.iter().all(|id| record.delivered.contains_key(id))
    });
    let record = mock.record();
    for id in &ids {
        assert_eq!(record.delivered[id], 1, "{id}");
        let event = &record.events[id];
        if mapping == META_MAPPING {
            assert_meta_order(event);
            continue;
        }
        assert_eq!(event["type"], "order_created", "{event}");
        assert_eq!(
            event["data"],
            json!({"type": "contents", "currency": "EUR", "amount": 3998,
                "contents": [{"id": "kettle-01", "quantity": 2, "amount": 1999}]}),
            "{event}"
        );
        assert_eq!(event["source_url"], "https://shop.example/checkout");
        assert_eq!(event["user"]["ip_address"], "203.0.113.9");
        assert_eq!(event["action_source"], "web");
    }
}

/// The same order as Meta takes it: seconds, major units, `website`, `user_data`.
fn assert_meta_order(event: &serde_json::Value) {
    assert_eq!(event["event_name"], "Purchase", "{event}");
    assert_eq!(
        event["custom_data"]["contents"],
        json!([{"id": "kettle-01", "quantity": 2, "item_price": 19.99}]),
        "{event}"
    );
    assert_eq!(event["custom_data"]["value"], json!(39.98), "{event}");
    assert_eq!(event["custom_data"]["currency"], "EUR");
    assert_eq!(event["event_source_url"], "https://shop.example/checkout");
    assert_eq!(event["user_data"]["client_ip_address"], "203.0.113.9");
    assert_eq!(event["action_source"], "website");
    assert!(
        event["event_time"].as_i64().unwrap_or(0) < 10_000_000_000,
        "{event}"
    );
}

#[test]
fn segment_and_rudderstack_sdks_deliver_every_event_through_serve() {
    for mapping in [MAPPING, META_MAPPING] {
        sdks_deliver_through_serve(mapping);
    }
}

fn sdks_deliver_through_serve(mapping: &str) {
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts");
    let dir = Scratch::new("serve-sdks");
    let server = Server::start_with(mapping, &dir.0.join("spool"), &mock.endpoint(), &[]);
    post_through("segment", &server, "segment", 120);
    post_through("rudderstack", &server, "rudder", 120);
    assert_orders_arrived(&mock, mapping, "segment", 120);
    assert_orders_arrived(&mock, mapping, "rudder", 120);
    assert_eq!(mock.record().delivered.len(), 240);
    let page = server.request("GET", "/metrics", &[], b"").body;
    assert!(
        page.contains("eventmap_events_total{outcome=\"accepted\"} 240"),
        "{page}"
    );
}

#[test]
fn the_sdks_post_through_a_two_route_pipeline_file_to_both_destinations() {
    let openai = MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts");
    let meta = MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts");
    let dir = Scratch::new("serve-sdks-routes");
    let config = dir.write(
        "pipeline.yaml",
        &format!(
            "version: 1
spool: {{ dir: {} }}
routes:
  openai:
    mapping: {}
    settings: {{ endpoint: '{}' }}
  meta:
    mapping: {}
    settings: {{ endpoint: '{}' }}
sources:
  backend:
    write_keys: {{ env: BACKEND_KEYS }}
    routes: [openai, meta]
",
            dir.0.join("spool").display(),
            repo().join(MAPPING).display(),
            openai.endpoint(),
            repo().join(META_MAPPING).display(),
            meta.endpoint()
        ),
    );
    let server = Server::with_config(
        std::path::Path::new(&config),
        &[("BACKEND_KEYS", WRITE_KEY)],
        &["--linger", "20ms"],
    );
    post_through("segment", &server, "segment", 60);
    post_through("rudderstack", &server, "rudder", 60);
    for prefix in ["segment", "rudder"] {
        assert_orders_arrived(&openai, MAPPING, prefix, 60);
        assert_orders_arrived(&meta, META_MAPPING, prefix, 60);
    }
    wait_until("the spool emptied", || {
        server.metric("eventmap_spool_depth") == 0.0
    });
}
