//! Compiles a mapping file into a [`Program`]: one walk over the located YAML tree that
//! checks every section, resolves parameters, parses paths, looks up transforms and
//! compiles expressions, collecting every error with its `file:line:col`.
//!
//! One style for passes: a section of the file is read by a function of its own module
//! (`params::compile`, `tables::tables`, `plugins::load`, `events::sections`, …) that
//! [`compile`] calls in order, handing it the compiler's state; what several sections
//! read (output keys, `let` values, input paths, expressions, parameter values) is a
//! method of that state, [`Cx`], written in the module named for it (`keys.rs`,
//! `lets.rs`, `scripts.rs`). Every pass reports into `Cx` and carries on with what it
//! could read.

mod cx;
mod events;
mod keys;
mod lets;
mod native;
mod options;
mod params;
mod plugins;
mod reads;
mod relax;
mod scripts;
mod steps;
mod tables;
pub(crate) mod vocabulary;

pub use options::{CompileOptions, EnvLookup};
pub(crate) use reads::read_set;

use std::sync::Arc;

use crate::codes::Code;
use crate::diagnostics::{CompileError, Diagnostics};
use crate::input::path::InputPath;
use crate::program::Program;
use crate::script::engine::{ParamTable, ScriptEngine};
use crate::yaml::{self, Node, NodeKind};
use cx::Cx;
use vocabulary::TOP_LEVEL;

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
                Code::InvalidValue,
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
            Code::EventMatch,
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
