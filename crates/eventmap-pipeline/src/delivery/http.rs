//! What every HTTP destination's sink does the same way: a client with the run's
//! timeouts, one POST read into status, `Retry-After` and body, and a request that got no
//! answer described without its URL (which may carry an id) or headers (which carry the
//! credentials).

use std::time::{Duration, SystemTime};

use reqwest::header::RETRY_AFTER;

use super::Transient;
use crate::destination::Timeouts;

/// An HTTP client for a sink: the run's timeouts and eventmap's user agent.
pub fn client(timeouts: &Timeouts) -> Result<reqwest::Client, String> {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read)
        .timeout(timeouts.total)
        .user_agent(concat!("eventmap/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.without_url().to_string())
}

/// Makes ring the process's TLS crypto, as every client of reqwest needs before it is
/// built (eventmap builds reqwest without a provider of its own; see the workspace's
/// Cargo.toml). Idempotent; a provider a host installed first stays.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A destination's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The server's `Retry-After`, as a delay from now.
    pub retry_after: Option<Duration>,
    /// The body; empty when it could not be read (the status is what the server decided:
    /// a lost error body only loses detail).
    pub body: Vec<u8>,
}

/// Sends the request and reads the whole answer; no answer at all is a [`Transient`].
pub async fn send(request: reqwest::RequestBuilder) -> Result<Answer, Transient> {
    let response = request.send().await.map_err(|e| transport_error(&e))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let body = response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// A request that got no response. The message names the kind of failure and its root
/// cause, never the URL or headers.
pub fn transport_error(err: &reqwest::Error) -> Transient {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "connection failed"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let message = match causes.last() {
        Some(root) => format!("{kind}: {root}"),
        None => kind.to_string(),
    };
    Transient {
        message,
        status: None,
        retry_after: None,
    }
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// The usual phrase for the statuses destinations answer with, for messages.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
