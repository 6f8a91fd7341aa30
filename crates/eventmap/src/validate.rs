//! The check a destination makes of mapped events before they may be sent.
//!
//! The core knows no destination; a destination crate (such as `eventmap-openai`)
//! implements [`Validator`], and hosts and the command line apply it to every mapped
//! event. An event with any violation never reaches a batch.

use std::fmt;

use serde_json::Value;

use crate::diagnostics::Location;
use crate::output::view::Node;

/// Why a mapped event is not a valid event for a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where in the mapped event (`data.contents[0].amount`; empty for the whole event).
    pub path: String,
    pub message: String,
    /// The stable name of the rule broken (`amount_non_negative`), when the destination
    /// names its rules; empty otherwise.
    pub rule: &'static str,
}

impl Violation {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            rule: "",
        }
    }

    /// A violation of a named rule.
    pub fn of_rule(
        rule: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule,
            ..Self::new(path, message)
        }
    }
}

/// A destination rule a mapping relaxes (`validate: { relax: [NAME, …] }`), with where it
/// is named, so that a name the destination does not know is reported there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaxedRule {
    pub name: String,
    pub location: Location,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A destination's rules for the events it accepts.
pub trait Validator: Send + Sync {
    /// The name mappings use in `destination:` (e.g. `openai`).
    fn destination(&self) -> &str;

    /// The output key that holds the event's deduplication id (OpenAI's `id`, Meta's
    /// `event_id`): delivery, reports and dead letters name an event by it.
    fn id_key(&self) -> &str {
        "id"
    }

    /// Every reason `event` is invalid, judged at `now_ms` (epoch milliseconds: some rules
    /// are time windows). Empty when the event is valid. The event is read where the
    /// mapping left it ([`Output::root`](crate::Output::root)), or from JSON.
    fn validate_node(&self, event: Node<'_>, now_ms: i64) -> Vec<Violation>;

    /// [`Validator::validate_node`] of a JSON event.
    fn validate(&self, event: &Value, now_ms: i64) -> Vec<Violation> {
        self.validate_node(Node::Value(event), now_ms)
    }
}
