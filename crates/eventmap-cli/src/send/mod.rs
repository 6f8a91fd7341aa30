//! `eventmap send`: map, validate and deliver events to the mapping's destination.
//! Every event read ends delivered, skipped with a reason, or dead-lettered with a reason.

mod feed;
mod observer;
mod signals;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use eventmap::EventContext;
use eventmap_pipeline::delivery::{
    Clock, DeadLetter, DeadPayload, DeadReason, Delivery, DeliveryObserver, DeliveryReport,
    OutgoingEvent,
};
use serde_json::{json, Value};

use crate::connection::{ConnectionArgs, DeliveryArgs, RetryDefaults};
use crate::console::Console;
use crate::dead_letters::DeadLetterFile;
use crate::exit;
use crate::input::{self, InputError, Next, DEFAULT_MAX_LINE_BYTES};
use crate::options::{compile_options, load_mapping, parse_duration, parse_now};
use crate::report::{self, Origin};
use eventmap_pipeline::process::{Line, Processed, Processor};
use feed::{Fed, FedLine, Place};
use observer::Observer;

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
    /// Mapped events the delivery could no longer take (it ended early).
    lost_in_handover: u64,
}

/// Why reading stopped.
enum Ending {
    /// Every input was read.
    Done,
    /// Ctrl-C or SIGTERM (or a drain that was cut short).
    Interrupted,
    /// The destination refused the credentials or the requests: nothing more can go.
    DeliveryStopped,
    /// An input could not be opened or read.
    InputFailed(InputError),
    /// A dead letter could not be written.
    LettersFailed,
}

impl Ending {
    fn as_str(&self) -> &'static str {
        match self {
            Ending::Done => "end_of_input",
            Ending::Interrupted => "interrupted",
            Ending::DeliveryStopped => "delivery_stopped",
            Ending::InputFailed(_) => "input_unreadable",
            Ending::LettersFailed => "dead_letter_write_failed",
        }
    }
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
    let letters = DeadLetterFile::new(args.dead_letter.clone());
    let observer = Arc::new(Observer::new(Arc::clone(&console), letters));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Started inside the runtime; this thread then maps the lines the reading thread
    // feeds it and hands events over.
    let delivery = runtime.block_on(async {
        Delivery::start(
            sink,
            delivery_config,
            clock,
            Arc::clone(&observer) as Arc<dyn DeliveryObserver>,
        )
    });
    let (feed, waker) = feed::start(inputs.clone(), start, args.max_line_bytes);
    let interrupted = Arc::new(AtomicBool::new(false));
    let watch = runtime.block_on(async {
        signals::watch(signals::Watch {
            interrupted: Arc::clone(&interrupted),
            waker,
            stopper: delivery.stopper(),
            drain_timeout: args.drain_timeout,
            console: Arc::clone(&console),
        })
    });
    runtime.spawn(watch.context("cannot watch for Ctrl-C and SIGTERM")?);
    let reader = Reader {
        processor: Processor {
            mapping: &mapping,
            validator: validator.as_deref(),
            replay: true,
            resend_mapped: args.resend_mapped,
        },
        observer: &observer,
        delivery: &delivery,
        clock,
        validate_only: args.validate_only,
        interrupted: &interrupted,
        inputs: &inputs,
        gate,
        max_line_bytes: args.max_line_bytes,
    };
    let mut counts = Counts::default();
    let (ending, resume) = reader.read(&feed, start, &mut counts);
    drop(feed); // The reading thread ends at its next line, or with the process.
    let report = runtime.block_on(delivery.finish());
    console.clear();
    let mut letters = observer.letters();
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

/// The mapping side: lines in, mapped events handed to the delivery, the rest reported.
struct Reader<'a> {
    processor: Processor<'a>,
    observer: &'a Observer,
    delivery: &'a Delivery,
    clock: Clock,
    validate_only: bool,
    interrupted: &'a AtomicBool,
    inputs: &'a [String],
    /// Events submitted before the destination's first answer is awaited.
    gate: usize,
    max_line_bytes: usize,
}

impl Reader<'_> {
    /// Takes lines until the input ends or something stops the run; returns why, and the
    /// first line not taken (where to resume) when the input was not read to its end.
    fn read(
        &self,
        feed: &Receiver<Fed>,
        start: Place,
        counts: &mut Counts,
    ) -> (Ending, Option<Place>) {
        let mut next = start;
        let mut submitted = 0usize;
        // Mapped events of the current chunk, handed to the delivery together.
        let mut ready = Vec::new();
        loop {
            self.submit_all(&mut ready, counts);
            if let Some(ending) = self.stop_reason() {
                return (ending, Some(next));
            }
            let Ok(fed) = feed.recv() else {
                let error = InputError::lost(&self.inputs[next.input]);
                return (Ending::InputFailed(error), Some(next));
            };
            let lines = match fed {
                Fed::Wake => continue,
                Fed::End => return (Ending::Done, None),
                Fed::Failed { place, error } => return (Ending::InputFailed(error), Some(place)),
                Fed::Lines(lines) => lines,
            };
            for FedLine {
                place,
                next: kind,
                bytes,
            } in lines
            {
                if let Some(ending) = self.stop_reason() {
                    self.submit_all(&mut ready, counts);
                    return (ending, Some(place));
                }
                next = Place {
                    input: place.input,
                    line: place.line + 1,
                };
                let name = &self.inputs[place.input];
                let event = match kind {
                    Next::Line if bytes.iter().all(u8::is_ascii_whitespace) => None,
                    Next::Line => self.take(name, place.line, &bytes, counts),
                    Next::TooLong { bytes } => {
                        self.too_long(name, place.line, bytes, counts);
                        None
                    }
                    Next::End => None,
                };
                if let Some(event) = event {
                    ready.push(event);
                    submitted += 1;
                    if submitted >= self.gate && !self.observer.has_answered() {
                        self.submit_all(&mut ready, counts);
                        self.observer
                            .wait_for_first_answer(|| self.stop_reason().is_some());
                    }
                }
                self.show_progress(counts.read);
            }
        }
    }

    /// Hands `ready` to the delivery; an event it can no longer take is accounted for as
    /// a dead letter.
    fn submit_all(&self, ready: &mut Vec<OutgoingEvent>, counts: &mut Counts) {
        if ready.is_empty() {
            return;
        }
        let Err(refused) = self.delivery.blocking_submit_all(ready.drain(..)) else {
            return;
        };
        // Only a panic in the delivery task ends it early; account for the events.
        for event in refused {
            let payload = DeadPayload::Mapped {
                event: event.event(),
                source: event.source_event(),
            };
            let letter = DeadLetter {
                id: Some(event.id),
                reason: DeadReason::Interrupted,
                status: None,
                code: None,
                message: "not sent: the delivery task ended early".into(),
                attempts: 0,
                at_ms: self.clock.now_ms(),
                payload,
            };
            self.observer.keep(&letter);
            counts.lost_in_handover += 1;
        }
    }

    fn stop_reason(&self) -> Option<Ending> {
        if self.observer.letters_failed() {
            return Some(Ending::LettersFailed);
        }
        if let Some(fatal) = self.delivery.stopped() {
            return Some(if fatal.reason == DeadReason::Interrupted {
                Ending::Interrupted
            } else {
                Ending::DeliveryStopped
            });
        }
        self.interrupted
            .load(Ordering::SeqCst)
            .then_some(Ending::Interrupted)
    }

    /// Maps one line; the event to deliver, if it became one.
    fn take(
        &self,
        name: &str,
        line_no: u64,
        bytes: &[u8],
        counts: &mut Counts,
    ) -> Option<OutgoingEvent> {
        counts.read += 1;
        let cx = EventContext {
            now_ms: self.clock.now_ms(),
        };
        let Line {
            processed,
            id,
            replayed,
        } = self.processor.bytes(bytes, &cx);
        let origin = Origin {
            input: name,
            line: line_no,
            id: id.as_deref(),
        };
        if replayed {
            counts.replayed += 1;
        }
        let event = self.handle(processed, &origin, counts)?;
        // The line rides along (a copy, parsed only for a dead letter) so that a letter
        // keeps its input event; a replayed letter's is the one it kept.
        let source = if replayed {
            replayed_source(bytes)
        } else {
            Some(bytes.to_vec())
        };
        Some(match source {
            Some(source) => event.with_source(source),
            None => event,
        })
    }

    fn too_long(&self, name: &str, line_no: u64, bytes: u64, counts: &mut Counts) {
        counts.read += 1;
        let origin = Origin {
            input: name,
            line: line_no,
            id: None,
        };
        let message = input::too_long_message(bytes, self.max_line_bytes);
        let payload = DeadPayload::NotKept {
            input: name.to_string(),
            line: line_no,
        };
        self.handle(Processed::Malformed { message, payload }, &origin, counts);
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
    ) -> Option<OutgoingEvent> {
        let console = &self.observer.console;
        // A report that cannot reach stderr changes nothing about the event's fate.
        let (reason, message, payload) = match processed {
            Processed::Mapped { json, test_mode } => {
                counts.mapped += 1;
                let id = match origin.id {
                    Some(id) => id.to_string(),
                    None => format!("{}:{}", origin.input, origin.line),
                };
                let test_mode = test_mode || self.validate_only;
                return Some(OutgoingEvent::from_json(id, json, test_mode));
            }
            Processed::Skipped { reason } => {
                let _ = console.report(|w| report::skipped(w, origin, &reason));
                *counts.skipped.entry(reason).or_default() += 1;
                return None;
            }
            Processed::Invalid {
                event,
                violations,
                source,
            } => {
                counts.invalid += 1;
                let _ = console.report(|w| report::invalid(w, origin, &violations));
                let message = violations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>();
                (
                    DeadReason::Invalid,
                    message.join("; "),
                    DeadPayload::Mapped { event, source },
                )
            }
            Processed::Failed { errors, source } => {
                counts.failed += 1;
                let _ = console.report(|w| report::failed(w, origin, &errors));
                let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>();
                let payload = match source {
                    Some(source) => DeadPayload::Source(source),
                    None => DeadPayload::Line(String::new()),
                };
                (DeadReason::MappingFailed, message.join("; "), payload)
            }
            Processed::Malformed { message, payload } => {
                counts.malformed += 1;
                let _ = console.report(|w| report::malformed(w, origin, &message));
                (DeadReason::Malformed, message, payload)
            }
        };
        self.observer.keep(&DeadLetter {
            id: origin.id.map(str::to_string),
            reason,
            status: None,
            code: None,
            message,
            attempts: 0,
            at_ms: self.clock.now_ms(),
            payload,
        });
        None
    }
}

/// The closing `{"summary": …}` line.
struct Summary<'a> {
    counts: &'a Counts,
    report: &'a DeliveryReport,
    validate_only: bool,
    letters: &'a DeadLetterFile,
    /// The dead-letter file was written, flushed and synced without error.
    kept: bool,
    ending: &'a Ending,
    resume: Option<(&'a str, u64)>,
    started: Instant,
}

impl Summary<'_> {
    fn to_json(&self) -> Value {
        let (counts, report, letters) = (self.counts, self.report, self.letters);
        let mut dead: BTreeMap<&str, u64> = BTreeMap::new();
        for (reason, n) in [
            (DeadReason::Malformed, counts.malformed),
            (DeadReason::MappingFailed, counts.failed),
            (DeadReason::Invalid, counts.invalid),
            (DeadReason::Interrupted, counts.lost_in_handover),
        ] {
            if n > 0 {
                dead.insert(reason.as_str(), n);
            }
        }
        for (reason, n) in &report.dead_lettered {
            *dead.entry(reason.as_str()).or_default() += n;
        }
        let skipped: u64 = counts.skipped.values().sum();
        let file_holds = self.kept && letters.written() > 0;
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
            "validate_only": self.validate_only,
            "dead_lettered": dead.values().sum::<u64>(),
            "dead_lettered_by_reason": dead,
            "dead_letter_file": file_holds.then(|| letters.path().display().to_string()),
            "dead_letters_not_written": letters.lost(),
            "requests": report.requests,
            "retries": report.retries,
            "resent": report.resent,
            "splits": report.splits,
            "stopped": self.ending.as_str(),
            "resume_from": self.resume.map(|(input, line)| json!({"input": input, "line": line})),
            "seconds": (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        }})
    }
}

/// Appending dead letters to a file being replayed would feed them back in forever.
/// The input event a replayed dead letter kept, as JSON text.
fn replayed_source(letter: &[u8]) -> Option<Vec<u8>> {
    let letter: Value = serde_json::from_slice(letter).ok()?;
    serde_json::to_vec(letter.get("source")?).ok()
}

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
