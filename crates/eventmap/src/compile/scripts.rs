//! The compiler's readers of what expressions and keys read: input paths (literal or
//! from a parameter), expression inputs, `let` values, parameter values, and Rhai
//! expressions compiled with every `param("…")`/`table("…")` name checked.

use super::cx::Cx;
use super::native;
use super::vocabulary::{INPUT_FIELDS, PATH_FIELDS};
use crate::codes::Code;
use crate::diagnostics::suggestion;
use crate::input::path::InputPath;
use crate::program::{Input, NativeExpr, Script};
use crate::script::engine::TextOrigin;
use crate::yaml::{Node, NodeKind, ScalarStyle};

impl Cx<'_> {
    /// An input path or a list of fallback paths.
    /// An input path, `{ path_param: NAME }`, or a list of those (fallbacks).
    pub fn paths(&mut self, node: &Node) -> Option<Vec<InputPath>> {
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        if items.is_empty() {
            self.error(
                Code::InputPath,
                &node.location,
                "a list of input paths must not be empty",
            );
            return None;
        }
        let paths: Vec<InputPath> = items
            .into_iter()
            .filter_map(|item| self.path(item))
            .collect();
        (!paths.is_empty()).then_some(paths)
    }

    fn path(&mut self, node: &Node) -> Option<InputPath> {
        match &node.kind {
            NodeKind::Str(text, style) => match InputPath::parse(text) {
                Ok(path) => Some(path),
                Err(err) => {
                    let mut at = node.location.clone();
                    at.column += err.offset as u32 + u32::from(*style == ScalarStyle::Quoted);
                    self.diags.error(Code::InputPath, at, err.message);
                    None
                }
            },
            NodeKind::Map(_) => {
                let fields = self.fields(node, "an input path", PATH_FIELDS)?;
                let Some(name_node) = fields.get("path_param") else {
                    self.error(
                        Code::WrongKind,
                        &node.location,
                        "write an input path as a string or `{ path_param: PARAMETER }`",
                    );
                    return None;
                };
                self.path_from_param(name_node)
            }
            _ => {
                self.error(
                    Code::WrongKind,
                    &node.location,
                    format!("an input path must be a string, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// `{ path_param: NAME }`: the input path is the value of parameter NAME (parameters
    /// are fixed when the mapping compiles, so the path is compiled once).
    fn path_from_param(&mut self, name_node: &Node) -> Option<InputPath> {
        let name = name_node.as_str().unwrap_or_default().to_string();
        match self.param_value(name_node)? {
            serde_json::Value::String(text) => match InputPath::parse(&text) {
                Ok(path) => Some(path),
                Err(err) => {
                    self.error(
                        Code::InputPath,
                        &name_node.location,
                        format!(
                            "parameter `{name}` is `{text}`, which is not an input path: {err}"
                        ),
                    );
                    None
                }
            },
            serde_json::Value::Null => {
                self.error(
                    Code::InputPath,
                    &name_node.location,
                    format!("parameter `{name}` has no value, so it names no input path"),
                );
                None
            }
            _ => {
                self.error(
                    Code::InputPath,
                    &name_node.location,
                    format!("parameter `{name}` must be a string to name an input path"),
                );
                None
            }
        }
    }

    /// Compiles a Rhai expression handed the inputs declared in `inputs` (a mapping of
    /// variable name to input path(s), `{ param: NAME }` or `{ const: VALUE }`).
    pub fn script(&mut self, text_node: &Node, inputs: Option<&Node>) -> Option<Script> {
        let text = self.string(text_node, "an expression")?;
        let (mut input_names, mut input_values) = match inputs {
            Some(node) => self.inputs(node)?,
            None => (Vec::new(), Vec::new()),
        };
        if !self.let_inputs(&text, &mut input_names, &mut input_values, inputs) {
            return None;
        }
        let style = match &text_node.kind {
            NodeKind::Str(_, style) => *style,
            _ => ScalarStyle::Plain,
        };
        let origin = TextOrigin {
            start: text_node.location.clone(),
            style,
        };
        if !self.check_param_calls(&text, &origin) || !self.check_table_calls(&text, &origin) {
            return None;
        }
        let names: Vec<&str> = input_names.iter().map(String::as_str).collect();
        let engine = self
            .script
            .as_ref()
            .expect("script engine is built before expressions");
        match engine.compile(&text, &names, origin) {
            Ok(expression) => {
                let native = self.native_call(&text, &input_names);
                Some(Script {
                    expression,
                    input_names,
                    inputs: input_values,
                    native,
                })
            }
            Err(err) => {
                let out_of_scope = err
                    .unknown_name
                    .as_deref()
                    .and_then(|name| self.unknown_name_message(name));
                match out_of_scope {
                    Some(message) => self.diags.error(Code::LetScope, err.location, message),
                    None => self
                        .diags
                        .error(Code::Expression, err.location, err.message),
                }
                None
            }
        }
    }

    /// What to say of a name an expression uses that is not one of its inputs, when the
    /// mapping knows it otherwise: a section's `let` out of this key's scope (declaring it
    /// under `inputs:`, as Rhai's message would suggest, is an error too).
    fn unknown_name_message(&self, name: &str) -> Option<String> {
        let out_of_scope =
            self.section_lets.contains(name) && !self.let_scope.iter().any(|(n, _)| n == name);
        out_of_scope.then(|| {
            format!(
                "expression uses `{name}`, a `let` not in scope here: a section's `let` is \
                 read by that section's keys and by the `let`s after it; one every key reads \
                 goes in the top-level `let:`"
            )
        })
    }

    /// `from: { let: NAME }`: the key takes a `let` value in scope.
    pub fn let_source(&mut self, node: &Node) -> Option<Script> {
        let name = self.string(node, "a `let` name")?;
        if !self.let_scope.iter().any(|(n, _)| *n == name) {
            let in_scope: Vec<&str> = self.let_scope.iter().map(|(n, _)| n.as_str()).collect();
            let why = if self.section_lets.contains(&name) {
                "it is a `let` of another section (a section's lets are read by its own keys)"
                    .to_string()
            } else if in_scope.is_empty() {
                "no `let` is in scope here".to_string()
            } else {
                format!("lets in scope here: {}", in_scope.join(", "))
            };
            let hint = suggestion(&name, in_scope.iter().copied());
            self.error(
                Code::LetScope,
                &node.location,
                format!("`{name}` is not a `let` this key can read: {why}{hint}"),
            );
            return None;
        }
        self.script(node, None)
    }

    /// The native form of the expression, when it is in the subset that needs no
    /// interpreter (see `native.rs`).
    fn native_call(&self, text: &str, input_names: &[String]) -> Option<NativeExpr> {
        let shadowed = |name: &str| crate::script::rhai_names::is_rhai_standard_name(name);
        native::compile(
            text,
            &native::Scope {
                inputs: input_names,
                params: &self.param_values,
                registry: &self.registry,
                shadowed: &shadowed,
            },
        )
    }

    /// Decides at compile time a condition that reads no inputs and not the clock (one
    /// that depends on parameters only). `None` when it must be evaluated per event.
    pub fn constant_condition(&mut self, script: &Script, node: &Node) -> Option<bool> {
        let text = node.as_str()?;
        if !script.inputs.is_empty() || text.contains("now_ms") {
            return None;
        }
        let engine = self.script.as_ref()?;
        match engine.eval(&script.expression, &[], Vec::new()) {
            Ok(value) => match crate::script::engine::dynamic_to_json(&value) {
                Ok(serde_json::Value::Bool(b)) => Some(b),
                Ok(serde_json::Value::Null) => Some(false),
                _ => {
                    self.error(
                        Code::Expression,
                        &node.location,
                        "a condition must give true or false",
                    );
                    None
                }
            },
            Err(err) => {
                self.diags.error(
                    Code::Expression,
                    err.location,
                    format!("condition fails: {}", err.message),
                );
                None
            }
        }
    }

    fn inputs(&mut self, node: &Node) -> Option<(Vec<String>, Vec<Input>)> {
        let Some(entries) = node.as_map() else {
            self.error(
                Code::WrongKind,
                &node.location,
                format!(
                    "`inputs` must be a mapping of names to input paths, found {}",
                    node.describe()
                ),
            );
            return None;
        };
        let mut names = Vec::new();
        let mut values = Vec::new();
        let mut ok = true;
        for (key, value) in entries {
            if !crate::transforms::is_identifier(&key.name) {
                self.error(
                    Code::InvalidValue,
                    &key.location,
                    format!(
                        "input name `{}` is not a valid variable name (letters, digits and `_`)",
                        key.name
                    ),
                );
                ok = false;
                continue;
            }
            let input = match &value.kind {
                NodeKind::Map(_) => self.input_literal(value),
                _ => self.paths(value).map(Input::Paths),
            };
            match input {
                Some(input) => {
                    names.push(key.name.clone());
                    values.push(input);
                }
                None => ok = false,
            }
        }
        ok.then_some((names, values))
    }

    /// `{ param: NAME }` or `{ const: VALUE }` as an input.
    fn input_literal(&mut self, node: &Node) -> Option<Input> {
        let fields = self.fields(node, "an input", INPUT_FIELDS)?;
        if let Some(name) = fields.get("param") {
            return self.param_value(name).map(Input::Const);
        }
        if let Some(name) = fields.get("path_param") {
            return self.path_from_param(name).map(|p| Input::Paths(vec![p]));
        }
        if let Some(value) = fields.get("const") {
            return Some(Input::Const(value.to_json()));
        }
        self.error(
            Code::KeySource,
            &node.location,
            "an input mapping needs `param`, `const` or `path_param`",
        );
        None
    }

    /// The value of the parameter a `param:` node names (null when it is unset).
    pub fn param_value(&mut self, node: &Node) -> Option<serde_json::Value> {
        let name = self.string(node, "a parameter name")?;
        match self.param_values.get(&name) {
            Some(value) => Some(value.clone()),
            None => {
                let hint = suggestion(&name, self.param_values.keys().map(String::as_str));
                self.error(
                    Code::UnknownParameter,
                    &node.location,
                    format!("unknown parameter `{name}`{hint}; declare it under `params:`"),
                );
                None
            }
        }
    }

    /// `param("x")` with an undeclared name is caught here rather than on the first event.
    /// Returns whether every `param("...")` names a declared parameter.
    fn check_param_calls(&mut self, text: &str, origin: &TextOrigin) -> bool {
        let known: Vec<String> = self.param_values.keys().cloned().collect();
        self.check_named_calls(
            text,
            origin,
            "param",
            &known,
            (Code::UnknownParameter, "parameter"),
            "declare it under `params:`",
        )
    }

    /// `table("x")` naming no table, caught here rather than on the first event.
    fn check_table_calls(&mut self, text: &str, origin: &TextOrigin) -> bool {
        let known: Vec<String> = self.script_tables.keys().cloned().collect();
        self.check_named_calls(
            text,
            origin,
            "table",
            &known,
            (Code::UnknownTable, "table"),
            "declare it under `tables:` (or as a parameter of `type: table`)",
        )
    }

    /// Every `FUNCTION("NAME")` call in `text` with a literal name must name one of `known`.
    fn check_named_calls(
        &mut self,
        text: &str,
        origin: &TextOrigin,
        function: &str,
        known: &[String],
        (code, what): (Code, &str),
        fix: &str,
    ) -> bool {
        let call = format!("{function}(");
        let mut ok = true;
        let mut search = 0;
        while let Some(found) = text[search..].find(&call) {
            let at = search + found;
            let start = at + call.len();
            search = start;
            // `lookup_table(`, `xparam(`: another function.
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = text[start..].trim_start();
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            let Some(end) = rest[1..].find(quote) else {
                continue;
            };
            let name = &rest[1..1 + end];
            if !known.iter().any(|k| k == name) {
                let hint = suggestion(name, known.iter().map(String::as_str));
                let offset = text[..start].chars().count();
                let line = text[..start].matches('\n').count() + 1;
                let col = offset
                    - text[..start]
                        .rfind('\n')
                        .map_or(0, |i| text[..=i].chars().count())
                    + 1;
                let at = origin.locate(rhai::Position::new(line as u16, col as u16));
                self.diags
                    .error(code, at, format!("unknown {what} `{name}`{hint}; {fix}"));
                ok = false;
            }
        }
        ok
    }
}
