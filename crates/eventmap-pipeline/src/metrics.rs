//! What `eventmap serve` counts, in the Prometheus text format (`GET /metrics`), through
//! `prometheus-client`. Labels are closed sets (answers, outcomes, reasons, the routes of
//! the pipeline file): never an id, never data. The delivery counters exist as totals and,
//! labelled `route`, per route.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnswerLabel {
    /// The HTTP status answered.
    pub answer: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `accepted`, `duplicate` or `refused`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    /// A route of the pipeline file (`default` without one).
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteReasonLabel {
    pub route: String,
    pub reason: &'static str,
}

/// Every metric of the server; clone freely (they share their values).
#[derive(Clone)]
pub struct Metrics {
    pub requests: Family<AnswerLabel, Counter>,
    pub events: Family<OutcomeLabel, Counter>,
    pub delivered: Counter,
    pub skipped: Counter,
    pub dead_lettered: Family<ReasonLabel, Counter>,
    pub retries: Counter,
    pub spool_depth: Gauge,
    pub spool_bytes: Gauge,
    pub dead_letters_kept: Gauge,
    pub spool_commits: Gauge,
    /// From `receivedAt` to the destination's acceptance.
    pub delivery_latency: Histogram,
    /// From the request's arrival to its answer.
    pub request_duration: Histogram,
    pub reloads: Family<OutcomeLabel, Counter>,
    /// Times a connection had to wait because `--max-connections` were open.
    pub connection_limit_reached: Counter,
    /// URL fields cut to the intake's limit (`segment::MAX_URL_BYTES`).
    pub urls_cut: Counter,
    pub route_delivered: Family<RouteLabel, Counter>,
    pub route_skipped: Family<RouteLabel, Counter>,
    pub route_dead_lettered: Family<RouteReasonLabel, Counter>,
    pub route_retries: Family<RouteLabel, Counter>,
    /// Events waiting for each route.
    pub route_depth: Family<RouteLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            events: Family::default(),
            delivered: Counter::default(),
            skipped: Counter::default(),
            dead_lettered: Family::default(),
            retries: Counter::default(),
            spool_depth: Gauge::default(),
            spool_bytes: Gauge::default(),
            dead_letters_kept: Gauge::default(),
            spool_commits: Gauge::default(),
            // 1 ms to about 9 minutes.
            delivery_latency: Histogram::new(exponential_buckets(0.001, 2.0, 20)),
            // 0.1 ms to about 3 s.
            request_duration: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            reloads: Family::default(),
            connection_limit_reached: Counter::default(),
            urls_cut: Counter::default(),
            route_delivered: Family::default(),
            route_skipped: Family::default(),
            route_dead_lettered: Family::default(),
            route_retries: Family::default(),
            route_depth: Family::default(),
        }
    }
}

impl Metrics {
    /// A registry holding every metric, for encoding.
    pub fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix("eventmap");
        r.register(
            "requests",
            "HTTP intake requests by answer",
            self.requests.clone(),
        );
        r.register(
            "events",
            "Events offered to the intake by outcome",
            self.events.clone(),
        );
        r.register(
            "delivered",
            "Events the destination accepted",
            self.delivered.clone(),
        );
        r.register(
            "skipped",
            "Events the mapping skipped with a reason",
            self.skipped.clone(),
        );
        r.register(
            "dead_lettered",
            "Events dead-lettered by reason",
            self.dead_lettered.clone(),
        );
        r.register(
            "retries",
            "Batches retried after a transient failure",
            self.retries.clone(),
        );
        r.register(
            "spool_depth",
            "Events waiting in the spool",
            self.spool_depth.clone(),
        );
        r.register(
            "spool_bytes",
            "Bytes of events waiting in the spool",
            self.spool_bytes.clone(),
        );
        r.register(
            "dead_letters_kept",
            "Dead letters kept in the spool",
            self.dead_letters_kept.clone(),
        );
        r.register(
            "spool_commits",
            "Durable commits (fsyncs) of the spool",
            self.spool_commits.clone(),
        );
        r.register(
            "delivery_latency_seconds",
            "From receipt to acceptance by the destination",
            self.delivery_latency.clone(),
        );
        r.register(
            "request_duration_seconds",
            "From a request's arrival to its answer",
            self.request_duration.clone(),
        );
        r.register(
            "reloads",
            "Mapping reloads by outcome",
            self.reloads.clone(),
        );
        r.register(
            "connection_limit_reached",
            "Connections that waited because --max-connections were open",
            self.connection_limit_reached.clone(),
        );
        r.register(
            "route_delivered",
            "Events the destination of each route accepted",
            self.route_delivered.clone(),
        );
        r.register(
            "route_skipped",
            "Events each route's mapping skipped",
            self.route_skipped.clone(),
        );
        r.register(
            "route_dead_lettered",
            "Events dead-lettered, by route and reason",
            self.route_dead_lettered.clone(),
        );
        r.register(
            "route_retries",
            "Batches each route retried",
            self.route_retries.clone(),
        );
        r.register(
            "route_depth",
            "Events waiting in the spool for each route",
            self.route_depth.clone(),
        );
        r.register(
            "urls_cut",
            "URL fields longer than 2,048 bytes cut to that at intake (docs/serve.md)",
            self.urls_cut.clone(),
        );
        r
    }

    /// The delivery counters of `route`: its own and the totals.
    pub fn delivered(&self, route: &str, n: u64) {
        self.delivered.inc_by(n);
        self.route_delivered.get_or_create(&label(route)).inc_by(n);
    }

    pub fn skipped(&self, route: &str) {
        self.skipped.inc();
        self.route_skipped.get_or_create(&label(route)).inc();
    }

    pub fn dead_lettered(&self, route: &str, reason: &'static str) {
        self.dead_lettered
            .get_or_create(&ReasonLabel { reason })
            .inc();
        self.route_dead_lettered
            .get_or_create(&RouteReasonLabel {
                route: route.to_string(),
                reason,
            })
            .inc();
    }

    pub fn retried(&self, route: &str) {
        self.retries.inc();
        self.route_retries.get_or_create(&label(route)).inc();
    }

    /// The text exposition (OpenMetrics, served as [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry());
        text
    }
}

/// What every eventmap `/metrics` page is: prometheus-client writes OpenMetrics text
/// (with its `# EOF`), so `serve` and `consume` both say so.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn label(route: &str) -> RouteLabel {
    RouteLabel {
        route: route.to_string(),
    }
}
