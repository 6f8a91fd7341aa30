//! What the runtime reads events through.
//!
//! A mapping runs on any [`EventTree`]: a `serde_json::Value` handed in by a host, or a
//! [`Borrowed`] tree parsed from a JSON line, whose strings point into the line and whose
//! objects are small vectors. The borrowed tree holds only what the mapping reads (see
//! `readset.rs`), and its lists and objects are slices in an arena ([`with_arena`]): no
//! allocation of its own for a node or an unescaped string, and nothing to free node by
//! node (dropping the tree of `Vec`s walked every node and cost as much as building it).
//! Values are copied only when they reach the output or a transform.

use std::borrow::Cow;
use std::cell::RefCell;

use bumpalo::Bump;

use serde_json::{Map, Number, Value};

use crate::input::key_eq::same_key;

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
    /// Hands the node to `f` as JSON, for a look that keeps nothing (a transform's input):
    /// [`EventTree::to_value`] unless the node has a cheaper way.
    fn with_json<R>(&self, f: impl FnOnce(&Value) -> R) -> R {
        f(&self.to_value())
    }
    /// The node as JSON for a transform that reads only `fields` of an object, or of each
    /// object of a list ([`crate::transforms::Transform`]'s field reads): the other fields
    /// may be left out.
    fn with_fields(&self, _fields: &[String]) -> Cow<'_, Value> {
        self.to_value()
    }
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
        crate::value::kind_of(self)
    }
}

/// A JSON value borrowing its strings from the text it was parsed from (escaped ones,
/// decoded, from the arena) and its lists and objects from the arena.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Borrowed<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(&'a str),
    Array(&'a [Borrowed<'a>]),
    Object(&'a [(&'a str, Borrowed<'a>)]),
}

thread_local! {
    /// Each thread's arena for event trees: reset for each event, so its memory is reused
    /// rather than allocated and freed again.
    static ARENA: RefCell<Bump> = RefCell::new(Bump::new());
}

thread_local! {
    /// The string a borrowed string is copied into to be handed on as JSON.
    static SCRATCH: RefCell<Value> = const { RefCell::new(Value::String(String::new())) };
}

/// The most a thread's scratch string keeps between uses.
const SCRATCH_KEPT: usize = 4096;

/// Runs `f` with an empty arena for one event's tree: the thread's own, or a new one when
/// the thread's is in use (a mapping run from inside another's transform).
pub(crate) fn with_arena<R>(f: impl FnOnce(&Bump) -> R) -> R {
    ARENA.with(|arena| match arena.try_borrow_mut() {
        Ok(mut arena) => {
            arena.reset();
            f(&arena)
        }
        Err(_) => f(&Bump::new()),
    })
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
                for (k, v) in fields.iter() {
                    match seen.iter_mut().find(|(s, _)| s == k) {
                        Some(slot) => slot.1 = v,
                        None => seen.push((k, v)),
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
    fn with_fields(&self, fields: &[String]) -> Cow<'_, Value> {
        let object = |node: &Borrowed| match node {
            Borrowed::Object(pairs) => {
                let mut map = Map::new();
                // In order, so that a repeated key's last value wins, as in `to_json`.
                for (key, value) in pairs.iter() {
                    if fields.iter().any(|f| same_key(f, key)) {
                        map.insert((*key).to_owned(), value.to_json());
                    }
                }
                Value::Object(map)
            }
            other => other.to_json(),
        };
        Cow::Owned(match self {
            Borrowed::Array(items) => Value::Array(items.iter().map(object).collect()),
            other => object(other),
        })
    }
    /// A string is copied into the thread's scratch string rather than a new one: most
    /// transform inputs are strings (times, emails, ids, codes), and each cost an
    /// allocation and a free.
    fn with_json<R>(&self, f: impl FnOnce(&Value) -> R) -> R {
        let Borrowed::Str(text) = self else {
            return f(&self.to_json());
        };
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => {
                if let Value::String(held) = &mut *scratch {
                    held.clear();
                    held.push_str(text);
                } else {
                    *scratch = Value::String((*text).to_owned());
                }
                let result = f(&scratch);
                // A long string once is not kept for the thread's life.
                if matches!(&*scratch, Value::String(held) if held.capacity() > SCRATCH_KEPT) {
                    *scratch = Value::String(String::new());
                }
                result
            }
            // In use further up (a transform that maps another event): a copy of its own.
            Err(_) => f(&Value::String((*text).to_owned())),
        })
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
            Borrowed::Str(s) => Value::String((*s).to_owned()),
            Borrowed::Array(items) => Value::Array(items.iter().map(Borrowed::to_json).collect()),
            Borrowed::Object(fields) => {
                let mut map = Map::new();
                for (k, v) in fields.iter() {
                    map.insert((*k).to_owned(), v.to_json());
                }
                Value::Object(map)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::parse::parse_borrowed;
    use crate::input::readset::ReadNode;
    use serde_json::json;

    #[test]
    fn borrowed_trees_convert_to_the_same_json() {
        let text = r#"{"a":"x","b":[1,2.5,true,null,{"c":"\u00e9"}],"d":{"e":"f"},"a":"last"}"#;
        let all = ReadNode::everything();
        let arena = Bump::new();
        let tree = parse_borrowed(text, &all, &arena).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(tree.to_json(), value);
        assert_eq!(tree.get("a").and_then(EventTree::as_str), Some("last"));
        assert!(matches!(
            tree.get("d").and_then(|d| d.get("e")),
            Some(Borrowed::Str("f"))
        ));
    }

    #[test]
    fn nodes_are_handed_on_as_the_json_they_convert_to() {
        let long = "x".repeat(SCRATCH_KEPT + 1);
        let text = format!(r#"{{"s":"caf\u00e9","n":1.5,"o":{{"a":[true]}},"l":"{long}"}}"#);
        let arena = Bump::new();
        let tree = parse_borrowed(&text, &ReadNode::everything(), &arena).unwrap();
        for key in ["s", "n", "o", "l"] {
            let node = tree.get(key).unwrap();
            assert_eq!(node.with_json(Value::clone), node.to_json(), "{key}");
        }
        // The long string last handed on is not kept.
        SCRATCH.with_borrow(|scratch| {
            assert!(matches!(scratch, Value::String(held) if held.capacity() <= SCRATCH_KEPT));
        });
        // Nested uses (a transform mapping another event) get copies of their own.
        let s = tree.get("s").unwrap();
        let nested = s.with_json(|outer| s.with_json(|inner| (outer.clone(), inner.clone())));
        assert_eq!(nested, (json!("café"), json!("café")));
    }

    #[test]
    fn object_values_follow_serde_json_order() {
        let text = r#"{"b":1,"a":2,"b":3}"#;
        let arena = Bump::new();
        let tree = parse_borrowed(text, &ReadNode::everything(), &arena).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        let ours: Vec<Value> = tree.object_values().iter().map(|v| v.to_json()).collect();
        let theirs: Vec<Value> = value.object_values().into_iter().cloned().collect();
        assert_eq!(ours, theirs);
        assert_eq!(ours, [json!(2), json!(3)]);
    }
}
