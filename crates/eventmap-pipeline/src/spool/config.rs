//! What a spool keeps, and for how long.

use std::time::Duration;

/// What a spool keeps, and for how long.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    /// Bytes of segment files the spool holds at most; past this, appends are refused
    /// (503).
    pub max_bytes: u64,
    /// An event whose `messageId` was accepted within this window is not spooled again.
    pub dedup_window: Duration,
    /// At most this many ids are remembered for the window (about 40 bytes each); past
    /// it, the oldest are forgotten first.
    pub dedup_max_ids: usize,
    /// Dead letters older than this are dropped.
    pub dead_retention: Duration,
    /// A segment file is closed and a new one started past this size.
    pub segment_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            dedup_window: Duration::from_secs(3600),
            dedup_max_ids: 1_000_000,
            dead_retention: Duration::from_secs(7 * 86_400),
            segment_bytes: 16 << 20,
        }
    }
}
