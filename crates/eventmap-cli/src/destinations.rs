//! The destinations this build knows: a mapping's `destination:` picks the validator
//! every mapped event must pass.

use anyhow::bail;
use eventmap::{Mapping, Validator};

/// Names accepted in `destination:`.
pub(crate) const KNOWN: &[&str] = &["openai"];

/// The validator for the mapping's destination; `None` when it declares none.
pub(crate) fn validator_for(mapping: &Mapping) -> anyhow::Result<Option<Box<dyn Validator>>> {
    match mapping.destination() {
        None => Ok(None),
        Some("openai") => Ok(Some(Box::new(eventmap_openai::OpenAiValidator))),
        Some(other) => bail!(
            "{}: unknown destination `{other}` (this eventmap knows: {})",
            mapping.file(),
            KNOWN.join(", ")
        ),
    }
}
