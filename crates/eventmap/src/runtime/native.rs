//! Expressions that need no interpreter (transform calls, inputs, literals, `??`,
//! comparisons with a literal, `if`), evaluated as Rhai would evaluate them, without
//! Rhai's per-call cost or the JSON↔Rhai conversions (compile/native.rs recognizes them;
//! a test holds both paths to the same results).

use std::borrow::Cow;

use serde_json::Value;

use crate::codes::Code;
use crate::input::path::{first_found, first_present};
use crate::input::tree::EventTree;
use crate::program::{Input, NativeExpr, Script};
use crate::script::engine::ScriptError;

/// Evaluates the interpreter-free subset exactly as Rhai would: a transform called with an
/// absent first argument gives absent without being called; other absent arguments are
/// passed as null; `a ?? b` gives the first that is not absent.
pub(super) fn eval_native<'v, T: EventTree>(
    expr: &'v NativeExpr,
    script: &'v Script,
    root: &'v T,
    current: &'v T,
    lets: &'v [Option<Value>],
) -> Result<Cow<'v, Value>, ScriptError> {
    const NULL: &Value = &Value::Null;
    Ok(match expr {
        NativeExpr::Input(i) => match &script.inputs[*i] {
            Input::Paths(paths) => {
                first_present(paths, root, current).unwrap_or(Cow::Borrowed(NULL))
            }
            Input::Const(v) => Cow::Borrowed(v),
            Input::Let(i) => match lets.get(*i) {
                Some(Some(v)) => Cow::Borrowed(v),
                _ => Cow::Borrowed(NULL),
            },
        },
        NativeExpr::Literal(v) => Cow::Borrowed(v),
        NativeExpr::Coalesce(items) => {
            for item in items {
                let value = eval_native(item, script, root, current, lets)?;
                if !value.is_null() {
                    return Ok(value);
                }
            }
            Cow::Borrowed(NULL)
        }
        NativeExpr::Call {
            transform,
            args,
            fields,
        } => {
            let Some((first, rest)) = args.split_first() else {
                return Ok(Cow::Borrowed(NULL));
            };
            let input = match (first, fields) {
                (NativeExpr::Input(i), Some(fields)) => match &script.inputs[*i] {
                    Input::Paths(paths) => first_found(paths, root, current)
                        .map_or(Cow::Borrowed(NULL), |found| found.with_fields(fields)),
                    _ => eval_native(first, script, root, current, lets)?,
                },
                _ => eval_native(first, script, root, current, lets)?,
            };
            if input.is_null() {
                return Ok(Cow::Borrowed(NULL));
            }
            // One extra argument (`minor_units(price, currency)`) is passed where it lies:
            // collecting it into a vector cost an allocation a call.
            let one;
            let many;
            let rest: &[Value] = match rest {
                [] => &[],
                [arg] => {
                    one = eval_native(arg, script, root, current, lets)?;
                    std::slice::from_ref(&*one)
                }
                _ => {
                    many = rest
                        .iter()
                        .map(|a| eval_native(a, script, root, current, lets).map(Cow::into_owned))
                        .collect::<Result<Vec<_>, _>>()?;
                    &many
                }
            };
            match transform.call(&input, rest) {
                Ok(value) => Cow::Owned(value.unwrap_or(Value::Null)),
                Err(e) => {
                    return Err(ScriptError {
                        code: Code::TransformFailed,
                        message: format!("{}: {e}", transform.name()),
                        location: script.expression.location().clone(),
                    })
                }
            }
        }
        NativeExpr::Compare {
            value,
            literal,
            equal,
        } => {
            let value = eval_native(value, script, root, current, lets)?;
            Cow::Owned(Value::Bool(rhai_equals(&value, literal) == *equal))
        }
        NativeExpr::If(parts) => {
            let [condition, then, otherwise] = &**parts;
            let chosen = match eval_native(condition, script, root, current, lets)?.as_ref() {
                Value::Bool(true) => then,
                _ => otherwise,
            };
            eval_native(chosen, script, root, current, lets)?
        }
    })
}

/// `==` between a JSON value (as Rhai sees it: null is `()`, integers INT, other numbers
/// FLOAT) and a scalar literal, as Rhai decides it: numbers compare by value, INT against
/// FLOAT too; values of different types are not equal.
fn rhai_equals(value: &Value, literal: &Value) -> bool {
    match (value, literal) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => a.as_f64() == b.as_f64(),
        },
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        _ => false,
    }
}
