//! The thread that owns the Kafka consumer: it polls records into the processing
//! channel, commits what is done, and answers rebalances.
//!
//! The consumer lives on a thread of its own because a rebalance must wait: before a
//! partition is given up, its records in work get a while to finish and what is done is
//! committed synchronously, inside librdkafka's rebalance callback. Blocking there is
//! right on this thread; it would stall a runtime worker.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use eventmap_pipeline::log;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::message::{Headers, Message};
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use tokio::sync::mpsc;

use super::resume::{Resume, Verdict, SILENCE};
use crate::dead_letters::SourceRecord;
use crate::metrics::{ConsumeMetrics, PartitionLabel, RebalanceLabel};
use crate::offsets::{Offsets, Partition};

/// One record taken from Kafka.
pub(crate) struct Record {
    pub source: SourceRecord,
    /// Why the record has no value to process: a tombstone, or over the size limit.
    pub unreadable: Option<String>,
    /// The routes it goes to ([`crate::intake::ROUTES_HEADER`]); `None`: every route.
    pub routes: Option<String>,
}

/// What the poll thread and the rest of the consumer share.
pub(crate) struct Rebalancer {
    pub offsets: Arc<Offsets>,
    pub metrics: ConsumeMetrics,
    /// How long a revoked partition's records in work may take before they are left to
    /// the partition's next owner.
    pub revoke_timeout: Duration,
    /// Shutting down: a revocation waits for nothing (the drain already did).
    pub closing: AtomicBool,
    /// Log librdkafka's debug lines (`--kafka-option debug=…`), not only its warnings.
    pub verbose: bool,
    /// Where each newly assigned partition must resume (see [`super::resume`]).
    pub resume: Mutex<Resume>,
    /// The partitions this member owns: only theirs are reported (lag, committed offset).
    pub owned: Mutex<HashSet<Partition>>,
}

impl Rebalancer {
    fn resume(&self) -> MutexGuard<'_, Resume> {
        self.resume.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn owned(&self) -> MutexGuard<'_, HashSet<Partition>> {
        self.owned.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ClientContext for Rebalancer {
    fn stats(&self, statistics: Statistics) {
        let owned = self.owned();
        for (topic, stats) in &statistics.topics {
            for (&partition, p) in &stats.partitions {
                // -1 is librdkafka's internal partition; -1 lag means "not known yet".
                // A partition given up stays in librdkafka's statistics with its last lag:
                // reported, it would claim a lag this member no longer has.
                if partition < 0
                    || p.consumer_lag < 0
                    || !owned.contains(&Partition::new(topic, partition))
                {
                    continue;
                }
                let label = PartitionLabel {
                    topic: topic.clone(),
                    partition,
                };
                self.metrics.lag.get_or_create(&label).set(p.consumer_lag);
            }
        }
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if self.verbose || (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            log::line(
                "kafka_client",
                json!({"level": format!("{level:?}"), "facility": facility, "message": message}),
            );
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        log::line(
            "kafka_error",
            json!({"error": error.to_string(), "reason": reason}),
        );
    }
}

impl ConsumerContext for Rebalancer {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else {
            return;
        };
        let partitions = partitions_of(list);
        self.offsets.begin_revoke(&partitions);
        let deadline = if self.closing.load(Ordering::SeqCst) {
            Instant::now()
        } else {
            Instant::now() + self.revoke_timeout
        };
        let finished = self.offsets.wait_settled(&partitions, deadline);
        let (due, abandoned) = self.offsets.revoke(&partitions);
        commit(consumer, &self.offsets, &due, CommitMode::Sync);
        self.metrics.abandoned.inc_by(abandoned as u64);
        self.metrics
            .rebalances
            .get_or_create(&RebalanceLabel { kind: "revoke" })
            .inc();
        {
            let mut owned = self.owned();
            let mut resume = self.resume();
            for partition in &partitions {
                owned.remove(partition);
                resume.forget(partition);
                self.metrics.lag.remove(&label(partition));
                self.metrics.committed.remove(&label(partition));
            }
        }
        log::line(
            "partitions_revoked",
            json!({"partitions": names(&partitions), "finished": finished,
                "abandoned": abandoned}),
        );
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                self.expect_committed(consumer, list);
                self.metrics
                    .rebalances
                    .get_or_create(&RebalanceLabel { kind: "assign" })
                    .inc();
                log::line(
                    "partitions_assigned",
                    json!({"partitions": names(&partitions_of(list))}),
                );
            }
            Rebalance::Error(e) => {
                log::line("rebalance_failed", json!({"error": e.to_string()}));
            }
            Rebalance::Revoke(_) => {}
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            // The gauge is set when the commit is made.
            Ok(()) => {}
            Err(e) => {
                let partitions = partitions_of(offsets);
                self.offsets.commit_failed(&partitions);
                log::line(
                    "commit_failed",
                    json!({"error": e.to_string(), "partitions": names(&partitions)}),
                );
            }
        }
    }
}

/// When the poll thread stops fetching, and when it may leave the group.
#[derive(Default)]
pub(crate) struct Control {
    /// Stop fetching; keep answering the group and committing.
    pub stop_fetching: AtomicBool,
    /// Every record handed out is settled or abandoned: commit and leave.
    pub processing_done: AtomicBool,
}

pub(crate) struct Poller {
    pub consumer: BaseConsumer<Rebalancer>,
    pub records: mpsc::Sender<Record>,
    pub control: Arc<Control>,
    pub commit_interval: Duration,
    pub max_record_bytes: usize,
}

impl Poller {
    /// Runs until processing is done; then commits, leaves the group and returns.
    pub fn run(self) {
        let Poller {
            consumer,
            records,
            control,
            commit_interval,
            max_record_bytes,
        } = self;
        let offsets = Arc::clone(&consumer.context().offsets);
        let mut last_commit = Instant::now();
        let mut last_silence_check = Instant::now();
        let mut records = Some(records);
        while !control.processing_done.load(Ordering::SeqCst) {
            let polled = consumer.poll(Duration::from_millis(100));
            let fetching = !control.stop_fetching.load(Ordering::SeqCst);
            if !fetching {
                // Nothing more is handed out; what was polled is read again by whoever
                // owns the partition next (it was never begun, so no commit passes it).
                records = None;
            }
            match polled {
                Some(Ok(message)) => {
                    let admitted =
                        records.is_some() && consumer.context().admit(&consumer, &message);
                    if let Some(sender) = records.as_ref().filter(|_| admitted) {
                        let record = record_of(&message, max_record_bytes);
                        offsets.begin(&record.source.partition, record.source.offset);
                        if sender.blocking_send(record).is_err() {
                            records = None;
                        }
                    }
                }
                Some(Err(e)) => log::line("kafka_error", json!({"error": e.to_string()})),
                None => {}
            }
            if last_commit.elapsed() >= commit_interval {
                commit(&consumer, &offsets, &offsets.due(), CommitMode::Async);
                last_commit = Instant::now();
            }
            if fetching && last_silence_check.elapsed() >= SILENCE / 2 {
                consumer.context().read_silent_partitions_again(&consumer);
                last_silence_check = Instant::now();
            }
        }
        commit(&consumer, &offsets, &offsets.due(), CommitMode::Sync);
        consumer.context().closing.store(true, Ordering::SeqCst);
        // Dropping the consumer closes it: the group is told at once (the partitions move
        // now, not at the session timeout), after the revocation above commits.
        drop(consumer);
    }
}

impl Rebalancer {
    /// Notes where each assigned partition must resume: its committed offset (also what
    /// the committed-offset gauge shows until this member commits).
    fn expect_committed(&self, consumer: &BaseConsumer<Self>, list: &TopicPartitionList) {
        self.owned().extend(partitions_of(list));
        let committed = match consumer.committed_offsets(list.clone(), Duration::from_secs(10)) {
            Ok(committed) => committed,
            Err(e) => {
                // Reading goes on unchecked: a skipped batch would then go unnoticed.
                log::line(
                    "committed_offsets_unknown",
                    json!({"error": e.to_string(), "partitions": names(&partitions_of(list))}),
                );
                return;
            }
        };
        let mut resume = self.resume();
        for element in committed.elements() {
            // No commit yet: reading starts where `auto.offset.reset` says.
            if let Offset::Offset(offset) = element.offset() {
                let partition = Partition::new(element.topic(), element.partition());
                self.metrics
                    .committed
                    .get_or_create(&label(&partition))
                    .set(offset);
                resume.expect(partition, offset);
            }
        }
    }

    /// The resume check's verdict on a polled record, acted on: `true` to process it.
    fn admit<M: Message>(&self, consumer: &BaseConsumer<Self>, message: &M) -> bool {
        let partition = Partition::new(message.topic(), message.partition());
        let offset = message.offset();
        let verdict = self.resume().check(&partition, offset);
        match verdict {
            Verdict::Take => true,
            Verdict::Drop => false,
            Verdict::SeekTo { expected, from } => {
                let why = json!({"expected": expected, "got": offset, "from": from,
                    "why": "the broker answered a fetch from inside a record batch with a later batch"});
                match self.read_again(consumer, &partition, from, why) {
                    Ok(()) => false,
                    Err(e) => {
                        self.resume().forget(&partition);
                        self.gap(&partition, None, offset, Some(e.to_string()));
                        true
                    }
                }
            }
            Verdict::Gap { from, to } => {
                self.gap(&partition, Some(from), to, None);
                true
            }
        }
    }

    /// Partitions silent since their assignment: the commit may sit inside the
    /// partition's last batch, and the broker have answered the fetch from there with the
    /// batch after it, of which there is none. They are read again from further back
    /// (see [`super::resume`]).
    fn read_silent_partitions_again(&self, consumer: &BaseConsumer<Self>) {
        let silent = self.resume().silent(Instant::now());
        for (partition, committed) in silent {
            let verdict = self.resume().read_silent_again(&partition, Instant::now());
            let Some(Verdict::SeekTo { expected, from }) = verdict else {
                continue;
            };
            let why = json!({"expected": expected, "from": from, "silent": true,
                "why": "no record came from the committed offset since the assignment: \
                        the broker may have skipped the rest of its batch"});
            if let Err(e) = self.read_again(consumer, &partition, from, why) {
                // Still pending: tried again after the next silence.
                log::line(
                    "seek_failed",
                    json!({"partition": partition.to_string(), "committed": committed,
                        "error": e.to_string()}),
                );
            }
        }
    }

    /// Reads `partition` again from offset `from`: counted, logged with `why` (an
    /// object of the log line's fields), and sought.
    fn read_again(
        &self,
        consumer: &BaseConsumer<Self>,
        partition: &Partition,
        from: i64,
        mut why: serde_json::Value,
    ) -> KafkaResult<()> {
        self.metrics
            .refetches
            .get_or_create(&label(partition))
            .inc();
        why["partition"] = json!(partition.to_string());
        log::line("partition_read_again", why);
        consumer.seek(
            &partition.topic,
            partition.partition,
            Offset::Offset(from),
            Duration::from_secs(10),
        )
    }

    fn gap(&self, partition: &Partition, from: Option<i64>, to: i64, error: Option<String>) {
        self.metrics
            .offset_gaps
            .get_or_create(&label(partition))
            .inc();
        log::line(
            "offset_gap",
            json!({"partition": partition.to_string(), "missing_from": from, "missing_to": to,
                "error": error,
                "note": "no records between the committed offset and the first one read: \
                         compacted, deleted by retention, an offset reset, or a broker bug"}),
        );
    }
}

fn record_of<M: Message>(message: &M, max_record_bytes: usize) -> Record {
    let partition = Partition::new(message.topic(), message.partition());
    let (value, unreadable) = match message.payload() {
        Some(bytes) if bytes.len() > max_record_bytes => (
            None,
            Some(format!(
                "the record is {} bytes, over the limit of {max_record_bytes} \
                 (--max-record-bytes)",
                bytes.len()
            )),
        ),
        Some(bytes) => (Some(bytes.to_vec()), None),
        None => (None, Some("the record has no value (a tombstone)".into())),
    };
    let routes = message.headers().and_then(|headers| {
        headers
            .iter()
            .find(|h| h.key == crate::intake::ROUTES_HEADER)
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    });
    Record {
        source: SourceRecord {
            partition,
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            value,
        },
        unreadable,
        routes,
    }
}

/// Commits `due`; a failure offers the partitions again at the next commit.
fn commit(
    consumer: &BaseConsumer<Rebalancer>,
    offsets: &Offsets,
    due: &[(Partition, i64)],
    mode: CommitMode,
) {
    if due.is_empty() {
        return;
    }
    let mut list = TopicPartitionList::new();
    for (partition, offset) in due {
        if let Err(e) = list.add_partition_offset(
            &partition.topic,
            partition.partition,
            Offset::Offset(*offset),
        ) {
            log::line("commit_failed", json!({"error": e.to_string()}));
        }
    }
    match consumer.commit(&list, mode) {
        Ok(()) => {
            // An asynchronous commit that fails later is offered again by the callback.
            for (partition, offset) in due {
                consumer
                    .context()
                    .metrics
                    .committed
                    .get_or_create(&label(partition))
                    .set(*offset);
            }
        }
        Err(e) => {
            let partitions: Vec<Partition> = due.iter().map(|(p, _)| p.clone()).collect();
            offsets.commit_failed(&partitions);
            log::line(
                "commit_failed",
                json!({"error": e.to_string(), "partitions": names(&partitions)}),
            );
        }
    }
}

fn partitions_of(list: &TopicPartitionList) -> Vec<Partition> {
    list.elements()
        .iter()
        .map(|e| Partition::new(e.topic(), e.partition()))
        .collect()
}

fn names(partitions: &[Partition]) -> Vec<String> {
    partitions.iter().map(ToString::to_string).collect()
}

fn label(partition: &Partition) -> PartitionLabel {
    PartitionLabel {
        topic: partition.topic.to_string(),
        partition: partition.partition,
    }
}
