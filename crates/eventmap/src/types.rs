//! Declared output types (`type: integer` on a key): what a key's value must be, checked
//! at compile time for constants and defaults, and at run time for everything else.

use std::sync::Arc;

use serde_json::Value;

use crate::transforms::{Transform, TransformError};

/// A JSON type an output key may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    String,
    /// A whole number (`4804`, not `48.04`).
    Integer,
    /// Any number, whole or not.
    Number,
    Boolean,
    Array,
    Object,
}

impl ValueType {
    pub const NAMES: &'static [&'static str] =
        &["string", "integer", "number", "boolean", "array", "object"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "string" => ValueType::String,
            "integer" => ValueType::Integer,
            "number" => ValueType::Number,
            "boolean" => ValueType::Boolean,
            "array" => ValueType::Array,
            "object" => ValueType::Object,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "a string",
            ValueType::Integer => "an integer",
            ValueType::Number => "a number",
            ValueType::Boolean => "a boolean",
            ValueType::Array => "an array",
            ValueType::Object => "an object",
        }
    }

    pub fn admits(self, value: &Value) -> bool {
        match self {
            ValueType::String => value.is_string(),
            ValueType::Integer => value.is_i64() || value.is_u64(),
            ValueType::Number => value.is_number(),
            ValueType::Boolean => value.is_boolean(),
            ValueType::Array => value.is_array(),
            ValueType::Object => value.is_object(),
        }
    }

    /// The check a key declaring this type ends with, as a last transform step: so a
    /// key without `type:` runs no extra code at all. It fails as `type integer: got a string`
    /// (the kind, never the value: messages are logged, values may be personal data).
    pub fn check(self, keyword: &str) -> Transform {
        let func = move |value: &Value, _: &[Value]| {
            if self.admits(value) {
                Ok(Some(value.clone()))
            } else if let Some(whole) = whole_number(self, value) {
                // `2.0` is a whole number: written as the integer it is.
                Ok(Some(Value::from(whole)))
            } else {
                let kind = match value {
                    Value::Number(_) if self == ValueType::Integer => {
                        "a number with a fractional part"
                    }
                    other => crate::value::kind_of(other),
                };
                Err(TransformError::new(format!("got {kind}")))
            }
        };
        Transform::internal(
            format!("type {keyword}"),
            format!("the value is {}", self.name()),
            Arc::new(func),
        )
    }
}

/// A float with no fractional part, as an integer, where an integer is declared.
fn whole_number(declared: ValueType, value: &Value) -> Option<i64> {
    let f = value.as_f64().filter(|_| declared == ValueType::Integer)?;
    // i64::MAX as f64 rounds up to 2^63, which does not fit: hence the strict bound.
    (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_are_whole_numbers_and_numbers_are_any() {
        assert!(ValueType::Integer.admits(&json!(4804)));
        assert!(!ValueType::Integer.admits(&json!(48.04)));
        assert!(ValueType::Number.admits(&json!(48.04)));
        assert!(!ValueType::String.admits(&json!(1)));
        for name in ValueType::NAMES {
            assert!(ValueType::from_name(name).is_some());
        }
        let check = ValueType::Integer.check("integer");
        assert_eq!(check.call(&json!(12), &[]).unwrap(), Some(json!(12)));
        // A whole float is the integer it is; a fraction is not.
        assert_eq!(check.call(&json!(2.0), &[]).unwrap(), Some(json!(2)));
        assert!(check.call(&json!(2.5), &[]).is_err());
        assert!(check.call(&json!(1e300), &[]).is_err());
        let err = check.call(&json!("12"), &[]).unwrap_err();
        assert_eq!(err.to_string(), "got a string");
    }
}
