//! The dead-letter file: one JSON line per event that could not be delivered, appended
//! (earlier runs' records are kept), created only when there is something to write.
//! A record is counted as written only once it is; the first failure is kept and every
//! later write refused, so the file never claims what it does not hold.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use eventmap_pipeline::delivery::DeadLetter;

/// What fsync answers for a file that cannot be synced (Linux, macOS and the BSDs agree).
const EINVAL: i32 = 22;

pub(crate) struct DeadLetterFile {
    path: PathBuf,
    file: Option<File>,
    written: u64,
    /// Records that could not be written.
    lost: u64,
    /// The first write error.
    error: Option<std::io::Error>,
}

impl DeadLetterFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            written: 0,
            lost: 0,
            error: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Records that could not be written (after the first failure, all of them).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Appends one record; false when it could not be written.
    pub fn write(&mut self, letter: &DeadLetter) -> bool {
        if self.error.is_some() {
            self.lost += 1;
            return false;
        }
        match self.try_write(letter) {
            Ok(()) => true,
            Err(e) => {
                self.error = Some(e);
                self.lost += 1;
                false
            }
        }
    }

    fn try_write(&mut self, letter: &DeadLetter) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                // Dead letters hold the events: personal data, for their owner's eyes
                // only (the mode applies when the file is created).
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(&self.path)?;
                self.file.insert(file)
            }
        };
        let mut line = serde_json::to_vec(&letter.to_json())?;
        line.push(b'\n');
        // One unbuffered write a record: a full disk shows at this record, not later at a
        // flush that would fail for many at once. Dead letters are few.
        file.write_all(&line)?;
        self.written += 1;
        Ok(())
    }

    /// Flushes and syncs the file to disk; reports the first write error met on the way.
    pub fn close(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match &self.file {
            // A pipe or a terminal (`--dead-letter /dev/stdout`) cannot be synced.
            Some(file) => match file.sync_all() {
                Err(e) if e.raw_os_error() == Some(EINVAL) => Ok(()),
                other => other,
            },
            None => Ok(()),
        }
    }
}
