//! A one-line progress indicator on stderr, only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub(crate) struct Progress {
    enabled: bool,
    started: Instant,
    last: Instant,
    shown: bool,
}

impl Progress {
    pub fn new() -> Self {
        let now = Instant::now();
        Self {
            enabled: std::io::stderr().is_terminal(),
            started: now,
            last: now,
            shown: false,
        }
    }

    /// Called per event; redraws at most a few times a second.
    pub fn tick(&mut self, read: u64, mapped: u64) {
        self.update(read, |rate| {
            format!("{read} events read, {mapped} mapped ({rate:.0}/s)")
        });
    }

    /// Redraws with `text(events per second)`, at most a few times a second; `count` is
    /// the number of events so far.
    pub fn update(&mut self, count: u64, text: impl FnOnce(f64) -> String) {
        if !self.enabled || !count.is_multiple_of(256) {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) < Duration::from_millis(250) {
            return;
        }
        self.last = now;
        let rate = count as f64 / now.duration_since(self.started).as_secs_f64().max(1e-9);
        eprint!("\r\x1b[K{}", text(rate));
        let _ = std::io::stderr().flush();
        self.shown = true;
    }

    /// Erases the progress line before something else is written to stderr.
    pub fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[K");
            self.shown = false;
        }
    }
}
