//! The Meta Conversions API destination for eventmap (`destination: meta`).
//!
//! - [`Rule`]: the rules a server event must meet, by stable name (relaxable by a mapping);
//! - [`MetaValidator`]: those rules as an [`eventmap::Validator`];
//! - [`delivery`]: the [`MetaSink`](delivery::MetaSink) that sends batches to the Graph
//!   API, and how its answers are read;
//! - [`Meta`]: the destination, for a [`Registry`](eventmap_pipeline::destination::Registry):
//!   its settings (`META_ACCESS_TOKEN`, `META_PIXEL_ID`, …), limits and test mode.

pub mod delivery;
mod rules;
mod validate;

pub use rules::Rule;
pub use validate::{MetaValidator, UnknownRule, MAX_AGE_SECS, NAME};

use eventmap::Validator;
use eventmap_pipeline::delivery::OutgoingEvent;
use eventmap_pipeline::destination::{
    BatchLimits, BoxSink, RuleSet, Setting, Settings, SettingsError,
};

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
        "`test_event_code` in the request (the `test_event_code` setting): Meta processes the events and shows them under Events Manager's Test events"
    }

    fn sink(&self, settings: &Settings) -> Result<BoxSink, SettingsError> {
        let config = delivery::MetaSinkConfig::from_settings(settings)?;
        delivery::MetaSink::new(&config).map(BoxSink::new)
    }

    fn connection_test_event(&self, now_ms: i64) -> Option<OutgoingEvent> {
        Some(delivery::test_event(now_ms))
    }
}

/// What the Meta sink reads, each from a flag or its environment variable.
pub const SETTINGS: &[Setting] = &[
    Setting::new("endpoint", "META_CAPI_ENDPOINT", "Graph API base URL")
        .flag("--endpoint")
        .default(delivery::DEFAULT_ENDPOINT),
    Setting::new("api_version", "META_API_VERSION", "Graph API version")
        .default(delivery::DEFAULT_API_VERSION),
    Setting::new(
        "access_token",
        "META_ACCESS_TOKEN",
        "Conversions API access token",
    )
    .flag("--api-key")
    .secret()
    .required(),
    Setting::new("pixel_id", "META_PIXEL_ID", "pixel (dataset) id")
        .flag("--pixel-id")
        .required(),
    Setting::new(
        "test_event_code",
        "META_TEST_EVENT_CODE",
        "test event code, for test mode",
    ),
];
