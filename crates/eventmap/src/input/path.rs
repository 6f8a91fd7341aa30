//! Input paths: where a value is read from in the event.
//!
//! Dotted paths (`context.page.url`, `properties.products[0].price`, `products[*].id`,
//! `properties["Order Id"]`) are split into segments once and walked by hand. A path
//! starting with `$` is JSONPath: simple ones (`$.a.b[0]`) take the same fast walk anchored
//! at the root event, the rest (`$..price`, filters, slices) go through jsonpath-rust with
//! the query parsed once at compile time.
//!
//! Relative paths read from the current element inside an `each` (and from the event
//! elsewhere); `$` paths always read from the root event. Paths with `[*]`, recursive
//! descent or filters yield a list of the values found (absent when none is found).

use std::borrow::Cow;

use jsonpath_rust::parser::model::JpQuery;
use serde_json::Value;

use crate::input::tree::EventTree;
use crate::value::is_absent;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    /// Negative indexes count from the end.
    Index(i64),
    Wildcard,
}

#[derive(Debug, Clone)]
enum Kind {
    Walk {
        from_root: bool,
        segments: Vec<Segment>,
    },
    JsonPath(Box<JpQuery>),
}

/// The object keys a path reads: `opaque` when a wildcard makes everything beneath the
/// keys readable.
pub(crate) enum ReadShape {
    Everything,
    Keys {
        from_root: bool,
        keys: Vec<String>,
        opaque: bool,
    },
}

/// A compiled input path.
#[derive(Debug, Clone)]
pub struct InputPath {
    text: String,
    kind: Kind,
}

/// Why a path failed to compile; `offset` is the character offset inside the path text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PathError {
    pub offset: usize,
    pub message: String,
}

impl InputPath {
    pub fn parse(text: &str) -> Result<Self, PathError> {
        if text.trim().is_empty() {
            return Err(PathError {
                offset: 0,
                message: "empty input path".into(),
            });
        }
        if text != text.trim() {
            return Err(PathError {
                offset: 0,
                message: format!("input path `{text}` has leading or trailing spaces"),
            });
        }
        if let Some(rest) = text.strip_prefix('$') {
            let walk = match rest {
                "" => Ok(Vec::new()),
                _ => rest
                    .strip_prefix('.')
                    .filter(|r| !r.starts_with('.'))
                    .ok_or(())
                    .and_then(|r| parse_segments(r, 2).map_err(|_| ())),
            };
            if let Ok(segments) = walk {
                return Ok(Self {
                    text: text.into(),
                    kind: Kind::Walk {
                        from_root: true,
                        segments,
                    },
                });
            }
            return jsonpath_rust::parser::parse_json_path(text)
                .map(|q| Self {
                    text: text.into(),
                    kind: Kind::JsonPath(Box::new(q)),
                })
                .map_err(|e| PathError {
                    offset: 0,
                    message: format!("invalid JSONPath `{text}`: {e}"),
                });
        }
        let segments = parse_segments(text, 0)?;
        Ok(Self {
            text: text.into(),
            kind: Kind::Walk {
                from_root: false,
                segments,
            },
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Which object keys this path can read (for parsing only what a mapping reads).
    pub(crate) fn read_shape(&self) -> ReadShape {
        match &self.kind {
            Kind::JsonPath(_) => ReadShape::Everything,
            Kind::Walk {
                from_root,
                segments,
            } => {
                let mut keys = Vec::new();
                let mut opaque = false;
                for segment in segments {
                    match segment {
                        Segment::Key(k) => keys.push(k.clone()),
                        // Arrays are transparent to the read tree.
                        Segment::Index(_) => {}
                        Segment::Wildcard => {
                            opaque = true;
                            break;
                        }
                    }
                }
                ReadShape::Keys {
                    from_root: *from_root,
                    keys,
                    opaque,
                }
            }
        }
    }

    /// The value at this path, or `None` when it is absent.
    pub fn resolve<'a>(&self, root: &'a Value, current: &'a Value) -> Option<Cow<'a, Value>> {
        self.find(root, current).map(Found::into_value)
    }

    /// What this path reaches in any event tree, or `None` when it is absent.
    pub(crate) fn find<'t, T: EventTree>(
        &self,
        root: &'t T,
        current: &'t T,
    ) -> Option<Found<'t, T>> {
        match &self.kind {
            Kind::Walk {
                from_root,
                segments,
            } => {
                let start = if *from_root { root } else { current };
                if segments.contains(&Segment::Wildcard) {
                    let mut out = Vec::new();
                    collect(start, segments, &mut out);
                    (!out.is_empty()).then_some(Found::Collected(Value::Array(out)))
                } else {
                    walk(start, segments)
                        .filter(|n| !n.is_absent())
                        .map(Found::Node)
                }
            }
            Kind::JsonPath(query) => {
                let root = root.to_value();
                let found = jsonpath_rust::query::js_path_process(query, root.as_ref()).ok()?;
                let values: Vec<Value> = found
                    .into_iter()
                    .map(|r| r.val().clone())
                    .filter(|v| !is_absent(v))
                    .collect();
                (!values.is_empty()).then_some(Found::Collected(Value::Array(values)))
            }
        }
    }
}

/// What a path reached: a node of the event, or the list a wildcard or query collected.
pub(crate) enum Found<'t, T> {
    Node(&'t T),
    Collected(Value),
}

impl<'t, T: EventTree> Found<'t, T> {
    pub fn into_value(self) -> Cow<'t, Value> {
        match self {
            Found::Node(node) => node.to_value(),
            Found::Collected(value) => Cow::Owned(value),
        }
    }

    /// What was found as JSON, keeping only `fields` of an object or of a list's objects
    /// (see [`EventTree::with_fields`]).
    pub fn with_fields(self, fields: &[String]) -> Cow<'t, Value> {
        match self {
            Found::Node(node) => node.with_fields(fields),
            Found::Collected(value) => Cow::Owned(value),
        }
    }

    /// Hands what was found to `f` as JSON, copied only where it must be (see
    /// [`EventTree::with_json`]).
    pub fn with_json<R>(self, f: impl FnOnce(&Value) -> R) -> R {
        match self {
            Found::Node(node) => node.with_json(f),
            Found::Collected(value) => f(&value),
        }
    }
}

fn walk<'a, T: EventTree>(mut node: &'a T, segments: &[Segment]) -> Option<&'a T> {
    for segment in segments {
        node = step(node, segment)?;
    }
    Some(node)
}

fn step<'a, T: EventTree>(node: &'a T, segment: &Segment) -> Option<&'a T> {
    match segment {
        Segment::Key(k) => node.get(k),
        Segment::Index(i) => {
            let items = node.elements()?;
            let index = if *i < 0 {
                items.len().checked_sub(i.unsigned_abs() as usize)?
            } else {
                *i as usize
            };
            items.get(index)
        }
        Segment::Wildcard => None,
    }
}

fn collect<T: EventTree>(node: &T, segments: &[Segment], out: &mut Vec<Value>) {
    let Some((first, rest)) = segments.split_first() else {
        if !node.is_absent() {
            out.push(node.to_value().into_owned());
        }
        return;
    };
    match first {
        Segment::Wildcard => {
            if let Some(items) = node.elements() {
                items.iter().for_each(|v| collect(v, rest, out));
            } else if node.is_object() {
                node.object_values()
                    .into_iter()
                    .for_each(|v| collect(v, rest, out));
            }
        }
        segment => {
            if let Some(next) = step(node, segment) {
                collect(next, rest, out);
            }
        }
    }
}

/// Parses `a.b[0]["c d"][*]`. `base` is added to error offsets (for a stripped `$.`).
fn parse_segments(text: &str, base: usize) -> Result<Vec<Segment>, PathError> {
    let chars: Vec<char> = text.chars().collect();
    let err = |offset: usize, message: String| PathError {
        offset: base + offset,
        message,
    };
    let mut segments = Vec::new();
    let mut i = 0;
    let mut expect_key = true;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .map(|p| p + i)
                    .ok_or_else(|| err(i, format!("unclosed `[` in input path `{text}`")))?;
                let inner: String = chars[i + 1..close].iter().collect();
                let inner = inner.trim();
                let segment = if inner == "*" {
                    Segment::Wildcard
                } else if let Some(quoted) = strip_quotes(inner) {
                    Segment::Key(quoted.to_string())
                } else {
                    inner.parse::<i64>().map(Segment::Index).map_err(|_| {
                        err(i + 1, format!("`[{inner}]` in input path `{text}` is not an index, `*` or a quoted key"))
                    })?
                };
                segments.push(segment);
                i = close + 1;
                expect_key = false;
            }
            '.' => {
                if expect_key {
                    return Err(err(i, format!("empty segment in input path `{text}`")));
                }
                i += 1;
                expect_key = true;
                if i == chars.len() {
                    return Err(err(i - 1, format!("input path `{text}` ends with `.`")));
                }
            }
            ']' => return Err(err(i, format!("unexpected `]` in input path `{text}`"))),
            _ => {
                if !expect_key {
                    return Err(err(
                        i,
                        format!("expected `.` or `[` in input path `{text}`"),
                    ));
                }
                let start = i;
                while i < chars.len() && !matches!(chars[i], '.' | '[' | ']') {
                    i += 1;
                }
                let key: String = chars[start..i].iter().collect();
                segments.push(if key == "*" {
                    Segment::Wildcard
                } else {
                    Segment::Key(key)
                });
                expect_key = false;
            }
        }
    }
    Ok(segments)
}

fn strip_quotes(s: &str) -> Option<&str> {
    let quoted = |q: char| s.len() >= 2 && s.starts_with(q) && s.ends_with(q);
    (quoted('"') || quoted('\'')).then(|| &s[1..s.len() - 1])
}

/// The first present value among fallback paths.
pub(crate) fn first_present<'t, T: EventTree>(
    paths: &[InputPath],
    root: &'t T,
    current: &'t T,
) -> Option<Cow<'t, Value>> {
    first_found(paths, root, current).map(Found::into_value)
}

/// What the first present fallback path reaches.
pub(crate) fn first_found<'t, T: EventTree>(
    paths: &[InputPath],
    root: &'t T,
    current: &'t T,
) -> Option<Found<'t, T>> {
    paths.iter().find_map(|p| p.find(root, current))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get(path: &str, event: &Value) -> Option<Value> {
        InputPath::parse(path)
            .unwrap()
            .resolve(event, event)
            .map(Cow::into_owned)
    }

    fn event() -> Value {
        json!({
            "messageId": "m1",
            "context": {"page": {"url": "https://x.example/?a=1"}},
            "properties": {
                "Order Id": "o-9",
                "empty": "",
                "nothing": null,
                "products": [
                    {"product_id": "p1", "price": 4.35},
                    {"product_id": "p2", "price": 10, "quantity": 2},
                    {"product_id": "p3"}
                ]
            }
        })
    }

    #[test]
    fn dotted_paths_with_indexes_and_quoted_keys() {
        let e = event();
        assert_eq!(
            get("context.page.url", &e),
            Some(json!("https://x.example/?a=1"))
        );
        assert_eq!(get("properties.products[0].price", &e), Some(json!(4.35)));
        assert_eq!(
            get("properties.products[-1].product_id", &e),
            Some(json!("p3"))
        );
        assert_eq!(get("properties[\"Order Id\"]", &e), Some(json!("o-9")));
        assert_eq!(get("properties.products[7].price", &e), None);
        assert_eq!(get("messageId.deeper", &e), None);
    }

    #[test]
    fn missing_null_and_empty_are_absent() {
        let e = event();
        assert_eq!(get("properties.empty", &e), None);
        assert_eq!(get("properties.nothing", &e), None);
        assert_eq!(get("properties.absent", &e), None);
    }

    #[test]
    fn wildcards_collect_present_values() {
        let e = event();
        assert_eq!(
            get("properties.products[*].price", &e),
            Some(json!([4.35, 10]))
        );
        assert_eq!(get("properties.products[*].color", &e), None);
    }

    #[test]
    fn jsonpath_simple_and_full() {
        let e = event();
        assert_eq!(get("$.properties.products[1].quantity", &e), Some(json!(2)));
        assert_eq!(get("$", &e), Some(e.clone()));
        assert_eq!(get("$..price", &e), Some(json!([4.35, 10])));
        assert_eq!(
            get("$.properties.products[?@.price > 5].product_id", &e),
            Some(json!(["p2"]))
        );
    }

    #[test]
    fn root_paths_ignore_the_current_element() {
        let e = event();
        let element = json!({"price": 1});
        let path = InputPath::parse("$.messageId").unwrap();
        assert_eq!(
            path.resolve(&e, &element).map(Cow::into_owned),
            Some(json!("m1"))
        );
        let relative = InputPath::parse("price").unwrap();
        assert_eq!(
            relative.resolve(&e, &element).map(Cow::into_owned),
            Some(json!(1))
        );
    }

    #[test]
    fn bad_paths_are_rejected_with_offsets() {
        assert_eq!(InputPath::parse("a..b").unwrap_err().offset, 2);
        assert!(InputPath::parse("a[x]")
            .unwrap_err()
            .message
            .contains("not an index"));
        assert!(InputPath::parse("a[0")
            .unwrap_err()
            .message
            .contains("unclosed"));
        assert!(InputPath::parse("a.").is_err());
        assert!(InputPath::parse("").is_err());
        assert!(InputPath::parse("$[?@.a ==]")
            .unwrap_err()
            .message
            .contains("invalid JSONPath"));
    }

    #[test]
    fn fallbacks_take_the_first_present() {
        let e = json!({"traits": {"email": ""}, "context": {"traits": {"email": "a@b.c"}}});
        let paths = vec![
            InputPath::parse("traits.email").unwrap(),
            InputPath::parse("context.traits.email").unwrap(),
        ];
        assert_eq!(
            first_present(&paths, &e, &e).map(Cow::into_owned),
            Some(json!("a@b.c"))
        );
    }
}
