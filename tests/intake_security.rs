//! The intake against a hostile client, over raw HTTP: who may set the `oppref` cookie,
//! what `--cors-origin '*'` means, write keys as written in a keys file, the preflight the
//! browser SDKs need, and a landing URL too long for an event.

use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_tests::delivery::{KEY, PIXEL};
use eventmap_tests::serve::*;
use eventmap_tests::{eventmap_env, Scratch};
use serde_json::json;

const SHOP: &str = "https://www.shop.example";

fn mock() -> MockCapi {
    MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts")
}

fn set_cookies(answer: &Answer) -> Vec<&str> {
    answer
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .map(|(_, value)| value.as_str())
        .collect()
}

#[test]
fn only_a_post_from_a_listed_origin_sets_or_clears_the_oppref_cookie() {
    let mock = mock();
    let dir = Scratch::new("intake-idsync");
    let flags = [
        "--cors-origin",
        SHOP,
        "--cors-origin",
        "*",
        "--idsync-domain",
        "shop.example",
    ];
    let server = Server::start(&dir.0.join("spool"), &mock.endpoint(), &flags);
    let sync = "/v1/idsync?oppref=opp_attacker";

    // The shop's own page: the cookie, on its domain, with credentials allowed.
    let shop = server.request("POST", "/v1/idsync?oppref=opp_1", &[("Origin", SHOP)], b"");
    assert_eq!(shop.status, 204, "{}", shop.body);
    assert_eq!(
        set_cookies(&shop),
        ["__oppref=opp_1; Max-Age=2592000; Path=/; SameSite=Lax; Domain=shop.example"]
    );
    assert_eq!(shop.header("access-control-allow-origin"), Some(SHOP));
    assert_eq!(
        shop.header("access-control-allow-credentials"),
        Some("true")
    );

    // Anyone else: another origin (allowed to post events by `*`, not to set cookies),
    // the opaque origin, no origin at all (a form, a script outside a browser), and GET
    // (an image tag): nothing set.
    for (method, origin) in [
        ("POST", Some("https://evil.example")),
        ("POST", Some("null")),
        ("POST", None),
        ("GET", Some(SHOP)),
        ("GET", None),
    ] {
        let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("Origin", *o)).collect();
        let answer = server.request(method, sync, &headers, b"");
        assert!(
            answer.status == 403 || answer.status == 405,
            "{method} from {origin:?}: {} {}",
            answer.status,
            answer.body
        );
        assert!(set_cookies(&answer).is_empty(), "{method} from {origin:?}");
        if origin != Some(SHOP) {
            assert_eq!(
                answer.header("access-control-allow-credentials"),
                None,
                "{method} from {origin:?}"
            );
        }
    }
    let get = server.request("GET", sync, &[("Origin", SHOP)], b"");
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), Some("POST, OPTIONS"));

    // A hostile value from the shop's own origin (a crafted landing link).
    let hostile = server.request(
        "POST",
        "/v1/idsync?oppref=a%3Bb%3Dc",
        &[("Origin", SHOP)],
        b"",
    );
    assert_eq!(hostile.status, 400);
    assert!(set_cookies(&hostile).is_empty());

    // Revoking clears the cookie the server set (on its domain) and a host-only one.
    let revoke = server.request("POST", "/v1/idsync/revoke", &[("Origin", SHOP)], b"");
    assert_eq!(revoke.status, 204);
    assert_eq!(
        set_cookies(&revoke),
        [
            "__oppref=; Max-Age=0; Path=/; SameSite=Lax; Domain=shop.example",
            "__oppref=; Max-Age=0; Path=/; SameSite=Lax"
        ]
    );
    let foreign_revoke = server.request(
        "POST",
        "/v1/idsync/revoke",
        &[("Origin", "https://evil.example")],
        b"",
    );
    assert_eq!(foreign_revoke.status, 403);
    assert!(set_cookies(&foreign_revoke).is_empty());
}

#[test]
fn a_star_origin_never_goes_with_credentials_and_null_is_never_allowed() {
    let mock = mock();
    let dir = Scratch::new("intake-star");
    let server = Server::start(
        &dir.0.join("spool"),
        &mock.endpoint(),
        &["--cors-origin", "*"],
    );
    let preflight = |origin: &str| {
        server.request(
            "OPTIONS",
            "/v1/batch",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type,anonymousid"),
            ],
            b"",
        )
    };
    let any = preflight("https://any.example");
    assert_eq!(any.status, 204);
    assert_eq!(any.header("access-control-allow-origin"), Some("*"));
    assert_eq!(any.header("access-control-allow-credentials"), None);
    // What RudderStack's JS SDK sends, on first tries and on retries.
    let allowed = any
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for name in [
        "content-type",
        "authorization",
        "anonymousid",
        "rsa-since-last-attempt",
        "rsa-retry-attempt",
    ] {
        assert!(allowed.contains(name), "{name} not in {allowed}");
    }
    let null = preflight("null");
    assert_eq!(null.header("access-control-allow-origin"), None);
    // With `*` alone, no page may use the ID sync.
    let sync = server.request(
        "POST",
        "/v1/idsync?oppref=opp_1",
        &[("Origin", "https://any.example")],
        b"",
    );
    assert_eq!(sync.status, 403);
    assert!(set_cookies(&sync).is_empty());
    // The scripts are public files: any page may load them, the module too.
    for path in ["/idsync.js", "/idsync.mjs"] {
        let script = server.request("GET", path, &[("Origin", "https://any.example")], b"");
        assert_eq!(script.status, 200, "{path}");
        assert_eq!(script.header("access-control-allow-origin"), Some("*"));
    }
    let module = server.request("GET", "/idsync.mjs", &[], b"");
    assert!(
        module.body.contains("import './idsync.js'"),
        "{}",
        module.body
    );

    // An origin serve could never match is refused at start, with why.
    for bad in ["null", "https://shop.example/"] {
        let run = eventmap_env(
            &[
                "serve",
                "--mapping",
                "mappings/openai.yaml",
                "--write-key",
                "k",
                "--listen",
                "127.0.0.1:0",
                "--cors-origin",
                bad,
            ],
            "",
            &[("OPENAI_CAPI_KEY", KEY), ("OPENAI_PIXEL_ID", PIXEL)],
        );
        assert_ne!(run.code, 0, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("--cors-origin"), "{}", run.stderr);
    }
}

#[test]
fn a_keys_file_keeps_a_hash_sign_inside_a_key() {
    let mock = mock();
    let dir = Scratch::new("intake-keys");
    let keys = dir.write(
        "keys.txt",
        "# the shop's browser and server keys\nwk#browser\n\n  # retired: wk-old\nwk-server\n",
    );
    let server = Server::start(
        &dir.0.join("spool"),
        &mock.endpoint(),
        &["--write-keys-file", &keys],
    );
    let post_with = |key: &str| {
        server.request(
            "POST",
            "/v1/track",
            &[
                ("Authorization", &basic(key)),
                ("Content-Type", "application/json"),
            ],
            order(&format!("key-{key}")).to_string().as_bytes(),
        )
    };
    for key in ["wk#browser", "wk-server", WRITE_KEY] {
        assert_eq!(post_with(key).status, 200, "{key}");
    }
    for key in ["wk", "wk#", "wk-old", "# retired: wk-old", "wk#browser2"] {
        assert_eq!(post_with(key).status, 401, "{key}");
    }
    // In the body, as analytics.js sends it.
    let mut event = order("key-body");
    event["writeKey"] = json!("wk#browser");
    let body = server.request("POST", "/v1/track", &[], event.to_string().as_bytes());
    assert_eq!(body.status, 200, "{}", body.body);
}

#[test]
fn a_landing_url_too_long_for_an_event_is_cut_and_a_hostile_oppref_is_not_sent() {
    let mock = mock();
    let dir = Scratch::new("intake-long-url");
    let server = Server::start(&dir.0.join("spool"), &mock.endpoint(), &[]);
    // analytics.js puts the URL in four fields: 10 KB each is over the 32 KB event limit.
    let url = format!(
        "https://shop.example/landing?utm_content={}&oppref=opp_long",
        "x".repeat(10_000)
    );
    let search = &url[url.find('?').unwrap_or(0)..];
    let page = json!({"type": "page", "messageId": "long-url", "timestamp": now_ms() - 60_000,
        "context": {"page": {"url": url, "search": search}},
        "properties": {"url": url, "search": search, "title": "Landing"}});
    let answer = server.post("/v1/page", &page);
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Counted, so an operator sees it happen.
    assert_eq!(server.metric("eventmap_urls_cut_total"), 4.0);

    // Hostile values where the mapping looks for oppref: the ID sync's field, and the
    // page URL it falls back to.
    let hostile = [
        "<script>alert(1)</script>",
        "a;b=c",
        "café",
        &"o".repeat(3000),
    ];
    let mut ids = vec!["long-url".to_string()];
    for (i, value) in hostile.iter().enumerate() {
        let mut from_sdk = order(&format!("hostile-sdk-{i}"));
        from_sdk["context"]["providers"] = json!({"openAI": {"oppref": value}});
        let mut from_url = order(&format!("hostile-url-{i}"));
        let query: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
        from_url["context"]["page"]["url"] =
            json!(format!("https://shop.example/landing?oppref={query}"));
        for event in [from_sdk, from_url] {
            ids.push(event["messageId"].as_str().unwrap_or_default().to_string());
            assert_eq!(server.post("/v1/track", &event).status, 200);
        }
    }
    wait_until("every event at the mock", || {
        let record = mock.record();
        ids.iter().all(|id| record.delivered.contains_key(id))
    });
    let record = mock.record();
    let sent = |id: &str| record.events.get(id).cloned().unwrap_or_default();
    let long = sent("long-url");
    let source_url = long["source_url"].as_str().unwrap_or_default();
    assert_eq!(source_url.len(), 2048, "cut to the documented length");
    assert!(url.starts_with(source_url));
    for id in &ids[1..] {
        let event = sent(id);
        assert_eq!(event["type"], "order_created", "{event}");
        assert!(
            event.get("oppref").is_none(),
            "{id} sent {}",
            event["oppref"]
        );
    }
}

#[test]
fn rudderstacks_beacon_path_takes_the_write_key_from_the_query() {
    let mock = mock();
    let dir = Scratch::new("intake-beacon");
    let server = Server::start(&dir.0.join("spool"), &mock.endpoint(), &[]);
    // `navigator.sendBeacon`: text/plain, no headers of its own, the key in the query.
    let body = json!({"batch": [order("beacon-1")], "sentAt": now_ms()}).to_string();
    let sent = server.request(
        "POST",
        &format!("/beacon/v1/batch?writeKey={WRITE_KEY}"),
        &[("Content-Type", "text/plain;charset=UTF-8")],
        body.as_bytes(),
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    let wrong = server.request(
        "POST",
        "/beacon/v1/batch?writeKey=nope",
        &[("Content-Type", "text/plain;charset=UTF-8")],
        body.as_bytes(),
    );
    assert_eq!(wrong.status, 401);
    wait_until("the beacon's event at the mock", || {
        mock.record().delivered.contains_key("beacon-1")
    });
}
