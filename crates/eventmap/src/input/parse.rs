//! Parsing a JSON line into a borrowed tree ([`Borrowed`]) that holds only what the
//! mapping reads: by the scan (`scan.rs`) on the common shapes, else by serde_json
//! driving a pruning visitor, which is also the reference the scan is tested against.

use std::borrow::Cow;
use std::fmt;

use bumpalo::Bump;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use crate::input::readset::ReadNode;
use crate::input::tree::Borrowed;

/// Parses `text` into a borrowed tree holding what `reads` reads: by the scan
/// (`scan.rs`), or by serde_json where the scan leaves the line to it (malformed JSON, and
/// the rare shapes the scan does not take).
pub(crate) fn parse_borrowed<'a>(
    text: &'a str,
    reads: &ReadNode,
    arena: &'a Bump,
) -> Result<Borrowed<'a>, serde_json::Error> {
    match crate::input::scan::parse(text, reads, arena) {
        Some(tree) => Ok(tree),
        None => parse_with_serde(text, reads, arena),
    }
}

/// The reference parse: serde_json driving the pruning visitor.
pub(crate) fn parse_with_serde<'a>(
    text: &'a str,
    reads: &ReadNode,
    arena: &'a Bump,
) -> Result<Borrowed<'a>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Prune(Some(reads), arena).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// What is kept beneath (`None`: everything), and the arena the tree is built in.
#[derive(Clone, Copy)]
struct Prune<'t, 'de>(Option<&'t ReadNode>, &'de Bump);

impl<'de> DeserializeSeed<'de> for Prune<'_, 'de> {
    type Value = Borrowed<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let keep = match self.0 {
            Some(node) if node.reads_everything() => None,
            other => other,
        };
        deserializer.deserialize_any(Prune(keep, self.1))
    }
}

impl<'de> Visitor<'de> for Prune<'_, 'de> {
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
        Ok(Borrowed::Str(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Borrowed::Str(self.1.alloc_str(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = bumpalo::collections::Vec::new_in(self.1);
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Borrowed::Array(items.into_bump_slice()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = bumpalo::collections::Vec::new_in(self.1);
        while let Some(key) = map.next_key_seed(crate::input::readset::KeySeed)? {
            let key: &'de str = match key {
                Cow::Borrowed(key) => key,
                Cow::Owned(key) => self.1.alloc_str(&key),
            };
            let child = match self.0 {
                None => Some(None),
                Some(node) => node.child(key).map(Some),
            };
            match child {
                Some(child) => {
                    let value = map.next_value_seed(Prune(child, self.1))?;
                    fields.push((key, value));
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Borrowed::Object(fields.into_bump_slice()))
    }
}
