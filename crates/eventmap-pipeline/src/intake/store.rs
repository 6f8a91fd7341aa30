//! Where the intake puts what it accepts: the local spool, or (with `eventmap-kafka`)
//! a Kafka topic. A 200 is answered only once the store says the events are safe.

use std::future::Future;
use std::pin::Pin;

use super::segment::Enriched;
use crate::metrics::Metrics;
use crate::spool::{Admission, Incoming, Spool};

/// A store's answer to an append, in the future it returns.
pub type Appending<'a> = Pin<Box<dyn Future<Output = Result<Admission, StoreError>> + Send + 'a>>;

/// Durable storage for accepted events.
pub trait EventStore: Send + Sync + 'static {
    /// `Ok(Accepted)` only once every event will survive a crash of this process.
    fn append(&self, events: Vec<Enriched>, now_ms: i64) -> Appending<'_>;
    /// Whether appends can succeed now (`/readyz`).
    fn writable(&self) -> bool;
    /// Refreshes the store's gauges before `/metrics` is answered.
    fn observe(&self, _metrics: &Metrics) {}
    /// What it is, for answers (`spool_full`, `kafka_error`): `spool` or `kafka`.
    fn name(&self) -> &'static str;
}

/// Why an append failed; the client is answered 500 and retries.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl EventStore for Spool {
    fn append(&self, events: Vec<Enriched>, now_ms: i64) -> Appending<'_> {
        let events = events
            .into_iter()
            .map(|e| Incoming {
                dedup_id: e.dedup_id,
                json: e.json,
                lanes: e.lanes,
            })
            .collect();
        Box::pin(async move {
            Spool::append(self, events, now_ms)
                .await
                .map_err(|e| StoreError(e.to_string()))
        })
    }

    fn writable(&self) -> bool {
        self.is_writable()
    }

    fn observe(&self, m: &Metrics) {
        m.spool_depth.set(self.depth() as i64);
        // Every route known to have had events, at 0 once drained.
        for lane in 0..crate::spool::MAX_LANES as u8 {
            let Some(route) = self.lane_name(lane) else {
                continue;
            };
            let label = crate::metrics::RouteLabel { route };
            let depth = self.lane_depth(lane) as i64;
            if depth > 0 || m.route_depth.get(&label).is_some() {
                m.route_depth.get_or_create(&label).set(depth);
            }
        }
        m.spool_bytes.set(self.bytes() as i64);
        m.dead_letters_kept.set(self.dead() as i64);
        m.spool_commits.set(self.commits() as i64);
    }

    fn name(&self) -> &'static str {
        "spool"
    }
}
