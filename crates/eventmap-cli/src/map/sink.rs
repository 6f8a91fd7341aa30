//! Where `map`'s output goes, in input order, with the counts and progress so far, and
//! why a run ends before the end of its input.

use std::io::{self, BufWriter, Write};

use super::line::Produced;
use crate::progress::Progress;
use crate::report::Counts;

/// Why a run ended before the end of its input.
pub(super) enum Stop {
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

/// Where output goes, in input order, and what has been counted so far.
pub(super) struct Sink<'a> {
    pub(super) out: BufWriter<io::StdoutLock<'a>>,
    pub(super) progress: Progress,
    pub(super) counts: Counts,
    /// The line last handled: where a run that stops early stopped.
    pub(super) at: Option<(String, u64)>,
}

impl Sink<'_> {
    /// Writes the output and reports of one line or one chunk of lines.
    pub(super) fn write_chunk(&mut self, produced: &Produced) -> Result<(), Stop> {
        if !produced.err.is_empty() {
            self.progress.clear();
            let mut stderr = io::stderr().lock();
            stderr.write_all(&produced.err)?;
            stderr.flush()?;
        }
        self.out.write_all(&produced.out)?;
        self.counts.add(&produced.counts);
        self.progress.tick(self.counts.read, self.counts.mapped);
        Ok(())
    }

    /// Sends what is buffered for stdout on, when the input has caught up with its
    /// writer: `tail -f events | eventmap map` shows each event as it comes.
    pub(super) fn flush_output(&mut self) -> Result<(), Stop> {
        self.out.flush()?;
        Ok(())
    }
}
