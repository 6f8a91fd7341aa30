//! Reading the spool back for delivery: a lane's waiting events in order, from the
//! segment and offset the last read ended at, every record's checksum checked (damaged
//! ones dead-lettered), and waiting for events beyond a point.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::PoisonError;

use tokio::sync::oneshot;

use super::entries::{ReadBatch, Settle, Spooled};
use super::error::SpoolError;
use super::files;
use super::frame::{self, Frame};
use super::records;
use super::writer;
use super::Spool;

/// Bytes read from a segment at a time.
const READ_CHUNK: usize = 256 << 10;

impl Spool {
    /// [`Spool::read_lane`] of lane 0 (a spool without routes).
    pub fn read_after(&self, after: Option<u64>, limit: usize) -> Result<ReadBatch, SpoolError> {
        self.read_lane(0, after, limit)
    }

    /// Up to `limit` events of `lane` not settled on it, after sequence number `after`
    /// (from the start for `None`), in the order they were accepted. An event that fails
    /// its checksum is dead-lettered `corrupt` (on every lane) here, never returned.
    pub fn read_lane(
        &self,
        lane: u8,
        after: Option<u64>,
        limit: usize,
    ) -> Result<ReadBatch, SpoolError> {
        let mut batch = ReadBatch {
            events: Vec::new(),
            through: after,
        };
        let mut target = after.map_or(0, |seq| seq.saturating_add(1));
        while batch.events.len() < limit {
            let Some((start, end, len)) = self.segment_for(target) else {
                break;
            };
            target = target.max(start);
            if target >= end {
                break;
            }
            let wanted = limit - batch.events.len();
            let read = self.read_segment(lane, (start, end, len), target, wanted)?;
            batch.events.extend(read.events);
            if let Some(through) = read.through {
                batch.through = Some(through);
                target = through + 1;
            }
            if !read.damaged.is_empty() {
                self.dead_letter_damaged(read.damaged);
            }
            if !read.reached_end {
                break;
            }
        }
        Ok(batch)
    }

    /// The first segment holding `seq` or later events: (start, end, committed bytes).
    fn segment_for(&self, seq: u64) -> Option<(u64, u64, u64)> {
        let state = self.state();
        let holding = state
            .segment_of(seq)
            .or_else(|| state.segments.range(seq..).next().map(|(_, s)| s))?;
        Some((holding.start, holding.end, holding.len))
    }

    /// Reads the events of `lane` from `from` on of the segment `(start, end, len)`, up
    /// to `limit`.
    fn read_segment(
        &self,
        lane: u8,
        (start, end, len): (u64, u64, u64),
        from: u64,
        limit: usize,
    ) -> Result<SegmentRead, SpoolError> {
        let path = files::segment_path(&self.inner.shared.dir, start);
        let mut out = SegmentRead::default();
        let mut file = match File::open(&path) {
            Ok(file) => file,
            // Deleted meanwhile: every event in it was settled.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.through = Some(end - 1);
                out.reached_end = true;
                return Ok(out);
            }
            Err(e) => return Err(files::io_error(&path)(e)),
        };
        let hint = *self
            .inner
            .read_hint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (mut seq, mut offset) = match hint {
            Some((next, segment, offset)) if segment == start && next <= from => (next, offset),
            _ => (start, 0),
        };
        let mut chunk = Vec::new();
        let mut want = READ_CHUNK;
        'chunks: while offset < len && out.events.len() < limit {
            let size = usize::try_from(len - offset)
                .unwrap_or(usize::MAX)
                .min(want);
            chunk.resize(size, 0);
            file.seek(SeekFrom::Start(offset))
                .and_then(|_| file.read_exact(&mut chunk))
                .map_err(files::io_error(&path))?;
            let whole = offset + size as u64 == len;
            let mut at = 0;
            let before = offset;
            while out.events.len() < limit {
                match frame::read(&chunk, at) {
                    Frame::Sound { payload, next } => {
                        let record = records::decode_event(payload);
                        if let Some(record) = record.filter(|r| r.seq == seq) {
                            if seq >= from && !self.is_settled_on(seq, lane) {
                                out.events.push(Spooled {
                                    seq,
                                    received_ms: i64::try_from(record.received_ms)
                                        .unwrap_or(i64::MAX),
                                    json: record.json.to_vec(),
                                });
                            }
                        } else if seq >= from && !self.is_settled(seq) {
                            out.damaged.push((seq, None));
                        }
                        if seq >= from {
                            out.through = Some(seq);
                        }
                        seq += 1;
                        at = next;
                    }
                    Frame::Damaged { next, .. } if whole || next < chunk.len() => {
                        if seq >= from && !self.is_settled(seq) {
                            out.damaged.push((seq, None));
                        }
                        if seq >= from {
                            out.through = Some(seq);
                        }
                        seq += 1;
                        at = next;
                    }
                    Frame::End => break,
                    Frame::Broken | Frame::Damaged { .. } if !whole => {
                        // A record cut by the chunk's end: read on from it.
                        if at == 0 {
                            want = want.saturating_mul(2);
                        }
                        offset = before + at as u64;
                        continue 'chunks;
                    }
                    Frame::Broken | Frame::Damaged { .. } => {
                        // Damage inside committed bytes, found after the spool opened:
                        // what cannot be read of this segment is dead-lettered.
                        for lost in seq.max(from)..end {
                            if !self.is_settled(lost) {
                                out.damaged.push((lost, None));
                            }
                        }
                        out.through = Some(end - 1);
                        out.reached_end = true;
                        return Ok(out);
                    }
                }
            }
            offset = before + at as u64;
            if whole && at >= chunk.len() {
                break;
            }
        }
        *self
            .inner
            .read_hint
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((seq, start, offset));
        out.reached_end = seq >= end;
        Ok(out)
    }

    fn is_settled(&self, seq: u64) -> bool {
        self.state().is_settled(seq)
    }

    fn is_settled_on(&self, seq: u64, lane: u8) -> bool {
        self.state().is_settled_on(seq, lane)
    }

    /// Hands events found damaged to the writer, which dead-letters them `corrupt`.
    fn dead_letter_damaged(&self, damaged: Vec<(u64, Option<String>)>) {
        let letters = damaged
            .into_iter()
            .map(|(seq, id)| Settle::Dead {
                seq,
                letter: writer::corrupt_letter(seq, id),
            })
            .collect();
        let (reply, _) = oneshot::channel();
        let now_ms = crate::delivery::Clock::system().now_ms();
        let _ = self.inner.ops.send(writer::Op::Settle {
            settled: letters,
            lane: None,
            now_ms: u64::try_from(now_ms).unwrap_or(0),
            reply,
        });
    }

    /// Waits until an event after `after` is on disk.
    pub async fn wait_beyond(&self, after: Option<u64>) {
        let mut last = self.inner.shared.last_seq.subscribe();
        // The writer lives as long as the spool's handles, so the channel stays open.
        let _ = last.wait_for(|last| *last > after).await;
    }
}

/// What one read of a segment found.
#[derive(Default)]
struct SegmentRead {
    events: Vec<Spooled>,
    through: Option<u64>,
    damaged: Vec<(u64, Option<String>)>,
    /// Every event of the segment was looked at.
    reached_end: bool,
}
