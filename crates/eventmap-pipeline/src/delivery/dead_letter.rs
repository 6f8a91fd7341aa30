//! Dead letters: events that can never be delivered as they are, with why, written as
//! JSON lines a person can read, fix and feed back to `eventmap send`.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Map, Value};

use eventmap::transforms::{format_rfc3339_ms, to_epoch_ms};

/// Why an event was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeadReason {
    /// The input line is not JSON.
    Malformed,
    /// The mapping failed on the event (a key's expression or transform failed).
    MappingFailed,
    /// The mapped event breaks the destination's rules (checked before sending).
    Invalid,
    /// The destination refused the event.
    Rejected,
    /// The event's timestamp left the destination's window before it could be sent.
    Expired,
    /// The event alone is larger than a request may be.
    TooLarge,
    /// Transient failures went on past the retry limits.
    RetriesExhausted,
    /// The credentials were refused; nothing more was sent.
    CredentialsRefused,
    /// The destination refused the requests themselves (wrong endpoint, say).
    Refused,
    /// The run was stopped (Ctrl-C, SIGTERM, a drain deadline) before the event was
    /// delivered. If a request carrying it was in flight it may have arrived; replaying is
    /// safe, as the destination deduplicates on the event id.
    Interrupted,
    /// The event was damaged where it waited (it failed its checksum in the spool): it
    /// is never sent altered.
    Corrupt,
    /// Its route left the pipeline file (a reload) while it waited: kept as a dead
    /// letter of that route, to be replayed where it belongs.
    RouteRemoved,
}

impl DeadReason {
    pub const ALL: [DeadReason; 12] = [
        DeadReason::Malformed,
        DeadReason::MappingFailed,
        DeadReason::Invalid,
        DeadReason::Rejected,
        DeadReason::Expired,
        DeadReason::TooLarge,
        DeadReason::RetriesExhausted,
        DeadReason::CredentialsRefused,
        DeadReason::Refused,
        DeadReason::Interrupted,
        DeadReason::Corrupt,
        DeadReason::RouteRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::Malformed => "malformed",
            DeadReason::MappingFailed => "mapping_failed",
            DeadReason::Invalid => "invalid",
            DeadReason::Rejected => "rejected",
            DeadReason::Expired => "expired",
            DeadReason::TooLarge => "too_large",
            DeadReason::RetriesExhausted => "retries_exhausted",
            DeadReason::CredentialsRefused => "credentials_refused",
            DeadReason::Refused => "refused",
            DeadReason::Interrupted => "interrupted",
            DeadReason::Corrupt => "corrupt",
            DeadReason::RouteRemoved => "route_removed",
        }
    }
}

impl fmt::Display for DeadReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeadReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auth" {
            // What earlier versions wrote for what is now `credentials_refused`.
            return Ok(DeadReason::CredentialsRefused);
        }
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown dead-letter reason `{s}`"))
    }
}

/// What a dead letter carries, so that it can be replayed.
#[derive(Debug, Clone, PartialEq)]
pub enum DeadPayload {
    /// The mapped event, and the input event it was mapped from where it is known.
    /// Replaying maps the source again with the mapping of the replay (so a fixed mapping
    /// fixes the event); without a source, or asked to, it validates and sends the mapped
    /// event as it stands (after any fix a person made to it).
    Mapped { event: Value, source: Option<Value> },
    /// The input event, never mapped: replaying maps it again.
    Source(Value),
    /// An input line that is not JSON: replaying parses it again.
    Line(String),
    /// An input line that is not UTF-8 text, byte for byte (written as hex, as JSON
    /// strings hold only text; never "repaired" with replacement characters).
    Bytes(Vec<u8>),
    /// Nothing of the event could be kept (a line longer than the line limit); the record
    /// says where it was so a person can find it.
    NotKept { input: String, line: u64 },
}

/// One event that can never be delivered as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The event's id (the destination's dedup id, or the input's `messageId`).
    pub id: Option<String>,
    pub reason: DeadReason,
    /// The last HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The destination's error code.
    pub code: Option<String>,
    pub message: String,
    /// Requests that carried the event.
    pub attempts: u32,
    /// When it was dead-lettered (delivery clock, epoch ms).
    pub at_ms: i64,
    pub payload: DeadPayload,
}

/// A line that looks like a dead letter but cannot be replayed.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("not a replayable dead letter: {0}")]
pub struct ReplayError(String);

impl DeadLetter {
    /// The record as one JSON object: `{"dead_letter": {reason, status, code, message,
    /// attempts, at}, "id": ..., "event"? "source"? | "line" | ...}`.
    pub fn to_json(&self) -> Value {
        let mut info = Map::new();
        info.insert("reason".into(), json!(self.reason.as_str()));
        if let Some(status) = self.status {
            info.insert("status".into(), json!(status));
        }
        if let Some(code) = &self.code {
            info.insert("code".into(), json!(code));
        }
        info.insert("message".into(), json!(self.message));
        info.insert("attempts".into(), json!(self.attempts));
        info.insert("at".into(), json!(format_rfc3339_ms(self.at_ms)));
        let mut record = Map::new();
        record.insert("dead_letter".into(), Value::Object(info));
        if let Some(id) = &self.id {
            record.insert("id".into(), json!(id));
        }
        let (key, payload) = match &self.payload {
            DeadPayload::Mapped { event, source } => {
                if let Some(source) = source {
                    record.insert("source".into(), source.clone());
                }
                ("event", event.clone())
            }
            DeadPayload::Source(event) => ("source", event.clone()),
            DeadPayload::Line(line) => ("line", json!(line)),
            DeadPayload::Bytes(bytes) => ("line_hex", json!(to_hex(bytes))),
            DeadPayload::NotKept { input, line } => {
                ("not_kept", json!({"input": input, "line": line}))
            }
        };
        record.insert(key.into(), payload);
        Value::Object(record)
    }

    /// Reads a record written by [`DeadLetter::to_json`]. `None` when `value` is not a dead
    /// letter at all (an ordinary input event).
    pub fn from_json(value: &Value) -> Option<Result<DeadLetter, ReplayError>> {
        let info = value.get("dead_letter")?;
        Some(Self::parse(value, info))
    }

    fn parse(value: &Value, info: &Value) -> Result<DeadLetter, ReplayError> {
        let bad = |what: &str| ReplayError(what.to_string());
        let reason = info
            .get("reason")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`dead_letter.reason` is missing"))?
            .parse()
            .map_err(ReplayError)?;
        let payload = if let Some(event) = value.get("event") {
            DeadPayload::Mapped {
                event: event.clone(),
                source: value.get("source").cloned(),
            }
        } else if let Some(source) = value.get("source") {
            DeadPayload::Source(source.clone())
        } else if let Some(line) = value.get("line").and_then(Value::as_str) {
            DeadPayload::Line(line.to_string())
        } else if let Some(hex) = value.get("line_hex").and_then(Value::as_str) {
            DeadPayload::Bytes(from_hex(hex).ok_or_else(|| bad("`line_hex` is not hex"))?)
        } else if let Some(place) = value.get("not_kept") {
            DeadPayload::NotKept {
                input: place["input"].as_str().unwrap_or_default().to_string(),
                line: place["line"].as_u64().unwrap_or(0),
            }
        } else {
            return Err(bad(
                "it has none of `event`, `source`, `line`, `line_hex` or `not_kept`",
            ));
        };
        Ok(DeadLetter {
            id: value.get("id").and_then(Value::as_str).map(str::to_string),
            reason,
            status: info
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok()),
            code: info.get("code").and_then(Value::as_str).map(str::to_string),
            message: info
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            attempts: info
                .get("attempts")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            at_ms: info
                .get("at")
                .and_then(|at| to_epoch_ms(at).ok())
                .unwrap_or(0),
            payload,
        })
    }
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(payload: DeadPayload) -> DeadLetter {
        DeadLetter {
            id: Some("m-1".into()),
            reason: DeadReason::Rejected,
            status: Some(400),
            code: Some("invalid_event".into()),
            message: "events[0].data.type must be a supported data type.".into(),
            attempts: 2,
            at_ms: 1_795_000_000_123,
            payload,
        }
    }

    #[test]
    fn records_read_back_as_written() {
        for payload in [
            DeadPayload::Mapped {
                event: json!({"id": "m-1", "type": "order_created"}),
                source: None,
            },
            DeadPayload::Mapped {
                event: json!({"id": "m-1", "type": "order_created"}),
                source: Some(json!({"messageId": "m-1", "event": "Order Completed"})),
            },
            DeadPayload::Source(json!({"messageId": "m-1"})),
            DeadPayload::Line("{not json".into()),
            DeadPayload::Bytes(b"{\"a\": \"\xff\xfe\"}".to_vec()),
            DeadPayload::NotKept {
                input: "events.ndjson".into(),
                line: 7,
            },
        ] {
            let original = letter(payload);
            let line = original.to_json().to_string();
            let parsed: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(DeadLetter::from_json(&parsed), Some(Ok(original)));
        }
    }

    #[test]
    fn ordinary_events_are_not_dead_letters() {
        assert_eq!(DeadLetter::from_json(&json!({"messageId": "m"})), None);
        let broken = json!({"dead_letter": {"reason": "lost"}, "event": {}});
        assert!(matches!(DeadLetter::from_json(&broken), Some(Err(_))));
    }

    #[test]
    fn every_reason_has_a_distinct_name_that_parses_back() {
        let names: std::collections::BTreeSet<_> =
            DeadReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), DeadReason::ALL.len());
        for reason in DeadReason::ALL {
            assert_eq!(reason.as_str().parse::<DeadReason>(), Ok(reason));
        }
    }
}
