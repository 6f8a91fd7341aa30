//! Ctrl-C and SIGTERM during `send`: the first stops reading and lets what was read drain
//! for `--drain-timeout`; the deadline or a second signal ends the drain at once, and
//! everything still undelivered is dead-lettered `interrupted` (so it can be replayed).

use std::sync::Arc;
use std::time::Duration;

use eventmap_pipeline::signals::{Asked, Signals};
use tokio::sync::watch;

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
    /// The run's stop: the driving loop takes no more lines and drains.
    pub stop: Arc<watch::Sender<bool>>,
    /// Why what is undelivered must be given up before the drain ends.
    pub give_up: watch::Sender<Option<String>>,
    pub drain_timeout: Duration,
    pub console: Arc<Console>,
}

/// Installs the handlers now (so a signal that comes early is not missed), then watches.
pub(crate) fn watch(watch: Watch) -> std::io::Result<impl std::future::Future<Output = ()>> {
    let mut signals = Signals::new(false)?;
    Ok(async move {
        let first = next_stop(&mut signals).await;
        watch.stop.send_replace(true);
        let seconds = watch.drain_timeout.as_secs_f64();
        let _ = watch.console.write(
            format!(
                "eventmap: {first}: stopped reading; delivering what was read for up to {seconds} s \
                 (--drain-timeout; Ctrl-C again to stop now)\n"
            )
            .as_bytes(),
        );
        // The driving loop ends the drain at its own deadline; this only says so then.
        let (why, now) = tokio::select! {
            () = tokio::time::sleep(watch.drain_timeout) => {
                (format!("the drain deadline passed ({seconds} s after {first})"), false)
            }
            second = next_stop(&mut signals) => (format!("{second} during the drain"), true),
        };
        let _ = watch.console.write(
            format!("eventmap: {why}: dead-lettering what is undelivered as `interrupted`\n")
                .as_bytes(),
        );
        if now {
            watch.give_up.send_replace(Some(why));
        }
    })
}
