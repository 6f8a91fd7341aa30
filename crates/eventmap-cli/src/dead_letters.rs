//! The dead-letter file: one JSON line per event that could not be delivered, appended
//! (earlier runs' records are kept), created only when there is something to write.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use eventmap::delivery::DeadLetter;

pub(crate) struct DeadLetterFile {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    written: u64,
    /// The first write error: reported at the end, as losing a dead letter is an error.
    error: Option<std::io::Error>,
}

impl DeadLetterFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            writer: None,
            written: 0,
            error: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn write(&mut self, letter: &DeadLetter) {
        if let Err(e) = self.try_write(letter) {
            self.error.get_or_insert(e);
        }
    }

    fn try_write(&mut self, letter: &DeadLetter) -> std::io::Result<()> {
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?;
                self.writer.insert(BufWriter::new(file))
            }
        };
        serde_json::to_writer(&mut *writer, &letter.to_json())?;
        writer.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// Flushes and reports any write error met on the way.
    pub fn close(&mut self) -> std::io::Result<()> {
        if let Some(writer) = &mut self.writer {
            if let Err(e) = writer.flush() {
                self.error.get_or_insert(e);
            }
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
