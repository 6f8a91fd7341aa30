//! `eventmap`: check mapping files, map newline-delimited events, deliver them.

mod check;
mod connect;
mod connection;
mod console;
mod consume;
mod dead_letters;
mod explain;
mod fd_limit;
mod input;
mod map;
mod options;
mod progress;
mod report;
mod schema_cmd;
mod send;
mod serve;
mod spool_cmd;
mod test_cmd;
mod transforms_cmd;

use std::process::ExitCode;

/// `send` allocates on one thread and frees on others (events cross from the reader to the
/// delivery tasks); glibc's malloc spent a quarter of its time there, in arena locks and
/// consolidation. mimalloc makes `send` about 1.27× faster (docs/benchmarks.md); its
/// transparent huge pages are off (`no_thp`), which keeps `map`'s peak memory near glibc's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "eventmap",
    version,
    about = "Map customer events to conversion events with declarative YAML mappings"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate mapping files; every error is printed as FILE:LINE:COL: message.
    Check(check::Args),
    /// Map newline-delimited JSON events through a mapping.
    Map(map::Args),
    /// Map, validate and deliver events to the OpenAI Conversions API, with batching,
    /// retries and a dead-letter file; ends with a summary of what became of every event.
    Send(Box<send::Args>),
    /// Run the Segment-compatible intake: events posted by SDKs and analytics.js are
    /// spooled durably (a 200 means they are on disk) and delivered continuously.
    Serve(Box<serve::Args>),
    /// Consume Kafka topics in a consumer group, mapping and delivering each record as
    /// `send` does; offsets are committed only past records that are done.
    Consume(Box<consume::Args>),
    /// Export the dead letters a `serve` spool keeps, as NDJSON that `send` replays
    /// (`--remove` takes them out of the spool); works while `serve` runs.
    DeadLetters(spool_cmd::DeadLetterArgs),
    /// Work on a `serve` spool: `export` its pending events (also from a damaged one).
    #[command(subcommand)]
    Spool(spool_cmd::SpoolCommand),
    /// Check the OpenAI credentials with one test (validate_only) request.
    Connect(connect::Args),
    /// Run mapping fixtures (input events with their expected outputs); ends with
    /// "N passed, N failed".
    Test(test_cmd::Args),
    /// List the transforms mappings and expressions can use (with `-m MAPPING`, its
    /// plug-ins too).
    Transforms(transforms_cmd::Args),
    /// Print the JSON Schema of mapping files (for yaml-language-server and other
    /// editors; docs/mapping.schema.json is this output).
    Schema,
}

/// Exit codes shared by the subcommands.
pub(crate) mod exit {
    pub const OK: u8 = 0;
    /// A mapping did not compile, or an input could not be read.
    pub const ERROR: u8 = 1;
    /// `map --fail-on-error` and some events failed or were malformed; `connect`: the
    /// credentials were accepted but the test event was refused.
    pub const EVENTS_FAILED: u8 = 3;
    /// `send`, `connect`: the credentials are missing or were refused, or the endpoint
    /// refuses requests; delivery stopped.
    pub const CREDENTIALS: u8 = 4;
    /// `connect`: no answer from the API (network, timeout, server error).
    pub const UNREACHABLE: u8 = 5;
    /// `send` was interrupted (Ctrl-C): what was read is accounted for; the summary's
    /// `interrupted_at` says where to resume.
    pub const INTERRUPTED: u8 = 130;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Map(args) => map::run(&args),
        Command::Send(args) => send::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Consume(args) => consume::run(&args),
        Command::DeadLetters(args) => spool_cmd::dead_letters(&args),
        Command::Spool(command) => spool_cmd::run(&command),
        Command::Connect(args) => connect::run(&args),
        Command::Test(args) => test_cmd::run(&args),
        Command::Transforms(args) => transforms_cmd::run(&args),
        Command::Schema => schema_cmd::run(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("eventmap: error: {err:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
