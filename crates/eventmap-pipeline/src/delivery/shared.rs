//! What the pipeline's tasks share: the report of what became of every event, the stop
//! signal, and the observer told of deliveries, dead letters and retries as they happen.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use super::clock::Clock;
use super::dead_letter::{DeadLetter, DeadPayload, DeadReason};
use super::retry::RetryPolicy;
use super::sink::{Fatal, OutgoingEvent, Rejection, Transient};

/// Told of what happens to events as it happens, e.g. to write dead letters to a file.
/// Called from the delivery tasks: keep it quick.
pub trait DeliveryObserver: Send + Sync + 'static {
    fn delivered(&self, _events: &[OutgoingEvent], _test_mode: bool) {}
    /// `event` is the event as it was submitted; `letter` says why it can never go.
    fn dead_lettered(&self, event: &OutgoingEvent, letter: &DeadLetter);
    fn retrying(&self, _notice: &RetryNotice) {}
}

/// A batch about to be retried.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    pub events: usize,
    /// Failed attempts so far.
    pub failures: u32,
    pub delay: Duration,
    pub error: Transient,
}

/// What became of everything submitted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryReport {
    pub submitted: u64,
    pub delivered: u64,
    pub dead_lettered: BTreeMap<DeadReason, u64>,
    /// Requests made.
    pub requests: u64,
    /// Batches sent again after a transient failure.
    pub retries: u64,
    /// Events sent again at once because another event of their batch was rejected.
    pub resent: u64,
    /// Batches split in two to isolate an event the destination did not name.
    pub splits: u64,
    /// The error that stopped delivery, if one did.
    pub fatal: Option<Fatal>,
}

impl DeliveryReport {
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.values().sum()
    }
}

/// State the pipeline's tasks share.
pub(super) struct Shared {
    pub report: Mutex<DeliveryReport>,
    pub stopped: AtomicBool,
    /// Tells batches waiting to retry that delivery has stopped, so they do not sleep on.
    pub stop_signal: watch::Sender<bool>,
    pub observer: Arc<dyn DeliveryObserver>,
    pub clock: Clock,
    pub retry: RetryPolicy,
}

impl Shared {
    pub fn with_report<T>(&self, f: impl FnOnce(&mut DeliveryReport) -> T) -> T {
        // A panicking observer must not take the counts down with it.
        f(&mut self.report.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn delivered(&self, events: &[OutgoingEvent], test_mode: bool) {
        self.with_report(|r| r.delivered += events.len() as u64);
        self.observer.delivered(events, test_mode);
    }

    pub fn dead_letter(&self, event: &OutgoingEvent, attempts: u32, rejection: &Rejection) {
        let letter = DeadLetter {
            id: Some(event.id.clone()),
            reason: rejection.reason,
            status: rejection.status,
            code: rejection.code.clone(),
            message: rejection.message.clone(),
            attempts,
            at_ms: self.clock.now_ms(),
            payload: DeadPayload::Mapped {
                event: event.event(),
                source: event.source_event(),
            },
        };
        self.with_report(|r| *r.dead_lettered.entry(rejection.reason).or_default() += 1);
        self.observer.dead_lettered(event, &letter);
    }

    pub fn retrying(&self, notice: &RetryNotice) {
        self.with_report(|r| r.retries += 1);
        self.observer.retrying(notice);
    }

    pub fn count_request(&self) {
        self.with_report(|r| r.requests += 1);
    }

    pub fn count_resent(&self, events: usize) {
        self.with_report(|r| r.resent += events as u64);
    }

    pub fn count_split(&self) {
        self.with_report(|r| r.splits += 1);
    }

    pub fn stop(&self, fatal: &Fatal) {
        self.with_report(|r| {
            r.fatal.get_or_insert_with(|| fatal.clone());
        });
        self.stopped.store(true, Ordering::SeqCst);
        self.stop_signal.send_replace(true);
    }

    /// Waits `delay`, or less if delivery stops meanwhile.
    pub async fn sleep_unless_stopped(&self, delay: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.until_stopped() => {}
        }
    }

    /// Returns once delivery has stopped.
    pub async fn until_stopped(&self) {
        let mut stopped = self.stop_signal.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }

    pub fn fatal(&self) -> Option<Fatal> {
        if !self.stopped.load(Ordering::SeqCst) {
            return None;
        }
        self.with_report(|r| r.fatal.clone())
    }
}
