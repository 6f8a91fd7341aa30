//! Mapping throughput against the JSON round trip every JSON-in, JSON-out mapper pays.
//!
//! Both read the same generated corpus line by line. The baseline parses each line into a
//! `serde_json::Value` and serializes it back. The engine maps each line through
//! `mappings/openai.yaml` two ways: `Mapping::map_json` (which parses only what the mapping
//! reads) then serializing the mapped `Value`, and `Mapping::map_json_output` then writing
//! the event from its slots (`Output::write_json`), as `eventmap map` does. After the
//! criterion groups, an interleaved run prints `ratio = engine / baseline` (events per
//! second) for each, the figures recorded in docs/benchmarks.md.

mod corpus;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use eventmap::{CompileOptions, EventContext, Mapping, Outcome};
use serde_json::Value;

const EVENTS: usize = 2_000;

fn mapping() -> Mapping {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings/openai.yaml");
    Mapping::from_file(path, &CompileOptions::default()).expect("bundled mapping compiles")
}

fn baseline(lines: &[String]) -> usize {
    let mut bytes = 0;
    for line in lines {
        let value: Value = serde_json::from_str(line).expect("corpus is JSON");
        bytes += serde_json::to_string(&value).expect("serializes").len();
    }
    bytes
}

fn engine(mapping: &Mapping, cx: &EventContext, lines: &[String]) -> usize {
    let mut bytes = 0;
    for line in lines {
        // The engine parses only what the mapping reads, borrowing strings from the line.
        match mapping.map_json(line, cx).expect("corpus is JSON").outcome {
            Outcome::Mapped(out) => bytes += serde_json::to_string(&out).expect("serializes").len(),
            Outcome::Skipped { reason } => bytes += reason.len(),
            Outcome::Failed(errors) => panic!("corpus event failed: {errors:?}"),
        }
    }
    bytes
}

/// The way `eventmap map` maps a line: the event left in its slots and written from there
/// into one reused buffer.
fn engine_slots(mapping: &Mapping, cx: &EventContext, lines: &[String]) -> usize {
    let mut bytes = 0;
    let mut out = Vec::new();
    for line in lines {
        match mapping
            .map_json_output(line, cx)
            .expect("corpus is JSON")
            .outcome
        {
            Outcome::Mapped(event) => {
                out.clear();
                event.write_json(&mut out);
                bytes += out.len();
            }
            Outcome::Skipped { reason } => bytes += reason.len(),
            Outcome::Failed(errors) => panic!("corpus event failed: {errors:?}"),
        }
    }
    bytes
}

fn benches(c: &mut Criterion) {
    let lines = corpus::corpus(EVENTS);
    let mapping = mapping();
    let cx = EventContext {
        now_ms: 1_795_600_000_000,
    };
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("baseline_json_round_trip", |b| {
        b.iter(|| black_box(baseline(&lines)))
    });
    group.bench_function("engine_openai_mapping", |b| {
        b.iter(|| black_box(engine(&mapping, &cx, &lines)))
    });
    group.bench_function("engine_openai_mapping_slots", |b| {
        b.iter(|| black_box(engine_slots(&mapping, &cx, &lines)))
    });
    group.finish();
}

/// Alternates baseline and engine passes so both see the same machine state, and
/// reports the median ratio of their throughputs.
fn ratio_report() {
    let lines = corpus::corpus(EVENTS);
    let mapping = mapping();
    let cx = EventContext {
        now_ms: 1_795_600_000_000,
    };
    let bytes: usize = lines.iter().map(String::len).sum();
    let mut ratios = (Vec::new(), Vec::new());
    let mut best = [Duration::MAX; 3];
    let timed = |f: &dyn Fn() -> usize| {
        let t = Instant::now();
        black_box(f());
        t.elapsed()
    };
    for _ in 0..15 {
        let base = timed(&|| baseline(&lines));
        let value = timed(&|| engine(&mapping, &cx, &lines));
        let slots = timed(&|| engine_slots(&mapping, &cx, &lines));
        for (best, time) in best.iter_mut().zip([base, value, slots]) {
            *best = (*best).min(time);
        }
        ratios.0.push(base.as_secs_f64() / value.as_secs_f64());
        ratios.1.push(base.as_secs_f64() / slots.as_secs_f64());
    }
    let per_sec = |d: Duration| EVENTS as f64 / d.as_secs_f64();
    println!(
        "\ncorpus: {EVENTS} events, {:.0} bytes/event on average",
        bytes as f64 / EVENTS as f64
    );
    println!(
        "baseline (parse + serialize):          {:>9.0} events/s (best pass)",
        per_sec(best[0])
    );
    println!(
        "engine, map_json + serialize the Value: {:>9.0} events/s (best pass)",
        per_sec(best[1])
    );
    println!(
        "engine, map_json_output + write_json:  {:>9.0} events/s (best pass)",
        per_sec(best[2])
    );
    for (what, mut ratios) in [("map_json", ratios.0), ("map_json_output", ratios.1)] {
        ratios.sort_by(f64::total_cmp);
        println!(
            "ratio = engine ({what}) / baseline throughput: median {:.2} (min {:.2}, max {:.2}, 15 interleaved passes)",
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
    ratio_report();
}
