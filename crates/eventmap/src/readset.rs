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

use crate::key_eq::same_key;
use crate::path::{InputPath, ReadShape};
use crate::program::{Input, KeyRule, NativeExpr, Program, Script, Source};

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
        add_rules(root, &plan.lets, &top);
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
    let fields = fields_read_of_inputs(script);
    for (input, fields) in script.inputs.iter().zip(fields) {
        let Input::Paths(paths) = input else {
            continue;
        };
        for p in paths {
            match &fields {
                Some(fields) if !fields.is_empty() => {
                    for reached in add_path(root, p, bases, false) {
                        for field in fields {
                            let mut keys = reached.clone();
                            keys.push(field.clone());
                            root.tree.mark(&keys, true);
                        }
                    }
                }
                _ => {
                    add_path(root, p, bases, true);
                }
            }
        }
    }
}

/// For each of a script's inputs, the fields read of it when it is read only by
/// transforms that read some fields ([`NativeExpr::Call`]'s `fields`); `None` when it is
/// read whole (anywhere in an expression Rhai runs).
fn fields_read_of_inputs(script: &Script) -> Vec<Option<Vec<String>>> {
    let Some(native) = &script.native else {
        return vec![None; script.inputs.len()];
    };
    let mut fields = vec![Some(Vec::new()); script.inputs.len()];
    note_reads(native, &mut fields);
    fields
}

fn note_reads(expr: &NativeExpr, fields: &mut [Option<Vec<String>>]) {
    match expr {
        NativeExpr::Input(i) => {
            if let Some(entry) = fields.get_mut(*i) {
                *entry = None;
            }
        }
        NativeExpr::Literal(_) => {}
        NativeExpr::Call {
            args,
            fields: call_reads,
            ..
        } => match (args.split_first(), call_reads) {
            (Some((NativeExpr::Input(i), rest)), Some(read)) => {
                if let Some(Some(entry)) = fields.get_mut(*i) {
                    entry.extend(read.iter().cloned());
                }
                rest.iter().for_each(|a| note_reads(a, fields));
            }
            _ => args.iter().for_each(|a| note_reads(a, fields)),
        },
        NativeExpr::Coalesce(items) => items.iter().for_each(|a| note_reads(a, fields)),
        NativeExpr::Compare { value, .. } => note_reads(value, fields),
        NativeExpr::If(parts) => parts.iter().for_each(|p| note_reads(p, fields)),
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

    fn parse(tree: &ReadNode, text: &str) -> Result<serde_json::Value, serde_json::Error> {
        let arena = bumpalo::Bump::new();
        crate::tree::parse_borrowed(text, tree, &arena).map(|t| t.to_json())
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
