//! The one loop from a source to a destination. A [`Source`] (the spool's lane of a
//! route in `serve`, a Kafka group member in `consume`, the input files of `send`)
//! gives events; each goes through the mapping in use and the destination's validator;
//! mapped ones go to a [`Delivery`]; and what became of each is told back to the source
//! as its [`Fates`], which settles it its own way (the spool marks it done, Kafka
//! commits past it, `send` writes its dead letters and counts).
//!
//! What every source gets from here, written once: the mapping read afresh at each pull
//! (a reload swaps it between two), a stop that never waits for room in the delivery's
//! queue (that could last as long as an outage), the drain bounded at a stop, the
//! destination's outage logged when it starts and ends, and the back-off after the
//! destination refused us ([`drive_until_stopped`]).

mod outcomes;
mod source;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use eventmap::EventContext;
use serde_json::json;
use tokio::sync::watch;

use crate::delivery::{
    Clock, DeadReason, Delivery, DeliveryConfig, DeliveryObserver, DeliveryReport, Fatal,
    OutgoingEvent, Sink,
};
use crate::log;
use crate::process::{replayed_source, Compiled, Line, Next, Processor};
use outcomes::Outcomes;
pub use source::{Body, Fates, Incoming, Pulled, Source};

/// The mapping in use; a reload swaps it between two pulls.
pub type MappingSlot = Arc<RwLock<Arc<Compiled>>>;

/// What the loop needs besides the source and the sink.
#[derive(Clone)]
pub struct Driving {
    /// The route's name (`default` without a pipeline file): log lines carry it.
    pub route: String,
    pub mapping: MappingSlot,
    pub clock: Clock,
    pub delivery: DeliveryConfig,
    /// Test mode for every event (`validate_only`).
    pub validate_only: bool,
    /// After a stop is asked for, how long what is in flight may take to deliver.
    pub drain: Duration,
    /// Whether dead letters among the events are replayed.
    pub replay: Replay,
}

/// Whether dead-letter records among the events are replayed (`send` given a
/// dead-letter file) rather than taken as events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Replay {
    /// Every event is mapped as it stands (`serve`, `consume`).
    #[default]
    Off,
    /// A letter's input event is mapped again, with the mapping in use.
    Remap,
    /// A letter's mapped event is sent as it stands (`send --resend-mapped`), when it
    /// holds one.
    ResendMapped,
}

/// How a drive ended.
#[derive(Debug)]
pub struct Driven<F> {
    pub report: DeliveryReport,
    /// The destination stopped delivery (credentials or endpoint refused); the events not
    /// delivered stay in the source.
    pub refused: Option<Fatal>,
    /// What the source returned at its end.
    pub finished: F,
}

/// Drives `source` into `sink` until `stop` turns true or the destination refuses us.
pub async fn drive<S: Source, K: Sink>(
    mut source: S,
    d: &Driving,
    sink: K,
    stop: watch::Receiver<bool>,
) -> Driven<S::Finished> {
    let fates = source.fates();
    let observer = Arc::new(Outcomes {
        fates: Arc::clone(&fates),
        route: d.route.clone(),
        down: AtomicBool::new(false),
    });
    let delivery = Delivery::start(
        sink,
        d.delivery.clone(),
        d.clock,
        Arc::clone(&observer) as Arc<dyn DeliveryObserver>,
    );
    let mut stop = Stop(stop);
    'pulling: while !stop.asked() && delivery.stopped().is_none() {
        let events = tokio::select! {
            biased;
            () = stop.wait() => break,
            pulled = source.pull() => match pulled {
                Pulled::Events(events) => events,
                Pulled::Idle => continue,
                Pulled::End => break,
            },
            // Notice a destination stop while the source is idle.
            () = delivery.until_stopped() => break,
        };
        let compiled = Arc::clone(&d.mapping.read().unwrap_or_else(PoisonError::into_inner));
        let processor = Processor {
            mapping: &compiled.mapping,
            validator: compiled.validator.as_deref(),
            replay: d.replay != Replay::Off,
            resend_mapped: d.replay == Replay::ResendMapped,
        };
        let mut events = events.into_iter().peekable();
        while events.len() > 0 {
            // Room in the queue first, then the mapping: no event is made and then left
            // unsubmitted. The queue is full while the destination is slow or down, and a
            // stop must not wait for room; what was not taken stays in the source.
            let room = tokio::select! {
                biased;
                () = stop.wait() => None,
                room = delivery.room(events.len()) => room.ok(),
            };
            let Some(mut room) = room else {
                if let Some(first) = events.peek() {
                    source.not_taken(first.tag);
                }
                break 'pulling;
            };
            for incoming in events.by_ref().take(room.len()) {
                // A stop (or the destination's) asked for while this pull is mapped
                // leaves the rest of it to the source.
                if stop.asked() || delivery.stopped().is_some() {
                    source.not_taken(incoming.tag);
                    break 'pulling;
                }
                if let Some(event) = step(&source, &processor, fates.as_ref(), d, incoming) {
                    // The room holds one place per event taken, so it cannot run out.
                    let _ = room.submit(event);
                }
            }
        }
    }
    source.stop_pulling();
    let fatal = delivery.stopped();
    let why = format!(
        "the drain deadline passed ({} s after the stop); {}",
        d.drain.as_secs_f64(),
        S::KEPT
    );
    let report = finish(delivery, &mut stop, d.drain, &why, source.given_up()).await;
    // Every fate is told once the delivery is finished; the source may now end.
    drop(observer);
    drop(fates);
    let finished = source.finish().await;
    Driven {
        report,
        refused: fatal.filter(|f| f.reason != DeadReason::Interrupted),
        finished,
    }
}

/// Waits until every submitted event has its fate: for as long as that takes while no
/// stop is asked (a source that ended wants all of it delivered), then for at most
/// `drain` from the stop, or until the source gives up sooner. What is undelivered then
/// is cut short with `why`.
async fn finish(
    delivery: Delivery,
    stop: &mut Stop,
    drain: Duration,
    why: &str,
    given_up: impl Future<Output = String>,
) -> DeliveryReport {
    let stopper = delivery.stopper();
    let finish = delivery.finish();
    tokio::pin!(finish, given_up);
    tokio::select! {
        biased;
        report = &mut finish => return report,
        () = stop.wait() => {}
    }
    tokio::select! {
        biased;
        report = &mut finish => return report,
        () = tokio::time::sleep(drain) => stopper.abort(why),
        why = &mut given_up => stopper.abort(why),
    }
    finish.await
}

/// Drives a source made by `make_source` until `stop` turns true; after a refusal by
/// the destination (credentials, endpoint), waits `backoff` and drives a fresh source
/// into a fresh sink from `make_sink` (a new client), the events staying in the source
/// meanwhile. A sink that cannot be made ends it (logged `delivery_unavailable`).
pub async fn drive_until_stopped<S, K, E>(
    d: &Driving,
    mut make_source: impl FnMut() -> S,
    mut make_sink: impl FnMut() -> Result<K, E>,
    stop: watch::Receiver<bool>,
    backoff: Duration,
) where
    S: Source,
    K: Sink,
    E: std::fmt::Display,
{
    let mut stopped = Stop(stop.clone());
    while !stopped.asked() {
        let sink = match make_sink() {
            Ok(sink) => sink,
            Err(e) => {
                log::line(
                    "delivery_unavailable",
                    json!({"route": d.route, "error": e.to_string()}),
                );
                return;
            }
        };
        let Some(fatal) = drive(make_source(), d, sink, stop.clone()).await.refused else {
            return;
        };
        log::line(
            "delivery_refused",
            json!({"route": d.route, "reason": fatal.reason.as_str(),
                "status": fatal.status, "message": fatal.message,
                "retry_in_s": backoff.as_secs_f64(), "note": S::KEPT}),
        );
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stopped.wait() => return,
        }
    }
}

/// One event through the mapping: the event to deliver, or `None` when its fate was
/// told here (skipped, or dead-lettered before delivery).
fn step<S: Source>(
    source: &S,
    processor: &Processor<'_>,
    fates: &dyn Fates,
    d: &Driving,
    incoming: Incoming,
) -> Option<OutgoingEvent> {
    let now_ms = d.clock.now_ms();
    let Incoming { tag, body } = incoming;
    let (line, bytes) = match body {
        Body::Event(bytes) => (processor.bytes(&bytes, &EventContext { now_ms }), bytes),
        Body::Unreadable { why, payload } => (Line::malformed(why, payload), Vec::new()),
    };
    fates.examined(tag, &line);
    let replayed = line.replayed;
    let fallback_id = || source.fallback_id(tag);
    match line.next(&bytes, now_ms, d.validate_only, S::EVENTS_WAIT, fallback_id) {
        Next::Deliver(event) => {
            // The event's bytes travel with it (moved, not copied): a dead letter keeps
            // them as its source. A replayed letter's source is the one it kept.
            let source = if replayed {
                replayed_source(&bytes)
            } else {
                Some(bytes)
            };
            let event = event.with_tag(tag);
            return Some(match source {
                Some(source) => event.with_source(source),
                None => event,
            });
        }
        Next::Skip { reason } => fates.skipped(tag, &reason),
        Next::DeadLetter(letter) => fates.rejected(tag, letter),
    }
    None
}

/// A stop asked for by a watch that turns true; a watch whose sender is gone can never
/// ask, so waiting on it waits forever rather than spinning.
struct Stop(watch::Receiver<bool>);

impl Stop {
    fn asked(&self) -> bool {
        *self.0.borrow()
    }

    async fn wait(&mut self) {
        if self.0.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests;
