//! `eventmap spool export`: every readable pending event of a spool, as the NDJSON
//! `eventmap send` takes, from a spool that may be damaged past opening. It only reads:
//! it works beside a running server (a snapshot) and on a copy taken off a failed disk.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::error::SpoolError;
use super::files;
use super::frame::{self, Frame};
use super::logfile;
use super::records;

/// What an export found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Salvaged {
    /// Pending events written out.
    pub exported: u64,
    /// Events skipped because they were settled.
    pub settled: u64,
    /// Records that failed their checksum or could not be framed, with the id each
    /// still shows, if any. They are not exported (their content cannot be trusted).
    pub damaged: Vec<Option<String>>,
    /// Segment files read.
    pub segments: u64,
}

/// Writes each pending event of the spool in `dir` to `out`, one JSON line each, in the
/// order they were accepted.
pub fn export_pending(dir: &Path, out: &mut dyn Write) -> Result<Salvaged, SpoolError> {
    let acks = logfile::scan(logfile::read_all(&dir.join(files::ACKS))?);
    // Per event, the lanes it was settled on (`None`: all of them).
    let mut settled: HashMap<u64, Vec<Option<u8>>> = HashMap::new();
    for key in acks.payloads().flat_map(records::decode_keys) {
        settled.entry(key.seq).or_default().push(key.lane);
    }
    let is_settled = |seq: u64, lanes: u64| {
        settled.get(&seq).is_some_and(|on| {
            on.contains(&None)
                || (0..64u8)
                    .filter(|l| lanes & (1 << l) != 0)
                    .all(|l| on.contains(&Some(l)))
        })
    };
    let mut found = Salvaged::default();
    let stdout = |e| SpoolError::Io {
        path: "the export's output".into(),
        source: e,
    };
    for (_, path) in files::segments(dir)? {
        found.segments += 1;
        let bytes = logfile::read_all(&path)?;
        let mut at = 0;
        loop {
            match frame::read(&bytes, at) {
                Frame::Sound { payload, next } => {
                    match records::decode_event(payload) {
                        Some(event) if is_settled(event.seq, event.lanes) => found.settled += 1,
                        Some(event) => {
                            out.write_all(event.json).map_err(stdout)?;
                            out.write_all(b"\n").map_err(stdout)?;
                            found.exported += 1;
                        }
                        None => found.damaged.push(None),
                    }
                    at = next;
                }
                Frame::Damaged { payload, next } => {
                    let id = records::decode_event(payload)
                        .map(|e| e.dedup_id.to_string())
                        .filter(|id| !id.is_empty());
                    found.damaged.push(id);
                    at = next;
                }
                Frame::Broken => match frame::resync(&bytes, at) {
                    Some(next) => {
                        found.damaged.push(None);
                        at = next;
                    }
                    None => break, // A torn tail, or nothing readable to the end.
                },
                Frame::End => break,
            }
        }
    }
    out.flush().map_err(stdout)?;
    Ok(found)
}
