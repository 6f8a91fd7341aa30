//! `eventmap serve`'s flags: the pipeline file, or the one route and one source the
//! flags stand for, the listener, spool, limits, Kafka and delivery.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::connection::{ConnectionArgs, DeliveryArgs};
use crate::options::{parse_bytes, parse_duration};

#[derive(clap::Args, Clone)]
pub(crate) struct Args {
    /// The pipeline file: routes (mappings, their destinations' settings by environment
    /// variable, delivery), sources (write keys, CORS origins, routes), listener and
    /// spool (docs/serve.md). SIGHUP reloads it and every mapping. Without it, the flags
    /// mean a file of one route and one source.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["mapping", "write_keys", "write_keys_file", "cors_origins",
            "validate_only", "params", "endpoint", "api_key", "pixel_id",
            "integration_source", "settings", "batch_size", "max_batch_bytes", "max_attempts",
            "max_retry_time"]
    )]
    pub(super) config: Option<PathBuf>,
    /// The mapping file; its `destination:` says where events go. SIGHUP reloads it.
    /// Not used with `--to-kafka` (the consumers map).
    #[arg(long, short, required_unless_present_any = ["to_kafka", "config"])]
    pub(super) mapping: Option<PathBuf>,
    /// Where to listen. Loopback unless `--allow-remote` says otherwise.
    #[arg(long, default_value = "127.0.0.1:8088", value_name = "ADDR:PORT")]
    pub(super) listen: SocketAddr,
    /// Listen on an address other machines can reach.
    #[arg(long)]
    pub(super) allow_remote: bool,
    /// The spool directory (created 0700): accepted events wait here until delivered.
    #[arg(long, default_value = "spool", value_name = "DIR")]
    pub(super) spool: PathBuf,
    /// A write key clients must present (repeat for several).
    #[arg(long = "write-key", value_name = "KEY", hide_env_values = true)]
    pub(super) write_keys: Vec<String>,
    /// A file of write keys, one a line (a line starting with `#` is a comment; a `#`
    /// elsewhere is part of the key).
    #[arg(long, value_name = "FILE")]
    pub(super) write_keys_file: Option<PathBuf>,
    /// Browser origins allowed to post (CORS), e.g. https://www.shop.example; `*` for any
    /// (never with cookies; the ID sync answers only origins given by name). A browser
    /// post from any other page is refused (403); servers send no Origin.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub(super) cors_origins: Vec<String>,
    /// Largest event accepted, in bytes (Segment: 32 KB).
    #[arg(long, default_value = "32KiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub(super) max_event_bytes: u64,
    /// Largest request accepted, decompressed, in bytes (Segment: 500 KB a batch).
    #[arg(long, default_value = "500KiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub(super) max_request_bytes: u64,
    /// The spool holds at most this much; past it, requests get 503 with Retry-After.
    #[arg(long, default_value = "1GiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub(super) max_spool_bytes: u64,
    /// An event whose messageId was accepted within this window is answered 200 but not
    /// spooled again (SDK retries after a lost answer).
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    pub(super) dedup_window: Duration,
    /// At most this many message ids are remembered for the dedup window (about 40 bytes
    /// of memory each); past it, the oldest are forgotten first.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub(super) dedup_max_ids: u64,
    /// Dead letters are kept in the spool this long (export them with `eventmap dead-letters`).
    #[arg(long, default_value = "7d", value_parser = parse_duration, value_name = "DURATION")]
    pub(super) dead_letter_retention: Duration,
    /// On SIGTERM or Ctrl-C, how long requests and deliveries in flight may take; what is
    /// undelivered then stays in the spool.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub(super) drain_timeout: Duration,
    /// After the destination refuses the credentials, wait this long before trying again
    /// (events keep arriving in the spool meanwhile).
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub(super) refused_backoff: Duration,
    /// The ID sync cookie `/v1/idsync` sets (the name OpenAI's pixel uses by default).
    #[arg(long, default_value = "__oppref", value_name = "NAME")]
    pub(super) idsync_cookie: String,
    /// The ID sync cookie's `Domain`, e.g. shop.example so every subdomain reads it
    /// (default: the host serve answers on).
    #[arg(long, value_name = "DOMAIN")]
    pub(super) idsync_domain: Option<String>,
    /// The ID sync cookie's lifetime.
    #[arg(long, default_value = "30d", value_parser = parse_duration, value_name = "DURATION")]
    pub(super) idsync_lifetime: Duration,
    /// Mark the ID sync cookie `Secure` even when no proxy says the request came over https.
    #[arg(long)]
    pub(super) idsync_secure: bool,
    /// Connections open at once at most; past it, new clients wait to be accepted until
    /// one closes (keep it under `ulimit -n`, which the spool and delivery also draw on).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub(super) max_connections: u32,
    /// A request body must arrive within this (a client that stalls gets 408).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub(super) body_timeout: Duration,
    /// Test mode for every event, as the destination defines it (OpenAI validates and
    /// records nothing; Meta shows the events under Test events, with the
    /// `test_event_code` setting).
    #[arg(long, visible_alias = "test-mode")]
    pub(super) validate_only: bool,
    /// Produce accepted events to a Kafka topic (idempotent, acks=all) instead of the
    /// spool, answering 200 once the broker has them; `eventmap consume` delivers them.
    #[arg(long, requires_all = ["brokers", "topic"])]
    pub(super) to_kafka: bool,
    /// With `--to-kafka`: the brokers to start from.
    #[arg(long, value_name = "HOST:PORT[,HOST:PORT…]")]
    pub(super) brokers: Option<String>,
    /// With `--to-kafka`: the topic accepted events go to, keyed by userId (else
    /// anonymousId) so one user's events stay in order.
    #[arg(long, value_name = "TOPIC")]
    pub(super) topic: Option<String>,
    /// With `--to-kafka`: a librdkafka property, passed through; repeat for several.
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = crate::options::key_value)]
    pub(super) kafka_options: Vec<(String, String)>,
    /// Set a mapping parameter; also read from EVENTMAP_PARAM_<KEY>.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub(super) params: Vec<String>,
    #[command(flatten)]
    pub(super) connection: ConnectionArgs,
    #[command(flatten)]
    pub(super) delivery: DeliveryArgs,
}
