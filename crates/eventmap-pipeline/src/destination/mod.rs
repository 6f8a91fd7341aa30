//! Destinations as plug-ins: what a mapping's `destination:` names, behind one contract,
//! and the registry the commands look a name up in.
//!
//! A destination says its name, its rules (the validator every mapped event must pass,
//! with the rules a mapping relaxes turned off), its settings (credentials by environment
//! variable, never logged), its batch limits, what test mode means on its wire, and builds
//! its sink (which classifies the destination's answers and re-checks time windows before
//! each send). A crate that implements [`Destination`] and one line in the host's registry
//! make a new one known to `check`, `map`, `test`, `send`, `serve`, `consume` and
//! `connect` alike; a pipeline host builds its own registry the same way.
//!
//! - [`settings`]: [`Setting`], [`Settings`] and their errors;
//! - [`boxed`]: [`BoxSink`], any destination's sink behind one type;
//! - [`connect`]: the credentials check behind `eventmap connect`.

pub mod boxed;
pub mod connect;
pub mod settings;

pub use boxed::BoxSink;
pub use connect::{check_connection, ConnectionVerdict};
pub use settings::{Setting, Settings, SettingsError, Timeouts};

use std::sync::Arc;

use eventmap::{Code, Mapping, Validator};

use crate::delivery::OutgoingEvent;

/// What one request to a destination may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Events per request, at most (the API's limit).
    pub max_events: usize,
    /// Bytes of event JSON per request unless the user says otherwise (a batch closes
    /// before its events pass it).
    pub max_bytes: usize,
    /// Events per request unless the user says otherwise.
    pub default_events: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_events: 1000,
            max_bytes: 4 << 20,
            default_events: 10,
        }
    }
}

/// A destination's rules as a closed set of named values. Implement [`RuleSet::RULES`] and
/// [`RuleSet::describe`]; names, summaries, lookup by name and listings come with them, the
/// same for every destination.
pub trait RuleSet: Copy + PartialEq + 'static {
    /// Every rule, in the order the destination's docs list them.
    const RULES: &'static [Self];

    /// The rule's stable name (what `validate: { relax: [...] }` says) and what it requires.
    fn describe(self) -> (&'static str, &'static str);

    /// The stable name mappings and reports use.
    fn name(self) -> &'static str {
        self.describe().0
    }

    /// What the rule requires.
    fn summary(self) -> &'static str {
        self.describe().1
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::RULES.iter().copied().find(|r| r.name() == name)
    }

    /// Every name, comma-separated, for messages.
    fn names() -> String {
        Self::RULES
            .iter()
            .map(|r| r.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every rule as `(name, requires)`, for [`Destination::rules`].
    fn described() -> Vec<(&'static str, &'static str)> {
        Self::RULES.iter().map(|r| r.describe()).collect()
    }
}

/// One destination.
pub trait Destination: Send + Sync {
    /// What a mapping's `destination:` says (`openai`).
    fn name(&self) -> &'static str;

    /// Its validator with the rules named in `relax` turned off; a name it does not know
    /// is an error that says which are known.
    fn validator(&self, relax: &[&str]) -> Result<Box<dyn Validator>, String>;

    /// Its rules, each `(name, what it requires)`, in the order its docs list them.
    fn rules(&self) -> Vec<(&'static str, &'static str)>;

    /// The settings its sink reads (credentials, endpoint, options), in the order they
    /// are checked. None by default: a destination that only validates.
    fn settings(&self) -> &'static [Setting] {
        &[]
    }

    /// What one request may hold.
    fn limits(&self) -> BatchLimits {
        BatchLimits::default()
    }

    /// What test mode (`--validate-only`) means on its wire, in a sentence.
    fn test_mode(&self) -> &'static str {
        "not supported"
    }

    /// Its sink, from settings resolved by [`Destination::resolve_settings`]. The sink
    /// classifies the destination's answers (delivered, one event refused, the whole
    /// batch refused, retry later, credentials refused) and re-checks the destination's
    /// time window before each send. By default a destination does not deliver.
    fn sink(&self, settings: &Settings) -> Result<BoxSink, SettingsError> {
        let _ = settings;
        Err(SettingsError::Invalid(format!(
            "destination `{}` validates events but does not deliver them",
            self.name()
        )))
    }

    /// The harmless event `connect` sends in test mode to check the credentials; `None`
    /// when the destination has no such check.
    fn connection_test_event(&self, now_ms: i64) -> Option<OutgoingEvent> {
        let _ = now_ms;
        None
    }

    /// Its settings from `given` (`(name, value)` pairs from flags), else the
    /// environment (`env` reads a variable), else their defaults.
    fn resolve_settings(
        &self,
        given: &[(String, String)],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        Settings::resolve(self.name(), self.settings(), given, env)
    }
}

/// The destinations a host knows, by name.
#[derive(Default)]
pub struct Registry {
    destinations: Vec<Arc<dyn Destination>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The registry with `destination` known too (a later one of the same name wins).
    pub fn with(mut self, destination: impl Destination + 'static) -> Self {
        self.destinations.retain(|d| d.name() != destination.name());
        self.destinations.push(Arc::new(destination));
        self
    }

    /// The first destination registered: what `connect` checks when none is named.
    pub fn first(&self) -> Option<&dyn Destination> {
        self.destinations.first().map(|d| d.as_ref())
    }

    /// The destination called `name`, or an error listing the known ones.
    pub fn named(&self, name: &str) -> Result<&dyn Destination, String> {
        self.get(name).ok_or_else(|| {
            let known = self.names();
            format!(
                "unknown destination `{name}` (this eventmap knows: {}){}",
                known.join(", "),
                eventmap::suggestion(name, known.iter().copied())
            )
        })
    }

    /// The destination called `name`, to keep beyond the registry's life (a server's
    /// delivery task builds a fresh sink from it after a refusal).
    pub fn shared(&self, name: &str) -> Option<Arc<dyn Destination>> {
        self.destinations.iter().find(|d| d.name() == name).cloned()
    }

    pub fn get(&self, name: &str) -> Option<&dyn Destination> {
        self.destinations
            .iter()
            .find(|d| d.name() == name)
            .map(|d| d.as_ref())
    }

    /// The names known, in the order they were registered.
    pub fn names(&self) -> Vec<&'static str> {
        self.destinations.iter().map(|d| d.name()).collect()
    }

    /// The destination the mapping's events are delivered to: its `destination:`, which
    /// must be known. Errors read `FILE:LINE:COL: message` (or `FILE: message`).
    pub fn delivering_to(&self, mapping: &Mapping) -> Result<&dyn Destination, String> {
        let Some(name) = mapping.destination() else {
            return Err(coded(
                Code::InvalidValue,
                mapping.file(),
                format!(
                    "delivery needs the mapping to say where its events go, with `destination:` (one of: {})",
                    self.names().join(", ")
                ),
            ));
        };
        self.named(name).map_err(|e| {
            let place = mapping
                .destination_location()
                .map_or_else(|| mapping.file().to_string(), ToString::to_string);
            coded(Code::InvalidValue, place, e)
        })
    }

    /// The validator for the mapping's destination, relaxing what its `validate.relax`
    /// names; `Ok(None)` when it has no destination. Each error reads
    /// `FILE:LINE:COL: message` (or `FILE: message`), one a line, all of them at once.
    pub fn validator_for(&self, mapping: &Mapping) -> Result<Option<Box<dyn Validator>>, String> {
        let relax = mapping.relaxed_rules();
        if mapping.destination().is_none() {
            if relax.is_empty() {
                return Ok(None);
            }
            return Err(relax
                .iter()
                .map(|r| {
                    coded(
                        Code::RelaxedRule,
                        r.location.clone(),
                        "`validate.relax` needs a `destination:` whose rules it relaxes",
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"));
        }
        let destination = self.delivering_to(mapping)?;
        // Every unknown rule name at its own place, then the validator.
        let unknown: Vec<String> = relax
            .iter()
            .filter_map(|rule| {
                destination
                    .validator(&[rule.name.as_str()])
                    .err()
                    .map(|e| coded(Code::RelaxedRule, rule.location.clone(), e))
            })
            .collect();
        if !unknown.is_empty() {
            return Err(unknown.join("\n"));
        }
        let names: Vec<&str> = relax.iter().map(|r| r.name.as_str()).collect();
        destination
            .validator(&names)
            .map(Some)
            .map_err(|e| coded(Code::RelaxedRule, mapping.file(), e))
    }
}

/// `PLACE: message [CODE]`, as compile errors read (docs/errors.md).
fn coded(code: Code, place: impl std::fmt::Display, message: impl std::fmt::Display) -> String {
    format!("{place}: {message} [{code}]")
}

/// A destination for the pipeline layer's own tests: a secret key and a pixel id.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::{Destination, Setting};

    pub struct Secretive;

    const SETTINGS: &[Setting] = &[
        Setting::new("api_key", "SECRETIVE_KEY", "API key")
            .secret()
            .required(),
        Setting::new("pixel_id", "SECRETIVE_PIXEL", "pixel id").required(),
    ];

    impl Destination for Secretive {
        fn name(&self) -> &'static str {
            "secretive"
        }

        fn validator(&self, _relax: &[&str]) -> Result<Box<dyn eventmap::Validator>, String> {
            Err("no validator".into())
        }

        fn rules(&self) -> Vec<(&'static str, &'static str)> {
            Vec::new()
        }

        fn settings(&self) -> &'static [Setting] {
            SETTINGS
        }
    }
}
