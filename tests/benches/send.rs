//! Whole-process `eventmap send` to the mock Conversions API running as its own process,
//! against the mock's own ceiling measured in the same run.
//!
//! ```text
//! cargo build --release -p eventmap-cli -p eventmap-mock-capi
//! cargo bench -p eventmap-tests --bench send [-- EVENTS ROUNDS]
//! ```
//!
//! The corpus is the generated one (`crates/eventmap/benches/corpus.rs`, about 1 KB a
//! line); the mock and `send` both run on the corpus's clock (`--now`). Each round runs,
//! in turn:
//!
//! - **the mock's ceiling**: the events `eventmap map` makes of the corpus, posted by the
//!   plainest client there is (bodies joined from the mapped lines, 4 requests in flight,
//!   no validation, no bookkeeping) in batches of 10 and of 100: what the mock takes at
//!   most on this machine;
//! - `eventmap send` with its defaults, and with `--batch-size 100`;
//! - with `EVENTMAP_BENCH_BEFORE=/path/to/an/older/eventmap`, that binary's `send` with
//!   its defaults too, so a change is measured against what came before in one run.
//!
//! Medians of the rounds are printed as delivered events per second. A benchmark, not a
//! test: it asserts nothing about time.

#[path = "../../crates/eventmap/benches/corpus.rs"]
mod corpus;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventmap_tests::delivery::{KEY, PIXEL};

/// The corpus's clock: its events fall on the six days before it.
const NOW: &str = "2026-11-21T12:00:00Z";
const CONCURRENCY: usize = 4;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let events: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let release = release_dir();
    let eventmap = release.join("eventmap");
    let scratch = std::env::temp_dir().join(format!("eventmap-send-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let corpus_file = scratch.join("corpus.ndjson");
    corpus::write(&corpus_file, events as usize);
    let mapping = eventmap_tests::repo().join("mappings/openai.yaml");
    let mapped = map_corpus(&eventmap, &mapping, &corpus_file);
    let mock = Mock::start(&release.join("eventmap-mock-capi"));
    println!(
        "send bench: {events} events, {} map to API events; mock at {}",
        mapped.len(),
        mock.endpoint
    );

    let before = std::env::var_os("EVENTMAP_BENCH_BEFORE").map(PathBuf::from);
    let mut runs: Vec<(String, Vec<f64>)> = Vec::new();
    let mut record = |name: &str, rate: f64| {
        println!("  {name:<44} {rate:>9.0} events/s");
        match runs.iter_mut().find(|(n, _)| n == name) {
            Some((_, rates)) => rates.push(rate),
            None => runs.push((name.to_string(), vec![rate])),
        }
    };
    let run = |binary: &Path, flags: &[&str]| {
        send(
            binary,
            &mapping,
            &corpus_file,
            &mock.endpoint,
            &scratch,
            flags,
        )
    };
    for round in 1..=rounds {
        println!("round {round}");
        for batch in [10, 100] {
            let rate = ceiling(&mock.endpoint, &mapped, batch);
            record(
                &format!("mock ceiling, plain client, batches of {batch}"),
                rate,
            );
        }
        if let Some(before) = &before {
            record("send (EVENTMAP_BENCH_BEFORE), defaults", run(before, &[]));
        }
        record("send, defaults", run(&eventmap, &[]));
        record(
            "send --batch-size 100",
            run(&eventmap, &["--batch-size", "100"]),
        );
    }
    println!("medians of {rounds} rounds (delivered events/s):");
    let medians: Vec<(String, f64)> = runs
        .into_iter()
        .map(|(name, mut rates)| {
            rates.sort_by(f64::total_cmp);
            (name, rates[rates.len() / 2])
        })
        .collect();
    for (name, rate) in &medians {
        println!("  {name:<44} {rate:>9.0}");
    }
    let find = |name: &str| medians.iter().find(|(n, _)| n == name).map(|(_, r)| *r);
    let ratio = |a: &str, b: &str| find(a).zip(find(b)).map(|(a, b)| a / b);
    if let Some(r) = ratio(
        "send, defaults",
        "mock ceiling, plain client, batches of 10",
    ) {
        println!("  send / mock ceiling, batches of 10          {r:>9.2}");
    }
    if let Some(r) = ratio(
        "send --batch-size 100",
        "mock ceiling, plain client, batches of 100",
    ) {
        println!("  send / mock ceiling, batches of 100         {r:>9.2}");
    }
    if let Some(r) = ratio("send, defaults", "send (EVENTMAP_BENCH_BEFORE), defaults") {
        println!("  send defaults / before                      {r:>9.2}");
    }
    drop(mock);
    let _ = std::fs::remove_dir_all(&scratch);
}

/// `target/release`, where `cargo build --release` put the binaries this bench runs.
fn release_dir() -> PathBuf {
    let dir = eventmap_tests::repo().join("target/release");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(|d| PathBuf::from(d).join("release"));
    let dir = target.unwrap_or(dir);
    for bin in ["eventmap", "eventmap-mock-capi"] {
        assert!(
            dir.join(bin).exists(),
            "{} is missing: run `cargo build --release -p eventmap-cli -p eventmap-mock-capi` first",
            dir.join(bin).display()
        );
    }
    dir
}

/// The API events `eventmap map` makes of the corpus, one JSON text each.
fn map_corpus(eventmap: &Path, mapping: &Path, corpus: &Path) -> Vec<String> {
    let out = Command::new(eventmap)
        .args(["map", "--now", NOW, "-m"])
        .arg(mapping)
        .arg(corpus)
        .stderr(Stdio::null())
        .output()
        .expect("eventmap map runs");
    String::from_utf8(out.stdout)
        .expect("JSON is UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The mock API as its own process, on a free port of 127.0.0.1.
struct Mock {
    child: Child,
    endpoint: String,
    /// Kept open: a mock writing to a closed stderr would fail.
    _stderr: BufReader<std::process::ChildStderr>,
}

impl Mock {
    fn start(binary: &Path) -> Self {
        let mut child = Command::new(binary)
            .args([
                "--port",
                "0",
                "--api-key",
                KEY,
                "--pixel-id",
                PIXEL,
                "--now",
                NOW,
                // A line per request would fill the pipe nobody reads past the first.
                "--quiet",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .expect("the mock starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut first = String::new();
        let mut stderr = BufReader::new(stderr);
        stderr
            .read_line(&mut first)
            .expect("the mock says where it listens");
        let endpoint = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in the mock's first line: {first}"))
            .to_string();
        Self {
            child,
            endpoint,
            _stderr: stderr,
        }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts `events` in batches of `batch`, CONCURRENCY requests at a time; events/s.
fn ceiling(endpoint: &str, events: &[String], batch: usize) -> f64 {
    let bodies: Arc<Vec<String>> = Arc::new(
        events
            .chunks(batch)
            .map(|chunk| format!("{{\"events\":[{}]}}", chunk.join(",")))
            .collect(),
    );
    let url = format!("{endpoint}/v1/events?pid={PIXEL}");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    runtime.block_on(async {
        let client = {
            eventmap_pipeline::delivery::http::install_crypto_provider();
            reqwest::Client::new()
        };
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..CONCURRENCY {
            let (client, next, bodies, url) =
                (client.clone(), next.clone(), bodies.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let response = client
                        .post(&url)
                        .bearer_auth(KEY)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("the mock answers");
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    assert!(
                        status.is_success(),
                        "the mock refused a batch: {status} {text}"
                    );
                }
            }));
        }
        for task in tasks {
            task.await.expect("a client task");
        }
    });
    events.len() as f64 / started.elapsed().as_secs_f64()
}

/// One whole `eventmap send` process; delivered events/s.
fn send(
    eventmap: &Path,
    mapping: &Path,
    corpus: &Path,
    endpoint: &str,
    scratch: &Path,
    flags: &[&str],
) -> f64 {
    let letters = scratch.join("dead-letters.ndjson");
    let _ = std::fs::remove_file(&letters);
    let started = Instant::now();
    let out = Command::new(eventmap)
        .args(["send", "--now", NOW, "--endpoint", endpoint, "-m"])
        .arg(mapping)
        .arg("--dead-letter")
        .arg(&letters)
        .args(flags)
        .arg(corpus)
        .env("OPENAI_CAPI_KEY", KEY)
        .env("OPENAI_PIXEL_ID", PIXEL)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("eventmap send runs");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: serde_json::Value = stderr
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no summary from send: {stderr}"));
    let delivered = summary["summary"]["delivered"].as_u64().unwrap_or(0);
    assert!(delivered > 0, "send delivered nothing: {stderr}");
    assert_eq!(
        summary["summary"]["dead_lettered"], 0,
        "send dead-lettered events: {stderr}"
    );
    delivered as f64 / elapsed.max(Duration::from_millis(1)).as_secs_f64()
}
