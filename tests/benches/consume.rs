//! Consume throughput with one and with two `eventmap consume` processes in a group, on
//! this machine, against a tansu broker and the mock API, reported as a ratio measured
//! in the same run.
//!
//! ```text
//! cargo build --release -p eventmap-cli && cargo bench -p eventmap-tests --bench consume
//! ```
//!
//! Each pass: a fresh topic of 4 partitions, the consumers joined and owning their
//! partitions, then N orders produced; the time is from the first record produced to the
//! last event the mock recorded. Passes alternate (1, 2, 1, 2, …) so that drift in the
//! machine falls on both.

use std::time::{Duration, Instant};

use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_tests::delivery::{KEY, PIXEL};
use eventmap_tests::kafka::{wait_for, Broker, Consumer};
use eventmap_tests::serve::order;
use serde_json::json;

const EVENTS: usize = 150_000;
const PASSES: usize = 3;

fn main() {
    let broker = Broker::start();
    let records: Vec<(String, Vec<u8>)> = (0..EVENTS)
        .map(|i| {
            let mut event = order(&format!("bench-{i}"));
            event["userId"] = json!(format!("user-{}", i % 101));
            (format!("user-{}", i % 101), event.to_string().into_bytes())
        })
        .collect();
    // The broker's own ceiling on this machine: producing alone, nobody consuming.
    broker.create_topic("bench-produce-only", 4);
    let started = Instant::now();
    broker.produce_batched("bench-produce-only", &records);
    let produce_only = EVENTS as f64 / started.elapsed().as_secs_f64();
    println!("producing alone: {produce_only:.0}/s");
    let mut rates = [Vec::new(), Vec::new()];
    for pass in 0..PASSES * 2 {
        let members = 1 + pass % 2;
        let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts");
        let topic = format!("bench-{pass}");
        broker.create_topic(&topic, 4);
        let group = format!("g-{pass}");
        let consumers: Vec<Consumer> = (0..members)
            .map(|_| {
                Consumer::start(
                    &broker,
                    &topic,
                    &group,
                    &mock.endpoint(),
                    &["--batch-size", "500"],
                )
            })
            .collect();
        wait_for(
            "the members to own partitions",
            Duration::from_secs(60),
            || consumers.iter().all(Consumer::owns_partitions),
        );
        // Joining settles after the last assignment; give a rebalance in flight time to end.
        std::thread::sleep(Duration::from_secs(3));
        let started = Instant::now();
        broker.produce_batched(&topic, &records);
        wait_for("every event delivered", Duration::from_secs(600), || {
            mock.delivered_count() >= EVENTS
        });
        let seconds = started.elapsed().as_secs_f64();
        let rate = EVENTS as f64 / seconds;
        println!(
            "pass {pass}: {members} consumer(s), {EVENTS} events in {seconds:.2} s = {rate:.0}/s"
        );
        rates[members - 1].push(rate);
        drop(consumers);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let one = median(&mut rates[0]);
    let two = median(&mut rates[1]);
    println!(
        "median: 1 consumer {one:.0}/s, 2 consumers {two:.0}/s, ratio 2/1 = {:.2}; \
         producing alone {produce_only:.0}/s",
        two / one
    );
}
