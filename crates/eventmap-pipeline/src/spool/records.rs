//! The payloads of the spool's records, inside their frames ([`super::frame`]):
//!
//! - an accepted event (segments): sequence number, received at (epoch ms), the client's
//!   `messageId` for the dedup window (empty when the intake made one up), the lanes
//!   (routes) it goes to, the JSON. The lanes are written only when they are not lane 0
//!   alone, flagged by the top bit of the time, so records of a one-route spool (and of
//!   spools written before routes) read as lane 0;
//! - settles (`acks.log`): [`SettleKey`]s, 8 bytes each: a sequence number with the lane
//!   it was settled on in its top byte (0xFF: every lane, the event is done);
//! - a dead letter (`dead.log`): its number, when (epoch ms), the event's settle key
//!   (so its lane), the letter's JSON;
//! - seen ids (`seen.log`): a 128-bit hash of each `messageId` and when it was accepted.
//!
//! All integers little-endian.

use sha2::{Digest, Sha256};

/// Lane 0 alone: the lanes of a one-route spool's events.
pub const LANE_0: u64 = 1;
/// The top bit of the stored time says a lane mask follows the id.
const LANES_FLAG: u64 = 1 << 63;

/// An accepted event as a segment stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EventRecord<'a> {
    pub seq: u64,
    pub received_ms: u64,
    /// The client's `messageId`; empty for ids the intake made up.
    pub dedup_id: &'a str,
    /// Bit `l`: the event goes to lane (route) `l`.
    pub lanes: u64,
    pub json: &'a [u8],
}

pub(super) fn encode_event(record: &EventRecord<'_>, out: &mut Vec<u8>) {
    let id = record.dedup_id.as_bytes();
    // Longer ids are not checked for duplicates (a messageId is a UUID in practice).
    let id = if id.len() > usize::from(u16::MAX) {
        &[][..]
    } else {
        id
    };
    let with_lanes = record.lanes != LANE_0;
    let time = record.received_ms & !LANES_FLAG;
    let time = if with_lanes { time | LANES_FLAG } else { time };
    out.extend_from_slice(&record.seq.to_le_bytes());
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(id);
    if with_lanes {
        out.extend_from_slice(&record.lanes.to_le_bytes());
    }
    out.extend_from_slice(record.json);
}

pub(super) fn decode_event(payload: &[u8]) -> Option<EventRecord<'_>> {
    let seq = u64::from_le_bytes(payload.get(0..8)?.try_into().ok()?);
    let time = u64::from_le_bytes(payload.get(8..16)?.try_into().ok()?);
    let id_len = usize::from(u16::from_le_bytes(payload.get(16..18)?.try_into().ok()?));
    let dedup_id = std::str::from_utf8(payload.get(18..18 + id_len)?).ok()?;
    let mut at = 18 + id_len;
    let lanes = if time & LANES_FLAG != 0 {
        let lanes = u64::from_le_bytes(payload.get(at..at + 8)?.try_into().ok()?);
        at += 8;
        lanes
    } else {
        LANE_0
    };
    let json = payload.get(at..)?;
    Some(EventRecord {
        seq,
        received_ms: time & !LANES_FLAG,
        dedup_id,
        lanes,
        json,
    })
}

/// The size of an event record's payload.
pub(super) fn event_payload_len(dedup_id: &str, lanes: u64, json: &[u8]) -> usize {
    18 + dedup_id.len() + if lanes == LANE_0 { 0 } else { 8 } + json.len()
}

/// A settle as `acks.log` and `dead.log` store it: the event's sequence number (below
/// 2^56, which no spool reaches) with the lane in the top byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettleKey {
    pub seq: u64,
    /// The lane the event was settled on; `None`: every lane (a damaged event).
    pub lane: Option<u8>,
}

const ALL_LANES: u64 = 0xFF;

impl SettleKey {
    pub fn new(seq: u64, lane: Option<u8>) -> Self {
        Self { seq, lane }
    }

    pub fn encode(self) -> u64 {
        let lane = self.lane.map_or(ALL_LANES, u64::from);
        (self.seq & ((1 << 56) - 1)) | (lane << 56)
    }

    pub fn decode(key: u64) -> Self {
        let lane = key >> 56;
        Self {
            seq: key & ((1 << 56) - 1),
            lane: (lane != ALL_LANES).then_some(lane as u8),
        }
    }
}

pub(super) fn encode_keys(keys: &[SettleKey], out: &mut Vec<u8>) {
    for key in keys {
        out.extend_from_slice(&key.encode().to_le_bytes());
    }
}

pub(super) fn decode_keys(payload: &[u8]) -> impl Iterator<Item = SettleKey> + '_ {
    payload
        .chunks_exact(8)
        .filter_map(|c| c.try_into().ok().map(u64::from_le_bytes))
        .map(SettleKey::decode)
}

/// A dead letter as `dead.log` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeadRecord<'a> {
    pub number: u64,
    pub at_ms: u64,
    /// The event, and the lane it was dead-lettered on.
    pub key: SettleKey,
    pub json: &'a [u8],
}

pub(super) fn encode_dead(record: &DeadRecord<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&record.number.to_le_bytes());
    out.extend_from_slice(&record.at_ms.to_le_bytes());
    out.extend_from_slice(&record.key.encode().to_le_bytes());
    out.extend_from_slice(record.json);
}

pub(super) fn decode_dead(payload: &[u8]) -> Option<DeadRecord<'_>> {
    Some(DeadRecord {
        number: u64::from_le_bytes(payload.get(0..8)?.try_into().ok()?),
        at_ms: u64::from_le_bytes(payload.get(8..16)?.try_into().ok()?),
        key: SettleKey::decode(u64::from_le_bytes(payload.get(16..24)?.try_into().ok()?)),
        json: payload.get(24..)?,
    })
}

/// The key a `messageId` is remembered by: 128 bits of its SHA-256, so that the window
/// costs the same for any id and two ids collide with odds of about 2^-128.
pub(super) fn id_key(id: &str) -> u128 {
    let digest = Sha256::digest(id.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(key)
}

pub(super) fn encode_seen(entries: impl Iterator<Item = (u128, u64)>, out: &mut Vec<u8>) {
    for (key, at_ms) in entries {
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&at_ms.to_le_bytes());
    }
}

pub(super) fn decode_seen(payload: &[u8]) -> impl Iterator<Item = (u128, u64)> + '_ {
    payload.chunks_exact(24).filter_map(|c| {
        let key = u128::from_le_bytes(c[..16].try_into().ok()?);
        let at_ms = u64::from_le_bytes(c[16..].try_into().ok()?);
        Some((key, at_ms))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_written() {
        for lanes in [LANE_0, 0b110] {
            let event = EventRecord {
                seq: 7,
                received_ms: 1_795_262_400_000,
                dedup_id: "m-1",
                lanes,
                json: b"{\"a\":1}",
            };
            let mut out = Vec::new();
            encode_event(&event, &mut out);
            assert_eq!(out.len(), event_payload_len("m-1", lanes, b"{\"a\":1}"));
            assert_eq!(decode_event(&out), Some(event));
        }
        let mut out = Vec::new();
        let dead = DeadRecord {
            number: 3,
            at_ms: 9,
            key: SettleKey::new(7, Some(2)),
            json: b"{}",
        };
        encode_dead(&dead, &mut out);
        assert_eq!(decode_dead(&out), Some(dead));
        out.clear();
        let keys = [
            SettleKey::new(1, Some(0)),
            SettleKey::new(2, Some(63)),
            SettleKey::new((1 << 56) - 1, None),
        ];
        encode_keys(&keys, &mut out);
        assert_eq!(decode_keys(&out).collect::<Vec<_>>(), keys);
        out.clear();
        encode_seen([(id_key("a"), 5)].into_iter(), &mut out);
        assert_eq!(decode_seen(&out).collect::<Vec<_>>(), [(id_key("a"), 5)]);
        assert_ne!(id_key("a"), id_key("b"));
    }

    #[test]
    fn records_written_before_lanes_read_as_lane_0() {
        // The layout of an event and a settle before routes existed.
        let mut old = Vec::new();
        old.extend_from_slice(&5u64.to_le_bytes());
        old.extend_from_slice(&1_000u64.to_le_bytes());
        old.extend_from_slice(&1u16.to_le_bytes());
        old.extend_from_slice(b"x{}");
        let event = decode_event(&old).unwrap();
        assert_eq!(
            (event.seq, event.received_ms, event.lanes),
            (5, 1_000, LANE_0)
        );
        assert_eq!(event.json, b"{}");
        assert_eq!(SettleKey::decode(5), SettleKey::new(5, Some(0)));
    }

    #[test]
    fn short_payloads_do_not_decode() {
        assert_eq!(decode_event(&[0; 17]), None);
        assert_eq!(decode_dead(&[0; 23]), None);
    }
}
