//! `send`'s inputs as a source of the driving loop: the lines the reading thread feeds,
//! each named by its place (input and line number), handed out no faster than the gate
//! allows. Until the destination first answers, no more than one batch goes out: with a
//! wrong key, only that batch is read and dead-lettered, not the whole input.

use std::collections::VecDeque;
use std::sync::Arc;

use eventmap_pipeline::delivery::DeadPayload;
use eventmap_pipeline::drive::{Body, Fates, Incoming, Pulled, Source};
use tokio::sync::{mpsc, watch};

use super::feed::{self, place_of, tag_of, Fed, FedLine, Place};
use super::ledger::Ledger;
use super::summary::Ending;
use crate::input::{self, InputError, Next};

pub(super) struct InputLines {
    feed: mpsc::Receiver<Fed>,
    ledger: Arc<Ledger>,
    inputs: Arc<[String]>,
    /// Events handed out before the destination's first answer is awaited.
    gate: usize,
    max_line_bytes: usize,
    /// The first line not handed out: where a run that stops early resumes.
    next: Place,
    /// Holds why the rest must be given up now (a second Ctrl-C), once it must.
    given_up: watch::Receiver<Option<String>>,
    /// Lines fed but not yet handed out (the gate held them back).
    waiting: VecDeque<FedLine>,
    /// Why the input stopped giving lines, once it has.
    ending: Option<Ending>,
}

/// Where `send` reads, and how much.
pub(super) struct Reading {
    pub inputs: Arc<[String]>,
    pub start: Place,
    pub max_line_bytes: usize,
    /// Events handed out before the destination's first answer is awaited.
    pub gate: usize,
}

/// How the inputs were left.
pub(super) struct InputsLeft {
    /// The input ended (read to its end, or unreadable); `None` when the run stopped.
    pub ending: Option<Ending>,
    /// The first line no event was taken from.
    pub next: Place,
}

impl InputLines {
    /// Starts the reading thread at `reading.start`.
    pub fn start(
        reading: Reading,
        ledger: Arc<Ledger>,
        given_up: watch::Receiver<Option<String>>,
    ) -> Self {
        let Reading {
            inputs,
            start,
            max_line_bytes,
            gate,
        } = reading;
        Self {
            feed: feed::start(inputs.to_vec(), start, max_line_bytes),
            ledger,
            inputs,
            gate,
            max_line_bytes,
            next: start,
            given_up,
            waiting: VecDeque::new(),
            ending: None,
        }
    }

    /// How many events may go out now: all once the destination has answered, else
    /// what is left of the first batch (waiting for the answer when none is).
    async fn gate_open_for(&self) -> usize {
        let mut answer = self.ledger.first_answer();
        if *answer.borrow() {
            return usize::MAX;
        }
        let mapped = usize::try_from(self.ledger.counts().mapped).unwrap_or(usize::MAX);
        match self.gate.saturating_sub(mapped) {
            0 => {
                // Dropped sender: the ledger outlives the source, so this never ends it.
                let _ = answer.wait_for(|answered| *answered).await;
                usize::MAX
            }
            open => open,
        }
    }

    fn incoming(&self, line: FedLine) -> Option<Incoming> {
        let FedLine { place, next, bytes } = line;
        let body = match next {
            Next::Line if bytes.iter().all(u8::is_ascii_whitespace) => return None,
            Next::Line => Body::Event(bytes),
            Next::TooLong { bytes } => Body::Unreadable {
                why: input::too_long_message(bytes, self.max_line_bytes),
                payload: DeadPayload::NotKept {
                    input: self.inputs[place.input].clone(),
                    line: place.line,
                },
            },
            Next::End => return None,
        };
        Some(Incoming {
            tag: tag_of(place),
            body,
        })
    }
}

impl Source for InputLines {
    type Finished = InputsLeft;
    const KEPT: &'static str = "what is undelivered is dead-lettered `interrupted`, to be replayed";
    const EVENTS_WAIT: bool = false;

    async fn pull(&mut self) -> Pulled {
        loop {
            if self.waiting.is_empty() {
                let fed = self.feed.recv().await;
                match fed {
                    Some(Fed::Lines(lines)) => self.waiting.extend(lines),
                    Some(Fed::End) => {
                        self.ending = Some(Ending::Done);
                        return Pulled::End;
                    }
                    Some(Fed::Failed { place, error }) => {
                        self.next = place;
                        self.ending = Some(Ending::InputFailed(error));
                        return Pulled::End;
                    }
                    None => {
                        let error = InputError::lost(&self.inputs[self.next.input]);
                        self.ending = Some(Ending::InputFailed(error));
                        return Pulled::End;
                    }
                }
            }
            let mut open = self.gate_open_for().await;
            let mut events = Vec::new();
            while open > 0 {
                let Some(line) = self.waiting.pop_front() else {
                    break;
                };
                self.next = Place {
                    input: line.place.input,
                    line: line.place.line + 1,
                };
                if let Some(event) = self.incoming(line) {
                    events.push(event);
                    open -= 1;
                }
            }
            if !events.is_empty() {
                return Pulled::Events(events);
            }
        }
    }

    fn fates(&self) -> Arc<dyn Fates> {
        Arc::clone(&self.ledger) as Arc<dyn Fates>
    }

    fn fallback_id(&self, tag: u64) -> String {
        let place = place_of(tag);
        format!("{}:{}", self.inputs[place.input], place.line)
    }

    fn not_taken(&mut self, tag: u64) {
        self.next = place_of(tag);
    }

    fn stop_pulling(&mut self) {
        // The reading thread ends at its next hand-over (or with the process, if it waits
        // on stdin).
        self.feed.close();
    }

    async fn given_up(&mut self) -> String {
        let why = match self.given_up.wait_for(Option::is_some).await {
            Ok(why) => why.clone(),
            Err(_) => None, // No watcher: nothing will give up.
        };
        match why {
            Some(why) => why,
            None => std::future::pending().await,
        }
    }

    async fn finish(self) -> InputsLeft {
        InputsLeft {
            ending: self.ending,
            next: self.next,
        }
    }
}
