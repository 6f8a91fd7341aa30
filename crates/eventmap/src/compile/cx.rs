//! The compiler's state while it walks one file (`Cx`), and its readers of YAML nodes:
//! each checks a node's kind and keys and reports a located error when it is wrong, so
//! the passes read fields rather than check them.

use std::sync::Arc;

use crate::codes::Code;
use crate::diagnostics::{suggestion, Diagnostics, Location};
use crate::script::engine::{ParamTable, ScriptEngine};
use crate::transforms::Registry;
use crate::yaml::{Key, Node, NodeKind};

/// The compiler's state while it walks one file.
pub(crate) struct Cx<'o> {
    pub(super) file: Arc<str>,
    pub(super) diags: Diagnostics,
    /// The host's transforms plus the mapping's plug-ins.
    pub(super) registry: Registry,
    /// The host's transforms alone (plug-in files run with these).
    pub(super) base_registry: &'o Registry,
    pub(super) script: Option<ScriptEngine>,
    pub(super) param_values: Arc<ParamTable>,
    /// The file's `tables:`, by name.
    pub(super) tables: std::collections::BTreeMap<String, serde_json::Value>,
    /// The `let:` names expressions can read here, in plan order (global ones first).
    pub(super) let_scope: Vec<(String, Location)>,
    /// The names every section's `let:` defines, so that a key out of their scope is told
    /// why it cannot read one.
    pub(super) section_lets: std::collections::BTreeSet<String>,
    /// Parameters whose value was refused with an error already: a use of one says nothing
    /// more (one mistake, one error).
    pub(super) failed_params: std::collections::BTreeSet<String>,
    /// The tables expressions and plug-ins read with `table("NAME")`.
    pub(super) script_tables: Arc<crate::script::engine::ParamTable>,
}

/// The entries of a YAML mapping whose keys were checked against a vocabulary.
pub(crate) struct Fields<'n> {
    pub(super) entries: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    pub fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }
    pub fn key(&self, name: &str) -> Option<&'n Key> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(k, _)| k)
    }
}

impl Cx<'_> {
    pub fn error(&mut self, code: Code, location: &Location, message: impl Into<String>) {
        self.diags.error(code, location.clone(), message);
    }

    /// Checks that `node` is a mapping whose keys are all in `allowed`.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let Some(entries) = node.as_map() else {
            self.error(
                Code::WrongKind,
                &node.location,
                format!("{what} must be a mapping, found {}", node.describe()),
            );
            return None;
        };
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                let hint = suggestion(&key.name, allowed.iter().copied());
                self.error(
                    Code::UnknownField,
                    &key.location,
                    format!(
                        "unknown key `{}` in {what}{hint}; expected one of: {}",
                        key.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(Fields { entries })
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(
                    Code::WrongKind,
                    &node.location,
                    format!("{what} must be a string, found {}", node.describe()),
                );
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.kind {
            NodeKind::Bool(b) => Some(b),
            _ => {
                self.error(
                    Code::WrongKind,
                    &node.location,
                    format!("{what} must be true or false, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// A string or a list of strings.
    pub fn string_list(&mut self, node: &Node, what: &str) -> Vec<(String, Location)> {
        match &node.kind {
            NodeKind::Str(s, _) => vec![(s.clone(), node.location.clone())],
            NodeKind::Seq(items) => items
                .iter()
                .filter_map(|item| self.string(item, what).map(|s| (s, item.location.clone())))
                .collect(),
            _ => {
                self.error(
                    Code::WrongKind,
                    &node.location,
                    format!(
                        "{what} must be a string or a list of strings, found {}",
                        node.describe()
                    ),
                );
                Vec::new()
            }
        }
    }
}
