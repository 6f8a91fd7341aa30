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
mod read;
mod records;
mod recover;
mod salvage;
mod seen;
mod shared;
mod state;
mod writer;

use std::fs::File;
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

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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

#[cfg(test)]
mod tests;
