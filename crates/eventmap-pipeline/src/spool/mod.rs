//! The durable spool of `eventmap serve`: accepted events wait here, on disk, until they
//! are delivered, skipped with a reason or dead-lettered.
//!
//! One redb file (pure Rust, ACID, crash-safe; see docs/architecture.md) in a directory
//! of its own. All writes go through one writer thread that **group-commits**: whatever
//! arrived while the previous commit was being synced is written in the next transaction,
//! so requests arriving together share one fsync. [`Spool::append`] returns only after
//! the commit holding the events is on disk: a 200 means the events are on disk.
//!
//! The same writer removes events once they are settled ([`Spool::settle`]) and keeps
//! dead letters for a configurable time, so the delivery side needs no lock of its own.

mod store;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

use crate::delivery::DeadLetter;

/// What a spool keeps, and for how long.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    /// Event bytes the spool holds at most; past this, appends are refused (503).
    pub max_bytes: u64,
    /// An event whose `messageId` was accepted within this window is not spooled again.
    pub dedup_window: Duration,
    /// Dead letters older than this are dropped.
    pub dead_retention: Duration,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            dedup_window: Duration::from_secs(3600),
            dead_retention: Duration::from_secs(7 * 86_400),
        }
    }
}

/// The spool failed: its directory or file, or the store.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("spool store: {0}")]
    Store(#[from] redb::Error),
    /// A commit failed; nothing of that group was written.
    #[error("spool commit failed: {0}")]
    Commit(String),
    #[error("the spool writer has stopped")]
    Stopped,
}

/// One event offered to the spool.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The client's `messageId`, for the dedup window (`None` for ids the intake made up,
    /// which cannot repeat).
    pub dedup_id: Option<String>,
    /// The event as JSON text, enriched by the intake.
    pub json: Vec<u8>,
}

/// What became of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// On disk; `duplicates` of them were accepted within the window already and were not
    /// spooled again.
    Accepted { spooled: usize, duplicates: usize },
    /// The spool is over its size: nothing was written.
    Full,
}

/// An event read back for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    pub seq: u64,
    /// When the intake received it (epoch ms).
    pub received_ms: i64,
    pub json: Vec<u8>,
}

/// How an event leaves the spool.
#[derive(Debug, Clone)]
pub enum Settle {
    /// Delivered or skipped: forget it.
    Done(u64),
    /// It can never go: keep the dead letter instead.
    Dead { seq: u64, letter: DeadLetter },
}

/// Counters the writer keeps, readable at any time.
#[derive(Debug, Default)]
struct Counters {
    depth: AtomicU64,
    bytes: AtomicU64,
    dead: AtomicU64,
    commits: AtomicU64,
}

struct Inner {
    db: Arc<Database>,
    ops: mpsc::Sender<writer::Op>,
    counters: Arc<Counters>,
    /// The highest sequence number on disk (`None` before the first event).
    last_seq: watch::Receiver<Option<u64>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Inner {
    /// Closes the writer's queue and waits for it, so the file is closed (and can be
    /// opened again) once the last handle is gone.
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
    /// Opens the spool in `dir` (created 0700, its file 0600), starting its writer.
    pub fn open(dir: impl AsRef<Path>, config: SpoolConfig) -> Result<Self, SpoolError> {
        let dir = dir.as_ref().to_path_buf();
        let db = Arc::new(store::open(&dir)?);
        let totals = store::totals(&db)?;
        let counters = Arc::new(Counters::default());
        counters.depth.store(totals.depth, Ordering::Relaxed);
        counters.bytes.store(totals.bytes, Ordering::Relaxed);
        counters.dead.store(totals.dead, Ordering::Relaxed);
        let last = totals.next_event.checked_sub(1);
        let (last_sender, last_seq) = watch::channel(last);
        let (ops, receiver) = mpsc::channel();
        let writer = writer::Writer {
            db: Arc::clone(&db),
            config,
            counters: Arc::clone(&counters),
            next_event: totals.next_event,
            next_dead: totals.next_dead,
            last_seq: last_sender,
        };
        let writer = std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(&receiver))
            .map_err(|source| SpoolError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                ops,
                counters,
                last_seq,
                writer: Some(writer),
            }),
        })
    }

    /// Whether `dir` holds a spool.
    pub fn exists(dir: impl AsRef<Path>) -> bool {
        dir.as_ref().join(store::FILE_NAME).exists()
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

    /// Removes settled events (and keeps their dead letters) in one durable commit.
    pub async fn settle(&self, settled: Vec<Settle>, now_ms: i64) -> Result<(), SpoolError> {
        if settled.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        let op = writer::Op::Settle {
            settled,
            now_ms: u64::try_from(now_ms).unwrap_or(0),
            reply,
        };
        self.inner.ops.send(op).map_err(|_| SpoolError::Stopped)?;
        answer.await.map_err(|_| SpoolError::Stopped)?
    }

    /// Up to `limit` events after sequence number `after` (from the start for `None`),
    /// in the order they were accepted.
    pub fn read_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<Spooled>, SpoolError> {
        let txn = self.inner.db.begin_read().map_err(redb::Error::from)?;
        let events = txn.open_table(store::EVENTS).map_err(redb::Error::from)?;
        let start = after.map_or(0, |seq| seq.saturating_add(1));
        let mut out = Vec::new();
        for entry in events.range(start..).map_err(redb::Error::from)? {
            let (seq, value) = entry.map_err(redb::Error::from)?;
            let (received_ms, json) = value.value();
            out.push(Spooled {
                seq: seq.value(),
                received_ms: i64::try_from(received_ms).unwrap_or(i64::MAX),
                json: json.to_vec(),
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Waits until an event after `after` is on disk.
    pub async fn wait_beyond(&self, after: Option<u64>) {
        let mut last = self.inner.last_seq.clone();
        // The writer lives as long as the spool's handles, so the channel stays open.
        let _ = last.wait_for(|last| *last > after).await;
    }

    /// The dead letters kept, oldest first, as the JSON lines `eventmap send` replays.
    pub fn dead_letters(&self) -> Result<Vec<Value>, SpoolError> {
        let txn = self.inner.db.begin_read().map_err(redb::Error::from)?;
        let dead = txn.open_table(store::DEAD).map_err(redb::Error::from)?;
        let mut out = Vec::new();
        for entry in dead.iter().map_err(redb::Error::from)? {
            let (_, value) = entry.map_err(redb::Error::from)?;
            if let Ok(record) = serde_json::from_slice(value.value().1) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Events waiting.
    pub fn depth(&self) -> u64 {
        self.inner.counters.depth.load(Ordering::Relaxed)
    }

    /// Bytes of event JSON waiting.
    pub fn bytes(&self) -> u64 {
        self.inner.counters.bytes.load(Ordering::Relaxed)
    }

    /// Dead letters kept.
    pub fn dead(&self) -> u64 {
        self.inner.counters.dead.load(Ordering::Relaxed)
    }

    /// Commits (fsyncs) so far: with group commit, fewer than the appends.
    pub fn commits(&self) -> u64 {
        self.inner.counters.commits.load(Ordering::Relaxed)
    }

    /// Whether the writer still takes work (for a readiness check).
    pub fn is_writable(&self) -> bool {
        self.inner.ops.send(writer::Op::Ping).is_ok()
    }
}

#[cfg(test)]
mod tests;
