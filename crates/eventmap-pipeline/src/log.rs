//! The server's log: one JSON line on stderr per notable thing (start, reload, refusal,
//! dead letter, destination down or up). Callers pass ids, reasons and counts, never a
//! key or an event's data.

use std::io::Write;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};

use eventmap::transforms::format_rfc3339_ms;
use serde_json::{Map, Value};

/// How much the log says: each line has a level, and lines above the chosen one are not
/// written (`--log-level`, `EVENTMAP_LOG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something stopped or was refused for good.
    Error = 0,
    /// Something failed and is being retried or worked around.
    Warn = 1,
    /// What a person running it wants to see: start, stop, reloads, rebalances.
    Info = 2,
    /// Everything (no line is only debug yet: the level is there for those to come).
    Debug = 3,
}

impl Level {
    pub const NAMES: [&'static str; 4] = ["error", "warn", "info", "debug"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    fn from_u8(n: u8) -> Level {
        match n {
            0 => Level::Error,
            1 => Level::Warn,
            2 => Level::Info,
            _ => Level::Debug,
        }
    }

    /// The level of a log line, by its event.
    pub fn of(event: &str) -> Level {
        match event {
            "delivery_refused"
            | "reload_refused"
            | "signals_unavailable"
            | "spool_commit_failed"
            | "offset_gap"
            | "dead_letter_topic_failed" => Level::Error,
            "accept_failing"
            | "commit_failed"
            | "committed_offsets_unknown"
            | "connection_limit"
            | "dead_letter"
            | "delivery_unavailable"
            | "destination_down"
            | "fd_limit_low"
            | "kafka_error"
            | "rebalance_failed"
            | "reload_ignored"
            | "spool_prune_failed"
            | "spool_read_failed"
            | "spool_rewrite_failed"
            | "spool_rotate_failed"
            | "spool_seen_deferred"
            | "spool_segment_kept"
            | "spool_settle_deferred"
            | "spool_repaired" => Level::Warn,
            // librdkafka's warnings (its debug lines only with `--kafka-option debug=…`).
            "kafka_client" => Level::Warn,
            _ => Level::Info,
        }
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::NAMES
            .iter()
            .position(|name| name.eq_ignore_ascii_case(s.trim()))
            .map(|i| Level::from_u8(i as u8))
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a log level: one of {}",
                    Self::NAMES.join(", ")
                )
            })
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Lines above `level` are not written from now on.
pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Writes `{"ts": …, "level": …, "event": event, …fields}` as one line, unless its level
/// is above the one set.
pub fn line(event: &str, fields: Value) {
    let level = Level::of(event);
    if level > Level::from_u8(LEVEL.load(Ordering::Relaxed)) {
        return;
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut record = Map::new();
    record.insert("ts".into(), Value::from(format_rfc3339_ms(now_ms)));
    record.insert("level".into(), Value::from(level.as_str()));
    record.insert("event".into(), Value::from(event));
    if let Value::Object(fields) = fields {
        record.extend(fields);
    }
    let mut text = Value::Object(record).to_string();
    text.push('\n');
    // One write, so lines from several tasks never interleave; a closed stderr is no
    // reason to stop serving.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_back_and_order_from_quiet_to_chatty() {
        for name in Level::NAMES {
            assert_eq!(name.parse::<Level>().map(Level::as_str), Ok(name));
        }
        assert_eq!("WARN".parse::<Level>(), Ok(Level::Warn));
        assert!("loud".parse::<Level>().is_err());
        assert!(Level::Error < Level::Warn && Level::Info < Level::Debug);
        assert_eq!(Level::of("destination_down"), Level::Warn);
        assert_eq!(Level::of("start"), Level::Info);
        assert_eq!(Level::of("offset_gap"), Level::Error);
    }
}
