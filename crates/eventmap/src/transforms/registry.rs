//! The set of transforms a mapping may use: the built-ins, and those a host or a plug-in
//! file adds.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;

use serde_json::Value;

use super::transform::{FieldReads, Transform, TransformError, TransformFn};
use super::{click_id, country, hash, lookup, money, text, time};

/// Built-ins that read only some fields of their input.
const FIELD_READS: &[(&str, FieldReads)] = &[
    (
        "total_minor_units",
        FieldReads(&[(1, "price"), (2, "quantity")]),
    ),
    (
        "total_major_units",
        FieldReads(&[(1, "price"), (2, "quantity")]),
    ),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("transform name `{0}` is not a valid identifier (letters, digits and `_`, not starting with a digit)")]
    InvalidName(String),
    #[error("a transform named `{0}` is already registered")]
    Duplicate(String),
}

/// The set of transforms a mapping may use. Start from [`Registry::with_builtins`] and add
/// host functions with [`Registry::register`] before compiling.
#[derive(Debug, Clone)]
pub struct Registry {
    transforms: BTreeMap<String, Arc<Transform>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::with_builtins()
    }
}

impl Registry {
    /// An empty registry (no built-ins).
    pub fn empty() -> Self {
        Self {
            transforms: BTreeMap::new(),
        }
    }

    /// The built-in transforms (see `docs/mapping-language.md`).
    pub fn with_builtins() -> Self {
        let mut registry = Self::empty();
        for (name, args, summary, func) in builtins() {
            let reads = FIELD_READS
                .iter()
                .find(|(reader, _)| *reader == name)
                .map(|&(_, reads)| reads);
            registry
                .insert(name, args, summary, func, reads)
                .expect("built-in transform names are valid and unique");
        }
        registry
    }

    /// Registers a host transform. `extra_args` is how many arguments it takes after the
    /// input value (`0..=0` for a plain `value -> value` function).
    pub fn register<F>(
        &mut self,
        name: &str,
        extra_args: RangeInclusive<usize>,
        summary: &str,
        func: F,
    ) -> Result<(), RegistryError>
    where
        F: Fn(&Value, &[Value]) -> Result<Option<Value>, TransformError> + Send + Sync + 'static,
    {
        self.insert(name, extra_args, summary, Arc::new(func), None)
    }

    fn insert(
        &mut self,
        name: &str,
        extra_args: RangeInclusive<usize>,
        summary: &str,
        func: Arc<TransformFn>,
        reads: Option<FieldReads>,
    ) -> Result<(), RegistryError> {
        if !is_identifier(name) {
            return Err(RegistryError::InvalidName(name.to_string()));
        }
        if self.transforms.contains_key(name) {
            return Err(RegistryError::Duplicate(name.to_string()));
        }
        self.transforms.insert(
            name.to_string(),
            Arc::new(Transform {
                name: name.to_string(),
                extra_args,
                summary: summary.to_string(),
                func,
                reads,
            }),
        );
        Ok(())
    }

    /// Adds a transform built elsewhere (a plug-in file's function).
    pub(crate) fn add(&mut self, transform: Transform) -> Result<(), RegistryError> {
        if self.transforms.contains_key(&transform.name) {
            return Err(RegistryError::Duplicate(transform.name));
        }
        self.transforms
            .insert(transform.name.clone(), Arc::new(transform));
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Transform>> {
        self.transforms.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.transforms.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Transform>> {
        self.transforms.values()
    }
}

pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

type Builtin = (
    &'static str,
    RangeInclusive<usize>,
    &'static str,
    Arc<TransformFn>,
);

fn builtins() -> Vec<Builtin> {
    vec![
        (
            "to_ms",
            0..=1,
            "timestamp (RFC 3339, epoch s or ms) to epoch milliseconds; optional unit: auto|s|ms",
            Arc::new(time::to_ms_transform),
        ),
        (
            "minor_units",
            1..=1,
            "decimal amount to integer minor units of the currency given as argument",
            Arc::new(money::minor_units_transform),
        ),
        (
            "total_minor_units",
            1..=3,
            "sum of price x quantity over a list, in minor units of the currency argument; optional price and quantity field names",
            Arc::new(money::total_minor_units_transform),
        ),
        (
            "major_units",
            1..=1,
            "decimal amount rounded to the currency's minor unit, as a number in its major unit (19.99, not 1999)",
            Arc::new(money::major_units_transform),
        ),
        (
            "total_major_units",
            1..=3,
            "sum of price x quantity over a list, exact, as a number in the currency's major unit; optional price and quantity field names",
            Arc::new(money::total_major_units_transform),
        ),
        (
            "currency_code",
            0..=0,
            "ISO 4217 currency code, trimmed and uppercased; error when unknown",
            Arc::new(money::currency_code_transform),
        ),
        (
            "country_alpha2",
            0..=0,
            "ISO 3166-1 alpha-2 code from a country name, alias, alpha-2 or alpha-3 code",
            Arc::new(country::country_alpha2_transform),
        ),
        (
            "sha256_email",
            0..=0,
            "SHA-256 hex of an email after trim + lowercase (64-hex input passes through)",
            Arc::new(hash::sha256_email_transform),
        ),
        (
            "sha256_phone",
            0..=0,
            "SHA-256 hex of a phone number reduced to its E.164 digits",
            Arc::new(hash::sha256_phone_transform),
        ),
        (
            "sha256_name",
            0..=0,
            "SHA-256 hex of a name after trim, lowercase and removing ASCII punctuation",
            Arc::new(hash::sha256_name_transform),
        ),
        (
            "sha256_external_id",
            0..=0,
            "SHA-256 hex of an identifier after trim + lowercase",
            Arc::new(hash::sha256_external_id_transform),
        ),
        (
            "sha256",
            0..=0,
            "SHA-256 hex of the value as given (no normalization)",
            Arc::new(hash::sha256_raw_transform),
        ),
        ("trim", 0..=0, "remove leading and trailing whitespace", Arc::new(text::trim)),
        (
            "snake_case",
            0..=1,
            "lowercase ASCII identifier, other characters as `_`; optional maximum length",
            Arc::new(text::snake_case),
        ),
        ("lower", 0..=0, "lowercase (Unicode)", Arc::new(text::lower)),
        (
            "alnum",
            0..=0,
            "letters and digits only (spaces, punctuation and symbols removed)",
            Arc::new(text::alnum),
        ),
        ("upper", 0..=0, "uppercase (Unicode)", Arc::new(text::upper)),
        (
            "lookup",
            1..=2,
            "the value's entry in a table (`tables:` or a table parameter); optional mode: exact|ignore_case (case and separators aside, as event names match); absent when not found",
            Arc::new(lookup::lookup),
        ),
        (
            "query_param",
            1..=1,
            "value of the named query parameter of a URL (percent-decoded)",
            Arc::new(text::query_param),
        ),
        (
            "valid_oppref",
            0..=0,
            "the value when it is an ad click id (1 to 256 URL-safe characters), else absent",
            Arc::new(click_id::valid_oppref_transform),
        ),
        (
            "to_string",
            0..=0,
            "the value as a string (numbers and booleans are formatted)",
            Arc::new(text::to_string),
        ),
        (
            "to_int",
            0..=0,
            "an integer from an integral number or numeric string",
            Arc::new(money::to_int_transform),
        ),
    ]
}
