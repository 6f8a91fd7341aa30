//! librdkafka configuration shared by the consumer and the producers.

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::producer::FutureProducer;

/// Where the brokers are, and librdkafka properties passed through (`--kafka-option
/// key=value`: TLS, SASL, tuning). Passed-through properties win over our defaults.
#[derive(Debug, Clone, Default)]
pub struct Brokers {
    /// `HOST:PORT[,HOST:PORT…]`.
    pub bootstrap: String,
    pub options: Vec<(String, String)>,
}

impl Brokers {
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap)
            .set("client.id", "eventmap")
            .set_log_level(if self.debugging() {
                RDKafkaLogLevel::Debug
            } else {
                RDKafkaLogLevel::Warning
            });
        config
    }

    /// librdkafka's `debug` property was passed: its debug lines are logged too.
    pub fn debugging(&self) -> bool {
        self.options.iter().any(|(key, _)| key == "debug")
    }

    /// Applies the passed-through properties last.
    pub fn finish(&self, mut config: ClientConfig) -> ClientConfig {
        for (key, value) in &self.options {
            config.set(key, value);
        }
        config
    }

    /// A producer that loses nothing it acknowledged: idempotent, `acks=all`, and retrying
    /// until `message.timeout.ms`.
    pub fn durable_producer(&self) -> Result<FutureProducer, rdkafka::error::KafkaError> {
        let mut config = self.config();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("message.timeout.ms", "30000");
        self.finish(config).create()
    }
}
