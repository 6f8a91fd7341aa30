//! One input event through the mapping and the destination's validator: what `map`,
//! `send` and `serve` all do before they part ways.

use crate::delivery::{DeadLetter, DeadPayload};
use eventmap::{EventContext, KeyError, MappedEvent, Mapping, Outcome, Validator, Violation};
use serde_json::Value;

/// The line as text, or why it is not: where its first byte that is not UTF-8 sits.
pub fn text_of(line: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(line).map_err(|e| {
        format!(
            "invalid UTF-8 at byte {} of the line (counting from 0)",
            e.valid_up_to()
        )
    })
}

/// What became of one line.
pub enum Processed {
    /// Mapped and valid.
    Mapped {
        event: Value,
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
    },
    /// Not an event: not UTF-8, not JSON, not an object, or too long to read.
    Malformed {
        message: String,
        /// What a dead letter keeps of the line.
        payload: DeadPayload,
    },
}

/// A processed line and the id reports name it by.
pub struct Line {
    pub processed: Processed,
    pub id: Option<String>,
    /// The line was a dead letter being replayed.
    pub replayed: bool,
}

pub struct Processor<'a> {
    pub mapping: &'a Mapping,
    pub validator: Option<&'a dyn Validator>,
    /// Lines that are dead-letter records are replayed rather than mapped as events.
    pub replay: bool,
}

impl Line {
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
        match text_of(line) {
            Ok(text) => self.line(text, cx),
            Err(message) => Line::malformed(message, DeadPayload::Bytes(line.to_vec())),
        }
    }

    pub fn line(&self, text: &str, cx: &EventContext) -> Line {
        if self.replay && looks_like_dead_letter(text) {
            if let Some(line) = self.replayed(text, cx) {
                return line;
            }
        }
        match self.mapping.map_json(text, cx) {
            Ok(mapped) => self.finish(mapped, cx, false, || serde_json::from_str(text).ok()),
            Err(e) => Line::malformed(e.to_string(), DeadPayload::Line(text.to_string())),
        }
    }

    /// A dead letter: a mapped event is validated again and sent as it is (after the fix a
    /// person made); a source event is mapped again; a malformed line is parsed again.
    fn replayed(&self, text: &str, cx: &EventContext) -> Option<Line> {
        let value: Value = serde_json::from_str(text).ok()?;
        let letter = match DeadLetter::from_json(&value)? {
            Ok(letter) => letter,
            Err(e) => {
                let mut line = Line::malformed(e.to_string(), DeadPayload::Line(text.to_string()));
                line.replayed = true;
                return Some(line);
            }
        };
        Some(match letter.payload {
            DeadPayload::Mapped(event) => {
                let mapped = MappedEvent {
                    outcome: Outcome::Mapped(event),
                    id: letter.id,
                    test_mode: false,
                };
                self.finish(mapped, cx, true, || None)
            }
            DeadPayload::Source(source) => {
                let mapped = self.mapping.map_value(&source, cx);
                self.finish(mapped, cx, true, || Some(source))
            }
            DeadPayload::Line(line) => {
                let mut again = self.line(&line, cx);
                again.replayed = true;
                again
            }
            DeadPayload::Bytes(bytes) => {
                let mut again = self.bytes(&bytes, cx);
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

    /// `source` gives the input event when the mapping failed (so it can be replayed).
    fn finish(
        &self,
        mapped: MappedEvent,
        cx: &EventContext,
        replayed: bool,
        source: impl FnOnce() -> Option<Value>,
    ) -> Line {
        let MappedEvent {
            outcome,
            id,
            test_mode,
        } = mapped;
        let processed = match outcome {
            Outcome::Mapped(event) => {
                let violations = self
                    .validator
                    .map(|v| v.validate(&event, cx.now_ms))
                    .unwrap_or_default();
                if violations.is_empty() {
                    Processed::Mapped { event, test_mode }
                } else {
                    Processed::Invalid { event, violations }
                }
            }
            Outcome::Skipped { reason } => Processed::Skipped { reason },
            Outcome::Failed(errors) => Processed::Failed {
                errors,
                source: source(),
            },
        };
        let id = match &processed {
            Processed::Mapped { event, .. } | Processed::Invalid { event, .. } => event
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or(id),
            _ => id,
        };
        Line {
            processed,
            id,
            replayed,
        }
    }
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
