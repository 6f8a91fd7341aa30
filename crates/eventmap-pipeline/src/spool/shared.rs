//! What the spool's writer thread and its readers share: the directory, the state of
//! every segment, the counters, and the highest sequence number on disk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Mutex;

use tokio::sync::watch;

use super::state::State;

/// Counters the writer keeps, readable at any time.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) depth: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) dead: AtomicU64,
    pub(super) commits: AtomicU64,
    /// The last write failed (a full disk): not ready until one succeeds.
    pub(super) failing: AtomicBool,
}

/// What the writer and the readers share.
pub(super) struct Shared {
    pub(super) dir: PathBuf,
    pub(super) state: Mutex<State>,
    pub(super) counters: Counters,
    /// The highest sequence number on disk (`None` before the first event).
    pub(super) last_seq: watch::Sender<Option<u64>>,
}
