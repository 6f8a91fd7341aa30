//! End-to-end: `eventmap serve` as a real process on 127.0.0.1, the mock Conversions API
//! as its destination. Crash safety is tested with SIGKILL.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use eventmap_mock_capi::{Fault, FaultPlan, MockCapi, MockConfig};
use eventmap_tests::delivery::{purchase_type, KEY, MAPPINGS, PIXEL};
use eventmap_tests::serve::*;
use eventmap_tests::{eventmap, Scratch};
use serde_json::{json, Value};

fn live_mock(configure: impl FnOnce(&mut MockConfig)) -> MockCapi {
    let mut config = MockConfig::new(KEY, PIXEL);
    configure(&mut config);
    MockCapi::start(config).expect("mock starts")
}

/// Waits until the mock recorded each id, then checks none was recorded twice unless
/// `may_repeat` says so.
fn assert_each_delivered(mock: &MockCapi, ids: &[String], may_repeat: &dyn Fn(&str) -> bool) {
    wait_until("every event at the mock", || {
        let record = mock.record();
        ids.iter().all(|id| record.delivered.contains_key(id))
    });
    let record = mock.record();
    for id in ids {
        let times = record.delivered[id];
        assert!(times == 1 || may_repeat(id), "{id} delivered {times} times");
    }
}

#[test]
fn a_batch_is_answered_once_durable_and_delivered_with_its_content() {
    for mapping in MAPPINGS {
        answered_once_durable_and_delivered(mapping);
    }
}

fn answered_once_durable_and_delivered(mapping: &str) {
    let mock = live_mock(|_| {});
    let dir = Scratch::new("serve-basic");
    let server = Server::start_with(mapping, &dir.0.join("spool"), &mock.endpoint(), &[]);
    let (mut batch, ids) = order_batch("basic", 3);
    let identify = json!({"type": "identify", "messageId": "basic-identify", "userId": "u1",
        "traits": {"email": "jane@example.com"}});
    batch["batch"].as_array_mut().unwrap().push(identify);
    let answer = server.post("/v1/batch", &batch);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json(), json!({"success": true}));
    assert_each_delivered(&mock, &ids, &|_| false);
    let record = mock.record();
    for id in &ids {
        assert_eq!(record.types[id], purchase_type(mapping));
    }
    wait_until("the skip counted", || {
        server.metric("eventmap_skipped_total") == 1.0
    });
    wait_until("the spool emptied", || {
        server.metric("eventmap_spool_depth") == 0.0
    });
    assert_eq!(server.metric("eventmap_delivered_total"), 3.0);
    // The short path analytics.js uses, with the key in a text/plain body.
    let mut event = order("basic-short");
    event["writeKey"] = json!(WRITE_KEY);
    let short = server.request(
        "POST",
        "/v1/t",
        &[("Content-Type", "text/plain")],
        event.to_string().as_bytes(),
    );
    assert_eq!(short.status, 200, "{}", short.body);
    assert_each_delivered(&mock, &["basic-short".to_string()], &|_| false);
    let log = server.log();
    assert!(
        !log.contains(WRITE_KEY) && !log.contains(KEY) && !log.contains("jane@"),
        "{log}"
    );
}

#[test]
fn acknowledged_events_survive_kill_9_while_the_destination_is_down() {
    for mapping in MAPPINGS {
        survive_kill_9_while_down(mapping);
    }
}

fn survive_kill_9_while_down(mapping: &str) {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = Scratch::new("serve-crash-down");
    let spool = dir.0.join("spool");
    let server = Server::start_with(mapping, &spool, &endpoint, &[]);
    let mut all = Vec::new();
    for b in 0..5 {
        let (batch, ids) = order_batch(&format!("down{b}"), 20);
        let answer = server.post("/v1/batch", &batch);
        assert_eq!(answer.status, 200, "{}", answer.body);
        all.extend(ids);
    }
    server.wait_for_log("destination_down");
    server.kill_9();
    let mock = MockCapi::start_on(MockConfig::new(KEY, PIXEL), port).expect("mock on the port");
    let restarted = Server::start_with(mapping, &spool, &endpoint, &[]);
    assert_each_delivered(&mock, &all, &|_| false);
    wait_until("the spool emptied", || {
        restarted.metric("eventmap_spool_depth") == 0.0
    });
}

#[test]
fn kill_9_mid_delivery_loses_nothing_and_resends_only_what_was_in_flight() {
    for mapping in MAPPINGS {
        kill_9_mid_delivery(mapping);
    }
}

fn kill_9_mid_delivery(mapping: &str) {
    // The first request is recorded, then held 3 s: the server is killed while waiting.
    let mock = live_mock(|config| {
        config.faults = FaultPlan::Script(vec![Some(Fault::Slow {
            delay: Duration::from_secs(3),
            recorded: true,
        })]);
    });
    let dir = Scratch::new("serve-crash-mid");
    let spool = dir.0.join("spool");
    let flags = [
        "--batch-size",
        "10",
        "--concurrency",
        "1",
        "--read-timeout",
        "20s",
    ];
    let server = Server::start_with(mapping, &spool, &mock.endpoint(), &flags);
    let (batch, ids) = order_batch("mid", 30);
    assert_eq!(server.post("/v1/batch", &batch).status, 200);
    // The mock records a request as it arrives and its events a moment later, once the
    // body is judged: wait for the events, or a loaded machine reads none of them.
    wait_until("the first batch's events at the mock", || {
        !mock.record().delivered.is_empty()
    });
    let in_flight: Vec<String> = mock.record().delivered.keys().cloned().collect();
    assert_eq!(in_flight.len(), 10, "one batch was in flight");
    server.kill_9();
    let _restarted = Server::start_with(mapping, &spool, &mock.endpoint(), &flags);
    assert_each_delivered(&mock, &ids, &|id| in_flight.iter().any(|f| f == id));
    let record = mock.record();
    let repeated = ids.iter().filter(|id| record.delivered[*id] > 1).count();
    assert!(
        repeated <= 10,
        "{repeated} resent: more than the batch in flight"
    );
}

#[test]
fn bad_requests_get_their_documented_answers_and_touch_nothing_accepted() {
    let mock = live_mock(|_| {});
    let dir = Scratch::new("serve-bad");
    let flags = [
        "--max-event-bytes",
        "2KiB",
        "--max-request-bytes",
        "20KiB",
        "--body-timeout",
        "1s",
    ];
    let server = Server::start(&dir.0.join("spool"), &mock.endpoint(), &flags);
    let good = order("bad-good");
    assert_eq!(server.post("/v1/track", &good).status, 200);
    let auth = basic(WRITE_KEY);
    let with_key = [("Authorization", auth.as_str())];

    let malformed = server.request("POST", "/v1/batch", &with_key, b"{\"batch\": [");
    assert_eq!(malformed.status, 400);
    assert!(malformed.body.contains("not JSON"), "{}", malformed.body);
    let not_objects = server.post("/v1/batch", &json!({"batch": [order("x"), 42]}));
    assert_eq!(not_objects.status, 400);
    assert!(
        not_objects.body.contains("batch[1] is not a JSON object"),
        "{}",
        not_objects.body
    );
    let no_type = server.post("/v1/batch", &json!({"batch": [{"event": "x"}]}));
    assert_eq!(no_type.status, 400);
    assert!(no_type.body.contains("no `type`"));

    let body = order("bad-nokey").to_string();
    let no_key = server.request("POST", "/v1/track", &[], body.as_bytes());
    assert_eq!(no_key.status, 401);
    let wrong = basic("not-a-key");
    let wrong_key = server.request(
        "POST",
        "/v1/track",
        &[("Authorization", &wrong)],
        body.as_bytes(),
    );
    assert_eq!(wrong_key.status, 401);
    assert!(!wrong_key.body.contains("not-a-key"));

    let mut big = order("bad-big");
    big["properties"]["pad"] = json!("x".repeat(3000));
    let too_big = server.post("/v1/track", &big);
    assert_eq!(too_big.status, 413);
    assert!(too_big.body.contains("limit is 2048"), "{}", too_big.body);
    let batch: Vec<Value> = (0..80).map(|i| order(&format!("bad-many-{i}"))).collect();
    let big_batch = server.post("/v1/batch", &json!({"batch": batch}));
    assert_eq!(big_batch.status, 413);

    // 10 MB of spaces gzip to about 10 KB: refused once past the 20 KiB cap.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..10 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    let gzip = [
        ("Authorization", auth.as_str()),
        ("Content-Encoding", "gzip"),
    ];
    let bombed = server.request("POST", "/v1/batch", &gzip, &bomb);
    assert_eq!(bombed.status, 413, "{}", bombed.body);
    assert!(bombed.body.contains("decompressed"), "{}", bombed.body);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(order("bad-gzipped").to_string().as_bytes())
        .unwrap();
    let gzipped = server.request("POST", "/v1/track", &gzip, &encoder.finish().unwrap());
    assert_eq!(gzipped.status, 200, "{}", gzipped.body);

    // A body that never finishes.
    let mut stalled = TcpStream::connect(&server.addr).unwrap();
    let head = format!(
        "POST /v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 500\r\n\r\n{{\"type\":"
    );
    stalled.write_all(head.as_bytes()).unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stalled, &mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let accepted = ["bad-good".to_string(), "bad-gzipped".to_string()];
    assert_each_delivered(&mock, &accepted, &|_| false);
    wait_until("the spool emptied", || {
        server.metric("eventmap_spool_depth") == 0.0
    });
    assert_eq!(
        mock.record().delivered.len(),
        2,
        "nothing refused was delivered"
    );
}

#[test]
fn a_full_spool_answers_503_and_recovers_once_delivery_drains_it() {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = Scratch::new("serve-full");
    let server = Server::start(
        &dir.0.join("spool"),
        &endpoint,
        &["--max-spool-bytes", "8KiB"],
    );
    let mut accepted = Vec::new();
    let mut refused = None;
    for i in 0..40 {
        let id = format!("full-{i}");
        let answer = server.post("/v1/track", &order(&id));
        if answer.status == 200 {
            accepted.push(id);
        } else {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("the spool filled up");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("5"));
    let mock = MockCapi::start_on(MockConfig::new(KEY, PIXEL), port).expect("mock on the port");
    assert_each_delivered(&mock, &accepted, &|_| false);
    wait_until("room again", || {
        server.post("/v1/track", &order("full-after")).status == 200
    });
    assert!(server.metric("eventmap_requests_total{answer=\"503\"}") >= 1.0);
}

#[test]
fn a_retried_batch_is_answered_200_and_delivered_once() {
    let mock = live_mock(|_| {});
    let dir = Scratch::new("serve-dedup");
    let server = Server::start(&dir.0.join("spool"), &mock.endpoint(), &[]);
    let (batch, ids) = order_batch("dedup", 5);
    assert_eq!(server.post("/v1/batch", &batch).status, 200);
    assert_eq!(server.post("/v1/batch", &batch).status, 200);
    assert_each_delivered(&mock, &ids, &|_| false);
    assert_eq!(
        server.metric("eventmap_events_total{outcome=\"duplicate\"}"),
        5.0
    );
    // An event without messageId gets one, and is delivered under it.
    let mut anonymous = order("unused");
    anonymous.as_object_mut().unwrap().remove("messageId");
    assert_eq!(server.post("/v1/track", &anonymous).status, 200);
    wait_until("the anonymous event", || mock.record().delivered.len() == 6);
}

#[test]
fn sighup_reloads_the_mapping_and_refuses_one_that_does_not_compile() {
    let mock = live_mock(|_| {});
    let dir = Scratch::new("serve-reload");
    let original =
        std::fs::read_to_string(eventmap_tests::repo().join("mappings/openai.yaml")).unwrap();
    let mapping = dir.write("mapping.yaml", &original);
    let server = Server::start_with(&mapping, &dir.0.join("spool"), &mock.endpoint(), &[]);
    let hup = format!("kill -HUP {}", server.child.id());
    let broken = original.replacen("version: 1", "version: 1\nglobal: [", 1);
    std::fs::write(&mapping, broken).unwrap();
    std::process::Command::new("sh")
        .args(["-c", &hup])
        .status()
        .unwrap();
    server.wait_for_log("reload_refused");
    let log = server.log();
    let located = log.split(&format!("{mapping}:")).skip(1).any(|rest| {
        let mut parts = rest.splitn(3, ':');
        let numbers = [parts.next(), parts.next()];
        numbers
            .iter()
            .all(|n| n.is_some_and(|n| n.parse::<u32>().is_ok()))
    });
    assert!(located, "errors carry file:line:col: {log}");
    // The running mapping stays.
    assert_eq!(server.post("/v1/track", &order("reload-1")).status, 200);
    assert_each_delivered(&mock, &["reload-1".to_string()], &|_| false);
    // A mapping that compiles is taken: this one skips every event.
    std::fs::write(
        &mapping,
        "version: 1\ndestination: openai\ndefault:\n  skip: paused\n",
    )
    .unwrap();
    std::process::Command::new("sh")
        .args(["-c", &hup])
        .status()
        .unwrap();
    server.wait_for_log("\"event\":\"reloaded\"");
    assert_eq!(server.post("/v1/track", &order("reload-2")).status, 200);
    wait_until("the skip", || {
        server.metric("eventmap_skipped_total") == 1.0
    });
    assert!(!mock.record().delivered.contains_key("reload-2"));
}

#[test]
fn sigterm_stops_cleanly_and_undelivered_events_wait_for_the_next_start() {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = Scratch::new("serve-term");
    let spool = dir.0.join("spool");
    let server = Server::start(&spool, &endpoint, &["--drain-timeout", "1s"]);
    let (batch, ids) = order_batch("term", 8);
    assert_eq!(server.post("/v1/batch", &batch).status, 200);
    let started = Instant::now();
    let (code, log) = server.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(started.elapsed() < Duration::from_secs(8), "{log}");
    assert!(log.contains("\"spool_depth\":8"), "{log}");
    let mock = MockCapi::start_on(MockConfig::new(KEY, PIXEL), port).expect("mock on the port");
    let _restarted = Server::start(&spool, &endpoint, &[]);
    assert_each_delivered(&mock, &ids, &|_| false);
}

#[test]
fn browsers_get_cors_answers_for_allowed_origins_only() {
    let mock = live_mock(|_| {});
    let dir = Scratch::new("serve-cors");
    let flags = ["--cors-origin", "https://shop.example"];
    let server = Server::start(&dir.0.join("spool"), &mock.endpoint(), &flags);
    let preflight = server.request(
        "OPTIONS",
        "/v1/batch",
        &[
            ("Origin", "https://shop.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://shop.example")
    );
    let other = server.request(
        "OPTIONS",
        "/v1/batch",
        &[("Origin", "https://evil.example")],
        b"",
    );
    assert_eq!(other.header("access-control-allow-origin"), None);
    assert_eq!(server.request("GET", "/readyz", &[], b"").status, 200);
}

#[test]
fn dead_letters_are_kept_and_export_to_what_send_replays() {
    let mock = live_mock(|c| c.poison_named = Box::new(|id| id == "dead-rejected"));
    let dir = Scratch::new("serve-dead");
    let spool = dir.0.join("spool");
    let server = Server::start(&spool, &mock.endpoint(), &[]);
    let mut bad = order("dead-1");
    bad["properties"]["products"][0]["price"] = json!("twelve");
    assert_eq!(server.post("/v1/track", &bad).status, 200);
    server.wait_for_log("\"reason\":\"mapping_failed\"");
    // Eight days old: past the API's window, so never sent.
    let mut old = order("dead-old");
    old["timestamp"] = json!(now_ms() - 8 * 86_400_000);
    assert_eq!(server.post("/v1/track", &old).status, 200);
    server.wait_for_log("\"reason\":\"expired\"");
    // Refused by the API when sent: the letter keeps the spooled event beside the mapped.
    assert_eq!(
        server.post("/v1/track", &order("dead-rejected")).status,
        200
    );
    server.wait_for_log("\"reason\":\"rejected\"");
    // One process at a time holds a spool.
    let spool_arg = spool.display().to_string();
    let second = eventmap_tests::eventmap_env(
        &[
            "serve",
            "--mapping",
            "mappings/openai.yaml",
            "--spool",
            &spool_arg,
            "--write-key",
            "k",
            "--listen",
            "127.0.0.1:0",
        ],
        "",
        &[("OPENAI_CAPI_KEY", KEY), ("OPENAI_PIXEL_ID", PIXEL)],
    );
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains("cannot open the spool"),
        "{}",
        second.stderr
    );
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
    let export = eventmap(&["dead-letters", "--spool", &spool_arg], "");
    assert_eq!(export.code, 0, "{}", export.stderr);
    let letters: Vec<Value> = export.stdout_json();
    assert_eq!(letters.len(), 3);
    assert_eq!(letters[1]["id"], "dead-old");
    assert_eq!(letters[1]["dead_letter"]["reason"], "expired");
    assert_eq!(letters[1]["source"]["messageId"], "dead-old");
    assert_eq!(letters[2]["dead_letter"]["reason"], "rejected");
    assert_eq!(letters[2]["event"]["id"], "dead-rejected");
    assert_eq!(letters[2]["source"]["messageId"], "dead-rejected");
    assert!(!mock.record().delivered.contains_key("dead-old"));
    assert_eq!(letters[0]["id"], "dead-1");
    assert_eq!(letters[0]["dead_letter"]["reason"], "mapping_failed");
    assert_eq!(letters[0]["source"]["messageId"], "dead-1");
    // `send` takes the export back: the source event is mapped again (and fails again
    // until someone fixes its price).
    let first = export.stdout.lines().next().unwrap_or_default();
    let file = dir.write("dead.ndjson", &format!("{first}\n"));
    let again = dir.path("dead-again.ndjson");
    let endpoint = mock.endpoint();
    let replay = eventmap_tests::eventmap_env(
        &[
            "send",
            "--mapping",
            "mappings/openai.yaml",
            "--endpoint",
            &endpoint,
            "--dead-letter",
            &again,
            &file,
        ],
        "",
        &[("OPENAI_CAPI_KEY", KEY), ("OPENAI_PIXEL_ID", PIXEL)],
    );
    let summary = replay.summary();
    assert_eq!(summary["replayed"], 1, "{summary}");
    assert_eq!(
        summary["dead_lettered_by_reason"],
        json!({"mapping_failed": 1})
    );
}

#[test]
fn head_requests_answer_as_get_does_without_a_body() {
    // Load balancers and uptime checks probe with HEAD.
    let mock = live_mock(|_| {});
    let dir = Scratch::new("serve-head");
    let server = Server::start(&dir.0.join("spool"), &mock.endpoint(), &[]);
    for path in [
        "/healthz",
        "/readyz",
        "/idsync.js",
        "/idsync.mjs",
        "/metrics",
    ] {
        let get = server.request("GET", path, &[], b"");
        let head = server.request("HEAD", path, &[], b"");
        assert_eq!(head.status, 200, "HEAD {path}");
        assert_eq!(head.status, get.status, "{path}");
        assert_eq!(head.body, "", "HEAD {path} has no body");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{path}"
        );
    }
    // The same as `consume`'s page (tests/kafka.rs).
    let metrics = server.request("GET", "/metrics", &[], b"");
    assert_eq!(
        metrics.header("content-type"),
        Some(eventmap_pipeline::metrics::CONTENT_TYPE)
    );
}

#[test]
fn the_log_level_leaves_out_what_is_below_it_and_every_line_says_its_level() {
    let mock = live_mock(|_| {});
    let dir = Scratch::new("serve-log-level");
    let quiet = Server::start(
        &dir.0.join("spool"),
        &mock.endpoint(),
        &["--log-level", "warn"],
    );
    let mut bad = order("log-1");
    bad["properties"]["products"][0]["price"] = json!("twelve");
    assert_eq!(quiet.post("/v1/track", &bad).status, 200);
    quiet.wait_for_log("\"event\":\"dead_letter\"");
    let (_, log) = quiet.terminate();
    assert!(!log.contains("\"event\":\"start\""), "info left out: {log}");
    assert!(log.contains("\"level\":\"warn\""), "{log}");
    let chatty = Server::start(&dir.0.join("spool-2"), &mock.endpoint(), &[]);
    chatty.wait_for_log("\"event\":\"start\"");
    let start = chatty
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["event"] == "start")
        .expect("a start line");
    assert_eq!(start["level"], "info", "{start}");
}
