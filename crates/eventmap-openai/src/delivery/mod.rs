//! Delivering events to the Conversions API: the [`OpenAiSink`] for eventmap's shared
//! delivery machinery, and the credentials check behind `eventmap connect`.

mod connect;
mod credentials;
mod response;
mod sink;

pub use connect::{check_connection, test_event, test_outgoing, ConnectionVerdict};
pub use credentials::{ApiKey, Credentials, CredentialsError};
pub use response::classify;
pub use sink::{
    valid_integration_source, OpenAiSink, OpenAiSinkConfig, SinkConfigError, Timeouts,
    DEFAULT_BATCH_EVENTS, DEFAULT_ENDPOINT, MAX_BATCH_EVENTS,
};
