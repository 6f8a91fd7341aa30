//! `eventmap-mock-capi`: the mock Conversions API as a program, to try `eventmap send`
//! and `eventmap connect` locally without an account.

use clap::Parser;
use eventmap_mock_capi::{Fault, FaultPlan, MockCapi, MockConfig};

/// The mock parses and keeps every event it accepts, on several threads: with glibc's
/// malloc, frees and heap consolidation took about 40% of its time, enough to make it
/// the slower side of a local `eventmap send` (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    about = "A mock of the OpenAI and Meta Conversions APIs on 127.0.0.1 (for local trials and tests)"
)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// The key the mock accepts: OpenAI's conversions key and Meta's access token.
    #[arg(long, default_value = "test-key")]
    api_key: String,
    /// The pixel id the mock accepts (on both wires).
    #[arg(long, default_value = "test-pixel")]
    pixel_id: String,
    /// Per-mille of requests answered 503 (a transient failure the client retries).
    #[arg(long, default_value_t = 0)]
    fail_per_mille: u32,
    /// Judge the 7-day timestamp window by this clock (RFC 3339 or epoch ms), which then
    /// runs on from there: for events recorded on another day, with `send --now`.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Append each event recorded to this file, one JSON line each (also listed at
    /// `GET /events` while it runs).
    #[arg(long, value_name = "FILE")]
    record: Option<std::path::PathBuf>,
    /// Print no line per request.
    #[arg(long)]
    quiet: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = MockConfig::new(&args.api_key, &args.pixel_id);
    config.log_requests = !args.quiet;
    config.record_file = args.record.clone();
    if let Some(now) = &args.now {
        let now_ms = eventmap::transforms::to_epoch_ms(&serde_json::Value::String(now.clone()))
            .map_err(|e| anyhow::anyhow!("--now `{now}` is not a time: {e}"))?;
        config.clock = eventmap_pipeline::delivery::Clock::starting_at(now_ms);
    }
    if args.fail_per_mille > 0 {
        config.faults = FaultPlan::Random {
            seed: 1,
            weights: vec![(Fault::Status(503), args.fail_per_mille.min(1000))],
        };
    }
    let mock = MockCapi::start_on(config, args.port)?;
    // The key is not printed: a key, even a test one, does not belong in logs.
    eprintln!(
        "mock Conversions API at {} (pixel {:?}); what it recorded: GET {}/events; Ctrl-C to stop",
        mock.endpoint(),
        args.pixel_id,
        mock.endpoint()
    );
    mock.wait();
    Ok(())
}
