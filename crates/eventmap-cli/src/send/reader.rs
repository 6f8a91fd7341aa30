//! The mapping side of `send`: lines in, each mapped and validated by the shared
//! processor, mapped events handed to the delivery, the rest reported and dead-lettered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;

use eventmap::EventContext;
use eventmap_pipeline::delivery::{
    Clock, DeadLetter, DeadPayload, DeadReason, Delivery, OutgoingEvent,
};
use eventmap_pipeline::process::{Line, Processed, Processor};
use serde_json::Value;

use super::feed::{Fed, FedLine, Place};
use super::observer::Observer;
use super::summary::{Counts, Ending};
use crate::input::{self, InputError, Next};
use crate::report::{self, Origin};

/// The mapping side: lines in, mapped events handed to the delivery, the rest reported.
pub(super) struct Reader<'a> {
    pub(super) processor: Processor<'a>,
    pub(super) observer: &'a Observer,
    pub(super) delivery: &'a Delivery,
    pub(super) clock: Clock,
    pub(super) validate_only: bool,
    pub(super) interrupted: &'a AtomicBool,
    pub(super) inputs: &'a [String],
    /// Events submitted before the destination's first answer is awaited.
    pub(super) gate: usize,
    pub(super) max_line_bytes: usize,
}

impl Reader<'_> {
    /// Takes lines until the input ends or something stops the run; returns why, and the
    /// first line not taken (where to resume) when the input was not read to its end.
    pub(super) fn read(
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
    pub(super) fn submit_all(&self, ready: &mut Vec<OutgoingEvent>, counts: &mut Counts) {
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

    pub(super) fn stop_reason(&self) -> Option<Ending> {
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
    pub(super) fn take(
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

    pub(super) fn too_long(&self, name: &str, line_no: u64, bytes: u64, counts: &mut Counts) {
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

    pub(super) fn show_progress(&self, read: u64) {
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
    pub(super) fn handle(
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

/// The input event a replayed dead letter kept, as JSON text.
fn replayed_source(letter: &[u8]) -> Option<Vec<u8>> {
    let letter: Value = serde_json::from_slice(letter).ok()?;
    serde_json::to_vec(letter.get("source")?).ok()
}
