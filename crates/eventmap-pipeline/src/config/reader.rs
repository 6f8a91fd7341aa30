//! The pipeline file's reader of located nodes: each helper checks a node's kind and
//! keys and reports a located mistake (with a suggestion for a misspelt key), so the
//! sections (`parse.rs`) read fields rather than check them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use eventmap::yaml::{Key, Node, NodeKind};
use eventmap::{Code, Diagnostic, Location};

use crate::units::{parse_bytes, parse_duration};

/// Collects every mistake while the tree is read.
pub(super) struct Reader<'a> {
    pub(super) errors: Vec<Diagnostic>,
    pub(super) base: &'a Path,
}

impl Reader<'_> {
    pub(super) fn error(&mut self, code: Code, location: &Location, message: impl Into<String>) {
        self.errors
            .push(Diagnostic::new(code, location.clone(), message));
    }

    /// The entries of a mapping node whose keys are among `allowed`; an unknown key is
    /// an error with a suggestion, a node that is not a mapping one error.
    pub(super) fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Vec<(&'n Key, &'n Node)> {
        let Some(map) = node.as_map() else {
            self.error(
                Code::WrongKind,
                &node.location,
                format!("{what} must be a mapping, not {}", node.describe()),
            );
            return Vec::new();
        };
        let mut known = Vec::new();
        for (key, value) in map {
            if allowed.contains(&key.name.as_str()) {
                known.push((key, value));
            } else {
                self.error(
                    Code::UnknownField,
                    &key.location,
                    format!(
                        "unknown key `{}` in {what}; expected one of: {}{}",
                        key.name,
                        allowed.join(", "),
                        eventmap::suggestion(&key.name, allowed.iter().copied())
                    ),
                );
            }
        }
        known
    }

    /// A mapping of names to entries (routes, sources), each name checked.
    pub(super) fn named<'n>(&mut self, node: &'n Node, what: &str) -> Vec<(&'n Key, &'n Node)> {
        let Some(map) = node.as_map() else {
            self.error(
                Code::WrongKind,
                &node.location,
                format!(
                    "`{what}` must be a mapping of names, not {}",
                    node.describe()
                ),
            );
            return Vec::new();
        };
        map.iter()
            .filter(|(key, _)| {
                let ok = valid_name(&key.name);
                if !ok {
                    self.error(Code::InvalidValue,
                        &key.location,
                        format!(
                            "`{}` cannot name one of the {what}: 1 to 64 letters, digits, `_` or `-`",
                            key.name
                        ),
                    );
                }
                ok
            })
            .map(|(key, node)| (key, node))
            .collect()
    }

    pub(super) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s, _) if !s.trim().is_empty() => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            _ => {
                self.error(
                    Code::WrongKind,
                    &node.location,
                    format!(
                        "`{what}` must be a non-empty string, not {}",
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn path(&mut self, node: &Node, what: &str) -> Option<PathBuf> {
        self.string(node, what).map(|p| self.base.join(p))
    }

    pub(super) fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        self.unit(
            node,
            what,
            "a duration such as 500ms, 30s, 24h",
            parse_duration,
        )
    }

    pub(super) fn bytes(&mut self, node: &Node, what: &str) -> Option<u64> {
        self.unit(node, what, "a size such as 32KiB or 1GiB", parse_bytes)
    }

    /// A value written with a unit (or a bare non-negative number), parsed by `parse`.
    pub(super) fn unit<T>(
        &mut self,
        node: &Node,
        what: &str,
        example: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = match &node.kind {
            NodeKind::Str(s, _) => s.clone(),
            NodeKind::Int(i) if *i >= 0 => i.to_string(),
            _ => {
                self.error(
                    Code::InvalidValue,
                    &node.location,
                    format!("`{what}` must be {example}"),
                );
                return None;
            }
        };
        parse(&text)
            .map_err(|e| self.error(Code::InvalidValue, &node.location, format!("`{what}`: {e}")))
            .ok()
    }

    pub(super) fn count(
        &mut self,
        node: &Node,
        what: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        match node.kind {
            NodeKind::Int(i) if range.contains(&i) => Some(i),
            _ => {
                self.error(
                    Code::InvalidValue,
                    &node.location,
                    format!(
                        "`{what}` must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.kind {
            NodeKind::Bool(b) => Some(b),
            _ => {
                self.error(
                    Code::WrongKind,
                    &node.location,
                    format!("`{what}` must be true or false"),
                );
                None
            }
        }
    }

    pub(super) fn strings(&mut self, node: &Node, what: &str) -> Vec<(String, Location)> {
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            NodeKind::Str(..) => vec![node],
            _ => {
                self.error(
                    Code::WrongKind,
                    &node.location,
                    format!(
                        "`{what}` must be a list of strings, not {}",
                        node.describe()
                    ),
                );
                return Vec::new();
            }
        };
        items
            .into_iter()
            .filter_map(|item| self.string(item, what).map(|s| (s, item.location.clone())))
            .collect()
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}
