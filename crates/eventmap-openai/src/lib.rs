//! The OpenAI Ads Conversions API destination for eventmap.
//!
//! - [`model`]: the Conversions API event as Rust types.
//! - [`OpenAiValidator`]: every rule an event must meet before it may be sent, as an
//!   [`eventmap::Validator`] (mappings with `destination: openai` get it).
//! - [`delivery`]: the [`OpenAiSink`] that sends batches to the API, and the credentials
//!   check behind `eventmap connect`.

pub mod delivery;
pub mod model;
mod rules;
mod validate;

/// The OpenAI Conversions API as a [`Destination`](eventmap_pipeline::destination::Destination).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAi;

impl eventmap_pipeline::destination::Destination for OpenAi {
    fn name(&self) -> &'static str {
        NAME
    }

    fn validator(&self, relax: &[&str]) -> Result<Box<dyn Validator>, String> {
        OpenAiValidator::relaxing(relax.iter().copied())
            .map(|v| Box::new(v) as Box<dyn Validator>)
            .map_err(|e| e.to_string())
    }

    fn rules(&self) -> Vec<(&'static str, &'static str)> {
        Rule::described()
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: delivery::MAX_BATCH_EVENTS,
            max_bytes: 4 << 20,
            default_events: delivery::DEFAULT_BATCH_EVENTS,
        }
    }

    fn test_mode(&self) -> &'static str {
        "`validate_only: true` in the request: the API validates each event and records nothing"
    }

    fn sink(&self, settings: &Settings) -> Result<BoxSink, SettingsError> {
        let config = OpenAiSinkConfig::from_settings(settings)?;
        OpenAiSink::new(&config)
            .map(BoxSink::new)
            .map_err(|e| SettingsError::Invalid(e.to_string()))
    }

    fn connection_test_event(&self, now_ms: i64) -> Option<OutgoingEvent> {
        Some(delivery::test_outgoing(now_ms))
    }
}

/// What the OpenAI sink reads, each from a flag or its environment variable.
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "endpoint",
        "OPENAI_CAPI_ENDPOINT",
        "Conversions API base URL",
    )
    .flag("--endpoint")
    .default(delivery::DEFAULT_ENDPOINT),
    Setting::new("api_key", "OPENAI_CAPI_KEY", "conversions API key")
        .flag("--api-key")
        .secret()
        .required(),
    Setting::new("pixel_id", "OPENAI_PIXEL_ID", "pixel id")
        .flag("--pixel-id")
        .required(),
    Setting::new(
        "integration_source",
        "OPENAI_INTEGRATION_SOURCE",
        "integration source",
    )
    .flag("--integration-source"),
];

pub use delivery::{Credentials, OpenAiSink, OpenAiSinkConfig};
pub use model::{CapiEvent, ContentItem, DataType, EventData, EventType};
pub use validate::{
    timestamp_violation, OpenAiValidator, Rule, UnknownRule, MAX_AGE_MS, MAX_AHEAD_MS, NAME,
};

use eventmap::{Validator, Violation};
use eventmap_pipeline::delivery::OutgoingEvent;
use eventmap_pipeline::destination::{
    BatchLimits, BoxSink, RuleSet, Setting, Settings, SettingsError,
};
use serde_json::Value;

/// Validates a mapped event and returns it typed, or every reason it is invalid.
pub fn parse_valid(event: &Value, now_ms: i64) -> Result<CapiEvent, Vec<Violation>> {
    let violations = OpenAiValidator::STRICT.validate(event, now_ms);
    if !violations.is_empty() {
        return Err(violations);
    }
    serde_json::from_value(event.clone()).map_err(|e| {
        vec![Violation::new(
            "",
            format!("does not match the event model: {e}"),
        )]
    })
}
