//! What `eventmap consume` counts, for `/metrics` (`--metrics-listen`). Labels are
//! closed sets (outcomes, reasons, the partitions owned): never an id, never data.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `delivered`, `skipped` or `dead_lettered`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabel {
    pub topic: String,
    pub partition: i32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RebalanceLabel {
    /// `assign` or `revoke`.
    pub kind: &'static str,
}

/// Every metric of a consumer; clone freely (they share their values).
#[derive(Clone, Default)]
pub struct ConsumeMetrics {
    pub records: Family<OutcomeLabel, Counter>,
    pub dead_lettered: Family<ReasonLabel, Counter>,
    pub retries: Counter,
    /// Records between the committed offset and the partition's end, as librdkafka last
    /// reported it (every `statistics.interval.ms`).
    pub lag: Family<PartitionLabel, Gauge>,
    pub committed: Family<PartitionLabel, Gauge>,
    pub rebalances: Family<RebalanceLabel, Counter>,
    /// Records abandoned to a partition's next owner at a rebalance.
    pub abandoned: Counter,
    pub handed_back: Counter,
    pub offset_gaps: Family<PartitionLabel, Counter>,
    pub refetches: Family<PartitionLabel, Counter>,
}

impl ConsumeMetrics {
    pub fn count(&self, outcome: &'static str, n: u64) {
        self.records
            .get_or_create(&OutcomeLabel { outcome })
            .inc_by(n);
    }

    pub fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix("eventmap_consume");
        r.register("records", "Records by outcome", self.records.clone());
        r.register(
            "dead_lettered",
            "Records dead-lettered, by reason",
            self.dead_lettered.clone(),
        );
        r.register("retries", "Delivery attempts retried", self.retries.clone());
        r.register(
            "consumer_lag",
            "Records not yet consumed, per partition",
            self.lag.clone(),
        );
        r.register(
            "committed_offset",
            "The last committed offset, per partition",
            self.committed.clone(),
        );
        r.register(
            "rebalances",
            "Partition assignments and revocations",
            self.rebalances.clone(),
        );
        r.register(
            "abandoned",
            "Records left to a partition's next owner at a rebalance",
            self.abandoned.clone(),
        );
        r.register(
            "handed_back",
            "Records polled but not begun when their partition was given up (at a \
             rebalance or the stop): the next owner reads them",
            self.handed_back.clone(),
        );
        r.register(
            "offset_gaps",
            "Times a partition resumed past its committed offset with no record there \
             (compaction, retention, a reset, a broker bug): the range is logged",
            self.offset_gaps.clone(),
        );
        r.register(
            "refetches",
            "Times a partition was read again from further back because the broker \
             answered a fetch from inside a record batch with a later batch",
            self.refetches.clone(),
        );
        r
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry());
        text
    }
}

/// Serves `GET /metrics` and `GET /healthz` on `listener` for as long as the task runs.
pub async fn serve_metrics(listener: TcpListener, metrics: ConsumeMetrics) {
    let metrics = Arc::new(metrics);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = Arc::clone(&metrics);
        let service = hyper::service::service_fn(move |request: Request<_>| {
            let metrics = Arc::clone(&metrics);
            async move { Ok::<_, Infallible>(answer(&metrics, request.uri().path())) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(metrics: &ConsumeMetrics, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" => (
            StatusCode::OK,
            eventmap_pipeline::metrics::CONTENT_TYPE,
            metrics.encode(),
        ),
        "/healthz" => (
            StatusCode::OK,
            "application/json",
            r#"{"status":"alive"}"#.to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
