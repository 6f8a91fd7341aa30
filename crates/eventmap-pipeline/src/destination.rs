//! Destinations as plug-ins: what a mapping's `destination:` names, behind one contract,
//! and the registry the commands look a name up in.
//!
//! A destination says its name and its rules: the validator every mapped event must pass,
//! with the rules a mapping relaxes (`validate: { relax: [...] }`) turned off. A crate
//! that implements [`Destination`] and one line in the host's registry make a new one
//! known to `check`, `map`, `test`, `send` and `serve` alike; a pipeline host builds its own
//! registry the same way.

use eventmap::{Mapping, Validator};

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
}

/// The destinations a host knows, by name.
#[derive(Default)]
pub struct Registry {
    destinations: Vec<Box<dyn Destination>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The registry with `destination` known too (a later one of the same name wins).
    pub fn with(mut self, destination: impl Destination + 'static) -> Self {
        self.destinations.retain(|d| d.name() != destination.name());
        self.destinations.push(Box::new(destination));
        self
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

    /// The validator for the mapping's destination, relaxing what its `validate.relax`
    /// names; `Ok(None)` when it has no destination. Each error reads
    /// `FILE:LINE:COL: message` (or `FILE: message`), one a line, all of them at once.
    pub fn validator_for(&self, mapping: &Mapping) -> Result<Option<Box<dyn Validator>>, String> {
        let relax = mapping.relaxed_rules();
        let Some(name) = mapping.destination() else {
            if relax.is_empty() {
                return Ok(None);
            }
            return Err(relax
                .iter()
                .map(|r| {
                    format!(
                        "{}: `validate.relax` needs a `destination:` whose rules it relaxes",
                        r.location
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"));
        };
        let Some(destination) = self.get(name) else {
            let place = mapping
                .destination_location()
                .map_or_else(|| mapping.file().to_string(), ToString::to_string);
            let known = self.names();
            return Err(format!(
                "{place}: unknown destination `{name}` (this eventmap knows: {}){}",
                known.join(", "),
                eventmap::suggestion(name, known.iter().copied())
            ));
        };
        // Every unknown rule name at its own place, then the validator.
        let unknown: Vec<String> = relax
            .iter()
            .filter_map(|rule| {
                destination
                    .validator(&[rule.name.as_str()])
                    .err()
                    .map(|e| format!("{}: {e}", rule.location))
            })
            .collect();
        if !unknown.is_empty() {
            return Err(unknown.join("\n"));
        }
        let names: Vec<&str> = relax.iter().map(|r| r.name.as_str()).collect();
        destination
            .validator(&names)
            .map(Some)
            .map_err(|e| format!("{}: {e}", mapping.file()))
    }
}
