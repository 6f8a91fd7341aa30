//! The durable spool of `eventmap serve`: accepted events wait here, on disk, until they
//! are delivered, skipped with a reason or dead-lettered.
//!
//! A directory of append-only files (see docs/serve.md#the-spool):
//!
//! - `seg-<N>.log`: the accepted events, numbered from N on, in segments of
//!   [`SpoolConfig::segment_bytes`]. Every record carries a CRC-32 checked when it is
//!   read, so a damaged event is dead-lettered `corrupt`, never delivered altered.
//! - `acks.log`: the numbers of settled events, on disk reserved ahead so that settles
//!   land on a full disk.
//! - `dead.log`, `dead.exported`: dead letters, and what an export removed.
//! - `seen.log`: message ids of deleted segments still inside the dedup window.
//!
//! All writes go through one writer thread that **group-commits**: whatever arrived while
//! the previous commit was being synced is written in the next one, so requests arriving
//! together share one fsync. [`Spool::append`] returns only after the events are on
//! disk: a 200 means the events are on disk. A segment is deleted once each of its
//! events is settled, so the disk used follows what waits, and memory holds one bit an
//! event waiting, plus the dedup window's ids (bounded by [`SpoolConfig::dedup_max_ids`]).

mod config;
mod dead;
mod entries;
mod error;
mod files;
mod frame;
mod housekeeping;
mod lanes;
mod logfile;
mod records;
mod recover;
mod salvage;
mod seen;
mod shared;
mod state;
mod writer;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use serde_json::Value;
use tokio::sync::{oneshot, watch};

pub use config::SpoolConfig;
pub use dead::{read_dead_letters, remove_dead_letters_through};
pub use entries::{Admission, Incoming, ReadBatch, Settle, Spooled};
pub use error::SpoolError;
pub use lanes::{DEFAULT_ROUTE, MAX_LANES};
pub use salvage::{export_pending, Salvaged};

use frame::Frame;
use logfile::LogFile;
use shared::{Counters, Shared};
use state::State;

struct Inner {
    shared: Arc<Shared>,
    /// Route names by lane (see [`Spool::lane`]).
    lanes: Mutex<lanes::Lanes>,
    ops: mpsc::Sender<writer::Op>,
    /// Where the last read ended: the next event's number, segment and offset.
    read_hint: Mutex<Option<(u64, u64, u64)>>,
    writer: Option<std::thread::JoinHandle<()>>,
    _lock: File,
}

impl Drop for Inner {
    /// Closes the writer's queue and waits for it, so the files are closed (and the lock
    /// released) once the last handle is gone.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.ops, closed));
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// A handle on the spool; cheap to clone.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

/// Bytes read from a segment at a time.
const READ_CHUNK: usize = 256 << 10;

impl Spool {
    /// Opens the spool in `dir` (created 0700, its files 0600), checking every record,
    /// and starts its writer. Fails when another process holds it, and when it is
    /// damaged past what can be skipped (see [`SpoolError::Damaged`]).
    pub fn open(dir: impl AsRef<Path>, config: SpoolConfig) -> Result<Self, SpoolError> {
        let dir = dir.as_ref().to_path_buf();
        files::create_private_dir(&dir)?;
        let lock = files::lock(&dir)?;
        let now_ms = crate::delivery::Clock::system().now_ms().max(0) as u64;
        let recovered = recover::recover(&dir, &config, now_ms)?;
        let (dead, dead_repairs) = dead::DeadLog::open(&dir)?;
        let lanes = lanes::Lanes::read(&dir)?;
        for repair in recovered.repairs.iter().chain(&dead_repairs) {
            crate::log::line("spool_repaired", serde_json::json!({"detail": repair}));
        }
        let active_start = recovered
            .state
            .active()
            .map_or(recovered.next_seq, |s| s.start);
        let active = LogFile::open(
            files::segment_path(&dir, active_start),
            recovered.active_len,
            0,
        )?;
        let acks = LogFile::open(
            dir.join(files::ACKS),
            recovered.acks.len as u64,
            writer::ACKS_RESERVE,
        )?;
        let seen_log = LogFile::open(dir.join(files::SEEN), recovered.seen_len, 0)?;
        files::sync_dir(&dir)?;
        let last = recovered.next_seq.checked_sub(1);
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            state: Mutex::new(recovered.state),
            counters: Counters::default(),
            last_seq: watch::Sender::new(last),
        });
        let mut writer = writer::Writer {
            dir: dir.clone(),
            config,
            shared: Arc::clone(&shared),
            active,
            acks,
            seen_log,
            seen_log_behind: false,
            seen: recovered.seen,
            dead,
            next_seq: recovered.next_seq,
            deferred_acks: Vec::new(),
            deferred_dead: Vec::new(),
            clock_ms: 0,
        };
        if !recovered.damaged.is_empty() {
            let damaged = recovered
                .damaged
                .into_iter()
                .map(|d| (d.seq, d.id))
                .collect();
            writer.dead_letter_damaged(damaged);
        }
        writer.publish();
        let (ops, receiver) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(&receiver))
            .map_err(files::io_error(&dir))?;
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                lanes: Mutex::new(lanes),
                ops,
                read_hint: Mutex::new(None),
                writer: Some(writer),
                _lock: lock,
            }),
        })
    }

    /// Whether `dir` holds a spool.
    pub fn exists(dir: impl AsRef<Path>) -> bool {
        files::segments(dir.as_ref()).is_ok_and(|s| !s.is_empty())
    }

    /// Writes `events` and returns once they are on disk (or refused as a whole when the
    /// spool is full). `now_ms` is when they were received (for the dedup window).
    pub async fn append(
        &self,
        events: Vec<Incoming>,
        now_ms: i64,
    ) -> Result<Admission, SpoolError> {
        let (reply, answer) = oneshot::channel();
        let op = writer::Op::Append {
            events,
            now_ms: u64::try_from(now_ms).unwrap_or(0),
            reply,
        };
        self.inner.ops.send(op).map_err(|_| SpoolError::Stopped)?;
        answer.await.map_err(|_| SpoolError::Stopped)?
    }

    /// The lane of route `name`, given one (and written down) if it is new: events for
    /// it are appended with its bit in [`Incoming::lanes`], read with [`Spool::read_lane`]
    /// and settled with [`Spool::settle_on`]. Lane 0 is [`DEFAULT_ROUTE`].
    pub fn lane(&self, name: &str) -> Result<u8, SpoolError> {
        self.inner
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .assign(&self.inner.shared.dir, name)
    }

    /// The route name of `lane`.
    pub fn lane_name(&self, lane: u8) -> Option<String> {
        self.inner
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .name_of(lane)
            .map(str::to_string)
    }

    /// The lanes with events waiting, with how many each.
    pub fn waiting_lanes(&self) -> Vec<(u8, u64)> {
        let state = self.state();
        let mut lanes: Vec<u8> = state
            .segments
            .values()
            .flat_map(|s| s.waiting_lanes())
            .collect();
        lanes.sort_unstable();
        lanes.dedup();
        lanes
            .into_iter()
            .map(|lane| (lane, state.lane_depth(lane)))
            .collect()
    }

    /// Events waiting on `lane`.
    pub fn lane_depth(&self, lane: u8) -> u64 {
        self.state().lane_depth(lane)
    }

    /// Settles events on lane 0 (a spool without routes); see [`Spool::settle_on`].
    pub async fn settle(&self, settled: Vec<Settle>, now_ms: i64) -> Result<(), SpoolError> {
        self.settle_on(0, settled, now_ms).await
    }

    /// Settles events on `lane`: an event leaves the spool once every lane it goes to
    /// settled it. They are not read again on that lane from the moment the writer takes
    /// them; `Ok` once the settles are on disk. On a full disk the spool keeps them and
    /// writes them when it can (an `Err` says so): nothing to retry here.
    pub async fn settle_on(
        &self,
        lane: u8,
        settled: Vec<Settle>,
        now_ms: i64,
    ) -> Result<(), SpoolError> {
        if settled.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        let op = writer::Op::Settle {
            settled,
            lane: Some(lane),
            now_ms: u64::try_from(now_ms).unwrap_or(0),
            reply,
        };
        self.inner.ops.send(op).map_err(|_| SpoolError::Stopped)?;
        answer.await.map_err(|_| SpoolError::Stopped)?
    }

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

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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

    /// The dead letters kept, oldest first, as the JSON lines `eventmap send` replays.
    pub fn dead_letters(&self) -> Result<Vec<Value>, SpoolError> {
        Ok(read_dead_letters(&self.inner.shared.dir)?
            .into_iter()
            .map(|(_, letter)| letter)
            .collect())
    }

    /// Events waiting.
    pub fn depth(&self) -> u64 {
        self.inner.shared.counters.depth.load(Ordering::Relaxed)
    }

    /// Bytes of segment files on disk.
    pub fn bytes(&self) -> u64 {
        self.inner.shared.counters.bytes.load(Ordering::Relaxed)
    }

    /// Dead letters kept.
    pub fn dead(&self) -> u64 {
        self.inner.shared.counters.dead.load(Ordering::Relaxed)
    }

    /// Commits (group writes) so far: with group commit, fewer than the appends.
    pub fn commits(&self) -> u64 {
        self.inner.shared.counters.commits.load(Ordering::Relaxed)
    }

    /// Whether appends can succeed now (a readiness check): the writer runs and its last
    /// write did not fail.
    pub fn is_writable(&self) -> bool {
        let writer_alive = self.inner.writer.as_ref().is_some_and(|w| !w.is_finished());
        writer_alive && !self.inner.shared.counters.failing.load(Ordering::Relaxed)
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

#[cfg(test)]
mod tests;
