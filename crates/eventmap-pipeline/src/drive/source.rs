//! What a source of events gives the driving loop, and what the loop and the delivery
//! tell it back about each event.

use std::future::Future;
use std::sync::Arc;

use crate::delivery::{DeadLetter, DeadPayload, OutgoingEvent, RetryNotice};
use crate::process::Line;

/// A place events come from: the spool's lane of a route, a member of a Kafka group,
/// `send`'s input files. It settles each event its own way once told what became of it.
pub trait Source: Send {
    /// What the source returns once the loop is done with it.
    type Finished: Send;

    /// Where undelivered events stay at a stop, for messages ("the events stay in the
    /// spool").
    const KEPT: &'static str;

    /// Events wait here before the loop takes them (a spool, a log): one whose only fault
    /// is having grown too old meanwhile is dead-lettered `expired` rather than `invalid`.
    /// A file read once says false: its old events were old when they came.
    const EVENTS_WAIT: bool = true;

    /// The events that came in next, waiting until there are some. Cancel-safe: the loop
    /// stops waiting at a stop, and a later call must not lose what was pulled.
    fn pull(&mut self) -> impl Future<Output = Pulled> + Send;

    /// Where the fates of events go; the delivery tells them from its own tasks.
    fn fates(&self) -> Arc<dyn Fates>;

    /// The id of an event that has none of its own (reports and dead letters name it).
    fn fallback_id(&self, tag: u64) -> String;

    /// The loop stopped before it took the event `tag` and those after it in the same
    /// pull: they got no fate and stay in the source (where a file run resumes).
    fn not_taken(&mut self, _tag: u64) {}

    /// The loop takes no more events: stop fetching ahead. Called before the drain.
    fn stop_pulling(&mut self) {}

    /// Resolves, with why, when what is still undelivered after a stop must be given up
    /// before the drain ends (a second Ctrl-C). Never, unless a source says otherwise.
    fn given_up(&mut self) -> impl Future<Output = String> + Send {
        std::future::pending()
    }

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
/// one of `delivered`, `skipped`, `rejected`, `dead_lettered` or `kept`, unless the loop
/// stopped before it took the event ([`Source::not_taken`]: it stays in the source).
pub trait Fates: Send + Sync + 'static {
    /// What the mapping and the validator made of an event, before its fate is told: for
    /// a source that reports each event (`send`'s console lines and counts).
    fn examined(&self, _tag: u64, _line: &Line) {}
    /// Accepted by the destination (their tags are `OutgoingEvent::tag`).
    fn delivered(&self, events: &[OutgoingEvent]);
    /// The mapping skipped it, with this reason.
    fn skipped(&self, tag: u64, reason: &str);
    /// It can never be delivered, through a fault of its own found before delivery: not
    /// an event, the mapping failed, the destination's rules reject it.
    fn rejected(&self, tag: u64, letter: DeadLetter) {
        self.dead_lettered(tag, letter);
    }
    /// The destination's answer says it can never be delivered.
    fn dead_lettered(&self, tag: u64, letter: DeadLetter);
    /// Not delivered because delivery stopped (the drain ran out, the destination
    /// refused our credentials or endpoint): not the event's fault, so it stays in the
    /// source to be read again. `letter` says why, for a source that keeps it as a
    /// letter (`send`, whose input is read only once).
    fn kept(&self, _tag: u64, _letter: &DeadLetter) {}
    /// A batch failed and waits to be tried again.
    fn retrying(&self, _notice: &RetryNotice) {}
}
