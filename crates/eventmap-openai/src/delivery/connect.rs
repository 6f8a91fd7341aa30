//! The credentials check behind `eventmap connect`: like the seed's "Connect" button, one
//! `validate_only` request with a harmless test event, so nothing is recorded.

use std::fmt;

use eventmap_pipeline::delivery::{BatchOutcome, EventStatus, OutgoingEvent};
use serde_json::{json, Value};

use super::{OpenAiSink, OpenAiSinkConfig, SinkConfigError};

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionVerdict {
    /// The API accepted the key, the pixel id and a test event.
    Connected,
    /// The key or the pixel id was refused.
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
                "connected: the API accepted the key and pixel id (test request, nothing recorded)",
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

/// The event the check sends (with `validate_only: true`).
pub fn test_event(now_ms: i64) -> Value {
    json!({
        "id": format!("eventmap-connect-{now_ms}"),
        "type": "page_viewed",
        "timestamp_ms": now_ms,
        "action_source": "web",
        "source_url": "https://example.com/eventmap-connect-check",
        "data": {"type": "contents"}
    })
}

/// Sends one test request and says what it shows.
pub async fn check_connection(
    config: &OpenAiSinkConfig,
    now_ms: i64,
) -> Result<ConnectionVerdict, SinkConfigError> {
    let sink = OpenAiSink::new(config)?;
    let event = test_event(now_ms);
    let id = event["id"].as_str().unwrap_or_default().to_string();
    let batch = [OutgoingEvent::new(id, event, true)];
    Ok(match sink.post(&batch, true).await {
        BatchOutcome::Delivered => ConnectionVerdict::Connected,
        BatchOutcome::Fatal(fatal) => ConnectionVerdict::Refused(fatal.message),
        BatchOutcome::RetryLater(error) => ConnectionVerdict::Unreachable(error.message),
        BatchOutcome::RejectedUnattributed(rejection) => {
            ConnectionVerdict::EventRefused(rejection.message)
        }
        BatchOutcome::PerEvent(statuses) => {
            let why = statuses.into_iter().find_map(|s| match s {
                EventStatus::DeadLetter(r) => Some(r.message),
                _ => None,
            });
            ConnectionVerdict::EventRefused(why.unwrap_or_else(|| "no reason given".into()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventmap::Validator;

    #[test]
    fn the_test_event_is_valid() {
        let now = 1_800_000_000_000;
        assert_eq!(
            crate::OpenAiValidator::STRICT.validate(&test_event(now), now),
            vec![]
        );
    }
}
