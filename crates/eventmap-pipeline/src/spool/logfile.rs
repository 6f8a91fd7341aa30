//! One append-only file of framed records: read back whole at open (skipping what is
//! damaged, cutting off a torn tail), appended to in one write and one sync per commit.
//! A failed append is cut back off, so the file never keeps half a commit.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::SpoolError;
use super::files::{self, io_error};
use super::frame::{self, Frame};

/// The records of a file, as read at open.
pub(super) struct Scan {
    pub bytes: Vec<u8>,
    /// Where each sound record's payload lies in `bytes`.
    pub sound: Vec<std::ops::Range<usize>>,
    /// Records skipped as damaged (by checksum, or past a broken frame).
    pub damaged: usize,
    /// Bytes up to the end of the last readable record: a torn tail lies past it.
    pub len: usize,
}

impl Scan {
    pub fn payloads(&self) -> impl Iterator<Item = &[u8]> {
        self.sound.iter().map(|r| &self.bytes[r.clone()])
    }
}

/// Reads every record of `bytes`, going on past damage wherever a sound frame follows.
pub(super) fn scan(bytes: Vec<u8>) -> Scan {
    let mut sound = Vec::new();
    let mut damaged = 0;
    let mut at = 0;
    let mut len = 0;
    loop {
        match frame::read(&bytes, at) {
            Frame::Sound { payload, next } => {
                let start = next - payload.len();
                sound.push(start..next);
                at = next;
                len = next;
            }
            Frame::Damaged { next, .. } => {
                damaged += 1;
                at = next;
                len = next;
            }
            Frame::Broken => match frame::resync(&bytes, at) {
                Some(next) => {
                    damaged += 1;
                    at = next;
                }
                None => break,
            },
            Frame::End => break,
        }
    }
    Scan {
        bytes,
        sound,
        damaged,
        len,
    }
}

/// Reads a whole file (empty when it does not exist).
pub(super) fn read_all(path: &Path) -> Result<Vec<u8>, SpoolError> {
    match File::open(path) {
        Ok(mut file) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).map_err(io_error(path))?;
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// A file appended to by the spool's writer.
pub(super) struct LogFile {
    pub path: PathBuf,
    file: File,
    /// Bytes committed.
    pub len: u64,
    /// Disk reserved up to here (see [`files::reserve`]); 0 when nothing is.
    reserved_to: u64,
    /// How much to reserve ahead at a time (0: never).
    reserve_ahead: u64,
}

impl LogFile {
    /// Opens `path` for appending at `len`, cutting off anything past it (a torn tail).
    pub fn open(path: PathBuf, len: u64, reserve_ahead: u64) -> Result<Self, SpoolError> {
        let file = files::open_private(&path, false)?;
        let on_disk = file.metadata().map_err(io_error(&path))?.len();
        if on_disk != len {
            file.set_len(len).map_err(io_error(&path))?;
            file.sync_all().map_err(io_error(&path))?;
        }
        let mut log = Self {
            path,
            file,
            len,
            reserved_to: 0,
            reserve_ahead,
        };
        log.reserve_if_low();
        Ok(log)
    }

    /// Writes `bytes` at the end and syncs them. On failure the file is cut back to
    /// what it held, so a later append starts on a sound record.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let written = self
            .file
            .seek(SeekFrom::Start(self.len))
            .and_then(|_| self.file.write_all(bytes))
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += bytes.len() as u64;
                self.reserve_if_low();
                Ok(())
            }
            Err(e) => {
                // Best effort: if even this fails, the torn tail is cut off at the next
                // open, where reading stops at the last sound record.
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }

    fn reserve_if_low(&mut self) {
        if self.reserve_ahead == 0 || self.reserved_to >= self.len + self.reserve_ahead / 2 {
            return;
        }
        if files::reserve(&self.file, self.len, self.reserve_ahead) {
            self.reserved_to = self.len + self.reserve_ahead;
        }
    }
}
