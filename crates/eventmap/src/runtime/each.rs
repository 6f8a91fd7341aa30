//! `each` keys: the elements of a list (or an object taken as one element) mapped
//! through the key's own keys, into JSON objects or into the slots of a list the output
//! keeps as it is.

use serde_json::Value;

use super::frame::{Frame, KeyError, KeyPath};
use crate::codes::Code;
use crate::input::path::{first_found, Found, InputPath};
use crate::input::tree::EventTree;
use crate::output::shape::{ItemList, OutputShape};
use crate::program::{KeyRule, Program};
use crate::script::engine::ScriptError;

/// Where the elements of an `each` key go as they are mapped: into JSON objects, or into
/// the slots of a list the output keeps as it is.
pub(super) enum Elements<'p> {
    Values(Vec<Value>),
    Slots(ItemList<'p>),
}

impl Elements<'_> {
    /// Room for `count` more elements of `width` keys each.
    fn reserve(&mut self, count: usize, width: usize) {
        match self {
            Elements::Values(items) => items.reserve(count),
            Elements::Slots(list) => list.slots.reserve(count * width),
        }
    }
}

impl Program {
    /// Maps the elements of an `each` key (`each`: its paths, its keys and their shape)
    /// into `out`.
    pub(super) fn eval_each<'p, T: EventTree>(
        &self,
        rule: &KeyRule,
        each: (&[InputPath], &'p [KeyRule], &'p OutputShape),
        frame: Frame<'_, T>,
        errors: &mut Vec<KeyError>,
        out: &mut Elements<'p>,
    ) -> Result<(), ScriptError> {
        let (over, keys, shape) = each;
        let Some(found) = first_found(over, frame.root, frame.current) else {
            return Ok(());
        };
        let not_a_list = |kind: &str| ScriptError {
            code: Code::EachNotAList,
            message: format!("`each` needs a list or an object, found {kind}"),
            location: rule.location.clone(),
        };
        match found {
            Found::Node(node) => {
                let items = match node.elements() {
                    Some(items) => items,
                    None if node.is_object() => std::slice::from_ref(node),
                    None => return Err(not_a_list(node.kind())),
                };
                out.reserve(items.len(), keys.len());
                for (i, item) in items.iter().enumerate() {
                    let at = Frame {
                        current: item,
                        ..frame
                    };
                    self.eval_element(rule, (keys, shape), at, i, errors, out);
                }
            }
            // A list a wildcard or JSONPath query collected: its elements are JSON values.
            Found::Collected(Value::Array(items)) => {
                let root = frame.root.to_value();
                for (i, item) in items.iter().enumerate() {
                    let at = Frame {
                        root: root.as_ref(),
                        current: item,
                        lets: frame.lets,
                        path: frame.path,
                    };
                    self.eval_element(rule, (keys, shape), at, i, errors, out);
                }
            }
            Found::Collected(other) => return Err(not_a_list(other.kind())),
        }
        Ok(())
    }

    /// Maps one element of an `each` (the frame's `current`; `each`: its keys and their
    /// shape); an element whose keys are all absent is left out.
    fn eval_element<T: EventTree>(
        &self,
        rule: &KeyRule,
        each: (&[KeyRule], &OutputShape),
        frame: Frame<'_, T>,
        index: usize,
        errors: &mut Vec<KeyError>,
        out: &mut Elements<'_>,
    ) {
        let (keys, shape) = each;
        let parent = frame.path;
        let element = Frame {
            path: KeyPath::Element {
                parent: &parent,
                key: &rule.output.text,
                index,
            },
            ..frame
        };
        match out {
            Elements::Values(items) => {
                let mut slots = vec![None; keys.len()];
                self.eval_keys(keys, element, &mut slots, errors, None);
                let element = shape.build(&mut slots, &[]);
                if !element.is_empty() {
                    items.push(Value::Object(element));
                }
            }
            Elements::Slots(list) => {
                let start = list.slots.len();
                list.slots.resize(start + keys.len(), None);
                let slots = &mut list.slots[start..];
                self.eval_keys(keys, element, slots, errors, None);
                if shape.is_empty_in(slots, &[]) {
                    list.slots.truncate(start);
                }
            }
        }
    }
}
