//! An event validated and written where the mapping left it (in its slots) must be judged
//! and written exactly as the same event built as a JSON value.

use eventmap::{CompileOptions, EventContext, Mapping, Node, Outcome, Validator};
use eventmap_openai::OpenAiValidator;
use serde_json::{json, Value};

const NOW: &str = "2026-11-21T12:00:00Z";
const NOW_MS: i64 = 1_795_262_400_000;

/// Maps `event` both ways and checks that they agree; returns the violations.
fn both_ways(mapping: &Mapping, event: &Value) -> Vec<String> {
    let cx = EventContext { now_ms: NOW_MS };
    let text = event.to_string();
    let slots = mapping.map_json_output(&text, &cx).expect("an object");
    let Outcome::Mapped(output) = slots.outcome else {
        panic!("{event} did not map: {:?}", slots.outcome);
    };
    let value = output.clone().into_value();
    assert_eq!(
        output.to_json(),
        serde_json::to_string(&value).unwrap(),
        "written from slots"
    );
    assert_eq!(output.root().to_value(), value, "read from slots");
    assert_eq!(
        mapping.map_json(&text, &cx).unwrap().outcome,
        Outcome::Mapped(value.clone())
    );
    let validator = OpenAiValidator::STRICT;
    let from_slots = validator.validate_node(output.root(), NOW_MS);
    let from_value = validator.validate(&value, NOW_MS);
    assert_eq!(from_slots, from_value, "judged from slots");
    from_slots.iter().map(ToString::to_string).collect()
}

#[test]
fn the_bundled_examples_are_the_same_from_slots() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings/openai.yaml");
    let mut options = CompileOptions::default();
    // Unmapped track events become custom events, whose `data.*` spread is built.
    options
        .params
        .insert("send_custom_events".into(), "true".into());
    let mapping = Mapping::from_file(file, &options).unwrap();
    let events = include_str!("../../../mappings/examples/segment-events.ndjson");
    let cx = EventContext { now_ms: NOW_MS };
    let mut mapped = 0;
    for line in events.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        if matches!(mapping.map(&event, &cx), Outcome::Mapped(_)) {
            both_ways(&mapping, &event);
            mapped += 1;
        }
    }
    assert!(mapped >= 8, "only {mapped} of the examples mapped");
    let custom = json!({"type": "track", "event": "Wishlist Shared", "messageId": "m-c",
        "timestamp": NOW, "context": {"page": {"url": "https://shop.example/"}},
        "properties": {"list": "summer", "value": 3, "currency": "EUR"}});
    assert_eq!(both_ways(&mapping, &custom), Vec::<String>::new());
}

#[test]
fn violations_in_slots_are_found_at_the_same_paths() {
    let yaml = r#"
global:
  id: { from: messageId }
  timestamp_ms: { from: ts }
  action_source: { const: web }
  extra: { from: extra }
  user.country: { from: country }
  user.city: { from: city }
  user.nickname: { from: nickname }
  data.type: { from: data_type }
  data.amount: { from: amount }
  data.contents:
    each: items
    keys:
      id: { from: id }
      colour: { from: colour }
events:
  order:
    match: { event: Order Completed }
    keys:
      type: { const: order_created }
"#;
    let mapping = Mapping::compile(yaml, "slots.yaml", &CompileOptions::default()).unwrap();
    let event = json!({"type": "track", "event": "Order Completed", "messageId": "",
        "ts": 1, "extra": true, "country": "usa", "nickname": "x", "data_type": "plan",
        "amount": -5, "items": [{"id": "a", "colour": "red"}, {"colour": "blue"}]});
    let violations = both_ways(&mapping, &event);
    for path in [
        "extra: ",
        "id: ",
        "timestamp_ms: ",
        "source_url: ",
        "user.country: ",
        "user.nickname: ",
        "data.type: ",
        "data.amount: ",
        "data.currency: ",
        "data.contents[0].colour: ",
        "data.contents[1].colour: ",
    ] {
        assert!(
            violations.iter().any(|v| v.starts_with(path)),
            "no violation at {path}: {violations:?}"
        );
    }
    // An object whose keys are all absent is left out, from slots as from JSON: `user`
    // is not reported as present, and `data` is reported missing.
    let bare = json!({"type": "track", "event": "Order Completed", "messageId": "m-2"});
    let violations = both_ways(&mapping, &bare);
    assert!(
        violations.iter().any(|v| v == "data: is required"),
        "{violations:?}"
    );
    let cx = EventContext { now_ms: NOW_MS };
    let mapped = mapping.map_json_output(&bare.to_string(), &cx).unwrap();
    let Outcome::Mapped(output) = mapped.outcome else {
        panic!()
    };
    let root = output.root().as_object().unwrap();
    assert!(root.get("user").is_none() && root.get("data").is_none());
    assert_eq!(
        root.keys().collect::<Vec<_>>(),
        ["action_source", "id", "type"]
    );
    assert!(matches!(
        root.get("id"),
        Some(Node::Value(Value::String(_)))
    ));
}

#[test]
fn lists_kept_in_slots_are_the_lists_built_as_json() {
    // `data.contents` keeps its elements in slots; `extra_list` (a declared type) and
    // `nested` (inside an element) are built as JSON values.
    let yaml = r#"
global:
  id: { from: messageId }
  timestamp_ms: { from: ts }
  action_source: { const: web }
  extra_list:
    each: items
    keys:
      id: { from: id }
    type: array
  data.type: { const: contents }
  data.currency: { const: EUR }
  data.contents:
    each: items
    keys:
      id: { from: id }
      amount: { from: price }
      detail.colour: { from: colour }
      nested:
        each: parts
        keys:
          name: { from: name }
events:
  order:
    match: { event: Order Completed }
    keys:
      type: { const: order_created }
"#;
    let mapping = Mapping::compile(yaml, "lists.yaml", &CompileOptions::default()).unwrap();
    let event = |items: Value| {
        json!({"type": "track", "event": "Order Completed", "messageId": "m-1",
            "ts": NOW_MS - 1000, "items": items})
    };
    let items = json!([
        {"id": "a", "price": 5, "colour": "red", "parts": [{"name": "lid"}, {"x": 1}]},
        {"unread": true},
        {"id": "b", "price": -1},
        {"colour": "blue"}
    ]);
    let violations = both_ways(&mapping, &event(items));
    assert!(
        violations.iter().any(|v| v.starts_with("extra_list: ")),
        "{violations:?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("data.contents[1].amount: ")),
        "{violations:?}"
    );
    // The element with nothing read is left out: the next one is element 1.
    let cx = EventContext { now_ms: NOW_MS };
    let text = event(json!([{"unread": 1}, {"id": "c"}])).to_string();
    let value = mapping.map_json(&text, &cx).unwrap();
    let Outcome::Mapped(value) = value.outcome else {
        panic!("{:?}", value.outcome)
    };
    assert_eq!(value["data"]["contents"], json!([{"id": "c"}]));
    let mapped = mapping.map_json_output(&text, &cx).unwrap();
    let Outcome::Mapped(output) = mapped.outcome else {
        panic!()
    };
    let contents = output.root().as_object().unwrap().get("data").unwrap();
    let contents = contents.as_object().unwrap().get("contents").unwrap();
    assert!(matches!(contents, Node::List(_)), "kept in slots");
    assert_eq!(contents.elements().unwrap().count(), 1);
    // No element with a value: no list, from slots as from JSON.
    both_ways(&mapping, &event(json!([{"unread": 1}])));
    both_ways(&mapping, &event(json!([])));
    both_ways(&mapping, &event(json!({"id": "single"})));
}
