//! The spool's one writer: group commit. It takes every operation waiting, writes the
//! accepted events to the active segment in one write and one sync, then the dead
//! letters and the settles, and only then answers each operation.
//!
//! Between groups, and at least once a second, it keeps the spool in shape: forgets ids
//! that left the dedup window, drops old or exported dead letters, deletes segments whose
//! every event is settled (keeping their ids for the window in `seen.log` first), and
//! retries what a full disk kept it from writing.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::config::SpoolConfig;
use super::dead::DeadLog;
use super::entries::{Admission, Incoming, Settle};
use super::error::SpoolError;
use super::files::{self, segment_path};
use super::frame;
use super::logfile::LogFile;
use super::records::{self, EventRecord, SettleKey};
use super::seen::Seen;
use super::shared::Shared;
use super::state::{Segment, State};
use crate::delivery::{DeadLetter, DeadPayload, DeadReason};

/// Operations in one commit at most: bounds a commit's latency under a flood.
const MAX_GROUP: usize = 2048;
/// How often the spool is kept in shape when nothing else wakes the writer.
const TICK: Duration = Duration::from_secs(1);
/// Disk reserved ahead for the settle log, so that settles land on a full disk.
pub(super) const ACKS_RESERVE: u64 = 1 << 20;

pub(super) enum Op {
    Append {
        events: Vec<Incoming>,
        now_ms: u64,
        reply: oneshot::Sender<Result<Admission, SpoolError>>,
    },
    Settle {
        settled: Vec<Settle>,
        /// The lane they are settled on; `None`: every lane (damaged events).
        lane: Option<u8>,
        now_ms: u64,
        reply: oneshot::Sender<Result<(), SpoolError>>,
    },
}

impl Op {
    fn now_ms(&self) -> u64 {
        match self {
            Op::Append { now_ms, .. } | Op::Settle { now_ms, .. } => *now_ms,
        }
    }
}

pub(super) struct Writer {
    pub dir: PathBuf,
    pub config: SpoolConfig,
    pub shared: Arc<Shared>,
    pub active: LogFile,
    pub acks: LogFile,
    pub seen_log: LogFile,
    /// Ids of deleted segments that `seen_log` missed (a full disk): rewrite it.
    pub seen_log_behind: bool,
    pub seen: Seen,
    pub dead: DeadLog,
    pub next_seq: u64,
    /// Settles and dead letters a failed write kept from disk, written with the next.
    pub deferred_acks: Vec<SettleKey>,
    pub deferred_dead: Vec<u8>,
    /// The clock of the latest work, for pruning (tests run with fixed clocks).
    pub clock_ms: u64,
}

/// An append taken from the queue: its events, when they arrived, and who waits.
type PendingAppend = (
    Vec<Incoming>,
    u64,
    oneshot::Sender<Result<Admission, SpoolError>>,
);

/// Answers once the group's writes are done.
enum Reply {
    Append(
        oneshot::Sender<Result<Admission, SpoolError>>,
        Result<Admission, String>,
    ),
    Settle(oneshot::Sender<Result<(), SpoolError>>),
}

impl Writer {
    pub fn run(mut self, ops: &mpsc::Receiver<Op>) {
        let mut last_tick = Instant::now();
        loop {
            match ops.recv_timeout(TICK) {
                Ok(first) => {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match ops.try_recv() {
                            Ok(op) => group.push(op),
                            Err(_) => break,
                        }
                    }
                    // Kept in shape with the clock of the work at hand, before it is
                    // answered (tests run with fixed clocks).
                    let now_ms = group.iter().map(Op::now_ms).max().unwrap_or(0);
                    self.clock_ms = self.clock_ms.max(now_ms);
                    if last_tick.elapsed() >= TICK {
                        last_tick = Instant::now();
                        self.keep_in_shape();
                    }
                    self.commit(group);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if last_tick.elapsed() >= TICK {
                        last_tick = Instant::now();
                        self.keep_in_shape();
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn commit(&mut self, group: Vec<Op>) {
        let now_ms = group.iter().map(Op::now_ms).max().unwrap_or(self.clock_ms);
        self.clock_ms = self.clock_ms.max(now_ms);
        let mut replies = Vec::with_capacity(group.len());
        let mut appends = Vec::new();
        let mut settles = Vec::new();
        for op in group {
            match op {
                Op::Append {
                    events,
                    now_ms,
                    reply,
                } => appends.push((events, now_ms, reply)),
                Op::Settle {
                    settled,
                    lane,
                    reply,
                    ..
                } => {
                    settles.extend(settled.into_iter().map(|s| (lane, s)));
                    replies.push(Reply::Settle(reply));
                }
            }
        }
        if !appends.is_empty() {
            self.append(appends, &mut replies);
        }
        let settled = self.settle(settles, now_ms);
        if self
            .dead
            .oldest_before(now_ms.saturating_sub(self.retention_ms()))
        {
            self.prune_dead(now_ms);
        }
        self.shared.counters.commits.fetch_add(1, Ordering::Relaxed);
        self.publish();
        for reply in replies {
            match reply {
                Reply::Append(reply, outcome) => {
                    let _ = reply.send(outcome.map_err(SpoolError::Commit));
                }
                Reply::Settle(reply) => {
                    let _ = reply.send(settled.clone().map_err(SpoolError::Commit));
                }
            }
        }
        let over_half =
            self.shared.counters.bytes.load(Ordering::Relaxed) > self.config.max_bytes / 2;
        if over_half {
            // Room matters now: free what is settled without waiting for the tick.
            self.delete_settled_segments();
            self.publish();
        }
    }

    /// Writes every admitted event of the group in one write and one sync.
    fn append(&mut self, appends: Vec<PendingAppend>, replies: &mut Vec<Reply>) {
        let mut frames = Vec::new();
        let mut payload = Vec::new();
        let mut keys = Vec::new();
        let mut in_group = HashSet::new();
        let mut seq = self.next_seq;
        let mut held = self.shared.counters.bytes.load(Ordering::Relaxed);
        let mut pending = Vec::with_capacity(appends.len());
        // `(lanes, count)`: events in a row going to the same lanes.
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for (events, now_ms, reply) in appends {
            let size: u64 = events
                .iter()
                .map(|e| (frame::HEADER + records::event_payload_len("", e.lanes, &e.json)) as u64)
                .sum();
            if held + size > self.config.max_bytes {
                pending.push((reply, Ok(Admission::Full)));
                continue;
            }
            let (mut spooled, mut duplicates) = (0, 0);
            for event in events {
                let id = event.dedup_id.as_deref().unwrap_or_default();
                if !id.is_empty() {
                    let key = records::id_key(id);
                    if !in_group.insert(key) || self.seen.fresh(key, now_ms) {
                        duplicates += 1;
                        continue;
                    }
                    keys.push((key, now_ms));
                }
                payload.clear();
                let record = EventRecord {
                    seq,
                    received_ms: now_ms,
                    dedup_id: id,
                    lanes: event.lanes,
                    json: &event.json,
                };
                records::encode_event(&record, &mut payload);
                frame::encode(&payload, &mut frames);
                match runs.last_mut() {
                    Some((lanes, count)) if *lanes == event.lanes => *count += 1,
                    _ => runs.push((event.lanes, 1)),
                }
                seq += 1;
                spooled += 1;
            }
            held += size;
            pending.push((
                reply,
                Ok(Admission::Accepted {
                    spooled,
                    duplicates,
                }),
            ));
        }
        let count = seq - self.next_seq;
        let written = if count == 0 {
            Ok(())
        } else {
            self.rotate_if_full(frames.len() as u64)
                .and_then(|()| self.active.append(&frames).map_err(|e| e.to_string()))
        };
        match written {
            Ok(()) => {
                if count > 0 {
                    let (len, newest) = (self.active.len, self.clock_ms);
                    if let Some(active) = self.state().active_mut() {
                        for (lanes, run) in runs {
                            active.extend(run, len, newest, lanes);
                        }
                    }
                    self.next_seq = seq;
                    for (key, at_ms) in keys {
                        self.seen.remember(key, at_ms);
                    }
                }
                self.set_failing(false);
                replies.extend(pending.into_iter().map(|(r, o)| Reply::Append(r, o)));
            }
            Err(message) => {
                self.set_failing(true);
                crate::log::line(
                    "spool_commit_failed",
                    serde_json::json!({"error": message, "events": count,
                        "note": "answered 500; nothing of those requests was written"}),
                );
                replies.extend(pending.into_iter().map(|(reply, outcome)| {
                    // Only the requests that were to be written failed; a refusal as
                    // full stands.
                    let outcome = match outcome {
                        Ok(Admission::Full) => Ok(Admission::Full),
                        _ => Err(message.clone()),
                    };
                    Reply::Append(reply, outcome)
                }));
            }
        }
    }

    /// Starts a new segment when `incoming` more bytes would take the active one past
    /// its size (an empty one takes whatever comes).
    fn rotate_if_full(&mut self, incoming: u64) -> Result<(), String> {
        if self.active.len == 0 || self.active.len + incoming <= self.config.segment_bytes {
            return Ok(());
        }
        self.rotate().map_err(|e| e.to_string())
    }

    pub(super) fn rotate(&mut self) -> Result<(), SpoolError> {
        let path = segment_path(&self.dir, self.next_seq);
        let file = LogFile::open(path, 0, 0)?;
        files::sync_dir(&self.dir)?;
        self.active = file;
        let start = self.next_seq;
        self.state().segments.insert(start, Segment::new(start));
        Ok(())
    }

    /// Marks events settled (at once, in memory: they are not read again), then writes
    /// the dead letters and the settles. What a full disk keeps from disk is kept for the
    /// next commit; until then a restart would deliver those events again, under the
    /// same ids, which the API deduplicates on.
    pub(super) fn settle(
        &mut self,
        settles: Vec<(Option<u8>, Settle)>,
        now_ms: u64,
    ) -> Result<(), String> {
        let mut acks = std::mem::take(&mut self.deferred_acks);
        let mut letters = std::mem::take(&mut self.deferred_dead);
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (lane, item) in settles {
            let (seq, letter) = match item {
                Settle::Done(seq) => (seq, None),
                Settle::Dead { seq, letter } => (seq, Some(letter)),
            };
            let key = SettleKey::new(seq, lane);
            if !state.settle(key) {
                continue; // Settled before (a resend after a restart, say).
            }
            acks.push(key);
            if let Some(letter) = letter {
                self.dead.encode(key, now_ms, &letter, &mut letters);
            }
        }
        drop(state);
        if acks.is_empty() && letters.is_empty() {
            return Ok(());
        }
        // The letters before the settles: a settle on disk without its letter would
        // lose the event.
        if let Err(e) = self.dead.append(&letters) {
            self.deferred_dead = letters;
            self.deferred_acks = acks;
            return Err(format!("settles deferred: {e}"));
        }
        let mut frames = Vec::new();
        let mut payload = Vec::new();
        records::encode_keys(&acks, &mut payload);
        frame::encode(&payload, &mut frames);
        if let Err(e) = self.acks.append(&frames) {
            self.deferred_acks = acks;
            return Err(format!("settles deferred: {e}"));
        }
        Ok(())
    }

    /// The counters and the highest number on disk, for readers.
    pub fn publish(&self) {
        let (depth, bytes) = {
            let state = self.state();
            (state.depth(), state.bytes())
        };
        let c = &self.shared.counters;
        c.depth.store(depth, Ordering::Relaxed);
        c.bytes.store(bytes, Ordering::Relaxed);
        c.dead.store(self.dead.kept(), Ordering::Relaxed);
        if self.next_seq > 0 {
            self.shared.last_seq.send_if_modified(|last| {
                let now = Some(self.next_seq - 1);
                let changed = *last != now;
                *last = now;
                changed
            });
        }
    }

    pub(super) fn set_failing(&self, failing: bool) {
        self.shared
            .counters
            .failing
            .store(failing, Ordering::Relaxed);
    }
}

/// The dead letter of spooled event `seq`, found damaged; logged as it is made.
pub(super) fn corrupt_letter(seq: u64, id: Option<String>) -> DeadLetter {
    let message = format!("spooled event {seq} failed its checksum: damaged on disk, never sent");
    crate::log::line(
        "dead_letter",
        serde_json::json!({"id": id, "reason": DeadReason::Corrupt.as_str(), "seq": seq,
            "message": message}),
    );
    DeadLetter {
        id,
        reason: DeadReason::Corrupt,
        status: None,
        code: None,
        message,
        attempts: 0,
        at_ms: crate::delivery::Clock::system().now_ms(),
        payload: DeadPayload::NotKept {
            input: "spool".into(),
            line: seq,
        },
    }
}
