//! What the intake adds to one event before it is spooled, as Segment does: the batch's
//! `context` and `integrations` under the event's own, a `messageId` when there is none,
//! `receivedAt`, and a `timestamp` corrected for the client's clock skew. Only the
//! members it reads or changes are parsed; the rest go to the spool as they came.

use eventmap::transforms::{format_rfc3339_ms, to_epoch_ms};
use serde_json::value::RawValue;
use serde_json::Value;

use super::members::{self, write_member, write_string, Members};
use super::urls;

/// An event as the request gave it, and what the intake knows of the request.
#[derive(Debug)]
pub(crate) struct RawEvent<'a> {
    pub members: Members<'a>,
    /// The `type` the path gives when the event has none.
    pub default_type: Option<&'static str>,
    /// The length of the event's text (a capacity hint).
    pub len: usize,
}

/// What the whole request gives each of its events.
#[derive(Debug)]
pub(crate) struct Shared<'a> {
    /// The batch's `sentAt`.
    pub sent_at: Option<&'a RawValue>,
    /// The batch's `context` and `integrations` objects.
    pub objects: Vec<(&'static str, &'a RawValue)>,
}

/// One event, enriched: its JSON, and what the intake reads from it.
pub(crate) struct Done {
    pub json: Vec<u8>,
    pub dedup_id: Option<String>,
    pub partition_key: Option<String>,
    pub urls_cut: u32,
}

/// Enriches `event` received at `received_at_ms`.
pub(crate) fn enrich(event: &RawEvent<'_>, shared: &Shared<'_>, received_at_ms: i64) -> Done {
    let members = &event.members;
    // Members replaced or added, by key: written in place of the event's own, or after them.
    let mut changed: Vec<(&'static str, String)> = Vec::new();
    if let Some(call) = event.default_type {
        changed.push(("type", quoted(call)));
    }
    for (key, batch_object) in &shared.objects {
        if let Some(merged) = merge_missing(members.get(key), batch_object) {
            changed.push((key, merged));
        }
    }
    let mut urls_cut = 0;
    for key in ["context", "properties"] {
        let text = current(&changed, members, key);
        if let Some((cut, n)) = text.and_then(|t| cut_urls(key, t)) {
            set(&mut changed, key, cut);
            urls_cut += n;
        }
    }
    let dedup_id = members
        .string("messageId")
        .filter(|id| !id.is_empty())
        .map(|id| id.into_owned());
    if dedup_id.is_none() {
        changed.push(("messageId", quoted(&new_message_id())));
    }
    let sent_at = members.get("sentAt").or(shared.sent_at);
    changed.extend(corrected_timestamp(members, sent_at, received_at_ms));
    changed.push(("receivedAt", quoted(&format_rfc3339_ms(received_at_ms))));

    Done {
        json: write(members, &changed, event.len),
        dedup_id,
        partition_key: user_of(members),
        urls_cut,
    }
}

/// The event's JSON: its members as they came, `changed` ones replaced in place, new ones
/// after them.
fn write(members: &Members<'_>, changed: &[(&'static str, String)], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 160);
    out.push(b'{');
    let mut first = true;
    let mut written = vec![false; changed.len()];
    for (key, raw) in &members.0 {
        match changed.iter().position(|(k, _)| k == key) {
            Some(i) => {
                write_member(&mut out, &mut first, key, &changed[i].1);
                written[i] = true;
            }
            None => write_member(&mut out, &mut first, key, raw.get()),
        }
    }
    for ((key, value), done) in changed.iter().zip(written) {
        if !done {
            write_member(&mut out, &mut first, key, value);
        }
    }
    out.push(b'}');
    out
}

/// The text of member `key` as it stands: changed, or as it came.
fn current<'t>(
    changed: &'t [(&'static str, String)],
    members: &'t Members<'_>,
    key: &str,
) -> Option<&'t str> {
    changed
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
        .or_else(|| members.get(key).map(RawValue::get))
}

fn set(changed: &mut Vec<(&'static str, String)>, key: &'static str, value: String) {
    match changed.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => changed.push((key, value)),
    }
}

/// The member `key` (text `text`) with its long URLs cut, and how many, when there were.
fn cut_urls(key: &str, text: &str) -> Option<(String, u32)> {
    // No field inside can be longer than the whole.
    if text.len() <= urls::MAX_URL_BYTES || !urls::may_hold_urls(key) {
        return None;
    }
    let mut value: Value = serde_json::from_str(text).ok()?;
    let cut = urls::cut_long_urls(key, &mut value);
    (cut > 0).then(|| (value.to_string(), cut))
}

/// A batch-level object under the event's own (the event's keys win): the merged
/// object's text, or `None` when the event's own stands as it is (it has every key, or
/// it set something other than an object there, which wins whole).
fn merge_missing(own: Option<&RawValue>, batch: &RawValue) -> Option<String> {
    let Some(own) = own else {
        return Some(batch.get().to_string());
    };
    let own = members::object(own.get()).ok()?;
    let batch = members::object(batch.get()).ok()?;
    let missing: Vec<_> = batch
        .0
        .iter()
        .filter(|(key, _)| own.get(key).is_none())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut out = b"{".to_vec();
    let mut first = true;
    for (key, value) in own.0.iter().chain(missing) {
        write_member(&mut out, &mut first, key, value.get());
    }
    out.push(b'}');
    String::from_utf8(out).ok()
}

/// Segment's skew correction: the client's clock may be off, but the interval between
/// the event and the request's `sentAt` was measured on that one clock, so
/// `timestamp = receivedAt - (sentAt - originalTimestamp)`. The client's time is kept as
/// `originalTimestamp`. Without `sentAt` nothing can be corrected and `timestamp` stays;
/// without any time, `timestamp` is `receivedAt`. The members to change.
fn corrected_timestamp(
    members: &Members<'_>,
    sent_at: Option<&RawValue>,
    received_at_ms: i64,
) -> Vec<(&'static str, String)> {
    let own_original = members.get("originalTimestamp");
    let Some(original) = own_original.or_else(|| members.get("timestamp")) else {
        return vec![("timestamp", quoted(&format_rfc3339_ms(received_at_ms)))];
    };
    let epoch_ms = |raw: &RawValue| {
        serde_json::from_str::<Value>(raw.get())
            .ok()
            .and_then(|v| to_epoch_ms(&v).ok())
    };
    let (Some(original_ms), Some(sent_ms)) = (epoch_ms(original), sent_at.and_then(epoch_ms))
    else {
        return Vec::new();
    };
    let corrected = received_at_ms - (sent_ms - original_ms);
    let mut changed = vec![("timestamp", quoted(&format_rfc3339_ms(corrected)))];
    if own_original.is_none() {
        changed.push(("originalTimestamp", original.get().to_string()));
    }
    changed
}

/// The user an event is about, as text: `userId`, else `anonymousId`.
fn user_of(members: &Members<'_>) -> Option<String> {
    ["userId", "anonymousId"].iter().find_map(|key| {
        let raw = members.get(key)?.get();
        if raw.starts_with('"') {
            members
                .string(key)
                .filter(|id| !id.is_empty())
                .map(|id| id.into_owned())
        } else {
            // A number, written as serde_json writes it (the key Kafka partitions by).
            serde_json::from_str::<serde_json::Number>(raw)
                .ok()
                .map(|n| n.to_string())
        }
    })
}

fn quoted(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    write_string(&mut out, text);
    String::from_utf8(out).unwrap_or_default()
}

/// A random (version 4) UUID, as Segment's libraries make for `messageId`.
fn new_message_id() -> String {
    let high = fastrand::u64(..);
    let low = fastrand::u64(..);
    let high = (high & 0xffff_ffff_ffff_0fff) | 0x4000; // version 4
    let low = (low & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000; // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}
