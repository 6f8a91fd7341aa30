//! The reading side of `send`, on a thread of its own: lines go to the driving loop
//! through a small bounded channel. Reading apart means a stop (Ctrl-C, SIGTERM, refused
//! credentials) is acted on at once even while stdin has nothing to give: the loop
//! simply takes no more lines, and the blocked reader ends with the process.
//!
//! Lines travel in chunks: what one read of the input brought, up to [`CHUNK_LINES`].
//! A hand-over per line made the two sides wake each other for every line (a quarter of
//! `send`'s time went to thread switches); a chunk is handed over as soon as the input
//! has nothing more buffered, so a slow stream's lines are not held back.

use tokio::sync::mpsc::{channel, Receiver, Sender};

use crate::input::{InputError, Next, Source};

/// Where a line sits: its input's index in the input list, and its number there (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub input: usize,
    pub line: u64,
}

/// A tag (the driving loop's name for an event) holds a place: the input's index above
/// this many bits, the line number below.
const LINE_BITS: u32 = 40;

pub(crate) fn tag_of(place: Place) -> u64 {
    ((place.input as u64) << LINE_BITS) | place.line
}

pub(crate) fn place_of(tag: u64) -> Place {
    Place {
        input: usize::try_from(tag >> LINE_BITS).unwrap_or(usize::MAX),
        line: tag & ((1 << LINE_BITS) - 1),
    }
}

/// Lines per chunk at most, and the bytes after which a chunk is handed over.
const CHUNK_LINES: usize = 256;
const CHUNK_BYTES: usize = 1 << 20;

/// One line read.
pub(crate) struct FedLine {
    pub place: Place,
    pub next: Next,
    pub bytes: Vec<u8>,
}

/// What the reading thread hands over.
pub(crate) enum Fed {
    /// Consecutive lines of one input, in order.
    Lines(Vec<FedLine>),
    /// The input cannot be opened or read any further.
    Failed { place: Place, error: InputError },
    /// Every input was read.
    End,
}

/// Starts reading `inputs` from `start` on (lines before it are passed over uncounted).
pub(crate) fn start(inputs: Vec<String>, start: Place, max_line_bytes: usize) -> Receiver<Fed> {
    // Chunks in the channel: at most 16 of 256 lines or 1 MiB read ahead.
    let (sender, receiver) = channel(16);
    std::thread::spawn(move || read_all(&inputs, start, max_line_bytes, &sender));
    receiver
}

fn read_all(inputs: &[String], start: Place, max: usize, out: &Sender<Fed>) {
    for (index, name) in inputs.iter().enumerate().skip(start.input) {
        let first = if index == start.input { start.line } else { 1 };
        let mut place = Place {
            input: index,
            line: 1,
        };
        let mut source = match Source::open(name) {
            Ok(source) => source,
            Err(error) => {
                let _ = out.blocking_send(Fed::Failed { place, error });
                return;
            }
        };
        let (mut chunk, mut chunk_bytes) = (Vec::new(), 0);
        loop {
            let mut bytes = Vec::new();
            let next = match source.next_line(&mut bytes, max) {
                Ok(Next::End) => break,
                Ok(next) => next,
                Err(error) => {
                    if !hand_over(out, &mut chunk) {
                        return;
                    }
                    let _ = out.blocking_send(Fed::Failed { place, error });
                    return;
                }
            };
            if place.line >= first {
                chunk_bytes += bytes.len();
                chunk.push(FedLine { place, next, bytes });
            }
            place.line += 1;
            let full = chunk.len() >= CHUNK_LINES || chunk_bytes >= CHUNK_BYTES;
            if full || !source.has_buffered() {
                chunk_bytes = 0;
                if !hand_over(out, &mut chunk) {
                    return; // The loop has stopped taking lines.
                }
            }
        }
        if !hand_over(out, &mut chunk) {
            return;
        }
    }
    let _ = out.blocking_send(Fed::End);
}

/// Sends the chunk's lines, if any; false once the loop takes no more.
fn hand_over(out: &Sender<Fed>, chunk: &mut Vec<FedLine>) -> bool {
    if chunk.is_empty() {
        return true;
    }
    out.blocking_send(Fed::Lines(std::mem::take(chunk))).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_gives_back_the_place_it_was_made_from() {
        for place in [
            Place { input: 0, line: 1 },
            Place {
                input: 3,
                line: (1 << LINE_BITS) - 1,
            },
        ] {
            assert_eq!(place_of(tag_of(place)), place);
        }
    }
}
