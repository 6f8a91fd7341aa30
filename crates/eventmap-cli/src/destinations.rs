//! The destinations this build knows: a mapping's `destination:` picks the validator
//! every mapped event must pass.

use eventmap::{Mapping, Validator};

/// Names accepted in `destination:`.
pub const KNOWN: &[&str] = &["openai"];

/// The validator for a destination name; `Ok(None)` when there is none.
pub fn lookup(destination: Option<&str>) -> Result<Option<Box<dyn Validator>>, String> {
    match destination {
        None => Ok(None),
        Some("openai") => Ok(Some(Box::new(eventmap_openai::OpenAiValidator))),
        Some(other) => Err(format!(
            "unknown destination `{other}` (this eventmap knows: {})",
            KNOWN.join(", ")
        )),
    }
}

/// The validator for the mapping's destination.
pub fn validator_for(mapping: &Mapping) -> anyhow::Result<Option<Box<dyn Validator>>> {
    lookup(mapping.destination()).map_err(|e| anyhow::anyhow!("{}: {e}", mapping.file()))
}
