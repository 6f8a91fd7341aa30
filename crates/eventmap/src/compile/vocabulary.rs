//! The words of the mapping format: which keys each part of a mapping file may hold.
//! The compiler checks files against these lists and `schema.rs` builds the JSON Schema
//! (for editors) from them, so the two cannot drift apart.

/// The top level of a mapping file.
pub(crate) const TOP_LEVEL: &[&str] = &[
    "version",
    "name",
    "description",
    "destination",
    "params",
    "filters",
    "global",
    "events",
    "default",
    "test_mode",
    "validate",
    "tables",
    "transforms",
    "let",
];

/// One output key's rule (and one `let` value's).
pub(crate) const KEY_FIELDS: &[&str] = &[
    "from",
    "const",
    "param",
    "expr",
    "each",
    "keys",
    "inputs",
    "transform",
    "default",
    "required",
    "when",
    "on_error",
    "type",
    "description",
    "except",
];

/// The fields of a key rule that say where its value comes from; exactly one is given.
pub(crate) const SOURCES: &[&str] = &["from", "const", "param", "expr", "each"];

/// A section under `events:`.
pub(crate) const EVENT_FIELDS: &[&str] = &[
    "match",
    "let",
    "keys",
    "filters",
    "description",
    "test_mode",
];

/// A section's `match:`.
pub(crate) const MATCH_FIELDS: &[&str] = &["event", "event_in", "type"];

/// One entry of a `filters:` list.
pub(crate) const FILTER_FIELDS: &[&str] = &["skip_if", "inputs", "reason"];

/// The `default:` section.
pub(crate) const DEFAULT_FIELDS: &[&str] = &["skip", "let", "keys", "filters", "test_mode"];

/// One parameter under `params:`.
pub(crate) const PARAM_FIELDS: &[&str] = &[
    "default",
    "description",
    "type",
    "required",
    "secret",
    "columns",
];

/// `validate:`.
pub(crate) const VALIDATE_FIELDS: &[&str] = &["relax"];

/// An expression input written as a mapping (rather than an input path).
pub(crate) const INPUT_FIELDS: &[&str] = &["param", "const", "path_param"];

/// An input path written as a mapping: the path is a parameter's value.
pub(crate) const PATH_FIELDS: &[&str] = &["path_param"];

/// Segment's call types, as `match: { type: … }` names them.
pub(crate) const CALL_TYPES: &[&str] = &["track", "page", "screen", "identify", "group", "alias"];

/// `on_error:` values.
pub(crate) const ON_ERROR: &[&str] = &["fail", "omit"];
