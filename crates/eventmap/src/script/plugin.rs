//! Plug-in transforms: the functions of a mapping's `.rhai` files, run as transforms.
//!
//! A plug-in file is compiled once, by an engine with the same sandbox as expressions
//! (and the built-in transforms, `param()` and `now_ms()` as functions). Each public
//! `fn` becomes a [`Transform`] whose first parameter is the value being mapped; the
//! compiler registers it like a host transform, so it is usable in `transform:` lists
//! and callable from expressions.

use std::sync::Arc;

use rhai::AST;
use serde_json::Value;

use crate::diagnostics::Location;
use crate::script::engine::{dynamic_to_json, json_to_dynamic, ScriptEngine};
use crate::transforms::{Transform, TransformError};

/// A compiled plug-in file.
pub(crate) struct PluginFile {
    pub engine: Arc<ScriptEngine>,
    pub ast: AST,
    /// The file as diagnostics name it (relative to where the mapping was loaded from).
    pub file: Arc<str>,
}

/// A transform a plug-in file defines, as `eventmap transforms -m MAPPING` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginTransform {
    pub name: String,
    /// Its parameters as written; the first is the value being transformed.
    pub params: Vec<String>,
    /// Its `///` doc comment, without the leaders.
    pub doc: String,
    /// Where its `fn` is written.
    pub location: Location,
}

impl PluginTransform {
    /// The transform a plug-in function is run as. A run-time failure names the plug-in's
    /// line (the runtime adds the transform's name in front).
    pub(crate) fn transform(&self, file: Arc<PluginFile>) -> Transform {
        let name = self.name.clone();
        let extra = self.params.len().saturating_sub(1);
        let summary = self.doc.lines().next().unwrap_or_default().to_string();
        let func = move |input: &Value, args: &[Value]| -> Result<Option<Value>, TransformError> {
            let mut values = Vec::with_capacity(args.len() + 1);
            values.push(json_to_dynamic(input));
            values.extend(args.iter().map(json_to_dynamic));
            let result = file.engine.call_file_fn(&file.ast, &name, values).map_err(
                |(position, message)| {
                    let at = match (position.line(), position.position()) {
                        (Some(line), Some(column)) => format!("{}:{line}:{column}", file.file),
                        (Some(line), None) => format!("{}:{line}", file.file),
                        _ => file.file.to_string(),
                    };
                    TransformError::new(format!("{at}: {message}"))
                },
            )?;
            let value = dynamic_to_json(&result)
                .map_err(|m| TransformError::new(format!("{}: {m}", file.file)))?;
            Ok(crate::value::present(value))
        };
        Transform::new(self.name.clone(), extra..=extra, summary, Arc::new(func))
    }
}
