//! stderr shared by the reading thread and the delivery tasks: whole report lines, and a
//! progress line on terminals that is erased before each report line.

use std::io::Write;
use std::sync::{Mutex, MutexGuard};

use crate::progress::Progress;

pub(crate) struct Console {
    progress: Mutex<Progress>,
}

impl Console {
    pub fn new() -> Self {
        Self {
            progress: Mutex::new(Progress::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes report output (whole lines) after erasing the progress line.
    pub fn write(&self, lines: &[u8]) -> std::io::Result<()> {
        let mut progress = self.lock();
        progress.clear();
        let mut err = std::io::stderr().lock();
        err.write_all(lines)?;
        err.flush()
    }

    /// Writes lines produced by `report` into one write, so lines never interleave.
    pub fn report(
        &self,
        report: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        report(&mut buf)?;
        self.write(&buf)
    }

    pub fn progress(&self, count: u64, text: impl FnOnce(f64) -> String) {
        self.lock().update(count, text);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}
