//! The dead-letter topic: a record that can never be delivered is produced there, with
//! its reason and where it came from, before the commit that passes it.
//!
//! The value is the same JSON object `eventmap send` writes to a dead-letter file, plus
//! a `kafka` object naming the source record (topic, partition, offset, and its value when
//! the letter does not already hold it), so a dump of the topic replays through
//! `eventmap send`.

use std::time::Duration;

use eventmap_pipeline::delivery::{DeadLetter, DeadPayload};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};

use crate::offsets::Partition;

/// Where a record came from.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub partition: Partition,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// The record's value, when it was small enough to keep.
    pub value: Option<Vec<u8>>,
}

/// Produces dead letters with `acks=all`.
#[derive(Clone)]
pub struct DeadLetterTopic {
    pub producer: FutureProducer,
    pub topic: String,
}

impl DeadLetterTopic {
    /// Produces one dead letter; `Ok` once every in-sync replica has it.
    pub async fn publish(
        &self,
        source: &SourceRecord,
        letter: &DeadLetter,
    ) -> Result<(), rdkafka::error::KafkaError> {
        let value = record_value(source, letter).to_string();
        let partition = source.partition.partition.to_string();
        let offset = source.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "eventmap-reason",
                value: Some(letter.reason.as_str()),
            })
            .insert(Header {
                key: "eventmap-source-topic",
                value: Some(&*source.partition.topic),
            })
            .insert(Header {
                key: "eventmap-source-partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "eventmap-source-offset",
                value: Some(&offset),
            });
        let mut record = FutureRecord::to(&self.topic)
            .payload(&value)
            .headers(headers);
        if let Some(key) = &source.key {
            record = record.key(key);
        }
        self.producer
            .send(record, Duration::from_secs(5))
            .await
            .map(|_| ())
            .map_err(|(e, _)| e)
    }
}

/// The dead letter as `send` writes it, with where it came from.
pub fn record_value(source: &SourceRecord, letter: &DeadLetter) -> Value {
    let mut value = letter.to_json();
    let mut kafka = json!({
        "topic": &*source.partition.topic,
        "partition": source.partition.partition,
        "offset": source.offset,
    });
    // The letter holds the input already when it is the line or the source event. A
    // mapped event gets its record as `source` (so a replay after a mapping fix maps it
    // again), or as `kafka.value` when the record is not JSON.
    let holds_input = matches!(
        letter.payload,
        DeadPayload::Line(_)
            | DeadPayload::Bytes(_)
            | DeadPayload::Source(_)
            | DeadPayload::Mapped {
                source: Some(_),
                ..
            }
    );
    if !holds_input {
        let record = source.value.as_deref();
        match record.and_then(|v| serde_json::from_slice::<Value>(v).ok()) {
            Some(event @ Value::Object(_)) => value["source"] = event,
            _ => {
                if let Some(text) = record.and_then(|v| std::str::from_utf8(v).ok()) {
                    kafka["value"] = Value::from(text);
                }
            }
        }
    }
    if let Value::Object(map) = &mut value {
        map.insert("kafka".into(), kafka);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventmap_pipeline::delivery::DeadReason;

    fn letter(payload: DeadPayload) -> DeadLetter {
        DeadLetter {
            id: Some("m-1".into()),
            reason: DeadReason::Invalid,
            status: None,
            code: None,
            message: "amount must be an integer".into(),
            attempts: 0,
            at_ms: 1_795_000_000_000,
            payload,
        }
    }

    #[test]
    fn the_record_names_its_source_and_reads_back_as_a_dead_letter() {
        let source = SourceRecord {
            partition: Partition::new("events", 3),
            offset: 41,
            key: Some(b"user-1".to_vec()),
            value: Some(br#"{"messageId":"m-1"}"#.to_vec()),
        };
        let original = letter(DeadPayload::Mapped {
            event: json!({"id": "m-1"}),
            source: None,
        });
        let value = record_value(&source, &original);
        assert_eq!(value["kafka"]["topic"], "events");
        assert_eq!(value["kafka"]["partition"], 3);
        assert_eq!(value["kafka"]["offset"], 41);
        // The record, as the source a replay maps again.
        assert_eq!(value["source"], json!({"messageId": "m-1"}));
        assert_eq!(
            DeadLetter::from_json(&value),
            Some(Ok(letter(DeadPayload::Mapped {
                event: json!({"id": "m-1"}),
                source: Some(json!({"messageId": "m-1"})),
            })))
        );

        // A malformed line is kept once, as the letter's `line`.
        let value = record_value(&source, &letter(DeadPayload::Line("{oops".into())));
        assert_eq!(value["line"], "{oops");
        assert!(value["kafka"].get("value").is_none());
    }
}
