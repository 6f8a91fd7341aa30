//! What a mapping reads.
//!
//! A compiled mapping knows every input path it can read, so an event can be parsed
//! keeping just those parts (see `tree.rs`): unread fields are skipped by the parser
//! (still fully syntax-checked) and never allocated. Wherever a value is read whole
//! (an input path, an expression input), its entire subtree is kept; a wildcard or a
//! full JSONPath query keeps everything beneath it (the root, for `$..x`).
//!
//! The mapping gives the same outcome on the pruned event as on the full one; a test
//! checks this over a generated corpus.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

use crate::input::key_eq::same_key;
use crate::input::path::{InputPath, ReadShape};

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

    /// Whether everything beneath this node is read.
    pub fn reads_everything(&self) -> bool {
        self.all
    }

    /// How many keys beneath this node are read: at most that many fields of an object
    /// are kept (repeated keys aside).
    pub fn width(&self) -> usize {
        self.children.len()
    }

    /// The node for `key`, if anything beneath it is read.
    pub fn child(&self, key: &str) -> Option<&ReadNode> {
        self.children
            .iter()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, c)| c)
    }

    #[cfg(test)]
    pub fn everything() -> Self {
        Self {
            all: true,
            children: Vec::new(),
        }
    }
}

/// What a mapping reads, and whether any path collects lists (a wildcard or a JSONPath
/// query), whose results are built as JSON values.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    pub tree: ReadNode,
    pub collects: bool,
}

impl Reads {
    /// Marks `keys` (from the root) as read, whole or as a container of what is read.
    pub(crate) fn mark(&mut self, keys: &[String], whole: bool) {
        self.tree.mark(keys, whole);
    }

    /// Marks `path` (relative to each of `bases`, unless rooted) and returns the absolute
    /// key paths it reaches that are not already kept whole, for `each` to extend.
    pub(crate) fn add_path(
        &mut self,
        path: &InputPath,
        bases: &[Vec<String>],
        whole: bool,
    ) -> Vec<Vec<String>> {
        match path.read_shape() {
            ReadShape::Everything => {
                self.collects = true;
                self.tree.mark(&[], true);
                Vec::new()
            }
            ReadShape::Keys {
                from_root,
                keys,
                opaque,
            } => {
                self.collects |= opaque;
                let starts: &[Vec<String>] = if from_root { &[Vec::new()] } else { bases };
                let mut reached = Vec::new();
                for base in starts {
                    let absolute: Vec<String> = base.iter().chain(keys.iter()).cloned().collect();
                    self.tree.mark(&absolute, whole || opaque);
                    if !(whole || opaque) {
                        reached.push(absolute);
                    }
                }
                reached
            }
        }
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
            reads.add_path(&InputPath::parse(p).unwrap(), &top, *whole);
        }
        reads.tree
    }

    fn parse(tree: &ReadNode, text: &str) -> Result<serde_json::Value, serde_json::Error> {
        let arena = bumpalo::Bump::new();
        crate::input::parse::parse_borrowed(text, tree, &arena).map(|t| t.to_json())
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
            parse(&t, text).unwrap(),
            json!({"context":{"page":{"url":"u"}},"properties":{"products":[{"x":1}]},"a":[{"b":1}]})
        );
    }

    #[test]
    fn wildcards_and_jsonpath_keep_everything_beneath() {
        let t = tree(&[("items[*].id", true)]);
        assert_eq!(
            parse(&t, r#"{"items":[{"id":1,"n":2}],"x":1}"#).unwrap(),
            json!({"items":[{"id":1,"n":2}]})
        );
        let t = tree(&[("$..price", true)]);
        assert!(t.reads_everything());
    }

    #[test]
    fn malformed_json_is_still_rejected_in_skipped_parts() {
        let t = tree(&[("a", true)]);
        assert!(parse(&t, r#"{"a":1,"b":[1,}"#).is_err());
        assert!(parse(&t, r#"{"a":1} trailing"#).is_err());
        assert!(parse(&t, r#"{"a":1,"b":"\q"}"#).is_err());
    }

    #[test]
    fn escaped_keys_are_matched_after_unescaping() {
        let t = tree(&[("caf\u{e9}", true)]);
        assert_eq!(
            parse(&t, r#"{"caf\u00e9":1,"x":2}"#).unwrap(),
            json!({"café":1})
        );
    }
}
