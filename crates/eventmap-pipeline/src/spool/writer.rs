//! The spool's one writer: group commit. It takes every operation waiting, applies them
//! in one write transaction, commits (redb's `Durability::Immediate`: synced to disk
//! before `commit` returns), and only then answers each one.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable, WriteTransaction};
use tokio::sync::{oneshot, watch};

use super::store::{self, DEAD, EVENTS, SEEN, SEEN_ORDER};
use super::{Admission, Counters, Incoming, Settle, SpoolConfig, SpoolError};

/// Operations in one commit at most: bounds a commit's latency under a flood.
const MAX_GROUP: usize = 2048;
/// How often the dedup window and dead-letter retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

pub(super) enum Op {
    Append {
        events: Vec<Incoming>,
        now_ms: u64,
        reply: oneshot::Sender<Result<Admission, SpoolError>>,
    },
    Settle {
        settled: Vec<Settle>,
        now_ms: u64,
        reply: oneshot::Sender<Result<(), SpoolError>>,
    },
    /// Nothing to do: tells a readiness check that the writer is alive.
    Ping,
}

pub(super) struct Writer {
    pub db: Arc<Database>,
    pub config: SpoolConfig,
    pub counters: Arc<Counters>,
    pub next_event: u64,
    pub next_dead: u64,
    pub last_seq: watch::Sender<Option<u64>>,
}

/// What one group changes, applied to the counters only once it is committed.
#[derive(Default)]
struct Delta {
    added_events: u64,
    added_bytes: u64,
    removed_events: u64,
    removed_bytes: u64,
    added_dead: u64,
    dropped_dead: u64,
    next_event: u64,
    next_dead: u64,
}

enum Reply {
    Append(oneshot::Sender<Result<Admission, SpoolError>>, Admission),
    Settle(oneshot::Sender<Result<(), SpoolError>>),
}

impl Writer {
    pub fn run(mut self, ops: &mpsc::Receiver<Op>) {
        let mut last_prune = Instant::now();
        while let Ok(first) = ops.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match ops.try_recv() {
                    Ok(op) => group.push(op),
                    Err(_) => break,
                }
            }
            let prune = last_prune.elapsed() >= PRUNE_EVERY;
            if prune {
                last_prune = Instant::now();
            }
            self.commit(group, prune);
        }
    }

    fn commit(&mut self, group: Vec<Op>, prune: bool) {
        let mut replies = Vec::with_capacity(group.len());
        let mut delta = Delta {
            next_event: self.next_event,
            next_dead: self.next_dead,
            ..Delta::default()
        };
        let now_ms = group
            .iter()
            .filter_map(|op| match op {
                Op::Append { now_ms, .. } | Op::Settle { now_ms, .. } => Some(*now_ms),
                Op::Ping => None,
            })
            .max();
        let written = self
            .db
            .begin_write()
            .map_err(redb::Error::from)
            .and_then(|txn| {
                for op in group {
                    self.apply(&txn, op, &mut delta, &mut replies)?;
                }
                if let (true, Some(now_ms)) = (prune, now_ms) {
                    let window = self.config.dedup_window.as_millis() as u64;
                    store::forget_before(&txn, now_ms.saturating_sub(window))?;
                    let retention = self.config.dead_retention.as_millis() as u64;
                    delta.dropped_dead =
                        store::drop_dead_before(&txn, now_ms.saturating_sub(retention))?;
                }
                txn.commit().map_err(redb::Error::from)
            });
        if let Err(e) = written {
            let message = e.to_string();
            for reply in replies {
                match reply {
                    Reply::Append(reply, _) => {
                        let _ = reply.send(Err(SpoolError::Commit(message.clone())));
                    }
                    Reply::Settle(reply) => {
                        let _ = reply.send(Err(SpoolError::Commit(message.clone())));
                    }
                }
            }
            return;
        }
        let c = &self.counters;
        c.commits.fetch_add(1, Ordering::Relaxed);
        c.depth.fetch_add(delta.added_events, Ordering::Relaxed);
        c.depth.fetch_sub(delta.removed_events, Ordering::Relaxed);
        c.bytes.fetch_add(delta.added_bytes, Ordering::Relaxed);
        c.bytes.fetch_sub(delta.removed_bytes, Ordering::Relaxed);
        c.dead.fetch_add(delta.added_dead, Ordering::Relaxed);
        c.dead.fetch_sub(delta.dropped_dead, Ordering::Relaxed);
        if delta.next_event > self.next_event {
            self.last_seq.send_replace(Some(delta.next_event - 1));
        }
        self.next_event = delta.next_event;
        self.next_dead = delta.next_dead;
        for reply in replies {
            match reply {
                Reply::Append(reply, admission) => {
                    let _ = reply.send(Ok(admission));
                }
                Reply::Settle(reply) => {
                    let _ = reply.send(Ok(()));
                }
            }
        }
    }

    fn apply(
        &self,
        txn: &WriteTransaction,
        op: Op,
        delta: &mut Delta,
        replies: &mut Vec<Reply>,
    ) -> Result<(), redb::Error> {
        match op {
            Op::Ping => {}
            Op::Append {
                events,
                now_ms,
                reply,
            } => {
                let admission = self.append(txn, events, now_ms, delta)?;
                replies.push(Reply::Append(reply, admission));
            }
            Op::Settle {
                settled,
                now_ms,
                reply,
            } => {
                let mut events = txn.open_table(EVENTS)?;
                let mut dead = txn.open_table(DEAD)?;
                for item in settled {
                    let (seq, letter) = match item {
                        Settle::Done(seq) => (seq, None),
                        Settle::Dead { seq, letter } => (seq, Some(letter)),
                    };
                    let Some(removed) = events.remove(seq)? else {
                        continue; // Settled before (a resend after a restart, say).
                    };
                    delta.removed_events += 1;
                    delta.removed_bytes += removed.value().1.len() as u64;
                    drop(removed);
                    if let Some(letter) = letter {
                        let record = letter.to_json().to_string();
                        dead.insert(delta.next_dead, (now_ms, record.as_bytes()))?;
                        delta.next_dead += 1;
                        delta.added_dead += 1;
                    }
                }
                replies.push(Reply::Settle(reply));
            }
        }
        Ok(())
    }

    fn append(
        &self,
        txn: &WriteTransaction,
        events: Vec<Incoming>,
        now_ms: u64,
        delta: &mut Delta,
    ) -> Result<Admission, redb::Error> {
        let size: u64 = events.iter().map(|e| e.json.len() as u64).sum();
        let held = self.counters.bytes.load(Ordering::Relaxed) + delta.added_bytes;
        let held = held.saturating_sub(delta.removed_bytes);
        if held + size > self.config.max_bytes {
            return Ok(Admission::Full);
        }
        let since = now_ms.saturating_sub(self.config.dedup_window.as_millis() as u64);
        let mut table = txn.open_table(EVENTS)?;
        let mut seen = txn.open_table(SEEN)?;
        let mut order = txn.open_table(SEEN_ORDER)?;
        let mut in_request = HashSet::new();
        let (mut spooled, mut duplicates) = (0, 0);
        for event in events {
            let seq = delta.next_event;
            if let Some(id) = &event.dedup_id {
                let fresh = seen.get(id.as_str())?.is_some_and(|at| at.value() >= since);
                if !in_request.insert(id.clone()) || fresh {
                    duplicates += 1;
                    continue;
                }
                seen.insert(id.as_str(), now_ms)?;
                order.insert((now_ms, seq), id.as_str())?;
            }
            table.insert(seq, (now_ms, event.json.as_slice()))?;
            delta.next_event += 1;
            delta.added_events += 1;
            delta.added_bytes += event.json.len() as u64;
            spooled += 1;
        }
        Ok(Admission::Accepted {
            spooled,
            duplicates,
        })
    }
}
