//! The reading side of `send`, on a thread of its own: lines go to the mapping thread
//! through a small bounded channel. Reading apart means a stop (Ctrl-C, SIGTERM, refused
//! credentials) is acted on at once even while stdin has nothing to give: the mapping
//! thread simply takes no more lines, and the blocked reader ends with the process.
//!
//! Lines travel in chunks: what one read of the input brought, up to [`CHUNK_LINES`].
//! A hand-over per line made the two threads wake each other for every line (a quarter of
//! `send`'s time went to thread switches); a chunk is handed over as soon as the input
//! has nothing more buffered, so a slow stream's lines are not held back.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::input::{InputError, Next, Source};

/// Where a line sits: its input's index in the input list, and its number there (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub input: usize,
    pub line: u64,
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
    /// Nothing read: look at the stop flags now (sent by the signal watcher).
    Wake,
}

/// Wakes the mapping thread from elsewhere without ever blocking.
#[derive(Clone)]
pub(crate) struct Waker(SyncSender<Fed>);

impl Waker {
    pub fn wake(&self) {
        // A full channel means the mapping thread is about to look anyway, and a closed
        // one that it has stopped looking.
        let _ = self.0.try_send(Fed::Wake);
    }
}

/// Starts reading `inputs` from `start` on (lines before it are passed over uncounted).
pub(crate) fn start(
    inputs: Vec<String>,
    start: Place,
    max_line_bytes: usize,
) -> (Receiver<Fed>, Waker) {
    // Chunks in the channel: at most 16 of 256 lines or 1 MiB read ahead.
    let (sender, receiver) = sync_channel(16);
    let waker = Waker(sender.clone());
    std::thread::spawn(move || read_all(&inputs, start, max_line_bytes, &sender));
    (receiver, waker)
}

fn read_all(inputs: &[String], start: Place, max: usize, out: &SyncSender<Fed>) {
    for (index, name) in inputs.iter().enumerate().skip(start.input) {
        let first = if index == start.input { start.line } else { 1 };
        let mut place = Place {
            input: index,
            line: 1,
        };
        let mut source = match Source::open(name) {
            Ok(source) => source,
            Err(error) => {
                let _ = out.send(Fed::Failed { place, error });
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
                    let _ = out.send(Fed::Failed { place, error });
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
                    return; // The mapping thread has stopped taking lines.
                }
            }
        }
        if !hand_over(out, &mut chunk) {
            return;
        }
    }
    let _ = out.send(Fed::End);
}

/// Sends the chunk's lines, if any; false once the mapping thread takes no more.
fn hand_over(out: &SyncSender<Fed>, chunk: &mut Vec<FedLine>) -> bool {
    if chunk.is_empty() {
        return true;
    }
    out.send(Fed::Lines(std::mem::take(chunk))).is_ok()
}
