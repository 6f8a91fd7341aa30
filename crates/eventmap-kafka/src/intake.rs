//! `serve --to-kafka`: the intake produces what it accepts to a topic instead of the
//! local spool, and answers 200 once every in-sync replica has it. The HTTP tier and the
//! delivery tier (`eventmap consume`) then scale on their own.

use std::time::Duration;

use eventmap_pipeline::intake::{Appending, Enriched, EventStore, StoreError};
use eventmap_pipeline::spool::Admission;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

/// The record header naming the routes (of the pipeline file) an event goes to,
/// comma-separated: each route's consumers (`consume --config … --route NAME`) take the
/// records that name it, and pass over the rest. A record without it goes to every route.
pub const ROUTES_HEADER: &str = "eventmap-routes";

/// How long an accepted batch may wait for the broker's acknowledgement before the
/// request is answered 500 (and the client retries).
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Produces accepted events, keyed by user so that one user's events stay in order:
/// each event once, whatever number of routes it goes to.
pub struct KafkaStore {
    pub producer: FutureProducer,
    pub topic: String,
    /// The routes by lane (bit `i` of an event's lanes is `routes[i]`); empty without a
    /// pipeline file, and then no routes header is written.
    pub routes: Vec<String>,
}

impl KafkaStore {
    /// The routes header's value for an event going to `lanes`.
    fn routes_of(&self, lanes: u64) -> Option<String> {
        if self.routes.is_empty() {
            return None;
        }
        let names: Vec<&str> = self
            .routes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 64 && lanes & (1 << i) != 0)
            .map(|(_, name)| name.as_str())
            .collect();
        Some(names.join(","))
    }
}

impl EventStore for KafkaStore {
    fn append(&self, events: Vec<Enriched>, _now_ms: i64) -> Appending<'_> {
        Box::pin(async move {
            let accepted = events.len();
            let mut acks = Vec::with_capacity(accepted);
            // Queue the whole batch first (the producer batches it into few requests),
            // then wait for every acknowledgement.
            for event in &events {
                let mut record = FutureRecord::to(&self.topic).payload(&event.json);
                if let Some(key) = &event.partition_key {
                    record = record.key(key);
                }
                if let Some(routes) = self.routes_of(event.lanes) {
                    record = record.headers(OwnedHeaders::new().insert(Header {
                        key: ROUTES_HEADER,
                        value: Some(routes.as_bytes()),
                    }));
                }
                match self.producer.send_result(record) {
                    Ok(ack) => acks.push(ack),
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                        if acks.is_empty() =>
                    {
                        return Ok(Admission::Full);
                    }
                    Err((e, _)) => return Err(StoreError(format!("cannot produce: {e}"))),
                }
            }
            for ack in acks {
                match tokio::time::timeout(ACK_TIMEOUT, ack).await {
                    Ok(Ok(Ok(_))) => {}
                    Ok(Ok(Err((e, _)))) => {
                        return Err(StoreError(format!("the broker refused the events: {e}")))
                    }
                    Ok(Err(_)) => return Err(StoreError("the producer stopped".into())),
                    Err(_) => {
                        return Err(StoreError(format!(
                            "no acknowledgement from the broker within {}s",
                            ACK_TIMEOUT.as_secs()
                        )))
                    }
                }
            }
            Ok(Admission::Accepted {
                spooled: accepted,
                duplicates: 0,
            })
        })
    }

    fn writable(&self) -> bool {
        // Ready while the producer's queue has room; a broker that is down shows as
        // requests answered 500 after the acknowledgement timeout.
        self.producer.in_flight_count() < 100_000
    }

    fn name(&self) -> &'static str {
        "kafka"
    }
}
