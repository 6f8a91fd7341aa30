//! Parsing only what a mapping reads never changes what the mapping produces.

#[path = "../benches/corpus.rs"]
mod corpus;

use eventmap::{CompileOptions, EventContext, EventError, Mapping, Outcome};
use serde_json::Value;

const NOW: EventContext = EventContext {
    now_ms: 1_795_600_000_000,
};

/// The full parse, the pruned parse and `map_json`'s borrowed tree give one outcome.
fn assert_same_outcomes(mapping: &Mapping, lines: &[String]) {
    for line in lines {
        let full: Value = serde_json::from_str(line).unwrap();
        let expected = mapping.map(&full, &NOW);
        let pruned = mapping.parse_event(line).unwrap();
        assert_eq!(
            expected,
            mapping.map(&pruned, &NOW),
            "pruned parse differs for {line}"
        );
        assert!(pruned.to_string().len() <= full.to_string().len());
        if !full.is_object() {
            // No event is a list or a number: map_json says so rather than skipping it.
            let refused = mapping.map_json(line, &NOW);
            assert!(
                matches!(refused, Err(EventError::NotAnObject(_))),
                "{line}: {refused:?}"
            );
            continue;
        }
        let direct = mapping.map_json(line, &NOW).unwrap();
        assert_eq!(expected, direct.outcome, "map_json differs for {line}");
        let id = full.get("messageId").and_then(Value::as_str);
        match expected {
            Outcome::Mapped(_) => assert_eq!(direct.id, None),
            _ => assert_eq!(direct.id.as_deref(), id),
        }
    }
}

fn edge_cases() -> Vec<String> {
    [
        r#"{"type":"track","event":"Order Completed","messageId":"esc","timestamp":"2026-11-21T10:00:00Z","properties":{"currency":"USD","products":[{"product_id":"a\"b","name":"caf\u00e9 \n","price":"1.5"}]},"context":{"traits":{"email":"\u0041@b.c"}}}"#,
        r#"{"type":"track","event":"Order Completed","messageId":"dup","messageId":"dup2","timestamp":"2026-11-21T10:00:00Z","properties":{"currency":"EUR","currency":"JPY","total":5}}"#,
        r#"{"type":"track","event":"Product Viewed","timestamp":"2026-11-21T10:00:00Z","properties":{"product_id":7,"price":null,"currency":""},"context":{"page":{"url":""}}}"#,
        r#"{"type":"page","messageId":"deep","timestamp":1795260600,"properties":{"title":{"nested":[1,{"x":[]}]}},"anonymousId":"\u00c9"}"#,
        r#"{"type":"track","event":"Order Completed","messageId":"bad","timestamp":"yesterday","properties":{"products":"not a list"}}"#,
        r#"{"event":"Product Added","type":"track","messageId":"a","timestamp":"2026-11-21T10:00:00Z","properties":{"price":4.35,"quantity":"2"},"context":{"traits":{"address":{"country":"Atlantis"}}}}"#,
        r#"[1,2,3]"#,
        r#""just a string""#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn the_openai_mapping_gives_the_same_outcomes_on_pruned_events() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings/openai.yaml");
    let mapping = Mapping::from_file(path, &CompileOptions::default()).unwrap();
    let mut lines = corpus::corpus(3000);
    lines.extend(edge_cases());
    assert_same_outcomes(&mapping, &lines);
    // With custom events on, the default section spreads `properties` into `data`: the
    // pruned parse must keep the whole object for it.
    let mut options = CompileOptions::default();
    options
        .params
        .insert("send_custom_events".into(), "true".into());
    let with_custom = Mapping::from_file(path, &options).unwrap();
    lines.push(r#"{"type":"track","event":"Demo Booked","messageId":"c-1","timestamp":"2026-11-20T10:00:00Z","context":{"page":{"url":"https://a.example/"}},"properties":{"plan":"pro","nested":{"a":[1,2]},"value":3,"currency":"EUR"}}"#.to_string());
    assert_same_outcomes(&with_custom, &lines);
    // And it does skip data: the corpus events carry fields no mapping key reads.
    let full_len: usize = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap().to_string().len())
        .sum();
    let pruned_len: usize = lines
        .iter()
        .map(|l| mapping.parse_event(l).unwrap().to_string().len())
        .sum();
    assert!(
        pruned_len * 10 < full_len * 9,
        "pruned {pruned_len} bytes vs full {full_len}"
    );
}

#[test]
fn relative_rooted_wildcard_and_jsonpath_reads_are_kept() {
    let yaml = r#"
filters:
  - skip_if: flag == true
    inputs: { flag: context.skip }
events:
  nested:
    match: { event: Order Completed }
    keys:
      items:
        each: [properties.products, properties]
        keys:
          id: { from: product_id }
          currency: { from: $.properties.currency }
          tags: { from: 'tags[*]' }
      first_price: { from: 'properties.products[0].price' }
      when_key: { const: 1, when: 'n > 1', inputs: { n: properties.n } }
  anything:
    match: { event: Product Viewed }
    keys:
      prices: { from: '$..price' }
default:
  keys:
    everything: { expr: e, inputs: { e: properties } }
"#;
    let mapping = Mapping::compile(yaml, "t.yaml", &CompileOptions::default()).unwrap();
    let mut lines = corpus::corpus(500);
    lines.extend(edge_cases());
    lines.push(r#"{"event":"Order Completed","messageId":"x","context":{"skip":true}}"#.into());
    lines.push(r#"{"event":"Order Completed","properties":{"n":2,"currency":"EUR","product_id":"solo","tags":["a","b"]}}"#.into());
    lines.push(r#"{"event":"Order Completed","properties":{"products":[{"product_id":"p","tags":{"k":"v"}}],"currency":"USD"}}"#.into());
    assert_same_outcomes(&mapping, &lines);
}

#[test]
fn mappings_without_wildcards_map_on_the_borrowed_tree_identically() {
    // No wildcard and no JSONPath: map_json takes the borrowed tree for every event.
    let yaml = r#"
events:
  order:
    match: { event: [Order Completed, Checkout Started] }
    keys:
      id: { from: messageId, required: true }
      first: { from: 'properties.products[0].product_id' }
      last: { from: 'properties.products[-1]' }
      items:
        each: properties.products
        keys:
          id: { from: [product_id, sku] }
          price: { from: price }
          currency: { from: $.properties.currency }
      total:
        expr: 'let t = 0.0; for p in products { t += p.price ?? 0.0; } t'
        inputs: { products: properties.products }
      native: { expr: 'total_minor_units(products, c) ?? 0', inputs: { products: properties.products, c: properties.currency } }
default:
  skip: other
"#;
    let mapping = Mapping::compile(yaml, "b.yaml", &CompileOptions::default()).unwrap();
    let mut lines = corpus::corpus(1000);
    lines.extend(edge_cases());
    assert_same_outcomes(&mapping, &lines);
    assert!(lines.iter().any(|l| matches!(
        mapping.map_json(l, &NOW).unwrap().outcome,
        Outcome::Mapped(_)
    )));
}

#[test]
fn a_transform_reading_some_fields_is_handed_those_and_the_parse_keeps_only_those() {
    // total_minor_units reads an item's price and quantity, or the fields its arguments
    // name: the products are parsed keeping just those, and mapped as if whole.
    let yaml = r#"
events:
  order:
    match: { event: [Order Completed, Checkout Started] }
    keys:
      amount: { expr: 'total_minor_units(products, c) ?? 0', inputs: { products: properties.products, c: properties.currency } }
      named: { expr: 'total_minor_units(lines, "EUR", "unit", "qty")', inputs: { lines: [properties.lines, properties.products] } }
      computed: { expr: 'total_minor_units(lines, "EUR", field)', inputs: { lines: properties.more, field: properties.field } }
default:
  skip: other
"#;
    let mapping = Mapping::compile(yaml, "f.yaml", &CompileOptions::default()).unwrap();
    let mut lines = corpus::corpus(1000);
    lines.extend(edge_cases());
    lines.extend(
        [
            r#"{"event":"Order Completed","properties":{"currency":"USD","products":[{"price":1,"name":"n","price":"2.5","quantity":2},{"pr\u0069ce":3,"sku":"s"}]}}"#,
            r#"{"event":"Order Completed","properties":{"currency":"USD","products":{"price":1.25,"quantity":"3","brand":"b"},"lines":[{"unit":2,"qty":2,"price":9}]}}"#,
            r#"{"event":"Order Completed","properties":{"currency":"JPY","products":[{"price":5},7,null,{"quantity":1}]}}"#,
            r#"{"event":"Order Completed","properties":{"currency":"USD","products":[],"more":[{"cost":4,"price":1}],"field":"cost"}}"#,
            r#"{"event":"Order Completed","properties":{"currency":"USD","products":"none","more":{"price":2,"x":{"y":1}}}}"#,
        ]
        .map(String::from),
    );
    assert_same_outcomes(&mapping, &lines);
    let pruned = mapping.parse_event(&lines[lines.len() - 5]).unwrap();
    assert_eq!(
        pruned["properties"]["products"],
        serde_json::json!([{"price": "2.5", "quantity": 2}, {"price": 3}]),
        "a field no transform reads is kept"
    );
    // A field named by a computed argument may be any field: the list is kept whole.
    let pruned = mapping.parse_event(&lines[lines.len() - 2]).unwrap();
    assert_eq!(
        pruned["properties"]["more"],
        serde_json::json!([{"cost": 4, "price": 1}])
    );
}

#[test]
fn malformed_json_is_rejected_by_every_parse() {
    let mapping = Mapping::compile(
        "default: { skip: x }\n",
        "m.yaml",
        &CompileOptions::default(),
    )
    .unwrap();
    let bad_lines = [
        "{",
        "{\"a\":}",
        "{\"a\":1} x",
        "",
        "{\"a\":\"\\q\"}",
        "nul",
        // The same faults inside keys the mapping never reads: skipped, still checked
        // (as serde_json skips: syntax and escapes, not the range of numbers or the
        // pairing of surrogates).
        "{\"zz\":\"\\q\"}",
        "{\"zz\":[1,]}",
        "{\"zz\":{\"a\":1,}}",
        "{\"zz\":01}",
        "{\"zz\":-}",
        "{\"zz\":\"a\u{1}b\"}",
        "{\"zz\":tru}",
        "{\"zz\":NaN}",
        "{\"zz\":1,}",
        "{'zz':1}",
    ];
    for bad in bad_lines {
        serde_json::from_str::<Value>(bad).expect_err(bad);
        assert!(
            mapping.parse_event(bad).is_err(),
            "parse_event accepted {bad:?}"
        );
        match mapping.map_json(bad, &NOW) {
            // serde_json's words and position, whichever parser found the fault first.
            Err(EventError::Json(e)) => {
                assert!(e.to_string().contains(" at line 1 column "), "{bad:?}: {e}")
            }
            other => panic!("map_json gave {other:?} for {bad:?}"),
        }
    }
    // Nesting the mapping never reads is skipped without recursion, however deep: a
    // crafted line of half a million brackets neither crashes the parse nor is refused.
    let deep = format!("{{\"zz\":{}1{}}}", "[".repeat(500_000), "]".repeat(500_000));
    assert!(mapping.map_json(&deep, &NOW).is_ok());
    // Nesting it reads hits serde_json's limit of 128 levels: an error, not a crash.
    let read_deep = format!(
        "{{\"messageId\":{}1{}}}",
        "[".repeat(500_000),
        "]".repeat(500_000)
    );
    assert!(mapping.map_json(&read_deep, &NOW).is_err());
    // And what serde_json accepts is accepted.
    for good in [
        "{\"zz\":\"\\ud83d\\ude00 \\u00e9 \\n\"}",
        "{\"zz\":[1,2.5e3,-0,true,false,null,{\"a\":{}}]}",
        "{\"zz\":18446744073709551616}",
        " {\"type\":\"x\"} ",
    ] {
        serde_json::from_str::<Value>(good).expect(good);
        assert!(mapping.map_json(good, &NOW).is_ok(), "{good}");
    }
}
