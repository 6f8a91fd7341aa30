//! Delivery from the spool: each spooled event goes through the same processor (mapping
//! and validation) and the same [`Delivery`] as `eventmap send`, and leaves the spool
//! only once it is delivered, skipped with a reason, or dead-lettered.
//!
//! Each route forwards on its own spool lane: it reads the events that go to it, and
//! settles them there; an event leaves the spool once every route it goes to settled it.
//!
//! Events dead-lettered because delivery was *stopped* (an interrupt at shutdown, refused
//! credentials) are not settled: they stay in the spool for the next start, which reads
//! the spool from its beginning again. Sends after a crash reuse the event ids, which
//! the destination deduplicates on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use eventmap::EventContext;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::delivery::{
    Clock, DeadLetter, DeadReason, Delivery, DeliveryConfig, DeliveryObserver, DeliveryReport,
    Fatal, OutgoingEvent, RetryNotice, Sink,
};
use crate::log;
use crate::metrics::Metrics;
use crate::process::{Compiled, Next, Processor};
use crate::spool::{Settle, Spool, Spooled};

/// The mapping in use; a reload swaps it between two spool reads.
pub type MappingSlot = Arc<RwLock<Arc<Compiled>>>;

/// Events read from the spool at a time.
const READ_AHEAD: usize = 256;

/// What forwarding needs besides the sink.
#[derive(Clone)]
pub struct Forwarding {
    pub spool: Spool,
    /// The route's name (`default` without a pipeline file): log lines, metrics and
    /// dead letters carry it.
    pub route: String,
    /// The route's lane in the spool ([`Spool::lane`]).
    pub lane: u8,
    pub mapping: MappingSlot,
    pub metrics: Metrics,
    pub clock: Clock,
    pub delivery: DeliveryConfig,
    /// Test mode for every event (`validate_only`).
    pub validate_only: bool,
    /// After a stop is asked for, how long what is in flight may take to deliver.
    pub drain: Duration,
}

/// Why forwarding ended.
#[derive(Debug)]
pub enum Ended {
    /// A stop was asked for.
    Stopped(DeliveryReport),
    /// The destination stopped delivery (credentials refused, endpoint refused): the
    /// events stay in the spool; try again later.
    Refused(Fatal),
}

/// Forwards from the spool until `stop` turns true or the destination refuses us.
pub async fn forward<S: Sink>(f: &Forwarding, sink: S, mut stop: watch::Receiver<bool>) -> Ended {
    let (settles, settled) = mpsc::unbounded_channel();
    let settler = tokio::spawn(settle(f.spool.clone(), f.lane, settled, f.clock));
    let observer = Arc::new(SpoolObserver {
        settles: settles.clone(),
        route: f.route.clone(),
        metrics: f.metrics.clone(),
        clock: f.clock,
        received: Mutex::new(HashMap::new()),
        down: AtomicBool::new(false),
    });
    let delivery = Delivery::start(
        sink,
        f.delivery.clone(),
        f.clock,
        Arc::clone(&observer) as Arc<dyn DeliveryObserver>,
    );
    let mut cursor = None;
    'reading: while !*stop.borrow() && delivery.stopped().is_none() {
        let batch = match f.spool.read_lane(f.lane, cursor, READ_AHEAD) {
            Ok(batch) => batch,
            Err(e) => {
                log::line(
                    "spool_read_failed",
                    json!({"route": f.route, "error": e.to_string()}),
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // Settled and damaged events are passed over, but the next read starts past them.
        let scanned_to = batch.through;
        if batch.events.is_empty() {
            cursor = scanned_to;
            tokio::select! {
                () = f.spool.wait_beyond(cursor) => {}
                _ = stop.changed() => {}
                // Notice a destination stop while idle.
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        let compiled = Arc::clone(&f.mapping.read().unwrap_or_else(PoisonError::into_inner));
        let processor = Processor {
            mapping: &compiled.mapping,
            validator: compiled.validator.as_deref(),
            replay: false,
            resend_mapped: false,
        };
        for spooled in batch.events {
            cursor = Some(spooled.seq);
            let Some(event) = route(f, &processor, &observer, spooled, &settles) else {
                continue;
            };
            // The queue is full while the destination is slow or down: a stop must not
            // wait for room (that could take as long as the outage). The event not
            // submitted stays in the spool.
            let submitted = tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => break 'reading,
                submitted = delivery.submit(event) => submitted,
            };
            if submitted.is_err() {
                break;
            }
        }
    }
    let fatal = delivery.stopped();
    let report = delivery
        .finish_within(
            f.drain,
            "shutdown: the drain deadline passed; the events stay in the spool",
        )
        .await;
    // Every settle is sent once `finish` returns; wait until they are on disk (the
    // settler ends when the last sender, held by the observer, is gone).
    drop(observer);
    drop(settles);
    let _ = settler.await;
    match fatal {
        Some(fatal) if fatal.reason != DeadReason::Interrupted => Ended::Refused(fatal),
        _ => Ended::Stopped(report),
    }
}

/// Forwards from the spool until `stop` turns true; after a refusal by the destination
/// (credentials, endpoint), waits `backoff` and tries again with a fresh sink from
/// `make_sink` (a new client), the events staying in the spool meanwhile. A sink that
/// cannot be made ends forwarding (logged `delivery_unavailable`).
pub async fn forward_until_stopped<S, E>(
    f: &Forwarding,
    mut make_sink: impl FnMut() -> Result<S, E>,
    mut stop: watch::Receiver<bool>,
    backoff: Duration,
) where
    S: Sink,
    E: std::fmt::Display,
{
    while !*stop.borrow() {
        let sink = match make_sink() {
            Ok(sink) => sink,
            Err(e) => {
                log::line(
                    "delivery_unavailable",
                    json!({"route": f.route, "error": e.to_string()}),
                );
                return;
            }
        };
        match forward(f, sink, stop.clone()).await {
            Ended::Stopped(_) => return,
            Ended::Refused(fatal) => {
                log::line(
                    "delivery_refused",
                    json!({"route": f.route, "reason": fatal.reason.as_str(),
                        "status": fatal.status, "message": fatal.message,
                        "retry_in_s": backoff.as_secs_f64(),
                        "note": "events stay in the spool"}),
                );
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|stop| *stop) => return,
                }
            }
        }
    }
}

/// One spooled event through the processor: the event to deliver, or `None` when it
/// was settled here (skipped, or dead-lettered before delivery).
fn route(
    f: &Forwarding,
    processor: &Processor<'_>,
    observer: &SpoolObserver,
    spooled: Spooled,
    settles: &mpsc::UnboundedSender<Settle>,
) -> Option<OutgoingEvent> {
    let now_ms = f.clock.now_ms();
    let seq = spooled.seq;
    let line = processor.bytes(&spooled.json, &EventContext { now_ms });
    match line.next(&spooled.json, now_ms, f.validate_only, || {
        format!("spool-{seq}")
    }) {
        Next::Deliver(event) => {
            observer.received(seq, spooled.received_ms);
            // The spooled bytes travel with the event (moved, not copied): a dead letter
            // keeps them as its source.
            Some(event.with_tag(seq).with_source(spooled.json))
        }
        Next::Skip { .. } => {
            f.metrics.skipped(&f.route);
            let _ = settles.send(Settle::Done(seq));
            None
        }
        Next::DeadLetter(letter) => {
            observer.record_dead(&letter);
            let _ = settles.send(Settle::Dead { seq, letter });
            None
        }
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

/// Turns what the delivery reports into settles, metrics and log lines.
struct SpoolObserver {
    settles: mpsc::UnboundedSender<Settle>,
    route: String,
    metrics: Metrics,
    clock: Clock,
    /// When each event in delivery was received, for the latency histogram.
    received: Mutex<HashMap<u64, i64>>,
    /// The destination is failing (retries): logged once when it starts and ends.
    down: AtomicBool,
}

impl SpoolObserver {
    fn received(&self, seq: u64, at_ms: i64) {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(seq, at_ms);
    }

    fn record_dead(&self, letter: &DeadLetter) {
        self.metrics
            .dead_lettered(&self.route, letter.reason.as_str());
        // The id and why; never the event's data.
        log::line(
            "dead_letter",
            json!({"route": self.route, "id": letter.id, "reason": letter.reason.as_str(),
                "message": letter.message, "status": letter.status, "attempts": letter.attempts}),
        );
    }
}

impl DeliveryObserver for SpoolObserver {
    fn delivered(&self, events: &[OutgoingEvent], _test_mode: bool) {
        let now_ms = self.clock.now_ms();
        let mut received = self.received.lock().unwrap_or_else(PoisonError::into_inner);
        for event in events {
            if let Some(at_ms) = received.remove(&event.tag) {
                let seconds = (now_ms - at_ms).max(0) as f64 / 1000.0;
                self.metrics.delivery_latency.observe(seconds);
            }
            let _ = self.settles.send(Settle::Done(event.tag));
        }
        drop(received);
        self.metrics.delivered(&self.route, events.len() as u64);
        if self.down.swap(false, Ordering::SeqCst) {
            log::line("destination_up", json!({"route": self.route}));
        }
    }

    fn dead_lettered(&self, event: &OutgoingEvent, letter: &DeadLetter) {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&event.tag);
        let stopped = matches!(
            letter.reason,
            DeadReason::Interrupted | DeadReason::CredentialsRefused | DeadReason::Refused
        );
        if stopped {
            return; // Not the event's fault: it stays in the spool for the next start.
        }
        self.record_dead(letter);
        let _ = self.settles.send(Settle::Dead {
            seq: event.tag,
            letter: letter.clone(),
        });
    }

    fn retrying(&self, notice: &RetryNotice) {
        self.metrics.retried(&self.route);
        if !self.down.swap(true, Ordering::SeqCst) {
            log::line(
                "destination_down",
                json!({"route": self.route, "error": notice.error.message,
                    "status": notice.error.status}),
            );
        }
    }
}
