//! eventmap: a declarative mapping engine for customer events.
//!
//! A YAML mapping file is compiled once into a [`Mapping`] (every error reported with its
//! `file:line:col`), then applied to each event:
//!
//! ```
//! use eventmap::{CompileOptions, EventContext, Mapping, Outcome};
//!
//! let yaml = r#"
//! events:
//!   order:
//!     match: { event: Order Completed }
//!     keys:
//!       type: { const: order_created }
//!       id: { from: messageId, required: true }
//!       data.amount:
//!         expr: minor_units(total, currency)
//!         inputs: { total: properties.total, currency: properties.currency }
//! "#;
//! let mapping = Mapping::compile(yaml, "example.yaml", &CompileOptions::default()).unwrap();
//! let event = serde_json::json!({
//!     "type": "track", "event": "Order Completed", "messageId": "m-1",
//!     "properties": {"total": 4.35, "currency": "USD"}
//! });
//! let Outcome::Mapped(out) = mapping.map(&event, &EventContext::now()) else { panic!() };
//! assert_eq!(out["data"]["amount"], 435);
//! ```
//!
//! Hosts add their own transforms to a [`Registry`] before compiling; see
//! `docs/embedding.md`.

mod codes;
mod compile;
mod diagnostics;
mod event_name;
mod explain;
pub mod fixtures;
mod input;
mod json_string;
mod mapping;
mod output;
mod params;
mod program;
mod runtime;
mod schema;
mod script;
pub mod transforms;
mod types;
mod validate;
mod value;
pub mod yaml;

#[cfg(test)]
#[path = "../benches/corpus.rs"]
mod bench_corpus;

pub use codes::Code;
pub use compile::{CompileOptions, EnvLookup};
pub use diagnostics::{suggestion, CompileError, Diagnostic, Location};
pub use explain::{Explanation, KeyResult, KeyTrace};
pub use input::path::{InputPath, PathError};
pub use mapping::{EventError, LoadError, MappedEvent, Mapping};
pub use output::view::{Elements, Fields, FieldsIter, Items, Node, Output};
pub use params::env_var_for;
pub use runtime::{EventContext, KeyError, Matched, Outcome};
pub use schema::{mapping_schema, SCHEMA_ID};
pub use script::engine::SandboxLimits;
pub use script::plugin::PluginTransform;
pub use transforms::{Registry, RegistryError, Transform, TransformError};
pub use validate::{RelaxedRule, Validator, Violation};
pub use value::{is_absent, shorten_json};
