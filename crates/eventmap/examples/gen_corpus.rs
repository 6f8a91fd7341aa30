//! Writes N generated Segment events (the benchmark's corpus) as NDJSON on stdout:
//! `cargo run --release -p eventmap --example gen_corpus -- 1000000 > events.ndjson`

#[path = "../benches/corpus.rs"]
mod corpus;

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let mut out = BufWriter::new(std::io::stdout().lock());
    for i in 0..n {
        writeln!(out, "{}", corpus::event(0x5EED, i))?;
    }
    out.flush()
}
