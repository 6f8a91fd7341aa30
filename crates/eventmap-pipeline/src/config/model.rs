//! What a pipeline file says, once checked: routes, sources, listener, spool and limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use eventmap::Location;

/// The whole pipeline file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    pub file: PathBuf,
    pub listen: Option<SocketAddr>,
    pub spool: SpoolSection,
    pub limits: LimitsSection,
    pub routes: Vec<RouteConfig>,
    pub sources: Vec<SourceConfig>,
}

/// `spool:`; what it leaves out takes the `serve` flags' defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpoolSection {
    pub dir: Option<PathBuf>,
    pub max_bytes: Option<u64>,
    pub dedup_window: Option<Duration>,
    pub dedup_max_ids: Option<u64>,
    pub dead_letter_retention: Option<Duration>,
}

/// `limits:` of the listener (what a source that sets none has), or of a source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitsSection {
    pub max_event_bytes: Option<u64>,
    pub max_request_bytes: Option<u64>,
}

/// One route: a mapping, its destination's settings and its delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteConfig {
    pub name: String,
    /// Where the route's name is written.
    pub location: Location,
    pub mapping: PathBuf,
    pub mapping_location: Location,
    /// Mapping parameters, as `--param KEY=VALUE` gives them.
    pub params: Vec<(String, String)>,
    pub settings: Vec<RouteSetting>,
    pub delivery: RouteDelivery,
}

/// One setting of a route's destination.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteSetting {
    pub name: String,
    pub value: SettingValue,
    pub location: Location,
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    /// `{ env: NAME }`: the environment variable (the only form a secret may take).
    Env(String),
    /// A value written in the file (not for secrets).
    Literal(String),
}

/// `delivery:` of a route; what it leaves out takes the `serve` defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteDelivery {
    pub batch_size: Option<usize>,
    pub max_batch_bytes: Option<usize>,
    pub concurrency: Option<usize>,
    pub max_attempts: Option<u32>,
    pub max_retry_time: Option<Duration>,
    pub retry_delay: Option<Duration>,
    pub max_retry_delay: Option<Duration>,
    pub linger: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub timeout: Option<Duration>,
    pub test_mode: bool,
}

/// One source: the clients posting with its write keys, and the routes their events go to.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    pub name: String,
    pub location: Location,
    pub write_keys: Vec<KeySource>,
    pub cors_origins: Vec<String>,
    /// What it leaves out, the listener's `limits:` give.
    pub limits: LimitsSection,
    pub routes: Vec<String>,
}

/// Where a source's write keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `{ env: NAME }`: comma-separated keys in the variable.
    Env(String),
    /// `{ file: PATH }`: one key a line (`#` starts a comment line).
    File(PathBuf),
}

/// A setting or key that cannot be read at start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct StartError {
    pub location: Location,
    pub message: String,
}
