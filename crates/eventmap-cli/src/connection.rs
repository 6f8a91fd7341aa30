//! The flags `send`, `serve` and `connect` share: where the Conversions API is, the
//! credentials and the timeouts; and for `send` and `serve`, how delivery batches and
//! retries.

use std::time::Duration;

use eventmap_openai::delivery::{
    Timeouts, DEFAULT_BATCH_EVENTS, DEFAULT_ENDPOINT, MAX_BATCH_EVENTS,
};
use eventmap_openai::{Credentials, OpenAiSinkConfig};
use eventmap_pipeline::delivery::{DeliveryConfig, RetryPolicy};

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

#[derive(clap::Args)]
pub(crate) struct DeliveryArgs {
    /// Events per request, 1 to 1000. Small batches limit what one bad event holds up.
    #[arg(long, default_value_t = DEFAULT_BATCH_EVENTS, value_parser = batch_size)]
    pub batch_size: usize,
    /// Bytes of event JSON per request at most.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    max_batch_bytes: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Attempts per batch on transient failures (timeouts, 408, 429, 5xx), the first
    /// included. Default: 6 for `send`; no limit for `serve` and `consume`, whose events
    /// wait durably (only --max-retry-time and the API's 7-day window end their retries).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: Option<u32>,
    /// No retry starts later than this after a batch's first attempt. Default: 5m for
    /// `send`; 24h for `serve` and `consume`.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    max_retry_time: Option<Duration>,
    /// The backoff ceiling after the first failure (it doubles, up to --max-retry-delay;
    /// full jitter).
    #[arg(long, default_value = "500ms", value_parser = parse_duration, value_name = "DURATION")]
    retry_delay: Duration,
    /// The most the backoff ceiling grows to.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    max_retry_delay: Duration,
    /// How long a part-full batch waits for more events (slow streams such as stdin).
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    linger: Duration,
}

/// Which retry defaults a command gets when the flags leave them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryDefaults {
    /// `send`: a file is read once and its run should end; a destination still down
    /// after five minutes leaves dead letters the user replays.
    File,
    /// `serve` and `consume`: events wait in a durable store, so waiting out an outage
    /// of hours is cheap, and a dead letter is only for what can never be delivered.
    Server,
}

impl RetryDefaults {
    fn max_attempts(self) -> u32 {
        match self {
            Self::File => RetryPolicy::default().max_attempts,
            Self::Server => u32::MAX,
        }
    }

    fn max_retry_time(self) -> Duration {
        match self {
            Self::File => RetryPolicy::default().max_elapsed,
            Self::Server => Duration::from_secs(24 * 3600),
        }
    }
}

impl DeliveryArgs {
    pub fn config(&self, defaults: RetryDefaults) -> DeliveryConfig {
        DeliveryConfig {
            batch_size: self.batch_size,
            max_batch_bytes: self.max_batch_bytes,
            concurrency: usize::from(self.concurrency),
            linger: self.linger,
            retry: RetryPolicy {
                max_attempts: self.max_attempts.unwrap_or(defaults.max_attempts()),
                base_delay: self.retry_delay,
                max_delay: self.max_retry_delay,
                max_elapsed: self.max_retry_time.unwrap_or(defaults.max_retry_time()),
            },
            ..DeliveryConfig::default()
        }
    }
}

fn batch_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_BATCH_EVENTS).contains(&n) => Ok(n),
        _ => Err(format!("must be a number from 1 to {MAX_BATCH_EVENTS}")),
    }
}
