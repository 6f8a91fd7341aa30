//! Compiles a mapping file into a [`Program`]: one walk over the located YAML tree that
//! checks every section, resolves parameters, parses paths, looks up transforms and
//! compiles expressions, collecting every error with its `file:line:col`.

mod events;
mod keys;
mod lets;
mod native;
mod params;
mod plugins;
mod reads;
mod relax;
mod tables;
pub(crate) mod vocabulary;

pub(crate) use reads::read_set;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diagnostics::{suggestion, CompileError, Diagnostics, Location};
use crate::path::InputPath;
use crate::program::NativeExpr;
use crate::program::{Input, Program, Script};
use crate::script::{ParamTable, SandboxLimits, ScriptEngine, TextOrigin};
use crate::transforms::Registry;
use crate::yaml::{self, Key, Node, NodeKind, ScalarStyle};
use vocabulary::{INPUT_FIELDS, PATH_FIELDS, TOP_LEVEL};

/// Reads an environment variable (replaceable so hosts and tests control the environment).
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How to compile a mapping: the transforms it may use, the parameter values the host
/// sets, where `${VAR}` interpolation reads, and the sandbox limits.
#[derive(Clone)]
pub struct CompileOptions {
    pub registry: Registry,
    /// Parameter values as text (from `--param`, the environment or the host's config);
    /// each is converted to the parameter's declared type.
    pub params: BTreeMap<String, String>,
    /// Looks up environment variables for `${VAR}` in parameter defaults.
    pub env: EnvLookup,
    pub limits: SandboxLimits,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self {
            registry: Registry::with_builtins(),
            params: BTreeMap::new(),
            env: Arc::new(|name| std::env::var(name).ok()),
            limits: SandboxLimits::default(),
        }
    }
}

impl CompileOptions {
    /// These options, with parameter values taken from `params` alone and never from
    /// `EVENTMAP_PARAM_*`: what fixtures compile with, so they give the same result on
    /// every machine (and what the playground shows, so a fixture it saves passes).
    pub fn without_param_env(self) -> Self {
        let env = self.env.clone();
        Self {
            env: Arc::new(move |name: &str| {
                if name.starts_with("EVENTMAP_PARAM_") {
                    None
                } else {
                    env(name)
                }
            }),
            ..self
        }
    }
}

impl std::fmt::Debug for CompileOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Parameter values may be secrets: only their names are shown.
        f.debug_struct("CompileOptions")
            .field("registry", &self.registry.names().collect::<Vec<_>>())
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

pub(crate) fn compile(
    source: &str,
    file: Arc<str>,
    options: &CompileOptions,
) -> Result<Program, CompileError> {
    let root = yaml::parse(source, &file).map_err(|d| CompileError {
        diagnostics: vec![d],
    })?;
    let mut cx = Cx {
        file: file.clone(),
        diags: Diagnostics::default(),
        registry: options.registry.clone(),
        base_registry: &options.registry,
        script: None,
        param_values: Arc::new(ParamTable::new()),
        tables: Default::default(),
        let_scope: Vec::new(),
        section_lets: Default::default(),
        failed_params: Default::default(),
        script_tables: Arc::default(),
    };
    let Some(top) = cx.fields(&root, "the mapping file", TOP_LEVEL) else {
        return Err(cx.diags.into_error());
    };
    if let Some(version) = top.get("version") {
        if !matches!(version.kind, NodeKind::Int(1)) {
            cx.error(
                &version.location,
                "unsupported `version`: this eventmap reads version 1",
            );
        }
    }
    let name = top.get("name").and_then(|n| cx.string(n, "`name`"));
    let destination_node = top.get("destination");
    let destination = destination_node.and_then(|n| cx.string(n, "`destination`"));
    let destination_location = destination_node.map(|n| n.location.clone());
    if let Some(description) = top.get("description") {
        cx.string(description, "`description`");
    }
    let relaxed = top
        .get("validate")
        .map(|n| relax::relaxed_rules(&mut cx, n))
        .unwrap_or_default();

    cx.param_values = Arc::new(params::compile(&mut cx, top.get("params"), options));
    // Tables first: plug-ins and expressions read them (`table("NAME")`).
    cx.tables = top
        .get("tables")
        .map(|n| tables::tables(&mut cx, n))
        .unwrap_or_default();
    cx.script_tables = Arc::new(tables::visible(&cx.tables, &cx.param_values));
    let plugins = top
        .get("transforms")
        .map(|n| plugins::load(&mut cx, n, &options.limits))
        .unwrap_or_default();
    cx.script = Some(ScriptEngine::new(
        &cx.registry,
        cx.param_values.clone(),
        cx.script_tables.clone(),
        &options.limits,
    ));

    cx.section_lets = section_let_names(top.get("events"), top.get("default"));
    let global_lets = top.get("let").map(|n| cx.lets(n)).unwrap_or_default();
    let filters = top
        .get("filters")
        .map(|n| events::filters(&mut cx, n))
        .unwrap_or_default();
    let global = top
        .get("global")
        .map(|n| cx.key_rules(n))
        .unwrap_or_default();
    cx.check_conflicts(&global);
    let sections = top
        .get("events")
        .map(|n| events::sections(&mut cx, n))
        .unwrap_or_default();
    let default = top
        .get("default")
        .map(|n| events::default_section(&mut cx, n));
    if top.get("events").is_none() && top.get("default").is_none() {
        cx.error(
            &root.location,
            "the mapping has no `events` and no `default`: no event would be mapped",
        );
    }
    let all_test_mode = events::test_mode(&mut cx, &top);
    let tables = events::plans(
        &mut cx,
        &global_lets,
        &global,
        sections,
        default,
        all_test_mode,
    );

    if cx.diags.has_errors() {
        return Err(cx.diags.into_error());
    }
    let script = cx
        .script
        .take()
        .expect("script engine is built before sections are compiled");
    Ok(Program {
        file,
        name,
        destination,
        destination_location,
        relaxed,
        plugins,
        script,
        filters,
        plans: tables.plans,
        by_exact_name: tables.by_exact_name,
        by_normalized_name: tables.by_normalized_name,
        by_call_type: tables.by_call_type,
        fallback: tables.fallback,
        event_name_path: InputPath::parse("event").expect("static path"),
        call_type_path: InputPath::parse("type").expect("static path"),
    })
}

/// The compiler's state while it walks one file.
pub(crate) struct Cx<'o> {
    file: Arc<str>,
    diags: Diagnostics,
    /// The host's transforms plus the mapping's plug-ins.
    registry: Registry,
    /// The host's transforms alone (plug-in files run with these).
    base_registry: &'o Registry,
    script: Option<ScriptEngine>,
    param_values: Arc<ParamTable>,
    /// The file's `tables:`, by name.
    tables: std::collections::BTreeMap<String, serde_json::Value>,
    /// The `let:` names expressions can read here, in plan order (global ones first).
    let_scope: Vec<(String, Location)>,
    /// The names every section's `let:` defines, so that a key out of their scope is told
    /// why it cannot read one.
    section_lets: std::collections::BTreeSet<String>,
    /// Parameters whose value was refused with an error already: a use of one says nothing
    /// more (one mistake, one error).
    failed_params: std::collections::BTreeSet<String>,
    /// The tables expressions and plug-ins read with `table("NAME")`.
    script_tables: Arc<crate::script::ParamTable>,
}

/// The entries of a YAML mapping whose keys were checked against a vocabulary.
pub(crate) struct Fields<'n> {
    entries: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    pub fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }
    pub fn key(&self, name: &str) -> Option<&'n Key> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(k, _)| k)
    }
}

impl Cx<'_> {
    pub fn error(&mut self, location: &Location, message: impl Into<String>) {
        self.diags.error(location.clone(), message);
    }

    /// Checks that `node` is a mapping whose keys are all in `allowed`.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let Some(entries) = node.as_map() else {
            self.error(
                &node.location,
                format!("{what} must be a mapping, found {}", node.describe()),
            );
            return None;
        };
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                let hint = suggestion(&key.name, allowed.iter().copied());
                self.error(
                    &key.location,
                    format!(
                        "unknown key `{}` in {what}{hint}; expected one of: {}",
                        key.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(Fields { entries })
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(
                    &node.location,
                    format!("{what} must be a string, found {}", node.describe()),
                );
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.kind {
            NodeKind::Bool(b) => Some(b),
            _ => {
                self.error(
                    &node.location,
                    format!("{what} must be true or false, found {}", node.describe()),
                );
                None
            }
        }
    }

    /// A string or a list of strings.
    pub fn string_list(&mut self, node: &Node, what: &str) -> Vec<(String, Location)> {
        match &node.kind {
            NodeKind::Str(s, _) => vec![(s.clone(), node.location.clone())],
            NodeKind::Seq(items) => items
                .iter()
                .filter_map(|item| self.string(item, what).map(|s| (s, item.location.clone())))
                .collect(),
            _ => {
                self.error(
                    &node.location,
                    format!(
                        "{what} must be a string or a list of strings, found {}",
                        node.describe()
                    ),
                );
                Vec::new()
            }
        }
    }

    /// An input path or a list of fallback paths.
    /// An input path, `{ path_param: NAME }`, or a list of those (fallbacks).
    pub fn paths(&mut self, node: &Node) -> Option<Vec<InputPath>> {
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        if items.is_empty() {
            self.error(&node.location, "a list of input paths must not be empty");
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
                    self.diags.error(at, err.message);
                    None
                }
            },
            NodeKind::Map(_) => {
                let fields = self.fields(node, "an input path", PATH_FIELDS)?;
                let Some(name_node) = fields.get("path_param") else {
                    self.error(
                        &node.location,
                        "write an input path as a string or `{ path_param: PARAMETER }`",
                    );
                    return None;
                };
                self.path_from_param(name_node)
            }
            _ => {
                self.error(
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
                    &name_node.location,
                    format!("parameter `{name}` has no value, so it names no input path"),
                );
                None
            }
            _ => {
                self.error(
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
                let message = match err.unknown_name.as_deref() {
                    Some(name) => self.unknown_name_message(name).unwrap_or(err.message),
                    None => err.message,
                };
                self.diags.error(err.location, message);
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
        let shadowed = |name: &str| crate::rhai_names::is_rhai_standard_name(name);
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
            Ok(value) => match crate::script::dynamic_to_json(&value) {
                Ok(serde_json::Value::Bool(b)) => Some(b),
                Ok(serde_json::Value::Null) => Some(false),
                _ => {
                    self.error(&node.location, "a condition must give true or false");
                    None
                }
            },
            Err(err) => {
                self.diags
                    .error(err.location, format!("condition fails: {}", err.message));
                None
            }
        }
    }

    fn inputs(&mut self, node: &Node) -> Option<(Vec<String>, Vec<Input>)> {
        let Some(entries) = node.as_map() else {
            self.error(
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
            "parameter",
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
            "table",
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
        what: &str,
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
                    .error(at, format!("unknown {what} `{name}`{hint}; {fix}"));
                ok = false;
            }
        }
        ok
    }
}

/// The names the `let:` of every event section (and of `default`) defines.
fn section_let_names(
    events: Option<&Node>,
    default: Option<&Node>,
) -> std::collections::BTreeSet<String> {
    let sections = events
        .and_then(Node::as_map)
        .into_iter()
        .flatten()
        .map(|(_, section)| section)
        .chain(default);
    sections
        .filter_map(Node::as_map)
        .flat_map(|fields| fields.iter())
        .filter(|(key, _)| key.name == "let")
        .filter_map(|(_, lets)| lets.as_map())
        .flatten()
        .map(|(key, _)| key.name.clone())
        .collect()
}
