//! A test of the intake's enrichment against the way it was written before (every event
//! parsed into a `serde_json::Value`, changed there and written back, commit 4fa4a5d):
//! the same requests must give the same events, key order aside.

use eventmap::transforms::{format_rfc3339_ms, to_epoch_ms};
use serde_json::{json, Map, Value};

use super::{parse, Endpoint, Limits};

const RECEIVED: i64 = 1_795_262_400_000; // 2026-11-21T12:00:00Z

/// The events the old intake made of `body` (without the `messageId`s it invented).
fn reference(endpoint: Endpoint, body: &str) -> Vec<Value> {
    let Value::Object(mut body) = serde_json::from_str::<Value>(body).expect("JSON") else {
        panic!("an object")
    };
    body.remove("writeKey");
    let (events, sent_at, shared) = match endpoint {
        Endpoint::Single(call) => {
            body.entry("type").or_insert_with(|| Value::from(call));
            let sent_at = body.get("sentAt").cloned();
            (vec![body], sent_at, Map::new())
        }
        Endpoint::Batch => {
            let Some(Value::Array(items)) = body.remove("batch") else {
                panic!("a batch")
            };
            let sent_at = body.remove("sentAt");
            let mut shared = Map::new();
            for key in ["context", "integrations"] {
                if let Some(Value::Object(o)) = body.remove(key) {
                    shared.insert(key.into(), Value::Object(o));
                }
            }
            let events = items
                .into_iter()
                .map(|item| {
                    let Value::Object(mut event) = item else {
                        panic!("objects")
                    };
                    event.remove("writeKey");
                    event
                })
                .collect();
            (events, sent_at, shared)
        }
    };
    events
        .into_iter()
        .map(|mut event| {
            for (key, value) in &shared {
                let Value::Object(shared) = value else {
                    continue;
                };
                if let Value::Object(own) = event
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    for (k, v) in shared {
                        own.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            if !matches!(event.get("messageId"), Some(Value::String(id)) if !id.is_empty()) {
                event.remove("messageId");
            }
            let original = event
                .get("originalTimestamp")
                .or_else(|| event.get("timestamp"))
                .cloned();
            let sent = event.get("sentAt").or(sent_at.as_ref()).cloned();
            match original {
                None => {
                    event.insert("timestamp".into(), format_rfc3339_ms(RECEIVED).into());
                }
                Some(original) => {
                    if let (Ok(o), Some(Ok(s))) =
                        (to_epoch_ms(&original), sent.as_ref().map(to_epoch_ms))
                    {
                        event.entry("originalTimestamp").or_insert(original);
                        event.insert(
                            "timestamp".into(),
                            format_rfc3339_ms(RECEIVED - (s - o)).into(),
                        );
                    }
                }
            }
            event.insert("receivedAt".into(), format_rfc3339_ms(RECEIVED).into());
            Value::Object(event)
        })
        .collect()
}

/// The events the intake makes of `body` now (without the `messageId`s it invented), and
/// the dedup ids and partition keys it read.
fn enriched(
    endpoint: Endpoint,
    body: &str,
) -> (Vec<Value>, Vec<Option<String>>, Vec<Option<String>>) {
    let payload = parse(endpoint, body.as_bytes(), &Limits::default()).expect("parses");
    let enriched = payload.enrich(RECEIVED, 1).expect("enriched");
    let mut events = Vec::new();
    let (mut ids, mut keys) = (Vec::new(), Vec::new());
    for e in enriched {
        let mut event: Value = serde_json::from_slice(&e.json).expect("JSON");
        if e.dedup_id.is_none() {
            let made = event["messageId"].as_str().expect("a messageId made");
            assert_eq!(made.len(), 36, "{made}");
            event.as_object_mut().expect("object").remove("messageId");
        }
        events.push(event);
        ids.push(e.dedup_id);
        keys.push(e.partition_key);
    }
    (events, ids, keys)
}

#[test]
fn every_kind_of_request_gives_the_events_it_gave_before() {
    let batches = [
        json!({"batch": [
            {"type": "track", "event": "A", "messageId": "m1", "userId": "u1",
             "timestamp": "2026-11-21T10:00:00Z", "context": {"ip": "1.2.3.4"}},
            {"type": "page", "messageId": "", "anonymousId": 42, "timestamp": 1795252800000_i64},
            {"type": "identify", "messageId": 7, "userId": "", "anonymousId": "a1",
             "originalTimestamp": "2026-11-21T09:00:00Z", "timestamp": "x", "context": "not an object"},
            {"type": "track", "sentAt": "2026-11-21T10:10:00Z", "timestamp": "2026-11-21T10:00:00Z",
             "integrations": {"All": false}, "writeKey": "k"},
            {"type": "track", "timestamp": "not a time", "userId": 1.5e3},
            {"type": "alias", "a\"b\u{e9}\n": {"x": [1, {"y": null}]}, "messageId": "m\u{e9}\"",
             "context": {"ip": "9.9.9.9", "library": {"name": "own"}}}],
         "context": {"ip": "5.5.5.5", "library": {"name": "x"}},
         "integrations": {"Segment.io": true},
         "sentAt": "2026-11-21T10:06:00Z", "writeKey": "secret"}),
        json!({"batch": [{"type": "track", "messageId": "m9", "timestamp": "2026-11-21T10:00:00Z"}],
               "context": 5}),
        json!({"batch": []}),
    ];
    for body in batches {
        let text = body.to_string();
        let (got, _, _) = enriched(Endpoint::Batch, &text);
        assert_eq!(got, reference(Endpoint::Batch, &text), "{text}");
        // Pretty-printed, the same events.
        let pretty = serde_json::to_string_pretty(&body).expect("pretty");
        assert_eq!(enriched(Endpoint::Batch, &pretty).0, got);
    }
    for (call, body) in [
        (
            "track",
            json!({"event": "A", "sentAt": "2026-11-21T10:06:00Z", "timestamp": "2026-11-21T10:00:00Z", "writeKey": "k"}),
        ),
        (
            "page",
            json!({"type": "screen", "messageId": "p1", "userId": "u"}),
        ),
        (
            "identify",
            json!({"traits": {"email": "a@b.c"}, "anonymousId": ""}),
        ),
    ] {
        let text = body.to_string();
        let (got, _, _) = enriched(Endpoint::Single(call), &text);
        assert_eq!(got, reference(Endpoint::Single(call), &text), "{text}");
    }
}

#[test]
fn ids_and_partition_keys_are_read_as_before() {
    let body = json!({"batch": [
        {"type": "track", "messageId": "m1", "userId": "u1", "anonymousId": "a1"},
        {"type": "track", "messageId": "", "userId": "", "anonymousId": "a\u{e9}"},
        {"type": "track", "messageId": 5, "userId": 1.5e3},
        {"type": "track", "messageId": "m\"4", "userId": null, "anonymousId": 12},
        {"type": "track", "userId": true}]})
    .to_string();
    let (_, ids, keys) = enriched(Endpoint::Batch, &body);
    assert_eq!(
        ids,
        [Some("m1".into()), None, None, Some("m\"4".into()), None]
    );
    assert_eq!(
        keys,
        [
            Some("u1".into()),
            Some("a\u{e9}".into()),
            Some("1500.0".into()),
            Some("12".into()),
            None
        ]
    );
}

#[test]
fn a_repeated_key_counts_once_with_its_last_value() {
    let body =
        r#"{"batch": [{"type": "page", "type": "track", "messageId": "m1", "messageId": "m2"}]}"#;
    let (got, ids, _) = enriched(Endpoint::Batch, body);
    assert_eq!(got, reference(Endpoint::Batch, body));
    assert_eq!(ids, [Some("m2".into())]);
    let payload = parse(Endpoint::Batch, body.as_bytes(), &Limits::default()).expect("parses");
    let spooled = payload.enrich(RECEIVED, 1).expect("enriched");
    let text = String::from_utf8_lossy(&spooled[0].json);
    assert_eq!(text.matches("\"type\"").count(), 1, "{text}");
    assert_eq!(text.matches("\"messageId\"").count(), 1, "{text}");
}
