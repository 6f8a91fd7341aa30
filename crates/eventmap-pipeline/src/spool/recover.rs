//! Opening a spool: every file read back and checked, record by record, before anything
//! is accepted or delivered.
//!
//! - A segment's records must each pass their checksum. One that fails inside a sound
//!   frame is a damaged event: it is dead-lettered `corrupt` (never delivered altered).
//! - A torn write at the end of a segment (a commit that failed or was cut off by a
//!   crash: never acknowledged) is cut off.
//! - A frame broken in the middle of a segment (a zeroed page, a damaged length) means
//!   the events past it cannot be trusted to be in order: the spool refuses to open and
//!   says how to salvage it (`eventmap spool export`).
//! - Settles, dead letters and seen ids are skipped where damaged: losing a settle means
//!   an event is delivered twice under its id, never that one is lost.

use std::path::Path;

use super::config::SpoolConfig;
use super::error::SpoolError;
use super::files;
use super::logfile::{self, Scan};
use super::records::{self, EventRecord};
use super::seen::Seen;
use super::state::{Segment, State};

/// An event whose record failed its checksum.
#[derive(Debug, Clone)]
pub(super) struct Damaged {
    pub seq: u64,
    /// Its `messageId`, when what is left of the record still says it.
    pub id: Option<String>,
}

/// Everything read back at open.
pub(super) struct Recovered {
    pub state: State,
    pub next_seq: u64,
    /// Bytes of sound records in the last segment (appends go on from there).
    pub active_len: u64,
    pub seen: Seen,
    pub damaged: Vec<Damaged>,
    pub acks: Scan,
    pub seen_len: u64,
    /// Torn tails cut off and damaged settle or seen records skipped, for the log.
    pub repairs: Vec<String>,
}

pub(super) fn recover(
    dir: &Path,
    config: &SpoolConfig,
    now_ms: u64,
) -> Result<Recovered, SpoolError> {
    let window_ms = u64::try_from(config.dedup_window.as_millis()).unwrap_or(u64::MAX);
    let mut seen = Seen::new(window_ms, config.dedup_max_ids);
    let mut state = State::default();
    let mut damaged = Vec::new();
    let mut repairs = Vec::new();
    let mut next_seq = 0;
    let mut active_len = 0;
    let segments = files::segments(dir)?;
    for (start, path) in &segments {
        let bytes = logfile::read_all(path)?;
        let read = read_segment(&bytes, *start, path)?;
        if read.len < bytes.len() as u64 {
            repairs.push(format!(
                "{}: a torn write of {} bytes at its end was cut off",
                path.display(),
                bytes.len() as u64 - read.len
            ));
        }
        for (key, at_ms) in read.ids {
            if at_ms >= now_ms.saturating_sub(window_ms) {
                seen.remember(key, at_ms);
            }
        }
        damaged.extend(read.damaged);
        next_seq = next_seq.max(read.segment.end);
        active_len = read.len;
        state.segments.insert(*start, read.segment);
    }
    if state.segments.is_empty() {
        // A new spool (a drained one keeps its empty active segment, whose name
        // carries the numbering on).
        state.segments.insert(next_seq, Segment::new(next_seq));
    }
    let acks = logfile::scan(logfile::read_all(&dir.join(files::ACKS))?);
    for key in acks.payloads().flat_map(records::decode_keys) {
        state.settle(key);
    }
    note_damage(&mut repairs, files::ACKS, &acks);
    let seen_scan = logfile::scan(logfile::read_all(&dir.join(files::SEEN))?);
    for (key, at_ms) in seen_scan.payloads().flat_map(records::decode_seen) {
        if at_ms >= now_ms.saturating_sub(window_ms) {
            seen.remember(key, at_ms);
        }
    }
    note_damage(&mut repairs, files::SEEN, &seen_scan);
    seen.prune(now_ms);
    Ok(Recovered {
        state,
        next_seq,
        active_len,
        seen,
        damaged,
        acks,
        seen_len: seen_scan.len as u64,
        repairs,
    })
}

fn note_damage(repairs: &mut Vec<String>, name: &str, scan: &Scan) {
    if scan.damaged > 0 {
        repairs.push(format!("{name}: {} damaged records skipped", scan.damaged));
    }
    if scan.len < scan.bytes.len() {
        repairs.push(format!(
            "{name}: a torn write of {} bytes at its end was cut off",
            scan.bytes.len() - scan.len
        ));
    }
}

/// One segment read back.
pub(super) struct SegmentRead {
    pub segment: Segment,
    /// Bytes up to the end of the last sound record.
    pub len: u64,
    /// The dedup keys of its events, with when they were accepted.
    pub ids: Vec<(u128, u64)>,
    pub damaged: Vec<Damaged>,
}

/// Reads a segment whose first event is `start`.
pub(super) fn read_segment(
    bytes: &[u8],
    start: u64,
    path: &Path,
) -> Result<SegmentRead, SpoolError> {
    use super::frame::{self, Frame};
    let mut segment = Segment::new(start);
    let mut ids = Vec::new();
    let mut damaged = Vec::new();
    let mut at = 0;
    let damage = |offset: usize, detail: &str| SpoolError::Damaged {
        dir: path.parent().unwrap_or(path).display().to_string(),
        file: path.display().to_string(),
        offset: offset as u64,
        detail: detail.to_string(),
    };
    loop {
        match frame::read(bytes, at) {
            Frame::Sound { payload, next } => {
                let Some(event) = records::decode_event(payload) else {
                    return Err(damage(at, "a record that is not an event"));
                };
                if event.seq != segment.end {
                    return Err(damage(
                        at,
                        &format!("event {} where {} was due", event.seq, segment.end),
                    ));
                }
                if !event.dedup_id.is_empty() {
                    ids.push((records::id_key(event.dedup_id), event.received_ms));
                }
                segment.extend(1, next as u64, event.received_ms, event.lanes);
                at = next;
            }
            Frame::Damaged { payload, next } => {
                damaged.push(Damaged {
                    seq: segment.end,
                    id: damaged_id(payload),
                });
                // Its lanes are unknown: it is dead-lettered on all of them at open.
                segment.extend(1, next as u64, 0, records::LANE_0);
                at = next;
            }
            Frame::Broken => {
                if frame::resync(bytes, at).is_some() {
                    return Err(damage(at, "a broken record with sound ones after it"));
                }
                break; // A torn tail: never acknowledged.
            }
            Frame::End => break,
        }
    }
    let len = segment.len;
    Ok(SegmentRead {
        segment,
        len,
        ids,
        damaged,
    })
}

/// The `messageId` of a damaged event record, if what is left still reads as one (the
/// damage may lie in its JSON).
fn damaged_id(payload: &[u8]) -> Option<String> {
    let EventRecord { dedup_id, .. } = records::decode_event(payload)?;
    let printable = !dedup_id.is_empty() && dedup_id.len() <= 256;
    printable.then(|| dedup_id.chars().filter(|c| !c.is_control()).collect())
}
