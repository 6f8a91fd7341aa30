//! The Meta Conversions API destination for eventmap (`destination: meta`).
//!
//! - [`Rule`]: the rules a server event must meet, by stable name (relaxable by a mapping);
//! - [`MetaValidator`]: those rules as an [`eventmap::Validator`];
//! - [`Meta`]: the destination, for a [`Registry`](eventmap_pipeline::destination::Registry).
//!
//! Delivery to Meta (its sink, access token, `test_event_code`, mock) is not here yet:
//! see docs/destinations.md.

mod rules;
mod validate;

pub use rules::Rule;
pub use validate::{MetaValidator, UnknownRule, MAX_AGE_SECS};

use eventmap::Validator;
use eventmap_pipeline::destination::RuleSet;

/// The name mappings give this destination (`destination: meta`).
pub const NAME: &str = "meta";

/// Meta's Conversions API as a [`Destination`](eventmap_pipeline::destination::Destination).
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta;

impl eventmap_pipeline::destination::Destination for Meta {
    fn name(&self) -> &'static str {
        NAME
    }

    fn validator(&self, relax: &[&str]) -> Result<Box<dyn Validator>, String> {
        MetaValidator::relaxing(relax.iter().copied())
            .map(|v| Box::new(v) as Box<dyn Validator>)
            .map_err(|e| e.to_string())
    }

    fn rules(&self) -> Vec<(&'static str, &'static str)> {
        Rule::described()
    }
}
