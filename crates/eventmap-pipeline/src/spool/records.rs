//! The payloads of the spool's records, inside their frames ([`super::frame`]):
//!
//! - an accepted event (segments): sequence number, received at (epoch ms), the client's
//!   `messageId` for the dedup window (empty when the intake made one up), the JSON;
//! - settles (`acks.log`): sequence numbers, 8 bytes each;
//! - a dead letter (`dead.log`): its number, when (epoch ms), the event's sequence
//!   number, the letter's JSON;
//! - seen ids (`seen.log`): a 128-bit hash of each `messageId` and when it was accepted.
//!
//! All integers little-endian.

use sha2::{Digest, Sha256};

/// An accepted event as a segment stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EventRecord<'a> {
    pub seq: u64,
    pub received_ms: u64,
    /// The client's `messageId`; empty for ids the intake made up.
    pub dedup_id: &'a str,
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
    out.extend_from_slice(&record.seq.to_le_bytes());
    out.extend_from_slice(&record.received_ms.to_le_bytes());
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(record.json);
}

pub(super) fn decode_event(payload: &[u8]) -> Option<EventRecord<'_>> {
    let seq = u64::from_le_bytes(payload.get(0..8)?.try_into().ok()?);
    let received_ms = u64::from_le_bytes(payload.get(8..16)?.try_into().ok()?);
    let id_len = usize::from(u16::from_le_bytes(payload.get(16..18)?.try_into().ok()?));
    let dedup_id = std::str::from_utf8(payload.get(18..18 + id_len)?).ok()?;
    let json = payload.get(18 + id_len..)?;
    Some(EventRecord {
        seq,
        received_ms,
        dedup_id,
        json,
    })
}

/// The size of an event record's payload.
pub(super) fn event_payload_len(dedup_id: &str, json: &[u8]) -> usize {
    18 + dedup_id.len() + json.len()
}

pub(super) fn encode_seqs(seqs: &[u64], out: &mut Vec<u8>) {
    for seq in seqs {
        out.extend_from_slice(&seq.to_le_bytes());
    }
}

pub(super) fn decode_seqs(payload: &[u8]) -> impl Iterator<Item = u64> + '_ {
    payload
        .chunks_exact(8)
        .filter_map(|c| c.try_into().ok().map(u64::from_le_bytes))
}

/// A dead letter as `dead.log` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeadRecord<'a> {
    pub number: u64,
    pub at_ms: u64,
    pub seq: u64,
    pub json: &'a [u8],
}

pub(super) fn encode_dead(record: &DeadRecord<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&record.number.to_le_bytes());
    out.extend_from_slice(&record.at_ms.to_le_bytes());
    out.extend_from_slice(&record.seq.to_le_bytes());
    out.extend_from_slice(record.json);
}

pub(super) fn decode_dead(payload: &[u8]) -> Option<DeadRecord<'_>> {
    Some(DeadRecord {
        number: u64::from_le_bytes(payload.get(0..8)?.try_into().ok()?),
        at_ms: u64::from_le_bytes(payload.get(8..16)?.try_into().ok()?),
        seq: u64::from_le_bytes(payload.get(16..24)?.try_into().ok()?),
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
        let event = EventRecord {
            seq: 7,
            received_ms: 1_795_262_400_000,
            dedup_id: "m-1",
            json: b"{\"a\":1}",
        };
        let mut out = Vec::new();
        encode_event(&event, &mut out);
        assert_eq!(out.len(), event_payload_len("m-1", b"{\"a\":1}"));
        assert_eq!(decode_event(&out), Some(event));
        let dead = DeadRecord {
            number: 3,
            at_ms: 9,
            seq: 7,
            json: b"{}",
        };
        out.clear();
        encode_dead(&dead, &mut out);
        assert_eq!(decode_dead(&out), Some(dead));
        out.clear();
        encode_seqs(&[1, 2, u64::MAX], &mut out);
        assert_eq!(decode_seqs(&out).collect::<Vec<_>>(), [1, 2, u64::MAX]);
        out.clear();
        encode_seen([(id_key("a"), 5)].into_iter(), &mut out);
        assert_eq!(decode_seen(&out).collect::<Vec<_>>(), [(id_key("a"), 5)]);
        assert_ne!(id_key("a"), id_key("b"));
    }

    #[test]
    fn short_payloads_do_not_decode() {
        assert_eq!(decode_event(&[0; 17]), None);
        assert_eq!(decode_dead(&[0; 23]), None);
    }
}
