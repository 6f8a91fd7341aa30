//! [`OpenAiSink`]: one batch, one `POST {endpoint}/v1/events?pid=…`.

use eventmap_pipeline::delivery::http;
use eventmap_pipeline::delivery::{BatchOutcome, DeadReason, OutgoingEvent, Rejection, Sink};
pub use eventmap_pipeline::destination::Timeouts;
use eventmap_pipeline::destination::{Settings, SettingsError};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Url;

use super::response::classify;
use super::Credentials;
use crate::timestamp_violation;

/// OpenAI's Conversions API host.
pub const DEFAULT_ENDPOINT: &str = "https://bzr.openai.com";
/// The starter kit's batch size: small batches limit what one bad event can hold up.
pub const DEFAULT_BATCH_EVENTS: usize = 10;
/// The API's limit on events per request.
pub const MAX_BATCH_EVENTS: usize = 1000;

/// Everything the sink needs to know.
#[derive(Debug, Clone)]
pub struct OpenAiSinkConfig {
    /// `https://bzr.openai.com` unless testing against another server.
    pub endpoint: String,
    pub credentials: Credentials,
    /// Sent as `integration_source` on every request when set.
    pub integration_source: Option<String>,
    pub timeouts: Timeouts,
}

impl OpenAiSinkConfig {
    pub fn new(credentials: Credentials) -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            credentials,
            integration_source: None,
            timeouts: Timeouts::default(),
        }
    }

    /// The configuration from settings resolved against [`crate::SETTINGS`].
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let credentials = Credentials::new(
            settings.get("pixel_id").unwrap_or_default(),
            settings.get("api_key").unwrap_or_default(),
        )
        .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        Ok(Self {
            endpoint: settings
                .get("endpoint")
                .unwrap_or(DEFAULT_ENDPOINT)
                .to_string(),
            credentials,
            integration_source: settings.get("integration_source").map(str::to_string),
            timeouts: settings.timeouts,
        })
    }
}

/// A configuration the sink cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum SinkConfigError {
    #[error("endpoint `{0}` is not an http(s) URL with a host")]
    Endpoint(String),
    #[error(
        "integration source `{0}` must be 1-64 letters, digits, `.`, `_` or `-`, starting \
         with a letter or digit"
    )]
    IntegrationSource(String),
    #[error("the conversions API key cannot be sent in an HTTP header")]
    KeyHeader,
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// The Conversions API as an eventmap [`Sink`].
#[derive(Debug, Clone)]
pub struct OpenAiSink {
    client: reqwest::Client,
    url: Url,
    authorization: HeaderValue,
    integration_source: Option<String>,
}

impl OpenAiSink {
    pub fn new(config: &OpenAiSinkConfig) -> Result<Self, SinkConfigError> {
        let url = events_url(&config.endpoint, &config.credentials.pixel_id)?;
        if let Some(source) = &config.integration_source {
            if !valid_integration_source(source) {
                return Err(SinkConfigError::IntegrationSource(source.clone()));
            }
        }
        let bearer = format!("Bearer {}", config.credentials.api_key.expose());
        let mut authorization =
            HeaderValue::from_str(&bearer).map_err(|_| SinkConfigError::KeyHeader)?;
        // Keeps the header out of debug output and HTTP/2 header compression tables.
        authorization.set_sensitive(true);
        let client = http::client(&config.timeouts).map_err(SinkConfigError::Client)?;
        Ok(Self {
            client,
            url,
            authorization,
            integration_source: config.integration_source.clone(),
        })
    }

    /// The request body: the events' JSON as serialized once, inside the envelope.
    fn body(&self, batch: &[OutgoingEvent], validate_only: bool) -> String {
        let events_len: usize = batch.iter().map(|e| e.json.len() + 1).sum();
        let mut body = String::with_capacity(events_len + 96);
        body.push('{');
        if validate_only {
            body.push_str("\"validate_only\":true,");
        }
        if let Some(source) = &self.integration_source {
            body.push_str("\"integration_source\":");
            body.push_str(&serde_json::Value::from(source.as_str()).to_string());
            body.push(',');
        }
        body.push_str("\"events\":[");
        for (i, event) in batch.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&event.json);
        }
        body.push_str("]}");
        body
    }

    /// Sends one request; also used by the credentials check.
    pub(crate) async fn post(&self, batch: &[OutgoingEvent], validate_only: bool) -> BatchOutcome {
        let request = self
            .client
            .post(self.url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(self.body(batch, validate_only));
        match http::send(request).await {
            Ok(answer) => classify(answer.status, answer.retry_after, &answer.body, batch.len()),
            Err(transient) => BatchOutcome::RetryLater(transient),
        }
    }
}

/// The event's `timestamp_ms`, read from its JSON text without building the rest.
fn timestamp_ms(json: &str) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct EventTime {
        timestamp_ms: Option<i64>,
    }
    serde_json::from_str::<EventTime>(json).ok()?.timestamp_ms
}

impl Sink for OpenAiSink {
    /// The API judges the timestamp window when it receives an event.
    fn check_before_send(&self, event: &OutgoingEvent, now_ms: i64) -> Result<(), Rejection> {
        let Some(timestamp) = timestamp_ms(&event.json) else {
            return Ok(());
        };
        match timestamp_violation(timestamp, now_ms) {
            None => Ok(()),
            Some(violation) => {
                let reason = if timestamp < now_ms {
                    DeadReason::Expired
                } else {
                    DeadReason::Invalid
                };
                Err(Rejection {
                    reason,
                    status: None,
                    code: None,
                    message: format!(
                        "{} {} when it was due to be sent",
                        violation.path, violation.message
                    ),
                })
            }
        }
    }

    async fn send(&self, batch: &[OutgoingEvent], test_mode: bool) -> BatchOutcome {
        self.post(batch, test_mode).await
    }
}

/// `{endpoint}/v1/events?pid={pixel}`, the pixel id URL-encoded.
fn events_url(endpoint: &str, pixel_id: &str) -> Result<Url, SinkConfigError> {
    let bad = || SinkConfigError::Endpoint(endpoint.to_string());
    let mut url = Url::parse(endpoint.trim_end_matches('/')).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    let path = format!("{}/v1/events", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.query_pairs_mut().clear().append_pair("pid", pixel_id);
    Ok(url)
}

/// `integration_source` as the API takes it: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
pub fn valid_integration_source(source: &str) -> bool {
    let mut chars = source.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && source.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_url_carries_the_encoded_pixel_id() {
        let url = events_url("https://bzr.openai.com/", "px 1&x").unwrap();
        assert_eq!(
            url.as_str(),
            "https://bzr.openai.com/v1/events?pid=px+1%26x"
        );
        let url = events_url("http://127.0.0.1:8080/capi", "p").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/capi/v1/events?pid=p");
        assert!(events_url("ftp://x", "p").is_err());
        assert!(events_url("not a url", "p").is_err());
    }

    #[test]
    fn integration_sources_follow_the_api_pattern() {
        assert!(valid_integration_source("eventmap"));
        assert!(valid_integration_source("a.b_c-1"));
        assert!(!valid_integration_source(""));
        assert!(!valid_integration_source("-lead"));
        assert!(!valid_integration_source("has space"));
        assert!(!valid_integration_source(&"a".repeat(65)));
        assert!(valid_integration_source(&"a".repeat(64)));
    }

    #[test]
    fn the_body_wraps_the_events_as_serialized() {
        let creds = Credentials::new("px", "key").unwrap();
        let mut config = OpenAiSinkConfig::new(creds);
        config.integration_source = Some("eventmap".into());
        let sink = OpenAiSink::new(&config).unwrap();
        let batch = [
            OutgoingEvent::new("a", json!({"id": "a"}), true),
            OutgoingEvent::new("b", json!({"id": "b"}), true),
        ];
        let body: serde_json::Value = serde_json::from_str(&sink.body(&batch, true)).unwrap();
        assert_eq!(
            body,
            json!({"validate_only": true, "integration_source": "eventmap",
                   "events": [{"id": "a"}, {"id": "b"}]})
        );
        let body: serde_json::Value = serde_json::from_str(&sink.body(&batch, false)).unwrap();
        assert!(body.get("validate_only").is_none());
    }

    #[test]
    fn events_that_left_the_window_are_not_sent() {
        let sink =
            OpenAiSink::new(&OpenAiSinkConfig::new(Credentials::new("p", "k").unwrap())).unwrap();
        let now = 1_800_000_000_000i64;
        let event = |ts: i64| OutgoingEvent::new("e", json!({"timestamp_ms": ts}), false);
        assert!(sink.check_before_send(&event(now - 1000), now).is_ok());
        let old = sink
            .check_before_send(&event(now - crate::MAX_AGE_MS - 1), now)
            .unwrap_err();
        assert_eq!(old.reason, DeadReason::Expired);
        let ahead = sink
            .check_before_send(&event(now + crate::MAX_AHEAD_MS + 1), now)
            .unwrap_err();
        assert_eq!(ahead.reason, DeadReason::Invalid);
    }
}
