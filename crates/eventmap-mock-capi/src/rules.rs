//! What the API checks in a request, and the error bodies it answers with (as recorded in
//! `shared/reference/openai-capi.md`).

use eventmap::Validator;
use eventmap_openai::delivery::valid_integration_source;
use eventmap_openai::OpenAiValidator;
use serde_json::{json, Value};

/// The mock's answer before any fault or recording.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The events are valid: accept them (and record them unless `validate_only`).
    Accept {
        /// The events as sent.
        events: Vec<Value>,
        validate_only: bool,
    },
    Refuse {
        status: u16,
        body: Value,
    },
}

/// The settings the rules depend on.
pub(crate) struct Rules<'a> {
    pub api_key: &'a str,
    pub pixel_id: &'a str,
    pub now_ms: i64,
    /// Ids refused with a 400 that names their index.
    pub poison_named: &'a (dyn Fn(&str) -> bool + Send + Sync),
    /// Ids refused with a 400 that names nothing.
    pub poison_unnamed: &'a (dyn Fn(&str) -> bool + Send + Sync),
}

impl Rules<'_> {
    pub fn judge(&self, authorization: Option<&str>, pid: Option<&str>, body: &[u8]) -> Verdict {
        if authorization != Some(format!("Bearer {}", self.api_key).as_str()) {
            return refuse(
                401,
                json!({"error": {"message": "Unauthorized",
                "type": "invalid_request_error", "code": "invalid_api_key"}}),
            );
        }
        let Some(pid) = pid else {
            return invalid_request("pid", "missing_pid", "pid is required");
        };
        if pid != self.pixel_id {
            return refuse(
                403,
                json!({"error": {"message": "403: unknown pid",
                "type": "invalid_request_error", "code": "unknown_pid"}}),
            );
        }
        let Ok(mut request) = serde_json::from_slice::<Value>(body) else {
            return invalid_request("", "invalid_json", "the body is not JSON");
        };
        let validate_only = match request.get("validate_only") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return invalid_request("validate_only", "invalid_type", "must be a boolean")
            }
        };
        if let Some(source) = request.get("integration_source") {
            if !source.as_str().is_some_and(valid_integration_source) {
                return invalid_request(
                    "integration_source",
                    "invalid_integration_source",
                    "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                );
            }
        }
        let Some(events) = request.get("events").and_then(Value::as_array) else {
            return invalid_request("events", "missing_events", "events must be an array");
        };
        if events.is_empty() || events.len() > 1000 {
            return invalid_request("events", "invalid_batch_size", "1 to 1000 events");
        }
        if events
            .iter()
            .any(|e| e["id"].as_str().is_some_and(self.poison_unnamed))
        {
            return invalid_request("", "invalid_request", "Invalid request.");
        }
        let mut errors = Vec::new();
        let mut stale = None;
        for (i, event) in events.iter().enumerate() {
            for v in OpenAiValidator::STRICT.validate(event, self.now_ms) {
                let param = format!("events[{i}].{}", v.path);
                if v.path == "timestamp_ms" && v.message.contains("older") {
                    stale.get_or_insert(i);
                }
                errors.push(json!({"message": format!("{param} {}", v.message),
                    "param": param, "code": "invalid_value"}));
            }
            if event["id"].as_str().is_some_and(self.poison_named) {
                errors.push(
                    json!({"message": format!("events[{i}] was refused (poisoned id)"),
                    "param": format!("events[{i}]"), "code": "invalid_event"}),
                );
            }
        }
        if let (Some(i), true) = (stale, errors.len() == 1) {
            return refuse(
                422,
                json!({"error": {
                "message": format!("events[{i}].timestamp_ms is too old"),
                "type": "invalid_request_error", "param": format!("events[{i}].timestamp_ms"),
                "code": "event_timestamp_too_old"}}),
            );
        }
        if let Some(first) = errors.first() {
            let param = first["param"].as_str().unwrap_or_default();
            let index = param.split('.').next().unwrap_or_default().to_string();
            return refuse(
                400,
                json!({"error": {
                "message": format!("Invalid event at {index}. See errors for details."),
                "type": "invalid_request_error", "param": index, "code": "invalid_event",
                "errors": errors}}),
            );
        }
        // Checked: hand the events over rather than copy them.
        let events = match request.get_mut("events").map(Value::take) {
            Some(Value::Array(events)) => events,
            _ => Vec::new(),
        };
        Verdict::Accept {
            events,
            validate_only,
        }
    }
}

fn refuse(status: u16, body: Value) -> Verdict {
    Verdict::Refuse { status, body }
}

fn invalid_request(param: &str, code: &str, message: &str) -> Verdict {
    refuse(
        400,
        json!({"error": {"message": message, "type": "invalid_request_error",
        "code": code, "errors": [{"message": message, "param": param, "code": code}]}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_262_400_000;

    fn rules() -> Rules<'static> {
        Rules {
            api_key: "k",
            pixel_id: "p",
            now_ms: NOW,
            poison_named: &|_| false,
            poison_unnamed: &|_| false,
        }
    }

    fn event(id: &str, ts: i64) -> Value {
        json!({"id": id, "type": "page_viewed", "timestamp_ms": ts, "action_source": "web",
               "source_url": "https://a.example/", "data": {"type": "contents"}})
    }

    fn judge(auth: &str, pid: Option<&str>, body: Value) -> (u16, Value) {
        match rules().judge(Some(auth), pid, body.to_string().as_bytes()) {
            Verdict::Accept { events, .. } => (200, json!(events.len())),
            Verdict::Refuse { status, body } => (status, body),
        }
    }

    #[test]
    fn the_documented_refusals() {
        let ok = json!({"events": [event("a", NOW)]});
        assert_eq!(judge("Bearer k", Some("p"), ok.clone()).0, 200);
        assert_eq!(judge("Bearer x", Some("p"), ok.clone()).0, 401);
        let (status, body) = judge("Bearer k", Some("q"), ok.clone());
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (403, Some("403: unknown pid"))
        );
        assert_eq!(judge("Bearer k", None, ok).0, 400);
        let many: Vec<Value> = (0..1001).map(|i| event(&i.to_string(), NOW)).collect();
        assert_eq!(judge("Bearer k", Some("p"), json!({"events": many})).0, 400);
        assert_eq!(judge("Bearer k", Some("p"), json!({"events": []})).0, 400);
        let bad_source = json!({"integration_source": "-x", "events": [event("a", NOW)]});
        assert_eq!(judge("Bearer k", Some("p"), bad_source).0, 400);
    }

    #[test]
    fn one_bad_event_fails_the_batch_naming_it() {
        let mut bad = event("b", NOW);
        bad["data"]["type"] = json!("nonsense");
        let (status, body) = judge(
            "Bearer k",
            Some("p"),
            json!({"events": [event("a", NOW), bad]}),
        );
        assert_eq!(status, 400);
        assert_eq!(body["error"]["param"], "events[1]");
        assert_eq!(body["error"]["code"], "invalid_event");
        assert!(body["error"]["errors"][0]["param"]
            .as_str()
            .unwrap()
            .starts_with("events[1]."));
        let stale = event("s", NOW - 8 * 86_400_000);
        let (status, body) = judge("Bearer k", Some("p"), json!({"events": [stale]}));
        assert_eq!(status, 422);
        assert_eq!(body["error"]["code"], "event_timestamp_too_old");
        assert_eq!(body["error"]["param"], "events[0].timestamp_ms");
    }
}
