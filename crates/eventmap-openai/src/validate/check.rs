//! One pass over a mapped event: its top-level fields, type, time, source and custom
//! name (`user.rs` and `data.rs` check the rest), every violation collected.

use eventmap::{Fields, Node, Violation};
use serde_json::Value;

use super::window::timestamp_violation;
use crate::model::{ActionSource, EventType};
use eventmap_pipeline::destination::RuleSet;

use crate::rules::Rule;

/// Where a check looks in the event; spelled out (`data.contents[1].amount`) only when the
/// check fails, so a valid event costs no path strings.
#[derive(Clone, Copy)]
pub(super) enum At<'a> {
    Field(&'static str),
    Key(&'a At<'a>, &'a str),
    Item(&'a At<'a>, usize),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Field(name) => f.write_str(name),
            At::Key(parent, key) => write!(f, "{parent}.{key}"),
            At::Item(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

pub(super) const USER: At<'static> = At::Field("user");
pub(super) const CONTENTS: At<'static> = At::Field("data.contents");

pub(super) struct Check {
    pub(super) violations: Vec<Violation>,
    pub(super) relaxed: u64,
}

/// The fields of an event, found in one pass over it: looking each up by name, and then
/// each name up in the list of known ones, compared names a hundred times an event.
#[derive(Default)]
struct TopLevel<'a> {
    id: Option<Node<'a>>,
    event_type: Option<Node<'a>>,
    custom_event_name: Option<Node<'a>>,
    timestamp_ms: Option<Node<'a>>,
    action_source: Option<Node<'a>>,
    source_url: Option<Node<'a>>,
    oppref: Option<Node<'a>>,
    opt_out: Option<Node<'a>>,
    user: Option<Node<'a>>,
    data: Option<Node<'a>>,
}

impl<'a> TopLevel<'a> {
    /// The known fields of `fields`; each unknown one is a violation.
    fn of(fields: Fields<'a>, check: &mut Check) -> Self {
        let mut top = Self::default();
        for (key, node) in fields {
            let slot = match key {
                "id" => &mut top.id,
                "type" => &mut top.event_type,
                "custom_event_name" => &mut top.custom_event_name,
                "timestamp_ms" => &mut top.timestamp_ms,
                "action_source" => &mut top.action_source,
                "source_url" => &mut top.source_url,
                "oppref" => &mut top.oppref,
                "opt_out" => &mut top.opt_out,
                "user" => &mut top.user,
                "data" => &mut top.data,
                _ => {
                    check.fail(
                        Rule::KnownFields,
                        key,
                        "is not a field of a Conversions API event",
                    );
                    continue;
                }
            };
            *slot = Some(node);
        }
        top
    }
}

impl Check {
    pub(super) fn fail(
        &mut self,
        rule: Rule,
        path: impl std::fmt::Display,
        message: impl Into<String>,
    ) {
        if self.relaxed & rule.bit() == 0 {
            self.violations
                .push(Violation::of_rule(rule.name(), path.to_string(), message));
        }
    }

    pub(super) fn event(&mut self, event: Node<'_>, now_ms: i64) {
        let Some(fields) = event.as_object() else {
            self.fail(Rule::KnownFields, "", "an event must be a JSON object");
            return;
        };
        let top = TopLevel::of(fields, self);
        // Scalar fields are JSON wherever the event is held; `user` and `data` are read as
        // objects of either kind.
        fn field(node: Option<Node<'_>>) -> Option<&Value> {
            node.and_then(Node::as_value)
        }
        match field(top.id) {
            Some(Value::String(id)) if !id.is_empty() => {}
            Some(_) => self.fail(Rule::IdRequired, "id", "must be a non-empty string"),
            None => self.fail(Rule::IdRequired, "id", "is required"),
        }
        let event_type = match field(top.event_type) {
            Some(Value::String(name)) => match EventType::from_name(name) {
                Some(t) => Some(t),
                None => {
                    self.fail(
                        Rule::TypeSupported,
                        "type",
                        format!("`{name}` is not a supported event type"),
                    );
                    None
                }
            },
            Some(_) => {
                self.fail(Rule::TypeSupported, "type", "must be a string");
                None
            }
            None => {
                self.fail(Rule::TypeSupported, "type", "is required");
                None
            }
        };
        self.custom_event_name(field(top.custom_event_name), event_type);
        match field(top.timestamp_ms) {
            Some(Value::Number(n)) => match n.as_i64() {
                Some(ts) => {
                    if let Some(v) = timestamp_violation(ts, now_ms) {
                        if self.relaxed & Rule::TimestampWindow.bit() == 0 {
                            self.violations.push(v);
                        }
                    }
                }
                None => self.fail(
                    Rule::TimestampInteger,
                    "timestamp_ms",
                    "must be an integer (epoch milliseconds)",
                ),
            },
            Some(_) => self.fail(
                Rule::TimestampInteger,
                "timestamp_ms",
                "must be an integer (epoch milliseconds)",
            ),
            None => self.fail(Rule::TimestampInteger, "timestamp_ms", "is required"),
        }
        let action_source = match field(top.action_source) {
            None => None,
            Some(Value::String(s)) if ActionSource::NAMES.contains(&s.as_str()) => Some(s.as_str()),
            Some(_) => {
                self.fail(
                    Rule::ActionSourceSupported,
                    "action_source",
                    format!("must be one of: {}", ActionSource::NAMES.join(", ")),
                );
                None
            }
        };
        match (field(top.source_url), action_source) {
            (Some(Value::String(url)), _) => {
                if !is_http_url(url) {
                    self.fail(
                        Rule::SourceUrlHttp,
                        "source_url",
                        "must be an http(s) URL with a host",
                    );
                }
            }
            (Some(_), _) => self.fail(Rule::SourceUrlHttp, "source_url", "must be a string"),
            (None, Some("web")) => self.fail(
                Rule::SourceUrlForWeb,
                "source_url",
                "is required when action_source is web",
            ),
            (None, _) => {}
        }
        if matches!(
            event_type,
            Some(EventType::AppInstalled | EventType::AppOpened)
        ) && action_source != Some("mobile_app")
        {
            self.fail(
                Rule::AppEventsFromMobileApp,
                "action_source",
                "must be mobile_app for app events",
            );
        }
        match field(top.oppref) {
            None => {}
            Some(Value::String(s)) if eventmap::transforms::valid_oppref(s) => {}
            // What a crafted landing link puts there: never sent as attribution.
            Some(Value::String(s)) if !s.is_empty() => self.fail(
                Rule::OpprefClickId,
                "oppref",
                "is not a click id: at most 256 URL-safe characters",
            ),
            Some(_) => self.fail(Rule::OpprefString, "oppref", "must be a non-empty string"),
        }
        if let Some(v) = top.opt_out {
            if !v.is_boolean() {
                self.fail(Rule::OptOutBoolean, "opt_out", "must be true or false");
            }
        }
        if let Some(user) = top.user {
            self.user(user);
        }
        match top.data {
            Some(data) => self.data(data, event_type),
            None => self.fail(Rule::DataRequired, "data", "is required"),
        }
    }

    fn custom_event_name(&mut self, name: Option<&Value>, event_type: Option<EventType>) {
        let is_custom = event_type == Some(EventType::Custom);
        match (name, is_custom) {
            (None, true) => self.fail(
                Rule::CustomEventNameWithCustom,
                "custom_event_name",
                "is required when type is custom",
            ),
            (Some(_), false) if event_type.is_some() => self.fail(
                Rule::CustomEventNameWithCustom,
                "custom_event_name",
                "is only allowed when type is custom",
            ),
            (Some(Value::String(name)), _) => {
                if !is_custom_name(name) {
                    self.fail(
                        Rule::CustomEventNameCharset,
                        "custom_event_name",
                        "must be 1 to 64 letters, digits, `_` or `-`, starting and ending with a letter or digit",
                    );
                } else if EventType::from_name(name).is_some() {
                    self.fail(
                        Rule::CustomEventNameNotStandard,
                        "custom_event_name",
                        format!("`{name}` is a standard event type: send it as that type"),
                    );
                }
            }
            (Some(_), _) => self.fail(
                Rule::CustomEventNameCharset,
                "custom_event_name",
                "must be a string",
            ),
            (None, false) => {}
        }
    }
}

pub(super) fn is_custom_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: u8| b.is_ascii_alphanumeric();
    !bytes.is_empty()
        && bytes.len() <= 64
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(super) fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    !host.is_empty() && !has_whitespace(url)
}

/// Whether `text` has a whitespace character: ASCII's by bytes (vectorized), the others,
/// if it has any non-ASCII at all, by characters.
pub(super) fn has_whitespace(text: &str) -> bool {
    let ascii = text
        .bytes()
        .fold(false, |found, b| found | matches!(b, b'\t'..=b'\r' | b' '));
    ascii || (!text.is_ascii() && text.chars().any(char::is_whitespace))
}

pub(super) fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}
