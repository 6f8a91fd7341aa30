//! docs/browser.md as a test: `serve` started with the doc's flags, the doc's two shop
//! pages (analytics.js and RudderStack's JS SDK) driven in Debian's Chromium by
//! playwright-core (tests/node/browser-shop.mjs), and what reached the mock Conversions
//! API checked against what each page did: orders carry the landing's `oppref`, a decline
//! deletes every cookie, crafted links and a page elsewhere on the site set nothing.
//!
//! Needs `npm ci --prefix tests/node` and the `chromium` package (`.ci/run` installs both).

use std::process::Command;

use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_tests::browser::{assert_orders_at_mock, node_dir};
use eventmap_tests::delivery::{KEY, PIXEL};
use eventmap_tests::serve::{free_port, Server};
use eventmap_tests::{repo, Scratch};
use serde_json::Value;

/// The flags of the doc's `eventmap serve` command, as the test runs them: the page origin
/// gets the test's port; the listener, the spool and the mapping are given by `Server`.
fn serve_flags_from_the_doc(doc: &str, page_port: u16) -> Vec<String> {
    let block = doc
        .split("```sh serve-command\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("docs/browser.md has the serve-command block");
    let words: Vec<&str> = block.split_whitespace().filter(|w| *w != "\\").collect();
    let after_serve = words
        .iter()
        .position(|w| *w == "serve")
        .expect("the block runs `eventmap serve`");
    let mut flags = Vec::new();
    let mut args = words[after_serve + 1..].iter();
    while let Some(flag) = args.next() {
        let value = args.next().expect("every flag in the block has a value");
        match *flag {
            "--mapping" => assert_eq!(*value, "mappings/openai.yaml"),
            // The test's own: a free port, a scratch spool.
            "--listen" | "--spool" => {}
            "--cors-origin" => flags.extend([
                flag.to_string(),
                value.replace(
                    "https://www.shop.example",
                    &format!("http://www.shop.example:{page_port}"),
                ),
            ]),
            _ => flags.extend([flag.to_string(), value.to_string()]),
        }
    }
    let keys = block
        .split("EVENTMAP_WRITE_KEYS=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the block gives the write key");
    flags.extend(["--write-key".to_string(), keys.to_string()]);
    flags
}

#[test]
fn the_shop_pages_of_the_browser_guide_deliver_their_orders_with_the_landing_oppref() {
    let node_dir = node_dir(&["playwright-core", "@rudderstack/analytics-js"]);
    let doc_path = repo().join("docs/browser.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/browser.md");
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts");
    let dir = Scratch::new("browser-shop");
    let page_port = free_port();
    let flags = serve_flags_from_the_doc(&doc, page_port);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // With the mapping, a scratch spool and the mock as the endpoint, retrying quickly.
    let server = Server::start(&dir.0.join("spool"), &mock.endpoint(), &flags);
    let serve_port = server.addr.rsplit(':').next().expect("a port").to_string();

    let output = Command::new("node")
        .arg("browser-shop.mjs")
        .args([
            &serve_port,
            &page_port.to_string(),
            &doc_path.display().to_string(),
        ])
        .current_dir(&node_dir)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}\nserve's log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    let report: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the report");
    assert_eq!(
        report["outside"],
        serde_json::json!([]),
        "requests left the machine"
    );
    let expected = report["expected"].as_object().expect("expected orders");
    assert_eq!(expected.len(), 9, "{report}");

    let orders = assert_orders_at_mock(&mock, expected);
    assert_eq!(
        orders["71"]["user"]["obref"], "ob_browser_1",
        "{}",
        orders["71"]
    );
}
