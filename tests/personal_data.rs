//! No personal data in what operators read: known personal data is fed through every
//! failure path of `map`, `send`, `serve` and `consume` (a value that is not a number, a
//! currency, a timestamp or a country; a wrongly typed key; an event the validator
//! refuses; a Rhai expression that fails on the value; a malformed line; a hostile
//! `oppref`), and every output stream is searched for it. Only the mapped events and the
//! dead-letter file (data, written 0600) may hold it.

use std::time::Duration;

use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_tests::delivery::{self, MAPPING, NOW};
use eventmap_tests::kafka::{Broker, Consumer};
use eventmap_tests::serve::{now_ms, wait_until, Server};
use eventmap_tests::{eventmap, Scratch};
use serde_json::{json, Value};

/// The personal data, as it is written into the events.
const PERSONAL: [&str; 4] = [
    "frank@example.com",
    "Frank Miller",
    "4155552671",
    "12 Elm St",
];

/// Events that fail, each in its own way, on a personal value; stamped `timestamp`.
fn failing_events(timestamp: &Value) -> Vec<Value> {
    let order = |id: &str, properties: Value, context: Value| {
        json!({"type": "track", "event": "Order Completed", "messageId": id,
            "timestamp": timestamp, "properties": properties, "context": context})
    };
    let page = json!({"page": {"url": "https://shop.example/checkout"}});
    vec![
        // mapping_failed: the amount, the currency, the time, a wrongly typed key.
        order(
            "pii-amount",
            json!({"total": "frank@example.com", "currency": "USD"}),
            page.clone(),
        ),
        order(
            "pii-currency",
            json!({"total": 10, "currency": "Frank Miller"}),
            page.clone(),
        ),
        json!({"type": "track", "event": "Order Completed", "messageId": "pii-time",
            "timestamp": "Frank Miller 4155552671", "properties": {"total": 10, "currency": "USD"},
            "context": page}),
        order(
            "pii-city",
            json!({"total": 10, "currency": "USD"}),
            json!({"page": {"url": "https://shop.example/"},
                "traits": {"address": {"city": {"street": "12 Elm St"}}}}),
        ),
        // invalid: a zip code the API refuses; an unknown country (left out) and a hostile
        // oppref (dropped) on the way.
        order(
            "pii-zip",
            json!({"total": 10, "currency": "USD"}),
            json!({"page": {"url": "https://shop.example/?oppref=frank@example.com"},
                "traits": {"address": {"postalCode": "frank@example.com 12 Elm St",
                    "country": "Frank Miller"}},
                "providers": {"openAI": {"oppref": "Frank Miller <frank@example.com>"}}}),
        ),
    ]
}

fn ndjson(events: &[Value]) -> String {
    events.iter().map(|e| format!("{e}\n")).collect()
}

/// Fails naming the stream and the value if `text` holds any of the personal data.
fn assert_no_personal_data(stream: &str, text: &str) {
    for value in PERSONAL {
        assert!(
            !text.contains(value),
            "{stream} holds personal data `{value}`:\n{text}"
        );
    }
}

#[test]
fn map_reports_failures_without_the_values() {
    let dir = Scratch::new("pii-map");
    let mut events = failing_events(&json!("2026-11-21T11:00:00Z"));
    // A malformed line, and one that is not an object.
    let lines = format!(
        "{}{{\"messageId\":\"pii-bad\",\"email\":\"frank@example.com\",}}\n\"Frank Miller\"\n",
        ndjson(&events)
    );
    let input = dir.write("events.ndjson", &lines);
    let run = eventmap(&["map", "-m", MAPPING, "--now", NOW, &input], "");
    let summary = run.summary();
    assert_eq!(summary["failed"], 4, "{}", run.stderr);
    assert_eq!(summary["invalid"], 1, "{}", run.stderr);
    assert_eq!(summary["malformed"], 2, "{}", run.stderr);
    // Nothing mapped, so stdout holds no event either.
    assert_no_personal_data("map's stdout", &run.stdout);
    assert_no_personal_data("map's stderr", &run.stderr);
    assert!(
        run.stderr
            .contains("minor_units: amount is a string that is not a number"),
        "the message names the key and the kind: {}",
        run.stderr
    );

    // A mapping's own expressions failing on a value: Rhai's messages quote operands.
    let mapping = dir.write(
        "rhai.yaml",
        "version: 1\nname: pii\ndefault:\n  keys:\n    id: { from: messageId }\n    \
         ratio: { expr: \"n / 0\", inputs: { n: traits.phone } }\n    \
         count: { expr: \"parse_int(name)\", inputs: { name: traits.name }, type: integer }\n    \
         city: { from: traits.city, type: integer }\n",
    );
    events = vec![json!({"type": "identify", "messageId": "pii-rhai",
        "traits": {"phone": 4155552671_i64, "name": "Frank Miller", "city": "12 Elm St"}})];
    let input = dir.write("rhai.ndjson", &ndjson(&events));
    let run = eventmap(&["map", "-m", &mapping, &input], "");
    assert_eq!(run.summary()["failed"], 1, "{}", run.stderr);
    assert!(run.stderr.contains("Division by zero"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Error parsing integer number"),
        "{}",
        run.stderr
    );
    assert_no_personal_data("map's stderr (Rhai)", &run.stderr);
}

#[test]
fn send_reports_failures_without_the_values_and_keeps_them_in_the_dead_letter_file_only() {
    let dir = Scratch::new("pii-send");
    let mock = delivery::mock(|_| {});
    let input = dir.write(
        "events.ndjson",
        &ndjson(&failing_events(&json!("2026-11-21T11:00:00Z"))),
    );
    let run = delivery::send(&mock, &dir, delivery::KEY, &[], &[&input]);
    let summary = run.summary();
    assert_eq!(summary["dead_lettered"], 5, "{}{}", run.stdout, run.stderr);
    assert_no_personal_data("send's stdout", &run.stdout);
    assert_no_personal_data("send's stderr", &run.stderr);
    // The data is kept where it is data: the dead-letter file, readable by its owner only.
    let letters = std::fs::read_to_string(dir.path("dead.ndjson")).expect("dead letters");
    assert!(letters.contains("frank@example.com"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path("dead.ndjson"))
        .expect("dead letters")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn serve_logs_and_answers_without_the_values() {
    let dir = Scratch::new("pii-serve");
    let mock = MockCapi::start(MockConfig::new(delivery::KEY, delivery::PIXEL)).expect("mock");
    let server = Server::start(&dir.0.join("spool"), &mock.endpoint(), &[]);
    let events = failing_events(&json!(now_ms() - 60_000));
    let mut answers = String::new();
    let answer = server.post("/v1/batch", &json!({ "batch": events }));
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Refused requests: not JSON, too large, no type.
    for body in [
        "{\"type\":\"track\",\"email\":\"frank@example.com\",".to_string(),
        json!({"type": "track", "pad": "Frank Miller ".repeat(4000)}).to_string(),
    ] {
        let refused = server.request(
            "POST",
            "/v1/track",
            &[
                (
                    "Authorization",
                    &eventmap_tests::serve::basic(eventmap_tests::serve::WRITE_KEY),
                ),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        );
        assert!(refused.status >= 400, "{}", refused.body);
        answers.push_str(&refused.body);
    }
    let no_batch = server.post("/v1/batch", &json!({"email": "frank@example.com"}));
    assert_eq!(no_batch.status, 400, "{}", no_batch.body);
    answers.push_str(&no_batch.body);
    wait_until("five dead letters logged", || {
        server.log().matches("\"dead_letter\"").count() >= 5
    });
    let (_, log) = server.terminate();
    assert!(log.contains("mapping_failed"), "{log}");
    assert_no_personal_data("serve's log", &log);
    assert_no_personal_data("serve's answers", &answers);
}

#[test]
fn consume_logs_without_the_values() {
    let broker = Broker::start();
    let mock = MockCapi::start(MockConfig::new(delivery::KEY, delivery::PIXEL)).expect("mock");
    broker.create_topic("pii", 1);
    broker.create_topic("pii-dead", 1);
    let mut records: Vec<(String, Vec<u8>)> = failing_events(&json!(now_ms() - 60_000))
        .iter()
        .map(|e| ("k".to_string(), e.to_string().into_bytes()))
        .collect();
    records.push(("k".into(), b"{\"email\": \"frank@example.com\",".to_vec()));
    broker.produce("pii", &records);
    let consumer = Consumer::start(&broker, "pii", "g-pii", &mock.endpoint(), &[]);
    let dead = broker.read_all("pii-dead", 6);
    assert_eq!(dead.len(), 6);
    std::thread::sleep(Duration::from_millis(300));
    let log = consumer.log();
    assert!(log.contains("dead_letter"), "{log}");
    assert_no_personal_data("consume's log", &log);
}
