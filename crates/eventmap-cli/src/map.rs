//! `eventmap map`: stream events through a mapping, in input order.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use eventmap::{EventContext, Outcome};

use crate::exit;
use crate::input::Source;
use crate::options::{compile_options, load_mapping, parse_now};
use crate::process::{Line, Processed, Processor};
use crate::progress::Progress;
use crate::report::{self, Counts, Origin};

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

    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let stderr = io::stderr();
    let mut err = BufWriter::new(stderr.lock());
    let mut counts = Counts::default();
    let mut progress = Progress::new();
    let started = Instant::now();

    let inputs: Vec<String> = if args.inputs.is_empty() {
        vec!["-".into()]
    } else {
        args.inputs.clone()
    };
    let processor = Processor {
        mapping: &mapping,
        validator: validator.as_deref(),
        replay: false,
    };
    let (mut line, mut bytes) = (String::new(), Vec::new());
    for name in &inputs {
        let mut source = Source::open(name)?;
        let mut line_no = 0u64;
        while source.next_line(&mut line, &mut bytes)? {
            line_no += 1;
            if line.trim().is_empty() {
                continue;
            }
            counts.read += 1;
            let cx = EventContext {
                now_ms: fixed_now.unwrap_or_else(|| EventContext::now().now_ms),
            };
            if args.explain {
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(event) => {
                        let explanation = mapping.explain(&event, &cx);
                        match &explanation.outcome {
                            Outcome::Mapped(_) => counts.mapped += 1,
                            Outcome::Skipped { .. } => counts.skipped += 1,
                            Outcome::Failed(_) => counts.failed += 1,
                        }
                        crate::explain::write(
                            &mut out,
                            mapping.file(),
                            name,
                            line_no,
                            &explanation,
                            validator.as_deref(),
                            cx.now_ms,
                        )?;
                    }
                    Err(e) => {
                        counts.malformed += 1;
                        writeln!(out, "event at {name}:{line_no}: invalid JSON: {e}\n")?;
                    }
                }
                continue;
            }
            let Line { processed, id, .. } = processor.line(&line, &cx);
            if !matches!(processed, Processed::Mapped { .. }) {
                progress.clear();
            }
            let origin = Origin {
                input: name,
                line: line_no,
                id: id.as_deref(),
            };
            match processed {
                Processed::Mapped { event, .. } => {
                    counts.mapped += 1;
                    serde_json::to_writer(&mut out, &event)?;
                    out.write_all(b"\n")?;
                }
                Processed::Invalid { violations, .. } => {
                    counts.invalid += 1;
                    report::invalid(&mut err, &origin, &violations)?;
                    err.flush()?;
                }
                Processed::Skipped { reason } => {
                    counts.skipped += 1;
                    report::skipped(&mut err, &origin, &reason)?;
                    err.flush()?;
                }
                Processed::Failed { errors, .. } => {
                    counts.failed += 1;
                    report::failed(&mut err, &origin, &errors)?;
                    err.flush()?;
                }
                Processed::Malformed { message, .. } => {
                    counts.malformed += 1;
                    report::malformed(&mut err, &origin, &message)?;
                    err.flush()?;
                }
            }
            progress.tick(counts.read, counts.mapped);
        }
    }
    out.flush().context("cannot write output")?;
    progress.clear();
    report::summary(&mut err, &counts, started.elapsed().as_secs_f64())?;
    err.flush()?;
    let any_bad = counts.failed + counts.invalid + counts.malformed > 0;
    Ok(if args.fail_on_error && any_bad {
        exit::EVENTS_FAILED
    } else {
        exit::OK
    })
}
