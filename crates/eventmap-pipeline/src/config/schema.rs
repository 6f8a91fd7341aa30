//! The JSON Schema of the pipeline file, for editors (yaml-language-server):
//! `eventmap schema --pipeline`, kept as docs/pipeline.schema.json. Its key lists are the
//! parser's own, so the two cannot drift apart.

use serde_json::{json, Map, Value};

use super::vocabulary::{DELIVERY, LIMITS, ROUTE, SOURCE, SPOOL, TOP};

/// Where the schema says it lives (its `$id`).
pub const PIPELINE_SCHEMA_ID: &str = "https://eventmap.dev/schema/pipeline-v1.json";

fn closed(keys: &[&str], mut properties: Map<String, Value>) -> Value {
    for key in keys {
        properties
            .entry(key.to_string())
            .or_insert_with(|| json!({}));
    }
    json!({"type": "object", "additionalProperties": false, "properties": properties})
}

fn props(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The JSON Schema (draft 2020-12) of a pipeline file.
pub fn pipeline_schema() -> Value {
    let duration = json!({"type": ["string", "integer"], "description": "500ms, 30s, 5m, 24h, 7d"});
    let size = json!({"type": ["string", "integer"], "description": "32KiB, 500KB, 1GiB"});
    let env = json!({"type": "object", "additionalProperties": false, "required": ["env"],
        "properties": {"env": {"type": "string", "pattern": "^[A-Za-z0-9_]+$"}}});
    let file = json!({"type": "object", "additionalProperties": false, "required": ["file"],
        "properties": {"file": {"type": "string"}}});
    let name = json!({"pattern": "^[A-Za-z0-9_-]{1,64}$"});
    let delivery = closed(
        DELIVERY,
        props(&[
            ("batch_size", json!({"type": "integer", "minimum": 1})),
            ("max_batch_bytes", size.clone()),
            (
                "concurrency",
                json!({"type": "integer", "minimum": 1, "maximum": 256}),
            ),
            ("max_attempts", json!({"type": "integer", "minimum": 1})),
            ("max_retry_time", duration.clone()),
            ("retry_delay", duration.clone()),
            ("max_retry_delay", duration.clone()),
            ("linger", duration.clone()),
            ("connect_timeout", duration.clone()),
            ("read_timeout", duration.clone()),
            ("timeout", duration.clone()),
            ("test_mode", json!({"type": "boolean"})),
        ]),
    );
    let mut route = closed(
        ROUTE,
        props(&[
            (
                "mapping",
                json!({"type": "string", "description": "the mapping file; its destination: says where the route goes"}),
            ),
            ("description", json!({"type": "string"})),
            ("params", json!({"type": "object"})),
            (
                "settings",
                json!({"type": "object", "description": "the destination's settings (eventmap destinations lists them): { env: VARIABLE } or, for what is not secret, a value",
                "additionalProperties": {"oneOf": [env.clone(), {"type": ["string", "integer"]}]}}),
            ),
            ("delivery", delivery),
        ]),
    );
    route["required"] = json!(["mapping"]);
    let limits = closed(
        LIMITS,
        props(&[
            ("max_event_bytes", size.clone()),
            ("max_request_bytes", size.clone()),
        ]),
    );
    let mut source = closed(
        SOURCE,
        props(&[
            ("description", json!({"type": "string"})),
            (
                "write_keys",
                json!({"oneOf": [env.clone(), file.clone(), {"type": "array", "items": {"oneOf": [env, file]}}]}),
            ),
            (
                "cors_origins",
                json!({"type": "array", "items": {"type": "string"}}),
            ),
            (
                "routes",
                json!({"type": "array", "items": {"type": "string"}, "minItems": 1}),
            ),
            ("limits", limits.clone()),
        ]),
    );
    source["required"] = json!(["write_keys", "routes"]);
    let spool = closed(
        SPOOL,
        props(&[
            ("dir", json!({"type": "string"})),
            ("max_bytes", size),
            ("dedup_window", duration.clone()),
            ("dedup_max_ids", json!({"type": "integer", "minimum": 1})),
            ("dead_letter_retention", duration),
        ]),
    );
    let mut top = closed(
        TOP,
        props(&[
            ("version", json!({"const": 1})),
            ("description", json!({"type": "string"})),
            (
                "listen",
                json!({"type": "string", "description": "ADDRESS:PORT"}),
            ),
            ("spool", spool),
            ("limits", limits),
            (
                "routes",
                json!({"type": "object", "minProperties": 1, "propertyNames": name.clone(), "additionalProperties": route}),
            ),
            (
                "sources",
                json!({"type": "object", "propertyNames": name, "additionalProperties": source}),
            ),
        ]),
    );
    top["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    top["$id"] = json!(PIPELINE_SCHEMA_ID);
    top["title"] = json!("eventmap pipeline file");
    top["required"] = json!(["routes"]);
    top
}
