//! The server's log: one JSON line on stderr per notable thing (start, reload, refusal,
//! dead letter, destination down or up). Callers pass ids, reasons and counts, never a
//! key or an event's data.

use std::io::Write;

use eventmap::transforms::format_rfc3339_ms;
use serde_json::{Map, Value};

/// Writes `{"ts": …, "event": event, …fields}` as one line.
pub fn line(event: &str, fields: Value) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut record = Map::new();
    record.insert("ts".into(), Value::from(format_rfc3339_ms(now_ms)));
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
