//! The HTTP side of the intake: routing, write keys, CORS, gzip, limits and timeouts,
//! then the store (the spool, or Kafka). A 200 is sent only once the store has the events
//! safe.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::answers::{
    json_answer, payload_refusal, preflight, refusal, script, too_large, unknown_key, Answer,
};
use super::cors;
use super::idsync::CookieConfig;
use super::segment::{self, Endpoint};
use super::sources::{SharedSources, Source, Sources};
use super::store::EventStore;
use crate::delivery::Clock;
use crate::metrics::{AnswerLabel, Metrics, OutcomeLabel};
use crate::spool::Admission;

/// How the intake answers.
#[derive(Clone)]
pub struct IntakeConfig {
    /// The sources: their write keys (as the Basic user name, or `writeKey` in the
    /// body), the pages that may post with them, their limits and routes (spool lanes).
    /// A reload replaces them.
    pub sources: SharedSources,
    /// A request body must arrive within this.
    pub body_timeout: Duration,
    /// Seconds a client is told to wait when the store is full.
    pub retry_after_secs: u64,
    /// How `/v1/idsync` sets the oppref cookie.
    pub idsync: CookieConfig,
    /// Connections open at once at most; past it, new ones wait to be accepted.
    pub max_connections: usize,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            sources: SharedSources::default(),
            body_timeout: Duration::from_secs(10),
            retry_after_secs: 5,
            idsync: CookieConfig::default(),
            max_connections: 1024,
        }
    }
}

/// The intake's state, shared by every connection.
pub struct Intake {
    pub config: IntakeConfig,
    /// Where accepted events go: the spool, or a Kafka topic.
    pub store: Arc<dyn EventStore>,
    pub metrics: Metrics,
    /// The mapping compiled and delivery running: `/readyz` answers 200.
    pub ready: Arc<AtomicBool>,
    pub clock: Clock,
}

impl Intake {
    /// Answers one request.
    pub async fn handle(&self, request: Request<Incoming>) -> Answer {
        let started = Instant::now();
        let origin = request.headers().get(header::ORIGIN).cloned();
        let id_sync = request.uri().path().starts_with("/v1/idsync");
        let script = is_script_path(request.uri().path());
        let sources = self.config.sources.current();
        let mut answer = self.route(request, &sources).await;
        // An answer to a key's request carries the key's source: its pages, not every
        // source's, may read it.
        let source = answer.extensions_mut().remove::<Arc<Source>>();
        let allowed = source
            .as_ref()
            .map_or(sources.origins(), |s| s.cors_origins.as_slice());
        let headers = answer.headers_mut();
        if script {
            // A public file: any page may load it, also as a module (which needs CORS).
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        } else if let Some(origin) = origin {
            let allow = if id_sync {
                cors::listed_by_name(allowed, Some(&origin)).then_some(origin)
            } else {
                cors::allow_origin(allowed, &origin)
            };
            if let Some(allow) = allow {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
                if id_sync {
                    // The script's fetch sends and receives cookies; only ever with an
                    // origin listed by name, never with `*`.
                    headers.insert(
                        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                        HeaderValue::from_static("true"),
                    );
                }
            }
        }
        if !sources.origins().is_empty() && !script {
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        self.metrics
            .requests
            .get_or_create(&AnswerLabel {
                answer: answer.status().as_u16(),
            })
            .inc();
        self.metrics
            .request_duration
            .observe(started.elapsed().as_secs_f64());
        answer
    }

    async fn route(&self, request: Request<Incoming>, sources: &Sources) -> Answer {
        let path = request.uri().path().to_string();
        match (request.method(), path.as_str()) {
            // HEAD as GET (load balancers and uptime checks use it); hyper sends no body.
            (&Method::GET | &Method::HEAD, "/healthz") => {
                json_answer(StatusCode::OK, &json!({"status": "alive"}))
            }
            (&Method::GET | &Method::HEAD, "/readyz") => self.readiness(),
            (&Method::GET | &Method::HEAD, "/metrics") => self.metrics_page(),
            (&Method::GET | &Method::HEAD, p) if is_script_path(p) => script(&request, p),
            (&Method::POST, "/v1/idsync") => self.id_sync(&request, sources, IdSyncAction::Set),
            (&Method::POST, "/v1/idsync/revoke") => {
                self.id_sync(&request, sources, IdSyncAction::Revoke)
            }
            (&Method::OPTIONS, p) if segment::endpoint_for(p).is_some() || is_id_sync_path(p) => {
                preflight()
            }
            (_, p) if is_id_sync_path(p) => {
                let mut answer = refusal(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "the ID sync answers POST only (a GET, e.g. an image tag, sets nothing)",
                );
                answer
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
                answer
            }
            (&Method::POST, p) => match segment::endpoint_for(p) {
                Some(endpoint) => self.intake(endpoint, request, sources).await,
                None => refusal(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    &format!("no endpoint {p}"),
                ),
            },
            _ => refusal(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("no endpoint {path}"),
            ),
        }
    }

    /// `POST /v1/idsync?oppref=…` sets the oppref as a first-party cookie from the server;
    /// `POST /v1/idsync/revoke` deletes it. Only for pages of an origin listed by name
    /// (see [`cors`]): checked here, so a page elsewhere, a form or an image tag sets
    /// nothing even though its request reaches us.
    fn id_sync(
        &self,
        request: &Request<Incoming>,
        sources: &Sources,
        action: IdSyncAction,
    ) -> Answer {
        let origin = request.headers().get(header::ORIGIN);
        if !cors::listed_by_name(sources.origins(), origin) {
            return refusal(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "the ID sync sets a cookie, so it answers only pages of an origin given by name \
                 with --cors-origin (`*` does not count)",
            );
        }
        let https = request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
        let cookies = match action {
            IdSyncAction::Set => {
                let query = request.uri().query().unwrap_or_default();
                let oppref = eventmap::transforms::query_param_of(&format!("?{query}"), "oppref");
                let Some(oppref) = oppref.filter(|v| eventmap::transforms::valid_oppref(v)) else {
                    return refusal(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "oppref must be 1 to 256 URL-safe characters",
                    );
                };
                vec![self.config.idsync.set_cookie(&oppref, https)]
            }
            IdSyncAction::Revoke => self.config.idsync.clear_cookies(https),
        };
        let mut answer = Response::new(Full::new(Bytes::new()));
        *answer.status_mut() = StatusCode::NO_CONTENT;
        for cookie in cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                answer.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        answer
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        answer
    }

    fn readiness(&self) -> Answer {
        let writable = self.store.writable();
        let ready = self.ready.load(Ordering::SeqCst);
        let status = if writable && ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        json_answer(status, &json!({"store_writable": writable, "ready": ready}))
    }

    fn metrics_page(&self) -> Answer {
        let m = &self.metrics;
        self.store.observe(m);
        let mut answer = Response::new(Full::new(Bytes::from(m.encode())));
        answer.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        );
        answer
    }

    async fn intake(
        &self,
        endpoint: Endpoint,
        request: Request<Incoming>,
        sources: &Sources,
    ) -> Answer {
        let header_key = match basic_user(&request) {
            Ok(key) => key,
            Err(message) => return refusal(StatusCode::UNAUTHORIZED, "unauthorized", message),
        };
        // A beacon (`navigator.sendBeacon`) can set no header: RudderStack's SDK puts the
        // write key in the query instead.
        let header_key = header_key.or_else(|| {
            request.uri().query().and_then(|query| {
                eventmap::transforms::query_param_of(&format!("?{query}"), "writeKey")
                    .filter(|key| !key.is_empty())
            })
        });
        // Known early: a wrong key in the header is refused before the body is read, and
        // a right one gives its source's limits to read it within.
        let early = match &header_key {
            Some(key) => match sources.of_key(key) {
                Some(source) => Some(source),
                None => return unknown_key(),
            },
            None => None,
        };
        let origin = request.headers().get(header::ORIGIN).cloned();
        let gzipped = request
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
        let read_within = early.as_ref().map_or(*sources.largest(), |s| s.limits);
        let body = match self
            .read_body(request, gzipped, read_within.max_batch_bytes)
            .await
        {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        let mut payload = match segment::parse(endpoint, &body, &read_within) {
            Ok(payload) => payload,
            Err(e) => return payload_refusal(e),
        };
        let source = match early {
            Some(source) => source,
            None => match payload.write_key.as_deref().map(|key| sources.of_key(key)) {
                None => {
                    return refusal(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "no write key: send it as the Basic user name or as `writeKey`",
                    )
                }
                Some(None) => return unknown_key(),
                Some(Some(source)) => {
                    // Read within the largest limits of any source: now held to its own.
                    if source.limits != read_within {
                        if body.len() > source.limits.max_batch_bytes {
                            return too_large("the request body", source.limits.max_batch_bytes);
                        }
                        payload = match segment::parse(endpoint, &body, &source.limits) {
                            Ok(payload) => payload,
                            Err(e) => return payload_refusal(e),
                        };
                    }
                    source
                }
            },
        };
        let mut answer = self.admit(payload, &source, origin.as_ref()).await;
        answer.extensions_mut().insert(source);
        answer
    }

    /// Spools a payload of `source`'s, once its page (if a browser sent it) is one of
    /// the source's.
    async fn admit(
        &self,
        payload: segment::Payload<'_>,
        source: &Source,
        origin: Option<&HeaderValue>,
    ) -> Answer {
        // A browser names the page that posts: a key in one brand's pages is not for
        // another site's pages to post with from its visitors' browsers. Servers send no
        // Origin (and could forge one: the key is what guards them).
        if let Some(origin) = origin {
            if cors::allow_origin(&source.cors_origins, origin).is_none() {
                return refusal(
                    StatusCode::FORBIDDEN,
                    "origin_not_allowed",
                    "pages of this origin may not post with this write key: its source's \
                     `cors_origins` (--cors-origin) do not list it",
                );
            }
        }
        let lanes = source.lanes;
        let now_ms = self.clock.now_ms();
        let enriched = match payload.enrich(now_ms, lanes) {
            Ok(enriched) => enriched,
            Err(e) => return refusal(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &e.to_string()),
        };
        let offered = enriched.len() as u64;
        let urls_cut: u64 = enriched.iter().map(|e| u64::from(e.urls_cut)).sum();
        if urls_cut > 0 {
            self.metrics.urls_cut.inc_by(urls_cut);
        }
        match self.store.append(enriched, now_ms).await {
            Ok(Admission::Accepted {
                spooled,
                duplicates,
            }) => {
                self.count_events("accepted", spooled as u64);
                self.count_events("duplicate", duplicates as u64);
                json_answer(StatusCode::OK, &json!({"success": true}))
            }
            Ok(Admission::Full) => {
                self.count_events("refused", offered);
                let mut answer = refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("{}_full", self.store.name()),
                    &format!(
                        "the {} is full while delivery catches up; retry later",
                        self.store.name()
                    ),
                );
                answer.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(self.config.retry_after_secs),
                );
                answer
            }
            Err(e) => {
                self.count_events("refused", offered);
                refusal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("{}_error", self.store.name()),
                    &e.to_string(),
                )
            }
        }
    }

    fn count_events(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            self.metrics
                .events
                .get_or_create(&OutcomeLabel { outcome })
                .inc_by(n);
        }
    }

    /// The body, decompressed, within the size cap and the time limit.
    async fn read_body(
        &self,
        request: Request<Incoming>,
        gzipped: bool,
        cap: usize,
    ) -> Result<Vec<u8>, Answer> {
        let limited = Limited::new(request.into_body(), cap);
        let collected = tokio::time::timeout(self.config.body_timeout, limited.collect()).await;
        let raw = match collected {
            Err(_) => {
                return Err(refusal(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the request body did not arrive in time",
                ))
            }
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(too_large("the request body", cap))
            }
            Ok(Err(_)) => {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the body could not be read",
                ))
            }
            Ok(Ok(body)) => body.to_bytes(),
        };
        if !gzipped {
            return Ok(raw.to_vec());
        }
        // Decompress at most one byte past the cap: a gzip bomb costs the cap, no more.
        let mut out = Vec::new();
        let decoder = flate2::read::GzDecoder::new(raw.as_ref());
        match decoder.take(cap as u64 + 1).read_to_end(&mut out) {
            Ok(_) if out.len() > cap => Err(too_large("the decompressed body", cap)),
            Ok(_) => Ok(out),
            Err(e) => Err(refusal(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("the body is not valid gzip: {e}"),
            )),
        }
    }
}

/// The write key as the HTTP Basic user name (the server SDKs' way).
fn basic_user(request: &Request<Incoming>) -> Result<Option<String>, &'static str> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| "the Authorization header is not text")?;
    let Some(encoded) = text
        .strip_prefix("Basic ")
        .or_else(|| text.strip_prefix("basic "))
    else {
        return Err("Authorization must be Basic, with the write key as the user name");
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| "the Basic credentials are not base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "the Basic credentials are not UTF-8")?;
    let user = decoded
        .split_once(':')
        .map_or(decoded.as_str(), |(user, _)| user);
    Ok((!user.is_empty()).then(|| user.to_string()))
}

/// What `/v1/idsync` is asked to do.
#[derive(Clone, Copy)]
enum IdSyncAction {
    Set,
    Revoke,
}

fn is_id_sync_path(path: &str) -> bool {
    path == "/v1/idsync" || path == "/v1/idsync/revoke"
}

fn is_script_path(path: &str) -> bool {
    path == "/idsync.js" || path == "/idsync.mjs"
}
