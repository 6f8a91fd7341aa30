//! What `send` shows and keeps of the delivery as it happens: dead letters (to the file
//! and, without their data, to stderr), retries, counts for the progress line, and the
//! first answer from the destination, which opens the gate on reading.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use eventmap_pipeline::delivery::{DeadLetter, DeliveryObserver, OutgoingEvent, RetryNotice};
use serde_json::json;

use crate::console::Console;
use crate::dead_letters::DeadLetterFile;

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
        }
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

        self.answered();
    }

    fn dead_lettered(&self, _event: &OutgoingEvent, letter: &DeadLetter) {
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
