//! The Segment HTTP tracking API's payloads: which path takes which call, how a batch is
//! unpacked ([`members`]: an object read as its members, values kept as text), and what
//! the intake adds to each event before it is spooled ([`enrich`]; long URLs cut by
//! [`urls`]).

mod enrich;
mod members;
#[cfg(test)]
mod reference;
mod urls;

use serde_json::error::Category;
use serde_json::value::RawValue;

use enrich::{RawEvent, Shared};
use members::Members;
pub use urls::MAX_URL_BYTES;

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

/// A request's events, unpacked but not yet enriched; they borrow the request's body.
#[derive(Debug)]
pub struct Payload<'a> {
    events: Vec<RawEvent<'a>>,
    /// `writeKey` from the body (analytics.js sends it there, as `text/plain`).
    pub write_key: Option<String>,
    /// The batch's `sentAt`, `context` and `integrations`, for each event.
    shared: Shared<'a>,
    /// The events came as `batch[i]` (for messages naming them).
    batched: bool,
    /// The size limit, checked on each event as it will be spooled.
    max_event_bytes: usize,
}

/// Unpacks a request body (already decompressed).
pub fn parse<'a>(
    endpoint: Endpoint,
    body: &'a [u8],
    limits: &Limits,
) -> Result<Payload<'a>, PayloadError> {
    if body.len() > limits.max_batch_bytes {
        return Err(PayloadError::TooLarge {
            what: "the request body".into(),
            size: body.len(),
            limit: limits.max_batch_bytes,
        });
    }
    let not_json =
        |e: &dyn std::fmt::Display| PayloadError::Malformed(format!("the body is not JSON: {e}"));
    let text = std::str::from_utf8(body).map_err(|e| not_json(&e))?;
    // Values are kept as text, and skipping a string does not decode its escapes: a
    // surrogate escape, which may be a lone half (not a character), is checked by
    // reading the body whole, as the `Value`-based intake did (rare: emoji are usually
    // sent as UTF-8).
    if members::has_surrogate_escape(text) {
        serde_json::from_str::<serde_json::Value>(text).map_err(|e| not_json(&e))?;
    }
    let mut body = members::object(text).map_err(|e| match e.classify() {
        Category::Data => PayloadError::Malformed("the body is not a JSON object".into()),
        _ => not_json(&e),
    })?;
    let write_key = body.string("writeKey").map(|key| key.into_owned());
    body.remove("writeKey");
    let mut payload = Payload {
        events: Vec::new(),
        write_key,
        shared: Shared {
            sent_at: None,
            objects: Vec::new(),
        },
        batched: endpoint == Endpoint::Batch,
        max_event_bytes: limits.max_event_bytes,
    };
    match endpoint {
        Endpoint::Single(call) => {
            let default_type = body.get("type").is_none().then_some(call);
            payload
                .events
                .push(checked(body, default_type, text.len(), "the event")?);
        }
        Endpoint::Batch => {
            let items = body
                .remove("batch")
                .and_then(|raw| serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok())
                .ok_or_else(|| {
                    PayloadError::Malformed("a batch needs `batch`: a list of events".into())
                })?;
            payload.shared.sent_at = body.remove("sentAt");
            for key in ["context", "integrations"] {
                if let Some(object) = body.remove(key).filter(|raw| raw.get().starts_with('{')) {
                    payload.shared.objects.push((key, object));
                }
            }
            for (i, item) in items.into_iter().enumerate() {
                let mut event = members::object(item.get()).map_err(|_| {
                    PayloadError::Malformed(format!("batch[{i}] is not a JSON object"))
                })?;
                event.remove("writeKey");
                let len = item.get().len();
                payload
                    .events
                    .push(checked(event, None, len, &format!("batch[{i}]"))?);
            }
        }
    }
    Ok(payload)
}

fn checked<'a>(
    members: Members<'a>,
    default_type: Option<&'static str>,
    len: usize,
    what: &str,
) -> Result<RawEvent<'a>, PayloadError> {
    let typed = default_type.is_some() || members.string("type").is_some_and(|t| !t.is_empty());
    if !typed {
        return Err(PayloadError::Malformed(format!(
            "{what} has no `type` (track, page, screen, identify, group or alias)"
        )));
    }
    Ok(RawEvent {
        members,
        default_type,
        len,
    })
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

impl Payload<'_> {
    /// How many events the request holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Adds what the intake owes each event: batch-level fields, a `messageId` when
    /// missing, `receivedAt`, and the skew-corrected `timestamp`. An event that is then
    /// over the size limit refuses the request (measured on the JSON spooled, as compact
    /// JSON: a pretty-printed event is not refused for its spaces).
    pub fn enrich(&self, received_at_ms: i64, lanes: u64) -> Result<Vec<Enriched>, PayloadError> {
        self.events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                let done = enrich::enrich(event, &self.shared, received_at_ms);
                let json = self.within_limit(done.json, i)?;
                Ok(Enriched {
                    json,
                    dedup_id: done.dedup_id,
                    partition_key: done.partition_key,
                    urls_cut: done.urls_cut,
                    lanes,
                })
            })
            .collect()
    }

    /// `json`, or compacted when it is over the limit only for its whitespace, or the
    /// refusal naming event `i`.
    fn within_limit(&self, json: Vec<u8>, i: usize) -> Result<Vec<u8>, PayloadError> {
        if json.len() <= self.max_event_bytes {
            return Ok(json);
        }
        let compact = serde_json::from_slice::<serde_json::Value>(&json)
            .ok()
            .and_then(|value| serde_json::to_vec(&value).ok())
            .unwrap_or(json);
        if compact.len() <= self.max_event_bytes {
            return Ok(compact);
        }
        Err(PayloadError::TooLarge {
            what: if self.batched {
                format!("batch[{i}]")
            } else {
                "the event".to_string()
            },
            size: compact.len(),
            limit: self.max_event_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn long_urls_are_cut_so_a_page_view_is_kept() {
        let long = format!(
            "https://shop.example/?utm={}&oppref=opp_1",
            "a".repeat(10_000)
        );
        let body = json!({"type": "page", "messageId": "m1",
            "context": {"page": {"url": long, "search": &long[20..], "title": "Shop"}},
            "properties": {"url": long, "search": &long[20..], "keep": long}});
        let text = body.to_string();
        let payload = parse(
            Endpoint::Single("page"),
            text.as_bytes(),
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

    const RECEIVED: i64 = 1_795_262_400_000; // 2026-11-21T12:00:00Z

    fn enriched(endpoint: Endpoint, body: Value) -> Vec<Value> {
        let text = body.to_string();
        let payload = parse(endpoint, text.as_bytes(), &Limits::default()).unwrap();
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
        // A lone surrogate is not a character: refused as the Value-based intake did.
        assert!(
            matches!(refuse(Endpoint::Batch, r#"{"batch": [{"type": "track", "event": "\ud800"}]}"#), PayloadError::Malformed(m) if m.contains("not JSON"))
        );
        let emoji = r#"{"batch": [{"type": "track", "event": "\ud83d\ude00"}]}"#;
        assert!(parse(Endpoint::Batch, emoji.as_bytes(), &limits).is_ok());
        let huge = format!(r#"{{"batch": [], "pad": "{}"}}"#, "x".repeat(2000));
        assert!(matches!(
            refuse(Endpoint::Batch, &huge),
            PayloadError::TooLarge { limit: 1000, .. }
        ));
    }
}
