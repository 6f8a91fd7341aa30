//! What a transform is: its name, arity, summary and function, the fields of its input
//! it reads, and the error it returns.

use std::ops::RangeInclusive;
use std::sync::Arc;

use serde_json::Value;

use crate::value::kind_of;

/// Why a transform could not produce a value. The message is shown to the user together
/// with the event id and output key, so it names the offending value's kind, never the
/// raw personal data itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransformError(pub String);

impl TransformError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The signature of every transform: the input value and the extra arguments.
pub type TransformFn =
    dyn Fn(&Value, &[Value]) -> Result<Option<Value>, TransformError> + Send + Sync;

/// A transform's definition.
#[derive(Clone)]
pub struct Transform {
    pub(super) name: String,
    pub(super) extra_args: RangeInclusive<usize>,
    pub(super) summary: String,
    pub(super) func: Arc<TransformFn>,
    /// Set when it reads only some fields of its input.
    pub(super) reads: Option<FieldReads>,
}

/// The fields a transform reads of its input (an object, or each object of a list), when
/// that is all it reads: each named by an extra argument, by index, or else by a default.
/// An event is then parsed keeping, and handed to the transform holding, just those
/// fields (`readset.rs`, `runtime.rs`): `total_minor_units` over a list of products
/// copied every field of every product before.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldReads(pub(super) &'static [(usize, &'static str)]);

impl Transform {
    pub(crate) fn new(
        name: String,
        extra_args: RangeInclusive<usize>,
        summary: String,
        func: Arc<TransformFn>,
    ) -> Self {
        Self {
            name,
            extra_args,
            summary,
            func,
            reads: None,
        }
    }

    /// A step the compiler adds itself (a declared type's check), not in any registry.
    pub(crate) fn internal(name: String, summary: String, func: Arc<TransformFn>) -> Self {
        Self::new(name, 0..=0, summary, func)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    /// How many arguments it takes after the input value.
    pub fn extra_args(&self) -> RangeInclusive<usize> {
        self.extra_args.clone()
    }
    pub fn summary(&self) -> &str {
        &self.summary
    }
    pub fn call(&self, input: &Value, args: &[Value]) -> Result<Option<Value>, TransformError> {
        (self.func)(input, args)
    }

    /// The fields of its input a call reads, given the call's extra arguments (`None`
    /// where one is computed rather than a literal); `None` when it may read anything.
    pub(crate) fn fields_read(&self, extra: &[Option<&Value>]) -> Option<Vec<String>> {
        let FieldReads(fields) = self.reads?;
        fields
            .iter()
            .map(|&(arg, default)| match extra.get(arg) {
                None => Some(default.to_string()),
                Some(Some(Value::String(name))) => Some(name.clone()),
                // A computed name, or one that is not a string (the call's own error).
                Some(_) => None,
            })
            .collect()
    }
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform")
            .field("name", &self.name)
            .field("extra_args", &self.extra_args)
            .finish_non_exhaustive()
    }
}

/// The text of a string value, or an error naming what was found instead.
pub(crate) fn expect_str<'a>(value: &'a Value, what: &str) -> Result<&'a str, TransformError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(TransformError::new(format!(
            "{what} must be a string, got {}",
            kind_of(other)
        ))),
    }
}
