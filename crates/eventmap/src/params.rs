//! Mapping parameters: named settings (like a starter kit's connection parameters) that
//! keys, expressions and conditions read. Values come from the host (the command line's
//! `--param`, the environment), else from the declared default, in which `${VAR}` and
//! `${VAR:-fallback}` are replaced from the environment (for secrets).

use serde_json::Value;

/// The declared type of a parameter; host-provided text is converted to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamType {
    String,
    Bool,
    Integer,
    Number,
    /// A mapping of names to values (an event name → CAPI type table), given as YAML or
    /// JSON text, for `lookup` and `match: { event_in: … }`.
    Table,
}

impl ParamType {
    pub const NAMES: [&'static str; 5] = ["string", "bool", "integer", "number", "table"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "string" => Some(Self::String),
            "bool" | "boolean" => Some(Self::Bool),
            "integer" | "int" => Some(Self::Integer),
            "number" | "float" => Some(Self::Number),
            "table" => Some(Self::Table),
            _ => None,
        }
    }

    pub fn of(value: &Value) -> Self {
        match value {
            Value::Bool(_) => Self::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => Self::Integer,
            Value::Number(_) => Self::Number,
            Value::Object(_) => Self::Table,
            _ => Self::String,
        }
    }

    /// Converts text given by the host (or produced by interpolation) to this type.
    pub fn parse(self, text: &str) -> Result<Value, String> {
        let t = text.trim();
        match self {
            Self::String => Ok(Value::String(text.to_string())),
            Self::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
                _ => Err("expected true or false".to_string()),
            },
            Self::Integer => t
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| "expected an integer".to_string()),
            Self::Number => t
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| "expected a number".to_string()),
            // YAML reads JSON too.
            // A list of rows too: the parameter's `columns:` say which is which.
            Self::Table => match serde_saphyr::from_str::<Value>(text) {
                Ok(table @ (Value::Object(_) | Value::Array(_))) => Ok(table),
                Ok(_) => Err("expected a table: a YAML or JSON mapping of names to values".into()),
                Err(e) => Err(format!("expected a table (YAML or JSON): {e}")),
            },
        }
    }
}

/// Replaces `${VAR}` and `${VAR:-fallback}` from `env`. `Ok(None)` when a variable without
/// fallback is unset (the parameter then has no value).
pub(crate) fn interpolate(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unclosed `${` in parameter value".to_string())?;
        let inner = &after[..end];
        let (name, fallback) = match inner.split_once(":-") {
            Some((n, f)) => (n, Some(f)),
            None => (inner, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`${{{inner}}}` is not a valid environment variable reference"
            ));
        }
        match env(name)
            .filter(|v| !v.is_empty())
            .or(fallback.map(str::to_string))
        {
            Some(value) => out.push_str(&value),
            None => return Ok(None),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// The environment variable a host reads for parameter `name`: `EVENTMAP_PARAM_<NAME>`.
pub fn env_var_for(name: &str) -> String {
    format!("EVENTMAP_PARAM_{}", name.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        (name == "KEY").then(|| "s3cret".to_string())
    }

    #[test]
    fn interpolation() {
        assert_eq!(
            interpolate("Bearer ${KEY}", &env).unwrap().as_deref(),
            Some("Bearer s3cret")
        );
        assert_eq!(
            interpolate("${MISSING:-dflt}", &env).unwrap().as_deref(),
            Some("dflt")
        );
        assert_eq!(interpolate("${MISSING}", &env).unwrap(), None);
        assert_eq!(
            interpolate("plain", &env).unwrap().as_deref(),
            Some("plain")
        );
        assert!(interpolate("${KEY", &env).is_err());
        assert!(interpolate("${a b}", &env).is_err());
    }

    #[test]
    fn typed_parsing() {
        assert_eq!(ParamType::Bool.parse("TRUE").unwrap(), json!(true));
        assert_eq!(ParamType::Bool.parse("0").unwrap(), json!(false));
        assert!(ParamType::Bool.parse("maybe").is_err());
        assert_eq!(ParamType::Integer.parse(" 12 ").unwrap(), json!(12));
        assert_eq!(ParamType::Number.parse("1.5").unwrap(), json!(1.5));
        assert_eq!(ParamType::String.parse(" a ").unwrap(), json!(" a "));
        assert_eq!(ParamType::of(&json!(true)), ParamType::Bool);
    }
}
