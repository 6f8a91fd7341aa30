//! Delivering events to Meta's Conversions API: the [`MetaSink`] for eventmap's shared
//! delivery machinery, its settings, and how Meta's answers are read.

mod response;
mod sink;

pub use response::classify;
pub use sink::{
    test_event, MetaSink, MetaSinkConfig, DEFAULT_API_VERSION, DEFAULT_BATCH_EVENTS,
    DEFAULT_ENDPOINT, MAX_BATCH_EVENTS,
};
