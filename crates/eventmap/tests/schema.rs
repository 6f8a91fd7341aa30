//! The JSON Schema of the mapping format (`docs/mapping.schema.json`): generated from the
//! compiler's vocabulary, checked in, accepting every shipped mapping and rejecting
//! broken ones.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn shipped_mappings(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "fixtures") {
                shipped_mappings(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "yaml")
            // Pipeline files (`serve --config`) have a schema of their own.
            && path.file_name().is_none_or(|n| n != "pipeline.yaml")
        {
            out.push(path);
        }
    }
}

#[test]
fn the_checked_in_schema_is_the_generated_one() {
    let file = repo().join("docs/mapping.schema.json");
    let checked_in: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("read"))
        .expect("the schema file is JSON");
    assert!(
        checked_in == eventmap::mapping_schema(),
        "docs/mapping.schema.json is stale: run `eventmap schema > docs/mapping.schema.json`"
    );
}

#[test]
fn every_word_of_the_schema_has_a_description() {
    fn walk(value: &Value, at: &str, missing: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(properties)) = map.get("properties") {
                    for (name, shape) in properties {
                        let described = shape
                            .get("description")
                            .and_then(Value::as_str)
                            .is_some_and(|d| !d.is_empty());
                        if !described {
                            missing.push(format!("{at}.{name}"));
                        }
                    }
                }
                for (key, child) in map {
                    walk(child, &format!("{at}/{key}"), missing);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, at, missing)),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    walk(&eventmap::mapping_schema(), "", &mut missing);
    assert!(missing.is_empty(), "undescribed: {missing:?}");
}

#[test]
fn the_schema_accepts_every_shipped_mapping() {
    let validator = jsonschema::validator_for(&eventmap::mapping_schema()).expect("a valid schema");
    let mut files = Vec::new();
    shipped_mappings(&repo().join("mappings"), &mut files);
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        let errors: Vec<String> = validator
            .iter_errors(&yaml_file(&file))
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

#[test]
fn the_schema_rejects_broken_mappings_where_they_break() {
    let validator = jsonschema::validator_for(&eventmap::mapping_schema()).expect("a valid schema");
    let broken: Value = serde_saphyr::from_str(
        "global:\n  id: { form: messageId }\n  t: { from: timestamp, on_error: ignore }\nevents:\n  order:\n    mach: { event: x }\n    keys: {}\nlet:\n  bad-name: { const: 1 }\n",
    )
    .expect("yaml");
    let errors: Vec<String> = validator
        .iter_errors(&broken)
        .map(|e| e.instance_path().to_string())
        .collect();
    for place in ["/global/id", "/global/t/on_error", "/events/order", "/let"] {
        assert!(
            errors.iter().any(|e| e == place),
            "no error at {place}: {errors:?}"
        );
    }
}
