//! Whole-process `eventmap map` against the JSON round trip, in one run:
//!
//! `cargo bench -p eventmap-cli --bench map_process [-- EVENTS ROUNDS]`
//!
//! Writes the generated Segment corpus (crates/eventmap/benches/corpus.rs) to a file,
//! then alternates, ROUNDS times: the baseline (a process that parses each line into a
//! `serde_json::Value` and serializes it back, as every JSON-in, JSON-out tool must),
//! `eventmap map --threads 1` and `eventmap map --threads 2`, all reading the same file
//! and writing to /dev/null. Reports median wall times and the ratios. A benchmark, not a
//! test: it asserts nothing about time.

#[path = "../../eventmap/benches/corpus.rs"]
mod corpus;

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The corpus's clock: its events fall on the six days before it, inside the API's window.
const NOW: &str = "2026-11-21T12:00:00Z";

fn main() {
    if let Ok(file) = std::env::var("EVENTMAP_BENCH_BASELINE") {
        return baseline(&file);
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let events: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let file = std::env::temp_dir().join(format!(
        "eventmap-bench-corpus-{}.ndjson",
        std::process::id()
    ));
    let bytes = corpus::write(&file, events);
    let file = file.display().to_string();
    let mapping = concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings/openai.yaml");
    let eventmap = env!("CARGO_BIN_EXE_eventmap");
    let me = std::env::current_exe().expect("the bench's own path");

    let (mut base, mut one, mut two) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        base.push(time(
            Command::new(&me).env("EVENTMAP_BENCH_BASELINE", &file),
        ));
        for (threads, times) in [("1", &mut one), ("2", &mut two)] {
            let mut map = Command::new(eventmap);
            map.args([
                "map",
                "--mapping",
                mapping,
                "--now",
                NOW,
                "--threads",
                threads,
                &file,
            ]);
            times.push(time(&mut map));
        }
    }
    let _ = std::fs::remove_file(&file);
    let (b, o, t) = (median(&mut base), median(&mut one), median(&mut two));
    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    println!(
        "map_process: {events} events, {:.0} bytes a line, {rounds} rounds (median)",
        bytes as f64 / events as f64
    );
    println!(
        "  baseline (serde_json round trip) {:>8.3} s  {:>9.0} events/s",
        b.as_secs_f64(),
        rate(b)
    );
    println!(
        "  eventmap map --threads 1         {:>8.3} s  {:>9.0} events/s",
        o.as_secs_f64(),
        rate(o)
    );
    println!(
        "  eventmap map --threads 2         {:>8.3} s  {:>9.0} events/s",
        t.as_secs_f64(),
        rate(t)
    );
    println!(
        "  ratio threads 1 / baseline       {:>8.2}",
        b.as_secs_f64() / o.as_secs_f64()
    );
    println!(
        "  ratio threads 2 / threads 1      {:>8.2}",
        o.as_secs_f64() / t.as_secs_f64()
    );
}

/// The round trip every JSON-in, JSON-out tool pays: parse each line, write it back.
fn baseline(file: &str) {
    let input = BufReader::with_capacity(1 << 16, std::fs::File::open(file).expect("corpus"));
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    for line in input.lines() {
        let line = line.expect("read");
        let value: serde_json::Value = serde_json::from_str(&line).expect("corpus is JSON");
        serde_json::to_writer(&mut out, &value).expect("write");
        out.write_all(b"\n").expect("write");
    }
    out.flush().expect("flush");
}

fn time(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runs");
    assert!(status.success(), "{command:?} failed");
    started.elapsed()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}
