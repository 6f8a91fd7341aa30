//! What a source of events gives the driving loop, and what the loop and the delivery
//! tell it back about each event.

use std::future::Future;
use std::sync::Arc;

use crate::delivery::{DeadLetter, DeadPayload, OutgoingEvent, RetryNotice};

/// A place events come from: the spool's lane of a route, a member of a Kafka group.
/// It settles each event its own way once told what became of it.
pub trait Source: Send {
    /// What the source returns once the loop is done with it.
    type Finished: Send;

    /// Where undelivered events stay at a stop, for messages ("the events stay in the
    /// spool").
    const KEPT: &'static str;

    /// The events that came in next, waiting until there are some. Cancel-safe: the loop
    /// stops waiting at a stop, and a later call must not lose what was pulled.
    fn pull(&mut self) -> impl Future<Output = Pulled> + Send;

    /// Where the fates of events go; the delivery tells them from its own tasks.
    fn fates(&self) -> Arc<dyn Fates>;

    /// The id of an event that has none of its own (reports and dead letters name it).
    fn fallback_id(&self, tag: u64) -> String;

    /// The loop takes no more events: stop fetching ahead. Called before the drain.
    fn stop_pulling(&mut self) {}

    /// Ends the source once every fate is told (the delivery is finished).
    fn finish(self) -> impl Future<Output = Self::Finished> + Send;
}

/// What a pull brought.
pub enum Pulled {
    Events(Vec<Incoming>),
    /// Nothing for now: the loop looks at its stop and the destination, then pulls again.
    Idle,
    /// The source has no more events: the loop ends as at a stop.
    End,
}

/// One event from a source.
pub struct Incoming {
    /// The source's name for the event: fates come back under it.
    pub tag: u64,
    pub body: Body,
}

/// An event's bytes, or why it has none to read.
pub enum Body {
    Event(Vec<u8>),
    /// Dead-lettered `malformed` unread (a tombstone, a record over the size limit).
    Unreadable {
        why: String,
        /// What the dead letter keeps instead of the event.
        payload: DeadPayload,
    },
}

/// What became of each event, told back to its source. Every event pulled gets exactly
/// one of `delivered`, `skipped`, `dead_lettered` or `kept`, unless the loop stopped
/// before it took the event (it then stays in the source, as a kept one).
pub trait Fates: Send + Sync + 'static {
    /// Accepted by the destination (their tags are `OutgoingEvent::tag`).
    fn delivered(&self, events: &[OutgoingEvent]);
    /// The mapping skipped it, with this reason.
    fn skipped(&self, tag: u64, reason: &str);
    /// It can never be delivered, through a fault of its own: before delivery (not an
    /// event, mapping failed, invalid) or by the destination's answer.
    fn dead_lettered(&self, tag: u64, letter: DeadLetter);
    /// Not delivered because delivery stopped (the drain ran out, the destination
    /// refused our credentials or endpoint): not the event's fault, so it stays in the
    /// source to be read again.
    fn kept(&self, _tag: u64) {}
    /// A batch failed and waits to be tried again.
    fn retrying(&self, _notice: &RetryNotice) {}
}
