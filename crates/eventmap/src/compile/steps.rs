//! A key's steps after its source: its `transform:` list (each name looked up, its
//! arguments counted), its declared `type:`, and the steps the compiler adds last (a
//! spread's copy, a type's check).

use serde_json::Value;

use super::cx::{Cx, Fields};
use crate::codes::Code;
use crate::diagnostics::suggestion;
use crate::program::TransformStep;
use crate::types::ValueType;
use crate::yaml::{Key, Node, NodeKind};

impl Cx<'_> {
    /// `type:`, with a constant or a default that can never be of it reported. Gives the
    /// type and its node, for the check step.
    pub(super) fn declared_type<'n>(
        &mut self,
        key: &Key,
        fields: &Fields<'n>,
        default: Option<&Value>,
    ) -> Option<(ValueType, &'n Node)> {
        let type_node = fields.get("type")?;
        let declared = self.value_type(type_node)?;
        let fixed = [
            (
                fields.get("const").map(|n| (n, n.to_json())),
                "the constant",
            ),
            (fields.get("default").zip(default.cloned()), "the default"),
        ];
        for (found, what) in fixed {
            let Some((node, value)) = found else { continue };
            if !value.is_null() && !declared.admits(&value) {
                self.error(
                    Code::DeclaredType,
                    &node.location,
                    format!(
                        "output key `{}` is declared `type: {}`, but {what} {} is not {}",
                        key.name,
                        type_node.as_str().unwrap_or_default(),
                        crate::value::shorten_json(&value, 60),
                        declared.name()
                    ),
                );
            }
        }
        Some((declared, type_node))
    }

    /// The keys a spread leaves out: `except: [name, …]`.
    fn value_type(&mut self, node: &Node) -> Option<ValueType> {
        let name = self.string(node, "`type`")?;
        let found = ValueType::from_name(&name);
        if found.is_none() {
            let hint = suggestion(&name, ValueType::NAMES.iter().copied());
            self.error(
                Code::DeclaredType,
                &node.location,
                format!(
                    "unknown type `{name}`{hint}; expected one of: {}",
                    ValueType::NAMES.join(", ")
                ),
            );
        }
        found
    }

    /// `transform: name`, `transform: { name: arg }` or a list of those.
    pub(super) fn transforms(&mut self, node: &Node) -> Vec<TransformStep> {
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        items
            .into_iter()
            .filter_map(|item| self.transform_step(item))
            .collect()
    }

    fn transform_step(&mut self, node: &Node) -> Option<TransformStep> {
        let (name, location, args) = match &node.kind {
            NodeKind::Str(name, _) => (name.clone(), node.location.clone(), Vec::new()),
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                let args = match &value.kind {
                    NodeKind::Seq(items) => items.iter().map(Node::to_json).collect(),
                    _ => vec![value.to_json()],
                };
                (key.name.clone(), key.location.clone(), args)
            }
            _ => {
                self.error(
                    Code::TransformArguments,
                    &node.location,
                    format!(
                        "a transform is a name or `{{ name: argument }}`, found {}",
                        node.describe()
                    ),
                );
                return None;
            }
        };
        let Some(transform) = self.registry.get(&name).cloned() else {
            let hint = suggestion(&name, self.registry.names());
            self.error(
                Code::UnknownTransform,
                &location,
                format!("unknown transform `{name}`{hint}"),
            );
            return None;
        };
        let mut args = args;
        if name == "lookup" {
            // `lookup: TABLE` names a table; the step carries the table itself.
            match args.first() {
                Some(Value::String(table)) => {
                    let table = table.clone();
                    args[0] = self.table(&table, &location)?;
                }
                _ => {
                    self.error(Code::TransformArguments, &location, "`lookup` takes a table's name: `{ lookup: NAME }` or `{ lookup: [NAME, ignore_case] }`");
                    return None;
                }
            }
        }
        let expected = transform.extra_args();
        if !expected.contains(&args.len()) {
            let wanted = if expected.start() == expected.end() {
                format!("{}", expected.start())
            } else {
                format!("{} to {}", expected.start(), expected.end())
            };
            self.error(
                Code::TransformArguments,
                &location,
                format!(
                    "transform `{name}` takes {wanted} argument(s), given {}",
                    args.len()
                ),
            );
            return None;
        }
        Some(TransformStep {
            transform,
            args,
            location,
            checks: None,
        })
    }
}

/// The steps the compiler adds after a key's own transforms: a spread's (copy the object
/// without its `except` keys), then a declared type's check. Last, so that keys that are
/// not spread or typed pay nothing for them.
pub(super) fn closing_steps(
    key: &Key,
    spread: Option<Vec<String>>,
    declared: Option<(ValueType, &Node)>,
) -> Vec<TransformStep> {
    let spread = spread.map(|except| TransformStep {
        transform: std::sync::Arc::new(crate::transforms::spread_step(except)),
        args: Vec::new(),
        location: key.location.clone(),
        checks: None,
    });
    let type_check = declared.map(|(declared, node)| TransformStep {
        transform: std::sync::Arc::new(declared.check(node.as_str().unwrap_or_default())),
        args: Vec::new(),
        location: node.location.clone(),
        checks: Some(declared),
    });
    spread.into_iter().chain(type_check).collect()
}
