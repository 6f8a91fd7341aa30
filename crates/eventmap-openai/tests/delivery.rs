//! The OpenAI sink and the shared delivery machinery against a real HTTP server: the mock
//! Conversions API on 127.0.0.1, with each fault pattern and random mixes of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventmap_mock_capi::{Fault, FaultPlan, MockCapi, MockConfig, Record};
use eventmap_openai::delivery::{check_connection, ConnectionVerdict, Timeouts};
use eventmap_openai::{Credentials, OpenAiSink, OpenAiSinkConfig, MAX_AGE_MS};
use eventmap_pipeline::delivery::{
    Clock, DeadLetter, DeadReason, Delivery, DeliveryConfig, DeliveryObserver, DeliveryReport,
    OutgoingEvent, RetryPolicy,
};
use serde_json::{json, Value};

const KEY: &str = "sk-conv-test-0123456789";
const PIXEL: &str = "px_test_1";

fn order(id: &str, timestamp_ms: i64) -> Value {
    json!({"id": id, "type": "order_created", "timestamp_ms": timestamp_ms,
           "action_source": "web", "source_url": "https://shop.example/checkout",
           "data": {"type": "contents", "amount": 1299, "currency": "USD"}})
}

fn sink_config(mock: &MockCapi, key: &str, pixel: &str) -> OpenAiSinkConfig {
    let mut config = OpenAiSinkConfig::new(Credentials::new(pixel, key).unwrap());
    config.endpoint = mock.endpoint();
    config.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        read: Duration::from_millis(300),
        total: Duration::from_secs(2),
    };
    config
}

fn delivery_config() -> DeliveryConfig {
    DeliveryConfig {
        batch_size: 10,
        concurrency: 4,
        linger: Duration::from_millis(20),
        retry: RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_elapsed: Duration::from_secs(30),
        },
        ..DeliveryConfig::default()
    }
}

#[derive(Default)]
struct Letters(Mutex<Vec<DeadLetter>>);

impl DeliveryObserver for Letters {
    fn dead_lettered(&self, _event: &OutgoingEvent, letter: &DeadLetter) {
        self.0.lock().unwrap().push(letter.clone());
    }
}

struct Outcome {
    report: DeliveryReport,
    letters: HashMap<String, DeadLetter>,
    record: Record,
}

async fn send(
    mock: &MockCapi,
    sink: OpenAiSinkConfig,
    config: DeliveryConfig,
    events: Vec<OutgoingEvent>,
) -> Outcome {
    let letters = Arc::new(Letters::default());
    let sink = OpenAiSink::new(&sink).unwrap();
    let delivery = Delivery::start(sink, config, Clock::system(), letters.clone());
    for event in events {
        delivery.submit(event).await.unwrap();
    }
    let report = delivery.finish().await;
    assert_eq!(
        report.delivered + report.dead_lettered_total(),
        report.submitted,
        "every event is delivered or dead-lettered: {report:?}"
    );
    let letters = letters.0.lock().unwrap();
    Outcome {
        report,
        letters: letters
            .iter()
            .map(|l| (l.id.clone().unwrap(), l.clone()))
            .collect(),
        record: mock.record(),
    }
}

/// [`send`] with the key and pixel the mock accepts.
async fn send_with_good_credentials(
    mock: &MockCapi,
    config: DeliveryConfig,
    events: Vec<OutgoingEvent>,
) -> Outcome {
    send(mock, sink_config(mock, KEY, PIXEL), config, events).await
}

fn orders(n: usize, prefix: &str) -> Vec<OutgoingEvent> {
    let now = Clock::system().now_ms();
    (0..n)
        .map(|i| {
            let id = format!("{prefix}{i}");
            OutgoingEvent::new(id.clone(), order(&id, now - 60_000), false)
        })
        .collect()
}

/// Each event delivered exactly once, unless the client could not know it had been.
fn assert_delivered_once(record: &Record, ids: impl IntoIterator<Item = String>) {
    for id in ids {
        match record.delivered.get(&id) {
            Some(1) => {}
            Some(n) if record.unanswered.contains(&id) => assert!(*n >= 2, "{id}"),
            other => panic!("{id} delivered {other:?} times"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_events_are_delivered_once_in_batches() {
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).unwrap();
    let run = send_with_good_credentials(&mock, delivery_config(), orders(95, "o")).await;
    assert_eq!(run.report.delivered, 95);
    assert_eq!(run.record.requests.len(), 10);
    assert!(run.record.requests.iter().all(|r| r.status == Some(200)));
    assert_delivered_once(&run.record, (0..95).map(|i| format!("o{i}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_mode_validates_without_recording() {
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).unwrap();
    let events = orders(12, "t")
        .into_iter()
        .map(|e| OutgoingEvent::new(e.id.clone(), e.event(), true))
        .collect();
    let run = send_with_good_credentials(&mock, delivery_config(), events).await;
    assert_eq!(run.report.delivered, 12);
    assert!(run.record.delivered.is_empty());
    assert_eq!(run.record.validated.len(), 12);
    assert!(run.record.requests.iter().all(|r| r.validate_only));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_stops_delivery_and_dead_letters_everything_as_auth() {
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).unwrap();
    let config = DeliveryConfig {
        concurrency: 1,
        ..delivery_config()
    };
    let run = send(
        &mock,
        sink_config(&mock, "sk-wrong", PIXEL),
        config,
        orders(40, "a"),
    )
    .await;
    assert_eq!(run.record.requests.len(), 1, "one refusal is enough");
    assert_eq!(
        run.report.dead_lettered[&DeadReason::CredentialsRefused],
        40
    );
    let fatal = run.report.fatal.unwrap();
    assert_eq!(fatal.status, Some(401));
    assert!(!fatal.message.contains("sk-wrong"));
    assert!(run.letters["a39"].message.contains("OPENAI_CAPI_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_pixel_is_a_credentials_error_too() {
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).unwrap();
    let run = send(
        &mock,
        sink_config(&mock, KEY, "px_other"),
        delivery_config(),
        orders(5, "p"),
    )
    .await;
    assert_eq!(run.report.fatal.unwrap().status, Some(403));
    assert_eq!(run.report.dead_lettered[&DeadReason::CredentialsRefused], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_rate_limits_are_retried_honouring_retry_after() {
    let mut config = MockConfig::new(KEY, PIXEL);
    config.faults = FaultPlan::Script(vec![
        Some(Fault::Status(500)),
        Some(Fault::RateLimited {
            retry_after_secs: 1,
        }),
        Some(Fault::Status(503)),
    ]);
    let mock = MockCapi::start(config).unwrap();
    let delivery = DeliveryConfig {
        concurrency: 1,
        ..delivery_config()
    };
    let started = Instant::now();
    let run = send_with_good_credentials(&mock, delivery, orders(10, "r")).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(run.report.delivered, 10);
    assert_eq!(run.report.retries, 3);
    let statuses: Vec<_> = run.record.requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(500), Some(429), Some(503), Some(200)]);
    assert_delivered_once(&run.record, (0..10).map(|i| format!("r{i}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_and_dropped_connections_are_retried() {
    let mut config = MockConfig::new(KEY, PIXEL);
    let slow = Duration::from_millis(800);
    config.faults = FaultPlan::Script(vec![
        Some(Fault::Slow {
            delay: slow,
            recorded: false,
        }),
        Some(Fault::Drop { recorded: false }),
        Some(Fault::Slow {
            delay: slow,
            recorded: true,
        }),
        Some(Fault::Drop { recorded: true }),
    ]);
    let mock = MockCapi::start(config).unwrap();
    let delivery = DeliveryConfig {
        concurrency: 1,
        ..delivery_config()
    };
    let run = send_with_good_credentials(&mock, delivery, orders(10, "s")).await;
    assert_eq!(run.report.delivered, 10);
    assert_eq!(run.report.retries, 4);
    // The two faults after recording leave duplicates the client could not avoid; the
    // same ids were resent, so OpenAI's dedup on (pixel, type, id) absorbs them.
    assert_eq!(run.record.delivered["s0"], 3);
    assert_delivered_once(&run.record, (0..10).map(|i| format!("s{i}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_end_in_dead_letters_with_the_last_error() {
    let mut config = MockConfig::new(KEY, PIXEL);
    config.faults = FaultPlan::Random {
        seed: 3,
        weights: vec![(Fault::Status(502), 1000)],
    };
    let mock = MockCapi::start(config).unwrap();
    let delivery = DeliveryConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            ..delivery_config().retry
        },
        ..delivery_config()
    };
    let run = send_with_good_credentials(&mock, delivery, orders(3, "x")).await;
    let letter = &run.letters["x0"];
    assert_eq!(letter.reason, DeadReason::RetriesExhausted);
    assert_eq!(letter.attempts, 3);
    assert_eq!(letter.status, Some(502));
    assert!(letter.message.contains("502"), "{}", letter.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_bad_event_costs_only_itself() {
    let mut config = MockConfig::new(KEY, PIXEL);
    config.poison_named = Box::new(|id| id == "b3" || id == "b17");
    let mock = MockCapi::start(config).unwrap();
    let mut events = orders(20, "b");
    // One the client cannot catch either: the server finds it invalid.
    let mut bad = events[5].event();
    bad["data"]["type"] = json!("customer_action");
    events[5] = OutgoingEvent::new("b5", bad, false);
    let run = send_with_good_credentials(&mock, delivery_config(), events).await;
    assert_eq!(run.report.delivered, 17);
    let mut dead: Vec<_> = run.letters.keys().cloned().collect();
    dead.sort();
    assert_eq!(dead, ["b17", "b3", "b5"]);
    assert_eq!(run.letters["b3"].status, Some(400));
    assert!(
        run.letters["b5"].message.contains("data.type"),
        "{}",
        run.letters["b5"].message
    );
    assert_eq!(run.report.retries, 0);
    assert_delivered_once(
        &run.record,
        (0..20)
            .filter(|i| ![3, 5, 17].contains(i))
            .map(|i| format!("b{i}")),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unnamed_bad_event_is_found_by_splitting() {
    let mut config = MockConfig::new(KEY, PIXEL);
    config.poison_unnamed = Box::new(|id| id == "u6");
    let mock = MockCapi::start(config).unwrap();
    let run = send_with_good_credentials(&mock, delivery_config(), orders(10, "u")).await;
    assert_eq!(run.report.delivered, 9);
    assert_eq!(run.letters.len(), 1);
    assert_eq!(run.letters["u6"].reason, DeadReason::Rejected);
    assert!(run.report.splits >= 3);
    assert_delivered_once(
        &run.record,
        (0..10).filter(|i| *i != 6).map(|i| format!("u{i}")),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_ages_out_while_waiting_is_dead_lettered_before_it_can_fail_a_batch() {
    let mut config = MockConfig::new(KEY, PIXEL);
    config.faults = FaultPlan::Script(vec![Some(Fault::RateLimited {
        retry_after_secs: 3,
    })]);
    let mock = MockCapi::start(config).unwrap();
    let now = Clock::system().now_ms();
    let mut events = orders(4, "w");
    // Valid for two more seconds: past the window when the retry goes out.
    let nearly_stale = order("w-old", now - MAX_AGE_MS + 2000);
    events.insert(2, OutgoingEvent::new("w-old", nearly_stale, false));
    let delivery = DeliveryConfig {
        concurrency: 1,
        ..delivery_config()
    };
    let run = send_with_good_credentials(&mock, delivery, events).await;
    assert_eq!(run.letters["w-old"].reason, DeadReason::Expired);
    assert_eq!(run.report.delivered, 4);
    let statuses: Vec<_> = run.record.requests.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [Some(429), Some(200)],
        "no batch failed on the stale event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_mixes_over_thousands_of_events_lose_nothing() {
    for seed in [11u64, 12, 13] {
        let mut config = MockConfig::new(KEY, PIXEL);
        config.faults = FaultPlan::mixed(seed, Duration::from_millis(500));
        config.poison_named = Box::new(|id| id.ends_with("13"));
        config.poison_unnamed = Box::new(|id| id.ends_with("777"));
        let mock = MockCapi::start(config).unwrap();
        let events = orders(3000, &format!("m{seed}-"));
        let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        let delivery = DeliveryConfig {
            retry: RetryPolicy {
                max_attempts: 30,
                ..delivery_config().retry
            },
            ..delivery_config()
        };
        let run = send_with_good_credentials(&mock, delivery, events).await;
        let bad = |id: &str| id.ends_with("13") || id.ends_with("777");
        let good: Vec<String> = ids.iter().filter(|id| !bad(id)).cloned().collect();
        assert_eq!(
            run.report.delivered,
            good.len() as u64,
            "seed {seed}: {:?}",
            run.report
        );
        assert_eq!(
            run.report.dead_lettered[&DeadReason::Rejected],
            (ids.len() - good.len()) as u64
        );
        assert_delivered_once(&run.record, good);
        for id in ids.iter().filter(|id| bad(id)) {
            assert_eq!(run.record.delivered.get(id), None, "{id}");
        }
        assert!(run.report.retries > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_gives_a_readable_verdict() {
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).unwrap();
    let now = Clock::system().now_ms();
    let ok = check_connection(&sink_config(&mock, KEY, PIXEL), now)
        .await
        .unwrap();
    assert_eq!(ok, ConnectionVerdict::Connected);
    assert!(
        mock.record().delivered.is_empty(),
        "the check records nothing"
    );
    let bad_key = check_connection(&sink_config(&mock, "nope", PIXEL), now)
        .await
        .unwrap();
    assert!(
        matches!(&bad_key, ConnectionVerdict::Refused(m) if m.contains("401")),
        "{bad_key}"
    );
    let bad_pixel = check_connection(&sink_config(&mock, KEY, "nope"), now)
        .await
        .unwrap();
    assert!(matches!(&bad_pixel, ConnectionVerdict::Refused(m) if m.contains("403")));
    drop(mock);
    let closed = {
        let mut c = OpenAiSinkConfig::new(Credentials::new(PIXEL, KEY).unwrap());
        c.endpoint = "http://127.0.0.1:9".into();
        check_connection(&c, now).await.unwrap()
    };
    assert!(
        matches!(closed, ConnectionVerdict::Unreachable(_)),
        "{closed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pixel_ids_travel_url_encoded() {
    let odd = "px 1&pid=other";
    let mock = MockCapi::start(MockConfig::new(KEY, odd)).unwrap();
    let run = send(
        &mock,
        sink_config(&mock, KEY, odd),
        delivery_config(),
        orders(3, "e"),
    )
    .await;
    assert_eq!(run.report.delivered, 3);
}
