//! A mock of each destination's Conversions API, for tests and local trials.
//!
//! It serves real HTTP on 127.0.0.1 (a port of its own choosing) and speaks each
//! destination's wire on its own path, with one key and one pixel id for both:
//!
//! - OpenAI, `POST /v1/events?pid=`: the documented rules (`Authorization: Bearer {key}`
//!   else 401, `?pid=` else 400 or 403, 1 to 1000 events, every event valid and inside
//!   the timestamp window or the whole batch fails naming `events[i]`);
//! - Meta, `POST /{version}/{pixel}/events` ([`meta`]): the access token, the pixel,
//!   1 to 1000 events in `data`, one invalid or stale event refusing the whole request
//!   with a Graph API error, `test_event_code` as test mode.
//!
//! It can inject faults on either: error statuses, 429 with `Retry-After`, slow answers
//! and dropped connections. It records every event it accepted (by `id`, or Meta's
//! `event_id`), so tests can check what was delivered and how many times.

mod answers;
mod faults;
mod meta;
mod rules;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use eventmap::transforms::query_param_of;
use eventmap_pipeline::delivery::Clock;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use answers::{answer, header, refusal_reason, text_answer};
use faults::Faults;
pub use faults::{Fault, FaultPlan};
use rules::{Rules, Verdict};

type IdTest = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// How the mock behaves.
pub struct MockConfig {
    pub api_key: String,
    pub pixel_id: String,
    /// The clock the timestamp window is judged by.
    pub clock: Clock,
    pub faults: FaultPlan,
    /// Event ids the mock refuses with a 400 naming their index (as if invalid in a way
    /// the client cannot check).
    pub poison_named: IdTest,
    /// Event ids the mock refuses with a 400 that names no event.
    pub poison_unnamed: IdTest,
    /// Print a line per request on stderr (status, events, reason): the program does.
    pub log_requests: bool,
    /// Append each event it records to this file, one JSON line each.
    pub record_file: Option<std::path::PathBuf>,
}

impl MockConfig {
    pub fn new(api_key: &str, pixel_id: &str) -> Self {
        Self {
            api_key: api_key.to_string(),
            pixel_id: pixel_id.to_string(),
            clock: Clock::system(),
            faults: FaultPlan::None,
            poison_named: Box::new(|_| false),
            poison_unnamed: Box::new(|_| false),
            log_requests: false,
            record_file: None,
        }
    }
}

/// One request as the mock saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub events: usize,
    pub validate_only: bool,
    /// The status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    pub fault: Option<Fault>,
}

/// What the mock has seen.
#[derive(Debug, Default, Clone)]
pub struct Record {
    pub requests: Vec<RequestRecord>,
    /// Times each event id was accepted and recorded (not `validate_only`).
    pub delivered: HashMap<String, u32>,
    /// Times each event id was accepted in test mode (validated, not recorded).
    pub validated: HashMap<String, u32>,
    /// Ids recorded in a request whose answer the client never got (dropped or too
    /// slow): a resend of these is a duplicate the client could not avoid.
    pub unanswered: HashSet<String>,
    /// The `(type, id)` pairs the mock accepted; OpenAI deduplicates on these.
    pub types: HashMap<String, String>,
    /// The last event accepted under each id, as it was sent.
    pub events: HashMap<String, Value>,
    /// The ids recorded, in the order each was first recorded (`GET /events`).
    pub order: Vec<String>,
}

struct Server {
    config: MockConfig,
    faults: Faults,
    record: Mutex<Record>,
    /// `record_file`, open for appending.
    record_file: Option<Mutex<std::fs::File>>,
}

impl Server {
    fn record(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running mock; it stops when dropped.
pub struct MockCapi {
    addr: SocketAddr,
    server: Arc<Server>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockCapi {
    /// Starts the mock on 127.0.0.1 on its own thread and runtime, so it serves callers
    /// on any thread, in async tests and plain ones alike.
    pub fn start(config: MockConfig) -> std::io::Result<Self> {
        Self::start_on(config, 0)
    }

    /// [`MockCapi::start`] on a chosen port (0: any free one).
    pub fn start_on(config: MockConfig, port: u16) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut config = config;
        let plan = std::mem::replace(&mut config.faults, FaultPlan::None);
        let record_file = match &config.record_file {
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )),
            None => None,
        };
        let server = Arc::new(Server {
            config,
            faults: Faults::new(plan),
            record: Mutex::new(Record::default()),
            record_file,
        });
        let (stop, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let serving = Arc::clone(&server);
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else {
                    return;
                };
                serve(listener, serving, stopped).await;
            });
        });
        Ok(Self {
            addr,
            server,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:{port}`: the `--endpoint` to give the client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A copy of what the mock has seen so far.
    pub fn record(&self) -> Record {
        self.server.record().clone()
    }

    /// How many distinct event ids were recorded, without copying the record.
    pub fn delivered_count(&self) -> usize {
        self.server.record().delivered.len()
    }
}

impl MockCapi {
    /// Serves until the process is stopped (for the command-line mock).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MockCapi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: TcpListener, server: Arc<Server>, mut stopped: oneshot::Receiver<()>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let server = Arc::clone(&server);
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let server = Arc::clone(&server);
                        async move { handle(&server, request).await }
                    });
                    // A dropped-connection fault ends the connection with an error.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
    connections.abort_all();
}

/// Returned by the service to make hyper close the connection without an answer.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault: connection dropped")
    }
}

impl std::error::Error for DropConnection {}

async fn handle(
    server: &Server,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let path = request.uri().path().to_string();
    let wire = match (request.method(), path.as_str()) {
        (&hyper::Method::POST, "/v1/events") => Wire::OpenAi,
        (&hyper::Method::POST, path) if meta::pixel_of(path).is_some() => Wire::Meta,
        (&hyper::Method::GET, "/") => return Ok(text_answer(INDEX, "text/plain")),
        (&hyper::Method::GET, "/events") => {
            return Ok(text_answer(
                &server.accepted_ndjson(),
                "application/x-ndjson",
            ))
        }
        _ => {
            return Ok(answer(
                404,
                &json!({"error": {"message": "Not Found"}}),
                None,
            ))
        }
    };
    let authorization = header(&request, "authorization");
    let uri = request.uri().to_string();
    let pid = query_param_of(&uri, "pid");
    let Ok(body) = request.into_body().collect().await.map(|b| b.to_bytes()) else {
        return Err(DropConnection);
    };
    let n = {
        let mut record = server.record();
        record.requests.push(RequestRecord {
            events: 0,
            validate_only: false,
            status: None,
            fault: None,
        });
        record.requests.len() as u64 - 1
    };
    let fault = server.faults.for_request(n);
    let note = |status: Option<u16>, events: usize, validate_only: bool, why: &str| {
        if server.config.log_requests {
            eprintln!(
                "{}",
                request_line(&path, status, events, validate_only, why)
            );
        }
        if let Some(r) = server.record().requests.get_mut(n as usize) {
            *r = RequestRecord {
                events,
                validate_only,
                status,
                fault,
            };
        }
    };
    match fault {
        Some(Fault::Status(status)) => {
            note(Some(status), 0, false, "an injected fault");
            let body =
                json!({"error": {"message": "The server had an error", "type": "server_error"}});
            return Ok(answer(status, &body, None));
        }
        Some(Fault::RateLimited { retry_after_secs }) => {
            note(Some(429), 0, false, "an injected fault (rate limited)");
            let body =
                json!({"error": {"message": "Rate limit reached", "type": "rate_limit_error"}});
            return Ok(answer(429, &body, Some(retry_after_secs)));
        }
        Some(Fault::Drop { recorded: false }) => {
            note(None, 0, false, "an injected fault (connection dropped)");
            return Err(DropConnection);
        }
        Some(Fault::Slow {
            delay,
            recorded: false,
        }) => tokio::time::sleep(delay).await,
        _ => {}
    }
    let config = &server.config;
    let now_ms = config.clock.now_ms();
    let verdict = match wire {
        Wire::OpenAi => Rules {
            api_key: &config.api_key,
            pixel_id: &config.pixel_id,
            now_ms,
            poison_named: &config.poison_named,
            poison_unnamed: &config.poison_unnamed,
        }
        .judge(authorization.as_deref(), pid.as_deref(), &body),
        Wire::Meta => {
            let poison = |id: &str| (config.poison_named)(id) || (config.poison_unnamed)(id);
            meta::MetaRules {
                access_token: &config.api_key,
                pixel_id: &config.pixel_id,
                now_ms,
                poison: &poison,
            }
            .judge(
                meta::pixel_of(&path).unwrap_or_default(),
                query_param_of(&uri, "access_token").as_deref(),
                authorization
                    .as_deref()
                    .and_then(|a| a.strip_prefix("Bearer ")),
                &body,
            )
        }
    };
    match verdict {
        Verdict::Refuse { status, body } => {
            note(Some(status), 0, false, &refusal_reason(&body));
            Ok(answer(status, &body, None))
        }
        Verdict::Accept {
            events,
            validate_only,
        } => {
            let unanswered = matches!(
                fault,
                Some(Fault::Drop { recorded: true } | Fault::Slow { recorded: true, .. })
            );
            let accepted = events.len();
            {
                let mut record = server.record();
                for event in events {
                    let text = |k: &str| event[k].as_str().unwrap_or_default().to_string();
                    let (id, event_type) = match wire {
                        Wire::OpenAi => (text("id"), text("type")),
                        Wire::Meta => (text("event_id"), text("event_name")),
                    };
                    let counts = if validate_only {
                        &mut record.validated
                    } else {
                        &mut record.delivered
                    };
                    *counts.entry(id.clone()).or_default() += 1;
                    if !validate_only {
                        if let Some(file) = &server.record_file {
                            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
                            let _ = writeln!(file, "{event}");
                        }
                        record.types.insert(id.clone(), event_type);
                        if record.events.insert(id.clone(), event).is_none() {
                            record.order.push(id.clone());
                        }
                        if unanswered {
                            record.unanswered.insert(id);
                        }
                    }
                }
            }
            note(
                (!matches!(fault, Some(Fault::Drop { .. }))).then_some(200),
                accepted,
                validate_only,
                "",
            );
            match fault {
                Some(Fault::Drop { .. }) => return Err(DropConnection),
                Some(Fault::Slow { delay, .. }) => tokio::time::sleep(delay).await,
                _ => {}
            }
            let body = match wire {
                Wire::OpenAi => json!({"accepted_events": accepted}),
                Wire::Meta => meta::accepted(accepted),
            };
            Ok(answer(200, &body, None))
        }
    }
}

/// Which destination's wire a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    OpenAi,
    Meta,
}

/// What `GET /` says.
const INDEX: &str = "eventmap-mock-capi: a mock of each destination's Conversions API\n\n\
POST /v1/events?pid=PIXEL          OpenAI (Authorization: Bearer KEY)\n\
POST /VERSION/PIXEL/events         Meta (access_token in the body; test_event_code: test mode)\n\
GET  /events                       the events it recorded, one JSON line each, in arrival order\n";

impl Server {
    fn accepted_ndjson(&self) -> String {
        let record = self.record();
        record
            .order
            .iter()
            .filter_map(|id| record.events.get(id))
            .map(|event| format!("{event}\n"))
            .collect()
    }
}

/// One line a person reads per request: the answer, the events, and why.
fn request_line(
    path: &str,
    status: Option<u16>,
    events: usize,
    validate_only: bool,
    why: &str,
) -> String {
    let status = status.map_or("dropped".to_string(), |s| s.to_string());
    let what = match (events, validate_only) {
        (0, _) => String::new(),
        (n, true) => format!(": {n} event(s) validated (test mode, nothing recorded)"),
        (n, false) => format!(": {n} event(s) recorded"),
    };
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(": {why}")
    };
    format!("POST {path} -> {status}{what}{why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_says_the_answer_the_events_and_why() {
        assert_eq!(
            request_line("/v1/events", Some(200), 25, false, ""),
            "POST /v1/events -> 200: 25 event(s) recorded"
        );
        assert_eq!(
            request_line("/v1/events", Some(200), 1, true, ""),
            "POST /v1/events -> 200: 1 event(s) validated (test mode, nothing recorded)"
        );
        let body = json!({"error": {"message": "Invalid event at events[1]. See errors for details.",
            "errors": [{"message": "events[1].data.type must be a supported data type."}]}});
        assert_eq!(
            request_line("/v1/events", Some(400), 0, false, &refusal_reason(&body)),
            "POST /v1/events -> 400: Invalid event at events[1]. See errors for details. \
             events[1].data.type must be a supported data type."
        );
        assert_eq!(
            request_line(
                "/v1/events",
                None,
                0,
                false,
                "an injected fault (connection dropped)"
            ),
            "POST /v1/events -> dropped: an injected fault (connection dropped)"
        );
    }
}
