//! The ID sync end to end in a real browser: Debian's Chromium (`/usr/bin/chromium`,
//! driven by playwright-core from tests/node) loads pages served on 127.0.0.1 with the
//! real `@segment/analytics-next` and `clients/js/idsync.js` from `eventmap serve`; the
//! events it posts go through serve to the mock Conversions API.
//!
//! Needs `npm ci --prefix tests/node` and the `chromium` package (`.ci/run` installs
//! both); without them this test fails and says what is missing.

use std::process::Command;

use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_tests::browser::{assert_orders_at_mock, node_dir};
use eventmap_tests::delivery::{KEY, PIXEL};
use eventmap_tests::serve::{free_port, Server, WRITE_KEY};
use eventmap_tests::{repo, Scratch};
use serde_json::Value;

#[test]
fn the_id_sync_keeps_oppref_first_party_and_every_event_carries_it() {
    let node_dir = node_dir(&["playwright-core", "@segment/analytics-next"]);
    // Importable as an ES module (and as CommonJS) as well as loaded by a script tag.
    let module = repo().join("clients/js/idsync.mjs");
    let script = repo().join("clients/js/idsync.js");
    let check = format!(
        "const m = await import({:?}); const c = (await import('node:module')).createRequire(import.meta.url)({:?});\n\
         if (typeof m.init !== 'function' || !m.valid('opp_1') || m.valid('a;b') || c.init !== m.init) process.exit(1);",
        module.display().to_string(),
        script.display().to_string()
    );
    let imported = Command::new("node")
        .args(["--input-type=module", "-e", &check])
        .output()
        .expect("node runs");
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );

    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts");
    let dir = Scratch::new("idsync-browser");
    let page_port = free_port();
    let origin = format!("http://127.0.0.1:{page_port}");
    let flags = ["--cors-origin", &origin, "--idsync-lifetime", "90d"];
    let server = Server::start(&dir.0.join("spool"), &mock.endpoint(), &flags);

    // The script as serve ships it: cacheable, revalidated by its ETag.
    let script = server.request("GET", "/idsync.js", &[], b"");
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    assert!(script.body.contains("EventmapIdSync"));
    let etag = script.header("etag").expect("an ETag").to_string();
    let again = server.request("GET", "/idsync.js", &[("If-None-Match", &etag)], b"");
    assert_eq!(again.status, 304);
    let hostile = server.request(
        "POST",
        "/v1/idsync?oppref=a%3Bb%3Dc",
        &[("Origin", &origin)],
        b"",
    );
    assert_eq!(hostile.status, 400);
    assert_eq!(hostile.header("set-cookie"), None);

    let output = Command::new("node")
        .arg("browser-idsync.mjs")
        .args([
            &format!("http://{}", server.addr),
            WRITE_KEY,
            &page_port.to_string(),
        ])
        .current_dir(&node_dir)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let report: Value = serde_json::from_str(last).expect("the browser test's report");
    let expected = report["expected"].as_object().expect("expected orders");
    assert_eq!(expected.len(), 6, "{report}");

    // Each order the browser sent, mapped, at the mock: with its oppref, or without.
    let orders = assert_orders_at_mock(&mock, expected);
    assert_eq!(
        orders["21"]["opt_out"], true,
        "consent withheld rides on the event: {}",
        orders["21"]
    );
}
