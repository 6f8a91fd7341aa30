//! The `params:` section.

use serde_json::Value;

use super::cx::Cx;
use super::options::CompileOptions;
use crate::codes::Code;
use crate::diagnostics::{suggestion, Location};
use crate::params::{env_var_for, interpolate, ParamType};
use crate::script::engine::ParamTable;
use crate::yaml::{Node, NodeKind};

use super::vocabulary::PARAM_FIELDS;

pub(super) fn compile(
    cx: &mut Cx<'_>,
    section: Option<&Node>,
    options: &CompileOptions,
) -> ParamTable {
    let mut table = ParamTable::new();
    let entries = match section {
        Some(node) => match node.as_map() {
            Some(entries) => entries,
            None => {
                cx.error(
                    Code::WrongKind,
                    &node.location,
                    format!(
                        "`params` must be a mapping of parameter names, found {}",
                        node.describe()
                    ),
                );
                &[]
            }
        },
        None => &[],
    };
    for (key, spec) in entries {
        if !crate::transforms::is_identifier(&key.name) {
            cx.error(
                Code::InvalidValue,
                &key.location,
                format!(
                    "parameter name `{}` must be letters, digits and `_`",
                    key.name
                ),
            );
            continue;
        }
        let value = param_value(cx, &key.name, &key.location, spec, options);
        let value = rows_to_table(cx, &key.name, &key.location, spec, value);
        table.insert(key.name.clone(), value);
    }
    for given in options.params.keys() {
        if !table.contains_key(given) {
            let hint = suggestion(given, table.keys().map(String::as_str));
            let at = section
                .map(|n| n.location.clone())
                .unwrap_or_else(|| Location::new(cx.file.clone(), 1, 1));
            cx.error(Code::UnknownParameter, &at, format!("parameter `{given}` was given a value, but the mapping declares no such parameter{hint}"));
        }
    }
    table
}

/// The parameter's value: given by the host, else its default (interpolated), else null.
fn param_value(
    cx: &mut Cx<'_>,
    name: &str,
    at: &Location,
    spec: &Node,
    options: &CompileOptions,
) -> Value {
    let (default, declared_type, required) = match &spec.kind {
        NodeKind::Map(_) => {
            let Some(fields) = cx.fields(spec, &format!("parameter `{name}`"), PARAM_FIELDS) else {
                return Value::Null;
            };
            if let Some(d) = fields.get("description") {
                cx.string(d, "`description`");
            }
            if let Some(s) = fields.get("secret") {
                cx.bool(s, "`secret`");
            }
            let declared_type = fields.get("type").and_then(|t| {
                let text = cx.string(t, "`type`")?;
                let parsed = ParamType::from_name(&text);
                if parsed.is_none() {
                    let hint = suggestion(&text, ParamType::NAMES);
                    cx.error(
                        Code::ParameterValue,
                        &t.location,
                        format!(
                            "unknown parameter type `{text}`{hint}; expected one of: {}",
                            ParamType::NAMES.join(", ")
                        ),
                    );
                }
                parsed
            });
            let required = fields
                .get("required")
                .and_then(|r| cx.bool(r, "`required`"))
                .unwrap_or(false);
            (fields.get("default"), declared_type, required)
        }
        _ => (Some(spec), None, false),
    };
    let param_type = declared_type
        .or_else(|| {
            default
                .filter(|d| !matches!(d.kind, NodeKind::Str(..)))
                .map(|d| ParamType::of(&d.to_json()))
        })
        .unwrap_or(ParamType::String);

    // Precedence: the host's explicit value, then EVENTMAP_PARAM_<NAME>, then the default.
    let env_name = env_var_for(name);
    let given = options
        .params
        .get(name)
        .map(|text| (text.clone(), "given".to_string()))
        .or_else(|| (options.env)(&env_name).map(|text| (text, format!("from {env_name}"))));
    if let Some((text, origin)) = given {
        return match param_type.parse(&text) {
            Ok(value) => value,
            Err(why) => {
                cx.error(
                    Code::ParameterValue,
                    at,
                    format!("the value {origin} for parameter `{name}` is invalid: {why}"),
                );
                cx.failed_params.insert(name.to_string());
                Value::Null
            }
        };
    }
    let value = match default {
        None => None,
        Some(node) => match &node.kind {
            NodeKind::Str(text, _) => match interpolate(text, options.env.as_ref()) {
                Ok(Some(expanded)) => match param_type.parse(&expanded) {
                    Ok(v) => Some(v),
                    Err(why) => {
                        cx.error(
                            Code::ParameterValue,
                            &node.location,
                            format!("default of parameter `{name}` is invalid: {why}"),
                        );
                        cx.failed_params.insert(name.to_string());
                        None
                    }
                },
                Ok(None) => None,
                Err(why) => {
                    cx.error(Code::ParameterValue, &node.location, why);
                    None
                }
            },
            NodeKind::Null => None,
            _ => {
                let value = node.to_json();
                let rows = declared_type == Some(ParamType::Table) && value.is_array();
                if !rows
                    && declared_type.is_some_and(|t| {
                        t != ParamType::of(&value) && !(t == ParamType::Number && value.is_number())
                    })
                {
                    cx.error(
                        Code::ParameterValue,
                        &node.location,
                        format!("default of parameter `{name}` does not match its type"),
                    );
                }
                Some(value)
            }
        },
    };
    match value {
        Some(v) => v,
        None if required => {
            cx.error(Code::ParameterValue, at, format!(
                "parameter `{name}` is required but has no value: set it with `--param {name}=VALUE` or the environment variable {}",
                env_var_for(name)
            ));
            Value::Null
        }
        None => Value::Null,
    }
}

/// A table parameter given as a list of rows (`[{from: Order Completed, to: order_created}]`)
/// as the table it stands for, by the `columns: [NAME_COLUMN, VALUE_COLUMN]` its declaration
/// gives. Any other value is returned as it is. One error for a list without columns or a
/// row without its name; the parameter is then marked failed, so no later use repeats it.
fn rows_to_table(cx: &mut Cx<'_>, name: &str, at: &Location, spec: &Node, value: Value) -> Value {
    let Value::Array(rows) = value else {
        return value;
    };
    let columns = spec
        .as_map()
        .and_then(|fields| fields.iter().find(|(k, _)| k.name == "columns"))
        .map(|(_, node)| node);
    let columns: Option<(String, String)> = columns.and_then(|node| match node.to_json() {
        Value::Array(names) => match names.as_slice() {
            [Value::String(key), Value::String(value)] => Some((key.clone(), value.clone())),
            _ => None,
        },
        _ => None,
    });
    let Some((key_column, value_column)) = columns else {
        cx.error(
            Code::ParameterValue,
            at,
            format!(
                "table parameter `{name}` is a list of rows: say which column names an entry \
                 and which holds its value with `columns: [NAME_COLUMN, VALUE_COLUMN]` \
                 (e.g. `columns: [from, to]`)"
            ),
        );
        cx.failed_params.insert(name.to_string());
        return Value::Null;
    };
    let mut table = serde_json::Map::new();
    for (i, row) in rows.iter().enumerate() {
        let key = match row.get(&key_column) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                cx.error(
                    Code::ParameterValue,
                    at,
                    format!("row {i} of table parameter `{name}` has no `{key_column}` text"),
                );
                cx.failed_params.insert(name.to_string());
                return Value::Null;
            }
        };
        let value = row.get(&value_column).cloned().unwrap_or(Value::Null);
        table.insert(key, value);
    }
    Value::Object(table)
}
