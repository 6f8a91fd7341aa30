//! End-to-end: `eventmap send` and `eventmap connect` against the mock Conversions API on
//! 127.0.0.1, for each fault pattern and for random mixes over thousands of events.

use std::collections::{BTreeMap, HashSet};

use eventmap_mock_capi::{Fault, FaultPlan, MockCapi, MockConfig, Record};
use eventmap_openai::MAX_AGE_MS;
use eventmap_tests::delivery::*;
use eventmap_tests::{eventmap_env, Scratch};
use serde_json::{json, Value};

/// What must never appear in logs: the key, raw emails, raw phone numbers.
fn assert_no_secrets(text: &str, raw: &[String]) {
    assert!(!text.contains(KEY), "the key leaked");
    for value in raw {
        assert!(
            !text.to_lowercase().contains(&value.to_lowercase()),
            "{value} leaked"
        );
    }
}

fn assert_delivered_once(record: &Record, ids: &[String]) {
    for id in ids {
        match record.delivered.get(id) {
            Some(1) => {}
            Some(_) if record.unanswered.contains(id) => {}
            other => panic!("{id} delivered {other:?} times"),
        }
    }
}

/// The ids `eventmap map` gives the example's valid events (an independent reference).
fn example_ids() -> Vec<String> {
    let run = eventmap_env(
        &["map", "--mapping", MAPPING, "--now", NOW, EXAMPLES],
        "",
        &[],
    );
    run.stdout_json()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_example_is_delivered_and_every_event_accounted_for() {
    let mock = mock(|_| {});
    let dir = Scratch::new("send-example");
    let run = send(&mock, &dir, KEY, &[], &[EXAMPLES]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = assert_accounted(&run, &dir);
    assert_eq!(n(&s["read"]), 10);
    assert_eq!(n(&s["delivered"]), 6);
    assert_eq!(n(&s["skipped"]), 2);
    assert_eq!(
        s["dead_lettered_by_reason"],
        json!({"invalid": 1, "mapping_failed": 1})
    );
    let ids = example_ids();
    assert_eq!(ids.len(), 6);
    let record = mock.record();
    assert_delivered_once(&record, &ids);
    assert_eq!(record.delivered.len(), 6);
    let letters = dead_letters(&dir);
    let failed = letters
        .iter()
        .find(|l| l["dead_letter"]["reason"] == "mapping_failed")
        .unwrap();
    assert_eq!(failed["id"], "msg-order-bad-009");
    assert_eq!(
        failed["source"]["messageId"], "msg-order-bad-009",
        "the input, to fix and replay"
    );
    let invalid = letters
        .iter()
        .find(|l| l["dead_letter"]["reason"] == "invalid")
        .unwrap();
    assert_eq!(
        invalid["event"]["type"], "contents_viewed",
        "the mapped event"
    );
    assert!(invalid["dead_letter"]["message"]
        .as_str()
        .unwrap()
        .contains("timestamp_ms"));
}

#[test]
fn validate_only_is_checked_by_the_api_but_not_recorded() {
    let mock = mock(|_| {});
    let dir = Scratch::new("send-validate-only");
    let run = send(&mock, &dir, KEY, &["--validate-only"], &[EXAMPLES]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = assert_accounted(&run, &dir);
    assert_eq!(s["validate_only"], true);
    let record = mock.record();
    assert!(record.delivered.is_empty());
    assert_eq!(record.validated.len(), 6);
    assert!(record.requests.iter().all(|r| r.validate_only));
}

#[test]
fn test_mode_on_a_mapping_section_sends_only_that_sections_events_as_validate_only() {
    let dir = Scratch::new("send-test-mode");
    let yaml = std::fs::read_to_string(eventmap_tests::repo().join(MAPPING)).unwrap();
    let marked = yaml.replacen(
        "  order_created:\n",
        "  order_created:\n    test_mode: true\n",
        1,
    );
    assert_ne!(marked, yaml);
    let mapping = dir.write("openai.yaml", &marked);
    let mock = mock(|_| {});
    let endpoint = mock.endpoint();
    let dead = dir.path("dead.ndjson");
    let run = eventmap_env(
        &[
            "send",
            "--mapping",
            &mapping,
            "--now",
            NOW,
            "--endpoint",
            &endpoint,
            "--dead-letter",
            &dead,
            "--linger",
            "20ms",
            EXAMPLES,
        ],
        "",
        &[("OPENAI_CAPI_KEY", KEY), ("OPENAI_PIXEL_ID", PIXEL)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let record = mock.record();
    let validated: HashSet<&str> = record.validated.keys().map(String::as_str).collect();
    assert_eq!(
        validated,
        HashSet::from(["msg-order-005", "msg-order-jpy-006"])
    );
    assert_eq!(record.delivered.len(), 4);
}

#[test]
fn refused_credentials_stop_delivery_with_every_event_dead_lettered_as_auth() {
    let mock = mock(|_| {});
    let dir = Scratch::new("send-auth");
    let run = send(
        &mock,
        &dir,
        "sk-conv-wrong-key",
        &["--concurrency", "1"],
        &[EXAMPLES],
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("OPENAI_CAPI_KEY"), "{}", run.stderr);
    assert!(!run.stderr.contains("sk-conv-wrong-key"));
    let s = assert_accounted(&run, &dir);
    assert_eq!(n(&s["dead_lettered_by_reason"]["credentials_refused"]), 6);
    assert_eq!(n(&s["delivered"]), 0);
    assert_eq!(mock.record().requests.len(), 1);
}

#[test]
fn missing_credentials_are_named_before_anything_is_read() {
    let dir = Scratch::new("send-no-key");
    let dead = dir.path("dead.ndjson");
    let run = eventmap_env(
        &[
            "send",
            "--mapping",
            MAPPING,
            "--dead-letter",
            &dead,
            EXAMPLES,
        ],
        "",
        &[("OPENAI_CAPI_KEY", ""), ("OPENAI_PIXEL_ID", PIXEL)],
    );
    assert_eq!(run.code, 4);
    assert!(
        run.stderr
            .contains("no conversions API key: set OPENAI_CAPI_KEY"),
        "{}",
        run.stderr
    );
}

#[test]
fn server_faults_are_retried_until_delivered() {
    let mock = mock(|c| {
        c.faults = FaultPlan::Script(vec![
            Some(Fault::Status(500)),
            Some(Fault::RateLimited {
                retry_after_secs: 1,
            }),
            Some(Fault::Drop { recorded: false }),
            Some(Fault::Slow {
                delay: std::time::Duration::from_secs(1),
                recorded: false,
            }),
        ]);
    });
    let dir = Scratch::new("send-faults");
    let run = send(&mock, &dir, KEY, &["--concurrency", "1"], &[EXAMPLES]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = assert_accounted(&run, &dir);
    assert_eq!(n(&s["delivered"]), 6);
    assert_eq!(n(&s["retries"]), 4);
    let retries: Vec<Value> = run
        .stderr_json()
        .into_iter()
        .filter(|l| l["status"] == "retrying")
        .collect();
    assert_eq!(retries.len(), 4);
    assert_eq!(retries[1]["http_status"], 429);
    assert!(
        n(&retries[1]["delay_ms"]) >= 1000,
        "Retry-After: 1 honoured"
    );
    assert_delivered_once(&mock.record(), &example_ids());
}

#[test]
fn an_event_that_ages_out_during_retries_is_dead_lettered_as_expired() {
    let mock = mock(|c| {
        c.faults = FaultPlan::Script(vec![Some(Fault::RateLimited {
            retry_after_secs: 3,
        })]);
    });
    let dir = Scratch::new("send-expired");
    // Inside the window by two seconds when read; outside it after the 3 s Retry-After.
    let ts = NOW_MS - MAX_AGE_MS + 2000;
    let event = json!({"type": "track", "event": "Lead Created", "messageId": "lead-old",
        "timestamp": ts, "context": {"page": {"url": "https://shop.example/contact"}}});
    let input = dir.write("old.ndjson", &format!("{event}\n"));
    let run = send(&mock, &dir, KEY, &[], &[&input, EXAMPLES]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = assert_accounted(&run, &dir);
    assert_eq!(n(&s["dead_lettered_by_reason"]["expired"]), 1, "{s}");
    assert_eq!(n(&s["delivered"]), 6);
    let statuses: Vec<Option<u16>> = mock.record().requests.iter().map(|r| r.status).collect();
    assert!(
        !statuses.contains(&Some(422)),
        "no batch failed on the stale event: {statuses:?}"
    );
}

/// Segment events of every kind, with the ids of those that must be delivered.
struct Mix {
    lines: String,
    good: Vec<String>,
    expected_dead: BTreeMap<&'static str, u64>,
    skipped: u64,
    raw_personal: Vec<String>,
}

fn mix(count: usize) -> Mix {
    let mut mix = Mix {
        lines: String::new(),
        good: Vec::new(),
        expected_dead: BTreeMap::new(),
        skipped: 0,
        raw_personal: Vec::new(),
    };
    for i in 0..count {
        let email = format!("Buyer.{i}@Example.com");
        let phone = format!("+1 555 01{i:05}");
        if i % 97 == 0 {
            mix.raw_personal.push(email.clone());
            mix.raw_personal.push(phone.clone());
            // Click ids must not be logged next to identities either.
            mix.raw_personal.push(format!("oppref_{i}_x"));
        }
        let id = match i % 100 {
            4 => format!("mix-{i}-unnamed"),
            k if k % 20 == 3 => format!("mix-{i}-named"),
            _ => format!("mix-{i}"),
        };
        let price = if i % 20 == 1 {
            json!("twelve")
        } else {
            json!(10 + i % 50)
        };
        let timestamp = if i % 20 == 2 {
            NOW_MS - 20 * 86_400_000
        } else {
            NOW_MS - 60_000
        };
        let event = if i % 20 == 0 {
            json!({"type": "identify", "messageId": id, "traits": {"email": email}})
        } else {
            json!({"type": "track", "event": "Order Completed", "messageId": id,
                "timestamp": timestamp,
                "properties": {"order_id": format!("o-{i}"), "currency": "USD",
                    "products": [{"product_id": "p-1", "price": price, "quantity": 1}]},
                "context": {"page": {"url": "https://shop.example/checkout"},
                    "ip": "203.0.113.9", "userAgent": "Mozilla/5.0",
                    "providers": {"openAI": {"oppref": format!("oppref_{i}_x")}},
                    "traits": {"email": email, "phone": phone}}})
        };
        let text = if i % 100 == 5 {
            format!("{{\"messageId\": \"{id}\", \"email\": \"{email}\"")
        } else {
            event.to_string()
        };
        mix.lines.push_str(&text);
        mix.lines.push('\n');
        let reason = match (i % 100, i % 20) {
            (5, _) => Some("malformed"),
            (_, 0) => {
                mix.skipped += 1;
                None
            }
            (_, 1) => Some("mapping_failed"),
            (_, 2) => Some("invalid"),
            (4, _) | (_, 3) => Some("rejected"),
            _ => {
                mix.good.push(id.clone());
                None
            }
        };
        if let Some(reason) = reason {
            *mix.expected_dead.entry(reason).or_default() += 1;
        }
    }
    mix
}

#[test]
fn random_fault_mixes_over_thousands_of_events_lose_nothing_and_leak_nothing() {
    let events = mix(3000);
    let dir = Scratch::new("send-mix");
    let input = dir.write("mix.ndjson", &events.lines);
    for seed in [21u64, 22] {
        let _ = std::fs::remove_file(dir.path("dead.ndjson"));
        let mock = mock(|c| {
            c.faults = FaultPlan::mixed(seed, std::time::Duration::from_millis(600));
            c.poison_named = Box::new(|id| id.ends_with("-named"));
            c.poison_unnamed = Box::new(|id| id.ends_with("-unnamed"));
        });
        let run = send(
            &mock,
            &dir,
            KEY,
            &["--batch-size", "25", "--max-attempts", "40"],
            &[&input],
        );
        assert_eq!(
            run.code,
            0,
            "seed {seed}: {}",
            run.stderr.lines().last().unwrap_or("")
        );
        let s = assert_accounted(&run, &dir);
        assert_eq!(n(&s["read"]), 3000);
        assert_eq!(n(&s["skipped"]), events.skipped);
        assert_eq!(
            n(&s["delivered"]),
            events.good.len() as u64,
            "seed {seed}: {s}"
        );
        let expected: Value = serde_json::to_value(&events.expected_dead).unwrap();
        assert_eq!(s["dead_lettered_by_reason"], expected, "seed {seed}");
        assert!(
            n(&s["retries"]) > 0 && n(&s["splits"]) > 0 && n(&s["resent"]) > 0,
            "{s}"
        );
        let record = mock.record();
        assert_delivered_once(&record, &events.good);
        let good: HashSet<&String> = events.good.iter().collect();
        assert!(
            record.delivered.keys().all(|id| good.contains(id)),
            "only good events recorded"
        );
        assert_no_secrets(&run.stderr, &events.raw_personal);
        assert_no_secrets(&run.stdout, &events.raw_personal);
    }
}

#[test]
fn a_dead_letter_file_replays() {
    let dir = Scratch::new("send-replay");
    let first = mock(|c| c.poison_named = Box::new(|id| id == "msg-order-005"));
    let run = send(&first, &dir, KEY, &[], &[EXAMPLES]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = assert_accounted(&run, &dir);
    assert_eq!(n(&s["dead_lettered_by_reason"]["rejected"]), 1);
    let letters = dir.path("dead.ndjson");
    let replay_input = dir.write("replay.ndjson", &std::fs::read_to_string(&letters).unwrap());
    std::fs::remove_file(&letters).unwrap();

    // The API now takes the event (say, after a fix); the mapping failure fails again.
    let second = mock(|_| {});
    let run = send(&second, &dir, KEY, &[], &[&replay_input]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = assert_accounted(&run, &dir);
    assert_eq!(n(&s["replayed"]), 3);
    assert_eq!(n(&s["delivered"]), 1);
    assert_eq!(
        second.record().delivered.keys().collect::<Vec<_>>(),
        ["msg-order-005"]
    );
    assert_eq!(
        s["dead_lettered_by_reason"],
        json!({"invalid": 1, "mapping_failed": 1})
    );
}

#[test]
fn the_dead_letter_file_cannot_also_be_an_input() {
    let mock = mock(|_| {});
    let dir = Scratch::new("send-same-file");
    let dead = dir.write("dead.ndjson", "");
    let run = send(&mock, &dir, KEY, &[], &[&dead]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is also an input"), "{}", run.stderr);
}

#[test]
fn connect_says_whether_the_credentials_work() {
    // The check sends an event stamped now: this mock keeps real time.
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).unwrap();
    let endpoint = mock.endpoint();
    let connect = |key: &str, pixel: &str| {
        eventmap_env(
            &["connect", "--endpoint", &endpoint],
            "",
            &[("OPENAI_CAPI_KEY", key), ("OPENAI_PIXEL_ID", pixel)],
        )
    };
    let ok = connect(KEY, PIXEL);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.starts_with("connected"), "{}", ok.stdout);
    let bad_key = connect("sk-nope", PIXEL);
    assert_eq!(bad_key.code, 4);
    assert!(bad_key.stdout.contains("401"), "{}", bad_key.stdout);
    assert!(!bad_key.stdout.contains("sk-nope") && !bad_key.stderr.contains("sk-nope"));
    let bad_pixel = connect(KEY, "px_unknown");
    assert_eq!(bad_pixel.code, 4);
    assert!(
        bad_pixel.stdout.contains("OPENAI_PIXEL_ID"),
        "{}",
        bad_pixel.stdout
    );
    // The status is said once, not `(403 403: unknown pid)`.
    assert!(
        bad_pixel.stdout.contains("(403 unknown pid)"),
        "{}",
        bad_pixel.stdout
    );
    assert!(mock.record().delivered.is_empty(), "checks record nothing");
    drop(mock);
    let down = connect(KEY, PIXEL);
    assert_eq!(down.code, 5, "{}", down.stdout);
    assert!(
        down.stdout.starts_with("could not check"),
        "{}",
        down.stdout
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_reading_delivers_what_was_read_and_says_where_to_resume() {
    use std::io::Write;
    use std::time::{Duration, Instant};

    let mock = mock(|_| {});
    let dir = Scratch::new("send-interrupt");
    let mut child = spawn_send(&mock, &dir, &[]);
    let examples = std::fs::read_to_string(eventmap_tests::repo().join(EXAMPLES)).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The first five example lines are events that map.
    for line in examples.lines().take(5) {
        writeln!(stdin, "{line}").unwrap();
    }
    stdin.flush().unwrap();
    let waited = Instant::now();
    while mock.record().delivered.len() < 5 {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "first events never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, "INT");
    // stdin stays open with nothing more to give: the run must end all the same.
    let run = finish(child);
    drop(stdin);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(run.stderr.contains("SIGINT"), "{}", run.stderr);
    let summary = run.summary();
    assert_eq!(summary["read"], 5);
    assert_eq!(summary["delivered"], 5);
    assert_eq!(summary["resume_from"], json!({"input": "-", "line": 6}));
    assert_eq!(summary["stopped"], "interrupted");
}

#[test]
fn a_mapping_fix_rescues_invalid_dead_letters_and_resend_mapped_sends_them_as_they_stand() {
    let dir = Scratch::new("send-fix-replay");
    // A mapping whose viewed products lose their currency: invalid, amount without one.
    let right = "data.currency: { from: properties.currency, transform: currency_code }";
    let text = std::fs::read_to_string(eventmap_tests::repo().join(MAPPING)).unwrap();
    let broken = dir.write(
        "broken.yaml",
        &text.replacen(
            right,
            &right.replace("properties.currency", "properties.typo"),
            1,
        ),
    );
    let mock = mock(|_| {});
    let run_send = |mapping: &str, dead: &str, extra: &[&str], input: &str| {
        let endpoint = mock.endpoint();
        let mut args = vec![
            "send",
            "--mapping",
            mapping,
            "--now",
            NOW,
            "--endpoint",
            &endpoint,
            "--dead-letter",
            dead,
            "--retry-delay",
            "5ms",
        ];
        args.extend_from_slice(extra);
        args.push(input);
        eventmap_env(
            &args,
            "",
            &[("OPENAI_CAPI_KEY", KEY), ("OPENAI_PIXEL_ID", PIXEL)],
        )
    };
    let first = dir.path("first.ndjson");
    let run = run_send(&broken, &first, &[], EXAMPLES);
    let invalid = n(&run.summary()["dead_lettered_by_reason"]["invalid"]);
    let letters: Vec<Value> = std::fs::read_to_string(&first)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &Value| l["dead_letter"]["reason"] == "invalid")
        .filter(|l: &Value| {
            let message = l["dead_letter"]["message"].as_str().unwrap_or_default();
            // (not the stale one among them: it stays invalid, rightly)
            message.contains("currency") && !message.contains("older")
        })
        .collect();
    assert!(!letters.is_empty(), "{}", run.stderr);
    for letter in &letters {
        // The mapped event as sent, and the input event beside it.
        assert_eq!(letter["event"]["id"], letter["id"], "{letter}");
        assert_eq!(letter["source"]["messageId"], letter["id"], "{letter}");
    }
    let ids: Vec<String> = letters
        .iter()
        .map(|l| l["id"].as_str().unwrap_or_default().to_string())
        .collect();

    // As they stand, the fixed mapping changes nothing: invalid again.
    let again = dir.path("again.ndjson");
    let run = run_send(MAPPING, &again, &["--resend-mapped"], &first);
    let s = run.summary();
    assert_eq!(
        n(&s["dead_lettered_by_reason"]["invalid"]),
        invalid,
        "{}",
        run.stderr
    );
    assert!(ids
        .iter()
        .all(|id| !mock.record().delivered.contains_key(id)));

    // By default the input event is mapped again with the fixed mapping: delivered.
    let fixed = dir.path("fixed.ndjson");
    let run = run_send(MAPPING, &fixed, &[], &first);
    let s = run.summary();
    let rescued = letters.len() as u64;
    assert_eq!(
        n(&s["dead_lettered_by_reason"]["invalid"]),
        invalid - rescued,
        "{}",
        run.stderr
    );
    let record = mock.record();
    for id in &ids {
        assert_eq!(record.events[id]["data"]["currency"], "USD", "{id}");
    }
}

#[test]
fn a_rejected_dead_letter_keeps_its_input_event() {
    let dir = Scratch::new("send-rejected-source");
    let first = mock(|c| c.poison_named = Box::new(|id| id == "msg-order-005"));
    let run = send(&first, &dir, KEY, &[], &[EXAMPLES]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let letters = dead_letters(&dir);
    let rejected = letters
        .iter()
        .find(|l| l["dead_letter"]["reason"] == "rejected")
        .expect("a rejected letter");
    assert_eq!(
        rejected["source"]["messageId"], "msg-order-005",
        "{rejected}"
    );
    assert_eq!(rejected["event"]["id"], "msg-order-005");
}

#[test]
fn connect_takes_now_and_a_refused_test_event_is_not_success() {
    // The documented local trial: a mock whose clock is set with --now.
    let mock = mock(|_| {});
    let endpoint = mock.endpoint();
    let connect = |extra: &[&str]| {
        let mut args = vec!["connect", "--endpoint", &endpoint];
        args.extend_from_slice(extra);
        eventmap_env(
            &args,
            "",
            &[("OPENAI_CAPI_KEY", KEY), ("OPENAI_PIXEL_ID", PIXEL)],
        )
    };
    // The machine's clock is days past the mock's: the test event is in its future.
    let refused = connect(&[]);
    assert_eq!(refused.code, 3, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stdout.contains("refused the test event"),
        "{}",
        refused.stdout
    );
    let same_clock = connect(&["--now", NOW]);
    assert_eq!(
        same_clock.code, 0,
        "{}{}",
        same_clock.stdout, same_clock.stderr
    );
    assert!(
        same_clock.stdout.starts_with("connected"),
        "{}",
        same_clock.stdout
    );
    let bad = connect(&["--now", "yesterday"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("--now"), "{}", bad.stderr);
}

/// `GET path` on `endpoint` (`http://127.0.0.1:port`): the body.
fn http_get(endpoint: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("the mock answers");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

#[test]
fn the_mock_lists_and_records_what_it_accepted() {
    let dir = Scratch::new("mock-record");
    let recorded = dir.path("recorded.ndjson");
    let file = std::path::PathBuf::from(&recorded);
    let mock = mock(move |c| c.record_file = Some(file));
    let run = send(&mock, &dir, KEY, &[], &[EXAMPLES]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let delivered = n(&run.summary()["delivered"]);
    assert!(delivered > 0);
    // What a person trying `send` locally looks at: the list, and the file.
    let index = http_get(&mock.endpoint(), "/");
    assert!(index.contains("GET  /events"), "{index}");
    let listed = http_get(&mock.endpoint(), "/events");
    let in_file = std::fs::read_to_string(&recorded).expect("the record file");
    for text in [&listed, &in_file] {
        let events: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON lines"))
            .collect();
        assert_eq!(events.len() as u64, delivered, "{text}");
        assert!(events
            .iter()
            .all(|e| e["id"].is_string() && e["type"].is_string()));
    }
}
