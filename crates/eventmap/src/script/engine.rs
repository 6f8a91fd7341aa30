//! Rhai expressions: a sandboxed engine, compiled once per mapping.
//!
//! Each expression sees only the named inputs its key declares (values are converted to
//! Rhai per evaluation; the event as a whole never is), plus `param("name")`, `now_ms()`
//! and every transform of the registry as a function. The engine has no I/O: `print` and
//! `debug` are silenced, `eval` is disabled, modules cannot be imported, and limits bound
//! operations, string, array and map sizes, call depth and expression depth.

use std::any::TypeId;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::packages::{Package, StandardPackage};
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Position, Scope, AST};
use serde_json::{Map, Number, Value};

use crate::codes::Code;
use crate::diagnostics::Location;
use crate::transforms::{Registry, Transform};
use crate::yaml::ScalarStyle;

/// Limits of the sandbox. The defaults suit per-event expressions; a runaway script fails
/// its event and the run goes on.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    pub max_operations: u64,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            max_operations: 100_000,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_call_levels: 32,
            max_expr_depth: 64,
        }
    }
}

thread_local! {
    /// The clock of the event being mapped on this thread, read by `now_ms()`. Set by the
    /// runtime before each event so that `--now` fixes time for expressions too.
    static NOW_MS: Cell<i64> = const { Cell::new(0) };
}

pub(crate) fn set_clock(now_ms: i64) {
    NOW_MS.with(|c| c.set(now_ms));
}

/// Where the text of an expression starts in the mapping file, to locate Rhai positions.
#[derive(Debug, Clone)]
pub(crate) struct TextOrigin {
    pub start: Location,
    pub style: ScalarStyle,
}

impl TextOrigin {
    pub fn locate(&self, position: Position) -> Location {
        let (Some(line), Some(col)) = (position.line(), position.position()) else {
            return self.start.clone();
        };
        let (line, col) = (line as u32, col as u32);
        let mut location = self.start.clone();
        location.line += line - 1;
        location.column = match (self.style, line) {
            (ScalarStyle::Quoted, 1) => self.start.column + col,
            (ScalarStyle::Plain, 1) | (ScalarStyle::Block, _) => self.start.column + col - 1,
            // A plain scalar's continuation lines are folded; report the column as written.
            (_, _) => col,
        };
        location
    }
}

/// An expression ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Expression {
    ast: Arc<AST>,
    origin: TextOrigin,
}

impl Expression {
    /// Where the expression starts in the mapping file.
    pub fn location(&self) -> &Location {
        &self.origin.start
    }
}

/// A runtime failure of an expression, located in the mapping file.
#[derive(Debug, Clone)]
pub(crate) struct ScriptError {
    /// What kind of failure: a transform's, an expression's, a declared type's check…
    pub code: Code,
    pub message: String,
    pub location: Location,
}

/// Parameter values as expressions see them.
pub(crate) type ParamTable = BTreeMap<String, Value>;

pub(crate) struct ScriptEngine {
    engine: Engine,
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScriptEngine")
    }
}

/// Why an expression does not compile, located; the undefined name it uses, if that is
/// why (so the compiler can say what works for a name it knows otherwise, a `let`).
#[derive(Debug)]
pub(crate) struct ExprCompileError {
    pub location: Location,
    pub message: String,
    pub unknown_name: Option<String>,
}

impl ScriptEngine {
    pub fn new(
        registry: &Registry,
        params: Arc<ParamTable>,
        tables: Arc<ParamTable>,
        limits: &SandboxLimits,
    ) -> Self {
        let mut engine = Engine::new_raw();
        engine.register_global_module(StandardPackage::new().as_shared_module());
        engine
            .set_max_operations(limits.max_operations)
            .set_max_string_size(limits.max_string_size)
            .set_max_array_size(limits.max_array_size)
            .set_max_map_size(limits.max_map_size)
            .set_max_call_levels(limits.max_call_levels)
            .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth / 2)
            .set_strict_variables(true)
            .set_fail_on_invalid_map_property(false);
        engine.on_print(|_| {});
        engine.on_debug(|_, _, _| {});
        engine.disable_symbol("eval");
        engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());

        engine.register_fn("now_ms", || NOW_MS.with(Cell::get));
        engine.register_fn(
            "param",
            move |name: ImmutableString| -> Result<Dynamic, Box<EvalAltResult>> {
                match params.get(name.as_str()) {
                    // The one rule for absence: an empty parameter is absent here too, as
                    // it is for `{ param: NAME }` and in native expressions (`??` skips it).
                    Some(value) if crate::value::is_absent(value) => Ok(Dynamic::UNIT),
                    Some(value) => Ok(json_to_dynamic(value)),
                    None => Err(format!("unknown parameter `{name}`").into()),
                }
            },
        );
        // `table("NAME")`: a table of `tables:` (or a table parameter) as a map, for
        // `lookup(x, table("NAME"))` in expressions and plug-ins.
        engine.register_fn(
            "table",
            move |name: ImmutableString| -> Result<Dynamic, Box<EvalAltResult>> {
                match tables.get(name.as_str()) {
                    Some(table) => Ok(json_to_dynamic(table)),
                    None => Err(format!("unknown table `{name}`").into()),
                }
            },
        );
        for transform in registry.iter() {
            register_transform(&mut engine, transform);
        }
        Self { engine }
    }

    /// Compiles `text`, whose free variables must be among `inputs`.
    pub fn compile(
        &self,
        text: &str,
        inputs: &[&str],
        origin: TextOrigin,
    ) -> Result<Expression, ExprCompileError> {
        let mut scope = Scope::new();
        for name in inputs {
            scope.push_dynamic(name.to_string(), Dynamic::UNIT);
        }
        match self.engine.compile_with_scope(&scope, text) {
            Ok(ast) => Ok(Expression {
                ast: Arc::new(ast),
                origin,
            }),
            Err(err) => {
                let location = origin.locate(err.position());
                let (message, unknown_name) = match err.err_type() {
                    rhai::ParseErrorType::VariableUndefined(name) => (
                        format!(
                            "expression uses `{name}`, which is not one of its inputs{}",
                            if inputs.is_empty() {
                                " (declare it under `inputs:`)".to_string()
                            } else {
                                format!(" ({})", inputs.join(", "))
                            }
                        ),
                        Some(name.to_string()),
                    ),
                    other => (format!("Rhai syntax: {other}"), None),
                };
                Err(ExprCompileError {
                    location,
                    message,
                    unknown_name,
                })
            }
        }
    }

    /// Runs an expression with its input values (in the order of the compile-time names).
    pub fn eval(
        &self,
        expression: &Expression,
        names: &[String],
        values: Vec<Dynamic>,
    ) -> Result<Dynamic, ScriptError> {
        let mut scope = Scope::with_capacity(names.len());
        for (name, value) in names.iter().zip(values) {
            scope.push_dynamic(name.as_str(), value);
        }
        self.engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &expression.ast)
            .map_err(|err| ScriptError {
                code: Code::ExpressionFailed,
                location: expression.origin.locate(err.position()),
                message: describe_eval_error(&err),
            })
    }
}

/// A failure inside a plug-in file: the innermost position Rhai reports (the line of the
/// plug-in that failed, not the call site in Rust) and the message.
pub(crate) type FileError = (Position, String);

impl ScriptEngine {
    /// Compiles a whole plug-in file (functions, not one expression).
    pub fn compile_file(&self, text: &str) -> Result<AST, FileError> {
        self.engine
            .compile(text)
            .map_err(|err| (err.position(), format!("Rhai syntax: {}", err.err_type())))
    }

    /// Calls function `name` of a plug-in file's `ast` with `args`, under the sandbox
    /// limits. The file's top level is not run again: it holds only functions.
    pub fn call_file_fn(
        &self,
        ast: &AST,
        name: &str,
        args: Vec<Dynamic>,
    ) -> Result<Dynamic, FileError> {
        let options = rhai::CallFnOptions::new().eval_ast(false);
        self.engine
            .call_fn_with_options::<Dynamic>(options, &mut Scope::new(), ast, name, args)
            .map_err(|err| (innermost_position(&err), describe_eval_error(&err)))
    }
}

/// Where an error happened: inside the innermost function call that has a position.
fn innermost_position(err: &EvalAltResult) -> Position {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, outer) => {
            let inner = innermost_position(inner);
            if inner.is_none() {
                *outer
            } else {
                inner
            }
        }
        other => other.position(),
    }
}

/// Registers a transform under its name for each arity it accepts, with an absent first
/// argument, with any argument types, and with a string first argument: functions registered on the engine with
/// exact types win over Rhai's own (`trim`, `to_string`), so the transform means the same
/// thing in an expression as in a `transform:` list.
fn register_transform(engine: &mut Engine, transform: &Arc<Transform>) {
    for extra in transform.extra_args() {
        let any: Vec<TypeId> = vec![TypeId::of::<Dynamic>(); extra + 1];
        // An absent first argument gives absent, whatever Rhai's own function of that name
        // would make of `()` (its `to_string(())` is `""`): registered with the exact
        // type, this one wins.
        let mut with_unit = any.clone();
        with_unit[0] = TypeId::of::<()>();
        engine.register_raw_fn(transform.name().to_string(), with_unit, |_ctx, _args| {
            Ok(Dynamic::UNIT)
        });
        let mut with_string = any.clone();
        with_string[0] = TypeId::of::<ImmutableString>();
        for types in [any, with_string] {
            let transform = Arc::clone(transform);
            engine.register_raw_fn(transform.name().to_string(), types, move |_ctx, args| {
                if args[0].is_unit() {
                    return Ok(Dynamic::UNIT);
                }
                let input =
                    dynamic_to_json(args[0]).map_err(|m| format!("{}: {m}", transform.name()))?;
                let extra = args[1..]
                    .iter()
                    .map(|a| dynamic_to_json(a))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|m| format!("{}: {m}", transform.name()))?;
                match transform.call(&input, &extra) {
                    Ok(Some(out)) => Ok(json_to_dynamic(&out)),
                    Ok(None) => Ok(Dynamic::UNIT),
                    Err(e) => Err(format!("{}: {e}", transform.name()).into()),
                }
            });
        }
    }
}

fn describe_eval_error(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorTooManyOperations(_) => {
            "expression exceeded its operation limit (runaway loop?)".to_string()
        }
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => describe_eval_error(inner),
        // Our transforms' messages, which name kinds, never values; or the mapping's own
        // `throw` text (docs/mapping-language.md: never throw an event's value).
        EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
        // Rhai quotes the operands ("Division by zero: 12 / 0", "Error parsing integer
        // number 'Frank'"): keep what went wrong, not the value.
        EvalAltResult::ErrorArithmetic(message, _) => message
            .split([':', '\''])
            .next()
            .unwrap_or_default()
            .trim_end()
            .to_string(),
        EvalAltResult::ErrorIndexNotFound(..) => "index not found".to_string(),
        other => {
            let text = other.to_string();
            // Rhai appends " (line L, position P)"; we print the file location instead.
            match text.rfind(" (line ") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

/// JSON to Rhai. Integers become INT, other numbers FLOAT.
pub(crate) fn json_to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        Value::Array(items) => Dynamic::from_array(items.iter().map(json_to_dynamic).collect()),
        Value::Object(map) => Dynamic::from_map(
            map.iter()
                .map(|(k, v)| (k.as_str().into(), json_to_dynamic(v)))
                .collect(),
        ),
    }
}

/// Rhai to JSON. `()` becomes null (the caller treats it as absent).
pub(crate) fn dynamic_to_json(value: &Dynamic) -> Result<Value, String> {
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = value.as_float() {
        return Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("expression produced a non-finite number ({f})"));
    }
    if value.is_string() {
        return Ok(Value::String(
            value.clone().into_string().unwrap_or_default(),
        ));
    }
    if let Ok(c) = value.as_char() {
        return Ok(Value::String(c.to_string()));
    }
    if value.is_array() {
        let array = value.read_lock::<rhai::Array>().ok_or("array is locked")?;
        return array
            .iter()
            .map(dynamic_to_json)
            .collect::<Result<Vec<_>, String>>()
            .map(Value::Array);
    }
    if value.is_map() {
        let map = value.read_lock::<rhai::Map>().ok_or("map is locked")?;
        let mut out = Map::new();
        for (k, v) in map.iter() {
            out.insert(k.to_string(), dynamic_to_json(v)?);
        }
        return Ok(Value::Object(out));
    }
    Err(format!(
        "expression produced a value of type `{}`, which has no JSON form",
        value.type_name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin() -> TextOrigin {
        TextOrigin {
            start: Location::new("m.yaml".into(), 10, 7),
            style: ScalarStyle::Plain,
        }
    }

    fn engine() -> ScriptEngine {
        let params = Arc::new(ParamTable::from([("send".to_string(), json!(true))]));
        ScriptEngine::new(
            &Registry::with_builtins(),
            params,
            Arc::default(),
            &SandboxLimits::default(),
        )
    }

    fn run(
        engine: &ScriptEngine,
        text: &str,
        inputs: &[(&str, Value)],
    ) -> Result<Value, ScriptError> {
        let names: Vec<&str> = inputs.iter().map(|(n, _)| *n).collect();
        let expr = engine.compile(text, &names, origin()).expect("compiles");
        let owned: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let values = inputs.iter().map(|(_, v)| json_to_dynamic(v)).collect();
        engine
            .eval(&expr, &owned, values)
            .map(|d| dynamic_to_json(&d).unwrap())
    }

    #[test]
    fn transforms_and_params_are_functions() {
        let e = engine();
        assert_eq!(
            run(
                &e,
                "minor_units(p, c)",
                &[("p", json!(4.35)), ("c", json!("USD"))]
            )
            .unwrap(),
            json!(435)
        );
        assert_eq!(
            run(&e, "upper(trim(c))", &[("c", json!(" usd "))]).unwrap(),
            json!("USD")
        );
        assert_eq!(run(&e, "param(\"send\")", &[]).unwrap(), json!(true));
        assert_eq!(
            run(&e, "sha256_email(x)", &[("x", Value::Null)]).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn undeclared_variables_fail_at_compile_time_with_a_location() {
        let e = engine();
        let err = e.compile("a + b", &["a"], origin()).unwrap_err();
        assert!(err.message.contains("`b`"), "{}", err.message);
        assert_eq!(err.unknown_name.as_deref(), Some("b"));
        assert_eq!((err.location.line, err.location.column), (10, 11));
    }

    #[test]
    fn syntax_errors_in_block_scalars_point_into_the_file() {
        let e = engine();
        let origin = TextOrigin {
            start: Location::new("m.yaml".into(), 20, 9),
            style: ScalarStyle::Block,
        };
        let err = e.compile("let x = 1;\nx +* 2", &[], origin).unwrap_err();
        assert!(err.message.starts_with("Rhai syntax"), "{}", err.message);
        assert_eq!(err.unknown_name, None);
        assert_eq!(err.location.line, 21);
    }

    #[test]
    fn runaway_loops_hit_the_operation_limit() {
        let e = engine();
        let err = run(&e, "let n = 0; loop { n += 1; }", &[]).unwrap_err();
        assert!(err.message.contains("operation limit"), "{}", err.message);
        assert_eq!(err.location.line, 10);
    }

    #[test]
    fn sandbox_limits_sizes_and_io() {
        let e = engine();
        let err = run(&e, "let s = \"x\"; for i in 0..20 { s += s; } s", &[]).unwrap_err();
        assert!(
            err.message.to_lowercase().contains("length") || err.message.contains("size"),
            "{}",
            err.message
        );
        assert!(
            e.compile("eval(\"1\")", &[], origin()).is_err(),
            "eval must be disabled"
        );
        assert!(e.compile("import \"x\" as y; 1", &[], origin()).is_ok());
        assert!(
            run(&e, "import \"x\" as y; 1", &[]).is_err(),
            "imports must not resolve"
        );
        assert_eq!(run(&e, "print(\"hi\"); 1", &[]).unwrap(), json!(1));
    }

    #[test]
    fn transform_errors_name_the_transform() {
        let e = engine();
        let err = run(&e, "minor_units(1, \"ZZZ\")", &[]).unwrap_err();
        assert_eq!(
            err.message,
            "minor_units: the currency is not an ISO 4217 code"
        );
    }

    #[test]
    fn clock_is_per_thread() {
        let e = engine();
        set_clock(1234);
        assert_eq!(run(&e, "now_ms() + 1", &[]).unwrap(), json!(1235));
    }

    #[test]
    fn conversions_round_trip() {
        let v = json!({"a": [1, 2.5, "x", true, null], "b": {"c": "d"}});
        assert_eq!(dynamic_to_json(&json_to_dynamic(&v)).unwrap(), v);
    }
}
