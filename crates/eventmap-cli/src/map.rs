//! `eventmap map`: stream events through a mapping, in input order.
//!
//! Every way out prints the summary: the end of the input, an input that cannot be read,
//! output that cannot be written. A closed stdout (`map … | head`) ends the run quietly.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use eventmap::{EventContext, Mapping, Outcome, Validator};
use serde_json::json;

use crate::exit;
use crate::input::{self, Next, Source, DEFAULT_MAX_LINE_BYTES};
use crate::options::{compile_options, load_mapping, parse_now};
use crate::progress::Progress;
use crate::report::{self, Counts, Origin};
use eventmap_pipeline::process::{Line, Processed, Processor};

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
    /// absent. Meant for one event at a time.
    #[arg(long)]
    explain: bool,
    /// Exit with status 3 when any event failed, was invalid or any line was malformed.
    #[arg(long)]
    fail_on_error: bool,
    /// A longer input line is reported malformed and skipped without being held in memory.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES, value_name = "BYTES")]
    max_line_bytes: usize,
    /// Newline-delimited JSON files; stdin when none is given or for `-`.
    inputs: Vec<String>,
}

/// Why a run ended before the end of its input.
enum Stop {
    /// The reader of stdout went away; nothing to say about it.
    StdoutClosed,
    Failed(anyhow::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Stop::StdoutClosed
        } else {
            Stop::Failed(anyhow::Error::new(e).context("cannot write output"))
        }
    }
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
    let mut run = MapRun {
        args,
        mapping: &mapping,
        validator: validator.as_deref(),
        fixed_now,
        counts: Counts::default(),
        progress: Progress::new(),
        out: BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        at: None,
    };
    let ended = run.inputs(&inputs).and_then(|()| Ok(run.out.flush()?));
    run.progress.clear();
    let mut summary = report::summary_json(&run.counts, started.elapsed().as_secs_f64());
    if let (Err(_), Some((input, line))) = (&ended, &run.at) {
        summary["summary"]["stopped_at"] = json!({"input": input, "line": line});
    }
    // The summary goes out whatever happened; if stderr is gone too, there is no one to tell.
    let _ = writeln!(io::stderr(), "{summary}");
    match ended {
        Ok(()) => {
            let counts = run.counts;
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

struct MapRun<'a, W: Write> {
    args: &'a Args,
    mapping: &'a Mapping,
    validator: Option<&'a dyn Validator>,
    fixed_now: Option<i64>,
    counts: Counts,
    progress: Progress,
    out: W,
    /// The line being handled: where a run that stops early stopped.
    at: Option<(String, u64)>,
}

impl<W: Write> MapRun<'_, W> {
    fn inputs(&mut self, inputs: &[String]) -> Result<(), Stop> {
        let processor = Processor {
            mapping: self.mapping,
            validator: self.validator,
            replay: false,
        };
        let mut line = Vec::new();
        let max = self.args.max_line_bytes;
        for name in inputs {
            self.at = Some((name.clone(), 1));
            let mut source = Source::open(name).map_err(|e| Stop::Failed(e.into()))?;
            let mut line_no = 0u64;
            loop {
                let next = source
                    .next_line(&mut line, max)
                    .map_err(|e| Stop::Failed(e.into()))?;
                line_no += 1;
                self.at = Some((name.clone(), line_no));
                let origin = Origin {
                    input: name,
                    line: line_no,
                    id: None,
                };
                match next {
                    Next::End => break,
                    Next::TooLong { bytes } => {
                        self.counts.read += 1;
                        self.malformed(&origin, &input::too_long_message(bytes, max))?;
                    }
                    Next::Line if line.iter().all(u8::is_ascii_whitespace) => {}
                    Next::Line => {
                        self.counts.read += 1;
                        if self.args.explain {
                            self.explain(&line, &origin)?;
                        } else {
                            let cx = self.context();
                            let processed = processor.bytes(&line, &cx);
                            self.handle(processed, origin)?;
                        }
                    }
                }
                self.progress.tick(self.counts.read, self.counts.mapped);
            }
        }
        Ok(())
    }

    fn context(&self) -> EventContext {
        EventContext {
            now_ms: self.fixed_now.unwrap_or_else(|| EventContext::now().now_ms),
        }
    }

    fn handle(&mut self, line: Line, origin: Origin<'_>) -> Result<(), Stop> {
        let Line { processed, id, .. } = line;
        let origin = Origin {
            id: id.as_deref(),
            ..origin
        };
        let mut err = io::stderr().lock();
        match processed {
            Processed::Mapped { event, .. } => {
                self.counts.mapped += 1;
                serde_json::to_writer(&mut self.out, &event).map_err(io::Error::from)?;
                self.out.write_all(b"\n")?;
                return Ok(());
            }
            Processed::Invalid { violations, .. } => {
                self.counts.invalid += 1;
                self.progress.clear();
                report::invalid(&mut err, &origin, &violations)?;
            }
            Processed::Skipped { reason } => {
                self.counts.skipped += 1;
                self.progress.clear();
                report::skipped(&mut err, &origin, &reason)?;
            }
            Processed::Failed { errors, .. } => {
                self.counts.failed += 1;
                self.progress.clear();
                report::failed(&mut err, &origin, &errors)?;
            }
            Processed::Malformed { message, .. } => {
                drop(err);
                return self.malformed(&origin, &message);
            }
        }
        err.flush()?;
        Ok(())
    }

    fn malformed(&mut self, origin: &Origin<'_>, message: &str) -> Result<(), Stop> {
        self.counts.malformed += 1;
        self.progress.clear();
        let mut err = io::stderr().lock();
        report::malformed(&mut err, origin, message)?;
        err.flush()?;
        Ok(())
    }

    fn explain(&mut self, line: &[u8], origin: &Origin<'_>) -> Result<(), Stop> {
        let event = eventmap_pipeline::process::text_of(line).and_then(|text| {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(event) if event.is_object() => Ok(event),
                Ok(_) => Err("not an event: an event is a JSON object".to_string()),
                Err(e) => Err(format!("invalid JSON: {e}")),
            }
        });
        let event = match event {
            Ok(event) => event,
            Err(message) => {
                self.counts.malformed += 1;
                writeln!(
                    self.out,
                    "event at {}:{}: {message}\n",
                    origin.input, origin.line
                )?;
                return Ok(());
            }
        };
        let cx = self.context();
        let explanation = self.mapping.explain(&event, &cx);
        match &explanation.outcome {
            Outcome::Mapped(_) => self.counts.mapped += 1,
            Outcome::Skipped { .. } => self.counts.skipped += 1,
            Outcome::Failed(_) => self.counts.failed += 1,
        }
        crate::explain::write(
            &mut self.out,
            self.mapping.file(),
            origin.input,
            origin.line,
            &explanation,
            self.validator,
            cx.now_ms,
        )?;
        Ok(())
    }
}
