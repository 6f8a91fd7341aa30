//! What a Conversions API answer means for the batch that was sent.
//!
//! Meta answers `{"events_received": N, …}` when it takes a request, and otherwise a Graph
//! API error, `{"error": {message, type, code, error_subcode, error_user_msg, fbtrace_id}}`.
//! A request is atomic (one invalid event refuses all of them) and the error does not
//! reliably say which event was at fault, so a refused batch is split until the culprit
//! is alone. The codes used here are the Graph API's documented error codes: 190 an
//! invalid or expired token, 10 and 200–299 a missing permission, 100 with subcode 33 an
//! object (the pixel) that does not exist, 4, 17, 32, 613 and 80004 rate limits, 1 and 2
//! temporary errors.

use std::time::Duration;

use eventmap_pipeline::delivery::http::reason_phrase;
use eventmap_pipeline::delivery::{BatchOutcome, DeadReason, Fatal, Rejection, Transient};
use serde_json::Value;

/// Classifies Meta's answer to a batch.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> BatchOutcome {
    if (200..300).contains(&status) {
        return BatchOutcome::Delivered;
    }
    let error = GraphError::parse(body);
    let said = error.describe(status);
    let fatal = |reason, message: String| {
        BatchOutcome::Fatal(Fatal {
            reason,
            status: Some(status),
            message,
        })
    };
    match (status, error.code, error.subcode) {
        (_, Some(190), _) | (401, _, _) => fatal(
            DeadReason::CredentialsRefused,
            format!(
                "the access token was refused ({said}); check META_ACCESS_TOKEN: a Conversions API token from Events Manager, not expired"
            ),
        ),
        (_, Some(10 | 200..=299), _) | (403, _, _) => fatal(
            DeadReason::CredentialsRefused,
            format!(
                "the access token may not send events to this pixel ({said}); check META_PIXEL_ID and the token's pixel"
            ),
        ),
        (_, Some(100), Some(33)) | (404 | 405, _, _) => fatal(
            DeadReason::Refused,
            format!("the pixel or endpoint was not found ({said}); check META_PIXEL_ID and --endpoint"),
        ),
        (_, Some(1 | 2 | 4 | 17 | 32 | 613 | 80004), _) | (408 | 429 | 500..=599, _, _) => {
            BatchOutcome::RetryLater(Transient {
                message: said,
                status: Some(status),
                retry_after,
            })
        }
        _ => BatchOutcome::RejectedUnattributed(Rejection {
            reason: DeadReason::Rejected,
            status: Some(status),
            code: error.code.map(|code| match error.subcode {
                Some(sub) => format!("{code}/{sub}"),
                None => code.to_string(),
            }),
            message: said,
        }),
    }
}

/// The parts of a Graph API error that matter.
#[derive(Debug, Default)]
struct GraphError {
    code: Option<i64>,
    subcode: Option<i64>,
    message: Option<String>,
}

impl GraphError {
    fn parse(body: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let error = &value["error"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        Self {
            code: error["code"].as_i64(),
            subcode: error["error_subcode"].as_i64(),
            // The user-facing message says what to fix; the other is the API's own.
            message: text(&error["error_user_msg"]).or_else(|| text(&error["message"])),
        }
    }

    /// `400 code 100: Invalid parameter`, for messages.
    fn describe(&self, status: u16) -> String {
        let code = match (self.code, self.subcode) {
            (Some(code), Some(sub)) => format!(" code {code}/{sub}"),
            (Some(code), None) => format!(" code {code}"),
            _ => String::new(),
        };
        let message = self
            .message
            .as_deref()
            .unwrap_or_else(|| reason_phrase(status));
        format!("{status}{code}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(status: u16, code: i64, subcode: Option<i64>) -> BatchOutcome {
        let mut e = json!({"error": {"message": "m", "type": "OAuthException", "code": code,
            "fbtrace_id": "A1"}});
        if let Some(sub) = subcode {
            e["error"]["error_subcode"] = json!(sub);
        }
        classify(status, None, e.to_string().as_bytes())
    }

    #[test]
    fn an_accepted_request_is_delivered() {
        let body = br#"{"events_received":3,"messages":[],"fbtrace_id":"x"}"#;
        assert_eq!(classify(200, None, body), BatchOutcome::Delivered);
    }

    #[test]
    fn a_refused_token_or_pixel_stops_delivery() {
        for outcome in [
            error(400, 190, Some(463)),
            error(401, 1, None),
            error(403, 200, None),
        ] {
            let BatchOutcome::Fatal(fatal) = outcome else {
                panic!("{outcome:?}")
            };
            assert_eq!(fatal.reason, DeadReason::CredentialsRefused);
            assert!(fatal.message.contains("META_"), "{}", fatal.message);
        }
        let BatchOutcome::Fatal(fatal) = error(400, 100, Some(33)) else {
            panic!()
        };
        assert_eq!(fatal.reason, DeadReason::Refused);
        assert!(fatal.message.contains("META_PIXEL_ID"));
    }

    #[test]
    fn rate_limits_and_server_errors_are_retried() {
        for outcome in [
            error(400, 4, None),
            error(400, 613, None),
            error(500, 2, None),
        ] {
            assert!(
                matches!(outcome, BatchOutcome::RetryLater(_)),
                "{outcome:?}"
            );
        }
        let outcome = classify(503, Some(Duration::from_secs(3)), b"<html>");
        let BatchOutcome::RetryLater(t) = outcome else {
            panic!()
        };
        assert_eq!(t.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(t.message, "503: Service Unavailable");
    }

    #[test]
    fn an_invalid_parameter_refuses_the_batch_without_naming_an_event() {
        let body = json!({"error": {"message": "Invalid parameter", "code": 100,
            "error_subcode": 2804019, "error_user_msg": "The parameter event_name is required."}});
        let BatchOutcome::RejectedUnattributed(r) =
            classify(400, None, body.to_string().as_bytes())
        else {
            panic!()
        };
        assert_eq!(r.code.as_deref(), Some("100/2804019"));
        assert_eq!(
            r.message,
            "400 code 100/2804019: The parameter event_name is required."
        );
    }
}
