//! `eventmap consume`: a member of a consumer group that maps each record and delivers
//! it through the same driving loop as `eventmap serve`'s spool
//! ([`eventmap_pipeline::drive`]).
//!
//! At least once, with nothing lost: a partition's offset is committed only past records
//! that are delivered, skipped, or produced to the dead-letter topic (`acks=all`). What
//! was in work at a crash, a stop deadline or an abandoned rebalance is read again by the
//! partition's next owner, with the same event ids, which the destination deduplicates
//! on.

mod member;
mod observer;
mod poller;
mod resume;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use eventmap_pipeline::delivery::{Clock, DeadReason, DeliveryConfig, Fatal, Sink};
use eventmap_pipeline::drive::{drive, Driving, Replay};
use eventmap_pipeline::log;
use eventmap_pipeline::process::Compiled;
use eventmap_pipeline::spool::DEFAULT_ROUTE;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::client::Brokers;
use crate::dead_letters::DeadLetterTopic;
use crate::metrics::ConsumeMetrics;
use crate::offsets::Offsets;
use member::Member;
use observer::{DeadLetters, Work};
use poller::{Control, Poller, Rebalancer};

/// Everything a consumer needs besides the mapping and the sink.
#[derive(Debug, Clone)]
pub struct ConsumeConfig {
    pub brokers: Brokers,
    pub topics: Vec<String>,
    pub group: String,
    pub dead_letter_topic: String,
    /// A record longer than this is dead-lettered unread.
    pub max_record_bytes: usize,
    /// The group's session timeout: how soon a crashed member's partitions move.
    pub session_timeout: Duration,
    pub commit_interval: Duration,
    /// How long a rebalance waits for a revoked partition's records in work.
    pub revoke_timeout: Duration,
    /// After a stop is asked for, how long what is in flight may take to deliver.
    pub drain: Duration,
    pub validate_only: bool,
    pub delivery: DeliveryConfig,
    /// The route this consumer delivers (`consume --config … --route NAME`): records
    /// whose routes header does not name it are passed over (committed, not delivered).
    pub route: Option<String>,
}

/// What one consumer did, from its start to its stop.
#[derive(Debug, Clone, Default)]
pub struct ConsumeReport {
    pub records: u64,
    pub delivered: u64,
    pub skipped: u64,
    /// Records for other routes only, passed over.
    pub other_routes: u64,
    pub dead_lettered: BTreeMap<DeadReason, u64>,
    /// Records handed back uncommitted at the stop (their partition's next owner reads
    /// them again).
    pub handed_back: u64,
    /// The destination stopped delivery (credentials or endpoint refused).
    pub refused: Option<Fatal>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("cannot set up the Kafka client: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error("cannot start the poll thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Records waiting between the poll thread and the processor.
const RECORDS_AHEAD: usize = 1024;

/// Joins the group and consumes until `stop` turns true or the destination refuses us.
pub async fn consume<S: Sink>(
    config: &ConsumeConfig,
    compiled: Arc<Compiled>,
    sink: S,
    clock: Clock,
    metrics: ConsumeMetrics,
    stop: watch::Receiver<bool>,
) -> Result<ConsumeReport, ConsumeError> {
    let offsets = Arc::new(Offsets::default());
    let consumer = group_member(config, &offsets, &metrics)?;
    let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    let dead_letter_topic = DeadLetterTopic {
        producer: config.brokers.durable_producer()?,
        topic: config.dead_letter_topic.clone(),
    };

    let (records, incoming) = mpsc::channel(RECORDS_AHEAD);
    let control = Arc::new(Control::default());
    let poller = Poller {
        consumer,
        records,
        control: Arc::clone(&control),
        commit_interval: config.commit_interval,
        max_record_bytes: config.max_record_bytes,
    };
    let poll_thread = std::thread::Builder::new()
        .name("kafka-poll".into())
        .spawn(move || poller.run())?;
    log::line(
        "consumer_started",
        json!({"group": config.group, "topics": config.topics}),
    );

    let dead_letters = DeadLetters::start(dead_letter_topic, Arc::clone(&offsets), metrics.clone());
    let work = Arc::new(Work {
        offsets: Arc::clone(&offsets),
        metrics: metrics.clone(),
        in_flight: Mutex::new(Default::default()),
        dead_letters: dead_letters.sender(),
        skipped: AtomicU64::new(0),
    });
    let member = Member {
        incoming,
        offsets,
        metrics,
        route: config.route.clone(),
        work,
        control,
        poll_thread,
        dead_letters,
        drain: config.drain,
        next_tag: 0,
        records: 0,
        other_routes: 0,
    };
    let driving = Driving {
        route: config.route.clone().unwrap_or_else(|| DEFAULT_ROUTE.into()),
        mapping: Arc::new(RwLock::new(compiled)),
        clock,
        delivery: bounded_queue(&config.delivery),
        validate_only: config.validate_only,
        drain: config.drain,
        replay: Replay::Off,
    };
    let driven = drive(member, &driving, sink, stop).await;
    let end = driven.finished;
    let report = ConsumeReport {
        records: end.records,
        delivered: driven.report.delivered,
        skipped: end.skipped,
        other_routes: end.other_routes,
        // Every dead letter, before delivery or from it, went through the topic's producer.
        dead_lettered: end.dead_lettered,
        handed_back: end.handed_back,
        refused: driven.refused,
    };
    log::line(
        "consumer_stopped",
        json!({"records": report.records, "delivered": report.delivered,
            "skipped": report.skipped, "other_routes": report.other_routes,
            "handed_back": report.handed_back}),
    );
    Ok(report)
}

/// Delivery's queue holds a few requests' worth, not thousands of events: a rebalance
/// waits for what is in delivery, and the rest of the partition stays in Kafka.
fn bounded_queue(config: &DeliveryConfig) -> DeliveryConfig {
    let mut config = config.clone();
    config.queue = (config.batch_size * config.concurrency * 2).clamp(64, config.queue.max(64));
    config
}

/// A consumer in the group, committing by hand (only what is done).
fn group_member(
    config: &ConsumeConfig,
    offsets: &Arc<Offsets>,
    metrics: &ConsumeMetrics,
) -> Result<BaseConsumer<Rebalancer>, rdkafka::error::KafkaError> {
    let mut client = config.brokers.config();
    let session_ms = config.session_timeout.as_millis().to_string();
    let heartbeat_ms = (config.session_timeout.as_millis() / 3)
        .max(100)
        .to_string();
    client
        .set("group.id", &config.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", session_ms)
        .set("heartbeat.interval.ms", heartbeat_ms)
        .set("statistics.interval.ms", "5000");
    let context = Rebalancer {
        offsets: Arc::clone(offsets),
        metrics: metrics.clone(),
        revoke_timeout: config.revoke_timeout,
        closing: AtomicBool::new(false),
        verbose: config.brokers.debugging(),
        resume: Mutex::default(),
        owned: Mutex::default(),
    };
    config.brokers.finish(client).create_with_context(context)
}
