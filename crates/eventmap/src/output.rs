//! Building the output object from dotted output keys.
//!
//! The shape of a plan's output (which key nests under which) is known at compile time,
//! so it is worked out once: evaluating the keys fills one slot per key, and each object
//! is then built in one go from its present fields, in key order (a bulk build, cheaper
//! than inserting key by key). Objects with no present field are left out.

use serde_json::{Map, Value};

use crate::program::KeyRule;

#[derive(Debug, Clone, Default)]
pub(crate) struct OutputShape {
    /// Sorted by name.
    fields: Vec<(String, Slot)>,
    /// The slot of a spread key (`data.*`) into this object: an object whose keys are
    /// the base that declared fields are laid over.
    spread: Option<usize>,
}

#[derive(Debug, Clone)]
enum Slot {
    /// The value of the key at this index of the rule list.
    Key(usize),
    Object(OutputShape),
}

impl OutputShape {
    /// The shape of `rules`' output keys. The compiler has already rejected keys that
    /// would be both a value and an object (`data` and `data.type`).
    pub fn of(rules: &[KeyRule]) -> Self {
        let mut shape = Self::default();
        for (index, rule) in rules.iter().enumerate() {
            shape.add(&rule.output.segments, index);
        }
        shape.sort();
        shape
    }

    fn add(&mut self, segments: &[String], index: usize) {
        let Some((first, rest)) = segments.split_first() else {
            return;
        };
        if first == "*" && rest.is_empty() {
            self.spread = Some(index);
            return;
        }
        let existing = self.fields.iter().position(|(name, _)| name == first);
        match (rest.is_empty(), existing) {
            (true, None) => self.fields.push((first.clone(), Slot::Key(index))),
            (false, None) => {
                let mut child = Self::default();
                child.add(rest, index);
                self.fields.push((first.clone(), Slot::Object(child)));
            }
            (false, Some(i)) => {
                if let Slot::Object(child) = &mut self.fields[i].1 {
                    child.add(rest, index);
                }
            }
            // A repeated key: the compiler keeps one rule per output key.
            (true, Some(_)) => {}
        }
    }

    fn sort(&mut self) {
        self.fields.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, slot) in &mut self.fields {
            if let Slot::Object(child) = slot {
                child.sort();
            }
        }
    }

    /// The object `slots` fill (each slot is taken). A spread key's object is the base
    /// that declared fields are laid over: declared keys win.
    pub fn build(&self, slots: &mut [Option<Value>]) -> Map<String, Value> {
        let base = match self.spread.and_then(|i| slots.get_mut(i)?.take()) {
            Some(Value::Object(object)) => Some(object),
            _ => None,
        };
        let declared = self.fields.iter().filter_map(|(name, slot)| match slot {
            Slot::Key(i) => slots.get_mut(*i)?.take().map(|v| (name.clone(), v)),
            Slot::Object(child) => {
                let object = child.build(slots);
                (!object.is_empty()).then(|| (name.clone(), Value::Object(object)))
            }
        });
        match base {
            None => declared.collect(),
            Some(mut object) => {
                object.extend(declared);
                object
            }
        }
    }
}
