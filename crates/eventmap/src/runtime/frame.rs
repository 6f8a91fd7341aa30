//! Where keys are evaluated and where they sit: the `Frame` a key is evaluated in, the
//! path of a key inside `each` elements, and the error a key gives.

use std::fmt;

use serde_json::Value;

use crate::codes::Code;
use crate::diagnostics::Location;

/// Where a key sits: at the top, or inside element `index` of an `each` key. Rendered
/// only when an error needs it, so mapping a list allocates no paths.
#[derive(Clone, Copy)]
pub(crate) enum KeyPath<'a> {
    Top,
    Element {
        parent: &'a KeyPath<'a>,
        key: &'a str,
        index: usize,
    },
}

impl KeyPath<'_> {
    pub(super) fn render(&self, key: &str) -> String {
        match self {
            KeyPath::Top => key.to_string(),
            KeyPath::Element {
                parent,
                key: list,
                index,
            } => {
                format!("{}[{index}].{key}", parent.render(list))
            }
        }
    }
}

/// Where keys are evaluated: the event, the element an `each` key is mapping (the event
/// itself at the top), the `let` values, and the keys' path (for messages).
pub(crate) struct Frame<'f, T> {
    pub root: &'f T,
    pub current: &'f T,
    pub lets: &'f [Option<Value>],
    pub path: KeyPath<'f>,
}

// Copied as the references it holds are, whatever `T` is (a derive would ask `T: Copy`).
impl<T> Clone for Frame<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Frame<'_, T> {}

impl<'f, T> Frame<'f, T> {
    /// The keys of an event, at the top.
    pub fn top(event: &'f T, lets: &'f [Option<Value>]) -> Self {
        Self {
            root: event,
            current: event,
            lets,
            path: KeyPath::Top,
        }
    }
}

/// Why an output key could not be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// What kind of failure (docs/errors.md): a transform's, an expression's, a
    /// required key without a value…
    pub code: Code,
    /// The output key, with element indexes inside `each` (`data.contents[1].amount`).
    pub key: String,
    pub message: String,
    /// Where the key (or the failing transform or expression) is in the mapping file.
    pub location: Location,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: key `{}`: {} [{}]",
            self.location, self.key, self.message, self.code
        )
    }
}
