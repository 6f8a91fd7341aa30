//! The credentials check behind `eventmap connect`: like the seed's "Connect" button, one
//! `validate_only` request with a harmless test event, so nothing is recorded.

use eventmap_pipeline::delivery::OutgoingEvent;
pub use eventmap_pipeline::destination::ConnectionVerdict;
use serde_json::{json, Value};

use super::{OpenAiSink, OpenAiSinkConfig, SinkConfigError};

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

/// The test event as the sink sends it.
pub fn test_outgoing(now_ms: i64) -> OutgoingEvent {
    OutgoingEvent::new(
        format!("eventmap-connect-{now_ms}"),
        test_event(now_ms),
        true,
    )
}

/// Sends one test request and says what it shows.
pub async fn check_connection(
    config: &OpenAiSinkConfig,
    now_ms: i64,
) -> Result<ConnectionVerdict, SinkConfigError> {
    let sink = OpenAiSink::new(config)?;
    Ok(eventmap_pipeline::destination::check_connection(&sink, test_outgoing(now_ms)).await)
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
