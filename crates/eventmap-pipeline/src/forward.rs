//! The spool as a source of the driving loop ([`crate::drive`]): each spooled event goes
//! through the same processor (mapping and validation) and the same delivery as
//! `eventmap send`, and leaves the spool only once it is delivered, skipped with a
//! reason, or dead-lettered.
//!
//! Each route forwards on its own spool lane: it reads the events that go to it, and
//! settles them there; an event leaves the spool once every route it goes to settled it.
//!
//! Events not delivered because delivery was *stopped* (an interrupt at shutdown, refused
//! credentials) are not settled: they stay in the spool for the next start, which reads
//! the spool from its beginning again. Sends after a crash reuse the event ids, which
//! the destination deduplicates on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::delivery::{Clock, DeadLetter, OutgoingEvent, RetryNotice, Sink};
use crate::drive::{self, Body, Driven, Driving, Fates, Incoming, Pulled, Source};
use crate::log;
use crate::metrics::Metrics;
use crate::spool::{Settle, Spool};

/// Events read from the spool at a time.
const READ_AHEAD: usize = 256;

/// What forwarding from one route's lane needs besides the sink.
#[derive(Clone)]
pub struct Forwarding {
    /// The route's loop: its name, mapping, delivery and drain.
    pub driving: Driving,
    pub spool: Spool,
    /// The route's lane in the spool ([`Spool::lane`]).
    pub lane: u8,
    pub metrics: Metrics,
}

/// Forwards from the spool until `stop` turns true or the destination refuses us.
pub async fn forward<S: Sink>(f: &Forwarding, sink: S, stop: watch::Receiver<bool>) -> Driven<()> {
    drive::drive(SpoolLane::open(f), &f.driving, sink, stop).await
}

/// [`forward`] until `stop` turns true, again after each refusal by the destination once
/// `backoff` has passed, the events staying in the spool meanwhile (see
/// [`drive::drive_until_stopped`]).
pub async fn forward_until_stopped<S, E>(
    f: &Forwarding,
    make_sink: impl FnMut() -> Result<S, E>,
    stop: watch::Receiver<bool>,
    backoff: Duration,
) where
    S: Sink,
    E: std::fmt::Display,
{
    let open = || SpoolLane::open(f);
    drive::drive_until_stopped(&f.driving, open, make_sink, stop, backoff).await;
}

/// One route's lane of the spool, read from its beginning.
struct SpoolLane {
    spool: Spool,
    lane: u8,
    route: String,
    /// The last event read; the next read starts past it.
    cursor: Option<u64>,
    fates: Arc<SpoolFates>,
    /// Writes the settles to the spool; ends once the fates are gone.
    settler: JoinHandle<()>,
}

impl SpoolLane {
    fn open(f: &Forwarding) -> Self {
        let (settles, settled) = mpsc::unbounded_channel();
        let clock = f.driving.clock;
        Self {
            spool: f.spool.clone(),
            lane: f.lane,
            route: f.driving.route.clone(),
            cursor: None,
            fates: Arc::new(SpoolFates {
                settles,
                route: f.driving.route.clone(),
                metrics: f.metrics.clone(),
                clock,
                received: Mutex::new(HashMap::new()),
            }),
            settler: tokio::spawn(settle(f.spool.clone(), f.lane, settled, clock)),
        }
    }
}

impl Source for SpoolLane {
    type Finished = ();
    const KEPT: &'static str = "the events stay in the spool";

    async fn pull(&mut self) -> Pulled {
        let batch = match self.spool.read_lane(self.lane, self.cursor, READ_AHEAD) {
            Ok(batch) => batch,
            Err(e) => {
                log::line(
                    "spool_read_failed",
                    json!({"route": self.route, "error": e.to_string()}),
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
                return Pulled::Idle;
            }
        };
        let Some(last) = batch.events.last() else {
            // Settled and damaged events are passed over, but the next read starts past
            // them.
            self.cursor = batch.through;
            self.spool.wait_beyond(self.cursor).await;
            return Pulled::Idle;
        };
        self.cursor = Some(last.seq);
        let mut received = self.fates.received();
        let events = batch
            .events
            .into_iter()
            .map(|spooled| {
                received.insert(spooled.seq, spooled.received_ms);
                Incoming {
                    tag: spooled.seq,
                    body: Body::Event(spooled.json),
                }
            })
            .collect();
        Pulled::Events(events)
    }

    fn fates(&self) -> Arc<dyn Fates> {
        Arc::clone(&self.fates) as Arc<dyn Fates>
    }

    fn fallback_id(&self, tag: u64) -> String {
        format!("spool-{tag}")
    }

    async fn finish(self) {
        // Every settle is sent once the delivery is finished; wait until they are on disk
        // (the settler ends when the last sender, held by the fates, is gone).
        drop(self.fates);
        let _ = self.settler.await;
    }
}

/// Settles go to the spool in groups: whatever piled up while the last commit synced.
/// The spool marks them settled at once and, when a full disk keeps the settles off
/// disk, writes them as soon as it can: nothing to retry here, and nothing for a
/// shutdown to wait on.
async fn settle(
    spool: Spool,
    lane: u8,
    mut settled: mpsc::UnboundedReceiver<Settle>,
    clock: Clock,
) {
    let mut group = Vec::new();
    let mut deferred = false;
    while settled.recv_many(&mut group, 4096).await > 0 {
        let items = std::mem::take(&mut group);
        match spool.settle_on(lane, items, clock.now_ms()).await {
            Ok(()) => deferred = false,
            Err(e) if !deferred => {
                // Logged once a run of failures: a full disk must not flood the log.
                deferred = true;
                log::line(
                    "spool_settle_deferred",
                    json!({"error": e.to_string(),
                        "note": "kept in memory and written once the disk takes writes; a restart before then resends those events under the same ids"}),
                );
            }
            Err(_) => {}
        }
    }
}

/// Fates become settles on the route's lane, metrics and log lines.
struct SpoolFates {
    settles: mpsc::UnboundedSender<Settle>,
    route: String,
    metrics: Metrics,
    clock: Clock,
    /// When each event read and not yet settled was received, for the latency histogram.
    received: Mutex<HashMap<u64, i64>>,
}

impl SpoolFates {
    fn received(&self) -> MutexGuard<'_, HashMap<u64, i64>> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Fates for SpoolFates {
    fn delivered(&self, events: &[OutgoingEvent]) {
        let now_ms = self.clock.now_ms();
        let mut received = self.received();
        for event in events {
            if let Some(at_ms) = received.remove(&event.tag) {
                let seconds = (now_ms - at_ms).max(0) as f64 / 1000.0;
                self.metrics.delivery_latency.observe(seconds);
            }
            let _ = self.settles.send(Settle::Done(event.tag));
        }
        drop(received);
        self.metrics.delivered(&self.route, events.len() as u64);
    }

    fn skipped(&self, tag: u64, _reason: &str) {
        self.received().remove(&tag);
        self.metrics.skipped(&self.route);
        let _ = self.settles.send(Settle::Done(tag));
    }

    fn dead_lettered(&self, tag: u64, letter: DeadLetter) {
        self.received().remove(&tag);
        self.metrics
            .dead_lettered(&self.route, letter.reason.as_str());
        // The id and why; never the event's data.
        log::line(
            "dead_letter",
            json!({"route": self.route, "id": letter.id, "reason": letter.reason.as_str(),
                "message": letter.message, "status": letter.status, "attempts": letter.attempts}),
        );
        let _ = self.settles.send(Settle::Dead { seq: tag, letter });
    }

    fn kept(&self, tag: u64, _letter: &DeadLetter) {
        // Stays in the spool for the next start.
        self.received().remove(&tag);
    }

    fn retrying(&self, _notice: &RetryNotice) {
        self.metrics.retried(&self.route);
    }
}
