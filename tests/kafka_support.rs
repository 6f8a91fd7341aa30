//! What the Kafka tests share: a real Kafka-compatible broker (tansu, in memory) on a
//! free port of 127.0.0.1, topics made through the admin API, records produced and read
//! back with librdkafka, and `eventmap consume` processes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::TopicPartitionList;
use serde_json::Value;

use crate::capture_lines as capture;
use crate::delivery::{CREDENTIALS, MAPPING};
use crate::serve::free_port;

/// The tansu binary: `$TANSU`, else `tansu` on the PATH or in ~/.cargo/bin. The tests
/// need it (`.ci/run` installs it); without it they fail, saying how to install it.
fn tansu() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU") {
        return PathBuf::from(path);
    }
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")));
    for dir in candidates {
        let path = dir.join("tansu");
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "the Kafka tests need the tansu broker: `cargo install tansu --locked --features \
         dynostore` (bash .ci/run installs it when missing), or set TANSU=/path/to/tansu"
    );
}

/// A tansu broker with in-memory storage; killed when dropped.
pub struct Broker {
    child: Child,
    pub bootstrap: String,
    log: Arc<Mutex<String>>,
}

impl Broker {
    pub fn start() -> Self {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let mut child = Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tansu starts");
        let log = capture(child.stderr.take().expect("stderr"));
        let broker = Self {
            child,
            bootstrap: format!("127.0.0.1:{port}"),
            log,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(&broker.bootstrap).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "tansu did not listen: {}",
                broker.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        broker
    }

    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> =
            self.config().create().expect("admin client");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let results = runtime
            .block_on(admin.create_topics([&new], &AdminOptions::new()))
            .expect("create_topics answers");
        for result in results {
            result.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
        }
    }

    /// Produces `records` (key, value) to `topic` and waits until the broker has them.
    /// One record a batch: tansu 0.6 returns nothing when a consumer fetches from an
    /// offset inside a batch (where a commit lands after a rebalance), a broker bug that
    /// Apache Kafka does not have (docs/scaling.md).
    pub fn produce(&self, topic: &str, records: &[(String, Vec<u8>)]) {
        self.produce_with(
            topic,
            records,
            &[("linger.ms", "0"), ("batch.num.messages", "1")],
        );
    }

    /// Produces `records` as a client in a hurry would: many records a batch.
    pub fn produce_batched(&self, topic: &str, records: &[(String, Vec<u8>)]) {
        self.produce_with(topic, records, &[("linger.ms", "5")]);
    }

    /// Produces `records` as one record batch (all sent within the producer's linger).
    pub fn produce_one_batch(&self, topic: &str, records: &[(String, Vec<u8>)]) {
        self.produce_with(
            topic,
            records,
            &[("linger.ms", "2000"), ("batch.num.messages", "100000")],
        );
    }

    fn produce_with(&self, topic: &str, records: &[(String, Vec<u8>)], settings: &[(&str, &str)]) {
        let mut config = self.config();
        config.set("acks", "all");
        for (key, value) in settings {
            config.set(*key, *value);
        }
        let producer: ThreadedProducer<DefaultProducerContext> = config.create().expect("producer");
        for (key, value) in records {
            let mut record = BaseRecord::to(topic).key(key).payload(value);
            // A full queue hands the record back: wait for room.
            while let Err((_, back)) = producer.send(record) {
                record = back;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        producer
            .flush(Duration::from_secs(60))
            .expect("records acknowledged");
    }

    /// Every record of `topic` (all partitions), read from the start by a fresh group
    /// until `expected` arrived or 20 s passed.
    pub fn read_all(&self, topic: &str, expected: usize) -> Vec<TopicRecord> {
        let group = format!("reader-{}", free_port());
        let consumer: BaseConsumer = self
            .config()
            .set("group.id", &group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("reader");
        consumer.subscribe(&[topic]).expect("subscribe");
        let mut records = Vec::new();
        let started = Instant::now();
        while records.len() < expected && started.elapsed() < Duration::from_secs(20) {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                let value = h.value.map(|v| String::from_utf8_lossy(v).into());
                                (h.key.to_string(), value.unwrap_or_default())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                records.push(TopicRecord {
                    partition: m.partition(),
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                    headers,
                });
            }
        }
        records
    }

    /// The offsets `group` committed for `topic`'s partitions 0..partitions.
    pub fn committed(&self, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
        let consumer: BaseConsumer = self
            .config()
            .set("group.id", group)
            .create()
            .expect("consumer");
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition(topic, p);
        }
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .expect("committed offsets");
        (0..partitions)
            .map(|p| {
                committed
                    .find_partition(topic, p)
                    .and_then(|e| e.offset().to_raw())
                    .unwrap_or(-1)
            })
            .collect()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One record read back.
#[derive(Debug, Clone)]
pub struct TopicRecord {
    pub partition: i32,
    pub key: Option<String>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl TopicRecord {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.value).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A running `eventmap consume`; killed (SIGKILL) when dropped.
pub struct Consumer {
    pub child: Child,
    log: Arc<Mutex<String>>,
    pub metrics_addr: String,
}

impl Consumer {
    /// `eventmap consume` of `topic` in `group`, delivering to `endpoint`, with fast
    /// retries and a short session (so a killed member's partitions move quickly).
    pub fn start(
        broker: &Broker,
        topic: &str,
        group: &str,
        endpoint: &str,
        extra: &[&str],
    ) -> Self {
        Self::start_with(MAPPING, broker, topic, group, endpoint, extra)
    }

    /// [`Consumer::start`] with another mapping (another destination).
    pub fn start_with(
        mapping: &str,
        broker: &Broker,
        topic: &str,
        group: &str,
        endpoint: &str,
        extra: &[&str],
    ) -> Self {
        let mut own = vec![
            "--group",
            group,
            "--mapping",
            mapping,
            "--endpoint",
            endpoint,
        ];
        own.extend_from_slice(extra);
        Self::spawn(broker, topic, &own)
    }

    /// `eventmap consume --config FILE --route NAME` of `topic` (its own group,
    /// `eventmap-NAME`; the route's endpoint from the file).
    pub fn start_route(broker: &Broker, topic: &str, config: &str, route: &str) -> Self {
        Self::spawn(broker, topic, &["--config", config, "--route", route])
    }

    fn spawn(broker: &Broker, topic: &str, own: &[&str]) -> Self {
        let metrics_addr = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(crate::binary())
            .args([
                "consume",
                "--brokers",
                &broker.bootstrap,
                "--topic",
                topic,
                "--dead-letter-topic",
                &format!("{topic}-dead"),
                "--metrics-listen",
                &metrics_addr,
                "--session-timeout",
                "6s",
                "--commit-interval",
                "200ms",
                "--linger",
                "20ms",
                "--retry-delay",
                "20ms",
                "--max-retry-delay",
                "200ms",
            ])
            .args(own)
            .current_dir(crate::repo())
            .envs(CREDENTIALS)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("eventmap consume starts");
        let log = capture(child.stderr.take().expect("stderr"));
        Self {
            child,
            log,
            metrics_addr,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The JSON lines logged as `event`.
    pub fn logged(&self, event: &str) -> Vec<Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["event"] == event)
            .collect()
    }

    /// The partitions this consumer owns now, by its last assignment log line.
    pub fn owns_partitions(&self) -> bool {
        let assigned = self.logged("partitions_assigned");
        let revoked = self.logged("partitions_revoked");
        assigned.len() > revoked.len()
            && assigned
                .last()
                .and_then(|a| a["partitions"].as_array())
                .is_some_and(|p| !p.is_empty())
    }

    /// The metrics page.
    pub fn metrics(&self) -> String {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(&self.metrics_addr) else {
            return String::new();
        };
        let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut page = String::new();
        let _ = stream.read_to_string(&mut page);
        page
    }

    pub fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM with the shell's own `kill`; returns the exit code and the log.
    pub fn terminate(mut self) -> (Option<i32>, String) {
        let code = crate::sigterm_and_wait(&mut self.child);
        (code, self.log())
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `done` until it holds, for up to `limit`.
pub fn wait_for(what: &str, limit: Duration, done: impl FnMut() -> bool) {
    wait_for_with_logs(what, limit, &[], done);
}

/// [`wait_for`], printing the consumers' logs if it times out (what the group did).
pub fn wait_for_with_logs(
    what: &str,
    limit: Duration,
    consumers: &[&Consumer],
    mut done: impl FnMut() -> bool,
) {
    let started = Instant::now();
    while !done() {
        if started.elapsed() >= limit {
            let logs: Vec<String> = consumers.iter().map(|c| c.log()).collect();
            panic!(
                "timed out waiting for {what}; the consumers logged:\n{}",
                logs.join("\n---\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
