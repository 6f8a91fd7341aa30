//! Routes end to end: `eventmap serve --config` with a pipeline file, real processes on
//! 127.0.0.1, the mock as each destination. One intake, several destinations and pixels:
//! a destination that is down holds back only its own route, kill -9 loses nothing on
//! any route, a source's key reaches only its own routes, a reload with a broken mapping
//! changes nothing, and the flags mean exactly a one-route file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_tests::delivery::{signal, KEY, PIXEL};
use eventmap_tests::serve::{basic, free_port, order, order_batch, wait_until, Answer, Server};
use eventmap_tests::{eventmap, repo, Scratch};

const KEY_A: &str = "wk-brand-a-51f0";
const KEY_B: &str = "wk-brand-b-9c2e";

fn mock_with_pixel(pixel: &str) -> MockCapi {
    MockCapi::start(MockConfig::new(KEY, pixel)).expect("mock starts")
}

/// A pipeline file in `dir` (its mappings copied beside it, so a test may break one).
fn pipeline(dir: &Scratch, body: &str) -> PathBuf {
    for name in ["openai.yaml", "meta.yaml"] {
        std::fs::copy(repo().join("mappings").join(name), dir.0.join(name)).unwrap();
    }
    let spool = dir.0.join("spool");
    let text = format!("version: 1\nspool: {{ dir: {} }}\n{body}", spool.display());
    PathBuf::from(dir.write("pipeline.yaml", &text))
}

/// The fast retry flags every test server gets (the file's routes take them as defaults).
const FAST: &[&str] = &[
    "--linger",
    "20ms",
    "--retry-delay",
    "20ms",
    "--max-retry-delay",
    "200ms",
    "--connect-timeout",
    "500ms",
];

fn post_orders(server: &Server, key: &str, prefix: &str, batches: usize) -> Vec<String> {
    let mut all = Vec::new();
    for b in 0..batches {
        let (batch, ids) = order_batch(&format!("{prefix}{b}"), 100);
        let answer = server.post_as(key, "/v1/batch", &batch);
        assert_eq!(answer.status, 200, "{}", answer.body);
        all.extend(ids);
    }
    all
}

fn wait_all_once(mock: &MockCapi, ids: &[String], what: &str) {
    let started = Instant::now();
    loop {
        let record = mock.record();
        if ids.iter().all(|id| record.delivered.contains_key(id)) {
            for id in ids {
                assert_eq!(record.delivered[id], 1, "{what}: {id} delivered twice");
            }
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: {} of {} delivered",
            ids.iter()
                .filter(|id| record.delivered.contains_key(*id))
                .count(),
            ids.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_destination_down_holds_back_only_its_route_and_kill_9_loses_nothing_on_either() {
    let openai = mock_with_pixel(PIXEL);
    let meta_port = free_port();
    let dir = Scratch::new("routes-down");
    let config = pipeline(
        &dir,
        &format!(
            "routes:
  openai:
    mapping: openai.yaml
    settings: {{ endpoint: '{}', api_key: {{ env: OPENAI_CAPI_KEY }}, pixel_id: {{ env: OPENAI_PIXEL_ID }} }}
    delivery: {{ batch_size: 100, max_attempts: 100000, max_retry_time: 1h }}
  meta:
    mapping: meta.yaml
    settings: {{ endpoint: 'http://127.0.0.1:{meta_port}', access_token: {{ env: META_ACCESS_TOKEN }}, pixel_id: {{ env: META_PIXEL_ID }} }}
    delivery: {{ batch_size: 100, max_attempts: 100000, max_retry_time: 1h }}
sources:
  shop:
    write_keys: {{ env: SHOP_WRITE_KEYS }}
    routes: [openai, meta]
",
            openai.endpoint()
        ),
    );
    let env = [("SHOP_WRITE_KEYS", KEY_A)];
    let server = Server::with_config(&config, &env, FAST);
    let ids = post_orders(&server, KEY_A, "down", 20);
    assert_eq!(ids.len(), 2000);
    // OpenAI gets every event once while Meta's destination is down.
    wait_all_once(&openai, &ids, "openai, meta down");
    server.wait_for_log("destination_down");
    let page = server.request("GET", "/metrics", &[], b"").body;
    assert!(
        page.contains("eventmap_route_depth{route=\"meta\"} 2000")
            && page.contains("eventmap_route_delivered_total{route=\"openai\"} 2000"),
        "{page}"
    );
    assert!(
        server.log().contains("\"route\":\"meta\""),
        "{}",
        server.log()
    );
    server.kill_9();
    let meta = MockCapi::start_on(MockConfig::new(KEY, PIXEL), meta_port).expect("meta up");
    let restarted = Server::with_config(&config, &env, FAST);
    wait_all_once(&meta, &ids, "meta after the restart");
    wait_until("the spool emptied", || {
        restarted.metric("eventmap_spool_depth") == 0.0
    });
    // Nothing OpenAI had was sent to it again.
    assert!(openai.record().delivered.values().all(|n| *n == 1));
    assert_eq!(openai.record().delivered.len(), 2000);
    let event = &meta.record().events["down0-0"];
    assert_eq!(event["event_name"], "Purchase", "{event}");
}

#[test]
fn two_sources_reach_two_pixels_and_a_key_never_reaches_the_other_source_route() {
    let pixel_a = mock_with_pixel("px_brand_a");
    let pixel_b = mock_with_pixel("px_brand_b");
    let dir = Scratch::new("routes-sources");
    let config = pipeline(
        &dir,
        &format!(
            "routes:
  brand_a:
    mapping: openai.yaml
    settings: {{ endpoint: '{}', pixel_id: px_brand_a }}
  brand_b:
    mapping: openai.yaml
    settings: {{ endpoint: '{}', pixel_id: px_brand_b }}
sources:
  a:
    write_keys: {{ env: KEYS_A }}
    routes: [brand_a]
  b:
    write_keys: {{ env: KEYS_B }}
    routes: [brand_b]
",
            pixel_a.endpoint(),
            pixel_b.endpoint()
        ),
    );
    let env = [("KEYS_A", KEY_A), ("KEYS_B", KEY_B)];
    let server = Server::with_config(&config, &env, FAST);
    let a = post_orders(&server, KEY_A, "a", 2);
    let b = post_orders(&server, KEY_B, "b", 2);
    wait_all_once(&pixel_a, &a, "brand a");
    wait_all_once(&pixel_b, &b, "brand b");
    wait_until("the spool emptied", || {
        server.metric("eventmap_spool_depth") == 0.0
    });
    let (seen_a, seen_b) = (pixel_a.record(), pixel_b.record());
    assert!(b.iter().all(|id| !seen_a.delivered.contains_key(id)));
    assert!(a.iter().all(|id| !seen_b.delivered.contains_key(id)));
    assert_eq!((seen_a.delivered.len(), seen_b.delivered.len()), (200, 200));
    // A key of neither source is refused.
    let (batch, _) = order_batch("stranger", 1);
    assert_eq!(server.post_as("wk-nobody", "/v1/batch", &batch).status, 401);
}

/// Two brands' sources, each with its own pages and limits, to two pixels.
fn brands_file(dir: &Scratch, pixel_a: &MockCapi, pixel_b: &MockCapi, origin_a: &str) -> PathBuf {
    pipeline(
        dir,
        &format!(
            "routes:
  brand_a:
    mapping: openai.yaml
    settings: {{ endpoint: '{}', pixel_id: px_brand_a }}
  brand_b:
    mapping: openai.yaml
    settings: {{ endpoint: '{}', pixel_id: px_brand_b }}
sources:
  a:
    write_keys: {{ env: KEYS_A }}
    cors_origins: ['{origin_a}']
    limits: {{ max_event_bytes: 2KiB, max_request_bytes: 8KiB }}
    routes: [brand_a]
  b:
    write_keys: {{ env: KEYS_B }}
    cors_origins: [https://b.example]
    routes: [brand_b]
",
            pixel_a.endpoint(),
            pixel_b.endpoint()
        ),
    )
}

/// POSTs `body` to /v1/batch with `key` (as the Basic user, or in the body when `None`
/// is given as the header) from a page of `origin`, if any.
fn post_from(
    server: &Server,
    key: Option<&str>,
    origin: Option<&str>,
    body: &serde_json::Value,
) -> Answer {
    let auth = key.map(basic);
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    if let Some(origin) = origin {
        headers.push(("Origin", origin));
    }
    server.request("POST", "/v1/batch", &headers, body.to_string().as_bytes())
}

#[test]
fn each_source_has_its_own_pages_and_limits_and_a_reload_replaces_them() {
    let pixel_a = mock_with_pixel("px_brand_a");
    let pixel_b = mock_with_pixel("px_brand_b");
    let dir = Scratch::new("routes-source-edges");
    let config = brands_file(&dir, &pixel_a, &pixel_b, "https://a.example");
    let env = [("KEYS_A", KEY_A), ("KEYS_B", KEY_B)];
    let server = Server::with_config(&config, &env, FAST);
    let batch_of = |id: &str| serde_json::json!({"batch": [order(id)]});
    let mut delivered_a = Vec::new();

    // Brand a's pages post with a's key, and may read the answer.
    let own = post_from(
        &server,
        Some(KEY_A),
        Some("https://a.example"),
        &batch_of("a-own-page"),
    );
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(
        own.header("access-control-allow-origin"),
        Some("https://a.example")
    );
    delivered_a.push("a-own-page".to_string());
    // Brand b's pages (listed, but by b) and any other page may not post with a's key.
    for (origin, id) in [
        ("https://b.example", "a-from-b"),
        ("https://evil.example", "a-from-evil"),
        ("null", "a-from-null"),
    ] {
        let answer = post_from(&server, Some(KEY_A), Some(origin), &batch_of(id));
        assert_eq!(answer.status, 403, "{origin}: {}", answer.body);
        assert!(
            answer.body.contains("origin_not_allowed"),
            "{}",
            answer.body
        );
        assert_eq!(
            answer.header("access-control-allow-origin"),
            None,
            "{origin}"
        );
    }
    // A server sends no Origin: its key is what guards it.
    assert_eq!(
        post_from(&server, Some(KEY_A), None, &batch_of("a-server")).status,
        200
    );
    delivered_a.push("a-server".to_string());
    // The preflight carries no key: it answers every source's pages, and no other.
    let preflight = |origin: &str| {
        server.request(
            "OPTIONS",
            "/v1/batch",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
            ],
            b"",
        )
    };
    assert_eq!(
        preflight("https://b.example").header("access-control-allow-origin"),
        Some("https://b.example")
    );
    assert_eq!(
        preflight("https://evil.example").header("access-control-allow-origin"),
        None
    );

    // Source a takes events up to 2 KiB, b up to the listener's 32 KiB.
    let mut big = order("a-big");
    big["properties"]["note"] = serde_json::json!("x".repeat(4000));
    let refused = post_from(
        &server,
        Some(KEY_A),
        None,
        &serde_json::json!({"batch": [big.clone()]}),
    );
    assert_eq!(refused.status, 413, "{}", refused.body);
    big["messageId"] = serde_json::json!("b-big");
    assert_eq!(
        post_from(
            &server,
            Some(KEY_B),
            None,
            &serde_json::json!({"batch": [big]})
        )
        .status,
        200
    );
    // A key in the body is found after the body is read (within the largest limits of
    // any source), then held to its own source's: 8 KiB a request for a.
    let (mut many, _) = order_batch("a-many", 40);
    many["writeKey"] = serde_json::json!(KEY_A);
    assert!(many.to_string().len() > 8 * 1024);
    let refused = post_from(&server, None, None, &many);
    assert_eq!(refused.status, 413, "{}", refused.body);
    let (mut many_b, ids_b) = order_batch("b-many", 40);
    many_b["writeKey"] = serde_json::json!(KEY_B);
    assert_eq!(post_from(&server, None, None, &many_b).status, 200);

    // A reload gives source a other pages.
    brands_file(&dir, &pixel_a, &pixel_b, "https://a2.example");
    signal(&server.child, "HUP");
    server.wait_for_log("\"event\":\"reloaded\"");
    let moved = post_from(
        &server,
        Some(KEY_A),
        Some("https://a2.example"),
        &batch_of("a-new-page"),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    delivered_a.push("a-new-page".to_string());
    assert_eq!(
        post_from(
            &server,
            Some(KEY_A),
            Some("https://a.example"),
            &batch_of("a-old-page")
        )
        .status,
        403
    );

    wait_all_once(&pixel_a, &delivered_a, "brand a");
    let mut expected_b = ids_b;
    expected_b.push("b-big".to_string());
    wait_all_once(&pixel_b, &expected_b, "brand b");
    wait_until("the spool emptied", || {
        server.metric("eventmap_spool_depth") == 0.0
    });
    let (seen_a, seen_b) = (pixel_a.record(), pixel_b.record());
    assert_eq!(
        seen_a.delivered.len(),
        delivered_a.len(),
        "only what a's own pages and servers sent"
    );
    assert_eq!(seen_b.delivered.len(), expected_b.len());
}

#[test]
fn a_reload_with_a_broken_mapping_changes_nothing_and_a_good_one_applies() {
    let mock = mock_with_pixel(PIXEL);
    let dir = Scratch::new("routes-reload");
    let config = pipeline(
        &dir,
        &format!(
            "routes:
  openai:
    mapping: openai.yaml
    settings: {{ endpoint: '{0}' }}
  meta:
    mapping: meta.yaml
    settings: {{ endpoint: '{0}' }}
sources:
  shop:
    write_keys: {{ env: SHOP_WRITE_KEYS }}
    routes: [openai, meta]
",
            mock.endpoint()
        ),
    );
    let env = [("SHOP_WRITE_KEYS", KEY_A)];
    let server = Server::with_config(&config, &env, FAST);
    let meta_mapping = dir.0.join("meta.yaml");
    let good = std::fs::read_to_string(&meta_mapping).unwrap();
    std::fs::write(
        &meta_mapping,
        good.replace("transform: sha256_email", "transform: sha256_emial"),
    )
    .unwrap();
    signal(&server.child, "HUP");
    server.wait_for_log("reload_refused");
    let log = server.log();
    assert!(
        log.contains("meta.yaml:") && log.contains("did you mean `sha256_email`"),
        "the broken mapping's own location: {log}"
    );
    // Both routes still deliver with the mappings they had.
    let ids = post_orders(&server, KEY_A, "after-broken", 1);
    wait_until("both routes delivered", || {
        let record = mock.record();
        ids.iter().all(|id| record.delivered.get(id) == Some(&2))
    });
    // A good reload that drops the Meta route sets its waiting events aside, never
    // silently: none wait now, so none are dead-lettered, and the route stops.
    std::fs::write(&meta_mapping, &good).unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    let without_meta = text
        .replace("    routes: [openai, meta]", "    routes: [openai]")
        .replace(
            &format!(
                "  meta:\n    mapping: meta.yaml\n    settings: {{ endpoint: '{}' }}\n",
                mock.endpoint()
            ),
            "",
        );
    std::fs::write(&config, without_meta).unwrap();
    signal(&server.child, "HUP");
    // `route_stopped` is logged while the reload applies, `reloaded` once it is done.
    server.wait_for_log("\"reloaded\"");
    assert!(server.log().contains("route_stopped"), "{}", server.log());
}

#[test]
fn check_config_reports_five_mistakes_at_their_places() {
    let dir = Scratch::new("routes-check");
    std::fs::copy(
        repo().join("mappings/openai.yaml"),
        dir.0.join("openai.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.0.join("broken.yaml"),
        "version: 1\nname: b\ndestination: meta\ndefault:\n  keys:\n    event_name: { from: event, transform: lowr }\n",
    )
    .unwrap();
    let config = dir.write(
        "pipeline.yaml",
        "version: 1
routes:
  openai:
    mapping: openai.yaml
    settings:
      api_key: sk-written-in-the-file
    delivery: { batch_sise: 10 }
  meta:
    mapping: broken.yaml
sources:
  shop:
    write_keys: { env: K }
    routes: [opneai]
spoool: {}
",
    );
    let run = eventmap(&["check", "--config", &config], "");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let expect = [
        ("pipeline.yaml:7:17:", "did you mean `batch_size`"),
        ("pipeline.yaml:13:14:", "did you mean `openai`"),
        ("pipeline.yaml:14:1:", "did you mean `spool`"),
        ("pipeline.yaml:6:7:", "is a secret"),
        ("broken.yaml:6:43:", "did you mean `lower`"),
    ];
    for (place, what) in expect {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(place) && l.contains(what)),
            "{place} {what}:\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("5 error(s)"), "{}", run.stderr);
    assert!(!run.stderr.contains("sk-written-in-the-file"));
    let good = eventmap(
        &["check", "--config", "mappings/examples/pipeline.yaml"],
        "",
    );
    assert_eq!(good.code, 0, "{}", good.stderr);
}

#[test]
fn the_flags_mean_exactly_a_one_route_file() {
    // The same events through `serve -m … --write-key …` and through the file
    // docs/serve.md gives as its equivalent reach the destination mapped the same.
    let mock = mock_with_pixel(PIXEL);
    let dir = Scratch::new("routes-equivalent");
    let flags_spool = dir.0.join("flags-spool");
    let flags = Server::start_with("mappings/openai.yaml", &flags_spool, &mock.endpoint(), &[]);
    let (batch, ids) = order_batch("flags", 5);
    assert_eq!(flags.post("/v1/batch", &batch).status, 200);
    wait_until("the flags' events", || {
        let record = mock.record();
        ids.iter().all(|id| record.delivered.contains_key(id))
    });
    drop(flags);
    let file = equivalent_file(&dir);
    let endpoint = mock.endpoint();
    let server = Server::with_config(
        Path::new(&file),
        &[
            ("EVENTMAP_WRITE_KEYS", eventmap_tests::serve::WRITE_KEY),
            ("OPENAI_CAPI_ENDPOINT", &endpoint),
        ],
        FAST,
    );
    let (batch, file_ids) = order_batch("file", 5);
    assert_eq!(server.post("/v1/batch", &batch).status, 200);
    wait_until("the file's events", || {
        let record = mock.record();
        file_ids.iter().all(|id| record.delivered.contains_key(id))
    });
    let record = mock.record();
    for (a, b) in ids.iter().zip(&file_ids) {
        let mut left = record.events[a].clone();
        let mut right = record.events[b].clone();
        for event in [&mut left, &mut right] {
            event["id"] = serde_json::json!("");
            event["timestamp_ms"] = serde_json::json!(0);
            event["data"]["contents"] = serde_json::json!(null);
        }
        assert_eq!(left, right);
    }
    // The default route and source keep lane 0: a spool of the flags is read by the file.
    let page = server.request("GET", "/metrics", &[], b"").body;
    assert!(
        page.contains("eventmap_route_delivered_total{route=\"default\"} 5"),
        "{page}"
    );
}

/// The file docs/serve.md shows for `serve -m mappings/openai.yaml --write-key …`.
fn equivalent_file(dir: &Scratch) -> String {
    let doc = std::fs::read_to_string(repo().join("docs/serve.md")).unwrap();
    let start = doc
        .find("```yaml\n# the pipeline file the flags mean")
        .expect("docs/serve.md shows the file the flags mean");
    let body = &doc[start + "```yaml\n".len()..];
    let body = &body[..body.find("```").unwrap()];
    let text = body
        .replace(
            "mappings/openai.yaml",
            &repo().join("mappings/openai.yaml").display().to_string(),
        )
        .replace(
            "dir: spool",
            &format!("dir: {}", dir.0.join("file-spool").display()),
        );
    dir.write("equivalent.yaml", &text)
}

#[test]
fn a_route_removed_with_events_waiting_sets_them_aside_as_its_dead_letters() {
    let openai = mock_with_pixel(PIXEL);
    let down = free_port();
    let dir = Scratch::new("routes-removed");
    let routes = format!(
        "routes:
  openai:
    mapping: openai.yaml
    settings: {{ endpoint: '{}' }}
  meta:
    mapping: meta.yaml
    settings: {{ endpoint: 'http://127.0.0.1:{down}' }}
",
        openai.endpoint()
    );
    let config = pipeline(
        &dir,
        &format!("{routes}sources:\n  shop:\n    write_keys: {{ env: SHOP_WRITE_KEYS }}\n    routes: [openai, meta]\n"),
    );
    let env = [("SHOP_WRITE_KEYS", KEY_A)];
    let server = Server::with_config(&config, &env, FAST);
    let ids = post_orders(&server, KEY_A, "orphan", 3);
    wait_all_once(&openai, &ids, "openai");
    server.wait_for_log("destination_down");
    // The file loses its Meta route while 300 events wait for it.
    let text = std::fs::read_to_string(&config).unwrap();
    let meta_route = format!(
        "  meta:\n    mapping: meta.yaml\n    settings: {{ endpoint: 'http://127.0.0.1:{down}' }}\n"
    );
    let without = text
        .replace(&meta_route, "")
        .replace("routes: [openai, meta]", "routes: [openai]");
    std::fs::write(&config, without).unwrap();
    signal(&server.child, "HUP");
    server.wait_for_log("\"route_removed\"");
    wait_until("the spool emptied", || {
        server.metric("eventmap_spool_depth") == 0.0
    });
    let spool = dir.0.join("spool").display().to_string();
    let export = eventmap(&["dead-letters", "--spool", &spool, "--route", "meta"], "");
    assert_eq!(export.code, 0, "{}", export.stderr);
    let letters: Vec<serde_json::Value> = export
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 300);
    for letter in &letters {
        assert_eq!(letter["route"], "meta");
        assert_eq!(letter["dead_letter"]["reason"], "route_removed", "{letter}");
        // The source event is kept, to replay where it now belongs.
        assert_eq!(letter["source"]["event"], "Order Completed", "{letter}");
    }
    let none = eventmap(
        &["dead-letters", "--spool", &spool, "--route", "openai"],
        "",
    );
    assert_eq!(none.stdout, "");
}
