//! `eventmap consume`: a member of a Kafka consumer group that maps and delivers each
//! record exactly as `send` does, committing only what is done.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use eventmap_kafka::metrics::{serve_metrics, ConsumeMetrics};
use eventmap_kafka::{Brokers, ConsumeConfig, ConsumeReport};
use eventmap_pipeline::delivery::Clock;
use serde_json::json;
use tokio::sync::watch;

use crate::connection::{ConnectionArgs, DeliveryArgs};
use crate::exit;
use crate::options::{parse_bytes, parse_duration};
use crate::route_plan::{flag_route, route_of_file, Failure, RoutePlan};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The Kafka brokers to start from.
    #[arg(long, value_name = "HOST:PORT[,HOST:PORT…]")]
    brokers: String,
    /// A topic to consume (repeat for several).
    #[arg(long = "topic", value_name = "TOPIC", required = true)]
    topics: Vec<String>,
    /// The consumer group: processes in one group share the topics' partitions.
    /// Default with `--route`: `eventmap-ROUTE`, a group per route, so that each
    /// destination scales and lags on its own.
    #[arg(long, value_name = "GROUP", required_unless_present = "route")]
    group: Option<String>,
    /// Where records that can never be delivered go, with their reason and source.
    #[arg(long, value_name = "TOPIC")]
    dead_letter_topic: String,
    /// The mapping file; its `destination:` says where the events go.
    #[arg(long, short, required_unless_present = "config")]
    mapping: Option<PathBuf>,
    /// A pipeline file: deliver its route `--route` (its mapping, settings and delivery),
    /// taking the records `serve --to-kafka --config` produced for that route.
    #[arg(
        long,
        value_name = "FILE",
        requires = "route",
        conflicts_with_all = ["mapping", "params", "endpoint", "api_key", "pixel_id",
            "integration_source", "settings", "batch_size", "max_batch_bytes", "max_attempts",
            "max_retry_time", "validate_only"]
    )]
    config: Option<PathBuf>,
    /// The route of `--config` this consumer delivers.
    #[arg(long, value_name = "NAME", requires = "config")]
    route: Option<String>,
    /// A record larger than this is dead-lettered unread.
    #[arg(long, default_value = "1MiB", value_parser = parse_bytes, value_name = "BYTES")]
    max_record_bytes: u64,
    /// How soon the group moves the partitions of a member that stopped answering.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    session_timeout: Duration,
    /// How often finished offsets are committed.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    commit_interval: Duration,
    /// At a rebalance, how long records in work on a partition being given up may take;
    /// what is unfinished then is read again by its next owner.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    revoke_timeout: Duration,
    /// On SIGTERM or Ctrl-C, how long deliveries in flight may take; what is undelivered
    /// stays uncommitted.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    drain_timeout: Duration,
    /// Serve `/metrics` (Prometheus) and `/healthz` here.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_listen: Option<SocketAddr>,
    /// A librdkafka property, passed through (TLS, SASL, tuning); repeat for several.
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = crate::options::key_value)]
    kafka_options: Vec<(String, String)>,
    /// Test mode for every event, as the destination defines it (see `send`).
    #[arg(long, visible_alias = "test-mode")]
    validate_only: bool,
    /// Set a mapping parameter; also read from EVENTMAP_PARAM_<KEY>.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    delivery: DeliveryArgs,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    if args.dead_letter_topic.is_empty() || args.topics.iter().any(String::is_empty) {
        bail!("topic names cannot be empty");
    }
    if args.topics.contains(&args.dead_letter_topic) {
        bail!(
            "--dead-letter-topic {} is also a --topic: dead letters would be consumed again",
            args.dead_letter_topic
        );
    }
    let route = match setup(args) {
        Ok(route) => route,
        Err(failure) => {
            for line in &failure.lines {
                eprintln!("{line}");
            }
            return Ok(failure.code);
        }
    };
    let compiled = Arc::new(route.compiled);
    let (delivery, sinks, validate_only) = (route.delivery, route.sinks, route.test_mode);
    let group = match (&args.group, &args.route) {
        (Some(group), _) => group.clone(),
        (None, Some(route)) => format!("eventmap-{route}"),
        (None, None) => bail!("--group is needed"),
    };
    let config = ConsumeConfig {
        brokers: Brokers {
            bootstrap: args.brokers.clone(),
            options: args.kafka_options.clone(),
        },
        topics: args.topics.clone(),
        group,
        dead_letter_topic: args.dead_letter_topic.clone(),
        max_record_bytes: usize::try_from(args.max_record_bytes).unwrap_or(usize::MAX),
        session_timeout: args.session_timeout,
        commit_interval: args.commit_interval,
        revoke_timeout: args.revoke_timeout,
        drain: args.drain_timeout,
        validate_only,
        delivery,
        route: args.route.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(async {
        let metrics = ConsumeMetrics::default();
        if let Some(addr) = args.metrics_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            tokio::spawn(serve_metrics(listener, metrics.clone()));
        }
        let sink = sinks
            .make()
            .context("cannot set up the destination's sink")?;
        let (stop, stopped) = watch::channel(false);
        // SIGTERM and Ctrl-C stop fetching; what is in flight drains, is committed, and the
        // group is left.
        tokio::spawn(eventmap_pipeline::signals::stop_on_signals(stop));
        let report =
            eventmap_kafka::consume(&config, compiled, sink, Clock::system(), metrics, stopped)
                .await?;
        anyhow::Ok(report)
    })?;
    print_summary(&report);
    Ok(match report.refused {
        Some(_) => exit::CREDENTIALS,
        None => exit::OK,
    })
}

fn print_summary(report: &ConsumeReport) {
    let dead: serde_json::Map<String, serde_json::Value> = report
        .dead_lettered
        .iter()
        .map(|(reason, n)| (reason.as_str().to_string(), json!(n)))
        .collect();
    let refused = report.refused.as_ref().map(|f| {
        json!({"reason": f.reason.as_str(), "status": f.status, "message": f.message,
            "note": "the records stay uncommitted; they are read again"})
    });
    eprintln!(
        "{}",
        json!({"summary": {"records": report.records, "delivered": report.delivered,
            "skipped": report.skipped, "dead_lettered": dead,
            "handed_back": report.handed_back, "refused": refused}})
    );
}

/// The route this consumer delivers: of the pipeline file, or the one the flags make.
fn setup(args: &Args) -> Result<RoutePlan, Failure> {
    match (&args.config, &args.route, &args.mapping) {
        (Some(file), Some(route), _) => {
            route_of_file(&args.connection, &args.delivery, file, route)
        }
        (_, _, Some(mapping)) => flag_route(
            &args.connection,
            &args.delivery,
            mapping,
            &args.params,
            args.validate_only,
        ),
        _ => Err(Failure {
            lines: vec!["eventmap: error: give --mapping, or --config with --route".into()],
            code: exit::ERROR,
        }),
    }
}
