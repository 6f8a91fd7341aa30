//! Delivering mapped events to a destination.
//!
//! A destination implements one small trait, [`Sink`]: send one batch, say what became of
//! it. Everything else is shared machinery in [`Delivery`]: batching by count and bytes,
//! a concurrency limit, retries with exponential backoff and full jitter (honouring
//! `Retry-After`), resending the innocent events of a batch rejected for one bad event,
//! bisecting a batch rejected without naming the culprit, a re-check of each event just
//! before every attempt, a stop on credential errors, and a [`DeadLetter`] for every event
//! that can never be delivered. Every submitted event ends delivered or dead-lettered.
//!
//! ```
//! use std::sync::Arc;
//! use eventmap_pipeline::delivery::*;
//!
//! /// A destination that refuses events whose id starts with "bad", naming them.
//! struct Picky;
//! impl Sink for Picky {
//!     async fn send(&self, batch: &[OutgoingEvent], _test_mode: bool) -> BatchOutcome {
//!         if !batch.iter().any(|e| e.id.starts_with("bad")) {
//!             return BatchOutcome::Delivered;
//!         }
//!         BatchOutcome::PerEvent(batch.iter().map(|e| if e.id.starts_with("bad") {
//!             EventStatus::DeadLetter(Rejection::new(DeadReason::Rejected, "bad id"))
//!         } else {
//!             EventStatus::ResendNow
//!         }).collect())
//!     }
//! }
//!
//! struct Letters;
//! impl DeliveryObserver for Letters {
//!     fn dead_lettered(&self, _event: &OutgoingEvent, letter: &DeadLetter) {
//!         assert_eq!(letter.id.as_deref(), Some("bad-1"));
//!     }
//! }
//!
//! let runtime = tokio::runtime::Runtime::new().unwrap();
//! let report = runtime.block_on(async {
//!     let delivery = Delivery::start(Picky, DeliveryConfig::default(), Clock::system(), Arc::new(Letters));
//!     for id in ["a", "bad-1", "b"] {
//!         let event = serde_json::json!({"id": id});
//!         delivery.submit(OutgoingEvent::new(id, event, false)).await.unwrap();
//!     }
//!     delivery.finish().await
//! });
//! assert_eq!(report.delivered, 2);
//! assert_eq!(report.dead_lettered[&DeadReason::Rejected], 1);
//! ```

mod batcher;
mod clock;
mod dead_letter;
pub mod http;
mod pipeline;
mod retry;
mod shared;
mod sink;
mod worker;

pub use clock::Clock;
pub use dead_letter::{DeadLetter, DeadPayload, DeadReason, ReplayError};
pub use pipeline::{Closed, Delivery, DeliveryConfig, Room, Stopped, Stopper};
pub use retry::RetryPolicy;
pub use shared::{DeliveryObserver, DeliveryReport, RetryNotice};
pub use sink::{BatchOutcome, EventStatus, Fatal, OutgoingEvent, Rejection, Sink, Transient};
