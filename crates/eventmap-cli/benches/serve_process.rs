//! `eventmap serve` measured from outside, against `eventmap map --threads 1` on the same
//! events, in one run:
//!
//! `cargo bench -p eventmap-cli --bench serve_process [-- EVENTS ROUNDS CONNECTIONS]`
//!
//! Each round, on the generated Segment corpus (crates/eventmap/benches/corpus.rs):
//!
//! 1. **map**: `eventmap map --threads 1` over the corpus file, whole process (the
//!    baseline);
//! 2. **ingest**: `eventmap serve` (the release binary, its destination down) takes the
//!    corpus from a load generator in **another process** (this bench, started again as
//!    the client) posting batches of 100 over CONNECTIONS keep-alive connections; the
//!    rate of 200s (each after the spool's fsync) and their p50/p99 latency;
//! 3. **end to end**: the same with the mock Conversions API up in a process of its own
//!    (this bench again): the rate from the first post until the spool is empty (every
//!    event delivered, skipped or dead-lettered), and the deepest the spool got (read
//!    from `/metrics` every 50 ms); deliveries in batches of 100. Twice: posting as fast
//!    as serve answers (the capacity), and posting at a steady 40,000 events/s
//!    (`EVENTMAP_BENCH_RATE`), where a spool that stays shallow shows the pipeline keeps
//!    up.
//!
//! Reports medians and the ratio ingest / map. With `EVENTMAP_BENCH_BEFORE=<an older
//! eventmap binary>`, each round also measures that binary's ingest, for the ratio of
//! this build's to it. A benchmark, not a test: it asserts nothing about time.

#[path = "../../eventmap/benches/corpus.rs"]
mod corpus;
#[path = "../../eventmap-pipeline/benches/http_answer.rs"]
mod http_answer;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The corpus's clock for `map`: its events fall on the six days before it. `serve`
/// needs none: each event's `sentAt` equals its `timestamp`, so the intake's skew
/// correction stamps it with the time it arrives.
const NOW: &str = "2026-11-21T12:00:00Z";
const BATCH: usize = 100;
/// Events per request to the destination (the default is OpenAI's 10; a host with this
/// much traffic sends larger batches, up to its 1,000).
const DELIVERY_BATCH: usize = 100;
const KEY: &str = "sk-bench";
const PIXEL: &str = "px-bench";
/// `bench-key:` in base64: the write key as the Basic user name, as the SDKs send it.
const WRITE_KEY: &str = "bench-key";
const BASIC_AUTH: &str = "YmVuY2gta2V5Og==";

fn main() {
    match std::env::var("EVENTMAP_BENCH_ROLE").as_deref() {
        Ok("client") => return client(),
        Ok("mock") => return mock(),
        // For profiling by hand: `EVENTMAP_BENCH_ROLE=corpus <bench> EVENTS FILE`.
        Ok("corpus") => {
            let args: Vec<String> = std::env::args().skip(1).collect();
            let events = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
            corpus::write(std::path::Path::new(&args[1]), events);
            return;
        }
        _ => {}
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let events: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let connections: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let dir = std::env::temp_dir().join(format!("eventmap-bench-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("corpus.ndjson");
    let bytes = corpus::write(&file, events);

    let this = std::path::PathBuf::from(env!("CARGO_BIN_EXE_eventmap"));
    let before = std::env::var_os("EVENTMAP_BENCH_BEFORE").map(std::path::PathBuf::from);
    let (mut maps, mut ingests, mut e2es, mut befores, mut paced) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // The steady load of the end-to-end run (EVENTMAP_BENCH_RATE, events/s).
    let steady_rate: u32 = std::env::var("EVENTMAP_BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40_000);
    for round in 0..rounds {
        maps.push(time_map(&file));
        let spool = |name: &str| dir.join(format!("{name}-{round}"));
        if let Some(before) = &before {
            let run = run_serve(before, &spool("before"), &file, connections, None, None);
            befores.push(run);
        }
        ingests.push(run_serve(
            &this,
            &spool("down"),
            &file,
            connections,
            None,
            None,
        ));
        let mock = Mock::start();
        e2es.push(run_serve(
            &this,
            &spool("up"),
            &file,
            connections,
            Some(&mock),
            None,
        ));
        let mock = Mock::start();
        let steady = Some(steady_rate);
        paced.push(run_serve(
            &this,
            &spool("paced"),
            &file,
            connections,
            Some(&mock),
            steady,
        ));
        eprintln!("round {} of {rounds} done", round + 1);
    }
    let _ = std::fs::remove_dir_all(&dir);

    let map = median(maps.iter().map(Duration::as_secs_f64).collect());
    let map_rate = events as f64 / map;
    let ingest_rate = median(ingests.iter().map(|r| r.rate).collect());
    let e2e_rate = median(e2es.iter().map(|r| r.rate).collect());
    println!(
        "serve_process: {events} events ({:.0} bytes a line), batches of {BATCH} over {connections} connections, {rounds} rounds (median)",
        bytes as f64 / events as f64
    );
    println!("  map --threads 1                {map_rate:>9.0} events/s");
    println!(
        "  serve durable ingest           {ingest_rate:>9.0} events/s   p50 {:.1} ms  p99 {:.1} ms",
        median(ingests.iter().map(|r| r.p50_ms).collect()),
        median(ingests.iter().map(|r| r.p99_ms).collect())
    );
    println!(
        "  serve end to end (mock up)     {e2e_rate:>9.0} events/s   deepest spool {} events, {} delivered",
        e2es.iter().map(|r| r.deepest).max().unwrap_or(0),
        e2es.first().map_or(0, |r| r.delivered)
    );
    if !befores.is_empty() {
        let before_rate = median(befores.iter().map(|r| r.rate).collect());
        println!(
            "  serve ingest, the older binary {before_rate:>9.0} events/s   p50 {:.1} ms  p99 {:.1} ms",
            median(befores.iter().map(|r| r.p50_ms).collect()),
            median(befores.iter().map(|r| r.p99_ms).collect())
        );
        println!(
            "  ratio ingest / older binary    {:>9.2}",
            ingest_rate / before_rate
        );
    }
    println!(
        "  serve end to end, posted at {:.0}/s: deepest spool {} events, empty {:.2} s after the last post",
        median(paced.iter().map(|r| events as f64 / r.posted_for.as_secs_f64()).collect()),
        paced.iter().map(|r| r.deepest).max().unwrap_or(0),
        median(paced.iter().map(|r| r.tail.as_secs_f64()).collect())
    );
    println!(
        "  ratio ingest / map             {:>9.2}",
        ingest_rate / map_rate
    );
    println!(
        "  ratio end to end / map         {:>9.2}",
        e2e_rate / map_rate
    );
    for (i, (ingest, e2e)) in ingests.iter().zip(&e2es).enumerate() {
        println!(
            "  round {}: map {:.0}/s, ingest {:.0}/s (p99 {:.1} ms), end to end {:.0}/s",
            i + 1,
            events as f64 / maps[i].as_secs_f64(),
            ingest.rate,
            ingest.p99_ms,
            e2e.rate
        );
    }
}

fn mapping() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings/openai.yaml")
}

fn time_map(file: &std::path::Path) -> Duration {
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_eventmap"))
        .args([
            "map",
            "--mapping",
            mapping(),
            "--now",
            NOW,
            "--threads",
            "1",
        ])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("map runs");
    assert!(status.success(), "eventmap map failed");
    started.elapsed()
}

/// What one `serve` run measured.
struct Run {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    deepest: u64,
    /// Events the mock API took (end to end only).
    delivered: usize,
    /// From the client's last 200 until the spool was empty (end to end only).
    tail: Duration,
    /// From the client's first post to its last 200.
    posted_for: Duration,
}

/// Starts `binary serve` on a fresh spool in `dir` (delivering to `mock`, or to a port
/// where nothing listens), posts the corpus from a client process, and measures.
fn run_serve(
    binary: &std::path::Path,
    dir: &std::path::Path,
    file: &std::path::Path,
    connections: usize,
    mock: Option<&Mock>,
    rate: Option<u32>,
) -> Run {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let endpoint = mock.map_or_else(
        || format!("http://127.0.0.1:{}", free_port()),
        |m| m.endpoint.clone(),
    );
    let mut serve = Command::new(binary)
        .args(["serve", "--mapping", mapping(), "--listen", &addr])
        .args(["--write-key", WRITE_KEY, "--endpoint", &endpoint])
        .args(["--api-key", KEY, "--pixel-id", PIXEL, "--log-level", "warn"])
        .args(["--batch-size", &DELIVERY_BATCH.to_string()])
        .arg("--spool")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let started = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let me = std::env::current_exe().expect("the bench's own path");
    let mut client = Command::new(me)
        .env("EVENTMAP_BENCH_ROLE", "client")
        .args([&addr, &file.display().to_string(), &connections.to_string()])
        .arg(rate.map_or_else(String::new, |r| r.to_string()))
        .stdout(Stdio::piped())
        .spawn()
        .expect("the client starts");
    // The client says `posting` once its bodies are built, then its report when done.
    let (said, lines) = std::sync::mpsc::channel();
    let stdout = client.stdout.take().expect("the client's stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if said.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let (posting, first) = lines.recv().expect("the client starts posting");
    assert_eq!(first, "posting");
    let mut deepest = 0;
    let mut report = None;
    if let Some(mock) = mock {
        // Deliveries overlap the posts: sample the spool until the client is done and
        // the spool is empty (every event delivered, skipped or dead-lettered).
        loop {
            let depth = spool_depth(&addr);
            deepest = deepest.max(depth.unwrap_or(0));
            if report.is_none() {
                report = lines.try_recv().ok();
            }
            if report.is_some() && depth == Some(0) {
                break;
            }
            assert!(
                posting.elapsed() < Duration::from_secs(600),
                "not settled in 10 minutes"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let settled_after = posting.elapsed();
        stop(&mut serve);
        let _ = client.wait();
        let (posted_at, text) = report.expect("the client's report");
        let ingest = ClientReport::parse(&text);
        return Run {
            rate: ingest.events as f64 / settled_after.as_secs_f64(),
            p50_ms: ingest.p50_ms,
            p99_ms: ingest.p99_ms,
            deepest,
            delivered: mock.delivered(),
            tail: settled_after.saturating_sub(posted_at - posting),
            posted_for: posted_at - posting,
        };
    }
    let (_, text) = lines.recv().expect("the client's report");
    let _ = client.wait();
    stop(&mut serve);
    let report = ClientReport::parse(&text);
    Run {
        rate: report.events as f64 / report.seconds,
        p50_ms: report.p50_ms,
        p99_ms: report.p99_ms,
        deepest,
        delivered: 0,
        tail: Duration::ZERO,
        posted_for: Duration::from_secs_f64(report.seconds),
    }
}

fn stop(serve: &mut Child) {
    let _ = serve.kill();
    let _ = serve.wait();
}

/// The spool's depth from serve's `/metrics`, when it answers.
fn spool_depth(addr: &str) -> Option<u64> {
    let mut stream = TcpStream::connect(addr).ok()?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut page = String::new();
    stream.write_all(request.as_bytes()).ok()?;
    stream.read_to_string(&mut page).ok()?;
    page.lines()
        .find_map(|l| l.strip_prefix("eventmap_spool_depth "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The mock Conversions API in a process of its own (this bench, started again).
struct Mock {
    child: Child,
    endpoint: String,
    delivered: Arc<AtomicUsize>,
}

impl Mock {
    fn start() -> Self {
        let me = std::env::current_exe().expect("the bench's own path");
        let mut child = Command::new(me)
            .env("EVENTMAP_BENCH_ROLE", "mock")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the mock starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut endpoint = String::new();
        stdout
            .read_line(&mut endpoint)
            .expect("the mock's endpoint");
        let delivered = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&delivered);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                count.store(line.trim().parse().unwrap_or(0), Ordering::Relaxed);
            }
        });
        Self {
            child,
            endpoint: endpoint.trim().to_string(),
            delivered,
        }
    }

    fn delivered(&self) -> usize {
        // The mock prints its count every 20 ms.
        std::thread::sleep(Duration::from_millis(50));
        self.delivered.load(Ordering::Relaxed)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The mock's process: prints its endpoint, then how many events it took, every 20 ms.
fn mock() {
    let mock = eventmap_mock_capi::MockCapi::start(eventmap_mock_capi::MockConfig::new(KEY, PIXEL))
        .expect("the mock starts");
    println!("{}", mock.endpoint());
    loop {
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_millis(20));
        println!("{}", mock.delivered_count());
    }
}

/// What the client process prints: `events seconds p50_ms p99_ms`.
struct ClientReport {
    events: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl ClientReport {
    fn parse(text: &str) -> Self {
        let fields: Vec<f64> = text
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        assert_eq!(fields.len(), 4, "the client's report: {text:?}");
        Self {
            events: fields[0] as usize,
            seconds: fields[1],
            p50_ms: fields[2],
            p99_ms: fields[3],
        }
    }
}

/// The load generator's process: posts the corpus file's events to ADDR in batches of
/// 100 over CONNECTIONS keep-alive connections, each batch after the previous one's 200.
fn client() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, file, connections) = (&args[0], &args[1], args[2].parse().unwrap_or(8));
    // Events a second to post at (the batches spaced evenly); as fast as answered without.
    let rate: Option<f64> = args.get(3).and_then(|r| r.parse().ok());
    let text = std::fs::read_to_string(file).expect("the corpus");
    let lines: Vec<&str> = text.lines().collect();
    let bodies: Vec<Vec<u8>> = lines
        .chunks(BATCH)
        .map(|chunk| format!("{{\"batch\":[{}]}}", chunk.join(",")).into_bytes())
        .collect();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    println!("posting");
    let _ = std::io::stdout().flush();
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let (addr, bodies, next) = (addr.clone(), Arc::clone(&bodies), Arc::clone(&next));
            std::thread::spawn(move || post(&addr, &bodies, &next, started, rate))
        })
        .collect();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("a client thread"))
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    println!("{} {seconds} {} {}", lines.len(), pct(0.50), pct(0.99));
}

/// Posts bodies (taken in turn from `next`) over one keep-alive connection.
fn post(
    addr: &str,
    bodies: &[Vec<u8>],
    next: &AtomicUsize,
    started: Instant,
    rate: Option<f64>,
) -> Vec<Duration> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut latencies = Vec::new();
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let Some(body) = bodies.get(n) else {
            break;
        };
        if let Some(rate) = rate {
            let due = started + Duration::from_secs_f64((n * BATCH) as f64 / rate);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let head = format!(
            "POST /v1/batch HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {BASIC_AUTH}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let sent = Instant::now();
        writer.write_all(head.as_bytes()).expect("write");
        writer.write_all(body).expect("write");
        let status = http_answer::read(&mut reader);
        assert_eq!(status, 200, "serve refused a batch");
        latencies.push(sent.elapsed());
    }
    latencies
}
