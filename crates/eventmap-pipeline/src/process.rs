//! One input event through the mapping and the destination's validator: what `map`,
//! `send` and `serve` all do before they part ways.

use crate::delivery::{DeadLetter, DeadPayload, DeadReason, OutgoingEvent};
use eventmap::{
    EventContext, KeyError, MappedEvent, Mapping, Outcome, Output, Validator, Violation,
};
use serde_json::Value;

/// A compiled mapping with its destination's validator: what a [`Processor`] reads, and
/// what a reload replaces whole (`serve`'s routes, `consume`, the playground).
pub struct Compiled {
    pub mapping: Mapping,
    pub validator: Option<Box<dyn Validator>>,
}

/// The line as text, or why it is not: where its first byte that is not UTF-8 sits.
pub fn text_of(line: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(line).map_err(|e| {
        format!(
            "invalid UTF-8 at byte {} of the line (counting from 0)",
            e.valid_up_to()
        )
    })
}

/// What became of one line. `J` is what a mapped event's JSON became: its text
/// (`String`), or nothing (`()`) where [`Processor::bytes_into`] appended it to the
/// caller's buffer.
pub enum Processed<J = String> {
    /// Mapped and valid: the event as compact JSON, written straight from the mapping's
    /// slots.
    Mapped {
        json: J,
        test_mode: bool,
    },
    Skipped {
        reason: String,
    },
    Failed {
        errors: Vec<KeyError>,
        /// The input event, for a dead letter that can be replayed.
        source: Option<Value>,
    },
    /// Mapped, but the destination's rules reject it.
    Invalid {
        event: Value,
        violations: Vec<Violation>,
        /// The input event, so that a replay after a mapping fix maps it again.
        source: Option<Value>,
    },
    /// Not an event: not UTF-8, not JSON, not an object, or too long to read.
    Malformed {
        message: String,
        /// What a dead letter keeps of the line.
        payload: DeadPayload,
    },
}

/// A processed line and the id reports name it by.
pub struct Line<J = String> {
    pub processed: Processed<J>,
    pub id: Option<String>,
    /// The line was a dead letter being replayed.
    pub replayed: bool,
}

pub struct Processor<'a> {
    pub mapping: &'a Mapping,
    pub validator: Option<&'a dyn Validator>,
    /// Lines that are dead-letter records are replayed rather than mapped as events.
    pub replay: bool,
    /// A replayed letter that holds both is sent as its mapped event stands, rather than
    /// mapped again from its source.
    pub resend_mapped: bool,
}

impl<J> Line<J> {
    pub fn malformed(message: String, payload: DeadPayload) -> Self {
        Line {
            processed: Processed::Malformed { message, payload },
            id: None,
            replayed: false,
        }
    }
}

impl Processor<'_> {
    /// One input line as read: bytes that must be UTF-8 text before anything else.
    pub fn bytes(&self, line: &[u8], cx: &EventContext) -> Line {
        self.bytes_with(line, cx, &mut |event| event.to_json())
    }

    /// As [`Processor::bytes`], but a mapped event's JSON is appended to `out` (no line
    /// break) rather than returned: `map` writes it where its output is gathered instead
    /// of into a `String` of its own that it then copies.
    pub fn bytes_into(&self, line: &[u8], cx: &EventContext, out: &mut Vec<u8>) -> Line<()> {
        self.bytes_with(line, cx, &mut |event| event.write_json(out))
    }

    pub fn line(&self, text: &str, cx: &EventContext) -> Line {
        self.line_with(text, cx, &mut |event| event.to_json())
    }

    fn bytes_with<J>(
        &self,
        line: &[u8],
        cx: &EventContext,
        json: &mut impl FnMut(&Output<'_>) -> J,
    ) -> Line<J> {
        match text_of(line) {
            Ok(text) => self.line_with(text, cx, json),
            Err(message) => Line::malformed(message, DeadPayload::Bytes(line.to_vec())),
        }
    }

    fn line_with<J>(
        &self,
        text: &str,
        cx: &EventContext,
        json: &mut impl FnMut(&Output<'_>) -> J,
    ) -> Line<J> {
        if self.replay && looks_like_dead_letter(text) {
            if let Some(line) = self.replayed(text, cx, json) {
                return line;
            }
        }
        match self.mapping.map_json_output(text, cx) {
            Ok(mapped) => self.finish(mapped, cx, false, json, || serde_json::from_str(text).ok()),
            Err(e) => Line::malformed(
                format!("{e}{}", pretty_json_hint(text)),
                DeadPayload::Line(text.to_string()),
            ),
        }
    }

    /// A dead letter: a source event is mapped again with this mapping (so a fixed mapping
    /// fixes it), also where the letter holds the mapped event beside it, unless
    /// `resend_mapped`; a mapped event alone is validated again and sent as it is (after
    /// the fix a person made); a malformed line is parsed again.
    fn replayed<J>(
        &self,
        text: &str,
        cx: &EventContext,
        json: &mut impl FnMut(&Output<'_>) -> J,
    ) -> Option<Line<J>> {
        let value: Value = serde_json::from_str(text).ok()?;
        let letter = match DeadLetter::from_json(&value)? {
            Ok(letter) => letter,
            Err(e) => {
                let mut line = Line::malformed(e.to_string(), DeadPayload::Line(text.to_string()));
                line.replayed = true;
                return Some(line);
            }
        };
        let payload = match letter.payload {
            DeadPayload::Mapped {
                source: Some(source),
                ..
            } if !self.resend_mapped => DeadPayload::Source(source),
            other => other,
        };
        Some(match payload {
            DeadPayload::Mapped { event, source } => {
                let mapped = MappedEvent {
                    outcome: Outcome::Mapped(Output::from(event)),
                    id: letter.id,
                    test_mode: false,
                };
                self.finish(mapped, cx, true, json, || source)
            }
            DeadPayload::Source(source) => {
                let mapped = self.mapping.map_value(&source, cx);
                let mapped = MappedEvent {
                    outcome: mapped.outcome.map(Output::from),
                    id: mapped.id,
                    test_mode: mapped.test_mode,
                };
                self.finish(mapped, cx, true, json, || Some(source))
            }
            DeadPayload::Line(line) => {
                let mut again = self.line_with(&line, cx, json);
                again.replayed = true;
                again
            }
            DeadPayload::Bytes(bytes) => {
                let mut again = self.bytes_with(&bytes, cx, json);
                again.replayed = true;
                again
            }
            DeadPayload::NotKept { input, line } => {
                let message = format!(
                    "this dead letter holds no event: {input} line {line} was too long to \
                     keep; fix that line and send it"
                );
                let mut again = Line::malformed(message, DeadPayload::NotKept { input, line });
                again.replayed = true;
                again
            }
        })
    }

    /// `json` makes a valid event's JSON; `source` gives the input event when the mapping
    /// failed or the event is invalid (so that it can be replayed).
    fn finish<J>(
        &self,
        mapped: MappedEvent<Output<'_>>,
        cx: &EventContext,
        replayed: bool,
        json: &mut impl FnMut(&Output<'_>) -> J,
        source: impl FnOnce() -> Option<Value>,
    ) -> Line<J> {
        let MappedEvent {
            outcome,
            id,
            test_mode,
        } = mapped;
        let (processed, id) = match outcome {
            Outcome::Mapped(event) => {
                let root = event.root();
                let id_key = self.validator.map_or("id", |v| v.id_key());
                let id = root
                    .as_object()
                    .and_then(|fields| fields.get(id_key))
                    .and_then(|id| id.as_str())
                    .map(str::to_string)
                    .or(id);
                let violations = self
                    .validator
                    .map(|v| v.validate_node(root, cx.now_ms))
                    .unwrap_or_default();
                let processed = if violations.is_empty() {
                    Processed::Mapped {
                        json: json(&event),
                        test_mode,
                    }
                } else {
                    Processed::Invalid {
                        event: event.into_value(),
                        violations,
                        source: source(),
                    }
                };
                (processed, id)
            }
            Outcome::Skipped { reason } => (Processed::Skipped { reason }, id),
            Outcome::Failed(errors) => (
                Processed::Failed {
                    errors,
                    source: source(),
                },
                id,
            ),
        };
        Line {
            processed,
            id,
            replayed,
        }
    }
}

/// The first line of pretty-printed JSON (`{` or `[` alone) gets a hint: events are read
/// one a line, and a pretty-printed one is spread over many.
fn pretty_json_hint(text: &str) -> &'static str {
    match text.trim() {
        "{" | "[" => {
            "; this looks like pretty-printed JSON: events are read one JSON object a line \
             (NDJSON), so compact it first (`jq -c . events.json`), or look at it with \
             `eventmap map --explain`, which reads pretty-printed JSON"
        }
        _ => "",
    }
}

/// Where one processed event goes next, for hosts that deliver (`serve`, `consume`).
pub enum Next {
    Deliver(OutgoingEvent),
    Skip { reason: String },
    DeadLetter(DeadLetter),
}

impl Line {
    /// What happens to this event next. `raw` is the event as received, which a dead letter
    /// keeps when the mapping failed before it had the input as an object; `fallback_id`
    /// names an event that has no id of its own. `waited`: the event waited in a store
    /// before this (a spool, a log), so being too old is called `expired`, not `invalid`.
    pub fn next(
        self,
        raw: &[u8],
        now_ms: i64,
        validate_only: bool,
        waited: bool,
        fallback_id: impl FnOnce() -> String,
    ) -> Next {
        let (reason, message, payload) = match self.processed {
            Processed::Mapped { json, test_mode } => {
                let id = self.id.unwrap_or_else(fallback_id);
                let test_mode = test_mode || validate_only;
                return Next::Deliver(OutgoingEvent::from_json(id, json, test_mode));
            }
            Processed::Skipped { reason } => return Next::Skip { reason },
            Processed::Invalid {
                event,
                violations,
                source,
            } => {
                let reason = if waited && aged_out(&violations) {
                    DeadReason::Expired
                } else {
                    DeadReason::Invalid
                };
                let message: Vec<String> = violations.iter().map(ToString::to_string).collect();
                (
                    reason,
                    message.join("; "),
                    DeadPayload::Mapped { event, source },
                )
            }
            Processed::Failed { errors, source } => {
                let message: Vec<String> = errors.iter().map(ToString::to_string).collect();
                let payload = match source {
                    Some(source) => DeadPayload::Source(source),
                    None => DeadPayload::Line(String::from_utf8_lossy(raw).into_owned()),
                };
                (DeadReason::MappingFailed, message.join("; "), payload)
            }
            Processed::Malformed { message, payload } => (DeadReason::Malformed, message, payload),
        };
        Next::DeadLetter(DeadLetter {
            id: self.id,
            reason,
            status: None,
            code: None,
            message,
            attempts: 0,
            at_ms: now_ms,
            payload,
        })
    }
}

/// The only thing wrong is the time window's far end: the event waited too long (the
/// destination was down, the queue was long) rather than being made wrong.
fn aged_out(violations: &[Violation]) -> bool {
    !violations.is_empty()
        && violations
            .iter()
            .all(|v| v.path == "timestamp_ms" && v.message.contains("older"))
}

/// The input event a replayed dead letter kept, as JSON text: what a new dead letter of
/// the replayed event keeps in turn.
pub fn replayed_source(letter: &[u8]) -> Option<Vec<u8>> {
    let letter: Value = serde_json::from_slice(letter).ok()?;
    serde_json::to_vec(letter.get("source")?).ok()
}

/// A cheap test before parsing a line twice: only dead letters have this key.
fn looks_like_dead_letter(text: &str) -> bool {
    text.contains("\"dead_letter\"")
}

#[cfg(test)]
mod tests {
    use super::text_of;

    #[test]
    fn invalid_utf8_is_located_not_replaced() {
        assert_eq!(text_of(b"{\"a\":1}"), Ok("{\"a\":1}"));
        let err = text_of(b"{\"id\":\"\xff\"}").unwrap_err();
        assert!(err.contains("byte 7"), "{err}");
    }
}
