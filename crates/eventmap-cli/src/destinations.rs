//! The destinations this build knows: a mapping's `destination:` picks the validator
//! every mapped event must pass, with the rules the mapping relaxes turned off.

use eventmap::{Mapping, Validator};

/// Names accepted in `destination:`.
pub const KNOWN: &[&str] = &["openai"];

/// The validator for the mapping's destination, relaxing what its `validate.relax`
/// names; `Ok(None)` when it has no destination. Each error reads `FILE:LINE:COL: message`
/// (or `FILE: message`), one a line.
pub fn lookup(mapping: &Mapping) -> Result<Option<Box<dyn Validator>>, String> {
    let relax = mapping.relaxed_rules();
    match mapping.destination() {
        None if relax.is_empty() => Ok(None),
        None => Err(relax
            .iter()
            .map(|r| {
                format!(
                    "{}: `validate.relax` needs a `destination:` whose rules it relaxes",
                    r.location
                )
            })
            .collect::<Vec<_>>()
            .join("\n")),
        Some("openai") => {
            let unknown: Vec<String> = relax
                .iter()
                .filter_map(|rule| {
                    eventmap_openai::OpenAiValidator::relaxing([rule.name.as_str()])
                        .err()
                        .map(|e| format!("{}: {e}", rule.location))
                })
                .collect();
            if !unknown.is_empty() {
                return Err(unknown.join("\n"));
            }
            eventmap_openai::OpenAiValidator::relaxing(relax.iter().map(|r| r.name.as_str()))
                .map(|v| Some(Box::new(v) as Box<dyn Validator>))
                .map_err(|e| format!("{}: {e}", mapping.file()))
        }
        Some(other) => Err(format!(
            "{}: unknown destination `{other}` (this eventmap knows: {}){}",
            mapping
                .destination_location()
                .map_or_else(|| mapping.file().to_string(), ToString::to_string),
            KNOWN.join(", "),
            eventmap::suggestion(other, KNOWN.iter().copied())
        )),
    }
}

/// [`lookup`] for the command line's `anyhow` errors.
pub fn validator_for(mapping: &Mapping) -> anyhow::Result<Option<Box<dyn Validator>>> {
    lookup(mapping).map_err(|e| anyhow::anyhow!("{e}"))
}
