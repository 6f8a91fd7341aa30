//! `eventmap consume`: a member of a consumer group that maps each record and delivers
//! it through the same processor and [`Delivery`] as `eventmap send`.
//!
//! At least once, with nothing lost: a partition's offset is committed only past records
//! that are delivered, skipped, or produced to the dead-letter topic (`acks=all`). What
//! was in work at a crash, a stop deadline or an abandoned rebalance is read again by the
//! partition's next owner, with the same event ids, which the destination deduplicates
//! on.

mod observer;
mod poller;
mod resume;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventmap::EventContext;
use eventmap_pipeline::delivery::{
    Clock, DeadLetter, DeadPayload, DeadReason, Delivery, DeliveryConfig, DeliveryObserver, Fatal,
    Sink,
};
use eventmap_pipeline::log;
use eventmap_pipeline::process::Compiled;
use eventmap_pipeline::process::{Next, Processor};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::client::Brokers;
use crate::dead_letters::DeadLetterTopic;
use crate::metrics::ConsumeMetrics;
use crate::offsets::Offsets;
use observer::{DeadLetters, Work};
use poller::{Control, Poller, Rebalancer, Record};

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
    mut stop: watch::Receiver<bool>,
) -> Result<ConsumeReport, ConsumeError> {
    let offsets = Arc::new(Offsets::default());
    let consumer = group_member(config, &offsets, &metrics)?;
    let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    let dead_letter_topic = DeadLetterTopic {
        producer: config.brokers.durable_producer()?,
        topic: config.dead_letter_topic.clone(),
    };

    let (records, mut incoming) = mpsc::channel(RECORDS_AHEAD);
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
    });
    let delivery = Delivery::start(
        sink,
        bounded_queue(&config.delivery),
        clock,
        Arc::clone(&work) as Arc<dyn DeliveryObserver>,
    );
    let processor = Processor {
        mapping: &compiled.mapping,
        validator: compiled.validator.as_deref(),
        replay: false,
        resend_mapped: false,
    };
    let next_tag = AtomicU64::new(0);
    let mut report = ConsumeReport::default();

    let mut stop_listening = true;
    while !*stop.borrow() && delivery.stopped().is_none() {
        let record = tokio::select! {
            record = incoming.recv() => record,
            // A sender gone can never ask for a stop: stop listening rather than spin.
            changed = stop.changed(), if stop_listening => {
                stop_listening = changed.is_ok();
                continue;
            }
            // Notice a destination stop while idle.
            () = tokio::time::sleep(Duration::from_secs(1)) => continue,
        };
        let Some(record) = record else { break };
        if offsets.hand_back(&record.source.partition, record.source.offset) {
            metrics.handed_back.inc();
            continue; // Its partition is going to another member, which reads it again.
        }
        report.records += 1;
        if !for_route(config.route.as_deref(), record.routes.as_deref()) {
            report.other_routes += 1;
            metrics.count("other_route", 1);
            offsets.settle(&record.source.partition, record.source.offset);
            continue;
        }
        let now_ms = clock.now_ms();
        match next_step(&processor, &record, now_ms, config.validate_only) {
            Next::Deliver(event) => {
                let tag = next_tag.fetch_add(1, Ordering::Relaxed);
                work.track(tag, record.source);
                if delivery.submit(event.with_tag(tag)).await.is_err() {
                    break;
                }
            }
            Next::Skip { .. } => {
                report.skipped += 1;
                metrics.count("skipped", 1);
                offsets.settle(&record.source.partition, record.source.offset);
            }
            Next::DeadLetter(letter) => work.dead_letter(record.source, letter),
        }
    }

    // Stop: no more records; what is in the channel is handed back uncommitted.
    control.stop_fetching.store(true, Ordering::SeqCst);
    drop(incoming);
    let fatal = delivery.stopped();
    let delivered = delivery
        .finish_within(
            config.drain,
            "shutdown: the drain deadline passed; the records stay uncommitted",
        )
        .await;
    // The work (the delivery's observer) holds the dead letters' sender.
    drop(work);
    let dead_lettered = dead_letters.finish(config.drain).await;
    report.handed_back = offsets.in_work() as u64;
    control.processing_done.store(true, Ordering::SeqCst);
    // The poll thread commits, leaves the group and ends.
    let _ = tokio::task::spawn_blocking(move || poll_thread.join()).await;

    report.delivered = delivered.delivered;
    // Every dead letter, before delivery or from it, went through the topic's producer.
    report.dead_lettered = dead_lettered;
    report.refused = fatal.filter(|f| f.reason != DeadReason::Interrupted);
    log::line(
        "consumer_stopped",
        json!({"records": report.records, "delivered": report.delivered,
            "skipped": report.skipped, "other_routes": report.other_routes,
            "handed_back": report.handed_back}),
    );
    Ok(report)
}

/// Whether a record whose routes header says `routes` is for this consumer's `route`.
fn for_route(route: Option<&str>, routes: Option<&str>) -> bool {
    match (route, routes) {
        (Some(route), Some(routes)) => routes.split(',').any(|r| r.trim() == route),
        _ => true,
    }
}

fn next_step(processor: &Processor<'_>, record: &Record, now_ms: i64, validate_only: bool) -> Next {
    let source = &record.source;
    let fallback_id = || {
        format!(
            "kafka-{}-{}-{}",
            source.partition.topic, source.partition.partition, source.offset
        )
    };
    match (&source.value, &record.unreadable) {
        (Some(bytes), _) => processor.bytes(bytes, &EventContext { now_ms }).next(
            bytes,
            now_ms,
            validate_only,
            fallback_id,
        ),
        (None, why) => Next::DeadLetter(DeadLetter {
            id: None,
            reason: DeadReason::Malformed,
            status: None,
            code: None,
            message: why.clone().unwrap_or_default(),
            attempts: 0,
            at_ms: now_ms,
            payload: DeadPayload::NotKept {
                input: format!("kafka:{}", source.partition),
                line: u64::try_from(source.offset).unwrap_or(0),
            },
        }),
    }
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

#[cfg(test)]
mod tests {
    use super::for_route;

    #[test]
    fn a_route_takes_the_records_that_name_it_and_those_for_every_route() {
        assert!(for_route(Some("meta"), Some("openai,meta")));
        assert!(!for_route(Some("meta"), Some("openai")));
        assert!(!for_route(Some("meta"), Some("")));
        assert!(for_route(Some("meta"), None), "no header: every route");
        assert!(for_route(None, Some("openai")), "no route: every record");
    }
}
