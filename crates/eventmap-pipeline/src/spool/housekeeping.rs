//! The writer's housekeeping, at least once a second between writes: dead letters past
//! their retention pruned, settled segments deleted, the acks and seen logs rewritten
//! once they grow long, damaged events dead-lettered, and a failing disk probed.

use std::sync::atomic::Ordering;

use super::entries::Settle;
use super::error::SpoolError;
use super::files::{self, segment_path};
use super::frame;
use super::logfile::{self, LogFile};
use super::records::{self, SettleKey};

/// Operations in one commit at most: bounds a commit's latency under a flood.
use super::writer::{corrupt_letter, Writer, ACKS_RESERVE};

/// The settle log is rewritten (only what live segments need) past this.
const ACKS_REWRITE: u64 = 8 << 20;
/// The seen log is rewritten (only ids still in the window) past this.
const SEEN_REWRITE: u64 = 8 << 20;

impl Writer {
    /// What runs at least once a second.
    pub(super) fn keep_in_shape(&mut self) {
        let now_ms = if self.clock_ms == 0 {
            crate::delivery::Clock::system().now_ms().max(0) as u64
        } else {
            self.clock_ms
        };
        self.seen.prune(now_ms);
        self.prune_dead(now_ms);
        if !self.deferred_acks.is_empty() || !self.deferred_dead.is_empty() {
            let _ = self.settle(Vec::new(), now_ms);
        }
        // Delivered segments go first: their space is what a full disk gets back, and a
        // probe before it could pass on the last crumbs and report ready too soon.
        self.delete_settled_segments();
        if self.shared.counters.failing.load(Ordering::Relaxed) && self.probe() {
            self.set_failing(false);
            crate::log::line("spool_writable", serde_json::json!({}));
        }
        self.rewrite_logs_if_long(now_ms);
        self.publish();
    }

    pub(super) fn retention_ms(&self) -> u64 {
        u64::try_from(self.config.dead_retention.as_millis()).unwrap_or(u64::MAX)
    }

    pub(super) fn prune_dead(&mut self, now_ms: u64) {
        if let Err(e) = self.dead.prune(now_ms.saturating_sub(self.retention_ms())) {
            crate::log::line(
                "spool_prune_failed",
                serde_json::json!({"error": e.to_string()}),
            );
        }
    }

    /// Whether the disk takes a write again (a full disk with room made).
    pub(super) fn probe(&self) -> bool {
        let path = self.dir.join("probe");
        // About a full batch of events: room for one write of a few events is not ready.
        let written = std::fs::write(&path, vec![0u8; 64 * 1024])
            .and_then(|()| std::fs::File::open(&path)?.sync_all());
        let _ = std::fs::remove_file(&path);
        written.is_ok()
    }

    /// Deletes the segments whose every event is settled. A drained active segment
    /// is first replaced by a new one (whose name keeps the numbering).
    pub(super) fn delete_settled_segments(&mut self) {
        let drained_active = self
            .state()
            .active()
            .is_some_and(|s| s.unsettled == 0 && s.len > 0);
        if drained_active {
            if let Err(e) = self.rotate() {
                crate::log::line(
                    "spool_rotate_failed",
                    serde_json::json!({"error": e.to_string()}),
                );
                return;
            }
        }
        let done: Vec<u64> = {
            let state = self.state();
            let active = state.active().map(|s| s.start);
            state
                .segments
                .values()
                .filter(|s| s.unsettled == 0 && Some(s.start) != active)
                .map(|s| s.start)
                .collect()
        };
        for start in done {
            if let Err(e) = self.delete_segment(start) {
                crate::log::line(
                    "spool_segment_kept",
                    serde_json::json!({"segment": start, "error": e.to_string()}),
                );
                return;
            }
        }
    }

    /// Keeps the segment's ids still in the window (in `seen.log`), then deletes it.
    pub(super) fn delete_segment(&mut self, start: u64) -> Result<(), SpoolError> {
        let path = segment_path(&self.dir, start);
        let bytes = logfile::read_all(&path)?;
        let since = self.clock_ms.saturating_sub(
            u64::try_from(self.config.dedup_window.as_millis()).unwrap_or(u64::MAX),
        );
        let scan = logfile::scan(bytes);
        let ids = scan
            .payloads()
            .filter_map(records::decode_event)
            .filter(|e| !e.dedup_id.is_empty() && e.received_ms >= since)
            .map(|e| (records::id_key(e.dedup_id), e.received_ms));
        let mut payload = Vec::new();
        records::encode_seen(ids, &mut payload);
        if !payload.is_empty() {
            let mut frames = Vec::new();
            frame::encode(&payload, &mut frames);
            // On a full disk the ids cannot be saved, but the segment must still go:
            // its space is what lets the disk recover. Memory keeps the ids; the log is
            // rewritten from memory once the disk takes writes (a crash before that
            // forgets them, which costs at most a resend a client's retry asks for).
            if let Err(e) = self.seen_log.append(&frames) {
                if !self.seen_log_behind {
                    crate::log::line(
                        "spool_seen_deferred",
                        serde_json::json!({"file": self.seen_log.path.display().to_string(),
                            "error": e.to_string()}),
                    );
                }
                self.seen_log_behind = true;
            }
        }
        std::fs::remove_file(&path).map_err(files::io_error(&path))?;
        files::sync_dir(&self.dir)?;
        self.state().segments.remove(&start);
        Ok(())
    }

    /// Rewrites the settle and seen logs when they have grown long with what no longer
    /// matters (settles of deleted segments, ids out of the window).
    pub(super) fn rewrite_logs_if_long(&mut self, now_ms: u64) {
        if self.acks.len > ACKS_REWRITE && self.deferred_acks.is_empty() {
            let mut payload = Vec::new();
            {
                let state = self.state();
                for segment in state.segments.values() {
                    let keys: Vec<SettleKey> = segment.settled_keys().collect();
                    records::encode_keys(&keys, &mut payload);
                }
            }
            let mut frames = Vec::new();
            frame::encode(&payload, &mut frames);
            let rewritten = files::replace(&self.dir, files::ACKS, &frames).and_then(|()| {
                LogFile::open(
                    self.dir.join(files::ACKS),
                    frames.len() as u64,
                    ACKS_RESERVE,
                )
            });
            match rewritten {
                Ok(log) => self.acks = log,
                Err(e) => crate::log::line(
                    "spool_rewrite_failed",
                    serde_json::json!({"file": files::ACKS, "error": e.to_string()}),
                ),
            }
        }
        if self.seen_log.len > SEEN_REWRITE || self.seen_log_behind {
            self.seen.prune(now_ms);
            let mut payload = Vec::new();
            records::encode_seen(self.seen.entries(), &mut payload);
            let mut frames = Vec::new();
            frame::encode(&payload, &mut frames);
            let rewritten = files::replace(&self.dir, files::SEEN, &frames)
                .and_then(|()| LogFile::open(self.dir.join(files::SEEN), frames.len() as u64, 0));
            match rewritten {
                Ok(log) => {
                    self.seen_log = log;
                    self.seen_log_behind = false;
                }
                Err(e) => crate::log::line(
                    "spool_rewrite_failed",
                    serde_json::json!({"file": files::SEEN, "error": e.to_string()}),
                ),
            }
        }
    }

    /// Dead-letters events found damaged at open.
    pub fn dead_letter_damaged(&mut self, damaged: Vec<(u64, Option<String>)>) {
        let now_ms = if self.clock_ms == 0 {
            crate::delivery::Clock::system().now_ms().max(0) as u64
        } else {
            self.clock_ms
        };
        let settles = damaged
            .into_iter()
            .map(|(seq, id)| {
                let letter = corrupt_letter(seq, id);
                (None, Settle::Dead { seq, letter })
            })
            .collect();
        if let Err(e) = self.settle(settles, now_ms) {
            crate::log::line("spool_settle_deferred", serde_json::json!({"error": e}));
        }
        self.publish();
    }
}
