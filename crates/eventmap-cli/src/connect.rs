//! `eventmap connect`: check the credentials as the seed's "Connect" button does.

use eventmap_openai::delivery::{check_connection, ConnectionVerdict};
use eventmap_pipeline::delivery::Clock;

use crate::connection::ConnectionArgs;
use crate::exit;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    connection: ConnectionArgs,
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
    let verdict = runtime.block_on(check_connection(&config, Clock::system().now_ms()))?;
    println!("{verdict}");
    Ok(match verdict {
        ConnectionVerdict::Connected | ConnectionVerdict::EventRefused(_) => exit::OK,
        ConnectionVerdict::Refused(_) => exit::CREDENTIALS,
        ConnectionVerdict::Unreachable(_) => exit::UNREACHABLE,
    })
}
