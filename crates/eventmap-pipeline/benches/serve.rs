//! Durable ingest of `eventmap serve`, end to end on one machine:
//!
//! `cargo bench -p eventmap-pipeline --bench serve [-- EVENTS CONNECTIONS]`
//!
//! The intake, spool and delivery run in this process as `serve` runs them (the same
//! library code); clients on other threads post batches of 100 Segment events over
//! keep-alive connections; the mock Conversions API takes the deliveries. It reports
//! acknowledged (durable) events/s and the p50/p99 latency of the 200s, beside the fsync
//! rate of this machine's disk measured in the same run, and how fast delivery drained.
//! A benchmark, not a test: it asserts nothing about time.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use eventmap::{CompileOptions, Mapping};
use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_openai::{Credentials, OpenAiSink, OpenAiSinkConfig, OpenAiValidator};
use eventmap_pipeline::delivery::{Clock, DeliveryConfig};
use eventmap_pipeline::drive::{Driving, Replay};
use eventmap_pipeline::forward::{self, Forwarding};
use eventmap_pipeline::intake::{self, Intake, IntakeConfig, Limits, Sources};
use eventmap_pipeline::metrics::Metrics;
use eventmap_pipeline::process::Compiled;
use eventmap_pipeline::spool::{Spool, SpoolConfig};
use serde_json::json;
use tokio::sync::watch;

mod http_answer;

const BATCH: usize = 100;
const WRITE_KEY: &str = "bench-key";

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let events: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let connections: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    let dir = std::env::temp_dir().join(format!("eventmap-bench-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");

    let fsyncs = fsync_rate(&dir, Duration::from_secs(2));
    let mock = MockCapi::start(MockConfig::new("sk-bench", "px-bench")).expect("mock");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let spool = Spool::open(dir.join("spool"), SpoolConfig::default()).expect("spool");
    let (addr, stop) = runtime.block_on(start_server(&spool, &mock.endpoint()));

    let bodies = bodies(events);
    let started = Instant::now();
    let latencies = post_all(&addr, bodies, connections);
    let ingest = started.elapsed();
    let acked_at = Instant::now();
    let backlog = spool.depth();
    while mock.delivered_count() < events {
        std::thread::sleep(Duration::from_millis(5));
    }
    let drained_after = acked_at.elapsed();
    let delivered_rate = events as f64 / started.elapsed().as_secs_f64();
    stop.send_replace(true);

    let mut latencies = latencies;
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let rate = events as f64 / ingest.as_secs_f64();
    println!(
        "serve: {events} events in batches of {BATCH} over {connections} keep-alive connections"
    );
    println!(
        "  durable ingest      {rate:>10.0} events/s  ({:.2} s)",
        ingest.as_secs_f64()
    );
    println!(
        "  200 latency         p50 {:.2} ms  p99 {:.2} ms",
        ms(pct(0.50)),
        ms(pct(0.99))
    );
    println!("  disk fsync rate     {fsyncs:>10.0} fsyncs/s (4 KiB write + fdatasync, same disk)");
    println!(
        "  spool commits       {:>10}  ({:.1} requests and {:.0} events per fsync)",
        spool.commits(),
        (events / BATCH) as f64 / spool.commits().max(1) as f64,
        events as f64 / spool.commits().max(1) as f64
    );
    println!(
        "  ingest / fsync rate {:>10.1} events per possible fsync",
        rate / fsyncs.max(1.0)
    );
    println!(
        "  delivery            {delivered_rate:>10.0} events/s to the mock, over the whole run"
    );
    println!(
        "  backlog at the end  {backlog:>10} events, drained in {:.2} s ({:.0} events/s with the intake idle)",
        drained_after.as_secs_f64(),
        backlog as f64 / drained_after.as_secs_f64().max(1e-9)
    );
    drop(runtime);
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes and syncs 4 KiB again and again: what one fsync costs on this disk.
fn fsync_rate(dir: &std::path::Path, for_how_long: Duration) -> f64 {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).expect("probe file");
    let block = vec![7u8; 4096];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < for_how_long {
        file.write_all(&block).expect("write");
        file.sync_data().expect("fdatasync");
        n += 1;
    }
    let _ = std::fs::remove_file(&path);
    n as f64 / started.elapsed().as_secs_f64()
}

async fn start_server(spool: &Spool, endpoint: &str) -> (String, watch::Sender<bool>) {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../mappings/openai.yaml"
    ))
    .expect("mapping");
    let mapping =
        Mapping::compile(&source, "openai.yaml", &CompileOptions::default()).expect("compiles");
    let compiled = Compiled {
        mapping,
        validator: Some(Box::new(OpenAiValidator::STRICT)),
    };
    let metrics = Metrics::default();
    let clock = Clock::system();
    let intake = Arc::new(Intake {
        config: IntakeConfig {
            sources: Sources::single(vec![WRITE_KEY.into()], Vec::new(), Limits::default()).into(),
            ..IntakeConfig::default()
        },
        store: Arc::new(spool.clone()),
        metrics: metrics.clone(),
        ready: Arc::new(AtomicBool::new(true)),
        clock,
    });
    let forwarding = Forwarding {
        driving: Driving {
            route: eventmap_pipeline::spool::DEFAULT_ROUTE.to_string(),
            mapping: Arc::new(RwLock::new(Arc::new(compiled))),
            clock,
            delivery: DeliveryConfig {
                batch_size: 100,
                linger: Duration::from_millis(20),
                ..DeliveryConfig::default()
            },
            validate_only: false,
            drain: Duration::from_secs(5),
            replay: Replay::Off,
        },
        lane: 0,
        spool: spool.clone(),
        metrics,
    };
    let sink = OpenAiSink::new(&OpenAiSinkConfig {
        endpoint: endpoint.to_string(),
        credentials: Credentials::new("px-bench", "sk-bench").expect("credentials"),
        integration_source: None,
        timeouts: Default::default(),
    })
    .expect("sink");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let addr = listener.local_addr().expect("addr").to_string();
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = stopped.clone();
    tokio::spawn(async move {
        forward::forward(&forwarding, sink, stopped).await;
    });
    tokio::spawn(intake::serve(
        listener,
        intake,
        async move {
            let _ = shutdown.wait_for(|s| *s).await;
        },
        Duration::from_secs(1),
    ));
    (addr, stop)
}

/// Request bodies: batches of 100 orders of about 1 KB each, stamped now.
fn bodies(events: usize) -> Vec<Vec<u8>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    (0..events.div_ceil(BATCH))
        .map(|b| {
            let batch: Vec<_> = (0..BATCH).map(|i| {
                let n = b * BATCH + i;
                json!({"type": "track", "event": "Order Completed", "messageId": format!("bench-{n}"),
                    "anonymousId": "a7f3c1d2-5b8e-4f6a-9c0d-1e2f3a4b5c6d", "userId": format!("user-{}", n % 977),
                    "timestamp": now - 60_000,
                    "properties": {"order_id": format!("order-{n}"), "currency": "USD", "revenue": 48.04,
                        "products": [{"product_id": "kettle-01", "name": "Stovetop Kettle", "price": 34.99, "quantity": 1},
                                     {"product_id": "mug-02", "name": "Enamel Mug", "price": "4.35", "quantity": 3}]},
                    "context": {"page": {"url": "https://shop.example/checkout?step=3", "title": "Checkout", "referrer": "https://shop.example/cart"},
                        "ip": "203.0.113.9", "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
                        "library": {"name": "analytics-node", "version": "3.1.0"},
                        "traits": {"email": format!("buyer.{n}@example.com")}}})
            }).collect();
            json!({"batch": batch, "sentAt": now}).to_string().into_bytes()
        })
        .collect()
}

/// Posts every body over `connections` keep-alive connections; the latency of each 200.
fn post_all(addr: &str, bodies: Vec<Vec<u8>>, connections: usize) -> Vec<Duration> {
    let shared = Arc::new(std::sync::Mutex::new(bodies));
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let (addr, shared) = (addr.to_string(), Arc::clone(&shared));
            std::thread::spawn(move || {
                let stream = TcpStream::connect(&addr).expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                let auth = format!("Basic {}", base64_key());
                let mut latencies = Vec::new();
                loop {
                    let Some(body) = shared.lock().expect("bodies").pop() else { break };
                    let head = format!(
                        "POST /v1/batch HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let sent = Instant::now();
                    writer.write_all(head.as_bytes()).expect("write");
                    writer.write_all(&body).expect("write");
                    let status = http_answer::read(&mut reader);
                    assert_eq!(status, 200, "the intake refused a batch");
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("client"))
        .collect()
}

fn base64_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{WRITE_KEY}:"))
}
