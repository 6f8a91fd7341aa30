//! What a Conversions API response means for the batch that was sent.
//!
//! The API's error bodies are not documented by OpenAI; these rules follow what clients
//! have observed (see `docs/openai.md`): a batch fails as a whole, and a 400/422 names
//! the offending events as `events[i]` in `error.param` and `error.errors[].param`.

use std::collections::BTreeMap;
use std::time::Duration;

use eventmap_pipeline::delivery::http::reason_phrase;
use eventmap_pipeline::delivery::{
    BatchOutcome, DeadReason, EventStatus, Fatal, Rejection, Transient,
};
use serde_json::Value;

/// Classifies a response to a batch of `batch_len` events.
pub fn classify(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    batch_len: usize,
) -> BatchOutcome {
    let error = ApiError::parse(body);
    match status {
        200..=299 => BatchOutcome::Delivered,
        401 => BatchOutcome::Fatal(Fatal {
            reason: DeadReason::CredentialsRefused,
            status: Some(status),
            message: format!(
                "the conversions API key was refused (401 {}); check OPENAI_CAPI_KEY: it must \
                 be a conversions key (Conversions > Conversion Keys), not an advertiser API key",
                error.message_or(status, "Unauthorized")
            ),
        }),
        403 => BatchOutcome::Fatal(Fatal {
            reason: DeadReason::CredentialsRefused,
            status: Some(status),
            message: format!(
                "the pixel id was refused (403 {}); check OPENAI_PIXEL_ID (the data source id) \
                 and that the key belongs to it",
                error.message_or(status, "Forbidden")
            ),
        }),
        404 | 405 => BatchOutcome::Fatal(Fatal {
            reason: DeadReason::Refused,
            status: Some(status),
            message: format!(
                "the endpoint does not take events ({status} {}); check --endpoint",
                error.message_or(status, "Not Found")
            ),
        }),
        408 | 429 | 500..=599 => BatchOutcome::RetryLater(Transient {
            message: format!(
                "{status} {}",
                error.message_or(status, reason_phrase(status))
            ),
            status: Some(status),
            retry_after,
        }),
        400 | 422 => rejected(status, &error, batch_len),
        _ => BatchOutcome::RejectedUnattributed(error.rejection(status, None)),
    }
}

/// A 400/422: dead-letter the named events, resend the rest; bisect if none is named.
fn rejected(status: u16, error: &ApiError, batch_len: usize) -> BatchOutcome {
    let named = error.offenders(batch_len);
    if named.is_empty() {
        return BatchOutcome::RejectedUnattributed(error.rejection(status, None));
    }
    BatchOutcome::PerEvent(
        (0..batch_len)
            .map(|i| match named.get(&i) {
                Some(details) => EventStatus::DeadLetter(error.rejection(status, Some(details))),
                None => EventStatus::ResendNow,
            })
            .collect(),
    )
}

/// What the API said about one event: `(code, message)` pairs.
type Details = Vec<(Option<String>, String)>;

/// The parts of an error body that matter: `{"error": {message, code, param, errors: [...]}}`.
#[derive(Debug, Default)]
struct ApiError {
    message: Option<String>,
    code: Option<String>,
    param: Option<String>,
    errors: Vec<(Option<String>, Option<String>, String)>,
}

impl ApiError {
    fn parse(body: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Self::from_text(body);
        };
        let error = &value["error"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        let errors = error["errors"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|e| {
                        let message = text(&e["message"]).unwrap_or_default();
                        (text(&e["param"]), text(&e["code"]), message)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            message: text(&error["message"]).or_else(|| text(error)),
            code: text(&error["code"]),
            param: text(&error["param"]),
            errors,
        }
    }

    /// A plain-text body (e.g. `403: unknown pid`) is the message; HTML pages are not.
    fn from_text(body: &[u8]) -> Self {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let message =
            (!text.is_empty() && !text.starts_with('<')).then(|| text.chars().take(200).collect());
        Self {
            message,
            ..Self::default()
        }
    }

    /// The message, without the status it may start with (`403: unknown pid` is shown
    /// after the status already: `(403 unknown pid)`, not `(403 403: unknown pid)`).
    fn message_or<'a>(&'a self, status: u16, fallback: &'a str) -> &'a str {
        let Some(message) = self.message.as_deref() else {
            return fallback;
        };
        let rest = message
            .strip_prefix(&status.to_string())
            .and_then(|rest| rest.strip_prefix(':').or_else(|| rest.strip_prefix(' ')))
            .map(str::trim_start);
        match rest {
            Some(rest) if !rest.is_empty() => rest,
            _ => message,
        }
    }

    /// Batch positions named as `events[i]` (in range), with what was said about each.
    fn offenders(&self, batch_len: usize) -> BTreeMap<usize, Details> {
        let mut named: BTreeMap<usize, Details> = BTreeMap::new();
        for (param, code, message) in &self.errors {
            if let Some(i) = param.as_deref().and_then(event_index) {
                named
                    .entry(i)
                    .or_default()
                    .push((code.clone(), message.clone()));
            }
        }
        if let Some(i) = self.param.as_deref().and_then(event_index) {
            named.entry(i).or_insert_with(|| {
                vec![(
                    self.code.clone(),
                    self.message
                        .clone()
                        .unwrap_or_else(|| "invalid event".into()),
                )]
            });
        }
        named.retain(|i, _| *i < batch_len);
        named
    }

    fn rejection(&self, status: u16, details: Option<&Details>) -> Rejection {
        let (code, message) = match details {
            Some(details) => (
                details
                    .iter()
                    .find_map(|(c, _)| c.clone())
                    .or(self.code.clone()),
                details
                    .iter()
                    .map(|(_, m)| m.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            None => (
                self.code.clone(),
                self.message_or(status, reason_phrase(status)).to_string(),
            ),
        };
        let reason = match code.as_deref() {
            Some("event_timestamp_too_old") => DeadReason::Expired,
            _ => DeadReason::Rejected,
        };
        Rejection {
            reason,
            status: Some(status),
            code,
            message,
        }
    }
}

/// `events[12].data.type` → 12.
fn event_index(param: &str) -> Option<usize> {
    let rest = param.strip_prefix("events[")?;
    let end = rest.find(']')?;
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn the_reference_400_dead_letters_exactly_the_named_event() {
        let b = body(json!({"error": {
            "message": "Invalid event at events[1]. See errors for details.",
            "type": "invalid_request_error", "param": "events[1]", "code": "invalid_event",
            "errors": [{"message": "events[1].data.type must be a supported data type.",
                        "param": "events[1].data.type", "code": "missing_event_data_type"}]}}));
        let BatchOutcome::PerEvent(statuses) = classify(400, None, &b, 3) else {
            panic!()
        };
        assert_eq!(statuses[0], EventStatus::ResendNow);
        assert_eq!(statuses[2], EventStatus::ResendNow);
        let EventStatus::DeadLetter(r) = &statuses[1] else {
            panic!()
        };
        assert_eq!(r.reason, DeadReason::Rejected);
        assert_eq!(r.code.as_deref(), Some("missing_event_data_type"));
        assert_eq!(
            r.message,
            "events[1].data.type must be a supported data type."
        );
    }

    #[test]
    fn several_named_events_and_a_stale_timestamp() {
        let b = body(
            json!({"error": {"message": "x", "code": "invalid_event", "errors": [
            {"param": "events[0].timestamp_ms", "code": "event_timestamp_too_old", "message": "too old"},
            {"param": "events[2].id", "code": "missing_id", "message": "id missing"},
            {"param": "events[9].id", "code": "missing_id", "message": "out of range"}]}}),
        );
        let BatchOutcome::PerEvent(s) = classify(422, None, &b, 3) else {
            panic!()
        };
        assert!(matches!(&s[0], EventStatus::DeadLetter(r) if r.reason == DeadReason::Expired));
        assert_eq!(s[1], EventStatus::ResendNow);
        assert!(matches!(&s[2], EventStatus::DeadLetter(r) if r.message == "id missing"));
    }

    #[test]
    fn a_400_naming_no_event_splits_the_batch() {
        let b = body(json!({"error": {"message": "Invalid request", "code": "invalid_request"}}));
        let BatchOutcome::RejectedUnattributed(r) = classify(400, None, &b, 4) else {
            panic!()
        };
        assert_eq!(r.message, "Invalid request");
        assert!(matches!(
            classify(400, None, b"<html>", 4),
            BatchOutcome::RejectedUnattributed(_)
        ));
    }

    #[test]
    fn credentials_errors_stop_delivery() {
        let b = body(json!({"error": {"message": "Unauthorized"}}));
        let BatchOutcome::Fatal(f) = classify(401, None, &b, 1) else {
            panic!()
        };
        assert_eq!(f.reason, DeadReason::CredentialsRefused);
        assert!(f.message.contains("OPENAI_CAPI_KEY"));
        let BatchOutcome::Fatal(f) = classify(403, None, b"403: unknown pid", 1) else {
            panic!()
        };
        assert!(f.message.contains("OPENAI_PIXEL_ID"));
        assert!(f.message.contains("(403 unknown pid)"), "{}", f.message);
    }

    #[test]
    fn transient_statuses_are_retried_with_their_retry_after() {
        for status in [408, 429, 500, 502, 503, 504] {
            let outcome = classify(status, Some(Duration::from_secs(2)), b"", 5);
            let BatchOutcome::RetryLater(t) = outcome else {
                panic!("{status}")
            };
            assert_eq!(t.retry_after, Some(Duration::from_secs(2)));
            assert_eq!(t.status, Some(status));
        }
        assert_eq!(
            classify(200, None, b"{\"accepted_events\":5}", 5),
            BatchOutcome::Delivered
        );
    }
}
