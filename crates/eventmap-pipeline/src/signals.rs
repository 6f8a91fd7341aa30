//! How a long run is stopped and reloaded, the same for `send`, `serve` and `consume`:
//! SIGTERM and SIGINT (Ctrl-C) ask for a stop, SIGHUP for a reload where a run reloads,
//! and a stop is bounded ([`exit_after_drain`]) where nothing acknowledged can be lost.
//!
//! The handlers are registered when [`Signals`] is made, before the run starts, so a
//! signal that comes early is not missed and does not kill the process by default.

use std::future::Future;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use crate::log;

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// SIGTERM, SIGINT or Ctrl-C: its name.
    Stop(&'static str),
    /// SIGHUP (only when the run reloads).
    Reload,
}

/// The signals a run listens to, registered once.
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    /// Registered only for runs that reload: elsewhere SIGHUP keeps its default (ends the
    /// process, as a closed terminal should).
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// SIGTERM and SIGINT, and SIGHUP when `reloads`.
    pub fn new(reloads: bool) -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
                hup: if reloads {
                    Some(signal(SignalKind::hangup())?)
                } else {
                    None
                },
            })
        }
        #[cfg(not(unix))]
        {
            let _ = reloads;
            Ok(Self {})
        }
    }

    /// The next signal.
    pub async fn next(&mut self) -> Asked {
        #[cfg(unix)]
        {
            let hup = async {
                match &mut self.hup {
                    Some(hup) => hup.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(()) = self.term.recv() => Asked::Stop("SIGTERM"),
                Some(()) = self.int.recv() => Asked::Stop("SIGINT"),
                Some(()) = hup => Asked::Reload,
                else => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Asked::Stop("Ctrl-C"),
                Err(_) => std::future::pending().await,
            }
        }
    }
}

/// Turns the first stop signal into `stop` (logged `stopping` with its name), for a run
/// that does not reload. Without signals (none could be registered) the run goes on
/// until it is killed.
pub async fn stop_on_signals(stop: watch::Sender<bool>) {
    stop_or_reload_on_signals(stop, None::<fn() -> std::future::Ready<()>>).await;
}

/// As [`stop_on_signals`], and each SIGHUP before the stop runs `reload`.
pub async fn stop_or_reload_on_signals<F, R>(stop: watch::Sender<bool>, mut reload: Option<F>)
where
    F: FnMut() -> R,
    R: Future<Output = ()>,
{
    let Ok(mut signals) = Signals::new(reload.is_some()) else {
        log::line("signals_unavailable", json!({}));
        // Keep the sender: dropping it would read as a stop.
        std::future::pending::<()>().await;
        return;
    };
    loop {
        match signals.next().await {
            Asked::Reload => {
                if let Some(reload) = reload.as_mut() {
                    reload().await;
                }
            }
            Asked::Stop(name) => {
                log::line("stopping", json!({"signal": name}));
                stop.send_replace(true);
                return;
            }
        }
    }
}

/// The bound on a stop: once `stop` turns true, the process exits (with `code`) after
/// `bound` whatever is stuck (a destination that never answers, a disk that hangs),
/// logging `stopped` with `forced: true` and `note`. Only for runs where exiting is as
/// safe as a kill -9: nothing acknowledged before it is durable, nothing let go before
/// its outcome is.
pub async fn exit_after_drain(
    mut stop: watch::Receiver<bool>,
    bound: Duration,
    code: i32,
    note: &str,
) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        return;
    }
    tokio::time::sleep(bound).await;
    log::line(
        "stopped",
        json!({"forced": true, "after_s": bound.as_secs_f64(), "note": note}),
    );
    std::process::exit(code);
}
