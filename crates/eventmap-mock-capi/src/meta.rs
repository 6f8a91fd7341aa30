//! Meta's Conversions API wire, as `shared/reference/meta-capi.md` records it:
//! `POST /{version}/{pixel}/events` with `{"data": [...], "test_event_code"?,
//! "access_token"}` (the token also as a query parameter or a bearer header), one invalid
//! event or one `event_time` over 7 days old refusing the whole request, Graph API error
//! bodies, and `{"events_received": N}` on success.

use eventmap::Validator;
use eventmap_meta::MetaValidator;
use serde_json::{json, Value};

use crate::rules::Verdict;

/// The settings Meta's rules depend on.
pub(crate) struct MetaRules<'a> {
    pub access_token: &'a str,
    pub pixel_id: &'a str,
    pub now_ms: i64,
    /// Ids (`event_id`) refused with a 400 (Meta never names the event).
    pub poison: &'a (dyn Fn(&str) -> bool + Send + Sync),
}

/// `/v24.0/PIXEL/events` → the pixel; `None` for any other path.
pub(crate) fn pixel_of(path: &str) -> Option<&str> {
    let mut parts = path.strip_prefix('/')?.split('/');
    let (version, pixel, edge) = (parts.next()?, parts.next()?, parts.next()?);
    let version_ok = version.len() > 1
        && version.starts_with('v')
        && version[1..].chars().all(|c| c.is_ascii_digit() || c == '.');
    (version_ok && edge == "events" && parts.next().is_none() && !pixel.is_empty()).then_some(pixel)
}

impl MetaRules<'_> {
    /// Judges a request; `query_token` and `bearer` are the token given other than in
    /// the body.
    pub fn judge(
        &self,
        pixel: &str,
        query_token: Option<&str>,
        bearer: Option<&str>,
        body: &[u8],
    ) -> Verdict {
        let request = serde_json::from_slice::<Value>(body).ok();
        let token = request
            .as_ref()
            .and_then(|r| r["access_token"].as_str())
            .or(query_token)
            .or(bearer);
        if token != Some(self.access_token) {
            return graph_error(
                400,
                190,
                None,
                "Invalid OAuth access token - Cannot parse access token",
            );
        }
        if pixel != self.pixel_id {
            return graph_error(
                400,
                100,
                Some(33),
                "Unsupported post request. Object does not exist, cannot be loaded due to missing permissions, or does not support this operation",
            );
        }
        let Some(mut request) = request else {
            return graph_error(400, 100, None, "Invalid parameter: the body is not JSON");
        };
        let test = match request.get("test_event_code") {
            None => false,
            Some(Value::String(code)) if !code.is_empty() => true,
            Some(_) => return graph_error(400, 100, None, "Invalid parameter: test_event_code"),
        };
        let Some(events) = request.get("data").and_then(Value::as_array) else {
            return graph_error(400, 100, None, "The parameter data is required");
        };
        if events.is_empty() || events.len() > 1000 {
            return graph_error(
                400,
                100,
                None,
                "Invalid parameter: 1 to 1000 events in data",
            );
        }
        for (i, event) in events.iter().enumerate() {
            if event["event_id"].as_str().is_some_and(self.poison) {
                return graph_error(400, 100, None, "Invalid parameter");
            }
            if let Some(v) = MetaValidator::STRICT.validate(event, self.now_ms).first() {
                return graph_error(
                    400,
                    100,
                    None,
                    &format!("Invalid parameter: data[{i}].{} {}", v.path, v.message),
                );
            }
        }
        let events = match request.get_mut("data").map(Value::take) {
            Some(Value::Array(events)) => events,
            _ => Vec::new(),
        };
        Verdict::Accept {
            events,
            validate_only: test,
        }
    }
}

/// `{"error": {message, type, code, error_subcode?, fbtrace_id}}`.
fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Verdict {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code,
        "fbtrace_id": "AmockTrace"});
    if let Some(sub) = subcode {
        error["error_subcode"] = json!(sub);
    }
    Verdict::Refuse {
        status,
        body: json!({ "error": error }),
    }
}

/// The success body.
pub(crate) fn accepted(events: usize) -> Value {
    json!({"events_received": events, "messages": [], "fbtrace_id": "AmockTrace"})
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_262_400_000;

    fn rules() -> MetaRules<'static> {
        MetaRules {
            access_token: "tok",
            pixel_id: "123",
            now_ms: NOW,
            poison: &|id| id == "poison",
        }
    }

    fn event(id: &str, time: i64) -> Value {
        json!({"event_name": "PageView", "event_time": time, "event_id": id,
            "action_source": "website", "event_source_url": "https://shop.example/",
            "user_data": {"client_user_agent": "UA"}})
    }

    fn judge(pixel: &str, body: Value) -> (u16, Value) {
        match rules().judge(pixel, None, None, body.to_string().as_bytes()) {
            Verdict::Accept {
                events,
                validate_only,
            } => (200, json!({"n": events.len(), "test": validate_only})),
            Verdict::Refuse { status, body } => (status, body),
        }
    }

    #[test]
    fn paths_name_a_version_and_a_pixel() {
        assert_eq!(pixel_of("/v24.0/123/events"), Some("123"));
        assert_eq!(pixel_of("/v1/events"), None);
        assert_eq!(pixel_of("/v24.0/123/events/x"), None);
        assert_eq!(pixel_of("/24.0/123/events"), None);
    }

    #[test]
    fn the_documented_answers() {
        let now_s = NOW / 1000;
        let ok = json!({"data": [event("a", now_s)], "access_token": "tok"});
        assert_eq!(
            judge("123", ok.clone()),
            (200, json!({"n": 1, "test": false}))
        );
        let (status, body) = judge("999", ok);
        assert_eq!(
            (status, body["error"]["error_subcode"].as_i64()),
            (400, Some(33))
        );
        let bad_token = json!({"data": [event("a", now_s)], "access_token": "nope"});
        assert_eq!(judge("123", bad_token).1["error"]["code"], 190);
        let test = json!({"data": [event("a", now_s)], "access_token": "tok",
            "test_event_code": "TEST1"});
        assert_eq!(judge("123", test).1["test"], true);
        // One stale event refuses the whole request.
        let stale = json!({"data": [event("a", now_s), event("b", now_s - 8 * 86_400)],
            "access_token": "tok"});
        let (status, body) = judge("123", stale);
        assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(100)));
        let poisoned = json!({"data": [event("poison", now_s)], "access_token": "tok"});
        assert_eq!(judge("123", poisoned).0, 400);
    }
}
