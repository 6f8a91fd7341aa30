//! The intake of `eventmap serve`: Segment's HTTP tracking API on a TCP listener.
//!
//! - [`segment`]: payloads (paths, batches, enrichment, skew correction);
//! - [`http`]: answers (write keys, CORS, gzip, limits, timeouts, the spool);
//! - [`store`]: where accepted events go (the spool, or a Kafka topic);
//! - [`idsync`]: the ID sync's script and its server-set cookie.

pub mod http;
pub mod idsync;
pub mod segment;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

pub use http::{Intake, IntakeConfig};
pub use segment::{Enriched, Limits};
pub use store::{Appending, EventStore, StoreError};

/// A client that sends no complete request head within this is disconnected.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `intake` on `listener` until `shutdown` resolves; then stops accepting, lets
/// the requests in flight be answered for up to `drain`, and returns.
pub async fn serve(
    listener: TcpListener,
    intake: Arc<Intake>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let intake = Arc::clone(&intake);
                let service = hyper::service::service_fn(move |request| {
                    let intake = Arc::clone(&intake);
                    async move { Ok::<_, std::convert::Infallible>(intake.handle(request).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, graceful.shutdown()).await;
}
