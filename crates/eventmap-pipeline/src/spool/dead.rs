//! Dead letters kept in the spool (`dead.log`), numbered in the order they were written,
//! until their retention passes or an export removes them.
//!
//! An export may run while `serve` does: it reads `dead.log` (replaced only whole, by
//! rename, so a reader sees it before or after a rewrite, never half of one) and, to
//! remove what it exported, writes the highest number it took to `dead.exported`. The
//! writer drops those at its next tick; readers skip them meanwhile.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::SpoolError;
use super::files::{self, io_error};
use super::frame;
use super::logfile::{self, LogFile};
use super::records::{self, DeadRecord, SettleKey};
use crate::delivery::DeadLetter;

pub(super) struct DeadLog {
    dir: PathBuf,
    file: LogFile,
    next_number: u64,
    /// Number and time of each letter kept, oldest first.
    kept: VecDeque<(u64, u64)>,
}

impl DeadLog {
    pub fn open(dir: &Path) -> Result<(Self, Vec<String>), SpoolError> {
        let scan = logfile::scan(logfile::read_all(&dir.join(files::DEAD))?);
        let exported = exported_through(dir)?;
        let mut kept = VecDeque::new();
        let mut next_number = exported.map_or(0, |n| n + 1);
        for record in scan.payloads().filter_map(records::decode_dead) {
            next_number = next_number.max(record.number + 1);
            if exported.is_none_or(|through| record.number > through) {
                kept.push_back((record.number, record.at_ms));
            }
        }
        let mut repairs = Vec::new();
        if scan.damaged > 0 {
            repairs.push(format!(
                "{}: {} damaged dead letters skipped",
                files::DEAD,
                scan.damaged
            ));
        }
        let file = LogFile::open(dir.join(files::DEAD), scan.len as u64, 0)?;
        Ok((
            Self {
                dir: dir.to_path_buf(),
                file,
                next_number,
                kept,
            },
            repairs,
        ))
    }

    /// Frames `letter` (for the event and lane of `key`) into `out`, numbering it.
    pub fn encode(&mut self, key: SettleKey, now_ms: u64, letter: &DeadLetter, out: &mut Vec<u8>) {
        let json = letter.to_json().to_string();
        let mut payload = Vec::with_capacity(json.len() + 24);
        records::encode_dead(
            &DeadRecord {
                number: self.next_number,
                at_ms: now_ms,
                key,
                json: json.as_bytes(),
            },
            &mut payload,
        );
        frame::encode(&payload, out);
        self.kept.push_back((self.next_number, now_ms));
        self.next_number += 1;
    }

    pub fn append(&mut self, frames: &[u8]) -> std::io::Result<()> {
        self.file.append(frames)
    }

    /// Whether the oldest letter kept was written before `before_ms`.
    pub fn oldest_before(&self, before_ms: u64) -> bool {
        self.kept
            .front()
            .is_some_and(|(_, at_ms)| *at_ms < before_ms)
    }

    pub fn kept(&self) -> u64 {
        self.kept.len() as u64
    }

    /// Drops letters written before `before_ms` or removed by an export; rewrites the
    /// file when any went.
    pub fn prune(&mut self, before_ms: u64) -> Result<(), SpoolError> {
        let exported = exported_through(&self.dir)?;
        let gone = |(number, at_ms): &(u64, u64)| {
            *at_ms < before_ms || exported.is_some_and(|through| *number <= through)
        };
        if !self.kept.iter().any(gone) {
            return Ok(());
        }
        self.kept.retain(|letter| !gone(letter));
        let path = self.dir.join(files::DEAD);
        let scan = logfile::scan(logfile::read_all(&path)?);
        let mut frames = Vec::new();
        for payload in scan.payloads() {
            let Some(record) = records::decode_dead(payload) else {
                continue;
            };
            if !gone(&(record.number, record.at_ms)) {
                frame::encode(payload, &mut frames);
            }
        }
        files::replace(&self.dir, files::DEAD, &frames)?;
        self.file = LogFile::open(path, frames.len() as u64, 0)?;
        Ok(())
    }
}

/// The highest letter number an export removed.
fn exported_through(dir: &Path) -> Result<Option<u64>, SpoolError> {
    let path = dir.join(files::DEAD_EXPORTED);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().parse().ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(&path)(e)),
    }
}

/// The dead letters kept in the spool in `dir`, oldest first, with their numbers:
/// readable while `serve` runs. A letter of a route says which (`"route": NAME`).
pub fn read_dead_letters(dir: &Path) -> Result<Vec<(u64, Value)>, SpoolError> {
    let scan = logfile::scan(logfile::read_all(&dir.join(files::DEAD))?);
    let exported = exported_through(dir)?;
    let lanes = super::lanes::Lanes::read(dir)?;
    Ok(scan
        .payloads()
        .filter_map(records::decode_dead)
        .filter(|r| exported.is_none_or(|through| r.number > through))
        .filter_map(|r| {
            let mut letter: Value = serde_json::from_slice(r.json).ok()?;
            let route = r.key.lane.and_then(|lane| lanes.name_of(lane));
            if let (Some(route), Some(fields)) = (route, letter.as_object_mut()) {
                fields.insert("route".into(), Value::from(route));
            }
            Some((r.number, letter))
        })
        .collect())
}

/// Removes the dead letters up to number `through` (after they were exported): the
/// running server, or the next to open the spool, drops them.
pub fn remove_dead_letters_through(dir: &Path, through: u64) -> Result<(), SpoolError> {
    let current = exported_through(dir)?;
    if current.is_some_and(|c| c >= through) {
        return Ok(());
    }
    files::replace(dir, files::DEAD_EXPORTED, format!("{through}\n").as_bytes())
}
