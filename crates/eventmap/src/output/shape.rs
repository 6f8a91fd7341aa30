//! Building the output object from dotted output keys.
//!
//! The shape of a plan's output (which key nests under which) is known at compile time,
//! so it is worked out once: evaluating the keys fills one slot per key, and each object
//! is then built in one go from its present fields, in key order (a bulk build, cheaper
//! than inserting key by key). Objects with no present field are left out.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Default)]
pub(crate) struct OutputShape {
    /// Sorted by name.
    fields: Vec<(String, Slot)>,
    /// Each field's name as JSON writes it before the value (`"name":`), in the same
    /// order: worked out once rather than escaped for every event written.
    json_names: Vec<Box<[u8]>>,
    /// The slot of a spread key (`data.*`) into this object: an object whose keys are
    /// the base that declared fields are laid over.
    spread: Option<usize>,
    /// This object or one inside it has a spread key.
    has_spread: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Slot {
    /// The value of the key at this index of the rule list.
    Key(usize),
    /// The list of the `each` key at this index, its elements kept in slots: the
    /// [`ItemList`] of that key.
    Items(usize),
    Object(OutputShape),
}

/// The elements of an `each` key, each in slots of its own: `width` slots an element (one
/// per key of the element's shape), one element after another. Building every content
/// item as a JSON object (a `String` per field name, a `BTreeMap` per item) and dropping
/// it again cost more than mapping its fields (docs/benchmarks.md). Elements with no
/// present field are not kept.
#[derive(Debug, Clone)]
pub(crate) struct ItemList<'m> {
    /// The index of the `each` key in its plan.
    pub key: usize,
    pub shape: &'m OutputShape,
    pub width: usize,
    pub slots: Vec<Option<Value>>,
}

impl<'m> ItemList<'m> {
    pub fn new(key: usize, shape: &'m OutputShape, width: usize) -> Self {
        Self {
            key,
            shape,
            width,
            slots: Vec::new(),
        }
    }

    /// Each element's slots.
    pub fn elements(&self) -> std::slice::Chunks<'_, Option<Value>> {
        self.slots.chunks(self.width.max(1))
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn to_value(&self) -> Value {
        let build = |slots: &[Option<Value>]| {
            let mut slots = slots.to_vec();
            Value::Object(self.shape.build(&mut slots, &[]))
        };
        Value::Array(self.elements().map(build).collect())
    }
}

/// The list kept for the `each` key at `key`, if it has elements.
pub(crate) fn list_of<'l, 'm>(lists: &'l [ItemList<'m>], key: usize) -> Option<&'l ItemList<'m>> {
    lists.iter().find(|list| list.key == key)
}

impl OutputShape {
    /// The shape of the output keys given, in rule order: each key's dotted segments,
    /// and whether the list of its `each` is kept in slots ([`ItemList`]) rather than
    /// built as JSON. The compiler has already rejected keys that would be both a value
    /// and an object (`data` and `data.type`).
    pub fn of<'k>(keys: impl IntoIterator<Item = (&'k [String], bool)>) -> Self {
        let mut shape = Self::default();
        for (index, (segments, items_in_slots)) in keys.into_iter().enumerate() {
            let slot = if items_in_slots {
                Slot::Items(index)
            } else {
                Slot::Key(index)
            };
            shape.add(segments, index, slot);
        }
        shape.sort();
        shape
    }

    fn add(&mut self, segments: &[String], index: usize, slot: Slot) {
        let Some((first, rest)) = segments.split_first() else {
            return;
        };
        if first == "*" && rest.is_empty() {
            self.spread = Some(index);
            return;
        }
        let existing = self.fields.iter().position(|(name, _)| name == first);
        match (rest.is_empty(), existing) {
            (true, None) => self.fields.push((first.clone(), slot)),
            (false, None) => {
                let mut child = Self::default();
                child.add(rest, index, slot);
                self.fields.push((first.clone(), Slot::Object(child)));
            }
            (false, Some(i)) => {
                if let Slot::Object(child) = &mut self.fields[i].1 {
                    child.add(rest, index, slot);
                }
            }
            // A repeated key: the compiler keeps one rule per output key.
            (true, Some(_)) => {}
        }
    }

    /// Sorts fields by name and works out which objects have spreads beneath them.
    fn sort(&mut self) {
        self.fields.sort_by(|a, b| a.0.cmp(&b.0));
        self.json_names = self
            .fields
            .iter()
            .map(|(name, _)| crate::json_string::field_prefix(name))
            .collect();
        self.has_spread = self.spread.is_some();
        for (_, slot) in &mut self.fields {
            if let Slot::Object(child) = slot {
                child.sort();
                self.has_spread |= child.has_spread;
            }
        }
    }

    /// This object or one inside it has a spread key.
    pub fn has_spread(&self) -> bool {
        self.has_spread
    }

    /// The fields, sorted by name.
    pub fn fields(&self) -> &[(String, Slot)] {
        &self.fields
    }

    /// Each field's `"name":`, in the order of [`OutputShape::fields`].
    pub fn json_names(&self) -> &[Box<[u8]>] {
        &self.json_names
    }

    /// The field named `name`. A scan rather than a binary search: objects have a
    /// dozen fields at most, and names of another length are passed over without
    /// comparing their bytes.
    pub fn field(&self, name: &str) -> Option<&Slot> {
        self.fields
            .iter()
            .find(|(field, _)| crate::input::key_eq::same_key(field, name))
            .map(|(_, slot)| slot)
    }

    /// No field of this object is present in `slots` and `lists` (it is left out of
    /// the output).
    pub fn is_empty_in(&self, slots: &[Option<Value>], lists: &[ItemList<'_>]) -> bool {
        self.fields.iter().all(|(_, slot)| match slot {
            Slot::Key(i) => slots.get(*i).is_none_or(Option::is_none),
            Slot::Items(i) => list_of(lists, *i).is_none(),
            Slot::Object(child) => child.is_empty_in(slots, lists),
        })
    }

    /// The object `slots` and `lists` fill (each slot is taken). A spread key's object
    /// is the base that declared fields are laid over: declared keys win.
    #[inline(always)]
    pub fn build(&self, slots: &mut [Option<Value>], lists: &[ItemList<'_>]) -> Map<String, Value> {
        // Decided once per object tree, so that the plain build, which recurses into
        // itself, is exactly what it was before spreads existed.
        if self.has_spread {
            self.build_spreading(slots, lists)
        } else {
            self.build_plain(slots, lists)
        }
    }

    fn build_plain(
        &self,
        slots: &mut [Option<Value>],
        lists: &[ItemList<'_>],
    ) -> Map<String, Value> {
        self.fields
            .iter()
            .filter_map(|(name, slot)| match slot {
                Slot::Key(i) => slots.get_mut(*i)?.take().map(|v| (name.clone(), v)),
                Slot::Items(i) => list_of(lists, *i).map(|list| (name.clone(), list.to_value())),
                Slot::Object(child) => {
                    let object = child.build_plain(slots, lists);
                    (!object.is_empty()).then(|| (name.clone(), Value::Object(object)))
                }
            })
            .collect()
    }

    /// Inserts field by field over the spread object (rather than collecting), so the
    /// plain build's bulk collect stays the only one of its kind and is optimized as before.
    #[cold]
    fn build_spreading(
        &self,
        slots: &mut [Option<Value>],
        lists: &[ItemList<'_>],
    ) -> Map<String, Value> {
        let mut object = match self.spread.and_then(|i| slots.get_mut(i)?.take()) {
            Some(Value::Object(object)) => object,
            _ => Map::new(),
        };
        for (name, slot) in &self.fields {
            let value = match slot {
                Slot::Key(i) => slots.get_mut(*i).and_then(Option::take),
                Slot::Items(i) => list_of(lists, *i).map(ItemList::to_value),
                Slot::Object(child) => {
                    let built = child.build_spreading(slots, lists);
                    (!built.is_empty()).then_some(Value::Object(built))
                }
            };
            if let Some(value) = value {
                object.insert(name.clone(), value);
            }
        }
        object
    }
}
