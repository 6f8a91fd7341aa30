//! Every rule a Meta server event must meet before it may be sent (docs/meta.md names each
//! rule's source in Meta's documentation). One invalid event rejects Meta's whole request,
//! and one event more than 7 days old refuses it: so nothing invalid is batched.

use eventmap::{Node, Validator, Violation};
use eventmap_pipeline::destination::RuleSet;
use serde_json::{Map, Value};

use crate::rules::Rule;

/// The name mappings give this destination (`destination: meta`), which its
/// validator reports and the registry looks it up by.
pub const NAME: &str = "meta";

/// Meta refuses a request holding an event older than this.
pub const MAX_AGE_SECS: i64 = 7 * 86_400;

/// Fields of a server event.
const EVENT_FIELDS: &[&str] = &[
    "event_name",
    "event_time",
    "event_id",
    "action_source",
    "event_source_url",
    "opt_out",
    "user_data",
    "custom_data",
    "data_processing_options",
    "data_processing_options_country",
    "data_processing_options_state",
    "referrer_url",
];

/// `action_source` values.
const ACTION_SOURCES: &[&str] = &[
    "website",
    "app",
    "email",
    "phone_call",
    "chat",
    "physical_store",
    "system_generated",
    "business_messaging",
    "other",
];

/// Customer fields Meta takes hashed (SHA-256 of the normalized value).
const HASHED: &[&str] = &[
    "em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country",
];

/// The Meta validator: every rule, less those a mapping relaxes.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetaValidator {
    relaxed: u32,
}

/// A rule name the validator does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a rule of the Meta validator (its rules: {names})", names = Rule::names())]
pub struct UnknownRule(pub String);

impl MetaValidator {
    /// Every rule enforced.
    pub const STRICT: Self = Self { relaxed: 0 };

    /// Every rule but those named.
    pub fn relaxing<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownRule> {
        let mut relaxed = 0;
        for name in names {
            relaxed |= Rule::from_name(name)
                .ok_or_else(|| UnknownRule(name.to_string()))?
                .bit();
        }
        Ok(Self { relaxed })
    }
}

impl Validator for MetaValidator {
    fn destination(&self) -> &str {
        NAME
    }

    /// With `event_name`, Meta deduplicates on `event_id`.
    fn id_key(&self) -> &str {
        "event_id"
    }

    fn validate_node(&self, event: Node<'_>, now_ms: i64) -> Vec<Violation> {
        let value = event.to_value();
        let mut check = Check {
            relaxed: self.relaxed,
            violations: Vec::new(),
        };
        match value.as_object() {
            Some(fields) => check.event(fields, now_ms / 1000),
            None => check.fail(Rule::KnownFields, "", "an event is a JSON object"),
        }
        check.violations
    }
}

struct Check {
    relaxed: u32,
    violations: Vec<Violation>,
}

impl Check {
    fn fail(&mut self, rule: Rule, path: &str, message: impl Into<String>) {
        if self.relaxed & rule.bit() == 0 {
            self.violations
                .push(Violation::of_rule(rule.name(), path, message));
        }
    }

    fn event(&mut self, event: &Map<String, Value>, now_secs: i64) {
        for key in event.keys() {
            if !EVENT_FIELDS.contains(&key.as_str()) {
                self.fail(Rule::KnownFields, key, "is not a server event field");
            }
        }
        match event.get("event_name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => {}
            _ => self.fail(
                Rule::EventNameRequired,
                "event_name",
                "is required: a non-empty string",
            ),
        }
        match event.get("event_time").and_then(Value::as_i64) {
            // Milliseconds by mistake (OpenAI's unit): 13 digits for years to come.
            Some(t) if t > 100_000_000_000 => self.fail(
                Rule::EventTimeSeconds,
                "event_time",
                "looks like milliseconds: Meta takes Unix time in seconds",
            ),
            Some(t) if now_secs - t > MAX_AGE_SECS => self.fail(
                Rule::EventTimeWindow,
                "event_time",
                "is more than 7 days old: Meta refuses the whole request",
            ),
            Some(_) => {}
            None => self.fail(
                Rule::EventTimeSeconds,
                "event_time",
                "is required: an integer Unix time in seconds",
            ),
        }
        let source = event.get("action_source").and_then(Value::as_str);
        if !source.is_some_and(|s| ACTION_SOURCES.contains(&s)) {
            self.fail(
                Rule::ActionSourceSupported,
                "action_source",
                format!("must be one of: {}", ACTION_SOURCES.join(", ")),
            );
        }
        let website = source == Some("website");
        match event.get("event_source_url") {
            Some(Value::String(url))
                if url.starts_with("http://") || url.starts_with("https://") => {}
            Some(_) => self.fail(
                Rule::SourceUrlHttp,
                "event_source_url",
                "must begin with http:// or https://",
            ),
            None if website => self.fail(
                Rule::SourceUrlForWebsite,
                "event_source_url",
                "is required when action_source is website",
            ),
            None => {}
        }
        match event.get("event_id") {
            None => {}
            Some(Value::String(id)) if !id.is_empty() => {}
            Some(_) => self.fail(
                Rule::EventIdString,
                "event_id",
                "must be a non-empty string",
            ),
        }
        if event.get("opt_out").is_some_and(|v| !v.is_boolean()) {
            self.fail(Rule::OptOutBoolean, "opt_out", "must be true or false");
        }
        match event.get("user_data").and_then(Value::as_object) {
            Some(user) => self.user(user, website),
            None => self.fail(
                Rule::UserDataRequired,
                "user_data",
                "is required: an object",
            ),
        }
        if let Some(custom) = event.get("custom_data") {
            self.custom(custom);
        }
    }

    fn user(&mut self, user: &Map<String, Value>, website: bool) {
        for field in HASHED {
            let Some(value) = user.get(*field) else {
                continue;
            };
            let all_hashed = match value {
                Value::String(s) => is_sha256(s),
                Value::Array(items) => {
                    !items.is_empty() && items.iter().all(|v| v.as_str().is_some_and(is_sha256))
                }
                _ => false,
            };
            if !all_hashed {
                self.fail(
                    Rule::UserHashSha256,
                    &format!("user_data.{field}"),
                    "must be a lowercase 64-hex SHA-256 digest of the normalized value (or a list of them)",
                );
            }
        }
        let agent = user.get("client_user_agent").and_then(Value::as_str);
        if website && agent.is_none_or(str::is_empty) {
            self.fail(
                Rule::UserAgentForWebsite,
                "user_data.client_user_agent",
                "is required when action_source is website",
            );
        }
    }

    fn custom(&mut self, custom: &Value) {
        let Some(custom) = custom.as_object() else {
            self.fail(Rule::KnownFields, "custom_data", "must be an object");
            return;
        };
        if let Some(value) = custom.get("value") {
            if !value.is_number() {
                self.fail(
                    Rule::ValueNumber,
                    "custom_data.value",
                    "must be a number in the currency's major unit",
                );
            }
            if !custom.contains_key("currency") {
                self.fail(
                    Rule::ValueWithCurrency,
                    "custom_data.currency",
                    "is required when custom_data.value is present",
                );
            }
        }
        if let Some(currency) = custom.get("currency") {
            let known = currency.as_str().is_some_and(|c| {
                c == c.to_uppercase() && eventmap::transforms::currency_from_code(c).is_some()
            });
            if !known {
                self.fail(
                    Rule::CurrencyIso,
                    "custom_data.currency",
                    "must be an ISO 4217 code",
                );
            }
        }
        if let Some(contents) = custom.get("contents") {
            let well_formed = contents.as_array().is_some_and(|items| {
                items.iter().all(|item| {
                    item.as_object().is_some_and(|o| {
                        o.get("id").is_some_and(|v| v.is_string() || v.is_number())
                            && o.get("quantity").is_none_or(Value::is_i64)
                            && o.get("item_price").is_none_or(Value::is_number)
                    })
                })
            });
            if !well_formed {
                self.fail(
                    Rule::ContentsShape,
                    "custom_data.contents",
                    "must be a list of objects with `id`, and an integer `quantity` and a number `item_price` where given",
                );
            }
        }
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW_MS: i64 = 1_795_262_400_000;
    const HASH: &str = "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514";

    fn purchase() -> Value {
        json!({"event_name": "Purchase", "event_time": NOW_MS / 1000 - 60, "event_id": "m-1",
            "action_source": "website", "event_source_url": "https://shop.example/checkout",
            "user_data": {"em": [HASH], "country": HASH, "client_user_agent": "Mozilla/5.0",
                "client_ip_address": "203.0.113.9", "fbp": "fb.1.1596403881668.1116446470"},
            "custom_data": {"value": 59.97, "currency": "USD", "order_id": "o-1",
                "contents": [{"id": "p-1", "quantity": 3, "item_price": 19.99}]}})
    }

    fn rules_broken(event: &Value) -> Vec<&'static str> {
        MetaValidator::STRICT
            .validate(event, NOW_MS)
            .iter()
            .map(|v| v.rule)
            .collect()
    }

    #[test]
    fn a_well_formed_purchase_passes() {
        assert_eq!(rules_broken(&purchase()), Vec::<&str>::new());
    }

    #[test]
    fn each_rule_catches_what_it_names() {
        let cases: [(&str, Value, &str); 9] = [
            ("/event_time", json!(NOW_MS - 60_000), "event_time_seconds"),
            (
                "/event_time",
                json!(NOW_MS / 1000 - 8 * 86_400),
                "event_time_window",
            ),
            ("/action_source", json!("web"), "action_source_supported"),
            (
                "/event_source_url",
                json!("shop.example"),
                "source_url_http",
            ),
            (
                "/user_data/em",
                json!("jane@example.com"),
                "user_hash_sha256",
            ),
            ("/user_data/country", json!("us"), "user_hash_sha256"),
            ("/custom_data/value", json!("59.97"), "value_number"),
            ("/custom_data/currency", json!("usd"), "currency_iso"),
            (
                "/custom_data/contents",
                json!([{"quantity": 1}]),
                "contents_shape",
            ),
        ];
        for (pointer, value, rule) in cases {
            let mut event = purchase();
            *event.pointer_mut(pointer).expect(pointer) = value;
            assert_eq!(rules_broken(&event), [rule], "{pointer}");
        }
        let mut event = purchase();
        event["user_data"]
            .as_object_mut()
            .unwrap()
            .remove("client_user_agent");
        event.as_object_mut().unwrap().remove("event_source_url");
        assert_eq!(
            rules_broken(&event),
            ["source_url_for_website", "user_agent_for_website"]
        );
        let mut event = purchase();
        event["custom_data"]
            .as_object_mut()
            .unwrap()
            .remove("currency");
        assert_eq!(rules_broken(&event), ["value_with_currency"]);
    }

    #[test]
    fn rules_relax_by_name_and_unknown_names_are_refused() {
        let mut event = purchase();
        event["user_data"]
            .as_object_mut()
            .unwrap()
            .remove("client_user_agent");
        let relaxed = MetaValidator::relaxing(["user_agent_for_website"]).unwrap();
        assert!(relaxed.validate(&event, NOW_MS).is_empty());
        let err = MetaValidator::relaxing(["no_such_rule"]).unwrap_err();
        assert!(err.to_string().contains("event_time_window"), "{err}");
    }

    #[test]
    fn names_are_distinct_snake_case_and_read_back() {
        let names: std::collections::HashSet<_> = Rule::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Rule::ALL.len());
        for rule in Rule::ALL {
            assert_eq!(Rule::from_name(rule.name()), Some(rule));
        }
    }
}
