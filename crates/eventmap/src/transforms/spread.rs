//! The last step of a spread key (`data.*`), which the compiler adds itself.

use serde_json::Value;

use super::transform::{Transform, TransformError};
use crate::value::kind_of;

/// The last step of a spread key (`data.*`): its value must be an object; the keys it
/// excludes are removed (absent when nothing is left). `OutputShape` lays the declared
/// sibling keys over what remains.
pub(crate) fn spread_step(except: Vec<String>) -> Transform {
    let summary = "the object a spread key copies, without its `except` keys".to_string();
    Transform::internal(
        "spread".to_string(),
        summary,
        std::sync::Arc::new(move |value: &Value, _: &[Value]| match value {
            Value::Object(object) => {
                // Clone-then-retain rather than a filtered collect: another collect into
                // a Map made LLVM stop inlining the plain output build (docs/benchmarks.md).
                let mut kept = object.clone();
                kept.retain(|key, _| !except.iter().any(|e| e == key));
                Ok((!kept.is_empty()).then_some(Value::Object(kept)))
            }
            other => Err(TransformError::new(format!(
                "a spread key needs an object to copy keys from, got {}",
                kind_of(other)
            ))),
        }),
    )
}
