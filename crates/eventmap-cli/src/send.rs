//! `eventmap send`: map, validate and deliver events to the OpenAI Conversions API.
//! Every event read ends delivered, skipped with a reason, or dead-lettered with a reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use eventmap::delivery::{
    Clock, DeadLetter, DeadPayload, DeadReason, Delivery, DeliveryConfig, DeliveryObserver,
    DeliveryReport, OutgoingEvent, RetryNotice, RetryPolicy,
};
use eventmap::EventContext;
use eventmap_openai::delivery::{DEFAULT_BATCH_EVENTS, MAX_BATCH_EVENTS};
use eventmap_openai::OpenAiSink;
use serde_json::{json, Value};

use crate::connection::ConnectionArgs;
use crate::console::Console;
use crate::dead_letters::DeadLetterFile;
use crate::exit;
use crate::input::Source;
use crate::options::{compile_options, load_mapping, parse_duration, parse_now};
use crate::process::{Line, Processed, Processor};
use crate::report::{self, Origin};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The mapping file (its `destination:` must be `openai`).
    #[arg(long, short)]
    mapping: PathBuf,
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Events per request, 1 to 1000. Small batches limit what one bad event holds up.
    #[arg(long, default_value_t = DEFAULT_BATCH_EVENTS, value_parser = batch_size)]
    batch_size: usize,
    /// Bytes of event JSON per request at most.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    max_batch_bytes: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Test mode for every event: the API validates but records nothing.
    #[arg(long)]
    validate_only: bool,
    /// Where undeliverable events go, one JSON line each (appended; created when needed).
    /// Give this file back to `send` as input to replay them.
    #[arg(long, default_value = "dead-letters.ndjson", value_name = "FILE")]
    dead_letter: PathBuf,
    /// Set the clock (RFC 3339 or epoch ms); it then runs on from there.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Set a mapping parameter; also read from EVENTMAP_PARAM_<KEY>.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Attempts per batch on transient failures (timeouts, 408, 429, 5xx), the first included.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// No retry starts later than this after a batch's first attempt.
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    max_retry_time: Duration,
    /// The backoff ceiling after the first failure (it doubles, up to 30s; full jitter).
    #[arg(long, default_value = "500ms", value_parser = parse_duration, value_name = "DURATION")]
    retry_delay: Duration,
    /// How long a part-full batch waits for more events (slow streams such as stdin).
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    linger: Duration,
    /// Newline-delimited JSON events or dead-letter files; stdin when none is given or for `-`.
    inputs: Vec<String>,
}

fn batch_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_BATCH_EVENTS).contains(&n) => Ok(n),
        _ => Err(format!("must be a number from 1 to {MAX_BATCH_EVENTS}")),
    }
}

/// What happened before delivery.
#[derive(Default)]
struct Counts {
    read: u64,
    mapped: u64,
    replayed: u64,
    skipped: BTreeMap<String, u64>,
    invalid: u64,
    failed: u64,
    malformed: u64,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let options = compile_options(&args.params)?;
    let Some(mapping) = load_mapping(&args.mapping, &options)? else {
        return Ok(exit::ERROR);
    };
    if mapping.destination() != Some("openai") {
        bail!(
            "{}: `send` delivers to OpenAI, so the mapping needs `destination: openai`",
            mapping.file()
        );
    }
    let validator = eventmap_cli::destinations::validator_for(&mapping)?;
    let sink_config = match args.connection.sink_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("eventmap: error: {e}");
            return Ok(exit::CREDENTIALS);
        }
    };
    let sink = OpenAiSink::new(&sink_config)?;
    let inputs: Vec<String> = if args.inputs.is_empty() {
        vec!["-".into()]
    } else {
        args.inputs.clone()
    };
    refuse_to_overwrite_an_input(&args.dead_letter, &inputs)?;
    let clock = match &args.now {
        Some(now) => Clock::starting_at(parse_now(now)?),
        None => Clock::system(),
    };
    let started = Instant::now();
    let console = Arc::new(Console::new());
    let observer = Arc::new(Observer {
        console: Arc::clone(&console),
        letters: Mutex::new(DeadLetterFile::new(args.dead_letter.clone())),
        delivered: AtomicU64::new(0),
        dead_lettered: AtomicU64::new(0),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Started inside the runtime; this thread then reads and maps, handing events over.
    let delivery = runtime.block_on(async {
        Delivery::start(
            sink,
            delivery_config(args),
            clock,
            Arc::clone(&observer) as Arc<dyn DeliveryObserver>,
        )
    });
    let interrupted = Arc::new(AtomicBool::new(false));
    runtime.spawn(watch_interrupts(
        Arc::clone(&interrupted),
        Arc::clone(&console),
    ));
    let reader = Reader {
        processor: Processor {
            mapping: &mapping,
            validator: validator.as_deref(),
            replay: true,
        },
        observer: &observer,
        delivery: &delivery,
        clock,
        validate_only: args.validate_only,
        interrupted: &interrupted,
    };
    let mut counts = Counts::default();
    let stopped_at = reader.read(&inputs, &mut counts)?;
    let report = runtime.block_on(delivery.finish());
    console.clear();
    let mut letters = observer.letters();
    letters
        .close()
        .with_context(|| format!("cannot write dead letters to {}", letters.path().display()))?;
    let mut summary = summary(&counts, &report, args.validate_only, &letters, started);
    if let Some(at) = &stopped_at {
        // Where to resume: this line and those after it were not read.
        summary["summary"]["interrupted_at"] = at.clone();
    }
    eprintln!("{summary}");
    if let Some(fatal) = &report.fatal {
        eprintln!("eventmap: error: delivery stopped: {}", fatal.message);
        return Ok(exit::CREDENTIALS);
    }
    Ok(if stopped_at.is_some() {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}

fn delivery_config(args: &Args) -> DeliveryConfig {
    DeliveryConfig {
        batch_size: args.batch_size,
        max_batch_bytes: args.max_batch_bytes,
        concurrency: usize::from(args.concurrency),
        linger: args.linger,
        retry: RetryPolicy {
            max_attempts: args.max_attempts,
            base_delay: args.retry_delay,
            max_elapsed: args.max_retry_time,
            ..RetryPolicy::default()
        },
        ..DeliveryConfig::default()
    }
}

/// The reading side: lines in, mapped events handed to the delivery, the rest reported.
struct Reader<'a> {
    processor: Processor<'a>,
    observer: &'a Observer,
    delivery: &'a Delivery,
    clock: Clock,
    validate_only: bool,
    interrupted: &'a AtomicBool,
}

impl Reader<'_> {
    /// Reads every input, or until interrupted: then returns where it stopped.
    fn read(&self, inputs: &[String], counts: &mut Counts) -> anyhow::Result<Option<Value>> {
        let (mut text, mut bytes) = (String::new(), Vec::new());
        for name in inputs {
            let mut source = Source::open(name)?;
            let mut line_no = 0u64;
            while source.next_line(&mut text, &mut bytes)? {
                line_no += 1;
                if self.interrupted.load(Ordering::SeqCst) {
                    return Ok(Some(json!({"input": name, "line": line_no})));
                }
                if text.trim().is_empty() {
                    continue;
                }
                counts.read += 1;
                let cx = EventContext {
                    now_ms: self.clock.now_ms(),
                };
                let Line {
                    processed,
                    id,
                    replayed,
                } = self.processor.line(&text, &cx);
                let origin = Origin {
                    input: name,
                    line: line_no,
                    id: id.as_deref(),
                };
                if replayed {
                    counts.replayed += 1;
                }
                if let Some(event) = self.handle(processed, &origin, counts)? {
                    if self.delivery.blocking_submit(event).is_err() {
                        bail!("the delivery pipeline stopped unexpectedly");
                    }
                }
                self.show_progress(counts.read);
            }
        }
        Ok(None)
    }

    fn show_progress(&self, read: u64) {
        self.observer.console.progress(read, |rate| {
            format!(
                "{read} read, {} delivered, {} dead-lettered ({rate:.0}/s)",
                self.observer.delivered.load(Ordering::Relaxed),
                self.observer.dead_lettered.load(Ordering::Relaxed),
            )
        });
    }

    /// Reports a line that will not be sent (and dead-letters it unless skipped); returns
    /// the event to submit otherwise.
    fn handle(
        &self,
        processed: Processed,
        origin: &Origin<'_>,
        counts: &mut Counts,
    ) -> anyhow::Result<Option<OutgoingEvent>> {
        let observer = self.observer;
        let console = &observer.console;
        let (reason, message, payload) = match processed {
            Processed::Mapped { event, test_mode } => {
                counts.mapped += 1;
                let id = match origin.id {
                    Some(id) => id.to_string(),
                    None => format!("{}:{}", origin.input, origin.line),
                };
                let test_mode = test_mode || self.validate_only;
                return Ok(Some(OutgoingEvent::new(id, event, test_mode)));
            }
            Processed::Skipped { reason } => {
                console.report(|w| report::skipped(w, origin, &reason))?;
                *counts.skipped.entry(reason).or_default() += 1;
                return Ok(None);
            }
            Processed::Invalid { event, violations } => {
                counts.invalid += 1;
                console.report(|w| report::invalid(w, origin, &violations))?;
                let message = violations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>();
                (
                    DeadReason::Invalid,
                    message.join("; "),
                    DeadPayload::Mapped(event),
                )
            }
            Processed::Failed { errors, source } => {
                counts.failed += 1;
                console.report(|w| report::failed(w, origin, &errors))?;
                let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>();
                let payload = match source {
                    Some(source) => DeadPayload::Source(source),
                    None => DeadPayload::Line(String::new()),
                };
                (DeadReason::MappingFailed, message.join("; "), payload)
            }
            Processed::Malformed {
                message,
                line: text,
            } => {
                counts.malformed += 1;
                console.report(|w| report::malformed(w, origin, &message))?;
                (DeadReason::Malformed, message, DeadPayload::Line(text))
            }
        };
        observer.dead_lettered.fetch_add(1, Ordering::Relaxed);
        observer.letters().write(&DeadLetter {
            id: origin.id.map(str::to_string),
            reason,
            status: None,
            code: None,
            message,
            attempts: 0,
            at_ms: self.clock.now_ms(),
            payload,
        });
        Ok(None)
    }
}

/// Reports what the delivery tasks do: dead letters (to the file and stderr) and retries.
struct Observer {
    console: Arc<Console>,
    letters: Mutex<DeadLetterFile>,
    delivered: AtomicU64,
    dead_lettered: AtomicU64,
}

impl Observer {
    fn letters(&self) -> MutexGuard<'_, DeadLetterFile> {
        self.letters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl DeliveryObserver for Observer {
    fn delivered(&self, events: &[OutgoingEvent], _test_mode: bool) {
        self.delivered
            .fetch_add(events.len() as u64, Ordering::Relaxed);
    }

    fn dead_lettered(&self, letter: &DeadLetter) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
        self.letters().write(letter);
        // The line names the event and the reason; never its data.
        let mut line = json!({"status": "dead_lettered", "id": letter.id,
            "reason": letter.reason.as_str(), "message": letter.message,
            "attempts": letter.attempts});
        if let Some(status) = letter.status {
            line["http_status"] = json!(status);
        }
        if let Some(code) = &letter.code {
            line["code"] = json!(code);
        }
        let _ = self.console.write(format!("{line}\n").as_bytes());
    }

    fn retrying(&self, notice: &RetryNotice) {
        let mut line = json!({"status": "retrying", "events": notice.events,
            "failures": notice.failures, "delay_ms": notice.delay.as_millis() as u64,
            "error": notice.error.message});
        if let Some(status) = notice.error.status {
            line["http_status"] = json!(status);
        }
        let _ = self.console.write(format!("{line}\n").as_bytes());
    }
}

fn summary(
    counts: &Counts,
    report: &DeliveryReport,
    validate_only: bool,
    letters: &DeadLetterFile,
    started: Instant,
) -> Value {
    let mut dead: BTreeMap<&str, u64> = BTreeMap::new();
    for (reason, n) in [
        (DeadReason::Malformed, counts.malformed),
        (DeadReason::MappingFailed, counts.failed),
        (DeadReason::Invalid, counts.invalid),
    ] {
        if n > 0 {
            dead.insert(reason.as_str(), n);
        }
    }
    for (reason, n) in &report.dead_lettered {
        *dead.entry(reason.as_str()).or_default() += n;
    }
    let skipped: u64 = counts.skipped.values().sum();
    json!({"summary": {
        "read": counts.read,
        "replayed": counts.replayed,
        "mapped": counts.mapped,
        "skipped": skipped,
        "skipped_by_reason": counts.skipped,
        "invalid": counts.invalid,
        "failed": counts.failed,
        "malformed": counts.malformed,
        "delivered": report.delivered,
        "validate_only": validate_only,
        "dead_lettered": dead.values().sum::<u64>(),
        "dead_lettered_by_reason": dead,
        "dead_letter_file": (letters.written() > 0).then(|| letters.path().display().to_string()),
        "requests": report.requests,
        "retries": report.retries,
        "resent": report.resent,
        "splits": report.splits,
        "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    }})
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

/// The first Ctrl-C stops reading: what was read is still delivered or dead-lettered and
/// the summary says where to resume. A second one quits at once.
async fn watch_interrupts(interrupted: Arc<AtomicBool>, console: Arc<Console>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    interrupted.store(true, Ordering::SeqCst);
    let _ = console.write(
        b"eventmap: interrupted: delivering the events already read (Ctrl-C again to quit now)\n",
    );
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(i32::from(exit::INTERRUPTED));
    }
}
