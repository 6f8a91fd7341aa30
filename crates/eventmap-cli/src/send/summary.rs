//! What a `send` run counted before delivery, why its reading ended, and the closing
//! `{"summary": …}` line that says what became of every event.

use std::collections::BTreeMap;
use std::time::Instant;

use eventmap_pipeline::delivery::{DeadReason, DeliveryReport};
use serde_json::{json, Value};

use crate::dead_letters::DeadLetterFile;
use crate::input::InputError;

/// What happened before delivery.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) read: u64,
    pub(super) mapped: u64,
    pub(super) replayed: u64,
    pub(super) skipped: BTreeMap<String, u64>,
    pub(super) invalid: u64,
    pub(super) failed: u64,
    pub(super) malformed: u64,
}

/// Why reading stopped.
pub(super) enum Ending {
    /// Every input was read.
    Done,
    /// Ctrl-C or SIGTERM (or a drain that was cut short).
    Interrupted,
    /// The destination refused the credentials or the requests: nothing more can go.
    DeliveryStopped,
    /// An input could not be opened or read.
    InputFailed(InputError),
    /// A dead letter could not be written.
    LettersFailed,
}

impl Ending {
    pub(super) fn as_str(&self) -> &'static str {
        match self {
            Ending::Done => "end_of_input",
            Ending::Interrupted => "interrupted",
            Ending::DeliveryStopped => "delivery_stopped",
            Ending::InputFailed(_) => "input_unreadable",
            Ending::LettersFailed => "dead_letter_write_failed",
        }
    }
}

/// The closing `{"summary": …}` line.
pub(super) struct Summary<'a> {
    pub(super) counts: &'a Counts,
    pub(super) report: &'a DeliveryReport,
    pub(super) validate_only: bool,
    pub(super) letters: &'a DeadLetterFile,
    /// The dead-letter file was written, flushed and synced without error.
    pub(super) kept: bool,
    pub(super) ending: &'a Ending,
    pub(super) resume: Option<(&'a str, u64)>,
    pub(super) started: Instant,
}

impl Summary<'_> {
    pub(super) fn to_json(&self) -> Value {
        let (counts, report, letters) = (self.counts, self.report, self.letters);
        let mut dead: BTreeMap<&str, u64> = BTreeMap::new();
        for (reason, n) in [
            (DeadReason::Malformed, counts.malformed),
            (DeadReason::MappingFailed, counts.failed),
            (DeadReason::Invalid, counts.invalid),
        ] {
            if n > 0 {
                dead.insert(reason.as_str(), n);
            }
        }
        for (reason, n) in &report.dead_lettered {
            *dead.entry(reason.as_str()).or_default() += n;
        }
        let skipped: u64 = counts.skipped.values().sum();
        let file_holds = self.kept && letters.written() > 0;
        json!({"summary": {
            "read": counts.read,
            "replayed": counts.replayed,
            "mapped": counts.mapped,
            "skipped": skipped,
            "skipped_by_reason": counts.skipped,
            "invalid": counts.invalid,
            "failed": counts.failed,
            "malformed": counts.malformed,
            "delivered": report.delivered,
            "validate_only": self.validate_only,
            "dead_lettered": dead.values().sum::<u64>(),
            "dead_lettered_by_reason": dead,
            "dead_letter_file": file_holds.then(|| letters.path().display().to_string()),
            "dead_letters_not_written": letters.lost(),
            "requests": report.requests,
            "retries": report.retries,
            "resent": report.resent,
            "splits": report.splits,
            "stopped": self.ending.as_str(),
            "resume_from": self.resume.map(|(input, line)| json!({"input": input, "line": line})),
            "seconds": (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        }})
    }
}
