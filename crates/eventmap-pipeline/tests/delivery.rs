//! The shared delivery machinery against scripted sinks: batching, retries, resends,
//! bisection, stops and dead letters, and that every event is accounted for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventmap_pipeline::delivery::{
    BatchOutcome, Clock, DeadLetter, DeadReason, Delivery, DeliveryConfig, DeliveryObserver,
    DeliveryReport, EventStatus, Fatal, OutgoingEvent, Rejection, RetryPolicy, Sink, Transient,
};
use serde_json::json;

type Script = dyn Fn(&[OutgoingEvent], u32) -> BatchOutcome + Send + Sync;

/// A sink that answers each request with a script, and records what it was sent.
struct ScriptedSink {
    script: Box<Script>,
    calls: AtomicU32,
    requests: Arc<Mutex<Vec<Vec<String>>>>,
    accepted: Arc<Mutex<HashMap<String, u32>>>,
    too_old_before: Option<i64>,
}

impl ScriptedSink {
    fn new(script: impl Fn(&[OutgoingEvent], u32) -> BatchOutcome + Send + Sync + 'static) -> Self {
        Self {
            script: Box::new(script),
            calls: AtomicU32::new(0),
            requests: Arc::default(),
            accepted: Arc::default(),
            too_old_before: None,
        }
    }
}

impl Sink for ScriptedSink {
    fn check_before_send(&self, event: &OutgoingEvent, now_ms: i64) -> Result<(), Rejection> {
        match (self.too_old_before, event.event()["ts"].as_i64()) {
            (Some(window), Some(ts)) if ts < now_ms - window => {
                Err(Rejection::new(DeadReason::Expired, "too old"))
            }
            _ => Ok(()),
        }
    }

    async fn send(&self, batch: &[OutgoingEvent], _test_mode: bool) -> BatchOutcome {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.requests
            .lock()
            .unwrap()
            .push(batch.iter().map(|e| e.id.clone()).collect());
        let outcome = (self.script)(batch, call);
        let mut accepted = self.accepted.lock().unwrap();
        let statuses = match &outcome {
            BatchOutcome::Delivered => vec![true; batch.len()],
            BatchOutcome::PerEvent(s) => s.iter().map(|s| *s == EventStatus::Delivered).collect(),
            _ => vec![false; batch.len()],
        };
        for (event, ok) in batch.iter().zip(statuses) {
            if ok {
                *accepted.entry(event.id.clone()).or_default() += 1;
            }
        }
        outcome
    }
}

#[derive(Default)]
struct Recorder {
    letters: Mutex<Vec<DeadLetter>>,
    delivered: Mutex<Vec<String>>,
    retries: AtomicU32,
}

impl DeliveryObserver for Recorder {
    fn delivered(&self, events: &[OutgoingEvent], _test_mode: bool) {
        let mut d = self.delivered.lock().unwrap();
        d.extend(events.iter().map(|e| e.id.clone()));
    }
    fn dead_lettered(&self, _event: &OutgoingEvent, letter: &DeadLetter) {
        self.letters.lock().unwrap().push(letter.clone());
    }
    fn retrying(&self, _notice: &eventmap_pipeline::delivery::RetryNotice) {
        self.retries.fetch_add(1, Ordering::SeqCst);
    }
}

fn fast_config() -> DeliveryConfig {
    DeliveryConfig {
        batch_size: 10,
        concurrency: 2,
        linger: Duration::from_millis(20),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_elapsed: Duration::from_secs(10),
        },
        ..DeliveryConfig::default()
    }
}

fn event(id: &str) -> OutgoingEvent {
    OutgoingEvent::new(id, json!({"id": id}), false)
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("e{i}")).collect()
}

struct Run {
    report: DeliveryReport,
    recorder: Arc<Recorder>,
    requests: Vec<Vec<String>>,
    accepted: HashMap<String, u32>,
}

async fn deliver(sink: ScriptedSink, config: DeliveryConfig, events: Vec<OutgoingEvent>) -> Run {
    let recorder = Arc::new(Recorder::default());
    let (requests, accepted) = (Arc::clone(&sink.requests), Arc::clone(&sink.accepted));
    let delivery = Delivery::start(sink, config, Clock::system(), recorder.clone());
    for e in events {
        delivery.submit(e).await.unwrap();
    }
    let report = delivery.finish().await;
    let requests = requests.lock().unwrap().clone();
    let accepted = accepted.lock().unwrap().clone();
    // Nothing is lost, whatever happened.
    assert_eq!(
        report.delivered + report.dead_lettered_total(),
        report.submitted,
        "{report:?}"
    );
    assert_eq!(
        recorder.delivered.lock().unwrap().len() as u64,
        report.delivered
    );
    assert_eq!(
        recorder.letters.lock().unwrap().len() as u64,
        report.dead_lettered_total()
    );
    Run {
        report,
        recorder,
        requests,
        accepted,
    }
}

fn dead(run: &Run) -> HashMap<String, DeadLetter> {
    let letters = run.recorder.letters.lock().unwrap();
    letters
        .iter()
        .map(|l| (l.id.clone().unwrap(), l.clone()))
        .collect()
}

#[tokio::test]
async fn delivers_everything_in_batches_of_the_configured_size() {
    let sink = ScriptedSink::new(|_, _| BatchOutcome::Delivered);
    let events = ids(95).iter().map(|id| event(id)).collect();
    let run = deliver(sink, fast_config(), events).await;
    assert_eq!(run.report.delivered, 95);
    assert_eq!(run.requests.len(), 10);
    assert!(run.requests.iter().all(|r| r.len() <= 10));
    assert!(run.accepted.values().all(|n| *n == 1));
    assert_eq!(run.accepted.len(), 95);
}

#[tokio::test]
async fn a_named_bad_event_is_dead_lettered_and_the_rest_resent_at_once() {
    let sink = ScriptedSink::new(|batch, _| {
        if !batch.iter().any(|e| e.id == "e3" || e.id == "e7") {
            return BatchOutcome::Delivered;
        }
        BatchOutcome::PerEvent(
            batch
                .iter()
                .map(|e| match e.id.as_str() {
                    "e3" | "e7" => EventStatus::DeadLetter(Rejection {
                        reason: DeadReason::Rejected,
                        status: Some(400),
                        code: Some("invalid_event".into()),
                        message: format!("{} is bad", e.id),
                    }),
                    _ => EventStatus::ResendNow,
                })
                .collect(),
        )
    });
    let started = Instant::now();
    let run = deliver(
        sink,
        fast_config(),
        ids(10).iter().map(|i| event(i)).collect(),
    )
    .await;
    assert_eq!(run.report.delivered, 8);
    assert_eq!(run.report.dead_lettered[&DeadReason::Rejected], 2);
    assert_eq!(run.report.resent, 8);
    assert_eq!(run.report.retries, 0, "a resend is not a retry");
    assert_eq!(run.requests.len(), 2);
    assert!(started.elapsed() < Duration::from_secs(1));
    let letters = dead(&run);
    assert_eq!(letters["e3"].message, "e3 is bad");
    assert_eq!(letters["e3"].status, Some(400));
    assert_eq!(letters["e3"].attempts, 1);
    assert!(run.accepted.values().all(|n| *n == 1));
}

#[tokio::test]
async fn an_unnamed_bad_event_is_isolated_by_splitting() {
    let bad = ["e2", "e13", "e14", "e31"];
    let sink = ScriptedSink::new(move |batch, _| {
        if batch.iter().any(|e| bad.contains(&e.id.as_str())) {
            BatchOutcome::RejectedUnattributed(Rejection::new(DeadReason::Rejected, "bad batch"))
        } else {
            BatchOutcome::Delivered
        }
    });
    let config = DeliveryConfig {
        batch_size: 16,
        ..fast_config()
    };
    let run = deliver(sink, config, ids(40).iter().map(|i| event(i)).collect()).await;
    assert_eq!(run.report.delivered, 36);
    let letters = dead(&run);
    let mut named: Vec<&str> = letters.keys().map(String::as_str).collect();
    named.sort();
    assert_eq!(named, ["e13", "e14", "e2", "e31"]);
    assert!(run.report.splits > 0);
    assert!(run.accepted.values().all(|n| *n == 1));
    // Every request that was refused had a bad event in it.
    for request in &run.requests {
        let has_bad = request.iter().any(|id| bad.contains(&id.as_str()));
        let all_accepted = request.iter().all(|id| run.accepted.contains_key(id));
        assert!(has_bad || all_accepted);
    }
}

#[tokio::test]
async fn transient_failures_are_retried_with_the_same_ids_honouring_retry_after() {
    let sink = ScriptedSink::new(|_, call| match call {
        0 => BatchOutcome::RetryLater(Transient {
            message: "429 Too Many Requests".into(),
            status: Some(429),
            retry_after: Some(Duration::from_millis(300)),
        }),
        1 => BatchOutcome::RetryLater(Transient {
            message: "500".into(),
            status: Some(500),
            retry_after: None,
        }),
        _ => BatchOutcome::Delivered,
    });
    let config = DeliveryConfig {
        concurrency: 1,
        ..fast_config()
    };
    let started = Instant::now();
    let run = deliver(sink, config, ids(5).iter().map(|i| event(i)).collect()).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(run.report.delivered, 5);
    assert_eq!(run.report.retries, 2);
    assert_eq!(run.recorder.retries.load(Ordering::SeqCst), 2);
    assert_eq!(run.requests.len(), 3);
    assert!(run.requests.iter().all(|r| *r == ids(5)));
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit_with_the_last_error() {
    let sink = ScriptedSink::new(|_, call| {
        BatchOutcome::RetryLater(Transient {
            message: format!("503 number {call}"),
            status: Some(503),
            retry_after: None,
        })
    });
    let run = deliver(sink, fast_config(), vec![event("a")]).await;
    assert_eq!(run.requests.len(), 4);
    let letter = &dead(&run)["a"];
    assert_eq!(letter.reason, DeadReason::RetriesExhausted);
    assert_eq!(letter.attempts, 4);
    assert_eq!(letter.status, Some(503));
    assert!(
        letter.message.contains("503 number 3"),
        "{}",
        letter.message
    );
}

#[tokio::test]
async fn a_retry_after_past_the_time_limit_dead_letters_without_waiting() {
    let sink = ScriptedSink::new(|_, _| {
        BatchOutcome::RetryLater(Transient {
            message: "429".into(),
            status: Some(429),
            retry_after: Some(Duration::from_secs(3600)),
        })
    });
    let started = Instant::now();
    let run = deliver(sink, fast_config(), vec![event("a")]).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(run.report.dead_lettered[&DeadReason::RetriesExhausted], 1);
}

#[tokio::test]
async fn a_fatal_error_stops_sending_and_dead_letters_the_rest() {
    let sink = ScriptedSink::new(|_, call| {
        if call == 1 {
            BatchOutcome::Fatal(Fatal {
                reason: DeadReason::CredentialsRefused,
                status: Some(401),
                message: "the key was refused".into(),
            })
        } else {
            BatchOutcome::Delivered
        }
    });
    let config = DeliveryConfig {
        concurrency: 1,
        ..fast_config()
    };
    let run = deliver(sink, config, ids(50).iter().map(|i| event(i)).collect()).await;
    assert_eq!(run.requests.len(), 2, "nothing is sent after the stop");
    assert_eq!(run.report.delivered, 10);
    assert_eq!(
        run.report.dead_lettered[&DeadReason::CredentialsRefused],
        40
    );
    assert_eq!(run.report.fatal.as_ref().unwrap().status, Some(401));
    let letters = dead(&run);
    assert!(letters["e49"].message.contains("the key was refused"));
    assert_eq!(letters["e49"].attempts, 0);
    assert_eq!(letters["e10"].attempts, 1);
}

#[tokio::test]
async fn events_that_age_out_while_waiting_are_dead_lettered_not_sent() {
    let now = Clock::system().now_ms();
    let mut sink = ScriptedSink::new(|_, call| {
        if call == 0 {
            BatchOutcome::RetryLater(Transient {
                message: "500".into(),
                status: Some(500),
                retry_after: Some(Duration::from_millis(2500)),
            })
        } else {
            BatchOutcome::Delivered
        }
    });
    // The window is 3 s; "old" is 1 s old when first sent (2 s to spare on a loaded
    // machine), past 3 s on the retry.
    sink.too_old_before = Some(3000);
    let events = vec![
        OutgoingEvent::new("old", json!({"ts": now - 1000}), false),
        OutgoingEvent::new("fresh", json!({"ts": now + 60_000}), false),
    ];
    let run = deliver(sink, fast_config(), events).await;
    assert_eq!(run.requests, vec![vec!["old", "fresh"], vec!["fresh"]]);
    assert_eq!(dead(&run)["old"].reason, DeadReason::Expired);
    assert_eq!(run.report.delivered, 1);
}

#[tokio::test]
async fn oversized_events_are_dead_lettered_and_batches_respect_the_byte_cap() {
    let sink = ScriptedSink::new(|_, _| BatchOutcome::Delivered);
    let config = DeliveryConfig {
        max_batch_bytes: 200,
        ..fast_config()
    };
    let mut events: Vec<OutgoingEvent> = (0..20)
        .map(|i| OutgoingEvent::new(format!("e{i}"), json!({"pad": "x".repeat(40)}), false))
        .collect();
    events.push(OutgoingEvent::new(
        "big",
        json!({"pad": "x".repeat(500)}),
        false,
    ));
    let run = deliver(sink, config, events).await;
    assert_eq!(dead(&run)["big"].reason, DeadReason::TooLarge);
    assert_eq!(run.report.delivered, 20);
    assert!(
        run.requests.iter().all(|r| r.len() <= 4),
        "{:?}",
        run.requests
    );
}

#[tokio::test]
async fn test_mode_events_travel_in_their_own_batches() {
    let modes = Arc::new(Mutex::new(Vec::new()));
    /// Each request's test mode, and the test mode of each event in it.
    type Seen = Arc<Mutex<Vec<(bool, Vec<bool>)>>>;
    struct ModeSink(Seen);
    impl Sink for ModeSink {
        async fn send(&self, batch: &[OutgoingEvent], test_mode: bool) -> BatchOutcome {
            let flags = batch.iter().map(|e| e.test_mode).collect();
            self.0.lock().unwrap().push((test_mode, flags));
            BatchOutcome::Delivered
        }
    }
    let delivery = Delivery::start(
        ModeSink(Arc::clone(&modes)),
        fast_config(),
        Clock::system(),
        Arc::new(Recorder::default()),
    );
    for i in 0..30 {
        let e = OutgoingEvent::new(format!("e{i}"), json!({}), i % 3 == 0);
        delivery.submit(e).await.unwrap();
    }
    let report = delivery.finish().await;
    assert_eq!(report.delivered, 30);
    for (test_mode, flags) in modes.lock().unwrap().iter() {
        assert!(flags.iter().all(|f| f == test_mode));
    }
}

#[tokio::test]
async fn a_part_full_batch_leaves_after_the_linger_time() {
    let sink = ScriptedSink::new(|_, _| BatchOutcome::Delivered);
    let requests = Arc::clone(&sink.requests);
    let delivery = Delivery::start(
        sink,
        fast_config(),
        Clock::system(),
        Arc::new(Recorder::default()),
    );
    delivery.submit(event("lonely")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*requests.lock().unwrap(), vec![vec!["lonely".to_string()]]);
    assert_eq!(delivery.finish().await.delivered, 1);
}

#[tokio::test]
async fn random_mixes_of_faults_lose_nothing_and_deliver_good_events_once() {
    for seed in 1..=5u64 {
        let rng = Mutex::new(seeded(seed));
        let is_bad = |id: &str| id.ends_with('7');
        let sink = ScriptedSink::new(move |batch, _| {
            let roll = next(&rng) % 10;
            if roll == 0 {
                return BatchOutcome::RetryLater(Transient {
                    message: "500".into(),
                    status: Some(500),
                    retry_after: None,
                });
            }
            let bad: Vec<bool> = batch.iter().map(|e| is_bad(&e.id)).collect();
            if !bad.contains(&true) {
                return BatchOutcome::Delivered;
            }
            if roll < 5 {
                return BatchOutcome::RejectedUnattributed(Rejection::new(
                    DeadReason::Rejected,
                    "bad",
                ));
            }
            BatchOutcome::PerEvent(
                bad.iter()
                    .map(|b| {
                        if *b {
                            EventStatus::DeadLetter(Rejection::new(DeadReason::Rejected, "bad"))
                        } else {
                            EventStatus::ResendNow
                        }
                    })
                    .collect(),
            )
        });
        let config = DeliveryConfig {
            retry: RetryPolicy {
                max_attempts: 20,
                ..fast_config().retry
            },
            ..fast_config()
        };
        let all = ids(2000);
        let run = deliver(sink, config, all.iter().map(|i| event(i)).collect()).await;
        let good: Vec<&String> = all.iter().filter(|id| !is_bad(id)).collect();
        assert_eq!(run.report.delivered, good.len() as u64, "seed {seed}");
        for id in good {
            assert_eq!(run.accepted.get(id), Some(&1), "seed {seed}: {id}");
        }
        assert_eq!(run.report.dead_lettered[&DeadReason::Rejected], 200);
    }
}

/// A tiny deterministic generator (xorshift), so each seed replays the same faults.
fn seeded(seed: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

fn next(state: &Mutex<u64>) -> u64 {
    let mut s = state.lock().unwrap();
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[tokio::test]
async fn a_stop_wakes_batches_waiting_to_retry() {
    // Batch 1 is told to come back in an hour; batch 2 finds the credentials refused.
    let sink = ScriptedSink::new(|batch, _| {
        if batch[0].id == "e0" {
            BatchOutcome::RetryLater(Transient {
                message: "429".into(),
                status: Some(429),
                retry_after: Some(Duration::from_secs(3600)),
            })
        } else {
            std::thread::sleep(Duration::from_millis(50));
            BatchOutcome::Fatal(Fatal {
                reason: DeadReason::CredentialsRefused,
                status: Some(401),
                message: "refused".into(),
            })
        }
    });
    let config = DeliveryConfig {
        retry: RetryPolicy {
            max_elapsed: Duration::from_secs(7200),
            ..fast_config().retry
        },
        ..fast_config()
    };
    let events = ids(20).iter().map(|i| event(i)).collect();
    let run = tokio::time::timeout(Duration::from_secs(10), deliver(sink, config, events))
        .await
        .expect("the waiting batch was woken by the stop, not left to sleep an hour");
    assert_eq!(
        run.report.dead_lettered[&DeadReason::CredentialsRefused],
        20
    );
    assert_eq!(run.requests.len(), 2, "the waiting batch is not sent again");
}

/// Never answers: every request stays in flight until it is abandoned.
struct SilentSink;

impl Sink for SilentSink {
    async fn send(&self, _batch: &[OutgoingEvent], _test_mode: bool) -> BatchOutcome {
        std::future::pending().await
    }
}

#[tokio::test]
async fn an_abort_ends_requests_in_flight_and_dead_letters_everything_undelivered() {
    let recorder = Arc::new(Recorder::default());
    let delivery = Delivery::start(
        SilentSink,
        fast_config(),
        Clock::system(),
        Arc::clone(&recorder) as Arc<dyn DeliveryObserver>,
    );
    // 2 requests in flight (the concurrency), the rest queued behind them.
    for id in ids(50) {
        delivery.submit(event(&id)).await.unwrap();
    }
    let stopper = delivery.stopper();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stopper.abort("the drain deadline passed");
    // What is submitted after the stop is accounted for too.
    delivery.submit(event("late")).await.unwrap();
    let report = tokio::time::timeout(Duration::from_secs(10), delivery.finish())
        .await
        .expect("an abort does not wait for requests that never end");
    assert_eq!(report.submitted, 51);
    assert_eq!(report.delivered, 0);
    assert_eq!(report.dead_lettered[&DeadReason::Interrupted], 51);
    assert_eq!(
        report.fatal.map(|f| f.reason),
        Some(DeadReason::Interrupted)
    );
    let letters = recorder.letters.lock().unwrap();
    let in_flight = letters
        .iter()
        .filter(|l| l.message.contains("in flight") && l.attempts == 1)
        .count();
    assert_eq!(in_flight, 20, "two batches of 10 were in flight");
    assert!(letters
        .iter()
        .all(|l| l.message.contains("the drain deadline passed")));
}
