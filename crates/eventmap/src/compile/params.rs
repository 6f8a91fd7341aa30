//! The `params:` section.

use serde_json::Value;

use super::{CompileOptions, Cx};
use crate::diagnostics::{suggestion, Location};
use crate::params::{env_var_for, interpolate, ParamType};
use crate::script::ParamTable;
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
                &key.location,
                format!(
                    "parameter name `{}` must be letters, digits and `_`",
                    key.name
                ),
            );
            continue;
        }
        let value = param_value(cx, &key.name, &key.location, spec, options);
        table.insert(key.name.clone(), value);
    }
    for given in options.params.keys() {
        if !table.contains_key(given) {
            let hint = suggestion(given, table.keys().map(String::as_str));
            let at = section
                .map(|n| n.location.clone())
                .unwrap_or_else(|| Location::new(cx.file.clone(), 1, 1));
            cx.error(&at, format!("parameter `{given}` was given a value, but the mapping declares no such parameter{hint}"));
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
                    at,
                    format!("the value {origin} for parameter `{name}` is invalid: {why}"),
                );
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
                            &node.location,
                            format!("default of parameter `{name}` is invalid: {why}"),
                        );
                        None
                    }
                },
                Ok(None) => None,
                Err(why) => {
                    cx.error(&node.location, why);
                    None
                }
            },
            NodeKind::Null => None,
            _ => {
                let value = node.to_json();
                if declared_type.is_some_and(|t| {
                    t != ParamType::of(&value) && !(t == ParamType::Number && value.is_number())
                }) {
                    cx.error(
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
            cx.error(at, format!(
                "parameter `{name}` is required but has no value: set it with `--param {name}=VALUE` or the environment variable {}",
                env_var_for(name)
            ));
            Value::Null
        }
        None => Value::Null,
    }
}
