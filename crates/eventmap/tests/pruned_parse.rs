//! Parsing only what a mapping reads never changes what the mapping produces.

#[path = "../benches/corpus.rs"]
mod corpus;

use eventmap::{CompileOptions, EventContext, Mapping};
use serde_json::Value;

const NOW: EventContext = EventContext {
    now_ms: 1_795_600_000_000,
};

fn assert_same_outcomes(mapping: &Mapping, lines: &[String]) {
    for line in lines {
        let full: Value = serde_json::from_str(line).unwrap();
        let pruned = mapping.parse_event(line).unwrap();
        assert_eq!(
            mapping.map(&full, &NOW),
            mapping.map(&pruned, &NOW),
            "outcomes differ for {line}"
        );
        assert!(pruned.to_string().len() <= full.to_string().len());
    }
}

#[test]
fn the_openai_mapping_gives_the_same_outcomes_on_pruned_events() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings/openai.yaml");
    let mapping = Mapping::from_file(path, &CompileOptions::default()).unwrap();
    let lines = corpus::corpus(3000);
    assert_same_outcomes(&mapping, &lines);
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
    lines.push(r#"{"event":"Order Completed","messageId":"x","context":{"skip":true}}"#.into());
    lines.push(r#"{"event":"Order Completed","properties":{"n":2,"currency":"EUR","product_id":"solo","tags":["a","b"]}}"#.into());
    lines.push(r#"{"event":"Order Completed","properties":{"products":[{"product_id":"p","tags":{"k":"v"}}],"currency":"USD"}}"#.into());
    assert_same_outcomes(&mapping, &lines);
}
