//! `eventmap map`: stream events through a mapping, in input order.
//!
//! Every way out prints the summary: the end of the input, an input that cannot be read,
//! output that cannot be written. A closed stdout (`map … | head`) ends the run quietly.
//! With more than one thread, chunks of lines are mapped in parallel (`parallel.rs`) and
//! written in input order; each line goes through the same `LineMapper` either way.

mod documents;
mod line;
mod parallel;
mod sink;

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use eventmap::{EventContext, Mapping, Outcome, Validator};
use serde_json::json;

use crate::exit;
use crate::input::{Next, Source, DEFAULT_MAX_LINE_BYTES};
use crate::options::{compile_options, load_mapping, parse_now};
use crate::progress::Progress;
use crate::report::{self, Counts};
use eventmap_pipeline::process::Processor;
use line::{LineMapper, Produced};
use sink::{Sink, Stop};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The mapping file.
    #[arg(long, short)]
    mapping: PathBuf,
    /// Fix the clock (RFC 3339 or epoch ms) for anything time-dependent.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Set a mapping parameter; also read from EVENTMAP_PARAM_<KEY>.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Instead of the mapped events, explain each key of each event: where its value came
    /// from (input path, constant, expression, default) and its mapping line, or why it is
    /// absent. Meant for a few events: the input may be NDJSON or pretty-printed JSON.
    #[arg(long)]
    explain: bool,
    /// Exit with status 3 when any event failed, was invalid or any line was malformed.
    #[arg(long)]
    fail_on_error: bool,
    /// A longer input line is reported malformed and skipped without being held in memory.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES, value_name = "BYTES")]
    max_line_bytes: usize,
    /// Threads that map [default: this machine's cores]. The output is in input order
    /// and the same, byte for byte, whatever the number.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    /// Newline-delimited JSON files; stdin when none is given or for `-`.
    inputs: Vec<String>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let options = compile_options(&args.params)?;
    let Some(mapping) = load_mapping(&args.mapping, &options)? else {
        return Ok(exit::ERROR);
    };
    let validator = eventmap_cli::destinations::validator_for(&mapping)?;
    let fixed_now = args.now.as_deref().map(parse_now).transpose()?;
    let inputs: Vec<String> = if args.inputs.is_empty() {
        vec!["-".into()]
    } else {
        args.inputs.clone()
    };
    let started = Instant::now();
    let mut sink = Sink {
        out: BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        progress: Progress::new(),
        counts: Counts::default(),
        at: None,
    };
    let mapper = LineMapper {
        processor: Processor {
            mapping: &mapping,
            validator: validator.as_deref(),
            replay: false,
            resend_mapped: false,
        },
        fixed_now,
        max_line_bytes: args.max_line_bytes,
    };
    let threads = args.threads.map_or_else(default_threads, usize::from);
    let ended = if args.explain {
        explain_all(
            &mapping,
            validator.as_deref(),
            fixed_now,
            args.max_line_bytes,
            &inputs,
            &mut sink,
        )
    } else if threads > 1 {
        parallel::run(&mapper, &inputs, threads, &mut sink)
    } else {
        sequential(&mapper, &inputs, &mut sink)
    };
    let ended = ended.and_then(|()| Ok(sink.out.flush()?));
    sink.progress.clear();
    let mut summary = report::summary_json(&sink.counts, started.elapsed().as_secs_f64());
    if let (Err(_), Some((input, line))) = (&ended, &sink.at) {
        summary["summary"]["stopped_at"] = json!({"input": input, "line": line});
    }
    // The summary goes out whatever happened; if stderr is gone too, there is no one to tell.
    let _ = writeln!(io::stderr(), "{summary}");
    match ended {
        Ok(()) => {
            let counts = sink.counts;
            let any_bad = counts.failed + counts.invalid + counts.malformed > 0;
            Ok(if args.fail_on_error && any_bad {
                exit::EVENTS_FAILED
            } else {
                exit::OK
            })
        }
        Err(Stop::StdoutClosed) => Ok(exit::OK),
        Err(Stop::Failed(e)) => Err(e),
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What one line's handler is told besides the line.
struct LineAt<'n> {
    input: &'n str,
    line_no: u64,
    /// Whether more of the input is already read: when not, the next line may be long in
    /// coming (stdin), so what is held back should go out now.
    more_buffered: bool,
}

/// Reads every input line by line, with `sink.at` on the line being handled (where a run
/// that stops early stopped), and hands each line to `handle`.
fn each_line(
    inputs: &[String],
    max: usize,
    sink: &mut Sink<'_>,
    mut handle: impl FnMut(&mut Sink<'_>, LineAt<'_>, &Next, &[u8]) -> Result<(), Stop>,
) -> Result<(), Stop> {
    let mut line = Vec::new();
    for name in inputs {
        sink.at = Some((name.clone(), 1));
        let mut source = Source::open(name).map_err(|e| Stop::Failed(e.into()))?;
        let mut line_no = 0u64;
        loop {
            line_no += 1;
            if let Some((_, at)) = &mut sink.at {
                *at = line_no;
            }
            let next = source
                .next_line(&mut line, max)
                .map_err(|e| Stop::Failed(e.into()))?;
            if next == Next::End {
                break;
            }
            let at = LineAt {
                input: name,
                line_no,
                more_buffered: source.has_buffered(),
            };
            handle(sink, at, &next, &line)?;
        }
    }
    Ok(())
}

/// Lines whose output and reports one thread holds before writing them, at most; fewer
/// when their bytes reach `HELD_BYTES`, or when the input has nothing more read.
/// Writing each line's report at once cost a `write` to stderr per skipped or failed
/// line (11,307 system calls for 100,000 events, against 442 with `--threads 2`).
const HELD_LINES: usize = 512;
const HELD_BYTES: usize = 1 << 16;

/// One thread: read, map and write line by line, in runs of lines.
fn sequential(mapper: &LineMapper<'_>, inputs: &[String], sink: &mut Sink<'_>) -> Result<(), Stop> {
    let mut produced = Produced::default();
    let mut held = 0usize;
    let read = each_line(
        inputs,
        mapper.max_line_bytes,
        sink,
        |sink, at, next, line| {
            mapper.line(at.input, at.line_no, next, line, &mut produced);
            held += 1;
            let bytes = produced.out.len() + produced.err.len();
            if held < HELD_LINES && bytes < HELD_BYTES && at.more_buffered {
                return Ok(());
            }
            held = 0;
            let written = sink.write_chunk(&produced);
            produced.clear();
            written?;
            if !at.more_buffered {
                sink.flush_output()?;
            }
            Ok(())
        },
    );
    // What was mapped before the end, or before an input failed, is written all the same.
    let written = sink.write_chunk(&produced);
    read.and(written)
}

/// `--explain`: a readable account of each event instead of the mapped events. Each input
/// is read whole, as JSON documents that may span lines (NDJSON, or pretty-printed).
fn explain_all(
    mapping: &Mapping,
    validator: Option<&dyn Validator>,
    fixed_now: Option<i64>,
    max: usize,
    inputs: &[String],
    sink: &mut Sink<'_>,
) -> Result<(), Stop> {
    for name in inputs {
        sink.at = Some((name.clone(), 1));
        let mut source = Source::open(name).map_err(|e| Stop::Failed(e.into()))?;
        let bytes = source
            .read_whole(max.saturating_mul(64))
            .map_err(|e| Stop::Failed(e.into()))?;
        let found = match eventmap_pipeline::process::text_of(&bytes) {
            Ok(text) => documents::documents(text),
            Err(message) => vec![documents::Document {
                line: 1,
                event: Err(message.replace("of the line", "of the input")),
            }],
        };
        for document in found {
            sink.at = Some((name.clone(), document.line));
            explain_one(mapping, validator, fixed_now, name, document, sink)?;
        }
    }
    Ok(())
}

fn explain_one(
    mapping: &Mapping,
    validator: Option<&dyn Validator>,
    fixed_now: Option<i64>,
    name: &str,
    document: documents::Document,
    sink: &mut Sink<'_>,
) -> Result<(), Stop> {
    let line_no = document.line;
    sink.counts.read += 1;
    let event = match document.event {
        Ok(event) => event,
        Err(message) => {
            sink.counts.malformed += 1;
            writeln!(sink.out, "event at {name}:{line_no}: {message}\n")?;
            return Ok(());
        }
    };
    let cx = EventContext {
        now_ms: fixed_now.unwrap_or_else(|| EventContext::now().now_ms),
    };
    let explanation = mapping.explain(&event, &cx);
    match &explanation.outcome {
        Outcome::Mapped(_) => sink.counts.mapped += 1,
        Outcome::Skipped { .. } => sink.counts.skipped += 1,
        Outcome::Failed(_) => sink.counts.failed += 1,
    }
    crate::explain::write(
        &mut sink.out,
        mapping.file(),
        name,
        line_no,
        &explanation,
        validator,
        cx.now_ms,
    )?;
    Ok(())
}
