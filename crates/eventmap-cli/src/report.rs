//! What `map` says on stderr: one JSON line per event that was not mapped, then a summary.
//!
//! Lines name the event by `messageId` (and always by input and line number) and carry the
//! reason; they never include the event's data, which may be personal.

use std::io::Write;

use eventmap::KeyError;
use serde_json::{json, Value};

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub read: u64,
    pub mapped: u64,
    pub skipped: u64,
    pub failed: u64,
    /// Mapped, but rejected by the destination's validator.
    pub invalid: u64,
    pub malformed: u64,
}

impl Counts {
    /// Adds another part's counts (the parallel `map` sums its chunks').
    pub fn add(&mut self, other: &Counts) {
        self.read += other.read;
        self.mapped += other.mapped;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.invalid += other.invalid;
        self.malformed += other.malformed;
    }
}

/// Where an event came from, for reports.
pub(crate) struct Origin<'a> {
    pub input: &'a str,
    pub line: u64,
    pub id: Option<&'a str>,
}

impl Origin<'_> {
    fn fields(&self, status: &str) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("status".into(), json!(status));
        if let Some(id) = self.id {
            m.insert("id".into(), json!(id));
        }
        m.insert("input".into(), json!(self.input));
        m.insert("line".into(), json!(self.line));
        m
    }
}

pub(crate) fn skipped(
    err: &mut impl Write,
    origin: &Origin<'_>,
    reason: &str,
) -> std::io::Result<()> {
    let mut m = origin.fields("skipped");
    m.insert("reason".into(), json!(reason));
    write_line(err, m)
}

pub(crate) fn failed(
    err: &mut impl Write,
    origin: &Origin<'_>,
    errors: &[KeyError],
) -> std::io::Result<()> {
    let mut m = origin.fields("failed");
    let errors: Vec<Value> = errors
        .iter()
        .map(|e| {
            json!({"key": e.key, "code": e.code.as_str(), "message": e.message,
                   "location": e.location.to_string()})
        })
        .collect();
    m.insert("errors".into(), Value::Array(errors));
    write_line(err, m)
}

/// A mapped event the destination would reject, with every reason.
pub(crate) fn invalid(
    err: &mut impl Write,
    origin: &Origin<'_>,
    violations: &[eventmap::Violation],
) -> std::io::Result<()> {
    let mut m = origin.fields("invalid");
    let reasons: Vec<Value> = violations.iter().map(|v| json!(v.to_string())).collect();
    m.insert("reasons".into(), Value::Array(reasons));
    // The rules broken, once each: what `validate.relax` would name.
    let mut rules: Vec<&str> = Vec::new();
    for rule in violations.iter().map(|v| v.rule).filter(|r| !r.is_empty()) {
        if !rules.contains(&rule) {
            rules.push(rule);
        }
    }
    if !rules.is_empty() {
        m.insert("rules".into(), json!(rules));
    }
    write_line(err, m)
}

pub(crate) fn malformed(
    err: &mut impl Write,
    origin: &Origin<'_>,
    message: &str,
) -> std::io::Result<()> {
    let mut m = origin.fields("malformed");
    m.insert("error".into(), json!(message));
    write_line(err, m)
}

/// The closing `{"summary": …}` line of `map`.
pub(crate) fn summary_json(counts: &Counts, seconds: f64) -> Value {
    json!({"summary": {
        "read": counts.read,
        "mapped": counts.mapped,
        "skipped": counts.skipped,
        "failed": counts.failed,
        "invalid": counts.invalid,
        "malformed": counts.malformed,
        "seconds": (seconds * 1000.0).round() / 1000.0,
    }})
}

fn write_line(err: &mut impl Write, fields: serde_json::Map<String, Value>) -> std::io::Result<()> {
    writeln!(err, "{}", Value::Object(fields))
}
