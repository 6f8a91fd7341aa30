//! The flags `send` and `connect` share: where the Conversions API is, the credentials,
//! and the timeouts.

use std::time::Duration;

use eventmap_openai::delivery::{Timeouts, DEFAULT_ENDPOINT};
use eventmap_openai::{Credentials, OpenAiSinkConfig};

use crate::options::parse_duration;

#[derive(clap::Args)]
pub(crate) struct ConnectionArgs {
    /// The Conversions API's base URL.
    #[arg(long, env = "OPENAI_CAPI_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    endpoint: String,
    /// The conversions API key. Prefer the environment variable: a flag shows in process
    /// lists and shell history.
    #[arg(long, env = "OPENAI_CAPI_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The pixel (data source) id.
    #[arg(long, env = "OPENAI_PIXEL_ID")]
    pixel_id: Option<String>,
    /// Sent as `integration_source` with every request.
    #[arg(long, value_name = "NAME")]
    integration_source: Option<String>,
    /// Time allowed to open a connection.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    connect_timeout: Duration,
    /// Time allowed between two reads of a response.
    #[arg(long, default_value = "20s", value_parser = parse_duration, value_name = "DURATION")]
    read_timeout: Duration,
    /// Time allowed for a whole request.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,
}

impl ConnectionArgs {
    /// The sink's configuration; a missing or malformed credential is an error that says
    /// which and where to set it (never echoing the key).
    pub fn sink_config(
        &self,
    ) -> Result<OpenAiSinkConfig, eventmap_openai::delivery::CredentialsError> {
        let credentials = Credentials::new(
            self.pixel_id.as_deref().unwrap_or_default(),
            self.api_key.as_deref().unwrap_or_default(),
        )?;
        Ok(OpenAiSinkConfig {
            endpoint: self.endpoint.clone(),
            credentials,
            integration_source: self.integration_source.clone(),
            timeouts: Timeouts {
                connect: self.connect_timeout,
                read: self.read_timeout,
                total: self.timeout,
            },
        })
    }
}
