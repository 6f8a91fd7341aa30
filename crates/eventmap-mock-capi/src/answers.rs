//! The mock's small HTTP helpers: JSON and text answers, a request header, and the
//! message of a refusal for the request log.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;

/// The message of a refusal body, with the first listed error.
pub(crate) fn refusal_reason(body: &Value) -> String {
    let error = &body["error"];
    let message = error["message"].as_str().unwrap_or("refused");
    if let Some(code) = error["code"].as_i64() {
        return format!("code {code}: {message}");
    }
    match error["errors"][0]["message"].as_str() {
        Some(detail) => format!("{message} {detail}"),
        None => message.to_string(),
    }
}

/// A plain answer (the index page, a Graph error text) with its content type.
pub(crate) fn text_answer(text: &str, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

/// A request header as text, when it is text.
pub(crate) fn header(request: &Request<Incoming>, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A JSON answer with its status and, for a rate limit, `Retry-After`.
pub(crate) fn answer(status: u16, body: &Value, retry_after: Option<u64>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Some(seconds) = retry_after {
        headers.insert("retry-after", hyper::header::HeaderValue::from(seconds));
    }
    response
}
