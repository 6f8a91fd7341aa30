//! The delivery's reports turned into fates: what is the event's fault and what is not,
//! and the destination's outage logged once when it starts and once when it ends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use super::source::Fates;
use crate::delivery::{DeadLetter, DeadReason, DeliveryObserver, OutgoingEvent, RetryNotice};
use crate::log;

pub(super) struct Outcomes {
    pub fates: Arc<dyn Fates>,
    pub route: String,
    /// The destination is failing (retries).
    pub down: AtomicBool,
}

impl DeliveryObserver for Outcomes {
    fn delivered(&self, events: &[OutgoingEvent], _test_mode: bool) {
        self.fates.delivered(events);
        if self.down.swap(false, Ordering::SeqCst) {
            log::line("destination_up", json!({"route": self.route}));
        }
    }

    fn dead_lettered(&self, event: &OutgoingEvent, letter: &DeadLetter) {
        if delivery_stopped(letter.reason) {
            self.fates.kept(event.tag, letter);
        } else {
            self.fates.dead_lettered(event.tag, letter.clone());
        }
    }

    fn retrying(&self, notice: &RetryNotice) {
        self.fates.retrying(notice);
        if !self.down.swap(true, Ordering::SeqCst) {
            log::line(
                "destination_down",
                json!({"route": self.route, "error": notice.error.message,
                    "status": notice.error.status}),
            );
        }
    }
}

/// Not the event's fault: delivery was stopped (our stop, refused credentials or
/// endpoint).
fn delivery_stopped(reason: DeadReason) -> bool {
    matches!(
        reason,
        DeadReason::Interrupted | DeadReason::CredentialsRefused | DeadReason::Refused
    )
}
