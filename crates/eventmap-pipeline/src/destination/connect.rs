//! The credentials check behind `eventmap connect`, the same for every destination: its
//! sink sends the destination's harmless test event once, in test mode, and the answer
//! is read the way delivery reads it.

use std::fmt;

use crate::delivery::{BatchOutcome, EventStatus, OutgoingEvent, Sink};

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionVerdict {
    /// The destination accepted the credentials and a test event.
    Connected,
    /// The credentials were refused.
    Refused(String),
    /// No answer, or a server error: nothing is known about the credentials.
    Unreachable(String),
    /// The credentials passed but the test event was refused.
    EventRefused(String),
}

impl ConnectionVerdict {
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionVerdict::Connected)
    }
}

impl fmt::Display for ConnectionVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionVerdict::Connected => f.write_str(
                "connected: the API accepted the credentials (test request, nothing recorded)",
            ),
            ConnectionVerdict::Refused(why) => write!(f, "not connected: {why}"),
            ConnectionVerdict::Unreachable(why) => {
                write!(f, "could not check the credentials: {why}")
            }
            ConnectionVerdict::EventRefused(why) => write!(
                f,
                "the credentials were accepted, but the API refused the test event: {why}"
            ),
        }
    }
}

/// Sends `event` once, in test mode, through `sink`, and says what the answer shows.
pub async fn check_connection(sink: &impl Sink, event: OutgoingEvent) -> ConnectionVerdict {
    let batch = [event];
    match sink.send(&batch, true).await {
        BatchOutcome::Delivered => ConnectionVerdict::Connected,
        BatchOutcome::Fatal(fatal) => ConnectionVerdict::Refused(fatal.message),
        BatchOutcome::RetryLater(error) => ConnectionVerdict::Unreachable(error.message),
        BatchOutcome::RejectedUnattributed(rejection) => {
            ConnectionVerdict::EventRefused(rejection.message)
        }
        BatchOutcome::PerEvent(statuses) => {
            for status in statuses {
                match status {
                    EventStatus::DeadLetter(r) => {
                        return ConnectionVerdict::EventRefused(r.message)
                    }
                    EventStatus::RetryLater(t) => return ConnectionVerdict::Unreachable(t.message),
                    EventStatus::Delivered | EventStatus::ResendNow => {}
                }
            }
            ConnectionVerdict::Connected
        }
    }
}
