//! `eventmap send`: map, validate and deliver events to the mapping's destination.
//! Every event read ends delivered, skipped with a reason, or dead-lettered with a reason.

mod feed;
mod ledger;
mod lines;
mod signals;
mod summary;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use eventmap_pipeline::delivery::{Clock, DeadReason, DeliveryReport};
use eventmap_pipeline::drive::{drive, Driving, Replay};
use eventmap_pipeline::process::Compiled;
use tokio::sync::watch;

use crate::connection::{ConnectionArgs, DeliveryArgs, RetryDefaults};
use crate::console::Console;
use crate::dead_letters::DeadLetterFile;
use crate::exit;
use crate::input::DEFAULT_MAX_LINE_BYTES;
use crate::options::{compile_options, load_mapping, parse_duration, parse_now};
use feed::Place;
use ledger::Ledger;
use lines::{InputLines, Reading};
use summary::{Ending, Summary};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The mapping file; its `destination:` says where the events go.
    #[arg(long, short)]
    mapping: PathBuf,
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    delivery: DeliveryArgs,
    /// Test mode for every event, as the destination defines it (OpenAI validates and
    /// records nothing; Meta shows the events under Test events, with the
    /// `test_event_code` setting).
    #[arg(long, visible_alias = "test-mode")]
    validate_only: bool,
    /// Where undeliverable events go, one JSON line each (appended; created when needed,
    /// readable by its owner only). Give this file back to `send` as input to replay them:
    /// each letter's input event is mapped again with the mapping given now.
    #[arg(long, default_value = "dead-letters.ndjson", value_name = "FILE")]
    dead_letter: PathBuf,
    /// Replaying dead letters, send each one's mapped event as it stands (after a fix made
    /// to it in the file) instead of mapping its input event again.
    #[arg(long)]
    resend_mapped: bool,
    /// Set the clock (RFC 3339 or epoch ms); it then runs on from there.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Set a mapping parameter; also read from EVENTMAP_PARAM_<KEY>.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// After Ctrl-C or SIGTERM, how long what was read may take to deliver; then (or at a
    /// second Ctrl-C) the rest is dead-lettered `interrupted`, to be replayed.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    drain_timeout: Duration,
    /// A longer input line is malformed: dead-lettered by place, never held in memory.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES, value_name = "BYTES")]
    max_line_bytes: usize,
    /// Start at this line of this input (inputs listed before it are passed over): the
    /// `resume_from` of a run that stopped early.
    #[arg(long, value_name = "INPUT:LINE")]
    resume_from: Option<String>,
    /// Newline-delimited JSON events or dead-letter files; stdin when none is given or for `-`.
    inputs: Vec<String>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let options = compile_options(&args.params)?;
    let Some(mapping) = load_mapping(&args.mapping, &options)? else {
        return Ok(exit::ERROR);
    };
    let registry = eventmap_cli::destinations::registry();
    let destination = registry
        .delivering_to(&mapping)
        .map_err(anyhow::Error::msg)?;
    let validator = eventmap_cli::destinations::validator_for(&mapping)?;
    let sink = match args
        .connection
        .settings(destination, args.validate_only)
        .and_then(|settings| destination.sink(&settings))
    {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("eventmap: error: {e}");
            return Ok(exit::CREDENTIALS);
        }
    };
    let delivery_config = args.delivery.config(destination, RetryDefaults::File)?;
    let gate = delivery_config.batch_size;
    let inputs: Vec<String> = if args.inputs.is_empty() {
        vec!["-".into()]
    } else {
        args.inputs.clone()
    };
    refuse_to_overwrite_an_input(&args.dead_letter, &inputs)?;
    let start = match &args.resume_from {
        Some(at) => resume_place(at, &inputs)?,
        None => Place { input: 0, line: 1 },
    };
    let clock = match &args.now {
        Some(now) => Clock::starting_at(parse_now(now)?),
        None => Clock::system(),
    };
    let started = Instant::now();
    let console = Arc::new(Console::new());
    let inputs: Arc<[String]> = inputs.into();
    let stop = Arc::new(watch::Sender::new(false));
    let ledger = Arc::new(Ledger::new(
        Arc::clone(&console),
        Arc::clone(&inputs),
        DeadLetterFile::new(args.dead_letter.clone()),
        Arc::clone(&stop),
    ));
    let (give_up, given_up) = watch::channel(None);
    let reading = Reading {
        inputs: Arc::clone(&inputs),
        start,
        max_line_bytes: args.max_line_bytes,
        gate,
    };
    let source = InputLines::start(reading, Arc::clone(&ledger), given_up);
    let driving = Driving {
        route: "send".into(),
        mapping: Arc::new(RwLock::new(Arc::new(Compiled { mapping, validator }))),
        clock,
        delivery: delivery_config,
        validate_only: args.validate_only,
        drain: args.drain_timeout,
        replay: if args.resend_mapped {
            Replay::ResendMapped
        } else {
            Replay::Remap
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let driven = runtime.block_on(async {
        let watch = signals::watch(signals::Watch {
            stop: Arc::clone(&stop),
            give_up,
            drain_timeout: args.drain_timeout,
            console: Arc::clone(&console),
        })
        .context("cannot watch for Ctrl-C and SIGTERM")?;
        let watcher = tokio::spawn(watch);
        let driven = drive(source, &driving, sink, stop.subscribe()).await;
        // A deadline that did not come to pass must not be announced.
        watcher.abort();
        anyhow::Ok(driven)
    })?;
    let report = driven.report;
    let ending = driven
        .finished
        .ending
        .unwrap_or_else(|| why_stopped(&ledger, &report));
    let resume = match ending {
        Ending::Done => None,
        _ => Some(driven.finished.next),
    };
    console.clear();
    let counts = ledger.counts();
    let mut letters = ledger.letters();
    let closed = letters.close();
    let summary = Summary {
        counts: &counts,
        report: &report,
        validate_only: args.validate_only,
        letters: &letters,
        kept: closed.is_ok(),
        ending: &ending,
        resume: resume.map(|place| (inputs[place.input].as_str(), place.line)),
        started,
    };
    if let Some((input, line)) = summary.resume {
        eprintln!(
            "eventmap: stopped before {input} line {line}: resume with --resume-from '{input}:{line}'"
        );
    }
    eprintln!("{}", summary.to_json());
    if let Err(e) = closed {
        eprintln!(
            "eventmap: error: cannot write dead letters to {}: {e}; {} dead letter(s) are not \
             in it (the `dead_lettered` lines above name them)",
            letters.path().display(),
            letters.lost()
        );
        return Ok(exit::ERROR);
    }
    if let Some(fatal) = report
        .fatal
        .as_ref()
        .filter(|f| f.reason != DeadReason::Interrupted)
    {
        eprintln!("eventmap: error: delivery stopped: {}", fatal.message);
        return Ok(exit::CREDENTIALS);
    }
    Ok(match ending {
        Ending::InputFailed(e) => {
            eprintln!("eventmap: error: {e}");
            exit::ERROR
        }
        // A Ctrl-C after the whole input was read still cut the drain short.
        Ending::Done if report.fatal.is_none() => exit::OK,
        _ => exit::INTERRUPTED,
    })
}

/// Why a run stopped before its input ended: a dead letter that could not be written,
/// the destination's refusal, or a signal.
fn why_stopped(ledger: &Ledger, report: &DeliveryReport) -> Ending {
    if ledger.letters_failed() {
        return Ending::LettersFailed;
    }
    match &report.fatal {
        Some(fatal) if fatal.reason != DeadReason::Interrupted => Ending::DeliveryStopped,
        _ => Ending::Interrupted,
    }
}

/// `--resume-from INPUT:LINE`: INPUT must be one of the inputs given.
fn resume_place(at: &str, inputs: &[String]) -> anyhow::Result<Place> {
    let parsed = at
        .rsplit_once(':')
        .and_then(|(input, line)| Some((input, line.parse::<u64>().ok().filter(|n| *n > 0)?)));
    let Some((input, line)) = parsed else {
        bail!("--resume-from expects INPUT:LINE (as the summary's resume_from gives), got `{at}`");
    };
    match inputs.iter().position(|i| i == input) {
        Some(index) => Ok(Place { input: index, line }),
        None => bail!(
            "--resume-from names input `{input}`, which is not among the inputs given ({})",
            inputs.join(", ")
        ),
    }
}

/// Appending dead letters to a file being replayed would feed them back in forever.
fn refuse_to_overwrite_an_input(dead_letter: &Path, inputs: &[String]) -> anyhow::Result<()> {
    let Ok(target) = dead_letter.canonicalize() else {
        return Ok(()); // It does not exist yet, so it is no input.
    };
    for input in inputs.iter().filter(|i| *i != "-") {
        if Path::new(input).canonicalize().is_ok_and(|p| p == target) {
            bail!(
                "the dead-letter file {} is also an input: pass --dead-letter with another file \
                 to replay it",
                dead_letter.display()
            );
        }
    }
    Ok(())
}
