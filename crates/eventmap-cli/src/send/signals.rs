//! Ctrl-C and SIGTERM during `send`: the first stops reading and lets what was read drain
//! for `--drain-timeout`; the deadline or a second signal ends the drain at once, and
//! everything still undelivered is dead-lettered `interrupted` (so it can be replayed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eventmap_pipeline::delivery::Stopper;
use eventmap_pipeline::signals::{Asked, Signals};

use super::feed::Waker;
use crate::console::Console;

/// The next stop signal's name (`send` does not reload: SIGHUP keeps its default).
async fn next_stop(signals: &mut Signals) -> &'static str {
    loop {
        if let Asked::Stop(name) = signals.next().await {
            return name;
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
    let mut signals = Signals::new(false)?;
    Ok(async move {
        let first = next_stop(&mut signals).await;
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
            second = next_stop(&mut signals) => format!("{second} during the drain"),
        };
        let _ = watch.console.write(
            format!("eventmap: {why}: dead-lettering what is undelivered as `interrupted`\n")
                .as_bytes(),
        );
        watch.stopper.abort(why);
    })
}
