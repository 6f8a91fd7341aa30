//! `eventmap`: check mapping files, map newline-delimited events, deliver them.

mod check;
mod connect;
mod connection;
mod console;
mod consume;
mod dead_letters;
mod destinations_cmd;
mod exit;
mod explain;
mod explain_error;
mod fd_limit;
mod input;
mod map;
mod options;
mod playground;
mod progress;
mod report;
mod route_plan;
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
    /// How much `serve` and `consume` log on stderr: error, warn, info or debug (each line
    /// carries its level).
    #[arg(
        long,
        global = true,
        env = "EVENTMAP_LOG",
        default_value = "info",
        value_parser = parse_log_level,
        value_name = "LEVEL"
    )]
    log_level: eventmap_pipeline::log::Level,
}

fn parse_log_level(text: &str) -> Result<eventmap_pipeline::log::Level, String> {
    text.parse()
}

#[derive(Subcommand)]
enum Command {
    /// Validate mapping files; every error is printed as FILE:LINE:COL: message [CODE].
    Check(check::Args),
    /// Map newline-delimited JSON events through a mapping.
    Map(map::Args),
    /// Map, validate and deliver events to the mapping's destination, with batching,
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
    /// Check a destination's credentials with one test-mode request.
    Connect(connect::Args),
    /// List the destinations mappings can name, with their settings (environment
    /// variables), batch limits, test mode and rules.
    Destinations(destinations_cmd::Args),
    /// Run mapping fixtures (input events with their expected outputs); ends with
    /// "N passed, N failed".
    Test(test_cmd::Args),
    /// Edit a mapping in the browser and see every event's outcome, its explain trace and
    /// the compiler's diagnostics as you type (on 127.0.0.1; prints the URL to open).
    Playground(playground::Args),
    /// List the transforms mappings and expressions can use (with `-m MAPPING`, its
    /// plug-ins too).
    Transforms(transforms_cmd::Args),
    /// Explain an error code printed after a message (`E0104`): what it means, an example
    /// and the fix, as docs/errors.md; without a code, list them all.
    ExplainError(explain_error::Args),
    /// Print the JSON Schema of mapping files (for yaml-language-server and other
    /// editors; docs/mapping.schema.json is this output).
    Schema(schema_cmd::Args),
    /// Print a shell completion script: `eventmap completions bash > /etc/bash_completion.d/eventmap`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `eventmap man > eventmap.1; man ./eventmap.1`.
    Man,
}

/// The manual page of `eventmap` and, after it, one per command (`eventmap-serve(1)`…),
/// as one roff document.
fn man_page() -> anyhow::Result<u8> {
    use std::io::Write;
    let command = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut out)?;
    for sub in command.get_subcommands() {
        let name = format!("eventmap-{}", sub.get_name());
        let sub = sub.clone().name(name);
        clap_mangen::Man::new(sub).render(&mut out)?;
    }
    std::io::stdout().write_all(&out)?;
    Ok(exit::OK)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    eventmap_pipeline::log::set_level(cli.log_level);
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
        Command::Playground(args) => playground::run(&args),
        Command::Transforms(args) => transforms_cmd::run(&args),
        Command::Destinations(args) => destinations_cmd::run(&args),
        Command::Schema(args) => schema_cmd::run(&args),
        Command::ExplainError(args) => explain_error::run(&args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "eventmap", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Man => man_page(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("eventmap: error: {err:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
