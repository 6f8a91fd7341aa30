//! `eventmap serve`: the Segment-compatible intake in front of the crash-safe spool,
//! delivering continuously through the same mapping and delivery code as `send`, to
//! every route of the pipeline file (or the one route the flags make).
//!
//! - [`plan`]: the routes and sources to run, from the file or the flags, checked whole;
//! - [`routes`]: the routes as they run, each on its own spool lane, and their reload.

mod args;
mod plan;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use eventmap_kafka::{Brokers, KafkaStore};
use eventmap_pipeline::delivery::Clock;
use eventmap_pipeline::intake::idsync::CookieConfig;
use eventmap_pipeline::intake::{self, EventStore, Intake, IntakeConfig, SharedSources, Sources};
use eventmap_pipeline::log;
use eventmap_pipeline::metrics::{Metrics, OutcomeLabel};
use eventmap_pipeline::signals;
use eventmap_pipeline::spool::{Spool, SpoolConfig};
use serde_json::json;
use tokio::sync::{watch, Mutex};

use crate::exit;
use crate::route_plan::Failure;
pub(crate) use args::Args;
use plan::{Origin, Plan};
use routes::Running;

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let origin = match (&args.config, &args.mapping) {
        // With --to-kafka the consumers map and deliver: nothing to plan here.
        _ if args.to_kafka => None,
        (Some(file), _) => Some(Origin::File(file.clone())),
        (None, Some(mapping)) if !args.to_kafka => Some(Origin::Flags {
            mapping: mapping.clone(),
        }),
        _ => None,
    };
    let plan = match &origin {
        Some(origin) => match build(args, origin) {
            Ok(plan) => Some(plan),
            Err(failure) => {
                for line in &failure.lines {
                    eprintln!("{line}");
                }
                return Ok(failure.code);
            }
        },
        None => None,
    };
    // With --to-kafka the file gives the sources (keys, origins, routes) and listener.
    let kafka_config = match (&args.config, args.to_kafka) {
        (Some(file), true) => match eventmap_pipeline::config::PipelineConfig::load(file) {
            Ok(config) => Some(config),
            Err(diagnostics) => {
                for diagnostic in &diagnostics {
                    eprintln!("{diagnostic}");
                }
                return Ok(exit::ERROR);
            }
        },
        _ => None,
    };
    let settings = Effective::of(
        args,
        plan.as_ref()
            .and_then(|p| p.config.as_ref())
            .or(kafka_config.as_ref()),
    );
    if !settings.listen.ip().is_loopback() && !args.allow_remote {
        bail!(
            "--listen {} is reachable from other machines: add --allow-remote to mean it",
            settings.listen
        );
    }
    for origin in &args.cors_origins {
        if let Err(why) = intake::cors::check_origin(origin) {
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
    runtime.block_on(serve(
        args,
        origin,
        plan,
        kafka_config,
        settings,
        metrics,
        clock,
    ))
}

/// What the file says of the listener and spool, else the flags.
struct Effective {
    listen: SocketAddr,
    spool: PathBuf,
    spool_config: SpoolConfig,
}

impl Effective {
    fn of(args: &Args, config: Option<&eventmap_pipeline::config::PipelineConfig>) -> Self {
        let file = config.cloned();
        let spool = file.as_ref().map(|c| c.spool.clone()).unwrap_or_default();
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Self {
            listen: file.as_ref().and_then(|c| c.listen).unwrap_or(args.listen),
            spool: spool.dir.clone().unwrap_or_else(|| args.spool.clone()),
            spool_config: SpoolConfig {
                max_bytes: spool.max_bytes.unwrap_or(args.max_spool_bytes),
                dedup_window: spool.dedup_window.unwrap_or(args.dedup_window),
                dead_retention: spool
                    .dead_letter_retention
                    .unwrap_or(args.dead_letter_retention),
                dedup_max_ids: size(spool.dedup_max_ids.unwrap_or(args.dedup_max_ids)),
                ..SpoolConfig::default()
            },
        }
    }
}

fn build(args: &Args, origin: &Origin) -> Result<Plan, Failure> {
    match origin {
        Origin::File(file) => plan::from_file(args, file),
        Origin::Flags { mapping } => plan::from_flags(args, mapping),
    }
}

async fn serve(
    args: &Args,
    origin: Option<Origin>,
    plan: Option<Plan>,
    kafka_config: Option<eventmap_pipeline::config::PipelineConfig>,
    settings: Effective,
    metrics: Metrics,
    clock: Clock,
) -> anyhow::Result<u8> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let (stop, stopped) = watch::channel(false);
    let (store, running, spool): (Arc<dyn EventStore>, Option<Arc<Mutex<Running>>>, _) = match plan
    {
        None => {
            let routes = kafka_config
                .as_ref()
                .map(|c| c.route_names().iter().map(|r| r.to_string()).collect())
                .unwrap_or_default();
            (kafka_store(args, routes)?, None, None)
        }
        Some(plan) => {
            let spool =
                Spool::open(&settings.spool, settings.spool_config.clone()).with_context(|| {
                    format!("cannot open the spool in {}", settings.spool.display())
                })?;
            let shared = routes::Shared {
                spool: spool.clone(),
                metrics: metrics.clone(),
                clock,
                drain: args.drain_timeout,
                refused_backoff: args.refused_backoff,
                stopped: stopped.clone(),
            };
            let running = Running::start(shared, plan)
                .await
                .context("cannot set up the routes' spool lanes")?;
            let store: Arc<dyn EventStore> = Arc::new(spool.clone());
            (store, Some(Arc::new(Mutex::new(running))), Some(spool))
        }
    };
    let sources: SharedSources = match &running {
        Some(running) => running.lock().await.sources.clone(),
        None => match &kafka_config {
            Some(config) => kafka_sources(args, config)?.into(),
            None => kafka_flag_sources(args)?.into(),
        },
    };
    let ready = Arc::new(AtomicBool::new(true));
    let intake = Arc::new(Intake {
        config: IntakeConfig {
            sources,
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
    let reloading = match (&origin, &running) {
        (Some(origin), Some(running)) => Some(Reloading {
            origin: origin.clone(),
            running: Arc::clone(running),
        }),
        _ => None,
    };
    tokio::spawn(stop_or_reload(stop, reloading, args.clone(), metrics));
    let routes = match &running {
        Some(running) => running.lock().await.names(),
        None => Vec::new(),
    };
    log::line(
        "start",
        json!({"listen": listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            "spool": spool.as_ref().map(|_| settings.spool.display().to_string()),
            "spool_depth": spool.as_ref().map(Spool::depth),
            "to_kafka": args.topic.as_ref().filter(|_| args.to_kafka),
            "config": args.config.as_ref().map(|c| c.display().to_string()),
            "mapping": args.mapping.as_ref().map(|m| m.display().to_string()),
            "routes": routes,
            "write_keys": intake.config.sources.current().key_count(), "validate_only": args.validate_only}),
    );
    // Exiting there is safe for the same reason a kill -9 is: nothing is acknowledged
    // before it is on disk, and nothing leaves the spool before its settle is.
    tokio::spawn(signals::exit_after_drain(
        stopped.clone(),
        args.drain_timeout + SHUTDOWN_GRACE,
        i32::from(exit::OK),
        "undelivered events stay in the spool",
    ));
    let mut shutdown = stopped.clone();
    let asked = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    intake::serve(listener, intake, asked, args.drain_timeout).await;
    ready.store(false, Ordering::SeqCst);
    if let Some(running) = running {
        // Every route stops with the server; wait for their last settles.
        let tasks = running.lock().await.take_tasks();
        for task in tasks {
            let _ = task.await;
        }
    }
    log::line(
        "stopped",
        json!({"spool_depth": spool.as_ref().map(Spool::depth)}),
    );
    Ok(exit::OK)
}

/// How long past `--drain-timeout` a shutdown may take at most: for settles to reach the
/// spool and its files to close. Documented in docs/serve.md.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What a SIGHUP reloads: the pipeline file and every mapping (or, from flags, the
/// mapping), into the running routes, only when all of it is sound.
struct Reloading {
    origin: Origin,
    running: Arc<Mutex<Running>>,
}

/// SIGTERM / Ctrl-C stop the server; SIGHUP reloads (with `--to-kafka` there is nothing
/// here to reload: it is logged and ignored, never the default of ending the process).
async fn stop_or_reload(
    stop: watch::Sender<bool>,
    reloading: Option<Reloading>,
    args: Args,
    metrics: Metrics,
) {
    let on_hangup = || async {
        match &reloading {
            Some(r) => reload(r, &args, &metrics).await,
            None => log::line(
                "reload_ignored",
                json!({"note": "with --to-kafka there is no mapping here; reload the consumers"}),
            ),
        }
    };
    signals::stop_or_reload_on_signals(stop, Some(on_hangup)).await;
}

async fn reload(reloading: &Reloading, args: &Args, metrics: &Metrics) {
    let (what, plan) = match &reloading.origin {
        Origin::File(file) => (
            json!({"config": file.display().to_string()}),
            plan::from_file(args, file),
        ),
        Origin::Flags { mapping } => (
            json!({"mapping": mapping.display().to_string()}),
            plan::from_flags(args, mapping),
        ),
    };
    let outcome = match plan {
        Ok(plan) => {
            let mut running = reloading.running.lock().await;
            match running.apply(plan).await {
                Ok(()) => {
                    log::line("reloaded", json!({"what": what, "routes": running.names()}));
                    "reloaded"
                }
                Err(e) => {
                    log::line(
                        "reload_refused",
                        json!({"what": what, "errors": [e.to_string()],
                            "note": "the running routes stay"}),
                    );
                    "refused"
                }
            }
        }
        Err(failure) => {
            log::line(
                "reload_refused",
                json!({"what": what, "errors": failure.lines,
                    "note": "nothing changed: the running routes and mappings stay"}),
            );
            "refused"
        }
    };
    metrics
        .reloads
        .get_or_create(&OutcomeLabel { outcome })
        .inc();
}

/// The file's sources for `--to-kafka`: route `i` of the file is lane `i`, which the
/// producer writes as the route's name in each record's routes header.
fn kafka_sources(
    args: &Args,
    config: &eventmap_pipeline::config::PipelineConfig,
) -> anyhow::Result<Sources> {
    let plans =
        plan::source_plans(args, config).map_err(|lines| anyhow::anyhow!(lines.join("\n")))?;
    let names = config.route_names();
    plan::intake_sources(&plans, |route| {
        names
            .iter()
            .position(|n| *n == route)
            .and_then(|i| u8::try_from(i).ok())
            .ok_or_else(|| anyhow::anyhow!("no route `{route}`"))
    })
}

/// The Kafka producer behind `--to-kafka`.
fn kafka_store(args: &Args, routes: Vec<String>) -> anyhow::Result<Arc<dyn EventStore>> {
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
        routes,
    }))
}

/// The one source of `--to-kafka` from the flags.
fn kafka_flag_sources(args: &Args) -> anyhow::Result<Sources> {
    let keys = plan::flag_write_keys(args).map_err(anyhow::Error::msg)?;
    Ok(Sources::single(
        keys,
        args.cors_origins.clone(),
        plan::flag_limits(args),
    ))
}
