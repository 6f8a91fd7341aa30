//! Delivery overhead: `Delivery` + `OpenAiSink` against the bare HTTP floor.
//!
//! Both sides send the same mapped events in batches of 10 to the mock Conversions API on
//! 127.0.0.1, four requests in flight:
//! - baseline: a reqwest client POSTing each batch's body built with serde_json, nothing
//!   else (no retries, no bookkeeping);
//! - engine: `Delivery::submit` for each event, then `finish` (batching, per-attempt
//!   timestamp re-check, outcome classification, accounting).
//!
//! Passes alternate 7 times and the median of `engine / baseline` events per second is
//! printed: `cargo bench -p eventmap-openai --bench delivery`. Last, the machinery alone:
//! `Delivery` with a sink that accepts every batch at once, no HTTP.

use std::sync::Arc;
use std::time::Instant;

use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_openai::{Credentials, OpenAiSink, OpenAiSinkConfig};
use eventmap_pipeline::delivery::{
    BatchOutcome, Clock, DeadLetter, Delivery, DeliveryConfig, DeliveryObserver, OutgoingEvent,
    Sink,
};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

const EVENTS: usize = 10_000;
const BATCH: usize = 10;
const IN_FLIGHT: usize = 4;
const PASSES: usize = 7;

fn events(now: i64) -> Vec<Value> {
    (0..EVENTS)
        .map(|i| {
            json!({"id": format!("bench-{i}"), "type": "order_created", "timestamp_ms": now - 60_000,
                "action_source": "web", "source_url": "https://shop.example/checkout",
                "oppref": "oppref_abc123",
                "user": {"email_sha256": "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d",
                         "country": "US", "ip_address": "203.0.113.42", "user_agent": "Mozilla/5.0"},
                "data": {"type": "contents", "amount": 4804, "currency": "USD",
                         "contents": [{"id": "kettle-01", "quantity": 1, "amount": 3499},
                                      {"id": "mug-02", "quantity": 3, "amount": 435}]}})
        })
        .collect()
}

async fn baseline(client: &reqwest::Client, url: &str, events: &[Value]) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for batch in events.chunks(BATCH) {
        let body = json!({"events": batch}).to_string();
        let slot = Arc::clone(&slots).acquire_owned().await.expect("open");
        let request = client
            .post(url)
            .header("authorization", "Bearer bench-key")
            .header("content-type", "application/json")
            .body(body);
        tasks.spawn(async move {
            let response = request.send().await.expect("mock answers");
            assert!(response.status().is_success());
            let _ = response.bytes().await;
            drop(slot);
        });
    }
    while tasks.join_next().await.is_some() {}
}

struct Quiet;
impl DeliveryObserver for Quiet {
    fn dead_lettered(&self, _event: &OutgoingEvent, letter: &DeadLetter) {
        panic!("unexpected dead letter: {}", letter.message);
    }
}

/// Accepts every batch at once.
struct Accepting;
impl Sink for Accepting {
    async fn send(&self, _batch: &[OutgoingEvent], _test_mode: bool) -> BatchOutcome {
        BatchOutcome::Delivered
    }
}

async fn engine(config: &OpenAiSinkConfig, events: &[Value]) {
    deliver(OpenAiSink::new(config).expect("sink"), events).await;
}

async fn deliver(sink: impl Sink, events: &[Value]) {
    let delivery_config = DeliveryConfig {
        batch_size: BATCH,
        concurrency: IN_FLIGHT,
        ..DeliveryConfig::default()
    };
    let delivery = Delivery::start(sink, delivery_config, Clock::system(), Arc::new(Quiet));
    for event in events {
        let id = event["id"].as_str().unwrap_or_default().to_string();
        delivery
            .submit(OutgoingEvent::new(id, event.clone(), false))
            .await
            .expect("open");
    }
    let report = delivery.finish().await;
    assert_eq!(report.delivered as usize, events.len());
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a listing; there is nothing to list.
    }
    let mock = MockCapi::start(MockConfig::new("bench-key", "bench-pixel")).expect("mock");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let events = events(Clock::system().now_ms());
    let url = format!("{}/v1/events?pid=bench-pixel", mock.endpoint());
    let client = {
        eventmap_pipeline::delivery::http::install_crypto_provider();
        reqwest::Client::new()
    };
    let mut config =
        OpenAiSinkConfig::new(Credentials::new("bench-pixel", "bench-key").expect("ok"));
    config.endpoint = mock.endpoint();

    let mut ratios = Vec::new();
    for pass in 0..PASSES {
        let started = Instant::now();
        runtime.block_on(baseline(&client, &url, &events));
        let base = EVENTS as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        runtime.block_on(engine(&config, &events));
        let ours = EVENTS as f64 / started.elapsed().as_secs_f64();
        println!("pass {pass}: baseline {base:.0} events/s, engine {ours:.0} events/s");
        ratios.push(ours / base);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "ratio = engine / baseline throughput: median {:.2} (min {:.2}, max {:.2}, {PASSES} interleaved passes)",
        ratios[PASSES / 2],
        ratios[0],
        ratios[PASSES - 1]
    );
    let started = Instant::now();
    for _ in 0..PASSES {
        runtime.block_on(deliver(Accepting, &events));
    }
    let rate = (PASSES * EVENTS) as f64 / started.elapsed().as_secs_f64();
    println!("machinery alone (a sink that accepts at once): {rate:.0} events/s");
}
