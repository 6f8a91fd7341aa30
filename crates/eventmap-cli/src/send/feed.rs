//! The reading side of `send`, on a thread of its own: lines go to the mapping thread
//! through a small bounded channel. Reading apart means a stop (Ctrl-C, SIGTERM, refused
//! credentials) is acted on at once even while stdin has nothing to give: the mapping
//! thread simply takes no more lines, and the blocked reader ends with the process.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::input::{InputError, Next, Source};

/// Where a line sits: its input's index in the input list, and its number there (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub input: usize,
    pub line: u64,
}

/// What the reading thread hands over.
pub(crate) enum Fed {
    Line {
        place: Place,
        next: Next,
        bytes: Vec<u8>,
    },
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
    let (sender, receiver) = sync_channel(1024);
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
        loop {
            let mut bytes = Vec::new();
            let next = match source.next_line(&mut bytes, max) {
                Ok(Next::End) => break,
                Ok(next) => next,
                Err(error) => {
                    let _ = out.send(Fed::Failed { place, error });
                    return;
                }
            };
            if place.line >= first {
                let fed = Fed::Line { place, next, bytes };
                if out.send(fed).is_err() {
                    return; // The mapping thread has stopped taking lines.
                }
            }
            place.line += 1;
        }
    }
    let _ = out.send(Fed::End);
}
