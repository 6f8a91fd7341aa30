//! The Segment HTTP tracking API's payloads: which path takes which call, how a batch is
//! unpacked, and what the intake adds to each event before it is spooled (a `messageId`
//! when there is none, `receivedAt`, and a `timestamp` corrected for the client's clock
//! skew, as Segment does).

use eventmap::transforms::{format_rfc3339_ms, to_epoch_ms};
use serde_json::{Map, Value};

/// Sizes the intake refuses above (Segment documents 32 KB an event, 500 KB a batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_event_bytes: usize,
    pub max_batch_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_event_bytes: 32 * 1024,
            max_batch_bytes: 500 * 1024,
        }
    }
}

/// What a path takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `{"batch": [...], "context"?, "integrations"?, "sentAt"?, "writeKey"?}`.
    Batch,
    /// One call whose `type` the path gives when the body has none.
    Single(&'static str),
}

/// The paths of Segment's HTTP API and the short ones analytics.js posts to.
pub fn endpoint_for(path: &str) -> Option<Endpoint> {
    // RudderStack's JS SDK with `useBeacon: true` posts batches to `/beacon/v1/batch`.
    if path.trim_end_matches('/') == "/beacon/v1/batch" {
        return Some(Endpoint::Batch);
    }
    let call = path.strip_prefix("/v1/")?.trim_end_matches('/');
    Some(match call {
        "batch" | "import" => Endpoint::Batch,
        "track" | "t" => Endpoint::Single("track"),
        "page" | "p" => Endpoint::Single("page"),
        "screen" | "s" => Endpoint::Single("screen"),
        "identify" | "i" => Endpoint::Single("identify"),
        "group" | "g" => Endpoint::Single("group"),
        "alias" | "a" => Endpoint::Single("alias"),
        _ => return None,
    })
}

/// A payload the intake refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// 400: not JSON, not an object, no `type`.
    #[error("{0}")]
    Malformed(String),
    /// 413: over a size limit.
    #[error("{what} is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        what: String,
        size: usize,
        limit: usize,
    },
}

/// A request's events, unpacked but not yet enriched.
#[derive(Debug)]
pub struct Payload {
    pub events: Vec<Map<String, Value>>,
    /// `writeKey` from the body (analytics.js sends it there, as `text/plain`).
    pub write_key: Option<String>,
    /// The batch's `sentAt`, for events without their own.
    pub sent_at: Option<Value>,
    /// Batch-level `context` and `integrations`, applied to each event.
    shared: Map<String, Value>,
    /// The events came as `batch[i]` (for messages naming them).
    batched: bool,
    /// The size limit, checked on each event as it will be spooled.
    max_event_bytes: usize,
}

/// Unpacks a request body (already decompressed).
pub fn parse(endpoint: Endpoint, body: &[u8], limits: &Limits) -> Result<Payload, PayloadError> {
    if body.len() > limits.max_batch_bytes {
        return Err(PayloadError::TooLarge {
            what: "the request body".into(),
            size: body.len(),
            limit: limits.max_batch_bytes,
        });
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| PayloadError::Malformed(format!("the body is not JSON: {e}")))?;
    let Value::Object(mut body) = value else {
        return Err(PayloadError::Malformed(
            "the body is not a JSON object".into(),
        ));
    };
    let write_key = match body.remove("writeKey") {
        Some(Value::String(key)) => Some(key),
        _ => None,
    };
    let mut payload = Payload {
        events: Vec::new(),
        write_key,
        sent_at: None,
        shared: Map::new(),
        batched: endpoint == Endpoint::Batch,
        max_event_bytes: limits.max_event_bytes,
    };
    match endpoint {
        Endpoint::Single(call) => {
            body.entry("type").or_insert_with(|| Value::from(call));
            payload.sent_at = body.get("sentAt").cloned();
            payload.events.push(checked(body, "the event")?);
        }
        Endpoint::Batch => {
            let Some(Value::Array(items)) = body.remove("batch") else {
                return Err(PayloadError::Malformed(
                    "a batch needs `batch`: a list of events".into(),
                ));
            };
            payload.sent_at = body.remove("sentAt");
            for key in ["context", "integrations"] {
                if let Some(Value::Object(shared)) = body.remove(key) {
                    payload.shared.insert(key.into(), Value::Object(shared));
                }
            }
            for (i, item) in items.into_iter().enumerate() {
                let Value::Object(mut event) = item else {
                    return Err(PayloadError::Malformed(format!(
                        "batch[{i}] is not a JSON object"
                    )));
                };
                event.remove("writeKey");
                payload.events.push(checked(event, &format!("batch[{i}]"))?);
            }
        }
    }
    Ok(payload)
}

fn checked(event: Map<String, Value>, what: &str) -> Result<Map<String, Value>, PayloadError> {
    match event.get("type") {
        Some(Value::String(t)) if !t.is_empty() => {}
        _ => {
            return Err(PayloadError::Malformed(format!(
                "{what} has no `type` (track, page, screen, identify, group or alias)"
            )))
        }
    }
    Ok(event)
}

/// One event, ready to spool.
#[derive(Debug)]
pub struct Enriched {
    pub json: Vec<u8>,
    /// The client's `messageId`, for the dedup window; `None` when the intake made one.
    pub dedup_id: Option<String>,
    /// What keeps one user's events in order where order is per partition (Kafka):
    /// `userId`, else `anonymousId`.
    pub partition_key: Option<String>,
    /// URL fields cut to [`MAX_URL_BYTES`] on the way in.
    pub urls_cut: u32,
    /// The spool lanes (routes) it goes to: those of the write key it came with.
    pub lanes: u64,
}

impl Payload {
    /// Adds what the intake owes each event: batch-level fields, a `messageId` when
    /// missing, `receivedAt`, and the skew-corrected `timestamp`. An event that is then
    /// over the size limit refuses the request (measured once, on the JSON spooled).
    pub fn enrich(self, received_at_ms: i64, lanes: u64) -> Result<Vec<Enriched>, PayloadError> {
        let Payload {
            events,
            sent_at,
            shared,
            batched,
            max_event_bytes,
            ..
        } = self;
        events
            .into_iter()
            .enumerate()
            .map(|(i, mut event)| {
                for (key, value) in &shared {
                    merge_missing(&mut event, key, value);
                }
                let dedup_id = match event.get("messageId") {
                    Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
                    _ => {
                        event.insert("messageId".into(), Value::from(new_message_id()));
                        None
                    }
                };
                correct_timestamp(&mut event, received_at_ms, sent_at.as_ref());
                let urls_cut = cut_long_urls(&mut event);
                let partition_key = user_of(&event);
                event.insert(
                    "receivedAt".into(),
                    Value::from(format_rfc3339_ms(received_at_ms)),
                );
                let json = serde_json::to_vec(&Value::Object(event)).unwrap_or_default();
                if json.len() > max_event_bytes {
                    let what = if batched {
                        format!("batch[{i}]")
                    } else {
                        "the event".to_string()
                    };
                    return Err(PayloadError::TooLarge {
                        what,
                        size: json.len(),
                        limit: max_event_bytes,
                    });
                }
                Ok(Enriched {
                    json,
                    dedup_id,
                    partition_key,
                    urls_cut,
                    lanes,
                })
            })
            .collect()
    }
}

/// URLs longer than this are cut to it at intake. A landing page's URL can be tens of
/// kilobytes (ad and tracking parameters), and analytics.js copies it into four fields
/// (`context.page.url` and `.search`, `properties.url` and `.search`): one 10 KB URL
/// made a 42 KB event, over the 32 KB limit, and the page view was refused. 2,048 bytes
/// keeps every real page's address and its usual parameters (browsers and analytics
/// tools have long cut URLs near there).
pub const MAX_URL_BYTES: usize = 2048;

/// The fields where analytics.js and the server SDKs put a page's URL and its parts.
const URL_FIELDS: [(&str, &str); 8] = [
    ("context", "page.url"),
    ("context", "page.search"),
    ("context", "page.referrer"),
    ("context", "page.path"),
    ("properties", "url"),
    ("properties", "search"),
    ("properties", "referrer"),
    ("properties", "path"),
];

/// Cuts each URL field over [`MAX_URL_BYTES`] to that length; how many it cut.
fn cut_long_urls(event: &mut Map<String, Value>) -> u32 {
    let mut cut = 0;
    for (top, path) in URL_FIELDS {
        let mut value = event.get_mut(top);
        for part in path.split('.') {
            value = value.and_then(|v| v.get_mut(part));
        }
        if let Some(Value::String(url)) = value {
            if url.len() > MAX_URL_BYTES {
                cut_url(url, MAX_URL_BYTES);
                cut += 1;
            }
        }
    }
    cut
}

/// Cuts `url` to at most `max` bytes, at a character boundary and never inside a `%XX`
/// escape (half an escape would make the rest undecodable).
fn cut_url(url: &mut String, max: usize) {
    let mut end = max.min(url.len());
    while !url.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = url.as_bytes();
    for back in 1..=2 {
        if end >= back && bytes[end - back] == b'%' {
            end -= back;
            break;
        }
    }
    url.truncate(end);
}

/// The user an event is about, as text: `userId`, else `anonymousId`.
fn user_of(event: &Map<String, Value>) -> Option<String> {
    ["userId", "anonymousId"]
        .iter()
        .find_map(|key| match event.get(*key) {
            Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
            Some(Value::Number(id)) => Some(id.to_string()),
            _ => None,
        })
}

/// Batch-level `context` / `integrations`: the event's own keys win.
fn merge_missing(event: &mut Map<String, Value>, key: &str, shared: &Value) {
    let Value::Object(shared) = shared else {
        return;
    };
    // When the event set something other than an object there, it wins whole.
    if let Value::Object(own) = event
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
    {
        for (k, v) in shared {
            own.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// Segment's skew correction: the client's clock may be off, but the interval between
/// the event and the request's `sentAt` was measured on that one clock, so
/// `timestamp = receivedAt - (sentAt - originalTimestamp)`. The client's time is kept as
/// `originalTimestamp`. Without `sentAt` nothing can be corrected and `timestamp` stays;
/// without any time, `timestamp` is `receivedAt`.
fn correct_timestamp(
    event: &mut Map<String, Value>,
    received_at_ms: i64,
    batch_sent_at: Option<&Value>,
) {
    let original = event
        .get("originalTimestamp")
        .or_else(|| event.get("timestamp"))
        .cloned();
    let sent_at = event.get("sentAt").or(batch_sent_at).cloned();
    let Some(original) = original else {
        event.insert(
            "timestamp".into(),
            Value::from(format_rfc3339_ms(received_at_ms)),
        );
        return;
    };
    let (Ok(original_ms), Some(Ok(sent_ms))) =
        (to_epoch_ms(&original), sent_at.as_ref().map(to_epoch_ms))
    else {
        return;
    };
    event.entry("originalTimestamp").or_insert(original);
    let corrected = received_at_ms - (sent_ms - original_ms);
    event.insert(
        "timestamp".into(),
        Value::from(format_rfc3339_ms(corrected)),
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_urls_are_cut_so_a_page_view_is_kept() {
        let long = format!(
            "https://shop.example/?utm={}&oppref=opp_1",
            "a".repeat(10_000)
        );
        let body = json!({"type": "page", "messageId": "m1",
            "context": {"page": {"url": long, "search": &long[20..], "title": "Shop"}},
            "properties": {"url": long, "search": &long[20..], "keep": long}});
        let payload = parse(
            Endpoint::Single("page"),
            body.to_string().as_bytes(),
            &Limits::default(),
        )
        .expect("parses");
        let enriched = payload.enrich(0, 1).expect("cut to fit, not refused");
        let event: Value = serde_json::from_slice(&enriched[0].json).expect("json");
        for path in [
            "/context/page/url",
            "/context/page/search",
            "/properties/url",
            "/properties/search",
        ] {
            let cut = event.pointer(path).and_then(Value::as_str).expect(path);
            assert_eq!(cut.len(), MAX_URL_BYTES, "{path}");
            assert!(long.contains(cut), "{path} is a prefix");
        }
        assert_eq!(
            event["properties"]["keep"].as_str().map(str::len),
            Some(long.len())
        );
    }

    #[test]
    fn a_cut_never_splits_a_character_or_an_escape() {
        for (url, max, cut) in [
            ("ab%2Fcd", 3, "ab"),
            ("ab%2Fcd", 4, "ab"),
            ("ab%2Fcd", 5, "ab%2F"),
            ("aé", 2, "a"),
            ("short", 10, "short"),
        ] {
            let mut text = url.to_string();
            cut_url(&mut text, max);
            assert_eq!(text, cut, "{url} at {max}");
        }
    }

    const RECEIVED: i64 = 1_795_262_400_000; // 2026-11-21T12:00:00Z

    fn enriched(endpoint: Endpoint, body: Value) -> Vec<Value> {
        let payload = parse(endpoint, body.to_string().as_bytes(), &Limits::default()).unwrap();
        payload
            .enrich(RECEIVED, 1)
            .unwrap()
            .into_iter()
            .map(|e| serde_json::from_slice(&e.json).unwrap())
            .collect()
    }

    #[test]
    fn paths_name_their_calls_long_and_short() {
        assert_eq!(endpoint_for("/v1/batch"), Some(Endpoint::Batch));
        assert_eq!(endpoint_for("/v1/t"), Some(Endpoint::Single("track")));
        assert_eq!(
            endpoint_for("/v1/identify"),
            Some(Endpoint::Single("identify"))
        );
        assert_eq!(endpoint_for("/v1/p/"), Some(Endpoint::Single("page")));
        assert_eq!(endpoint_for("/v2/track"), None);
        assert_eq!(endpoint_for("/v1/nope"), None);
    }

    #[test]
    fn a_batch_applies_its_context_and_sent_at_to_each_event() {
        let events = enriched(
            Endpoint::Batch,
            json!({"batch": [
                {"type": "track", "event": "A", "messageId": "m1",
                 "timestamp": "2026-11-21T10:00:00Z", "context": {"ip": "1.2.3.4"}},
                {"type": "page", "messageId": "m2", "timestamp": "2026-11-21T10:00:00Z"}],
             "context": {"ip": "9.9.9.9", "library": {"name": "x"}},
             // The client's clock is 5 minutes ahead.
             "sentAt": "2026-11-21T10:06:00Z", "writeKey": "secret"}),
        );
        assert_eq!(
            events[0]["context"]["ip"], "1.2.3.4",
            "the event's own wins"
        );
        assert_eq!(events[0]["context"]["library"]["name"], "x");
        assert_eq!(events[1]["context"]["ip"], "9.9.9.9");
        for event in &events {
            assert_eq!(event["originalTimestamp"], "2026-11-21T10:00:00Z");
            // 6 minutes before it was received, by the server's clock.
            assert_eq!(event["timestamp"], "2026-11-21T11:54:00.000Z");
            assert_eq!(event["receivedAt"], "2026-11-21T12:00:00.000Z");
            assert!(event.get("writeKey").is_none());
        }
    }

    #[test]
    fn missing_ids_and_times_are_filled_in() {
        let events = enriched(Endpoint::Single("track"), json!({"event": "A"}));
        let id = events[0]["messageId"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_eq!(events[0]["type"], "track");
        assert_eq!(events[0]["timestamp"], "2026-11-21T12:00:00.000Z");
        // Without sentAt the client's time stays as it is.
        let events = enriched(
            Endpoint::Single("track"),
            json!({"event": "A", "timestamp": "2026-11-20T00:00:00Z"}),
        );
        assert_eq!(events[0]["timestamp"], "2026-11-20T00:00:00Z");
    }

    #[test]
    fn bad_payloads_are_refused_with_a_reason() {
        let limits = Limits {
            max_event_bytes: 100,
            max_batch_bytes: 1000,
        };
        let refuse = |endpoint, body: &str| match parse(endpoint, body.as_bytes(), &limits) {
            Ok(payload) => payload.enrich(RECEIVED, 1).map(|_| ()).unwrap_err(),
            Err(e) => e,
        };
        assert!(
            matches!(refuse(Endpoint::Batch, "{nope"), PayloadError::Malformed(m) if m.contains("not JSON"))
        );
        assert!(matches!(
            refuse(Endpoint::Batch, "[1]"),
            PayloadError::Malformed(_)
        ));
        assert!(
            matches!(refuse(Endpoint::Batch, r#"{"batch": [1]}"#), PayloadError::Malformed(m) if m.contains("batch[0]"))
        );
        assert!(
            matches!(refuse(Endpoint::Batch, r#"{"batch": [{"event": "x"}]}"#), PayloadError::Malformed(m) if m.contains("no `type`"))
        );
        let big = format!(r#"{{"type": "track", "pad": "{}"}}"#, "x".repeat(200));
        assert!(matches!(
            refuse(Endpoint::Single("track"), &big),
            PayloadError::TooLarge { limit: 100, .. }
        ));
        let huge = format!(r#"{{"batch": [], "pad": "{}"}}"#, "x".repeat(2000));
        assert!(matches!(
            refuse(Endpoint::Batch, &huge),
            PayloadError::TooLarge { limit: 1000, .. }
        ));
    }
}
