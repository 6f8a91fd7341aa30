//! The trait a destination implements, and what it reports back.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use super::DeadReason;

/// One mapped, validated event on its way to a destination.
///
/// It travels as JSON text only. The `Value` it was made from is dropped where it was
/// made: events are made on a producer's thread and finished on the runtime's, and
/// freeing a whole JSON tree on another thread than the one that allocated it was an
/// eighth of the delivery side's time in `send`. The rare paths that need the value (a
/// dead letter, a destination's re-check) parse it back with [`OutgoingEvent::event`].
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    /// The destination's deduplication id; the same on every attempt.
    pub id: String,
    /// The event as JSON text, serialized once: sinks build request bodies from it and
    /// batches are measured by it.
    pub json: String,
    /// Test mode for this event: the destination validates it but records nothing.
    pub test_mode: bool,
    /// The host's own reference to the event (a spool's sequence number, say); it comes
    /// back to the [`DeliveryObserver`](crate::delivery::DeliveryObserver) untouched.
    pub tag: u64,
    /// The input the event was mapped from, as read (JSON text), when the host keeps it:
    /// a dead letter then holds it as `source`, so that a replay after a mapping fix maps
    /// it again. Parsed only for a dead letter.
    pub source: Option<Vec<u8>>,
}

impl OutgoingEvent {
    pub fn new(id: impl Into<String>, event: Value, test_mode: bool) -> Self {
        Self::from_json(id, event.to_string(), test_mode)
    }

    /// An event already written as JSON text (such as by [`eventmap::Output::to_json`]).
    pub fn from_json(id: impl Into<String>, json: String, test_mode: bool) -> Self {
        Self {
            id: id.into(),
            json,
            test_mode,
            tag: 0,
            source: None,
        }
    }

    /// The event as a JSON value, parsed back from its text.
    pub fn event(&self) -> Value {
        // The text was serialized from a `Value`, so it parses; were it ever not to, the
        // text itself is kept rather than nothing.
        serde_json::from_str(&self.json).unwrap_or_else(|_| Value::String(self.json.clone()))
    }

    /// The event with the host's reference `tag`.
    pub fn with_tag(mut self, tag: u64) -> Self {
        self.tag = tag;
        self
    }

    /// The event with the input it was mapped from (see [`OutgoingEvent::source`]).
    pub fn with_source(mut self, source: Vec<u8>) -> Self {
        self.source = Some(source);
        self
    }

    /// The input event, parsed, for a dead letter.
    pub fn source_event(&self) -> Option<Value> {
        serde_json::from_slice(self.source.as_deref()?).ok()
    }
}

/// A destination. [`crate::delivery::Delivery`] calls it with batches of events that all
/// share one test mode, and handles retries, bisection and dead letters from what it
/// reports.
pub trait Sink: Send + Sync + 'static {
    /// Called just before every attempt (the first and each retry) with the delivery
    /// clock: an error dead-letters the event instead of sending it. Destinations that
    /// judge time windows on receipt re-check them here, so an event that aged out while
    /// waiting cannot fail the batch it travels in.
    fn check_before_send(&self, _event: &OutgoingEvent, _now_ms: i64) -> Result<(), Rejection> {
        Ok(())
    }

    /// Sends one batch (never empty) and reports what became of it.
    fn send(
        &self,
        batch: &[OutgoingEvent],
        test_mode: bool,
    ) -> impl Future<Output = BatchOutcome> + Send;
}

/// What became of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOutcome {
    /// Every event was accepted.
    Delivered,
    /// One status per event, in batch order.
    PerEvent(Vec<EventStatus>),
    /// Nothing was accepted, for a reason that may pass: try the whole batch again later.
    RetryLater(Transient),
    /// The batch was refused for its contents without saying which event is at fault:
    /// the batch is split in halves until the culprits are alone, then they are
    /// dead-lettered with this rejection.
    RejectedUnattributed(Rejection),
    /// Nothing will succeed (credentials refused): stop sending; every event not yet
    /// delivered is dead-lettered with the fatal error's reason.
    Fatal(Fatal),
}

/// What became of one event of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum EventStatus {
    Delivered,
    /// Not accepted for a reason that may pass; retried with backoff.
    RetryLater(Transient),
    /// Not accepted only because another event of the batch was bad (atomic batches):
    /// sent again at once without the bad ones, which does not count as a failure.
    ResendNow,
    /// Can never be delivered as it is.
    DeadLetter(Rejection),
}

/// A failure that may pass: a timeout, a dropped connection, 408, 429, 5xx.
#[derive(Debug, Clone, PartialEq)]
pub struct Transient {
    pub message: String,
    pub status: Option<u16>,
    /// The server's `Retry-After`: the next attempt waits at least this long.
    pub retry_after: Option<Duration>,
}

/// Why one event is refused for good.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: DeadReason,
    pub status: Option<u16>,
    /// The destination's error code, e.g. `invalid_event`.
    pub code: Option<String>,
    pub message: String,
}

impl Rejection {
    pub fn new(reason: DeadReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            status: None,
            code: None,
            message: message.into(),
        }
    }
}

/// An error that stops all delivery (e.g. the credentials were refused).
#[derive(Debug, Clone, PartialEq)]
pub struct Fatal {
    pub reason: DeadReason,
    pub status: Option<u16>,
    pub message: String,
}
