//! The playground's HTTP server: the page and its assets (built into the binary), and the
//! API the page calls, every request checked by the [`Guard`] first.

use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::guard::{Guard, Presented, TOKEN_HEADER};
use super::session::{SaveError, Session};
use super::{assets, evaluate};

/// A request body larger than this is refused (a mapping and its events are far smaller).
const MAX_BODY: usize = 16 * 1024 * 1024;

type Answer = Response<Full<Bytes>>;

pub(crate) struct Playground {
    pub guard: Guard,
    pub session: Session,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateRequest {
    mapping: String,
    events: Vec<Value>,
    #[serde(default)]
    params: Vec<String>,
    /// The clock (RFC 3339 or epoch ms) for timestamps and the destination's time
    /// window; now when absent.
    #[serde(default)]
    now: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveMappingRequest {
    mapping: String,
}

/// No path: the file a fixture goes to was fixed when the playground started.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveFixtureRequest {
    name: String,
    mapping: String,
    event: Value,
    #[serde(default)]
    params: Vec<String>,
    #[serde(default)]
    now: Option<String>,
}

impl Playground {
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Answer {
        let mut answer = match self.check(&request) {
            Err(refusal) => refused(StatusCode::FORBIDDEN, &refusal.to_string()),
            Ok(()) => self.route(request).await,
        };
        let headers = answer.headers_mut();
        for (name, value) in [
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            // The token is in the page's URL: no request may carry it elsewhere.
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
            (
                "content-security-policy",
                // CodeMirror adds its styles as style elements.
                "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                 connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
                 form-action 'none'; frame-ancestors 'none'",
            ),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        answer
    }

    fn check(&self, request: &Request<Incoming>) -> Result<(), super::guard::Refusal> {
        let text =
            |name: header::HeaderName| request.headers().get(name).and_then(|v| v.to_str().ok());
        let query_token = request
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
        let header_token = request
            .headers()
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok());
        let api = request.uri().path().starts_with("/api/");
        self.guard.check(&Presented {
            host: text(header::HOST),
            // The API takes it from the header only: a link or a form cannot set one.
            token: if api { header_token } else { query_token },
            origin: text(header::ORIGIN),
        })
    }

    async fn route(&self, request: Request<Incoming>) -> Answer {
        let path = request.uri().path().to_string();
        match (request.method().clone(), path.as_str()) {
            (Method::GET, "/") => {
                let page = assets::INDEX.replace("{{TOKEN}}", self.guard.token());
                asset(page.into_bytes(), "text/html; charset=utf-8")
            }
            (Method::GET, "/assets/playground.js") => asset(
                assets::SCRIPT.as_bytes().to_vec(),
                "text/javascript; charset=utf-8",
            ),
            (Method::GET, "/assets/playground.css") => {
                asset(assets::STYLE.as_bytes().to_vec(), "text/css; charset=utf-8")
            }
            (Method::GET, "/api/state") => match self.session.state() {
                Ok(state) => ok(&state),
                Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
            },
            (Method::POST, "/api/evaluate") => match body::<EvaluateRequest>(request).await {
                Ok(asked) => self.evaluate(&asked),
                Err(answer) => answer,
            },
            (Method::POST, "/api/save-mapping") => {
                match body::<SaveMappingRequest>(request).await {
                    Ok(asked) => match self.session.save_mapping(&asked.mapping) {
                        Ok(()) => {
                            ok(&json!({"file": self.session.mapping_file.display().to_string()}))
                        }
                        Err(e @ SaveError::ChangedOnDisk) => {
                            refused(StatusCode::CONFLICT, &e.to_string())
                        }
                        Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
                    },
                    Err(answer) => answer,
                }
            }
            (Method::POST, "/api/save-fixture") => {
                match body::<SaveFixtureRequest>(request).await {
                    Ok(asked) => self.save_fixture(&asked),
                    Err(answer) => answer,
                }
            }
            _ => refused(StatusCode::NOT_FOUND, &format!("no {path} here")),
        }
    }

    fn evaluate(&self, asked: &EvaluateRequest) -> Answer {
        let options = match evaluate::options(&asked.params) {
            Ok(options) => options,
            Err(e) => return refused(StatusCode::BAD_REQUEST, &format!("parameters: {e:#}")),
        };
        let now_ms = match clock(asked.now.as_deref()) {
            Ok(now_ms) => now_ms,
            Err(why) => return refused(StatusCode::BAD_REQUEST, &why),
        };
        let file = self.session.mapping_file.display().to_string();
        ok(&evaluate::evaluate(
            &file,
            &asked.mapping,
            &options,
            &asked.events,
            now_ms,
        ))
    }

    fn save_fixture(&self, asked: &SaveFixtureRequest) -> Answer {
        let name = asked.name.trim();
        if name.is_empty() {
            return refused(StatusCode::BAD_REQUEST, "a fixture needs a name");
        }
        let now_ms = match clock(asked.now.as_deref()) {
            Ok(now_ms) => now_ms,
            Err(why) => return refused(StatusCode::BAD_REQUEST, &why),
        };
        match self
            .session
            .save_fixture(name, &asked.mapping, &asked.event, &asked.params, now_ms)
        {
            Ok(expectation) => ok(&json!({
                "file": self.session.fixtures_file.display().to_string(),
                "expectation": expectation,
            })),
            Err(e @ (SaveError::MappingUnsaved | SaveError::MappingBroken)) => {
                refused(StatusCode::CONFLICT, &e.to_string())
            }
            Err(e) => refused(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    }
}

/// The page's clock (blank: now), or why it is not a time.
fn clock(now: Option<&str>) -> Result<i64, String> {
    match now.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(eventmap::EventContext::now().now_ms),
        Some(text) => crate::options::parse_now(text).map_err(|e| format!("clock: {e:#}")),
    }
}

/// The request's JSON body as `T`, or the answer saying why not.
async fn body<T: serde::de::DeserializeOwned>(request: Request<Incoming>) -> Result<T, Answer> {
    let bytes = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|_| {
            refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large or broken",
            )
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        refused(
            StatusCode::BAD_REQUEST,
            &format!("the request is not what the page sends: {e}"),
        )
    })
}

fn asset(body: Vec<u8>, content_type: &'static str) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
}

fn ok(value: &Value) -> Answer {
    asset(value.to_string().into_bytes(), "application/json")
}

fn refused(status: StatusCode, message: &str) -> Answer {
    let mut answer = ok(&json!({"error": message}));
    *answer.status_mut() = status;
    answer
}
