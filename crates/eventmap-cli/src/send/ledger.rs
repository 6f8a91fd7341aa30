//! What `send` keeps of each event's fate as the driving loop and the delivery tell it:
//! a line on stderr for each event not sent (never its data), the dead letters in their
//! file, the counts for the progress line and the summary, and the destination's first
//! answer, which opens the gate on reading.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use eventmap_pipeline::delivery::{DeadLetter, OutgoingEvent, RetryNotice};
use eventmap_pipeline::drive::Fates;
use eventmap_pipeline::process::{Line, Processed};
use serde_json::json;
use tokio::sync::watch;

use super::feed::place_of;
use super::summary::Counts;
use crate::console::Console;
use crate::dead_letters::DeadLetterFile;
use crate::report::{self, Origin};

pub(super) struct Ledger {
    pub console: Arc<Console>,
    inputs: Arc<[String]>,
    letters: Mutex<DeadLetterFile>,
    counts: Mutex<Counts>,
    delivered: AtomicU64,
    dead_lettered: AtomicU64,
    /// A dead letter could not be written: the run stops, as going on would lose more.
    letters_failed: AtomicBool,
    /// Turns true at the destination's first answer (delivered, refused or failed in any
    /// way).
    answered: watch::Sender<bool>,
    /// The run's stop, asked for here when a dead letter cannot be written.
    stop: Arc<watch::Sender<bool>>,
}

impl Ledger {
    pub fn new(
        console: Arc<Console>,
        inputs: Arc<[String]>,
        letters: DeadLetterFile,
        stop: Arc<watch::Sender<bool>>,
    ) -> Self {
        Self {
            console,
            inputs,
            letters: Mutex::new(letters),
            counts: Mutex::new(Counts::default()),
            delivered: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            letters_failed: AtomicBool::new(false),
            answered: watch::Sender::new(false),
            stop,
        }
    }

    pub fn letters(&self) -> MutexGuard<'_, DeadLetterFile> {
        self.letters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn letters_failed(&self) -> bool {
        self.letters_failed.load(Ordering::SeqCst)
    }

    /// Turns true once the destination has answered.
    pub fn first_answer(&self) -> watch::Receiver<bool> {
        self.answered.subscribe()
    }

    /// Writes a dead letter to the file.
    fn keep(&self, letter: &DeadLetter) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
        if !self.letters().write(letter) {
            self.letters_failed.store(true, Ordering::SeqCst);
            self.stop.send_replace(true);
        }
    }

    fn answered(&self) {
        self.answered
            .send_if_modified(|answered| !std::mem::replace(answered, true));
    }

    /// A letter the delivery made, to the file and (without its data) to stderr.
    fn keep_and_show(&self, letter: &DeadLetter) {
        self.keep(letter);
        self.answered();
        // The line names the event and the reason; never its data.
        let mut line = json!({"status": "dead_lettered", "id": letter.id,
            "reason": letter.reason.as_str(), "message": letter.message,
            "attempts": letter.attempts});
        if let Some(status) = letter.status {
            line["http_status"] = json!(status);
        }
        if let Some(code) = &letter.code {
            line["code"] = json!(code);
        }
        let _ = self.console.write(format!("{line}\n").as_bytes());
    }

    fn show_progress(&self, read: u64) {
        self.console.progress(read, |rate| {
            format!(
                "{read} read, {} delivered, {} dead-lettered ({rate:.0}/s)",
                self.delivered.load(Ordering::Relaxed),
                self.dead_lettered.load(Ordering::Relaxed),
            )
        });
    }
}

impl Fates for Ledger {
    /// Counts the event and reports one that will not be sent, by input, line and id.
    fn examined(&self, tag: u64, line: &Line) {
        let place = place_of(tag);
        let origin = Origin {
            input: &self.inputs[place.input],
            line: place.line,
            id: line.id.as_deref(),
        };
        let read = {
            let mut counts = self.counts();
            counts.read += 1;
            counts.replayed += u64::from(line.replayed);
            match &line.processed {
                Processed::Mapped { .. } => counts.mapped += 1,
                Processed::Skipped { reason } => {
                    *counts.skipped.entry(reason.clone()).or_default() += 1;
                }
                Processed::Invalid { .. } => counts.invalid += 1,
                Processed::Failed { .. } => counts.failed += 1,
                Processed::Malformed { .. } => counts.malformed += 1,
            }
            counts.read
        };
        // A report that cannot reach stderr changes nothing about the event's fate.
        let _ = match &line.processed {
            Processed::Mapped { .. } => Ok(()),
            Processed::Skipped { reason } => {
                self.console.report(|w| report::skipped(w, &origin, reason))
            }
            Processed::Invalid { violations, .. } => self
                .console
                .report(|w| report::invalid(w, &origin, violations)),
            Processed::Failed { errors, .. } => {
                self.console.report(|w| report::failed(w, &origin, errors))
            }
            Processed::Malformed { message, .. } => self
                .console
                .report(|w| report::malformed(w, &origin, message)),
        };
        self.show_progress(read);
    }

    fn delivered(&self, events: &[OutgoingEvent]) {
        self.delivered
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        self.answered();
    }

    /// Counted and reported when examined.
    fn skipped(&self, _tag: u64, _reason: &str) {}

    /// Reported when examined; the letter goes to the file.
    fn rejected(&self, _tag: u64, letter: DeadLetter) {
        self.keep(&letter);
    }

    fn dead_lettered(&self, _tag: u64, letter: DeadLetter) {
        self.keep_and_show(&letter);
    }

    /// A file is read once: what delivery could not send (interrupted, credentials
    /// refused) is kept as a dead letter, to be replayed.
    fn kept(&self, _tag: u64, letter: &DeadLetter) {
        self.keep_and_show(letter);
    }

    fn retrying(&self, notice: &RetryNotice) {
        self.answered();
        let mut line = json!({"status": "retrying", "events": notice.events,
            "failures": notice.failures, "delay_ms": notice.delay.as_millis() as u64,
            "error": notice.error.message});
        if let Some(status) = notice.error.status {
            line["http_status"] = json!(status);
        }
        let _ = self.console.write(format!("{line}\n").as_bytes());
    }
}
