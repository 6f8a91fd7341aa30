//! The one rule for "no value": a missing path, JSON `null` and the empty string are all
//! *absent*. An absent value omits its output key (or takes the key's `default`), skips
//! the key's transforms, and fails a `required` key.

use serde_json::Value;

pub fn is_absent(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// `Some(value)` unless the value is absent.
pub(crate) fn present(value: Value) -> Option<Value> {
    (!is_absent(&value)).then_some(value)
}

/// A value as compact JSON for messages, cut to `max` characters with `…`.
pub fn shorten_json(value: &Value, max: usize) -> String {
    let text = value.to_string();
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text
    }
}

/// A short, data-free description of a JSON value's kind, for error messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
