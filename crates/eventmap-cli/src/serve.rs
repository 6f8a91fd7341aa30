//! `eventmap serve`: the Segment-compatible intake in front of the crash-safe spool,
//! delivering continuously through the same mapping and delivery code as `send`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use anyhow::{bail, Context};
use eventmap::LoadError;
use eventmap_kafka::{Brokers, KafkaStore};
use eventmap_pipeline::delivery::Clock;
use eventmap_pipeline::destination::{BoxSink, Destination, Settings, SettingsError};
use eventmap_pipeline::forward::{self, Compiled, Ended, Forwarding, MappingSlot};
use eventmap_pipeline::intake::cors;
use eventmap_pipeline::intake::idsync::CookieConfig;
use eventmap_pipeline::intake::write_keys::{parse_keys_file, WriteKeys};
use eventmap_pipeline::intake::{self, EventStore, Intake, IntakeConfig, Limits};
use eventmap_pipeline::log;
use eventmap_pipeline::metrics::{Metrics, OutcomeLabel};
use eventmap_pipeline::spool::{Spool, SpoolConfig};
use serde_json::json;
use tokio::sync::watch;

use crate::connection::{ConnectionArgs, DeliveryArgs, RetryDefaults};
use crate::exit;
use crate::options::{compile_options, parse_bytes, parse_duration};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The mapping file; its `destination:` says where events go. SIGHUP reloads it (to
    /// the same destination). Not used with `--to-kafka` (the consumers map).
    #[arg(long, short, required_unless_present = "to_kafka")]
    mapping: Option<PathBuf>,
    /// Where to listen. Loopback unless `--allow-remote` says otherwise.
    #[arg(long, default_value = "127.0.0.1:8088", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Listen on an address other machines can reach.
    #[arg(long)]
    allow_remote: bool,
    /// The spool directory (created 0700): accepted events wait here until delivered.
    #[arg(long, default_value = "spool", value_name = "DIR")]
    spool: PathBuf,
    /// A write key clients must present (repeat for several).
    #[arg(long = "write-key", value_name = "KEY", hide_env_values = true)]
    write_keys: Vec<String>,
    /// A file of write keys, one a line (a line starting with `#` is a comment; a `#`
    /// elsewhere is part of the key).
    #[arg(long, value_name = "FILE")]
    write_keys_file: Option<PathBuf>,
    /// Browser origins allowed to post (CORS), e.g. https://www.shop.example; `*` for any
    /// (never with cookies; the ID sync answers only origins given by name).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Largest event accepted, in bytes (Segment: 32 KB).
    #[arg(long, default_value = "32KiB", value_parser = parse_bytes, value_name = "BYTES")]
    max_event_bytes: u64,
    /// Largest request accepted, decompressed, in bytes (Segment: 500 KB a batch).
    #[arg(long, default_value = "500KiB", value_parser = parse_bytes, value_name = "BYTES")]
    max_request_bytes: u64,
    /// The spool holds at most this much; past it, requests get 503 with Retry-After.
    #[arg(long, default_value = "1GiB", value_parser = parse_bytes, value_name = "BYTES")]
    max_spool_bytes: u64,
    /// An event whose messageId was accepted within this window is answered 200 but not
    /// spooled again (SDK retries after a lost answer).
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    dedup_window: Duration,
    /// At most this many message ids are remembered for the dedup window (about 40 bytes
    /// of memory each); past it, the oldest are forgotten first.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    dedup_max_ids: u64,
    /// Dead letters are kept in the spool this long (export them with `eventmap dead-letters`).
    #[arg(long, default_value = "7d", value_parser = parse_duration, value_name = "DURATION")]
    dead_letter_retention: Duration,
    /// On SIGTERM or Ctrl-C, how long requests and deliveries in flight may take; what is
    /// undelivered then stays in the spool.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    drain_timeout: Duration,
    /// After the destination refuses the credentials, wait this long before trying again
    /// (events keep arriving in the spool meanwhile).
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    refused_backoff: Duration,
    /// The ID sync cookie `/v1/idsync` sets (the name OpenAI's pixel uses by default).
    #[arg(long, default_value = "__oppref", value_name = "NAME")]
    idsync_cookie: String,
    /// The ID sync cookie's `Domain`, e.g. shop.example so every subdomain reads it
    /// (default: the host serve answers on).
    #[arg(long, value_name = "DOMAIN")]
    idsync_domain: Option<String>,
    /// The ID sync cookie's lifetime.
    #[arg(long, default_value = "30d", value_parser = parse_duration, value_name = "DURATION")]
    idsync_lifetime: Duration,
    /// Mark the ID sync cookie `Secure` even when no proxy says the request came over https.
    #[arg(long)]
    idsync_secure: bool,
    /// Connections open at once at most; past it, new clients wait to be accepted until
    /// one closes (keep it under `ulimit -n`, which the spool and delivery also draw on).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// A request body must arrive within this (a client that stalls gets 408).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    body_timeout: Duration,
    /// Test mode for every event, as the destination defines it (OpenAI validates and
    /// records nothing; Meta shows the events under Test events, with the
    /// `test_event_code` setting).
    #[arg(long, visible_alias = "test-mode")]
    validate_only: bool,
    /// Produce accepted events to a Kafka topic (idempotent, acks=all) instead of the
    /// spool, answering 200 once the broker has them; `eventmap consume` delivers them.
    #[arg(long, requires_all = ["brokers", "topic"])]
    to_kafka: bool,
    /// With `--to-kafka`: the brokers to start from.
    #[arg(long, value_name = "HOST:PORT[,HOST:PORT…]")]
    brokers: Option<String>,
    /// With `--to-kafka`: the topic accepted events go to, keyed by userId (else
    /// anonymousId) so one user's events stay in order.
    #[arg(long, value_name = "TOPIC")]
    topic: Option<String>,
    /// With `--to-kafka`: a librdkafka property, passed through; repeat for several.
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = crate::consume::key_value)]
    kafka_options: Vec<(String, String)>,
    /// Set a mapping parameter; also read from EVENTMAP_PARAM_<KEY>.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    delivery: DeliveryArgs,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        bail!(
            "--listen {} is reachable from other machines: add --allow-remote to mean it",
            args.listen
        );
    }
    let write_keys = write_keys(args)?;
    for origin in &args.cors_origins {
        if let Err(why) = cors::check_origin(origin) {
            bail!("--cors-origin {why}");
        }
    }
    crate::fd_limit::raise_for(u64::from(args.max_connections));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let metrics = Metrics::default();
    let clock = Clock::system();
    let (store, local): (Arc<dyn EventStore>, Option<LocalDelivery>) = if args.to_kafka {
        (kafka_store(args)?, None)
    } else {
        match local_delivery(args, &metrics, clock)? {
            Ok(local) => (Arc::new(local.forwarding.spool.clone()), Some(local)),
            Err(code) => return Ok(code),
        }
    };
    let ready = Arc::new(AtomicBool::new(true));
    let intake = Arc::new(Intake {
        config: IntakeConfig {
            write_keys,
            limits: Limits {
                max_event_bytes: usize::try_from(args.max_event_bytes).unwrap_or(usize::MAX),
                max_batch_bytes: usize::try_from(args.max_request_bytes).unwrap_or(usize::MAX),
            },
            cors_origins: args.cors_origins.clone(),
            body_timeout: args.body_timeout,
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
            idsync: CookieConfig {
                name: args.idsync_cookie.clone(),
                domain: args.idsync_domain.clone(),
                lifetime: args.idsync_lifetime,
                secure: args.idsync_secure,
            },
            ..IntakeConfig::default()
        },
        store,
        metrics: metrics.clone(),
        ready: Arc::clone(&ready),
        clock,
    });
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(watch_signals(
            stop,
            local.as_ref().map(|l| l.reloading.clone()),
            metrics,
        ));
        let spool = local.as_ref().map(|l| l.forwarding.spool.clone());
        log::line(
            "start",
            json!({"listen": listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                "spool": spool.as_ref().map(|_| args.spool.display().to_string()),
                "spool_depth": spool.as_ref().map(Spool::depth),
                "to_kafka": args.topic.as_ref().filter(|_| args.to_kafka),
                "mapping": args.mapping.as_ref().map(|m| m.display().to_string()),
                "write_keys": intake.config.write_keys.len(), "validate_only": args.validate_only}),
        );
        let delivering = local.map(|local| {
            tokio::spawn(deliver(
                local.forwarding,
                local.sinks,
                stopped.clone(),
                args.refused_backoff,
            ))
        });
        tokio::spawn(shutdown_watchdog(stopped.clone(), args.drain_timeout));
        let mut shutdown = stopped.clone();
        let asked = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        intake::serve(listener, intake, asked, args.drain_timeout).await;
        ready.store(false, Ordering::SeqCst);
        if let Some(delivering) = delivering {
            let _ = delivering.await;
        }
        log::line(
            "stopped",
            json!({"spool_depth": spool.as_ref().map(Spool::depth)}),
        );
        anyhow::Ok(())
    })?;
    Ok(exit::OK)
}

/// How long past `--drain-timeout` a shutdown may take at most: for settles to reach the
/// spool and its files to close. Documented in docs/serve.md.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The bound on a shutdown: once a stop is asked for, the process exits within
/// `--drain-timeout` plus [`SHUTDOWN_GRACE`] whatever is stuck (a destination that
/// never answers, a disk that hangs). Exiting here is safe for the same reason a kill -9
/// is: nothing is acknowledged before it is on disk, and nothing leaves the spool before
/// its settle is.
async fn shutdown_watchdog(mut stop: watch::Receiver<bool>, drain: Duration) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        return;
    }
    tokio::time::sleep(drain + SHUTDOWN_GRACE).await;
    log::line(
        "stopped",
        json!({"forced": true, "after_s": (drain + SHUTDOWN_GRACE).as_secs_f64(),
            "note": "undelivered events stay in the spool"}),
    );
    std::process::exit(i32::from(exit::OK));
}

/// Builds the destination's sink from its settings: once at start, and afresh (a new
/// client) after each refusal.
pub(crate) struct SinkMaker {
    pub destination: Arc<dyn Destination>,
    pub settings: Settings,
}

impl SinkMaker {
    /// The mapping's destination with its settings from the flags and environment; the
    /// sink is built once here so that a wrong setting stops the start.
    pub fn new(
        destination: Arc<dyn Destination>,
        connection: &ConnectionArgs,
        test_mode: bool,
    ) -> Result<Self, SettingsError> {
        let settings = connection.settings(destination.as_ref(), test_mode)?;
        destination.sink(&settings)?;
        Ok(Self {
            destination,
            settings,
        })
    }

    pub fn make(&self) -> Result<BoxSink, SettingsError> {
        self.destination.sink(&self.settings)
    }
}

/// Forwards from the spool; after a refusal by the destination, waits and tries again
/// (with a fresh client), until asked to stop.
async fn deliver(
    forwarding: Forwarding,
    sinks: SinkMaker,
    mut stop: watch::Receiver<bool>,
    backoff: Duration,
) {
    while !*stop.borrow() {
        let sink = match sinks.make() {
            Ok(sink) => sink,
            Err(e) => {
                log::line("delivery_unavailable", json!({"error": e.to_string()}));
                return;
            }
        };
        match forward::forward(&forwarding, sink, stop.clone()).await {
            Ended::Stopped(_) => return,
            Ended::Refused(fatal) => {
                log::line(
                    "delivery_refused",
                    json!({"reason": fatal.reason.as_str(), "status": fatal.status,
                        "message": fatal.message, "retry_in_s": backoff.as_secs_f64(),
                        "note": "events stay in the spool"}),
                );
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|stop| *stop) => return,
                }
            }
        }
    }
}

/// SIGTERM / Ctrl-C stop the server; SIGHUP reloads the mapping (one that does not
/// compile is refused, with its errors logged, and the running one stays).
async fn watch_signals(stop: watch::Sender<bool>, reloading: Option<Reloading>, metrics: Metrics) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            log::line("signals_unavailable", json!({}));
            return;
        };
        loop {
            let name = tokio::select! {
                Some(()) = term.recv() => "SIGTERM",
                Some(()) = int.recv() => "SIGINT",
                Some(()) = hup.recv() => {
                    match &reloading {
                        Some(r) => reload(r, &metrics),
                        None => log::line("reload_ignored", json!({"note": "with --to-kafka there is no mapping here; reload the consumers"})),
                    }
                    continue;
                }
                else => return,
            };
            log::line("stopping", json!({"signal": name}));
            stop.send_replace(true);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (reloading, metrics);
        if tokio::signal::ctrl_c().await.is_ok() {
            log::line("stopping", json!({"signal": "Ctrl-C"}));
            stop.send_replace(true);
        }
    }
}

/// Delivery from the local spool (without `--to-kafka`).
struct LocalDelivery {
    forwarding: Forwarding,
    sinks: SinkMaker,
    reloading: Reloading,
}

/// Compiles the mapping, checks the credentials and opens the spool; `Err(code)` when
/// the mapping or the credentials are wrong (already reported).
fn local_delivery(
    args: &Args,
    metrics: &Metrics,
    clock: Clock,
) -> anyhow::Result<Result<LocalDelivery, u8>> {
    let Some(mapping) = &args.mapping else {
        bail!("--mapping is needed unless --to-kafka");
    };
    let compiled = match compile(mapping, &args.params) {
        Ok(compiled) => compiled,
        Err(errors) => {
            for line in &errors {
                eprintln!("{line}");
            }
            return Ok(Err(exit::ERROR));
        }
    };
    let destination = match delivering_to(&compiled) {
        Ok(destination) => destination,
        Err(e) => {
            eprintln!("{e}");
            return Ok(Err(exit::ERROR));
        }
    };
    let delivery = args
        .delivery
        .config(destination.as_ref(), RetryDefaults::Server)?;
    let sinks = match SinkMaker::new(destination, &args.connection, args.validate_only) {
        Ok(sinks) => sinks,
        Err(e) => {
            eprintln!("eventmap: error: {e}");
            return Ok(Err(exit::CREDENTIALS));
        }
    };
    let destination_name = sinks.destination.name();
    let spool_config = SpoolConfig {
        max_bytes: args.max_spool_bytes,
        dedup_window: args.dedup_window,
        dead_retention: args.dead_letter_retention,
        dedup_max_ids: usize::try_from(args.dedup_max_ids).unwrap_or(usize::MAX),
        ..SpoolConfig::default()
    };
    let spool = Spool::open(&args.spool, spool_config)
        .with_context(|| format!("cannot open the spool in {}", args.spool.display()))?;
    let slot: MappingSlot = Arc::new(RwLock::new(Arc::new(compiled)));
    Ok(Ok(LocalDelivery {
        forwarding: Forwarding {
            spool,
            route: eventmap_pipeline::spool::DEFAULT_ROUTE.to_string(),
            lane: 0,
            mapping: Arc::clone(&slot),
            metrics: metrics.clone(),
            clock,
            delivery,
            validate_only: args.validate_only,
            drain: args.drain_timeout,
        },
        sinks,
        reloading: Reloading {
            destination: destination_name,
            mapping: mapping.clone(),
            params: args.params.clone(),
            slot,
        },
    }))
}

/// What a SIGHUP reloads: the mapping file into the slot delivery reads. Its destination
/// stays the one the server started with (the sink and its settings were made for it).
#[derive(Clone)]
struct Reloading {
    destination: &'static str,
    mapping: PathBuf,
    params: Vec<String>,
    slot: MappingSlot,
}

/// The Kafka producer behind `--to-kafka`.
fn kafka_store(args: &Args) -> anyhow::Result<Arc<dyn EventStore>> {
    let (Some(brokers), Some(topic)) = (&args.brokers, &args.topic) else {
        bail!("--to-kafka needs --brokers and --topic");
    };
    let brokers = Brokers {
        bootstrap: brokers.clone(),
        options: args.kafka_options.clone(),
    };
    let producer = brokers
        .durable_producer()
        .context("cannot set up the Kafka producer")?;
    Ok(Arc::new(KafkaStore {
        producer,
        topic: topic.clone(),
    }))
}

fn reload(reloading: &Reloading, metrics: &Metrics) {
    let (mapping, slot) = (&reloading.mapping, &reloading.slot);
    let compiled = compile(mapping, &reloading.params).and_then(|compiled| {
        match compiled.mapping.destination() {
            Some(name) if name == reloading.destination => Ok(compiled),
            _ => Err(vec![format!(
                "{}: the reloaded mapping must keep `destination: {}` (the server delivers there; restart it to change destination)",
                compiled.mapping.file(),
                reloading.destination
            )]),
        }
    });
    let outcome = match compiled {
        Ok(compiled) => {
            *slot.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(compiled);
            log::line(
                "reloaded",
                json!({"mapping": mapping.display().to_string()}),
            );
            "reloaded"
        }
        Err(errors) => {
            log::line(
                "reload_refused",
                json!({"mapping": mapping.display().to_string(), "errors": errors,
                    "note": "the running mapping stays"}),
            );
            "refused"
        }
    };
    metrics
        .reloads
        .get_or_create(&OutcomeLabel { outcome })
        .inc();
}

/// Compiles the mapping and picks its validator; errors as `FILE:LINE:COL: message`.
pub(crate) fn compile(path: &Path, params: &[String]) -> Result<Compiled, Vec<String>> {
    let options = compile_options(params).map_err(|e| vec![format!("{e:#}")])?;
    let mapping = match eventmap::Mapping::from_file(path, &options) {
        Ok(mapping) => mapping,
        Err(LoadError::Compile(err)) => {
            return Err(err.diagnostics.iter().map(ToString::to_string).collect())
        }
        Err(e) => return Err(vec![e.to_string()]),
    };
    let validator =
        eventmap_cli::destinations::validator_for(&mapping).map_err(|e| vec![format!("{e:#}")])?;
    Ok(Compiled { mapping, validator })
}

/// The destination the compiled mapping delivers to (see `Registry::delivering_to`).
pub(crate) fn delivering_to(compiled: &Compiled) -> Result<Arc<dyn Destination>, String> {
    let registry = eventmap_cli::destinations::registry();
    let name = registry.delivering_to(&compiled.mapping)?.name();
    registry
        .shared(name)
        .ok_or_else(|| format!("unknown destination `{name}`"))
}

/// Write keys from the flags, a file and `EVENTMAP_WRITE_KEYS` (comma-separated).
fn write_keys(args: &Args) -> anyhow::Result<WriteKeys> {
    let mut keys: Vec<String> = args.write_keys.clone();
    if let Some(file) = &args.write_keys_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read write keys from {}", file.display()))?;
        keys.extend(parse_keys_file(&text).map(str::to_string));
    }
    if let Ok(env) = std::env::var("EVENTMAP_WRITE_KEYS") {
        keys.extend(env.split(',').map(str::trim).map(str::to_string));
    }
    let keys = WriteKeys::new(keys);
    if keys.is_empty() {
        bail!("no write key: give --write-key, --write-keys-file or EVENTMAP_WRITE_KEYS");
    }
    Ok(keys)
}
