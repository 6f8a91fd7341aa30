//! The destinations this build knows: one line each. A mapping's `destination:` picks one
//! by name (see `eventmap_pipeline::destination`); nothing else in the command line names
//! a destination.

use eventmap::{Mapping, Validator};
use eventmap_pipeline::destination::Registry;

/// Every destination this eventmap delivers to or validates for.
pub fn registry() -> Registry {
    Registry::new()
        .with(eventmap_openai::OpenAi)
        .with(eventmap_meta::Meta)
}

/// The validator for the mapping's destination (see [`Registry::validator_for`]).
pub fn lookup(mapping: &Mapping) -> Result<Option<Box<dyn Validator>>, String> {
    registry().validator_for(mapping)
}

/// [`lookup`] for the command line's `anyhow` errors.
pub fn validator_for(mapping: &Mapping) -> anyhow::Result<Option<Box<dyn Validator>>> {
    lookup(mapping).map_err(|e| anyhow::anyhow!("{e}"))
}
