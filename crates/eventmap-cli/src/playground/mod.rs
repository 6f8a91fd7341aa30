//! `eventmap playground`: edit a mapping in the browser and see every event's outcome as
//! you type.
//!
//! - [`evaluate`]: diagnostics, outcomes and traces, from the engine's own compiler;
//! - [`session`]: the two files it may write, and the events it starts with;
//! - [`guard`]: the token, `Host` and `Origin` checks every request passes;
//! - [`server`]: the HTTP side; [`assets`]: the page, built into the binary.

mod assets;
mod evaluate;
mod guard;
mod server;
mod session;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use hyper_util::rt::TokioIo;

use crate::exit;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The mapping to edit; "Save mapping" writes the editor's text back to it.
    #[arg(long, short)]
    mapping: PathBuf,
    /// Events to start with: NDJSON (one event a line) or a fixture file (its inputs).
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Where "Save as fixture" adds fixtures (default: `<dir>/<name>/fixtures/playground.yaml`
    /// beside the mapping, where `eventmap test` finds them).
    #[arg(long, value_name = "FILE")]
    fixtures: Option<PathBuf>,
    /// The port on 127.0.0.1 (default: a free one). The playground listens on loopback
    /// only.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Set a mapping parameter (editable in the page).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// The clock the page starts with (RFC 3339 or epoch ms) for timestamps and the
    /// destination's time window, as `map --now`: example events keep their outcome any
    /// day. Editable in the page; blank means now.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let session = session::Session::open(
        &args.mapping,
        args.events.as_deref(),
        args.fixtures.as_deref(),
        args.params.clone(),
        args.now.clone(),
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, session))?;
    Ok(exit::OK)
}

async fn serve(args: &Args, session: session::Session) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let port = listener.local_addr()?.port();
    let token = guard::new_token().map_err(|e| anyhow::anyhow!("no random token: {e}"))?;
    let mut out = std::io::stdout();
    writeln!(
        out,
        "eventmap playground: open http://127.0.0.1:{port}/?token={token}"
    )?;
    writeln!(
        out,
        "  editing {}; fixtures go to {}\n  Ctrl-C stops it",
        session.mapping_file.display(),
        session.fixtures_file.display()
    )?;
    out.flush()?;
    let playground = Arc::new(server::Playground {
        guard: guard::Guard::new(token, port),
        session,
    });
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    // Out of file descriptors, say: wait, rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let playground = Arc::clone(&playground);
        let service = hyper::service::service_fn(move |request| {
            let playground = Arc::clone(&playground);
            async move { Ok::<_, std::convert::Infallible>(playground.handle(request).await) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
