//! The compiled form of a mapping: what the runtime executes for each event.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::codes::Code;
use crate::diagnostics::Location;
use crate::input::path::InputPath;
use crate::output::shape::OutputShape;
use crate::script::engine::{Expression, ScriptEngine, ScriptError};
use crate::transforms::Transform;
use crate::types::ValueType;
use crate::value::is_absent;

#[derive(Debug)]
pub(crate) struct Program {
    pub file: Arc<str>,
    pub name: Option<String>,
    pub destination: Option<String>,
    /// Where the `destination:` value is, for a host that does not know it.
    pub destination_location: Option<crate::diagnostics::Location>,
    /// Destination rules the mapping relaxes, for the host to apply to its validator.
    pub relaxed: Vec<crate::validate::RelaxedRule>,
    /// The transforms the mapping's plug-in files define.
    pub plugins: Vec<crate::script::plugin::PluginTransform>,
    pub script: ScriptEngine,
    /// Filters of the file's top level, checked before any event's own.
    pub filters: Vec<Filter>,
    pub plans: Vec<EventPlan>,
    /// Event names as written in the mapping, then in normalized form.
    pub by_exact_name: HashMap<String, usize>,
    pub by_normalized_name: HashMap<String, usize>,
    pub by_call_type: HashMap<String, usize>,
    pub fallback: Fallback,
    pub event_name_path: InputPath,
    pub call_type_path: InputPath,
}

#[derive(Debug)]
pub(crate) enum Fallback {
    /// No `default:` section: unmatched events are skipped with a generic reason.
    Unmatched,
    Skip(String),
    Plan(usize),
}

/// Everything to do for one kind of event: its filters and its keys, the global ones
/// already merged in (an event key overrides the global key of the same name).
#[derive(Debug)]
pub(crate) struct EventPlan {
    pub name: String,
    /// `let:` values, the global ones first; keys, filters and later lets read them.
    pub lets: Vec<KeyRule>,
    pub filters: Vec<Filter>,
    pub keys: Vec<KeyRule>,
    pub shape: OutputShape,
    /// `test_mode: true` on the section or the whole file.
    pub test_mode: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub condition: Script,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub(crate) struct OutputKey {
    pub text: String,
    /// The dotted parts; a spread key ends in `*`.
    pub segments: Vec<String>,
}

impl OutputKey {
    /// `data.*` (or `*`): the key copies an object's keys into `data` (or the output).
    pub fn is_spread(&self) -> bool {
        self.segments.last().is_some_and(|s| s == "*")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct KeyRule {
    pub output: OutputKey,
    pub location: Location,
    pub source: Source,
    pub transforms: Vec<TransformStep>,
    pub when: Option<Script>,
    pub default: Option<Value>,
    pub required: bool,
    /// `on_error: omit`: a transform or expression error leaves the key out instead of
    /// failing the event.
    pub omit_on_error: bool,
}

impl KeyRule {
    /// An `each` key whose list goes into the output as mapped: at the top of a plan, its
    /// elements are kept in slots ([`crate::output::shape::ItemList`]) rather than built as JSON
    /// objects. A key with transforms, a declared type, a default or `required` gets its
    /// list as a JSON value, for those to see; so does one whose elements have a spread key.
    pub fn keeps_items_in_slots(&self) -> bool {
        // An element shape with a spread key is merged when built, so it is built.
        matches!(&self.source, Source::Each { shape, .. } if !shape.has_spread())
            && self.transforms.is_empty()
            && self.default.is_none()
            && !self.required
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Fallback paths: the first present value wins.
    Paths(Vec<InputPath>),
    Const(Value),
    Expr(Script),
    Each {
        over: Vec<InputPath>,
        keys: Vec<KeyRule>,
        shape: OutputShape,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct TransformStep {
    pub transform: Arc<Transform>,
    pub args: Vec<Value>,
    pub location: Location,
    /// Set for a declared type's check, which passes an admitted value on unchanged: it
    /// is checked where it lies instead of being copied (`apply_to`).
    pub checks: Option<ValueType>,
}

impl TransformStep {
    /// Replaces the value in `slot` by the step's output.
    pub fn apply_to(&self, slot: &mut Option<Value>) -> Result<(), ScriptError> {
        let Some(input) = slot.as_ref() else {
            return Ok(());
        };
        if let Some(declared) = self.checks {
            if declared.admits(input) && !is_absent(input) {
                return Ok(());
            }
        }
        *slot = self.apply(input)?;
        Ok(())
    }

    /// The step's output for `input`; `None` when absent.
    pub fn apply(&self, input: &Value) -> Result<Option<Value>, ScriptError> {
        match self.transform.call(input, &self.args) {
            Ok(value) => Ok(value.filter(|v| !is_absent(v))),
            Err(e) => Err(ScriptError {
                // A declared type's check is a transform step of its own.
                code: match self.checks {
                    Some(_) => Code::TypeMismatch,
                    None => Code::TransformFailed,
                },
                message: format!("{}: {e}", self.transform.name()),
                location: self.location.clone(),
            }),
        }
    }
}

/// A Rhai expression with the inputs it is handed.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    pub expression: Expression,
    pub input_names: Vec<String>,
    pub inputs: Vec<Input>,
    /// Set when the expression is in the subset that runs without the interpreter.
    pub native: Option<NativeExpr>,
}

#[derive(Debug, Clone)]
pub(crate) enum Input {
    Paths(Vec<InputPath>),
    Const(Value),
    /// The plan's `let:` value at this index (computed before filters and keys).
    Let(usize),
}

/// An expression in the closed subset that needs no interpreter (transform calls on
/// inputs, literals, `??`, comparisons with a literal, `if`), evaluated natively;
/// `compile/native.rs` recognizes it.
#[derive(Debug, Clone)]
pub(crate) enum NativeExpr {
    /// The input at this index (null when absent).
    Input(usize),
    Literal(Value),
    /// `transform(args…)`: absent when the first argument is absent, like in Rhai.
    Call {
        transform: Arc<Transform>,
        args: Vec<NativeExpr>,
        /// Set when the first argument is an input of which the transform reads only
        /// these fields: just they are copied for it.
        fields: Option<Box<[String]>>,
    },
    /// `a ?? b ?? …`: the first that is not absent.
    Coalesce(Vec<NativeExpr>),
    /// `a == literal` (or `!=` when `equal` is false), where the literal is a string, an
    /// integer, a boolean or `()`: always a boolean, as in Rhai.
    Compare {
        value: Box<NativeExpr>,
        literal: Value,
        equal: bool,
    },
    /// `if comparison { a } else { b }`; without `else`, `b` is `()`.
    If(Box<[NativeExpr; 3]>),
}
