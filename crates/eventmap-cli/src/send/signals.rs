//! Ctrl-C and SIGTERM during `send`: the first stops reading and lets what was read drain
//! for `--drain-timeout`; the deadline or a second signal ends the drain at once, and
//! everything still undelivered is dead-lettered `interrupted` (so it can be replayed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eventmap_pipeline::delivery::Stopper;

use super::feed::Waker;
use crate::console::Console;

/// SIGINT and, on Unix, SIGTERM, as one stream. Registered once, so a signal that comes
/// between two waits is not lost.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next SIGINT or SIGTERM.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                Some(()) = self.int.recv() => "SIGINT",
                Some(()) = self.term.recv() => "SIGTERM",
                else => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => std::future::pending().await,
            }
        }
    }
}

/// What the watcher acts on.
pub(crate) struct Watch {
    pub interrupted: Arc<AtomicBool>,
    pub waker: Waker,
    pub stopper: Stopper,
    pub drain_timeout: Duration,
    pub console: Arc<Console>,
}

/// Installs the handlers now (so a signal that comes early is not missed), then watches.
pub(crate) fn watch(watch: Watch) -> std::io::Result<impl std::future::Future<Output = ()>> {
    let mut signals = Signals::new()?;
    Ok(async move {
        let first = signals.next().await;
        watch.interrupted.store(true, Ordering::SeqCst);
        watch.waker.wake();
        let seconds = watch.drain_timeout.as_secs_f64();
        let _ = watch.console.write(
            format!(
                "eventmap: {first}: stopped reading; delivering what was read for up to {seconds} s \
                 (--drain-timeout; Ctrl-C again to stop now)\n"
            )
            .as_bytes(),
        );
        let why = tokio::select! {
            () = tokio::time::sleep(watch.drain_timeout) => {
                format!("the drain deadline passed ({seconds} s after {first})")
            }
            second = signals.next() => format!("{second} during the drain"),
        };
        let _ = watch.console.write(
            format!("eventmap: {why}: dead-lettering what is undelivered as `interrupted`\n")
                .as_bytes(),
        );
        watch.stopper.abort(why);
    })
}
