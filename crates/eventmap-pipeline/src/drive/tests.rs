//! The loop against an in-memory source and a scripted sink: every event pulled gets
//! exactly one fate, a reload between pulls takes effect, a stop while the destination
//! is down keeps what was in flight, a refusal is retried with a fresh source, a source
//! that ends gets all of it delivered, a stop mid-pull leaves the rest untaken, a source
//! can cut the drain short, and a replayed letter keeps the source it held.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use eventmap::{CompileOptions, Mapping};
use tokio::sync::watch;

use super::*;
use crate::delivery::{BatchOutcome, DeadLetter, DeadPayload, EventStatus, Rejection, Transient};

const MAPPING: &str = r#"
global:
  id: { from: messageId, required: true }
  label: { const: first }
events:
  order:
    match: { event: Order Completed }
    keys:
      amount: { from: properties.total, required: true }
default:
  skip: not a conversion event
"#;

fn compiled(yaml: &str) -> Arc<Compiled> {
    let mapping =
        Mapping::compile(yaml, "test.yaml", &CompileOptions::default()).expect("compiles");
    Arc::new(Compiled {
        mapping,
        validator: None,
    })
}

fn driving(mapping: MappingSlot) -> Driving {
    Driving {
        route: "test".into(),
        mapping,
        clock: Clock::system(),
        delivery: DeliveryConfig {
            batch_size: 10,
            linger: Duration::from_millis(5),
            // A long-running source retries as long as the destination is down.
            retry: crate::delivery::RetryPolicy {
                max_attempts: u32::MAX,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(20),
                max_elapsed: Duration::from_secs(3600),
            },
            ..DeliveryConfig::default()
        },
        validate_only: false,
        drain: Duration::from_millis(200),
        replay: Replay::Off,
    }
}

fn order(id: &str, total: &str) -> Body {
    let json = format!(
        r#"{{"type":"track","event":"Order Completed","messageId":"{id}","properties":{{"total":{total}}}}}"#
    );
    Body::Event(json.into_bytes())
}

/// What each tag became.
#[derive(Debug, Clone, PartialEq)]
enum Fate {
    Delivered,
    Skipped(String),
    Dead(DeadReason),
    Kept,
}

#[derive(Default)]
struct Acks {
    fates: Mutex<BTreeMap<u64, Vec<Fate>>>,
    /// Each dead or kept letter, as the line a file would hold.
    letters: Mutex<Vec<serde_json::Value>>,
    examined: Mutex<Vec<u64>>,
    /// Asks for the stop when this tag is examined (as `send` does when its dead-letter
    /// file fails).
    stop_at: Option<(u64, watch::Sender<bool>)>,
}

impl Acks {
    fn tell(&self, tag: u64, fate: Fate) {
        self.fates
            .lock()
            .unwrap()
            .entry(tag)
            .or_default()
            .push(fate);
    }

    fn of(&self) -> BTreeMap<u64, Vec<Fate>> {
        self.fates.lock().unwrap().clone()
    }
}

impl Fates for Acks {
    fn examined(&self, tag: u64, _line: &crate::process::Line) {
        self.examined.lock().unwrap().push(tag);
        if let Some((at, stop)) = &self.stop_at {
            if *at == tag {
                stop.send_replace(true);
            }
        }
    }
    fn delivered(&self, events: &[OutgoingEvent]) {
        for event in events {
            self.tell(event.tag, Fate::Delivered);
        }
    }
    fn skipped(&self, tag: u64, reason: &str) {
        self.tell(tag, Fate::Skipped(reason.into()));
    }
    fn dead_lettered(&self, tag: u64, letter: DeadLetter) {
        self.letters.lock().unwrap().push(letter.to_json());
        self.tell(tag, Fate::Dead(letter.reason));
    }
    fn kept(&self, tag: u64, letter: &DeadLetter) {
        self.letters.lock().unwrap().push(letter.to_json());
        self.tell(tag, Fate::Kept);
    }
}

/// Pulls its batches in order; when `reload` is set, swaps the mapping in before its
/// second pull, as a SIGHUP would.
struct Queue {
    batches: VecDeque<Vec<Incoming>>,
    acks: Arc<Acks>,
    /// Ends with `Pulled::End` once empty; otherwise waits for a stop.
    ends: bool,
    reload: Option<(MappingSlot, Arc<Compiled>)>,
    pulls: usize,
    /// The first tag the loop said it did not take.
    not_taken: Option<u64>,
    /// Gives up on the drain this long after it is asked.
    gives_up_after: Option<Duration>,
}

impl Queue {
    fn new(batches: Vec<Vec<Incoming>>, ends: bool) -> Self {
        Self {
            batches: batches.into(),
            acks: Arc::default(),
            ends,
            reload: None,
            pulls: 0,
            not_taken: None,
            gives_up_after: None,
        }
    }
}

impl Source for Queue {
    type Finished = (usize, Option<u64>);
    const KEPT: &'static str = "the events stay in the queue";

    async fn pull(&mut self) -> Pulled {
        self.pulls += 1;
        if self.pulls == 2 {
            if let Some((slot, next)) = self.reload.take() {
                *slot.write().unwrap() = next;
            }
        }
        match self.batches.pop_front() {
            Some(batch) => Pulled::Events(batch),
            None if self.ends => Pulled::End,
            None => std::future::pending().await,
        }
    }

    fn fates(&self) -> Arc<dyn Fates> {
        Arc::clone(&self.acks) as Arc<dyn Fates>
    }

    fn fallback_id(&self, tag: u64) -> String {
        format!("queue-{tag}")
    }

    fn not_taken(&mut self, tag: u64) {
        self.not_taken = Some(tag);
    }

    async fn given_up(&mut self) -> String {
        match self.gives_up_after {
            Some(after) => {
                tokio::time::sleep(after).await;
                "a second Ctrl-C".into()
            }
            None => std::future::pending().await,
        }
    }

    async fn finish(self) -> (usize, Option<u64>) {
        (self.pulls, self.not_taken)
    }
}

/// Answers each batch by what its events hold: `refuse` dead-letters one, and the sink
/// as a whole can be down (retry later, until `down_until` if set) or refuse our
/// credentials.
#[derive(Clone, Default)]
struct Scripted {
    down: bool,
    down_until: Option<std::time::Instant>,
    credentials_refused: bool,
    sent: Arc<Mutex<Vec<String>>>,
}

impl Sink for Scripted {
    async fn send(&self, batch: &[OutgoingEvent], _test_mode: bool) -> BatchOutcome {
        if self.credentials_refused {
            return BatchOutcome::Fatal(Fatal {
                reason: DeadReason::CredentialsRefused,
                status: Some(401),
                message: "bad key".into(),
            });
        }
        let down_now = self
            .down_until
            .is_some_and(|until| std::time::Instant::now() < until);
        if self.down || down_now {
            return BatchOutcome::RetryLater(Transient {
                message: "503".into(),
                status: Some(503),
                retry_after: None,
            });
        }
        let mut sent = self.sent.lock().unwrap();
        let statuses = batch
            .iter()
            .map(|event| {
                sent.push(event.json.to_string());
                if event.json.contains("refuse") {
                    EventStatus::DeadLetter(Rejection::new(DeadReason::Invalid, "refused"))
                } else {
                    EventStatus::Delivered
                }
            })
            .collect();
        BatchOutcome::PerEvent(statuses)
    }
}

fn incoming(tag: u64, body: Body) -> Incoming {
    Incoming { tag, body }
}

#[tokio::test]
async fn every_event_pulled_gets_exactly_one_fate() {
    let slot: MappingSlot = Arc::new(RwLock::new(compiled(MAPPING)));
    let queue = Queue::new(
        vec![
            vec![
                incoming(1, order("m-1", "5")),
                incoming(
                    2,
                    Body::Event(br#"{"type":"page","messageId":"m-2"}"#.to_vec()),
                ),
                incoming(3, order("m-3", "null")),
                incoming(4, Body::Event(b"{not json".to_vec())),
            ],
            vec![
                incoming(
                    5,
                    Body::Unreadable {
                        why: "over the size limit".into(),
                        payload: DeadPayload::NotKept {
                            input: "queue".into(),
                            line: 5,
                        },
                    },
                ),
                incoming(6, order("refuse-6", "7")),
                incoming(7, order("m-7", "9")),
            ],
        ],
        true,
    );
    let acks = Arc::clone(&queue.acks);
    let (_stop, stopped) = watch::channel(false);
    let sink = Scripted::default();
    let driven = drive(queue, &driving(slot), sink.clone(), stopped).await;

    let fates = acks.of();
    let expected: BTreeMap<u64, Vec<Fate>> = [
        (1, vec![Fate::Delivered]),
        (2, vec![Fate::Skipped("not a conversion event".into())]),
        (3, vec![Fate::Dead(DeadReason::MappingFailed)]),
        (4, vec![Fate::Dead(DeadReason::Malformed)]),
        (5, vec![Fate::Dead(DeadReason::Malformed)]),
        (6, vec![Fate::Dead(DeadReason::Invalid)]),
        (7, vec![Fate::Delivered]),
    ]
    .into();
    assert_eq!(fates, expected);
    assert_eq!(driven.report.delivered, 2);
    assert!(driven.refused.is_none());
    assert_eq!(driven.finished.0, 3, "two batches, then the end");
}

#[tokio::test]
async fn a_mapping_swapped_between_pulls_maps_the_next_pull() {
    let slot: MappingSlot = Arc::new(RwLock::new(compiled(MAPPING)));
    let mut queue = Queue::new(
        vec![
            vec![incoming(1, order("m-1", "5"))],
            vec![incoming(2, order("m-2", "6"))],
        ],
        true,
    );
    let reloaded = compiled(&MAPPING.replace("const: first", "const: second"));
    queue.reload = Some((Arc::clone(&slot), reloaded));
    let (_stop, stopped) = watch::channel(false);
    let sink = Scripted::default();
    drive(queue, &driving(slot), sink.clone(), stopped).await;

    let sent = sink.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].contains(r#""label":"first""#), "{}", sent[0]);
    assert!(sent[1].contains(r#""label":"second""#), "{}", sent[1]);
}

#[tokio::test]
async fn a_stop_while_the_destination_is_down_keeps_what_was_in_flight() {
    let slot: MappingSlot = Arc::new(RwLock::new(compiled(MAPPING)));
    let queue = Queue::new(
        vec![vec![
            incoming(1, order("m-1", "5")),
            incoming(2, order("m-2", "6")),
        ]],
        false,
    );
    let acks = Arc::clone(&queue.acks);
    let (stop, stopped) = watch::channel(false);
    let sink = Scripted {
        down: true,
        ..Scripted::default()
    };
    let d = driving(slot);
    let run = tokio::spawn(async move { drive(queue, &d, sink, stopped).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send_replace(true);
    let driven = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the stop is bounded by the drain")
        .expect("the loop ends");

    let kept: BTreeMap<u64, Vec<Fate>> = [(1, vec![Fate::Kept]), (2, vec![Fate::Kept])].into();
    assert_eq!(
        acks.of(),
        kept,
        "not the events' fault: kept, never dead-lettered"
    );
    assert!(driven.refused.is_none(), "our stop is no refusal");
    assert_eq!(driven.report.delivered, 0);
}

#[tokio::test]
async fn after_a_refusal_a_fresh_source_is_driven_once_the_backoff_passed() {
    let slot: MappingSlot = Arc::new(RwLock::new(compiled(MAPPING)));
    let made = Arc::new(AtomicUsize::new(0));
    let all_acks: Arc<Mutex<Vec<Arc<Acks>>>> = Arc::default();
    let (stop, stopped) = watch::channel(false);
    let d = driving(slot);
    let run = {
        let made = Arc::clone(&made);
        let all_acks = Arc::clone(&all_acks);
        tokio::spawn(async move {
            let make_source = || {
                made.fetch_add(1, Ordering::SeqCst);
                let queue = Queue::new(vec![vec![incoming(1, order("m-1", "5"))]], false);
                all_acks.lock().unwrap().push(Arc::clone(&queue.acks));
                queue
            };
            let make_sink = || {
                Ok::<_, std::convert::Infallible>(Scripted {
                    credentials_refused: true,
                    ..Scripted::default()
                })
            };
            drive_until_stopped(
                &d,
                make_source,
                make_sink,
                stopped,
                Duration::from_millis(50),
            )
            .await;
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while made.load(Ordering::SeqCst) < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("a stop ends the back-off")
        .expect("the loop ends");
    assert!(
        made.load(Ordering::SeqCst) >= 3,
        "driven again after each refusal"
    );
    for acks in all_acks.lock().unwrap().iter() {
        for fates in acks.of().values() {
            assert_eq!(
                fates,
                &vec![Fate::Kept],
                "a refusal keeps the event in the source"
            );
        }
    }
}

#[tokio::test]
async fn a_source_that_ends_has_everything_delivered_however_long_that_takes() {
    let slot: MappingSlot = Arc::new(RwLock::new(compiled(MAPPING)));
    let queue = Queue::new(vec![vec![incoming(1, order("m-1", "5"))]], true);
    let acks = Arc::clone(&queue.acks);
    let (_stop, stopped) = watch::channel(false);
    // Down for longer than the drain (200 ms): only a stop bounds the wait at the end.
    let sink = Scripted {
        down_until: Some(std::time::Instant::now() + Duration::from_millis(600)),
        ..Scripted::default()
    };
    let driven = drive(queue, &driving(slot), sink, stopped).await;
    assert_eq!(acks.of(), [(1, vec![Fate::Delivered])].into());
    assert_eq!(driven.report.delivered, 1);
}

#[tokio::test]
async fn a_stop_asked_while_a_pull_is_mapped_leaves_the_rest_to_the_source() {
    let slot: MappingSlot = Arc::new(RwLock::new(compiled(MAPPING)));
    let (stop, stopped) = watch::channel(false);
    let mut queue = Queue::new(
        vec![(1..=4)
            .map(|n| incoming(n, order(&format!("m-{n}"), "5")))
            .collect()],
        true,
    );
    queue.acks = Arc::new(Acks {
        stop_at: Some((2, stop)),
        ..Acks::default()
    });
    let acks = Arc::clone(&queue.acks);
    let driven = drive(queue, &driving(slot), Scripted::default(), stopped).await;

    assert_eq!(driven.finished.1, Some(3), "the first event not taken");
    assert_eq!(*acks.examined.lock().unwrap(), vec![1, 2]);
    let fates = acks.of();
    assert_eq!(
        fates.keys().copied().collect::<Vec<_>>(),
        vec![1, 2],
        "only what was taken has a fate: {fates:?}"
    );
}

#[tokio::test]
async fn a_source_that_gives_up_ends_the_drain_before_its_deadline() {
    let slot: MappingSlot = Arc::new(RwLock::new(compiled(MAPPING)));
    let mut queue = Queue::new(vec![vec![incoming(1, order("m-1", "5"))]], false);
    queue.gives_up_after = Some(Duration::from_millis(50));
    let acks = Arc::clone(&queue.acks);
    let (stop, stopped) = watch::channel(false);
    let mut d = driving(slot);
    d.drain = Duration::from_secs(3600);
    let sink = Scripted {
        down: true,
        ..Scripted::default()
    };
    let run = tokio::spawn(async move { drive(queue, &d, sink, stopped).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("given up long before the hour's drain")
        .expect("the loop ends");
    assert_eq!(acks.of(), [(1, vec![Fate::Kept])].into());
    let letters = acks.letters.lock().unwrap();
    let message = letters[0]["dead_letter"]["message"].as_str().unwrap_or("");
    assert!(message.contains("a second Ctrl-C"), "{letters:?}");
}

#[tokio::test]
async fn a_replayed_letter_is_mapped_from_its_source_and_keeps_that_source() {
    let slot: MappingSlot = Arc::new(RwLock::new(compiled(MAPPING)));
    let source: serde_json::Value = serde_json::json!({"type": "track",
        "event": "Order Completed", "messageId": "refuse-9", "properties": {"total": 4}});
    let letter = DeadLetter {
        id: Some("refuse-9".into()),
        reason: DeadReason::Interrupted,
        status: None,
        code: None,
        message: "interrupted".into(),
        attempts: 0,
        at_ms: 0,
        payload: DeadPayload::Source(source.clone()),
    };
    let line = serde_json::to_vec(&letter.to_json()).unwrap();
    let queue = Queue::new(vec![vec![incoming(1, Body::Event(line))]], true);
    let acks = Arc::clone(&queue.acks);
    let (_stop, stopped) = watch::channel(false);
    let mut d = driving(slot);
    d.replay = Replay::Remap;
    let sink = Scripted::default();
    drive(queue, &d, sink.clone(), stopped).await;

    let sent = sink.sent.lock().unwrap().clone();
    assert!(sent[0].contains(r#""amount":4"#), "{sent:?}");
    assert_eq!(
        acks.of(),
        [(1, vec![Fate::Dead(DeadReason::Invalid)])].into()
    );
    let letters = acks.letters.lock().unwrap();
    assert_eq!(
        letters[0]["source"], source,
        "the source, not the letter around it"
    );
}
