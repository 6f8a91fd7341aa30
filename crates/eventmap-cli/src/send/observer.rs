//! What `send` shows and keeps of the delivery as it happens: dead letters (to the file
//! and, without their data, to stderr), retries, counts for the progress line, and the
//! first answer from the destination, which opens the gate on reading.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use eventmap_pipeline::delivery::{
    DeadLetter, DeadPayload, DeliveryObserver, OutgoingEvent, RetryNotice,
};
use serde_json::{json, Value};

use crate::console::Console;
use crate::dead_letters::DeadLetterFile;

/// An input line as read, kept while its event is in delivery.
pub(crate) struct InputLine {
    pub bytes: Vec<u8>,
    /// The line is a dead letter being replayed: its input event is the one it kept.
    pub replayed: bool,
}

impl InputLine {
    fn source(self) -> Option<Value> {
        let value: Value = serde_json::from_slice(&self.bytes).ok()?;
        if self.replayed {
            value.get("source").cloned()
        } else {
            Some(value)
        }
    }
}

pub(crate) struct Observer {
    pub console: Arc<Console>,
    letters: Mutex<DeadLetterFile>,
    pub delivered: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// A dead letter could not be written: reading stops, as going on would lose more.
    letters_failed: AtomicBool,
    /// The destination has answered once (delivered, refused or failed in any way).
    answered: Mutex<bool>,
    answer: Condvar,
    /// The input line of each event in delivery, by tag: a dead letter keeps its event,
    /// so that a replay after a mapping fix maps it again. Parsed only for a letter.
    sources: Mutex<HashMap<u64, InputLine>>,
    next_tag: AtomicU64,
}

impl Observer {
    pub fn new(console: Arc<Console>, letters: DeadLetterFile) -> Self {
        Self {
            console,
            letters: Mutex::new(letters),
            delivered: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            letters_failed: AtomicBool::new(false),
            answered: Mutex::new(false),
            answer: Condvar::new(),
            sources: Mutex::new(HashMap::new()),
            next_tag: AtomicU64::new(0),
        }
    }

    fn sources(&self) -> MutexGuard<'_, HashMap<u64, InputLine>> {
        self.sources.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tags `event` and keeps its input line until it is delivered or dead-lettered.
    pub fn track(&self, event: OutgoingEvent, line: InputLine) -> OutgoingEvent {
        let tag = self.next_tag.fetch_add(1, Ordering::Relaxed);
        self.sources().insert(tag, line);
        event.with_tag(tag)
    }

    /// The letter of an event in delivery, with its input event.
    pub fn with_source(&self, event: &OutgoingEvent, letter: &DeadLetter) -> DeadLetter {
        let mut letter = letter.clone();
        let kept = self.sources().remove(&event.tag);
        if let DeadPayload::Mapped { source, .. } = &mut letter.payload {
            if source.is_none() {
                *source = kept.and_then(InputLine::source);
            }
        }
        letter
    }

    pub fn letters(&self) -> MutexGuard<'_, DeadLetterFile> {
        self.letters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes a dead letter to the file.
    pub fn keep(&self, letter: &DeadLetter) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
        if !self.letters().write(letter) {
            self.letters_failed.store(true, Ordering::SeqCst);
        }
    }

    pub fn letters_failed(&self) -> bool {
        self.letters_failed.load(Ordering::SeqCst)
    }

    /// Waits until the destination has answered once, or `give_up()` says to stop
    /// waiting. Until then `send` reads no more than one batch: with a wrong key, only
    /// that batch is read and dead-lettered, not the whole input.
    pub fn wait_for_first_answer(&self, give_up: impl Fn() -> bool) {
        let mut answered = self.answered.lock().unwrap_or_else(PoisonError::into_inner);
        while !*answered && !give_up() {
            answered = self
                .answer
                .wait_timeout(answered, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    pub fn has_answered(&self) -> bool {
        *self.answered.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn answered(&self) {
        let mut answered = self.answered.lock().unwrap_or_else(PoisonError::into_inner);
        if !*answered {
            *answered = true;
            self.answer.notify_all();
        }
    }
}

impl DeliveryObserver for Observer {
    fn delivered(&self, events: &[OutgoingEvent], _test_mode: bool) {
        self.delivered
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        let mut sources = self.sources();
        for event in events {
            sources.remove(&event.tag);
        }
        drop(sources);
        self.answered();
    }

    fn dead_lettered(&self, event: &OutgoingEvent, letter: &DeadLetter) {
        self.keep(&self.with_source(event, letter));
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
