//! eventmap on Kafka, for when one machine is not enough.
//!
//! - [`consume`]: a consumer-group member that maps and delivers each record through the
//!   same processor and delivery machinery as `eventmap send`, committing an offset only
//!   past records that are delivered, skipped, or on the dead-letter topic.
//! - [`intake`]: `serve --to-kafka`, the intake producing to a topic.
//! - [`offsets`]: which offset of each partition may be committed.
//! - [`dead_letters`]: the dead-letter topic's records.
//! - [`metrics`]: what a consumer counts, for `/metrics`.
//! - [`client`]: librdkafka settings shared by consumers and producers.
//!
//! The client is `rdkafka` (librdkafka, built from its bundled source): the reasons are
//! in docs/architecture.md.

pub mod client;
pub mod consume;
pub mod dead_letters;
pub mod intake;
pub mod metrics;
pub mod offsets;

pub use client::Brokers;
pub use consume::{consume, ConsumeConfig, ConsumeError, ConsumeReport};
pub use intake::KafkaStore;
