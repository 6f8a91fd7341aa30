//! One input line of `map`: mapped (a line of output) or reported (a line on stderr),
//! written into buffers so that the sequential and the parallel runs produce the same
//! bytes.

use std::io::Write;

use eventmap::EventContext;
use eventmap_pipeline::process::{Line, Processed, Processor};

use crate::input::{self, Next};
use crate::report::{self, Counts, Origin};

/// What lines produced: output lines, report lines, counts.
#[derive(Default)]
pub(super) struct Produced {
    pub out: Vec<u8>,
    pub err: Vec<u8>,
    pub counts: Counts,
}

impl Produced {
    pub fn clear(&mut self) {
        self.out.clear();
        self.err.clear();
        self.counts = Counts::default();
    }
}

/// Maps lines; shared by every worker (it holds only shared references).
pub(super) struct LineMapper<'a> {
    pub processor: Processor<'a>,
    pub fixed_now: Option<i64>,
    pub max_line_bytes: usize,
}

impl LineMapper<'_> {
    /// Handles line `line_no` of `input`: appends its output or its report to `into`,
    /// and counts it.
    pub fn line(&self, input: &str, line_no: u64, next: &Next, bytes: &[u8], into: &mut Produced) {
        let Produced { out, err, counts } = into;
        let origin = Origin {
            input,
            line: line_no,
            id: None,
        };
        // Writing into a Vec cannot fail, so the results below are always Ok.
        match next {
            Next::End => {}
            Next::TooLong { bytes } => {
                counts.read += 1;
                counts.malformed += 1;
                let message = input::too_long_message(*bytes, self.max_line_bytes);
                let _ = report::malformed(err, &origin, &message);
            }
            Next::Line if bytes.iter().all(u8::is_ascii_whitespace) => {}
            Next::Line => {
                counts.read += 1;
                let cx = EventContext {
                    now_ms: self.fixed_now.unwrap_or_else(|| EventContext::now().now_ms),
                };
                let Line { processed, id, .. } = self.processor.bytes_into(bytes, &cx, out);
                let origin = Origin {
                    id: id.as_deref(),
                    ..origin
                };
                let _ = write(processed, &origin, out, err, counts);
            }
        }
    }
}

/// Counts the line and reports it; a mapped event is in `out` already.
fn write(
    processed: Processed<()>,
    origin: &Origin<'_>,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
    counts: &mut Counts,
) -> std::io::Result<()> {
    match processed {
        Processed::Mapped { .. } => {
            counts.mapped += 1;
            out.write_all(b"\n")
        }
        Processed::Invalid { violations, .. } => {
            counts.invalid += 1;
            report::invalid(err, origin, &violations)
        }
        Processed::Skipped { reason } => {
            counts.skipped += 1;
            report::skipped(err, origin, &reason)
        }
        Processed::Failed { errors, .. } => {
            counts.failed += 1;
            report::failed(err, origin, &errors)
        }
        Processed::Malformed { message, .. } => {
            counts.malformed += 1;
            report::malformed(err, origin, &message)
        }
    }
}
