//! Rhai: the sandboxed engine that compiles and runs mapping expressions (`engine.rs`),
//! the names Rhai reserves (`rhai_names.rs`), and transforms written in Rhai plug-in
//! files (`plugin.rs`).

pub(crate) mod engine;
pub(crate) mod plugin;
pub(crate) mod rhai_names;
