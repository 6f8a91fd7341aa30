//! What the runtime reads events through.
//!
//! A mapping runs on any [`EventTree`]: a `serde_json::Value` handed in by a host, or a
//! [`Borrowed`] tree parsed from a JSON line, whose strings point into the line and whose
//! objects are small vectors. The borrowed tree holds only what the mapping reads (see
//! `readset.rs`), costs no allocation for unescaped strings, and is freed almost for
//! free; values are copied only when they reach the output or a transform.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::key_eq::same_key;
use crate::readset::ReadNode;

pub(crate) trait EventTree: Sized {
    /// The value of `key` in an object (the last one if the key is repeated).
    fn get(&self, key: &str) -> Option<&Self>;
    /// The elements of an array.
    fn elements(&self) -> Option<&[Self]>;
    fn is_object(&self) -> bool;
    /// The values of an object, in order.
    fn object_values(&self) -> Vec<&Self>;
    /// Missing-equivalent: null or the empty string (see `value.rs`).
    fn is_absent(&self) -> bool;
    fn as_str(&self) -> Option<&str>;
    /// The node as JSON: borrowed when it already is JSON.
    fn to_value(&self) -> Cow<'_, Value>;
    /// A short, data-free description of the node's kind.
    fn kind(&self) -> &'static str;
}

impl EventTree for Value {
    fn get(&self, key: &str) -> Option<&Self> {
        self.as_object()?.get(key)
    }
    fn elements(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }
    fn is_object(&self) -> bool {
        Value::is_object(self)
    }
    fn object_values(&self) -> Vec<&Self> {
        self.as_object()
            .map(|m| m.values().collect())
            .unwrap_or_default()
    }
    fn is_absent(&self) -> bool {
        crate::value::is_absent(self)
    }
    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }
    fn to_value(&self) -> Cow<'_, Value> {
        Cow::Borrowed(self)
    }
    fn kind(&self) -> &'static str {
        crate::transforms::kind_of(self)
    }
}

/// A JSON value borrowing its strings from the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Borrowed<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
    Array(Vec<Borrowed<'a>>),
    Object(Vec<(Cow<'a, str>, Borrowed<'a>)>),
}

impl EventTree for Borrowed<'_> {
    fn get(&self, key: &str) -> Option<&Self> {
        match self {
            // Searching from the end gives the last of repeated keys, as serde_json does.
            Borrowed::Object(fields) => fields
                .iter()
                .rev()
                .find(|(k, _)| same_key(k, key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    fn elements(&self) -> Option<&[Self]> {
        match self {
            Borrowed::Array(items) => Some(items),
            _ => None,
        }
    }
    fn is_object(&self) -> bool {
        matches!(self, Borrowed::Object(_))
    }
    fn object_values(&self) -> Vec<&Self> {
        match self {
            Borrowed::Object(fields) => {
                // serde_json orders keys and keeps the last of repeated ones; do the same.
                let mut seen: Vec<(&str, &Self)> = Vec::with_capacity(fields.len());
                for (k, v) in fields {
                    match seen.iter_mut().find(|(s, _)| *s == k.as_ref()) {
                        Some(slot) => slot.1 = v,
                        None => seen.push((k.as_ref(), v)),
                    }
                }
                seen.sort_by(|a, b| a.0.cmp(b.0));
                seen.into_iter().map(|(_, v)| v).collect()
            }
            _ => Vec::new(),
        }
    }
    fn is_absent(&self) -> bool {
        match self {
            Borrowed::Null => true,
            Borrowed::Str(s) => s.is_empty(),
            _ => false,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            Borrowed::Str(s) => Some(s),
            _ => None,
        }
    }
    fn to_value(&self) -> Cow<'_, Value> {
        Cow::Owned(self.to_json())
    }
    fn kind(&self) -> &'static str {
        match self {
            Borrowed::Null => "null",
            Borrowed::Bool(_) => "a boolean",
            Borrowed::Number(_) => "a number",
            Borrowed::Str(_) => "a string",
            Borrowed::Array(_) => "a list",
            Borrowed::Object(_) => "an object",
        }
    }
}

impl Borrowed<'_> {
    pub fn to_json(&self) -> Value {
        match self {
            Borrowed::Null => Value::Null,
            Borrowed::Bool(b) => Value::Bool(*b),
            Borrowed::Number(n) => Value::Number(n.clone()),
            Borrowed::Str(s) => Value::String(s.as_ref().to_owned()),
            Borrowed::Array(items) => Value::Array(items.iter().map(Borrowed::to_json).collect()),
            Borrowed::Object(fields) => {
                let mut map = Map::new();
                for (k, v) in fields {
                    map.insert(k.as_ref().to_owned(), v.to_json());
                }
                Value::Object(map)
            }
        }
    }
}

/// Parses `text` into a borrowed tree holding what `reads` reads: by the scan
/// (`scan.rs`), or by serde_json where the scan leaves the line to it (malformed JSON, and
/// the rare shapes the scan does not take).
pub(crate) fn parse_borrowed<'a>(
    text: &'a str,
    reads: &ReadNode,
) -> Result<Borrowed<'a>, serde_json::Error> {
    match crate::scan::parse(text, reads) {
        Some(tree) => Ok(tree),
        None => parse_with_serde(text, reads),
    }
}

/// The reference parse: serde_json driving the pruning visitor.
pub(crate) fn parse_with_serde<'a>(
    text: &'a str,
    reads: &ReadNode,
) -> Result<Borrowed<'a>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Prune(Some(reads)).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// `None`: keep everything beneath.
struct Prune<'t>(Option<&'t ReadNode>);

impl<'de> DeserializeSeed<'de> for Prune<'_> {
    type Value = Borrowed<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let keep = match self.0 {
            Some(node) if node.reads_everything() => None,
            other => other,
        };
        deserializer.deserialize_any(Prune(keep))
    }
}

impl<'de> Visitor<'de> for Prune<'_> {
    type Value = Borrowed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Borrowed::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Borrowed::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Borrowed::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Borrowed::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(v).map_or(Borrowed::Null, Borrowed::Number))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Borrowed::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Borrowed::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Borrowed::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Prune(self.0))? {
            items.push(item);
        }
        Ok(Borrowed::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key_seed(crate::readset::KeySeed)? {
            let child = match self.0 {
                None => Some(None),
                Some(node) => node.child(&key).map(Some),
            };
            match child {
                Some(child) => {
                    let value = map.next_value_seed(Prune(child))?;
                    fields.push((key, value));
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Borrowed::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn borrowed_trees_convert_to_the_same_json() {
        let text = r#"{"a":"x","b":[1,2.5,true,null,{"c":"\u00e9"}],"d":{"e":"f"},"a":"last"}"#;
        let all = ReadNode::everything();
        let tree = parse_borrowed(text, &all).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(tree.to_json(), value);
        assert_eq!(tree.get("a").and_then(EventTree::as_str), Some("last"));
        assert!(matches!(
            tree.get("d").and_then(|d| d.get("e")),
            Some(Borrowed::Str(Cow::Borrowed("f")))
        ));
    }

    #[test]
    fn object_values_follow_serde_json_order() {
        let text = r#"{"b":1,"a":2,"b":3}"#;
        let tree = parse_borrowed(text, &ReadNode::everything()).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        let ours: Vec<Value> = tree.object_values().iter().map(|v| v.to_json()).collect();
        let theirs: Vec<Value> = value.object_values().into_iter().cloned().collect();
        assert_eq!(ours, theirs);
        assert_eq!(ours, [json!(2), json!(3)]);
    }
}
