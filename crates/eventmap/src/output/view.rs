//! A mapped event read where it lies.
//!
//! Evaluating a plan fills one slot per output key; the plan's [`OutputShape`] says which
//! key nests under which. [`Output`] keeps the slots and the shape as they are, so a
//! destination's validator can read the event ([`Node`], [`Fields`]) and the event can be
//! written as JSON without first building a `serde_json` object tree: building one (a
//! `String` for every key name, a `BTreeMap` for every object) and dropping it again cost
//! more than writing the JSON itself (docs/benchmarks.md). The JSON written is the same,
//! byte for byte, as that of [`Output::into_value`]: keys in the same sorted order, and
//! objects with no present field left out.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::output::shape::{list_of, ItemList, OutputShape, Slot};

/// A mapped event: the values of its output keys, laid out by its plan's output shape.
pub struct Output<'m> {
    repr: Repr<'m>,
}

enum Repr<'m> {
    Slots {
        shape: &'m OutputShape,
        slots: Vec<Option<Value>>,
        /// The lists of the `each` keys whose elements are kept in slots.
        lists: Vec<ItemList<'m>>,
    },
    /// An event that is JSON already (a dead letter replayed), or one whose shape has a
    /// spread key (`data.*`), whose object is merged under the declared keys when built.
    Built(Value),
}

impl<'m> Output<'m> {
    pub(crate) fn new(
        shape: &'m OutputShape,
        mut slots: Vec<Option<Value>>,
        lists: Vec<ItemList<'m>>,
    ) -> Self {
        let repr = if shape.has_spread() {
            Repr::Built(Value::Object(shape.build(&mut slots, &lists)))
        } else {
            Repr::Slots {
                shape,
                slots,
                lists,
            }
        };
        Self { repr }
    }

    /// The event, to read.
    pub fn root(&self) -> Node<'_> {
        match &self.repr {
            Repr::Slots {
                shape,
                slots,
                lists,
            } => Node::Object(Fields(FieldsRepr::Slots {
                shape,
                slots,
                lists,
            })),
            Repr::Built(value) => Node::Value(value),
        }
    }

    /// The event as a JSON value.
    pub fn into_value(self) -> Value {
        match self.repr {
            Repr::Slots {
                shape,
                mut slots,
                lists,
            } => Value::Object(shape.build(&mut slots, &lists)),
            Repr::Built(value) => value,
        }
    }
}

impl From<Value> for Output<'_> {
    fn from(value: Value) -> Self {
        Self {
            repr: Repr::Built(value),
        }
    }
}

impl fmt::Debug for Output<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl Clone for Output<'_> {
    fn clone(&self) -> Self {
        let repr = match &self.repr {
            Repr::Slots {
                shape,
                slots,
                lists,
            } => Repr::Slots {
                shape,
                slots: slots.clone(),
                lists: lists.clone(),
            },
            Repr::Built(value) => Repr::Built(value.clone()),
        };
        Self { repr }
    }
}

impl PartialEq for Output<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.root().to_value() == other.root().to_value()
    }
}

impl Serialize for Output<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.root().serialize(serializer)
    }
}

/// One value of a mapped event: JSON, an object of output keys still in its slots, or
/// a list of such objects (the elements of an `each` key).
#[derive(Clone, Copy)]
pub enum Node<'a> {
    Value(&'a Value),
    Object(Fields<'a>),
    List(Items<'a>),
}

impl<'a> From<&'a Value> for Node<'a> {
    fn from(value: &'a Value) -> Self {
        Node::Value(value)
    }
}

impl<'a> Node<'a> {
    /// The JSON value, unless the node is an object or a list of output keys.
    pub fn as_value(self) -> Option<&'a Value> {
        match self {
            Node::Value(value) => Some(value),
            Node::Object(_) | Node::List(_) => None,
        }
    }

    /// The fields of an object, however it is held.
    pub fn as_object(self) -> Option<Fields<'a>> {
        match self {
            Node::Value(Value::Object(map)) => Some(Fields(FieldsRepr::Map(map))),
            Node::Value(_) | Node::List(_) => None,
            Node::Object(fields) => Some(fields),
        }
    }

    /// The elements of a list, however it is held.
    pub fn elements(self) -> Option<Elements<'a>> {
        match self {
            Node::Value(Value::Array(items)) => Some(Elements(ElementsRepr::Values(items.iter()))),
            Node::Value(_) | Node::Object(_) => None,
            Node::List(items) => Some(items.iter()),
        }
    }

    pub fn as_str(self) -> Option<&'a str> {
        self.as_value().and_then(Value::as_str)
    }

    pub fn as_i64(self) -> Option<i64> {
        self.as_value().and_then(Value::as_i64)
    }

    /// The elements of a list that is a JSON value; [`Node::elements`] reads any list.
    pub fn as_array(self) -> Option<&'a [Value]> {
        self.as_value().and_then(Value::as_array).map(Vec::as_slice)
    }

    pub fn is_number(self) -> bool {
        self.as_value().is_some_and(Value::is_number)
    }

    pub fn is_boolean(self) -> bool {
        self.as_value().is_some_and(Value::is_boolean)
    }

    /// The node as a JSON value (copied).
    pub fn to_value(self) -> Value {
        match self {
            Node::Value(value) => value.clone(),
            Node::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(name, node)| (name.to_string(), node.to_value()))
                    .collect(),
            ),
            Node::List(items) => Value::Array(items.iter().map(Node::to_value).collect()),
        }
    }
}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_value())
    }
}

impl Serialize for Node<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Value(value) => value.serialize(serializer),
            Node::Object(fields) => {
                let mut map = serializer.serialize_map(None)?;
                for (name, node) in fields.iter() {
                    map.serialize_entry(name, &node)?;
                }
                map.end()
            }
            Node::List(items) => serializer.collect_seq(items.iter()),
        }
    }
}

/// The elements of an `each` key kept in slots: each an object of output keys.
#[derive(Clone, Copy)]
pub struct Items<'a>(&'a ItemList<'a>);

impl<'a> Items<'a> {
    pub fn len(self) -> usize {
        self.0.slots.len() / self.0.width.max(1)
    }

    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(self) -> Elements<'a> {
        Elements(ElementsRepr::Slots(self.0.shape, self.0.elements()))
    }
}

/// The elements of a list, in order.
pub struct Elements<'a>(ElementsRepr<'a>);

enum ElementsRepr<'a> {
    Values(std::slice::Iter<'a, Value>),
    Slots(&'a OutputShape, std::slice::Chunks<'a, Option<Value>>),
}

impl<'a> Iterator for Elements<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        match &mut self.0 {
            ElementsRepr::Values(items) => items.next().map(Node::Value),
            ElementsRepr::Slots(shape, elements) => elements.next().map(|slots| {
                Node::Object(Fields(FieldsRepr::Slots {
                    shape,
                    slots,
                    lists: &[],
                }))
            }),
        }
    }
}

/// The fields of an object in a mapped event, in key order.
#[derive(Clone, Copy)]
pub struct Fields<'a>(FieldsRepr<'a>);

#[derive(Clone, Copy)]
enum FieldsRepr<'a> {
    Map(&'a Map<String, Value>),
    Slots {
        shape: &'a OutputShape,
        slots: &'a [Option<Value>],
        lists: &'a [ItemList<'a>],
    },
}

impl<'a> Fields<'a> {
    pub fn get(self, key: &str) -> Option<Node<'a>> {
        match self.0 {
            FieldsRepr::Map(map) => map.get(key).map(Node::Value),
            FieldsRepr::Slots {
                shape,
                slots,
                lists,
            } => node_of(shape.field(key)?, slots, lists),
        }
    }

    pub fn contains_key(self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The present fields, in key order.
    pub fn iter(self) -> FieldsIter<'a> {
        FieldsIter(match self.0 {
            FieldsRepr::Map(map) => IterRepr::Map(map.iter()),
            FieldsRepr::Slots {
                shape,
                slots,
                lists,
            } => IterRepr::Slots(shape.fields().iter(), slots, lists),
        })
    }

    pub fn keys(self) -> impl Iterator<Item = &'a str> {
        self.iter().map(|(name, _)| name)
    }

    pub fn is_empty(self) -> bool {
        self.iter().next().is_none()
    }

    /// The present fields with each name as JSON writes it (`"name":`), when the shape
    /// has them worked out (fields in slots); `None` for a JSON object.
    pub(crate) fn with_json_names(self) -> Option<impl Iterator<Item = (&'a [u8], Node<'a>)>> {
        match self.0 {
            FieldsRepr::Map(_) => None,
            // Every shape is sorted, which works the names out; a shape that was not
            // would be written by its names rather than lose fields to the zip.
            FieldsRepr::Slots { shape, .. } if shape.json_names().len() != shape.fields().len() => {
                None
            }
            FieldsRepr::Slots {
                shape,
                slots,
                lists,
            } => Some(shape.json_names().iter().zip(shape.fields()).filter_map(
                move |(name, (_, slot))| node_of(slot, slots, lists).map(|node| (&**name, node)),
            )),
        }
    }
}

impl<'a> IntoIterator for Fields<'a> {
    type Item = (&'a str, Node<'a>);
    type IntoIter = FieldsIter<'a>;

    fn into_iter(self) -> FieldsIter<'a> {
        self.iter()
    }
}

/// A field's node, unless it is absent (an empty slot, a list with no element, or an
/// object with no field).
fn node_of<'a>(
    slot: &'a Slot,
    slots: &'a [Option<Value>],
    lists: &'a [ItemList<'a>],
) -> Option<Node<'a>> {
    match slot {
        Slot::Key(i) => slots.get(*i)?.as_ref().map(Node::Value),
        Slot::Items(i) => list_of(lists, *i).map(|list| Node::List(Items(list))),
        Slot::Object(child) => {
            (!child.is_empty_in(slots, lists)).then_some(Node::Object(Fields(FieldsRepr::Slots {
                shape: child,
                slots,
                lists,
            })))
        }
    }
}

/// The present fields of an object, in key order.
pub struct FieldsIter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Map(serde_json::map::Iter<'a>),
    Slots(
        std::slice::Iter<'a, (String, Slot)>,
        &'a [Option<Value>],
        &'a [ItemList<'a>],
    ),
}

impl<'a> Iterator for FieldsIter<'a> {
    type Item = (&'a str, Node<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Map(iter) => iter.next().map(|(k, v)| (k.as_str(), Node::Value(v))),
            IterRepr::Slots(fields, slots, lists) => fields.find_map(|(name, slot)| {
                node_of(slot, slots, lists).map(|node| (name.as_str(), node))
            }),
        }
    }
}
