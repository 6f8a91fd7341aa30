//! `eventmap connect`: check the credentials as the seed's "Connect" button does.

use eventmap_openai::delivery::{check_connection, ConnectionVerdict};
use eventmap_pipeline::delivery::Clock;

use crate::connection::ConnectionArgs;
use crate::exit;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Stamp the test event with this time (RFC 3339 or epoch ms) instead of the clock's,
    /// as `send --now` does (against a mock started with `--now`, give the same).
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let config = match args.connection.sink_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("eventmap: error: {e}");
            return Ok(exit::CREDENTIALS);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let now_ms = match &args.now {
        Some(text) => crate::options::parse_now(text)?,
        None => Clock::system().now_ms(),
    };
    let verdict = runtime.block_on(check_connection(&config, now_ms))?;
    println!("{verdict}");
    Ok(match verdict {
        ConnectionVerdict::Connected => exit::OK,
        // Not connected as far as a user can tell: events like it would be refused too.
        ConnectionVerdict::EventRefused(_) => exit::EVENTS_FAILED,
        ConnectionVerdict::Refused(_) => exit::CREDENTIALS,
        ConnectionVerdict::Unreachable(_) => exit::UNREACHABLE,
    })
}
