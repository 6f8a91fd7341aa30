//! The intake of `eventmap serve`: Segment's HTTP tracking API on a TCP listener.
//!
//! - [`segment`]: payloads (paths, batches, enrichment, skew correction);
//! - [`http`]: answers (write keys, gzip, limits, timeouts, the spool);
//! - [`cors`]: which pages may post, and which may use the ID sync;
//! - [`store`]: where accepted events go (the spool, or a Kafka topic);
//! - [`idsync`]: the ID sync's script and its server-set cookie;
//! - [`sources`]: who may post (write keys, origins), how much, and to which routes;
//! - [`write_keys`]: the keys clients present, checked in constant time.

mod answers;
pub mod cors;
pub mod http;
pub mod idsync;
pub mod segment;
pub mod sources;
pub mod store;
pub mod write_keys;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::log;

pub use http::{Intake, IntakeConfig};
pub use segment::{Enriched, Limits};
pub use sources::{SharedSources, Source, Sources};
pub use store::{Appending, EventStore, StoreError};
pub use write_keys::WriteKeys;

/// A client that sends no complete request head within this is disconnected.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `intake` on `listener` until `shutdown` resolves; then stops accepting, lets
/// the requests in flight be answered for up to `drain`, and returns.
///
/// At most `intake.config.max_connections` connections are open at once: past that the
/// loop stops accepting (new clients wait in the kernel's backlog) until one closes, so
/// idle clients cannot take every file descriptor. When accepting fails anyway (no file
/// descriptors left, `EMFILE`/`ENFILE`, or no memory), the loop backs off instead of
/// retrying at once, which would burn a core on failing `accept` calls.
pub async fn serve(
    listener: TcpListener,
    intake: Arc<Intake>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(intake.config.max_connections.max(1)));
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept_within_limit(&listener, &slots, &intake) => accepted,
        };
        let (stream, slot) = match accepted {
            Ok(accepted) => {
                backoff.succeeded();
                accepted
            }
            Err(e) => {
                let pause = backoff.failed(&e);
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(pause) => continue,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let service_intake = Arc::clone(&intake);
        let service = hyper::service::service_fn(move |request| {
            let intake = Arc::clone(&service_intake);
            async move { Ok::<_, std::convert::Infallible>(intake.handle(request).await) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot); // The connection's slot is free once it has closed.
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, graceful.shutdown()).await;
}

/// Waits for a free connection slot, then for a connection.
async fn accept_within_limit(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    intake: &Intake,
) -> std::io::Result<(TcpStream, OwnedSemaphorePermit)> {
    let slot = match Arc::clone(slots).try_acquire_owned() {
        Ok(slot) => slot,
        Err(_) => {
            // Logged the first time only: a flood of clients must not flood the log.
            if intake.metrics.connection_limit_reached.inc() == 0 {
                log::line(
                    "connection_limit",
                    json!({"max_connections": intake.config.max_connections,
                        "note": "new connections wait until one closes (counted in eventmap_connection_limit_reached_total)"}),
                );
            }
            Arc::clone(slots)
                .acquire_owned()
                .await
                .map_err(|_| std::io::Error::other("the connection limit is closed"))?
        }
    };
    let (stream, _) = listener.accept().await?;
    Ok((stream, slot))
}

/// How long the accept loop pauses after failures: 10 ms doubling to 1 s, logged once
/// per run of failures.
#[derive(Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const LONGEST: Duration = Duration::from_secs(1);

    fn failed(&mut self, error: &std::io::Error) -> Duration {
        if self.failures == 0 {
            log::line(
                "accept_failing",
                json!({"error": error.to_string(),
                    "note": "out of file descriptors? raise `ulimit -n` or lower --max-connections"}),
            );
        }
        self.failures = self.failures.saturating_add(1);
        Self::FIRST
            .saturating_mul(1 << self.failures.min(8).saturating_sub(1))
            .min(Self::LONGEST)
    }

    fn succeeded(&mut self) {
        if self.failures > 0 {
            log::line("accept_recovered", json!({"failures": self.failures}));
        }
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_failures_back_off_to_a_second_and_reset() {
        let mut backoff = AcceptBackoff::default();
        let error = std::io::Error::from_raw_os_error(24);
        let pauses: Vec<Duration> = (0..10).map(|_| backoff.failed(&error)).collect();
        assert_eq!(pauses[0], Duration::from_millis(10));
        assert_eq!(pauses[1], Duration::from_millis(20));
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(pauses[9], Duration::from_secs(1));
        backoff.succeeded();
        assert_eq!(backoff.failed(&error), Duration::from_millis(10));
    }
}
