//! The intake's answers that are not an intake: refusals (a JSON body with a code and a
//! message), a payload too large, the CORS preflight, and the ID sync script.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use super::idsync;
use super::segment::PayloadError;

pub(super) type Answer = Response<Full<Bytes>>;

/// The answer to a payload that is not one.
pub(super) fn payload_refusal(error: PayloadError) -> Answer {
    match error {
        PayloadError::Malformed(message) => {
            refusal(StatusCode::BAD_REQUEST, "bad_request", &message)
        }
        e @ PayloadError::TooLarge { .. } => {
            refusal(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &e.to_string())
        }
    }
}

pub(super) fn unknown_key() -> Answer {
    refusal(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "unknown write key",
    )
}

pub(super) fn too_large(what: &str, cap: usize) -> Answer {
    refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &format!("{what} is over the limit of {cap} bytes"),
    )
}

/// The ID sync script (or its module wrapper), cacheable and revalidated by its ETag.
pub(super) fn script(request: &Request<Incoming>, path: &str) -> Answer {
    let (body, etag) = if path == "/idsync.mjs" {
        (idsync::MODULE, idsync::etag(idsync::MODULE))
    } else {
        (idsync::SCRIPT, idsync::etag(idsync::SCRIPT))
    };
    let fresh = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut answer = if fresh {
        let mut answer = Response::new(Full::new(Bytes::new()));
        *answer.status_mut() = StatusCode::NOT_MODIFIED;
        answer
    } else {
        let mut answer = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        answer.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/javascript; charset=utf-8"),
        );
        answer
    };
    let headers = answer.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    answer
}

/// The request headers browsers may send to the event endpoints.
const PREFLIGHT_HEADERS: &str = "Content-Type, Authorization, Content-Encoding, Accept, \
     AnonymousId, Rsa-Recovered, Rsa-Retry-Attempt, Rsa-Since-Last-Attempt, \
     Rsa-Since-First-Attempt, Rsa-Retry-Reason";

pub(super) fn preflight() -> Answer {
    let mut answer = Response::new(Full::new(Bytes::new()));
    *answer.status_mut() = StatusCode::NO_CONTENT;
    let headers = answer.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        // What analytics.js (Segment) and RudderStack's JS SDK send: RudderStack adds the
        // anonymous id and, on retries, how it is retrying.
        HeaderValue::from_static(PREFLIGHT_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    answer
}

pub(super) fn json_answer(status: StatusCode, body: &serde_json::Value) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body.to_string())));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    answer
}

pub(super) fn refusal(status: StatusCode, code: &str, message: &str) -> Answer {
    json_answer(
        status,
        &json!({"success": false, "error": {"code": code, "message": message}}),
    )
}
