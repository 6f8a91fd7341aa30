//! Tests of the pipeline file: a good file read whole, every mistake reported at once at
//! its place, secrets named by variable, and the schema holding the reader's words.

use std::path::PathBuf;

use super::*;

/// A pipeline file beside the repository's mappings, so its relative paths find them.
fn at_repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../pipeline.yaml")
}

const GOOD: &str = "\
version: 1
listen: 127.0.0.1:8088
spool: { dir: ./spool, max_bytes: 1GiB, dedup_window: 1h }
routes:
  openai:
    mapping: mappings/openai.yaml
    settings:
      api_key: { env: OPENAI_CAPI_KEY }
      pixel_id: { env: OPENAI_PIXEL_ID }
    delivery: { batch_size: 50, max_retry_time: 24h, test_mode: true }
  meta:
    mapping: mappings/meta.yaml
    params: { send_user_data: false }
sources:
  shop:
    write_keys: { env: SHOP_KEYS }
    cors_origins: [https://www.shop.example]
    routes: [openai, meta]
";

#[test]
fn a_good_file_reads_into_its_routes_and_sources() {
    let config = PipelineConfig::parse(GOOD, &at_repo()).unwrap();
    assert_eq!(config.route_names(), ["openai", "meta"]);
    assert_eq!(config.listen, Some("127.0.0.1:8088".parse().unwrap()));
    assert_eq!(config.spool.max_bytes, Some(1 << 30));
    let openai = config.route("openai").unwrap();
    assert!(openai.mapping.ends_with("mappings/openai.yaml"));
    assert_eq!(openai.delivery.batch_size, Some(50));
    assert!(openai.delivery.test_mode);
    assert_eq!(
        openai.settings[0].value,
        SettingValue::Env("OPENAI_CAPI_KEY".into())
    );
    assert_eq!(
        config.route("meta").unwrap().params,
        [("send_user_data".to_string(), "false".to_string())]
    );
    let shop = &config.sources[0];
    assert_eq!(shop.routes, ["openai", "meta"]);
    assert_eq!(shop.write_keys, [KeySource::Env("SHOP_KEYS".into())]);
    let env = |name: &str| (name == "SHOP_KEYS").then(|| "k1, k2".to_string());
    assert_eq!(shop.keys(&env).unwrap(), ["k1", "k2"]);
    let missing = openai.given_settings(&|_| None).unwrap_err();
    assert!(missing.message.contains("OPENAI_CAPI_KEY"), "{missing}");
}

#[test]
fn every_mistake_is_reported_at_once_at_its_place() {
    let text = "\
version: 1
routes:
  openai:
    mapping: mappings/openai.yaml
    delivery: { batch_sise: 10, max_retry_time: soon }
  meta:
    maping: mappings/meta.yaml
sources:
  shop:
    write_keys: { env: SHOP_KEYS }
    routes: [openai, meat]
spoool: {}
";
    let errors = PipelineConfig::parse(text, &at_repo()).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let at = |needle: &str| {
        shown
            .iter()
            .find(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("no error with {needle}: {shown:#?}"))
            .clone()
    };
    assert!(
        at("batch_sise").contains("pipeline.yaml:5:17:"),
        "{shown:#?}"
    );
    assert!(at("did you mean `batch_size`").contains("5:17"));
    assert!(at("`soon`").contains("5:49:"), "{shown:#?}");
    assert!(at("`maping`").contains("7:5:") && at("`maping`").contains("did you mean `mapping`"));
    assert!(at("no `mapping:`").contains("6:3:"), "{shown:#?}");
    assert!(at("`meat`").contains("11:22:") && at("`meat`").contains("did you mean `meta`"));
    assert!(at("spoool").contains("12:1:") && at("spoool").contains("did you mean `spool`"));
    assert_eq!(errors.len(), 6, "{shown:#?}");
}

#[test]
fn secrets_are_named_by_variable_never_written() {
    let text = "\
routes:
  openai:
    mapping: mappings/openai.yaml
    settings:
      api_key: sk-written-here
      pixle_id: px
";
    let config = PipelineConfig::parse(text, &at_repo()).unwrap();
    let errors = config.routes[0].check_settings(&crate::destination::tests_support::Secretive);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert!(
        shown[0].contains("5:7:") && shown[0].contains("is a secret"),
        "{shown:#?}"
    );
    assert!(!shown[0].contains("sk-written-here"));
    assert!(shown[1].contains("6:7:") && shown[1].contains("did you mean `pixel_id`"));
}

#[test]
fn the_schema_lists_every_key_the_parser_takes() {
    let schema = pipeline_schema();
    for key in super::vocabulary::TOP {
        assert!(schema["properties"].get(key).is_some(), "{key}");
    }
    let route = &schema["properties"]["routes"]["additionalProperties"];
    for key in super::vocabulary::DELIVERY {
        assert!(
            route["properties"]["delivery"]["properties"]
                .get(key)
                .is_some(),
            "{key}"
        );
    }
}

#[test]
fn the_checked_in_schema_is_the_generated_one_and_the_example_reads() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(repo.join("docs/pipeline.schema.json")).unwrap();
    let checked_in: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        checked_in == pipeline_schema(),
        "docs/pipeline.schema.json is stale: run `eventmap schema --pipeline > docs/pipeline.schema.json`"
    );
    let example = PipelineConfig::load(&repo.join("mappings/examples/pipeline.yaml")).unwrap();
    assert_eq!(example.route_names(), ["openai", "meta"]);
}
