//! `eventmap connect`: check a destination's credentials as the seed's "Connect" button
//! does, with one test-mode request carrying the destination's harmless test event.

use eventmap_pipeline::delivery::Clock;
use eventmap_pipeline::destination::{check_connection, ConnectionVerdict};

use crate::connection::ConnectionArgs;
use crate::exit;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The destination whose credentials to check (default: the first `eventmap
    /// destinations` lists).
    #[arg(long, short, value_name = "NAME")]
    destination: Option<String>,
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Stamp the test event with this time (RFC 3339 or epoch ms) instead of the clock's,
    /// as `send --now` does (against a mock started with `--now`, give the same).
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let registry = eventmap_cli::destinations::registry();
    let destination = match &args.destination {
        Some(name) => registry.named(name).map_err(anyhow::Error::msg)?,
        None => registry
            .first()
            .ok_or_else(|| anyhow::anyhow!("this eventmap knows no destination"))?,
    };
    let sink = match args
        .connection
        .settings(destination, true)
        .and_then(|settings| destination.sink(&settings))
    {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("eventmap: error: {e}");
            return Ok(exit::CREDENTIALS);
        }
    };
    let now_ms = match &args.now {
        Some(text) => crate::options::parse_now(text)?,
        None => Clock::system().now_ms(),
    };
    let Some(event) = destination.connection_test_event(now_ms) else {
        anyhow::bail!(
            "destination `{}` has no credentials check",
            destination.name()
        );
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let verdict = runtime.block_on(check_connection(&sink, event));
    println!("{verdict}");
    Ok(match verdict {
        ConnectionVerdict::Connected => exit::OK,
        // Not connected as far as a user can tell: events like it would be refused too.
        ConnectionVerdict::EventRefused(_) => exit::EVENTS_FAILED,
        ConnectionVerdict::Refused(_) => exit::CREDENTIALS,
        ConnectionVerdict::Unreachable(_) => exit::UNREACHABLE,
    })
}
