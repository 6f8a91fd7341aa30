//! Compact JSON, byte for byte as `serde_json::to_writer` writes it, without going
//! through serde's `Serializer`.
//!
//! serde_json escapes a string by looking up every byte in a table; here the bytes that
//! need escaping (a quote, a backslash, a control character: the same bytes that end a
//! run inside a JSON string, `json_string::next_special`) are found eight at a time, and the runs
//! between them are copied whole. Mapped events are mostly strings (hashes, URLs, user
//! agents), so this is most of the cost of writing them (docs/benchmarks.md).

use serde_json::Value;

use crate::json_string::write_str;
use crate::output::view::{Node, Output};

impl Output<'_> {
    /// The event as compact JSON text, as `serde_json::to_string` of
    /// [`Output::into_value`] would give it.
    pub fn to_json(&self) -> String {
        let mut text = Vec::with_capacity(1024);
        self.write_json(&mut text);
        // Only valid UTF-8 is written: the runs are copied from strings, whole.
        String::from_utf8(text).unwrap_or_default()
    }

    /// Appends the event as compact JSON to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write_node(out, self.root());
    }
}

/// Appends `node` as compact JSON.
pub(crate) fn write_node(out: &mut Vec<u8>, node: Node<'_>) {
    match node {
        Node::Value(value) => write_value(out, value),
        Node::Object(fields) => match fields.with_json_names() {
            Some(entries) => {
                out.push(b'{');
                for (i, (name, field)) in entries.enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(name);
                    write_node(out, field);
                }
                out.push(b'}');
            }
            None => write_object(out, fields.iter(), write_node),
        },
        Node::List(items) => write_list(out, items.iter(), write_node),
    }
}

/// Appends `value` as compact JSON.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // serde_json's own digits (itoa for integers, ryu for floats); writing to a
        // `Vec` cannot fail.
        Value::Number(number) => {
            let _ = serde_json::to_writer(&mut *out, number);
        }
        Value::String(text) => write_str(out, text),
        Value::Array(items) => write_list(out, items.iter(), write_value),
        Value::Object(map) => write_object(
            out,
            map.iter().map(|(name, field)| (name.as_str(), field)),
            write_value,
        ),
    }
}

/// Appends a list: its items as `write` writes them, in the order given.
fn write_list<T>(out: &mut Vec<u8>, items: impl Iterator<Item = T>, write: fn(&mut Vec<u8>, T)) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(b']');
}

/// Appends an object: its fields as `write` writes them, in the order given.
fn write_object<'f, T>(
    out: &mut Vec<u8>,
    fields: impl Iterator<Item = (&'f str, T)>,
    write: fn(&mut Vec<u8>, T),
) {
    out.push(b'{');
    for (i, (name, field)) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
        write(out, field);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn written(value: &Value) -> String {
        let mut out = Vec::new();
        write_value(&mut out, value);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn every_byte_is_escaped_as_serde_json_escapes_it() {
        let every_ascii: String = (0u8..0x80).map(char::from).collect();
        for text in [
            every_ascii.as_str(),
            "",
            "plain",
            "exactly8",
            "\"",
            "a\\b\"c",
            "caf\u{e9} \u{1F600} \u{7f}\u{80}",
            "long run of plain text before an escape at the end\n",
            "\u{1}\u{1f}\u{0}x\u{8}\u{c}",
        ] {
            let value = Value::String(text.to_string());
            assert_eq!(written(&value), serde_json::to_string(&value).unwrap());
        }
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        for value in [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-0.0),
            json!(1.0),
            json!(0.1),
            json!(1e300),
            json!(-2.5e-8),
            json!([]),
            json!({}),
            json!([1, "a", [null, {"b": {"c": []}}]]),
            json!({"z": 1, "a": {"y\"": "\n", "b": [true, 1.5]}, "m": ""}),
        ] {
            assert_eq!(written(&value), serde_json::to_string(&value).unwrap());
        }
    }
}

#[cfg(test)]
mod slot_tests {
    use crate::{CompileOptions, EventContext, Mapping, Outcome};

    /// Field names are written from their worked-out `"name":`, escaped once at compile
    /// time: the same bytes as serde_json writes for the built event.
    #[test]
    fn names_that_need_escaping_are_written_as_serde_json_writes_them() {
        let yaml = "default:\n  keys:\n    'we\"ird.na\\me': { const: 1 }\n    'tab\tkey': { from: a }\n    plain.b: { from: b }\n";
        let mapping = Mapping::compile(yaml, "t.yaml", &CompileOptions::default()).unwrap();
        let cx = EventContext { now_ms: 0 };
        let mapped = mapping.map_json_output(r#"{"a":"x","b":2}"#, &cx).unwrap();
        let Outcome::Mapped(output) = mapped.outcome else {
            panic!("not mapped: {:?}", mapped.outcome);
        };
        let written = output.to_json();
        assert_eq!(
            written,
            serde_json::to_string(&output.into_value()).unwrap()
        );
        assert!(written.contains(r#""we\"ird":{"na\\me":1}"#), "{written}");
    }
}
