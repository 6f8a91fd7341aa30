//! Every rule of the Conversions API event that can be checked before sending.
//!
//! The validator walks the mapped JSON and collects every violation (a typed parse would
//! stop at the first). Rules, from the API reference:
//! - `id`: a non-empty string. `type`: a documented event type or `custom`.
//! - `custom_event_name`: required exactly when `type` is `custom`; 1–64 characters,
//!   letters, digits, `_` and `-`, starting and ending with a letter or digit, not a
//!   standard type name.
//! - `timestamp_ms`: an integer within 7 days before and 10 minutes after the clock.
//! - `action_source`: one of the documented sources; `web` requires `source_url`, an
//!   http(s) URL with a host; `app_installed` and `app_opened` require `mobile_app`.
//! - `oppref`: a non-empty string; `opt_out`: a boolean.
//! - `user`: either documented shape (scalars, or lists of up to the first three values).
//!   Hashes are lowercase 64-hex SHA-256, `country` an ISO 3166-1 alpha-2 code, `city` at
//!   most 128 characters, `zip_code` at most 32 letters, digits, spaces and hyphens,
//!   `ip_address` an IPv4 or IPv6 address, `user_agent` non-empty.
//! - `data`: an object whose `type` matches the event type (`contents`,
//!   `customer_action`, `plan_enrollment`, `custom`), with only the fields of its shape;
//!   `amount` a non-negative integer (minor units); `currency` an uppercase ISO 4217 code,
//!   required whenever an amount is present at the event or item level (an event-level
//!   currency covers its items).
//! - content items: objects with at least one of `id`, `name`, `content_type`,
//!   `quantity`, `amount`, `currency`, `group_id`, `variant_dict`, and nothing else.
//! - Unknown top-level fields are violations (they are usually a mapping typo).

mod check;
mod data;
mod user;
mod window;

use eventmap::{Node, Validator, Violation};
use eventmap_pipeline::destination::RuleSet;

pub use crate::rules::Rule;
use check::Check;
pub use window::{timestamp_violation, MAX_AGE_MS, MAX_AHEAD_MS};

/// The name mappings give this destination (`destination: openai`), which its
/// validator reports and the registry looks it up by.
pub const NAME: &str = "openai";

/// The OpenAI Ads Conversions API's rules; strict (every rule) unless a mapping relaxes
/// some by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenAiValidator {
    /// One bit per [`Rule`] turned off.
    relaxed: u64,
}

/// A rule name the validator does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a rule of the OpenAI validator (its rules: {names})", names = Rule::names())]
pub struct UnknownRule(pub String);

impl OpenAiValidator {
    /// Every rule enforced.
    pub const STRICT: Self = Self { relaxed: 0 };

    /// Every rule but those named.
    pub fn relaxing<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownRule> {
        let mut relaxed = 0;
        for name in names {
            let rule = Rule::from_name(name).ok_or_else(|| UnknownRule(name.to_string()))?;
            relaxed |= rule.bit();
        }
        Ok(Self { relaxed })
    }

    /// The rules turned off, in [`Rule::ALL`] order.
    pub fn relaxed(&self) -> impl Iterator<Item = Rule> + '_ {
        Rule::ALL
            .into_iter()
            .filter(|r| self.relaxed & r.bit() != 0)
    }
}

impl Validator for OpenAiValidator {
    fn destination(&self) -> &str {
        NAME
    }

    fn validate_node(&self, event: Node<'_>, now_ms: i64) -> Vec<Violation> {
        let mut check = Check {
            violations: Vec::new(),
            relaxed: self.relaxed,
        };
        check.event(event, now_ms);
        check.violations
    }
}
