//! Settling records: the fates the driving loop tells become settled offsets, and dead
//! letters go to the dead-letter topic before their offsets settle.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use eventmap_pipeline::delivery::{DeadLetter, DeadReason, OutgoingEvent, RetryNotice};
use eventmap_pipeline::drive::Fates;
use eventmap_pipeline::log;
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use crate::dead_letters::{DeadLetterTopic, SourceRecord};
use crate::metrics::{ConsumeMetrics, ReasonLabel};
use crate::offsets::Offsets;

/// Records in delivery, and where their outcomes go.
pub(crate) struct Work {
    pub offsets: Arc<Offsets>,
    pub metrics: ConsumeMetrics,
    /// Each event in delivery (by tag) and the record it came from.
    pub in_flight: Mutex<HashMap<u64, SourceRecord>>,
    pub dead_letters: mpsc::UnboundedSender<(SourceRecord, DeadLetter)>,
    pub skipped: AtomicU64,
}

impl Work {
    pub fn track(&self, tag: u64, source: SourceRecord) {
        self.in_flight().insert(tag, source);
    }

    /// The id of an event without one of its own: where its record sits.
    pub fn fallback_id(&self, tag: u64) -> String {
        match self.in_flight().get(&tag) {
            Some(source) => format!(
                "kafka-{}-{}-{}",
                source.partition.topic, source.partition.partition, source.offset
            ),
            None => format!("kafka-{tag}"),
        }
    }

    /// The record behind a tag, no longer in work here.
    fn take(&self, tag: u64) -> Option<SourceRecord> {
        self.in_flight().remove(&tag)
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<u64, SourceRecord>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Fates for Work {
    fn delivered(&self, events: &[OutgoingEvent]) {
        let mut in_flight = self.in_flight();
        for event in events {
            if let Some(source) = in_flight.remove(&event.tag) {
                self.offsets.settle(&source.partition, source.offset);
            }
        }
        drop(in_flight);
        self.metrics.count("delivered", events.len() as u64);
    }

    fn skipped(&self, tag: u64, _reason: &str) {
        if let Some(source) = self.take(tag) {
            self.offsets.settle(&source.partition, source.offset);
        }
        self.skipped.fetch_add(1, Ordering::Relaxed);
        self.metrics.count("skipped", 1);
    }

    fn dead_lettered(&self, tag: u64, letter: DeadLetter) {
        if let Some(source) = self.take(tag) {
            // The receiver lives until every sender is gone.
            let _ = self.dead_letters.send((source, letter));
        }
    }

    fn kept(&self, tag: u64, _letter: &DeadLetter) {
        // Uncommitted: read again after the restart, never dead-lettered for our stop.
        self.take(tag);
    }

    fn retrying(&self, _notice: &RetryNotice) {
        self.metrics.retries.inc();
    }
}

/// Dead letters in production at once.
const PUBLISHING: usize = 256;

/// Produces dead letters to the topic, each settling its record once acknowledged.
pub(crate) struct DeadLetters {
    sender: mpsc::UnboundedSender<(SourceRecord, DeadLetter)>,
    task: JoinHandle<()>,
    shared: Arc<Shared>,
}

struct Shared {
    topic: DeadLetterTopic,
    offsets: Arc<Offsets>,
    metrics: ConsumeMetrics,
    publishing: Arc<Semaphore>,
    /// Past the stop's deadline: a dead letter that cannot be produced is left
    /// uncommitted rather than retried.
    giving_up: AtomicBool,
    published: Mutex<BTreeMap<DeadReason, u64>>,
}

impl DeadLetters {
    pub fn start(topic: DeadLetterTopic, offsets: Arc<Offsets>, metrics: ConsumeMetrics) -> Self {
        let (sender, mut letters) = mpsc::unbounded_channel::<(SourceRecord, DeadLetter)>();
        let shared = Arc::new(Shared {
            topic,
            offsets,
            metrics,
            publishing: Arc::new(Semaphore::new(PUBLISHING)),
            giving_up: Default::default(),
            published: Mutex::new(BTreeMap::new()),
        });
        let task = {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                while let Some((source, letter)) = letters.recv().await {
                    let Ok(permit) = Arc::clone(&shared.publishing).acquire_owned().await else {
                        break;
                    };
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        shared.publish(&source, &letter).await;
                        drop(permit);
                    });
                }
            })
        };
        Self {
            sender,
            task,
            shared,
        }
    }

    pub fn sender(&self) -> mpsc::UnboundedSender<(SourceRecord, DeadLetter)> {
        self.sender.clone()
    }

    /// Waits for every dead letter to be produced, for up to `deadline` (the rest stay
    /// uncommitted), and says how many were, by reason.
    pub async fn finish(self, deadline: Duration) -> BTreeMap<DeadReason, u64> {
        let Self {
            sender,
            task,
            shared,
        } = self;
        // Once the last sender (the work held one) is gone, the task ends.
        drop(sender);
        let wait = async {
            let _ = task.await;
            let _ = shared.publishing.acquire_many(PUBLISHING as u32).await;
        };
        if tokio::time::timeout(deadline, wait).await.is_err() {
            shared.giving_up.store(true, Ordering::SeqCst);
        }
        let published = shared
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        published.clone()
    }
}

impl Shared {
    async fn publish(&self, source: &SourceRecord, letter: &DeadLetter) {
        loop {
            match self.topic.publish(source, letter).await {
                Ok(()) => break,
                Err(e) => {
                    log::line(
                        "dead_letter_topic_failed",
                        json!({"error": e.to_string(), "topic": self.topic.topic}),
                    );
                    if self.giving_up.load(Ordering::SeqCst) {
                        return; // Uncommitted: read again by the next owner.
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        // The id and why; never the event's data.
        log::line(
            "dead_letter",
            json!({"id": letter.id, "reason": letter.reason.as_str(), "message": letter.message,
                "partition": source.partition.to_string(), "offset": source.offset}),
        );
        *self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(letter.reason)
            .or_default() += 1;
        self.metrics
            .dead_lettered
            .get_or_create(&ReasonLabel {
                reason: letter.reason.as_str(),
            })
            .inc();
        self.metrics.count("dead_lettered", 1);
        self.offsets.settle(&source.partition, source.offset);
    }
}
