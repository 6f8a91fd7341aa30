//! Delivering mapped events to a destination.
//!
//! A destination implements one small trait, [`Sink`]: send one batch, say what became of
//! it. Everything else is shared machinery in [`Delivery`]: batching by count and bytes,
//! a concurrency limit, retries with exponential backoff and full jitter (honouring
//! `Retry-After`), resending the innocent events of a batch rejected for one bad event,
//! bisecting a batch rejected without naming the culprit, a re-check of each event just
//! before every attempt, a stop on credential errors, and a [`DeadLetter`] for every event
//! that can never be delivered. Every submitted event ends delivered or dead-lettered.

mod batcher;
mod clock;
mod dead_letter;
mod pipeline;
mod retry;
mod sink;
mod worker;

pub use clock::Clock;
pub use dead_letter::{DeadLetter, DeadPayload, DeadReason, ReplayError};
pub use pipeline::{
    Closed, Delivery, DeliveryConfig, DeliveryObserver, DeliveryReport, RetryNotice,
};
pub use retry::RetryPolicy;
pub use sink::{BatchOutcome, EventStatus, Fatal, OutgoingEvent, Rejection, Sink, Transient};
