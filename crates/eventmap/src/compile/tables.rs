//! `tables:`: named lookup tables in the mapping (an event name → CAPI type table, say),
//! used by the `lookup` transform and by `match: { event_in: NAME }`. A parameter of
//! type `table` serves as a table too, so a user can pass one as YAML or JSON.

use std::collections::BTreeMap;

use serde_json::Value;

use super::cx::Cx;
use crate::codes::Code;
use crate::diagnostics::{suggestion, Location};
use crate::yaml::{Node, NodeKind};

pub(super) fn tables(cx: &mut Cx<'_>, node: &Node) -> BTreeMap<String, Value> {
    let NodeKind::Map(entries) = &node.kind else {
        cx.error(
            Code::WrongKind,
            &node.location,
            format!(
                "`tables` must be a mapping of table names to tables, found {}",
                node.describe()
            ),
        );
        return BTreeMap::new();
    };
    let mut found = BTreeMap::new();
    for (key, table) in entries {
        match table.to_json() {
            table @ Value::Object(_) => {
                found.insert(key.name.clone(), table);
            }
            _ => cx.error(
                Code::WrongKind,
                &table.location,
                format!(
                    "table `{}` must be a mapping of names to values, found {}",
                    key.name,
                    table.describe()
                ),
            ),
        }
    }
    found
}

/// The tables `table("NAME")` reads: `tables:`, and the table parameters (a name in
/// `tables:` wins, as it does for `lookup`).
pub(super) fn visible(
    tables: &BTreeMap<String, Value>,
    params: &crate::script::engine::ParamTable,
) -> crate::script::engine::ParamTable {
    let mut visible: crate::script::engine::ParamTable = params
        .iter()
        .filter(|(_, v)| v.is_object())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    visible.extend(tables.iter().map(|(k, v)| (k.clone(), v.clone())));
    visible
}

impl Cx<'_> {
    /// The table called `name`: one of `tables:`, else a parameter of type `table`.
    pub(crate) fn table(&mut self, name: &str, at: &Location) -> Option<Value> {
        if let Some(table) = self.tables.get(name) {
            return Some(table.clone());
        }
        match self.param_values.get(name) {
            Some(table @ Value::Object(_)) => return Some(table.clone()),
            Some(Value::Null) if self.failed_params.contains(name) => return None,
            Some(Value::Null) => {
                self.error(
                    Code::UnknownTable,
                    at,
                    format!("table parameter `{name}` has no value"),
                );
                return None;
            }
            Some(_) => {
                self.error(
                    Code::UnknownTable,
                    at,
                    format!("parameter `{name}` is not a table (declare `type: table`)"),
                );
                return None;
            }
            None => {}
        }
        let known: Vec<&str> = self.tables.keys().map(String::as_str).collect();
        let hint = suggestion(name, known.iter().copied());
        self.error(
            Code::UnknownTable,
            at,
            format!("unknown table `{name}`{hint}; declare it under `tables:`"),
        );
        None
    }
}
