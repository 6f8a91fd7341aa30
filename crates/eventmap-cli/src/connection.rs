//! The flags `send`, `serve`, `consume` and `connect` share: the destination's settings
//! (where it is, the credentials) and the timeouts; and for all but `connect`, how
//! delivery batches and retries. The destination itself says which settings it reads and
//! from which environment variables (`eventmap destinations` lists them).

use std::time::Duration;

use anyhow::bail;
use eventmap_pipeline::config::{RouteConfig, RouteDelivery, StartError};
use eventmap_pipeline::delivery::{DeliveryConfig, RetryPolicy};
use eventmap_pipeline::destination::{Destination, Settings, SettingsError, Timeouts};

use crate::options::parse_duration;

#[derive(clap::Args, Clone)]
pub(crate) struct ConnectionArgs {
    /// The destination API's base URL (default: the destination's own; also read from its
    /// environment variable, such as OPENAI_CAPI_ENDPOINT).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// The destination's secret: the conversions API key or access token. Prefer its
    /// environment variable (OPENAI_CAPI_KEY, META_ACCESS_TOKEN; `eventmap destinations`
    /// lists them): a flag shows in process lists and shell history.
    #[arg(long, visible_alias = "access-token", value_name = "SECRET")]
    api_key: Option<String>,
    /// The pixel (data source, dataset) id; also read from the destination's environment
    /// variable (OPENAI_PIXEL_ID, META_PIXEL_ID).
    #[arg(long, value_name = "ID")]
    pixel_id: Option<String>,
    /// OpenAI: sent as `integration_source` with every request.
    #[arg(long, value_name = "NAME")]
    integration_source: Option<String>,
    /// Any other setting of the destination (`--setting test_event_code=TEST123`); each
    /// is also read from its environment variable (`eventmap destinations` lists them).
    #[arg(long = "setting", value_name = "NAME=VALUE", value_parser = crate::options::key_value)]
    settings: Vec<(String, String)>,
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
    /// The destination's settings from the flags, else its environment variables; a
    /// missing or malformed credential is an error that says which and where to set it
    /// (never echoing a secret).
    pub fn settings(
        &self,
        destination: &dyn Destination,
        test_mode: bool,
    ) -> Result<Settings, SettingsError> {
        // By flag: each destination says which of its settings a flag sets.
        let flags = [
            ("--endpoint", &self.endpoint),
            ("--api-key", &self.api_key),
            ("--pixel-id", &self.pixel_id),
            ("--integration-source", &self.integration_source),
        ];
        let given: Vec<(String, String)> = flags
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.clone()?)))
            .chain(self.settings.iter().cloned())
            .collect();
        let env = |name: &str| std::env::var(name).ok();
        Ok(destination
            .resolve_settings(&given, &env)?
            .with_timeouts(self.timeouts(&RouteDelivery::default()))
            .with_test_mode(test_mode))
    }

    /// A pipeline file route's settings: its `{ env: NAME }`s read, then the
    /// destination's own variables and defaults; the route's timeouts over the flags'.
    pub fn route_settings(
        &self,
        destination: &dyn Destination,
        route: &RouteConfig,
    ) -> Result<Settings, StartError> {
        let env = |name: &str| std::env::var(name).ok();
        let given = route.given_settings(&env)?;
        Ok(destination
            .resolve_settings(&given, &env)
            .map_err(|e| route.settings_error(&e))?
            .with_timeouts(self.timeouts(&route.delivery))
            .with_test_mode(route.delivery.test_mode))
    }

    fn timeouts(&self, route: &RouteDelivery) -> Timeouts {
        Timeouts {
            connect: route.connect_timeout.unwrap_or(self.connect_timeout),
            read: route.read_timeout.unwrap_or(self.read_timeout),
            total: route.timeout.unwrap_or(self.timeout),
        }
    }
}

#[derive(clap::Args, Clone)]
pub(crate) struct DeliveryArgs {
    /// Events per request, from 1 to the destination's limit (1000 for OpenAI and Meta;
    /// default: the destination's, 10 for both). Small batches limit what one bad event
    /// holds up.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    batch_size: Option<u32>,
    /// Bytes of event JSON per request at most (default: the destination's, 4 MiB for OpenAI and Meta).
    #[arg(long, value_name = "BYTES")]
    max_batch_bytes: Option<usize>,
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
    /// The delivery settings, batches within the destination's limits.
    pub fn config(
        &self,
        destination: &dyn Destination,
        defaults: RetryDefaults,
    ) -> anyhow::Result<DeliveryConfig> {
        self.config_for(destination, defaults, &RouteDelivery::default())
    }

    /// The delivery settings of a route: what its `delivery:` says, else the flags'.
    pub fn config_for(
        &self,
        destination: &dyn Destination,
        defaults: RetryDefaults,
        route: &RouteDelivery,
    ) -> anyhow::Result<DeliveryConfig> {
        let limits = destination.limits();
        let batch_size = route
            .batch_size
            .or(self.batch_size.map(|n| n as usize))
            .unwrap_or(limits.default_events);
        if batch_size > limits.max_events {
            bail!(
                "--batch-size {batch_size}: `{}` takes at most {} events a request",
                destination.name(),
                limits.max_events
            );
        }
        let max_batch_bytes = route
            .max_batch_bytes
            .or(self.max_batch_bytes)
            .unwrap_or(limits.max_bytes);
        Ok(DeliveryConfig {
            batch_size,
            max_batch_bytes,
            concurrency: route.concurrency.unwrap_or(usize::from(self.concurrency)),
            linger: route.linger.unwrap_or(self.linger),
            retry: RetryPolicy {
                max_attempts: route
                    .max_attempts
                    .or(self.max_attempts)
                    .unwrap_or(defaults.max_attempts()),
                base_delay: route.retry_delay.unwrap_or(self.retry_delay),
                max_delay: route.max_retry_delay.unwrap_or(self.max_retry_delay),
                max_elapsed: route
                    .max_retry_time
                    .or(self.max_retry_time)
                    .unwrap_or(defaults.max_retry_time()),
            },
            ..DeliveryConfig::default()
        })
    }
}
