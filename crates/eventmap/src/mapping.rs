//! The public face of a compiled mapping.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::compile::{compile, read_set, CompileOptions};
use crate::diagnostics::CompileError;
use crate::input::parse::parse_borrowed;
use crate::input::readset::Reads;
use crate::input::tree::EventTree;
use crate::output::view::Output;
use crate::program::Program;
use crate::runtime::{EventContext, Outcome};

/// A compiled mapping. Cheap to clone and `Send + Sync`: compile once, share it across
/// threads and tasks, and call [`Mapping::map`] for each event.
#[derive(Debug, Clone)]
pub struct Mapping {
    program: Arc<Program>,
    pub(crate) reads: Arc<Reads>,
}

/// An event mapped straight from its JSON text by [`Mapping::map_json`] (the mapped event
/// as a JSON value) or [`Mapping::map_json_output`] (an [`Output`], still in its slots).
#[derive(Debug, Clone, PartialEq)]
pub struct MappedEvent<T = Value> {
    pub outcome: Outcome<T>,
    /// The event's `messageId`, when the event was not mapped (reports name it).
    pub id: Option<String>,
    /// The section that mapped the event has `test_mode: true` (or the whole file has):
    /// deliver it with the destination's test flag (OpenAI: `validate_only`).
    pub test_mode: bool,
}

/// An event's JSON text that cannot be mapped at all.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON, but an event is an object: `[...]`, `"text"`, `42` or `null` is not.
    #[error("not an event: an event is a JSON object, this line is {0}")]
    NotAnObject(&'static str),
}

/// Reading or compiling a mapping file failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read mapping file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Compile(#[from] CompileError),
}

impl Mapping {
    /// Compiles mapping source text; `file_name` is used in diagnostics.
    pub fn compile(
        source: &str,
        file_name: &str,
        options: &CompileOptions,
    ) -> Result<Self, CompileError> {
        let program = compile(source, Arc::from(file_name), options)?;
        let reads = read_set(&program);
        Ok(Self {
            program: Arc::new(program),
            reads: Arc::new(reads),
        })
    }

    /// Reads and compiles a mapping file.
    pub fn from_file(path: impl AsRef<Path>, options: &CompileOptions) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: shown.clone(),
            source,
        })?;
        Ok(Self::compile(&source, &shown, options)?)
    }

    /// Parses an event's JSON text keeping only what this mapping reads (and `messageId`).
    /// Mapping the result gives the same outcome as mapping the fully parsed event, at a
    /// fraction of the parsing and memory cost. Malformed JSON is rejected as by
    /// `serde_json::from_str`; any JSON value is accepted (see [`Mapping::map_json`]).
    pub fn parse_event(&self, json: &str) -> Result<Value, serde_json::Error> {
        if self.reads.tree.reads_everything() {
            return serde_json::from_str(json);
        }
        let arena = bumpalo::Bump::new();
        parse_borrowed(json, &self.reads.tree, &arena).map(|tree| tree.to_json())
    }

    /// Parses and maps one event given as JSON text. The event is parsed into a tree that
    /// borrows its strings from `json` and holds only what the mapping reads. Malformed
    /// JSON is an error, as with `serde_json::from_str`, and so is JSON that is not an
    /// object: no event is an array, a string or a number.
    pub fn map_json(&self, json: &str, cx: &EventContext) -> Result<MappedEvent, EventError> {
        let mapped = self.map_json_output(json, cx)?;
        Ok(MappedEvent {
            outcome: mapped.outcome.map(Output::into_value),
            id: mapped.id,
            test_mode: mapped.test_mode,
        })
    }

    /// [`Mapping::map_json`], the mapped event left in its slots: the fastest way to map
    /// a stream. Validate it where it lies ([`Output::root`]) and write it as JSON
    /// ([`Output::write_json`]) without building a `serde_json` object tree.
    pub fn map_json_output(
        &self,
        json: &str,
        cx: &EventContext,
    ) -> Result<MappedEvent<Output<'_>>, EventError> {
        if self.reads.collects || self.reads.tree.reads_everything() {
            // Wildcards and JSONPath collect JSON values; map on a JSON tree throughout.
            let event = self.parse_event(json)?;
            if !event.is_object() {
                return Err(EventError::NotAnObject(EventTree::kind(&event)));
            }
            let (outcome, test_mode) = self.program.run_in_mode(&event, cx);
            let id = unmapped_id(&outcome, &event);
            return Ok(MappedEvent {
                outcome,
                id,
                test_mode,
            });
        }
        crate::input::tree::with_arena(|arena| {
            let event = parse_borrowed(json, &self.reads.tree, arena)?;
            if !event.is_object() {
                return Err(EventError::NotAnObject(event.kind()));
            }
            let (outcome, test_mode) = self.program.run_in_mode(&event, cx);
            let id = unmapped_id(&outcome, &event);
            Ok(MappedEvent {
                outcome,
                id,
                test_mode,
            })
        })
    }

    /// Maps one event.
    pub fn map(&self, event: &Value, cx: &EventContext) -> Outcome {
        self.program.run(event, cx)
    }

    /// Maps one event, as [`Mapping::map_json`] does for JSON text.
    pub fn map_value(&self, event: &Value, cx: &EventContext) -> MappedEvent {
        let (outcome, test_mode) = self.program.run_in_mode(event, cx);
        let id = unmapped_id(&outcome, event);
        MappedEvent {
            outcome: outcome.map(Output::into_value),
            id,
            test_mode,
        }
    }

    /// How the mapping treats `event`, key by key: where each value came from, or why a
    /// key is absent. The outcome is the one [`Mapping::map`] gives.
    pub fn explain(&self, event: &Value, cx: &EventContext) -> crate::Explanation {
        self.program.explain(event, cx)
    }

    /// The mapping's `name:`, if given.
    pub fn name(&self) -> Option<&str> {
        self.program.name.as_deref()
    }

    /// The mapping's `destination:` (e.g. `openai`), if given.
    pub fn destination(&self) -> Option<&str> {
        self.program.destination.as_deref()
    }

    /// Where the mapping's `destination:` value is (`FILE:LINE:COL`), if given.
    pub fn destination_location(&self) -> Option<&crate::Location> {
        self.program.destination_location.as_ref()
    }

    /// Destination rules the mapping relaxes (`validate: { relax: [...] }`), in file order.
    pub fn relaxed_rules(&self) -> &[crate::validate::RelaxedRule] {
        &self.program.relaxed
    }

    /// The transforms the mapping's plug-in files (`transforms:`) define, in file order.
    pub fn plugin_transforms(&self) -> &[crate::PluginTransform] {
        &self.program.plugins
    }

    /// The file name diagnostics use.
    pub fn file(&self) -> &str {
        &self.program.file
    }

    /// The names of the event sections, in file order (plus `default` when it maps).
    pub fn event_sections(&self) -> impl Iterator<Item = &str> {
        self.program.plans.iter().map(|p| p.name.as_str())
    }
}

fn unmapped_id<T: EventTree, O>(outcome: &Outcome<O>, event: &T) -> Option<String> {
    match outcome {
        Outcome::Mapped(_) => None,
        _ => event
            .get("messageId")
            .and_then(EventTree::as_str)
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Mapping>();
    }
}
