//! Every rule of the Conversions API event that can be checked before sending.
//!
//! The validator walks the mapped JSON and collects every violation (a typed parse would
//! stop at the first). Rules, from the API reference:
//! - `id`: a non-empty string. `type`: a documented event type or `custom`.
//! - `custom_event_name`: required exactly when `type` is `custom`; 1–64 characters,
//!   letters, digits, `_` and `-`, starting and ending with a letter or digit, not a
//!   standard type name.
//! - `timestamp_ms`: an integer within 7 days before and 10 minutes after the clock.
//! - `action_source`: one of the documented sources; `web` requires `source_url`, an
//!   http(s) URL with a host; `app_installed` and `app_opened` require `mobile_app`.
//! - `oppref`: a non-empty string; `opt_out`: a boolean.
//! - `user`: either documented shape (scalars, or lists of up to the first three values).
//!   Hashes are lowercase 64-hex SHA-256, `country` an ISO 3166-1 alpha-2 code, `city` at
//!   most 128 characters, `zip_code` at most 32 letters, digits, spaces and hyphens,
//!   `ip_address` an IPv4 or IPv6 address, `user_agent` non-empty.
//! - `data`: an object whose `type` matches the event type (`contents`,
//!   `customer_action`, `plan_enrollment`, `custom`), with only the fields of its shape;
//!   `amount` a non-negative integer (minor units); `currency` an uppercase ISO 4217 code,
//!   required whenever an amount is present at the event or item level (an event-level
//!   currency covers its items).
//! - content items: objects with at least one of `id`, `name`, `content_type`,
//!   `quantity`, `amount`, `currency`, `group_id`, `variant_dict`, and nothing else.
//! - Unknown top-level fields are violations (they are usually a mapping typo).

use eventmap_pipeline::destination::RuleSet;
use std::net::IpAddr;
use std::str::FromStr;

use eventmap::{Fields, Node, Validator, Violation};
use serde_json::Value;

use crate::model::{ActionSource, DataType, EventType};
pub use crate::rules::Rule;

/// The name mappings give this destination (`destination: openai`), which its
/// validator reports and the registry looks it up by.
pub const NAME: &str = "openai";

/// How far back and ahead the API accepts event times.
pub const MAX_AGE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

const ITEM_FIELDS: &[&str] = &[
    "id",
    "name",
    "content_type",
    "quantity",
    "amount",
    "currency",
    "group_id",
    "variant_dict",
];

/// The OpenAI Ads Conversions API's rules; strict (every rule) unless a mapping relaxes
/// some by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenAiValidator {
    /// One bit per [`Rule`] turned off.
    relaxed: u64,
}

/// A rule name the validator does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a rule of the OpenAI validator (its rules: {names})", names = Rule::names())]
pub struct UnknownRule(pub String);

impl OpenAiValidator {
    /// Every rule enforced.
    pub const STRICT: Self = Self { relaxed: 0 };

    /// Every rule but those named.
    pub fn relaxing<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownRule> {
        let mut relaxed = 0;
        for name in names {
            let rule = Rule::from_name(name).ok_or_else(|| UnknownRule(name.to_string()))?;
            relaxed |= rule.bit();
        }
        Ok(Self { relaxed })
    }

    /// The rules turned off, in [`Rule::ALL`] order.
    pub fn relaxed(&self) -> impl Iterator<Item = Rule> + '_ {
        Rule::ALL
            .into_iter()
            .filter(|r| self.relaxed & r.bit() != 0)
    }
}

impl Validator for OpenAiValidator {
    fn destination(&self) -> &str {
        NAME
    }

    fn validate_node(&self, event: Node<'_>, now_ms: i64) -> Vec<Violation> {
        let mut check = Check {
            violations: Vec::new(),
            relaxed: self.relaxed,
        };
        check.event(event, now_ms);
        check.violations
    }
}

/// The timestamp rule alone, for re-checking queued events just before sending. The
/// message says how far past the window the event is, never rounded to nothing: 1 ms past
/// says "1 ms".
pub fn timestamp_violation(timestamp_ms: i64, now_ms: i64) -> Option<Violation> {
    let age = now_ms - timestamp_ms;
    if age > MAX_AGE_MS {
        Some(Violation::of_rule(
            Rule::TimestampWindow.name(),
            "timestamp_ms",
            format!(
                "is {} older than the 7 days the API accepts ({} old)",
                describe_ms(age - MAX_AGE_MS),
                describe_ms(age)
            ),
        ))
    } else if -age > MAX_AHEAD_MS {
        Some(Violation::of_rule(
            Rule::TimestampWindow.name(),
            "timestamp_ms",
            format!(
                "is {} in the future, {} past the 10 minutes the API accepts",
                describe_ms(-age),
                describe_ms(-age - MAX_AHEAD_MS)
            ),
        ))
    } else {
        None
    }
}

/// A duration in the largest unit it fills at least once, rounded down (so what it says
/// is true): `1 ms`, `59 s`, `12 minutes`, `5 hours`, `13 days`.
fn describe_ms(ms: i64) -> String {
    const SECOND: i64 = 1000;
    const MINUTE: i64 = 60 * SECOND;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    let counted = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if ms < SECOND {
        format!("{ms} ms")
    } else if ms < MINUTE {
        format!("{} s", ms / SECOND)
    } else if ms < HOUR {
        counted(ms / MINUTE, "minute")
    } else if ms < DAY {
        counted(ms / HOUR, "hour")
    } else {
        counted(ms / DAY, "day")
    }
}

/// Where a check looks in the event; spelled out (`data.contents[1].amount`) only when the
/// check fails, so a valid event costs no path strings.
#[derive(Clone, Copy)]
enum At<'a> {
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

const USER: At<'static> = At::Field("user");
const CONTENTS: At<'static> = At::Field("data.contents");

struct Check {
    violations: Vec<Violation>,
    relaxed: u64,
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

/// The fields of `data` the rules look at, found in one pass; the others are collected
/// for the shape rule.
#[derive(Default)]
struct DataFields<'a> {
    data_type: Option<Node<'a>>,
    amount: Option<Node<'a>>,
    currency: Option<Node<'a>>,
    plan_id: Option<Node<'a>>,
    contents: Option<Node<'a>>,
    /// A field besides these.
    others: bool,
}

impl<'a> DataFields<'a> {
    fn of(fields: Fields<'a>) -> Self {
        let mut found = Self::default();
        for (key, node) in fields {
            let slot = match key {
                "type" => &mut found.data_type,
                "amount" => &mut found.amount,
                "currency" => &mut found.currency,
                "plan_id" => &mut found.plan_id,
                "contents" => &mut found.contents,
                _ => {
                    found.others = true;
                    continue;
                }
            };
            *slot = Some(node);
        }
        found
    }

    /// Whether `shape` allows every field present: when not, the fields are gone through
    /// again, in order, to name each one it does not.
    fn all_allowed_in(&self, shape: DataType) -> bool {
        let allows = |node: Option<Node<'_>>, name| node.is_none() || shape.allows(name);
        allows(self.plan_id, "plan_id")
            && allows(self.contents, "contents")
            && (!self.others || shape == DataType::Custom)
    }
}

impl Check {
    fn fail(&mut self, rule: Rule, path: impl std::fmt::Display, message: impl Into<String>) {
        if self.relaxed & rule.bit() == 0 {
            self.violations
                .push(Violation::of_rule(rule.name(), path.to_string(), message));
        }
    }

    fn event(&mut self, event: Node<'_>, now_ms: i64) {
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

    fn user(&mut self, user: Node<'_>) {
        let Some(fields) = user.as_object() else {
            self.fail(Rule::UserFieldsKnown, "user", "must be an object");
            return;
        };
        for (key, value) in fields {
            let path = At::Key(&USER, key);
            match key {
                "email_sha256" | "external_id_sha256" => self.hash(path, value),
                "emails_sha256"
                | "phone_numbers_sha256"
                | "external_ids_sha256"
                | "first_names_sha256"
                | "last_names_sha256" => self.list(path, value, |c, p, v| c.hash(p, v)),
                "country" => self.country(path, value),
                "countries" => self.list(path, value, |c, p, v| c.country(p, v)),
                "city" => self.text(path, value, 128),
                "cities" | "regions" => self.list(path, value, |c, p, v| c.text(p, v, 128)),
                "zip_code" => self.zip(path, value),
                "postal_codes" => self.list(path, value, |c, p, v| c.zip(p, v)),
                "ip_address" => match value.as_str().map(IpAddr::from_str) {
                    Some(Ok(_)) => {}
                    _ => self.fail(Rule::UserIpAddress, path, "must be an IPv4 or IPv6 address"),
                },
                "user_agent" | "obref" => self.text(path, value, usize::MAX),
                "android_advertising_id" => {
                    if !value.as_str().is_some_and(is_uuid) {
                        self.fail(Rule::UserAdvertisingIdUuid, path, "must be a UUID");
                    }
                }
                _ => self.fail(
                    Rule::UserFieldsKnown,
                    path,
                    "is not a documented user field",
                ),
            }
        }
    }

    fn list(&mut self, path: At<'_>, value: Node<'_>, each: impl Fn(&mut Self, At<'_>, Node<'_>)) {
        match value.as_array() {
            Some(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    each(self, At::Item(&path, i), Node::Value(item));
                }
            }
            Some(_) => self.fail(Rule::UserListShape, path, "must not be empty"),
            None => self.fail(Rule::UserListShape, path, "must be a list"),
        }
    }

    fn hash(&mut self, path: At<'_>, value: Node<'_>) {
        // Every byte judged, no early exit: the loop is vectorized.
        let ok = value.as_str().is_some_and(|s| {
            s.len() == 64
                && s.bytes().fold(true, |ok, b| {
                    ok & (b.is_ascii_digit() | (b'a'..=b'f').contains(&b))
                })
        });
        if !ok {
            self.fail(
                Rule::UserHashSha256,
                path,
                "must be a lowercase 64-hex SHA-256 digest (never the raw value)",
            );
        }
    }

    fn country(&mut self, path: At<'_>, value: Node<'_>) {
        let ok = value.as_str().is_some_and(|s| {
            s.len() == 2
                && s.bytes().all(|b| b.is_ascii_uppercase())
                && celes::Country::from_alpha2(s).is_ok()
        });
        if !ok {
            self.fail(
                Rule::UserCountryIso,
                path,
                "must be an uppercase ISO 3166-1 alpha-2 country code",
            );
        }
    }

    fn text(&mut self, path: At<'_>, value: Node<'_>, max_chars: usize) {
        match value.as_str() {
            // No more bytes than the limit means no more characters: most need no count.
            Some(s)
                if !s.trim().is_empty()
                    && (s.len() <= max_chars || s.chars().count() <= max_chars) => {}
            Some(s) if s.trim().is_empty() => self.fail(Rule::UserText, path, "must not be empty"),
            Some(_) => self.fail(
                Rule::UserText,
                path,
                format!("must be at most {max_chars} characters"),
            ),
            None => self.fail(Rule::UserText, path, "must be a string"),
        }
    }

    fn zip(&mut self, path: At<'_>, value: Node<'_>) {
        // Only ASCII is allowed, so bytes are characters.
        let ok = value.as_str().is_some_and(|s| {
            !s.is_empty()
                && s.len() <= 32
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-')
        });
        if !ok {
            self.fail(
                Rule::UserZipCode,
                path,
                "must be at most 32 letters, digits, spaces or hyphens",
            );
        }
    }

    fn data(&mut self, data: Node<'_>, event_type: Option<EventType>) {
        let Some(fields) = data.as_object() else {
            self.fail(Rule::DataRequired, "data", "must be an object");
            return;
        };
        let found = DataFields::of(fields);
        let data_type = match found.data_type.and_then(Node::as_value) {
            Some(Value::String(name)) => match DataType::from_name(name) {
                Some(t) => Some(t),
                None => {
                    self.fail(
                        Rule::DataTypeMatches,
                        "data.type",
                        format!("`{name}` is not a supported data type"),
                    );
                    None
                }
            },
            Some(_) => {
                self.fail(Rule::DataTypeMatches, "data.type", "must be a string");
                None
            }
            None => {
                self.fail(Rule::DataTypeMatches, "data.type", "is required");
                None
            }
        };
        if let (Some(event_type), Some(data_type)) = (event_type, data_type) {
            let expected = event_type.data_type();
            if expected != data_type {
                self.fail(
                    Rule::DataTypeMatches,
                    "data.type",
                    format!(
                        "must be `{}` for a {} event, not `{}`",
                        expected.name(),
                        event_type.name(),
                        data_type.name()
                    ),
                );
            }
        }
        // Judge the shape by the type the event requires (or the one given).
        let shape = event_type.map(EventType::data_type).or(data_type);
        if let Some(shape) = shape.filter(|shape| !found.all_allowed_in(*shape)) {
            for key in fields.keys().filter(|k| *k != "type") {
                if !shape.allows(key) {
                    self.fail(
                        Rule::DataFieldsAllowed,
                        format!("data.{key}"),
                        format!("is not allowed in `{}` data", shape.name()),
                    );
                }
            }
        }
        let has_amount = found.amount.is_some();
        if let Some(amount) = found.amount {
            self.amount(At::Field("data.amount"), amount);
        }
        let currency = found.currency;
        if let Some(c) = currency {
            self.currency(At::Field("data.currency"), c);
        }
        if has_amount && currency.is_none() {
            self.fail(
                Rule::CurrencyWithAmount,
                "data.currency",
                "is required when data.amount is present",
            );
        }
        if let Some(plan) = found.plan_id {
            if plan.as_str().is_none_or(str::is_empty) {
                self.fail(
                    Rule::PlanIdString,
                    "data.plan_id",
                    "must be a non-empty string",
                );
            }
        }
        if let Some(contents) = found.contents {
            if shape.is_none_or(|s| s.allows("contents")) {
                self.contents(contents, currency.is_some());
            }
        }
    }

    fn contents(&mut self, contents: Node<'_>, event_has_currency: bool) {
        let Some(items) = contents.elements() else {
            self.fail(Rule::ContentsShape, "data.contents", "must be a list");
            return;
        };
        for (i, item) in items.enumerate() {
            let path = At::Item(&CONTENTS, i);
            let Some(fields) = item.as_object() else {
                self.fail(Rule::ContentsShape, path, "must be an object");
                continue;
            };
            // Counted and noted in the one pass over the fields, rather than looked up
            // by name after it.
            let (mut count, mut has_amount, mut has_currency) = (0, false, false);
            for (key, value) in fields {
                count += 1;
                let field_path = At::Key(&path, key);
                match key {
                    "id" | "name" | "content_type" | "group_id" => {
                        if value.as_str().is_none_or(str::is_empty) {
                            self.fail(Rule::ItemText, field_path, "must be a non-empty string");
                        }
                    }
                    "quantity" => {
                        if value.as_i64().is_none_or(|q| q < 1) {
                            self.fail(
                                Rule::QuantityPositive,
                                field_path,
                                "must be a positive integer",
                            );
                        }
                    }
                    "amount" => {
                        has_amount = true;
                        self.amount(field_path, value)
                    }
                    "currency" => {
                        has_currency = true;
                        self.currency(field_path, value)
                    }
                    "variant_dict" => {
                        let ok = value
                            .as_object()
                            .is_some_and(|m| m.iter().all(|(_, v)| v.as_str().is_some()));
                        if !ok {
                            self.fail(
                                Rule::VariantDictStrings,
                                field_path,
                                "must be an object of strings",
                            );
                        }
                    }
                    _ => self.fail(
                        Rule::ItemFieldsKnown,
                        field_path,
                        format!("is not a content item field ({})", ITEM_FIELDS.join(", ")),
                    ),
                }
            }
            if count == 0 {
                self.fail(Rule::ContentsShape, path, "must have at least one field");
            }
            if has_amount && !has_currency && !event_has_currency {
                self.fail(
                    Rule::CurrencyWithAmount,
                    format!("{path}.currency"),
                    "is required when the item has an amount and data has no currency",
                );
            }
        }
    }

    fn amount(&mut self, path: At<'_>, value: Node<'_>) {
        match value.as_i64() {
            Some(a) if a >= 0 => {}
            Some(_) => self.fail(Rule::AmountNonNegative, path, "must not be negative"),
            None if value.is_number() => self.fail(
                Rule::AmountInteger,
                path,
                "must be an integer in the currency's minor unit (e.g. cents)",
            ),
            None => self.fail(Rule::AmountInteger, path, "must be an integer"),
        }
    }

    fn currency(&mut self, path: At<'_>, value: Node<'_>) {
        let ok = value.as_str().is_some_and(|s| {
            s.len() == 3
                && s.bytes().all(|b| b.is_ascii_uppercase())
                && eventmap::transforms::currency_from_code(s).is_some()
        });
        if !ok {
            self.fail(
                Rule::CurrencyIso,
                path,
                "must be an uppercase ISO 4217 currency code",
            );
        }
    }
}

fn is_custom_name(name: &str) -> bool {
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

fn is_http_url(url: &str) -> bool {
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
fn has_whitespace(text: &str) -> bool {
    let ascii = text
        .bytes()
        .fold(false, |found, b| found | matches!(b, b'\t'..=b'\r' | b' '));
    ascii || (!text.is_ascii() && text.chars().any(char::is_whitespace))
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}
