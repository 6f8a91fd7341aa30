//! What goes into the spool and what comes out: an event offered, what became of the
//! offer, an event read back for delivery, and how it leaves.

use super::records;
use crate::delivery::DeadLetter;

/// One event offered to the spool.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The client's `messageId`, for the dedup window (`None` for ids the intake made up,
    /// which cannot repeat).
    pub dedup_id: Option<String>,
    /// The event as JSON text, enriched by the intake.
    pub json: Vec<u8>,
    /// Bit `l`: the event goes to lane (route) `l` ([`Spool::lane`]); lane 0 alone
    /// for a spool without routes.
    pub lanes: u64,
}

impl Incoming {
    /// An event for lane 0 (a spool without routes).
    pub fn new(dedup_id: Option<String>, json: Vec<u8>) -> Self {
        Self {
            dedup_id,
            json,
            lanes: records::LANE_0,
        }
    }
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

/// Events read back, and how far the read went.
#[derive(Debug, Default)]
pub struct ReadBatch {
    pub events: Vec<Spooled>,
    /// The highest sequence number looked at (settled or damaged ones included): the
    /// next read starts after it.
    pub through: Option<u64>,
}

/// How an event leaves the spool.
#[derive(Debug, Clone)]
pub enum Settle {
    /// Delivered or skipped: forget it.
    Done(u64),
    /// It can never go: keep the dead letter instead.
    Dead { seq: u64, letter: DeadLetter },
}
