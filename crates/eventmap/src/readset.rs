//! Parsing only what a mapping reads.
//!
//! A compiled mapping knows every input path it can read, so an event can be parsed into
//! a `Value` that holds just those parts: unread fields are skipped by the parser
//! (still fully syntax-checked) and never allocated. Wherever a value is read whole
//! (an input path, an expression input), its entire subtree is kept; a wildcard or a
//! full JSONPath query keeps everything beneath it (the root, for `$..x`).
//!
//! The mapping gives the same outcome on the pruned event as on the full one; a test
//! checks this over a generated corpus.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::path::{InputPath, ReadShape};
use crate::program::{Input, KeyRule, Program, Script, Source};

/// The parts of an event a mapping reads: a tree of object keys. Arrays are transparent
/// (every element is read with the same node).
#[derive(Debug, Default)]
pub(crate) struct ReadNode {
    /// The whole subtree is needed.
    all: bool,
    /// Few per node: a linear scan beats hashing every key of every event.
    children: Vec<(String, ReadNode)>,
}

impl ReadNode {
    fn mark(&mut self, keys: &[String], whole: bool) {
        if self.all {
            return;
        }
        match keys.split_first() {
            None => {
                if whole {
                    self.all = true;
                    self.children.clear();
                }
            }
            Some((first, rest)) => {
                let index = match self.children.iter().position(|(k, _)| k == first) {
                    Some(i) => i,
                    None => {
                        self.children.push((first.clone(), ReadNode::default()));
                        self.children.len() - 1
                    }
                };
                self.children[index].1.mark(rest, whole);
            }
        }
    }

    pub fn reads_everything(&self) -> bool {
        self.all
    }

    /// Whether everything beneath this node is kept.
    pub fn keeps_all(&self) -> bool {
        self.all
    }

    /// The node for `key`, if anything beneath it is read.
    pub fn child(&self, key: &str) -> Option<&ReadNode> {
        self.children.iter().find(|(k, _)| k == key).map(|(_, c)| c)
    }

    #[cfg(test)]
    pub fn everything() -> Self {
        Self {
            all: true,
            children: Vec::new(),
        }
    }

    /// Parses `text`, keeping only what this tree reads.
    pub fn parse(&self, text: &str) -> Result<Value, serde_json::Error> {
        if self.all {
            return serde_json::from_str(text);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let value = Pruned(self).deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }
}

/// What a mapping reads, and whether any path collects lists (a wildcard or a JSONPath
/// query), whose results are built as JSON values.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    pub tree: ReadNode,
    pub collects: bool,
}

/// Everything `program` may read, plus `messageId` (reports name events by it).
pub(crate) fn read_tree(program: &Program) -> Reads {
    let mut reads = Reads::default();
    let root = &mut reads;
    let top: [Vec<String>; 1] = [Vec::new()];
    root.tree.mark(&["messageId".to_string()], true);
    add_path(root, &program.event_name_path, &top, true);
    add_path(root, &program.call_type_path, &top, true);
    for filter in &program.filters {
        add_script(root, &filter.condition, &top);
    }
    for plan in &program.plans {
        for filter in &plan.filters {
            add_script(root, &filter.condition, &top);
        }
        add_rules(root, &plan.keys, &top);
    }
    reads
}

/// `bases` are the absolute key paths of the current element(s): the root at the top,
/// the `each` sources' paths inside an `each`.
fn add_rules(root: &mut Reads, rules: &[KeyRule], bases: &[Vec<String>]) {
    for rule in rules {
        if let Some(when) = &rule.when {
            add_script(root, when, bases);
        }
        match &rule.source {
            Source::Paths(paths) => paths.iter().for_each(|p| {
                add_path(root, p, bases, true);
            }),
            Source::Const(_) => {}
            Source::Expr(script) => add_script(root, script, bases),
            Source::Each { over, keys, .. } => {
                let element_bases: Vec<Vec<String>> = over
                    .iter()
                    .flat_map(|p| add_path(root, p, bases, false))
                    .collect();
                add_rules(root, keys, &element_bases);
            }
        }
    }
}

fn add_script(root: &mut Reads, script: &Script, bases: &[Vec<String>]) {
    for input in &script.inputs {
        if let Input::Paths(paths) = input {
            for p in paths {
                add_path(root, p, bases, true);
            }
        }
    }
}

/// Marks `path` (relative to each of `bases`, unless rooted) and returns the absolute
/// key paths it reaches that are not already kept whole, for `each` to extend.
fn add_path(
    root: &mut Reads,
    path: &InputPath,
    bases: &[Vec<String>],
    whole: bool,
) -> Vec<Vec<String>> {
    match path.read_shape() {
        ReadShape::Everything => {
            root.collects = true;
            root.tree.mark(&[], true);
            Vec::new()
        }
        ReadShape::Keys {
            from_root,
            keys,
            opaque,
        } => {
            root.collects |= opaque;
            let starts: &[Vec<String>] = if from_root { &[Vec::new()] } else { bases };
            let mut reached = Vec::new();
            for base in starts {
                let absolute: Vec<String> = base.iter().chain(keys.iter()).cloned().collect();
                root.tree.mark(&absolute, whole || opaque);
                if !(whole || opaque) {
                    reached.push(absolute);
                }
            }
            reached
        }
    }
}

struct Pruned<'t>(&'t ReadNode);

impl<'de> DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.0.all {
            Value::deserialize(deserializer)
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Pruned(self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self
                .0
                .children
                .iter()
                .find(|(k, _)| k == key.as_ref())
                .map(|(_, c)| c)
            {
                Some(child) => {
                    let value = map.next_value_seed(Pruned(child))?;
                    out.insert(key.into_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Reads an object key without allocating when the input allows borrowing it.
pub(crate) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree(paths: &[(&str, bool)]) -> ReadNode {
        let mut reads = Reads::default();
        let top = [Vec::new()];
        for (p, whole) in paths {
            add_path(&mut reads, &InputPath::parse(p).unwrap(), &top, *whole);
        }
        reads.tree
    }

    #[test]
    fn keeps_read_subtrees_and_drops_the_rest() {
        let t = tree(&[
            ("context.page.url", true),
            ("properties.products", true),
            ("a[0].b", true),
        ]);
        let text = r#"{"context":{"page":{"url":"u","title":"t"},"ip":"1"},"properties":{"products":[{"x":1}],"other":2},"a":[{"b":1,"c":2}],"z":{"deep":[1,2]}}"#;
        assert_eq!(
            t.parse(text).unwrap(),
            json!({"context":{"page":{"url":"u"}},"properties":{"products":[{"x":1}]},"a":[{"b":1}]})
        );
    }

    #[test]
    fn wildcards_and_jsonpath_keep_everything_beneath() {
        let t = tree(&[("items[*].id", true)]);
        assert_eq!(
            t.parse(r#"{"items":[{"id":1,"n":2}],"x":1}"#).unwrap(),
            json!({"items":[{"id":1,"n":2}]})
        );
        let t = tree(&[("$..price", true)]);
        assert!(t.reads_everything());
    }

    #[test]
    fn malformed_json_is_still_rejected_in_skipped_parts() {
        let t = tree(&[("a", true)]);
        assert!(t.parse(r#"{"a":1,"b":[1,}"#).is_err());
        assert!(t.parse(r#"{"a":1} trailing"#).is_err());
        assert!(t.parse(r#"{"a":1,"b":"\q"}"#).is_err());
    }

    #[test]
    fn escaped_keys_are_matched_after_unescaping() {
        let t = tree(&[("caf\u{e9}", true)]);
        assert_eq!(
            t.parse(r#"{"caf\u00e9":1,"x":2}"#).unwrap(),
            json!({"café":1})
        );
    }
}
