//! The JSON Schema of the mapping format, for editors (yaml-language-server completes and
//! checks mapping files with it). Every object's properties come from the vocabulary the
//! compiler checks files against (`compile/vocabulary.rs`); this module adds what each
//! word holds and means. `docs/mapping.schema.json` is its output, checked in; a test
//! keeps the two equal.
//!
//! The schema is looser than the compiler where JSON Schema cannot say it (one source per
//! key, names that must exist): the compiler's `file:line:col` errors remain the check.

use serde_json::{json, Map, Value};

use crate::compile::vocabulary::{
    CALL_TYPES, DEFAULT_FIELDS, EVENT_FIELDS, FILTER_FIELDS, INPUT_FIELDS, KEY_FIELDS,
    MATCH_FIELDS, ON_ERROR, PARAM_FIELDS, PATH_FIELDS, TOP_LEVEL, VALIDATE_FIELDS,
};
use crate::types::ValueType;

/// Where the checked-in schema is published (its `$id`).
pub const SCHEMA_ID: &str = "https://eventmap.dev/schema/mapping-v1.json";

/// The JSON Schema (draft 2020-12) of a mapping file.
pub fn mapping_schema() -> Value {
    let mut defs = Map::new();
    defs.insert("keyRule".into(), object("keyRule", KEY_FIELDS));
    defs.insert(
        "keyRules".into(),
        json!({
            "type": "object",
            "description": "Output keys (dotted for nesting: `data.amount`; `data.*` spreads an object) and their rules.",
            "additionalProperties": { "$ref": "#/$defs/keyRule" }
        }),
    );
    defs.insert(
        "lets".into(),
        json!({
            "type": "object",
            "description": "Named values computed once per event; expressions, conditions and filters read them by name.",
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "additionalProperties": { "$ref": "#/$defs/keyRule" }
        }),
    );
    defs.insert("event".into(), object("event", EVENT_FIELDS));
    defs.insert("match".into(), object("match", MATCH_FIELDS));
    defs.insert("filter".into(), {
        let mut filter = object("filter", FILTER_FIELDS);
        filter["required"] = json!(["skip_if"]);
        filter
    });
    defs.insert(
        "filters".into(),
        json!({ "type": "array", "items": { "$ref": "#/$defs/filter" } }),
    );
    defs.insert("default".into(), object("default", DEFAULT_FIELDS));
    defs.insert("param".into(), object("param", PARAM_FIELDS));
    defs.insert(
        "path".into(),
        json!({
            "description": "An input path (`properties.total`, `$.properties.currency` from the root inside `each`, `products[*].price`, or JSONPath), or `{ path_param: NAME }`.",
            "anyOf": [ { "type": "string" }, object("pathParam", PATH_FIELDS) ]
        }),
    );
    defs.insert(
        "paths".into(),
        json!({
            "description": "An input path, or a list of them: the first present value wins.",
            "anyOf": [
                { "$ref": "#/$defs/path" },
                { "type": "array", "minItems": 1, "items": { "$ref": "#/$defs/path" } }
            ]
        }),
    );
    defs.insert(
        "fallback".into(),
        json!({
            "description": "An input path, or `{ param: NAME }`: a parameter's value (an unset one is passed over).",
            "anyOf": [
                { "$ref": "#/$defs/path" },
                {
                    "type": "object",
                    "properties": {
                        "param": { "type": "string", "description": "The parameter whose value is the fallback." }
                    },
                    "required": ["param"],
                    "additionalProperties": false
                }
            ]
        }),
    );
    defs.insert(
        "fromPaths".into(),
        json!({
            "description": "An input path, or a list of fallbacks: the first present value wins; `{ param: NAME }` entries give a parameter's value; `{ let: NAME }` alone takes a `let` value in scope.",
            "anyOf": [
                { "$ref": "#/$defs/fallback" },
                {
                    "type": "object",
                    "properties": {
                        "let": { "type": "string", "description": "The `let` value (in scope for this key) the key takes." }
                    },
                    "required": ["let"],
                    "additionalProperties": false
                },
                { "type": "array", "minItems": 1, "items": { "$ref": "#/$defs/fallback" } }
            ]
        }),
    );
    defs.insert(
        "inputs".into(),
        json!({
            "type": "object",
            "description": "The variables an expression reads: name to input path(s), `{ param: NAME }`, `{ const: VALUE }` or `{ path_param: NAME }`.",
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "additionalProperties": {
                "anyOf": [ { "$ref": "#/$defs/paths" }, object("input", INPUT_FIELDS) ]
            }
        }),
    );
    defs.insert(
        "transformStep".into(),
        json!({
            "description": "A transform's name, or `{ name: argument }` / `{ name: [arguments] }`.",
            "anyOf": [
                { "type": "string" },
                { "type": "object", "minProperties": 1, "maxProperties": 1 }
            ]
        }),
    );
    defs.insert(
        "stringOrList".into(),
        json!({
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } }
            ]
        }),
    );

    let mut root = object("mapping", TOP_LEVEL);
    let root_object = root.as_object_mut().expect("object() builds an object");
    root_object.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root_object.insert("$id".into(), json!(SCHEMA_ID));
    root_object.insert("title".into(), json!("eventmap mapping file"));
    root_object.insert("$defs".into(), Value::Object(defs));
    root
}

/// An object whose properties are exactly `fields`, each with its shape and description.
fn object(part: &str, fields: &[&str]) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|field| {
            let (shape, description) = property(part, field);
            let mut shape = shape;
            if let Some(object) = shape.as_object_mut() {
                object.insert("description".into(), json!(description));
            }
            (field.to_string(), shape)
        })
        .collect();
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": properties
    })
}

fn param_types() -> Vec<&'static str> {
    let mut names = crate::params::ParamType::NAMES.to_vec();
    names.push("boolean");
    names
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/$defs/{name}") })
}

/// What `field` of `part` holds, and what it means. Every word of the vocabulary has an
/// entry; a new word without one fails the schema test (its description is empty).
fn property(part: &str, field: &str) -> (Value, &'static str) {
    let any = json!({});
    let string = json!({ "type": "string" });
    let boolean = json!({ "type": "boolean" });
    match (part, field) {
        ("mapping", "version") => (json!({ "const": 1 }), "The format version: 1."),
        ("mapping", "name") => (string, "The mapping's name."),
        ("mapping", "description") => (string, "What the mapping is for."),
        ("mapping", "destination") => (
            string,
            "The destination whose validator checks mapped events (`openai`, `meta`).",
        ),
        ("mapping", "params") => (
            json!({ "type": "object", "additionalProperties": reference("param") }),
            "Parameters a user sets with --param KEY=VALUE or EVENTMAP_PARAM_KEY.",
        ),
        ("mapping", "filters") => (
            reference("filters"),
            "Filters checked for every event before its section's own.",
        ),
        ("mapping", "global") => (
            reference("keyRules"),
            "Output keys of every event; a section's key of the same name replaces one.",
        ),
        ("mapping", "events") => (
            json!({ "type": "object", "additionalProperties": reference("event") }),
            "Sections, each mapping one kind of event.",
        ),
        ("mapping", "default") => (
            reference("default"),
            "What becomes of events no section matches: `skip: reason` or `keys:`.",
        ),
        ("mapping" | "event" | "default", "test_mode") => (
            boolean,
            "Send these events with the destination's test flag (OpenAI: validate_only).",
        ),
        ("mapping", "validate") => (
            object("validate", VALIDATE_FIELDS),
            "Destination validation settings.",
        ),
        ("validate", "relax") => (
            json!({ "type": "array", "items": { "type": "string" } }),
            "Names of destination rules this mapping turns off (docs/openai.md lists them).",
        ),
        ("mapping", "tables") => (
            json!({ "type": "object", "additionalProperties": { "type": "object" } }),
            "Named tables (key to value) for the `lookup` transform and `match: { event_in: }`.",
        ),
        ("mapping", "transforms") => (
            reference("stringOrList"),
            "Plug-in files (.rhai, relative to this file): each public fn becomes a transform.",
        ),
        ("mapping" | "event" | "default", "let") => (
            reference("lets"),
            "Named values computed once per event, read by name in expressions and filters.",
        ),
        ("event", "match") => (
            reference("match"),
            "Which events the section maps; without it, events named like the section.",
        ),
        ("event" | "default", "keys") => (reference("keyRules"), "The section's output keys."),
        ("event" | "default", "filters") => (
            reference("filters"),
            "Conditions that skip an event, each with its reason.",
        ),
        ("event", "description") => (string, "What the section is for."),
        ("default", "skip") => (string, "Skip unmatched events with this reason."),
        ("match", "event") => (
            reference("stringOrList"),
            "Event names (matched as written, then ignoring case and separators).",
        ),
        ("match", "event_in") => (string, "A table whose keys are the event names matched."),
        ("match", "type") => (
            json!({ "anyOf": [
                { "enum": CALL_TYPES },
                { "type": "array", "items": { "enum": CALL_TYPES } }
            ] }),
            "Segment call types (page, track, ...).",
        ),
        ("filter", "skip_if") => (string, "A Rhai condition; true skips the event."),
        ("filter" | "keyRule", "inputs") => {
            (reference("inputs"), "The variables the expression reads.")
        }
        ("filter", "reason") => (string, "The skip reason reported for the event."),
        ("param", "default") => (
            any,
            "The value when the user sets none (`${VAR}` reads the environment).",
        ),
        ("param", "description") => (string, "What the parameter does."),
        ("param", "type") => (
            // `boolean` is accepted as another spelling of `bool`.
            json!({ "enum": param_types() }),
            "The parameter's type; values given as text are converted to it.",
        ),
        ("param", "required") => (boolean, "The user must set it."),
        ("param", "secret") => (boolean, "Never shown in output or logs."),
        ("param", "columns") => (
            json!({"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}),
            "For a table given as a list of rows: the column that names an entry, then the one that holds its value (`[from, to]`).",
        ),
        ("keyRule", "from") => (
            reference("fromPaths"),
            "Read the value from input path(s); `{ param: NAME }` entries are fallbacks.",
        ),
        ("keyRule", "const") => (any, "A constant value."),
        ("keyRule", "param") => (string, "The value of a parameter."),
        ("keyRule", "expr") => (
            string,
            "A Rhai expression over its `inputs` and `let` values; transforms are functions.",
        ),
        ("keyRule", "each") => (
            reference("paths"),
            "Map every element of a list (paths inside are relative to the element).",
        ),
        ("keyRule", "keys") => (
            reference("keyRules"),
            "The keys of each element of an `each`.",
        ),
        ("keyRule", "transform") => (
            json!({ "anyOf": [
                reference("transformStep"),
                { "type": "array", "items": reference("transformStep") }
            ] }),
            "Transforms applied in order to the value.",
        ),
        ("keyRule", "default") => (
            any,
            "The value when the source is absent; `{ param: NAME }` is that parameter's value.",
        ),
        ("keyRule", "required") => (boolean, "An absent value fails the event."),
        ("keyRule", "when") => (string, "A Rhai condition; false leaves the key out."),
        ("keyRule", "on_error") => (
            json!({ "enum": ON_ERROR }),
            "`fail` (the default) fails the event on an error; `omit` leaves the key out.",
        ),
        ("keyRule", "type") => (
            json!({ "enum": ValueType::NAMES }),
            "The value's type, checked when the event is mapped.",
        ),
        ("keyRule", "description") => (string, "What the key holds."),
        ("keyRule", "except") => (
            json!({ "type": "array", "items": { "type": "string" } }),
            "For a spread key (`data.*`): the keys it does not copy.",
        ),
        ("input", "param") | ("pathParam" | "input", "path_param") => {
            (string, "A parameter's name.")
        }
        ("input", "const") => (any, "A constant value."),
        _ => (any, ""),
    }
}
