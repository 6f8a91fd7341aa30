//! [`MetaSink`]: one batch, one `POST {endpoint}/{version}/{pixel}/events`.
//!
//! The access token travels in the JSON body (`access_token`), which the Graph API takes
//! as it takes the query parameter, so that it never sits in a URL that proxies and
//! error messages print.

use eventmap_pipeline::delivery::http;
use eventmap_pipeline::delivery::{
    BatchOutcome, DeadReason, Fatal, OutgoingEvent, Rejection, Sink,
};
use eventmap_pipeline::destination::{Settings, SettingsError, Timeouts};
use reqwest::header::CONTENT_TYPE;
use reqwest::Url;
use serde_json::{json, Value};

use super::response::classify;
use crate::MAX_AGE_SECS;

/// The Graph API's host.
pub const DEFAULT_ENDPOINT: &str = "https://graph.facebook.com";
/// The Graph API version in the path; each is supported for at least two years.
pub const DEFAULT_API_VERSION: &str = "v24.0";
/// Meta's limit on events per request.
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Small batches limit what one bad event holds up (a request is refused as a whole).
pub const DEFAULT_BATCH_EVENTS: usize = 10;

/// Everything the sink needs to know.
#[derive(Clone)]
pub struct MetaSinkConfig {
    pub endpoint: String,
    /// `v24.0`: the Graph API version in the path.
    pub api_version: String,
    /// The pixel (dataset) id.
    pub pixel_id: String,
    access_token: String,
    /// Sent as `test_event_code` with test-mode batches: the events show under Events
    /// Manager's Test events (they are processed, not only validated).
    pub test_event_code: Option<String>,
    pub timeouts: Timeouts,
}

impl std::fmt::Debug for MetaSinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaSinkConfig")
            .field("endpoint", &self.endpoint)
            .field("api_version", &self.api_version)
            .field("pixel_id", &self.pixel_id)
            .field("access_token", &"<redacted>")
            .field("test_event_code", &self.test_event_code)
            .finish()
    }
}

impl MetaSinkConfig {
    /// The configuration from settings resolved against [`crate::SETTINGS`]. Test mode
    /// without a test event code is refused: Meta has no validate-only request, and
    /// without the code the events would count as real ones.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let required = |name: &str| {
            settings
                .get(name)
                .map(str::to_string)
                .ok_or_else(|| SettingsError::Invalid(format!("the `{name}` setting is needed")))
        };
        let config = Self {
            endpoint: settings
                .get("endpoint")
                .unwrap_or(DEFAULT_ENDPOINT)
                .to_string(),
            api_version: settings
                .get("api_version")
                .unwrap_or(DEFAULT_API_VERSION)
                .to_string(),
            pixel_id: required("pixel_id")?,
            access_token: required("access_token")?,
            test_event_code: settings.get("test_event_code").map(str::to_string),
            timeouts: settings.timeouts,
        };
        if settings.test_mode && config.test_event_code.is_none() {
            return Err(SettingsError::Invalid(
                "Meta's test mode needs a test event code (Events Manager > Test events): set META_TEST_EVENT_CODE (or pass --setting test_event_code=…)".into(),
            ));
        }
        Ok(config)
    }
}

/// Meta's Conversions API as an eventmap [`Sink`].
#[derive(Clone)]
pub struct MetaSink {
    client: reqwest::Client,
    url: Url,
    access_token: String,
    test_event_code: Option<String>,
}

impl MetaSink {
    pub fn new(config: &MetaSinkConfig) -> Result<Self, SettingsError> {
        let url = events_url(&config.endpoint, &config.api_version, &config.pixel_id)?;
        let client = http::client(&config.timeouts)
            .map_err(|e| SettingsError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            url,
            access_token: config.access_token.clone(),
            test_event_code: config.test_event_code.clone(),
        })
    }

    /// `{"data": [events as serialized], "test_event_code"?, "access_token"}`.
    fn body(&self, batch: &[OutgoingEvent], test_event_code: Option<&str>) -> String {
        let events_len: usize = batch.iter().map(|e| e.json.len() + 1).sum();
        let mut body = String::with_capacity(events_len + 64 + self.access_token.len());
        body.push_str("{\"data\":[");
        for (i, event) in batch.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&event.json);
        }
        body.push(']');
        if let Some(code) = test_event_code {
            body.push_str(",\"test_event_code\":");
            body.push_str(&Value::from(code).to_string());
        }
        body.push_str(",\"access_token\":");
        body.push_str(&Value::from(self.access_token.as_str()).to_string());
        body.push('}');
        body
    }
}

impl Sink for MetaSink {
    /// Meta refuses a whole request when one `event_time` in it is over 7 days old.
    fn check_before_send(&self, event: &OutgoingEvent, now_ms: i64) -> Result<(), Rejection> {
        let Some(time) = event_time(&event.json) else {
            return Ok(());
        };
        if now_ms.div_euclid(1000) - time > MAX_AGE_SECS {
            return Err(Rejection::new(
                DeadReason::Expired,
                "event_time was over 7 days old when it was due to be sent",
            ));
        }
        Ok(())
    }

    async fn send(&self, batch: &[OutgoingEvent], test_mode: bool) -> BatchOutcome {
        let code = match (test_mode, self.test_event_code.as_deref()) {
            (false, _) => None,
            (true, Some(code)) => Some(code),
            (true, None) => {
                return BatchOutcome::Fatal(Fatal {
                    reason: DeadReason::Refused,
                    status: None,
                    message: "a test-mode batch needs META_TEST_EVENT_CODE".into(),
                })
            }
        };
        let request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(self.body(batch, code));
        match http::send(request).await {
            Ok(answer) => classify(answer.status, answer.retry_after, &answer.body),
            Err(transient) => BatchOutcome::RetryLater(transient),
        }
    }
}

/// The event's `event_time`, read from its JSON text without building the rest.
fn event_time(json: &str) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct EventTime {
        event_time: Option<i64>,
    }
    serde_json::from_str::<EventTime>(json).ok()?.event_time
}

/// `{endpoint}/{version}/{pixel}/events`, the pixel id a path segment of its own.
fn events_url(endpoint: &str, version: &str, pixel_id: &str) -> Result<Url, SettingsError> {
    let bad = |what: &str| SettingsError::Invalid(what.to_string());
    let mut url = Url::parse(endpoint.trim_end_matches('/'))
        .map_err(|_| bad("the endpoint is not an http(s) URL with a host"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("the endpoint is not an http(s) URL with a host"));
    }
    let version_ok = version.len() > 1
        && version.starts_with('v')
        && version[1..].chars().all(|c| c.is_ascii_digit() || c == '.');
    if !version_ok {
        return Err(bad("the API version must look like v24.0"));
    }
    // Meta's ids are digits; a test server may use other names, never a path.
    if pixel_id.is_empty()
        || !pixel_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    {
        return Err(bad(
            "the pixel id must be letters, digits, `_` or `-` (Meta's are digits)",
        ));
    }
    url.path_segments_mut()
        .map_err(|()| bad("the endpoint is not an http(s) URL with a host"))?
        .pop_if_empty()
        .extend([version, pixel_id, "events"]);
    Ok(url)
}

/// The event `connect` sends with the test event code: a page view Meta shows under Test
/// events.
pub fn test_event(now_ms: i64) -> OutgoingEvent {
    let event = json!({
        "event_name": "PageView",
        "event_time": now_ms.div_euclid(1000),
        "event_id": format!("eventmap-connect-{now_ms}"),
        "action_source": "website",
        "event_source_url": "https://example.com/eventmap-connect-check",
        "user_data": {"client_user_agent": concat!("eventmap/", env!("CARGO_PKG_VERSION"))}
    });
    OutgoingEvent::new(format!("eventmap-connect-{now_ms}"), event, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventmap::Validator;

    fn config() -> MetaSinkConfig {
        MetaSinkConfig {
            endpoint: DEFAULT_ENDPOINT.into(),
            api_version: DEFAULT_API_VERSION.into(),
            pixel_id: "1234567890".into(),
            access_token: "EAAB-secret".into(),
            test_event_code: Some("TEST42".into()),
            timeouts: Timeouts::default(),
        }
    }

    #[test]
    fn the_url_names_the_version_and_pixel() {
        let url = events_url("https://graph.facebook.com/", "v24.0", "123").unwrap();
        assert_eq!(url.as_str(), "https://graph.facebook.com/v24.0/123/events");
        let url = events_url("http://127.0.0.1:9/meta", "v23.0", "9").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/meta/v23.0/9/events");
        assert!(events_url("ftp://x", "v24.0", "1").is_err());
        assert!(events_url("https://x", "24", "1").is_err());
        assert!(events_url("https://x", "v24.0", "1/../2").is_err());
    }

    #[test]
    fn the_body_carries_events_test_code_and_token_and_debug_hides_the_token() {
        let sink = MetaSink::new(&config()).unwrap();
        let batch = [OutgoingEvent::new("a", json!({"event_name": "A"}), true)];
        let body: Value = serde_json::from_str(&sink.body(&batch, Some("TEST42"))).unwrap();
        assert_eq!(
            body,
            json!({"data": [{"event_name": "A"}], "test_event_code": "TEST42",
                   "access_token": "EAAB-secret"})
        );
        let body: Value = serde_json::from_str(&sink.body(&batch, None)).unwrap();
        assert!(body.get("test_event_code").is_none());
        assert!(!format!("{:?}", config()).contains("secret"));
    }

    #[test]
    fn events_over_seven_days_old_are_not_sent() {
        let sink = MetaSink::new(&config()).unwrap();
        let now_ms = 1_800_000_000_000i64;
        let event = |t: i64| OutgoingEvent::new("e", json!({"event_time": t}), false);
        assert!(sink
            .check_before_send(&event(now_ms / 1000 - 60), now_ms)
            .is_ok());
        let old = sink
            .check_before_send(&event(now_ms / 1000 - MAX_AGE_SECS - 1), now_ms)
            .unwrap_err();
        assert_eq!(old.reason, DeadReason::Expired);
    }

    #[test]
    fn the_connect_event_is_valid() {
        let now = 1_800_000_000_000;
        let event = test_event(now).event();
        assert_eq!(crate::MetaValidator::STRICT.validate(&event, now), vec![]);
    }
}
