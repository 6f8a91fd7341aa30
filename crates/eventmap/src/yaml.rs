//! A YAML file as a tree of located nodes: the mapping compiler's input, and the pipeline
//! file's (`eventmap_pipeline::config`), so that both report every mistake at its
//! `FILE:LINE:COL`.
//!
//! serde-saphyr gives a line:column for every key and value through `Spanned<T>`; we keep
//! the whole file as a generic tree so the compiler can walk it once, report every problem
//! with its location, and suggest names for unknown keys (which derived `Deserialize`
//! types cannot do while keeping spans).

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Location};

/// How a scalar was written, so that positions inside it (a Rhai error at line 2 of an
/// expression) can be turned into positions in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    Quoted,
    /// `|` or `>`: the text starts on the line after the indicator.
    Block,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String, ScalarStyle),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub location: Location,
}

impl Node {
    pub fn describe(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) | NodeKind::Float(_) => "a number",
            NodeKind::Str(..) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The node as a JSON value (for constants and defaults).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeKind::Str(s, _) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses a mapping file. A syntax error is returned located at the offending character.
pub fn parse(source: &str, file: &Arc<str>) -> Result<Node, Diagnostic> {
    let options = serde_saphyr::options! {
        // `country: NO` must stay the string "NO" (YAML 1.1 would read it as false).
        strict_booleans: true,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Spanned<RawNode>>(source, options) {
        Ok(raw) => Ok(into_node(raw, &SourceText::new(source), file)),
        Err(err) => {
            let (line, column) = err
                .location()
                .map(|l| (l.line() as u32, l.column() as u32))
                .unwrap_or((1, 1));
            let message = strip_location_prefix(&err.to_string());
            let hint = likely_cause(&message, source, line);
            Err(Diagnostic::new(
                Code::YamlSyntax,
                Location::new(file.clone(), line.max(1), column.max(1)),
                format!("YAML syntax: {message}{hint}"),
            ))
        }
    }
}

/// What usually causes a YAML parser's message, said in a mapping writer's words.
fn likely_cause(message: &str, source: &str, line: u32) -> String {
    let text = source
        .lines()
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or_default();
    if text.contains('\t') {
        return " (likely cause: a tab; YAML indents with spaces only)".into();
    }
    let indentation = [
        "did not find expected key",
        "mapping values are not allowed",
        "did not find expected '-'",
        "block mapping",
    ];
    if indentation.iter().any(|m| message.contains(m)) {
        return " (likely cause: this line is indented differently from the keys around it; \
                 keys of one mapping line up exactly, a nested one is indented further, with \
                 spaces)"
            .into();
    }
    String::new()
}

/// serde-saphyr's messages start with "error: line L column C: "; we print the location
/// ourselves in `file:line:col` form.
fn strip_location_prefix(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    let without_error = first.strip_prefix("error: ").unwrap_or(first);
    if let Some(rest) = without_error.strip_prefix("line ") {
        if let Some((_, msg)) = rest.split_once(": ") {
            return msg.to_string();
        }
    }
    without_error.to_string()
}

/// What serde-saphyr hands us: values wrapped in `Spanned`.
enum RawKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<String>, Spanned<RawNode>)>),
}

struct RawNode(RawKind);

/// Nodes are located where their text is written (`defined`): for a node replayed
/// through a YAML alias (`*item`) that is the anchor, where a fix would be made.
fn into_node(raw: Spanned<RawNode>, source: &SourceText<'_>, file: &Arc<str>) -> Node {
    let location = to_location(&raw.defined, file);
    let kind = match raw.value.0 {
        RawKind::Null => NodeKind::Null,
        RawKind::Bool(b) => NodeKind::Bool(b),
        RawKind::Int(i) => NodeKind::Int(i),
        RawKind::Float(f) => NodeKind::Float(f),
        RawKind::Str(s) => {
            let style = scalar_style(source, &raw.defined, location.line);
            NodeKind::Str(s, style)
        }
        RawKind::Seq(items) => NodeKind::Seq(
            items
                .into_iter()
                .map(|i| into_node(i, source, file))
                .collect(),
        ),
        RawKind::Map(entries) => NodeKind::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = Key {
                        location: to_location(&k.defined, file),
                        name: k.value,
                    };
                    (key, into_node(v, source, file))
                })
                .collect(),
        ),
    };
    Node { kind, location }
}

fn to_location(loc: &serde_saphyr::Location, file: &Arc<str>) -> Location {
    Location::new(
        file.clone(),
        (loc.line() as u32).max(1),
        (loc.column() as u32).max(1),
    )
}

/// The mapping file's text with where each of its lines starts, so that a scalar's
/// previous line is found at once: walking `lines()` from the top for every scalar made
/// loading a mapping quadratic in its length (a quarter of `map`'s start-up).
struct SourceText<'s> {
    text: &'s str,
    /// The byte offset of each line's start, the first line's included.
    line_starts: Vec<usize>,
}

impl<'s> SourceText<'s> {
    fn new(text: &'s str) -> Self {
        let ends = text.bytes().enumerate().filter(|(_, b)| *b == b'\n');
        let line_starts = std::iter::once(0).chain(ends.map(|(i, _)| i + 1)).collect();
        Self { text, line_starts }
    }

    /// Line `number` (from 1) without its line ending, as `str::lines` gives it.
    fn line(&self, number: usize) -> Option<&'s str> {
        let start = *self.line_starts.get(number.checked_sub(1)?)?;
        if start == self.text.len() {
            // After a final line break (or in an empty text) there is no line, as
            // `lines()` has it.
            return None;
        }
        let end = self
            .line_starts
            .get(number)
            .map_or(self.text.len(), |next| next - 1);
        let line = self.text.get(start..end)?;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

/// Looks at the source text where a scalar starts to tell how it was written.
fn scalar_style(source: &SourceText<'_>, loc: &serde_saphyr::Location, line: u32) -> ScalarStyle {
    let Some(offset) = loc.span().byte_offset() else {
        return ScalarStyle::Plain;
    };
    let offset = offset as usize;
    match source.text.as_bytes().get(offset) {
        Some(b'"' | b'\'') => ScalarStyle::Quoted,
        _ => {
            // Block scalars are located at their first content line; the line holding the
            // key ends with the `|` or `>` indicator (optionally with chomping modifiers).
            let previous_line = source.line((line as usize).saturating_sub(1).max(1));
            let is_block = previous_line.is_some_and(|l| {
                let l = l.split(" #").next().unwrap_or(l).trim_end();
                let tail =
                    l.trim_end_matches(['+', '-', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
                tail.ends_with('|') || tail.ends_with('>')
            });
            if is_block && line > 1 {
                ScalarStyle::Block
            } else {
                ScalarStyle::Plain
            }
        }
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<RawNode, E> {
        Ok(RawNode(RawKind::Null))
    }
    fn visit_none<E>(self) -> Result<RawNode, E> {
        Ok(RawNode(RawKind::Null))
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode(RawKind::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode(RawKind::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawNode, E> {
        Ok(RawNode(match i64::try_from(v) {
            Ok(i) => RawKind::Int(i),
            Err(_) => RawKind::Float(v as f64),
        }))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode(RawKind::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode(RawKind::Str(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode(RawKind::Str(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawNode(RawKind::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(RawNode(RawKind::Map(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> Node {
        parse(src, &Arc::from("m.yaml")).expect("valid yaml")
    }

    #[test]
    fn keys_and_values_carry_locations() {
        let node = parse_ok("global:\n  id: { from: messageId }\n");
        let global = &node.as_map().unwrap()[0].1;
        let (key, value) = &global.as_map().unwrap()[0];
        assert_eq!((key.location.line, key.location.column), (2, 3));
        let (from_key, from_value) = &value.as_map().unwrap()[0];
        assert_eq!(from_key.name, "from");
        assert_eq!(
            (from_value.location.line, from_value.location.column),
            (2, 15)
        );
    }

    #[test]
    fn source_lines_are_those_str_lines_gives() {
        for text in [
            "",
            "a",
            "a\n",
            "a\nb",
            "a\r\nb\r\n",
            "\n\n",
            "a\n\nc\n",
            "é\nü",
        ] {
            let source = SourceText::new(text);
            let expected: Vec<&str> = text.lines().collect();
            let found: Vec<&str> = (1..=expected.len() + 2)
                .map_while(|n| source.line(n))
                .collect();
            assert_eq!(found, expected, "{text:?}");
        }
    }

    #[test]
    fn scalar_styles_are_recognised() {
        let node = parse_ok("a: plain\nb: \"quoted\"\nc: |\n  x + 1\n");
        let styles: Vec<_> = node
            .as_map()
            .unwrap()
            .iter()
            .map(|(_, v)| match &v.kind {
                NodeKind::Str(_, s) => *s,
                _ => panic!("not a string"),
            })
            .collect();
        assert_eq!(
            styles,
            [ScalarStyle::Plain, ScalarStyle::Quoted, ScalarStyle::Block]
        );
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let node = parse_ok("country: NO\n");
        assert_eq!(node.as_map().unwrap()[0].1.as_str(), Some("NO"));
    }

    #[test]
    fn syntax_and_duplicate_key_errors_are_located() {
        let err = parse("a: [1, 2\nb: 3\n", &Arc::from("bad.yaml")).unwrap_err();
        assert_eq!(err.location.line, 2);
        assert!(err.message.starts_with("YAML syntax:"), "{}", err.message);
        let dup = parse("a: 1\na: 2\n", &Arc::from("dup.yaml")).unwrap_err();
        assert_eq!((dup.location.line, dup.location.column), (2, 1));
        assert!(dup.message.contains("duplicate"), "{}", dup.message);
    }
}
