//! The Conversions API rules, one test per rule, on events written from the reference.

use eventmap::Validator;
use eventmap_openai::{parse_valid, OpenAiValidator, MAX_AGE_MS};
use eventmap_pipeline::destination::RuleSet;
use serde_json::{json, Value};

/// 2026-11-21T12:00:00Z
const NOW: i64 = 1_795_262_400_000;

fn valid_order() -> Value {
    json!({
        "id": "msg-1",
        "type": "order_created",
        "timestamp_ms": NOW - 60_000,
        "action_source": "web",
        "source_url": "https://shop.example/checkout/done?x=1",
        "oppref": "oppref_abc",
        "user": {
            "email_sha256": "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b",
            "country": "US",
            "city": "Portland",
            "zip_code": "97205",
            "ip_address": "203.0.113.42",
            "user_agent": "Mozilla/5.0"
        },
        "data": {
            "type": "contents",
            "amount": 4804,
            "currency": "USD",
            "contents": [{"id": "kettle-01", "name": "Kettle", "amount": 3499, "quantity": 1}]
        }
    })
}

fn violations(event: &Value) -> Vec<String> {
    OpenAiValidator::STRICT
        .validate(event, NOW)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn with(mut event: Value, pointer: &str, value: Value) -> Value {
    *event
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = value;
    event
}

fn without(mut event: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut event
    } else {
        event.pointer_mut(parent).unwrap()
    };
    target.as_object_mut().unwrap().remove(key);
    event
}

#[test]
fn a_complete_order_is_valid_and_typed() {
    assert_eq!(violations(&valid_order()), Vec::<String>::new());
    let typed = parse_valid(&valid_order(), NOW).unwrap();
    assert_eq!(typed.data.amount, Some(4804));
    assert_eq!(
        typed.data.contents.unwrap()[0].id.as_deref(),
        Some("kettle-01")
    );
}

#[test]
fn every_violation_is_reported_with_its_path() {
    let event = json!({
        "type": "purchase",
        "timestamp_ms": "yesterday",
        "action_source": "web",
        "user": {"email_sha256": "Jane@Example.com", "country": "USA"},
        "data": {"type": "contents", "amount": 12.5},
        "timestamp": 1
    });
    let v = violations(&event);
    for expected in [
        "timestamp: is not a field of a Conversions API event",
        "id: is required",
        "type: `purchase` is not a supported event type",
        "timestamp_ms: must be an integer (epoch milliseconds)",
        "source_url: is required when action_source is web",
        "user.email_sha256: must be a lowercase 64-hex SHA-256 digest (never the raw value)",
        "user.country: must be an uppercase ISO 3166-1 alpha-2 country code",
        "data.amount: must be an integer in the currency's minor unit (e.g. cents)",
        "data.currency: is required when data.amount is present",
    ] {
        assert!(
            v.iter().any(|x| x == expected),
            "missing `{expected}` in {v:#?}"
        );
    }
    assert_eq!(v.len(), 9, "{v:#?}");
    assert!(parse_valid(&event, NOW).is_err());
}

#[test]
fn data_type_must_match_the_event_type() {
    let v = violations(&with(valid_order(), "/type", json!("lead_created")));
    assert!(
        v.contains(
            &"data.type: must be `customer_action` for a lead_created event, not `contents`"
                .to_string()
        ),
        "{v:?}"
    );
    assert!(
        v.contains(&"data.contents: is not allowed in `customer_action` data".to_string()),
        "{v:?}"
    );
    let lead = json!({"id": "l", "type": "lead_created", "timestamp_ms": NOW, "action_source": "other", "data": {"type": "customer_action"}});
    assert_eq!(violations(&lead), Vec::<String>::new());
    let with_plan = with(
        lead,
        "/data",
        json!({"type": "customer_action", "plan_id": "pro"}),
    );
    assert_eq!(
        violations(&with_plan),
        ["data.plan_id: is not allowed in `customer_action` data"]
    );
}

#[test]
fn data_fields_outside_the_shape_are_each_named_in_key_order() {
    let mut order = valid_order();
    order["data"]["coupon"] = json!("SAVE10");
    order["data"]["plan_id"] = json!("pro");
    order["data"]["affiliation"] = json!("web");
    assert_eq!(
        violations(&order),
        [
            "data.affiliation: is not allowed in `contents` data",
            "data.coupon: is not allowed in `contents` data",
            "data.plan_id: is not allowed in `contents` data",
        ]
    );
    let custom = json!({"id": "c", "type": "custom", "custom_event_name": "coupon_applied",
        "timestamp_ms": NOW, "action_source": "other",
        "data": {"type": "custom", "coupon": "SAVE10", "plan_id": "pro", "contents": []}});
    assert_eq!(violations(&custom), Vec::<String>::new());
}

#[test]
fn plan_enrollment_allows_plan_id() {
    let trial = json!({"id": "t", "type": "trial_started", "timestamp_ms": NOW, "action_source": "web",
        "source_url": "https://x.example/", "data": {"type": "plan_enrollment", "plan_id": "pro", "amount": 0, "currency": "EUR"}});
    assert_eq!(violations(&trial), Vec::<String>::new());
    let bad = with(trial, "/data/plan_id", json!(5));
    assert_eq!(
        violations(&bad),
        ["data.plan_id: must be a non-empty string"]
    );
}

#[test]
fn timestamps_must_be_within_the_window() {
    let old = with(valid_order(), "/timestamp_ms", json!(NOW - MAX_AGE_MS - 1));
    assert_eq!(
        violations(&old),
        // By how much, never rounded to nothing.
        ["timestamp_ms: is 1 ms older than the 7 days the API accepts (7 days old)"]
    );
    let weeks = with(valid_order(), "/timestamp_ms", json!(NOW - 20 * 86_400_000));
    assert_eq!(
        violations(&weeks),
        ["timestamp_ms: is 13 days older than the 7 days the API accepts (20 days old)"]
    );
    let edge = with(valid_order(), "/timestamp_ms", json!(NOW - MAX_AGE_MS));
    assert_eq!(violations(&edge), Vec::<String>::new());
    let ahead = with(valid_order(), "/timestamp_ms", json!(NOW + 11 * 60_000));
    assert_eq!(
        violations(&ahead),
        ["timestamp_ms: is 11 minutes in the future, 1 minute past the 10 minutes the API accepts"]
    );
    let just = with(valid_order(), "/timestamp_ms", json!(NOW + 10 * 60_000 + 1));
    assert_eq!(
        violations(&just),
        ["timestamp_ms: is 10 minutes in the future, 1 ms past the 10 minutes the API accepts"]
    );
    let ok_ahead = with(valid_order(), "/timestamp_ms", json!(NOW + 10 * 60_000));
    assert_eq!(violations(&ok_ahead), Vec::<String>::new());
}

#[test]
fn custom_events_need_a_valid_name() {
    let custom = |name: Value| {
        json!({"id": "c", "type": "custom", "custom_event_name": name, "timestamp_ms": NOW,
            "action_source": "other", "data": {"type": "custom", "anything": [1, 2]}})
    };
    assert_eq!(
        violations(&custom(json!("newsletter_signup"))),
        Vec::<String>::new()
    );
    assert_eq!(violations(&custom(json!("a"))), Vec::<String>::new());
    for bad in ["", "-x", "x-", "has space", "é", &"x".repeat(65)] {
        assert_eq!(violations(&custom(json!(bad))).len(), 1, "{bad:?} accepted");
    }
    assert_eq!(
        violations(&custom(json!("order_created"))),
        ["custom_event_name: `order_created` is a standard event type: send it as that type"]
    );
    let unnamed = without(custom(json!("x")), "/custom_event_name");
    assert_eq!(
        violations(&unnamed),
        ["custom_event_name: is required when type is custom"]
    );
    let stray = with(valid_order(), "/oppref", json!("o"));
    let stray = {
        let mut e = stray;
        e["custom_event_name"] = json!("x");
        e
    };
    assert_eq!(
        violations(&stray),
        ["custom_event_name: is only allowed when type is custom"]
    );
}

#[test]
fn currencies_and_amounts() {
    let lower = with(valid_order(), "/data/currency", json!("usd"));
    assert_eq!(
        violations(&lower),
        ["data.currency: must be an uppercase ISO 4217 currency code"]
    );
    let unknown = with(valid_order(), "/data/currency", json!("ABC"));
    assert_eq!(violations(&unknown).len(), 1);
    let negative = with(valid_order(), "/data/amount", json!(-1));
    assert_eq!(violations(&negative), ["data.amount: must not be negative"]);
    // An item amount needs a currency: the event's covers it; without one it is missing.
    let no_currency = without(without(valid_order(), "/data/currency"), "/data/amount");
    assert_eq!(
        violations(&no_currency),
        ["data.contents[0].currency: is required when the item has an amount and data has no currency"]
    );
    let mut item_currency = no_currency;
    item_currency["data"]["contents"][0]["currency"] = json!("USD");
    assert_eq!(violations(&item_currency), Vec::<String>::new());
}

#[test]
fn content_items() {
    let v = violations(&with(
        valid_order(),
        "/data/contents",
        json!([{}, {"id": 5, "quantity": 0, "price": 3}, "x", {"variant_dict": {"size": "L"}, "group_id": "g"}]),
    ));
    assert_eq!(
        v,
        [
            "data.contents[0]: must have at least one field",
            "data.contents[1].id: must be a non-empty string",
            "data.contents[1].price: is not a content item field (id, name, content_type, quantity, amount, currency, group_id, variant_dict)",
            "data.contents[1].quantity: must be a positive integer",
            "data.contents[2]: must be an object",
        ]
    );
}

#[test]
fn web_events_need_an_http_url() {
    for bad in [
        "shop.example/x",
        "ftp://shop.example/",
        "https://",
        "https:///path",
        "https://exa mple.com",
        "https://shop.example/a\tb",
        "https://shop.example/a\u{b}b",
        "https://shop.example/caf\u{e9}\u{a0}x",
        "https://shop.example/\u{3000}",
    ] {
        let v = violations(&with(valid_order(), "/source_url", json!(bad)));
        assert_eq!(
            v,
            ["source_url: must be an http(s) URL with a host"],
            "{bad}"
        );
    }
    let accented = with(
        valid_order(),
        "/source_url",
        json!("https://shop.example/caf\u{e9}"),
    );
    assert_eq!(violations(&accented), Vec::<String>::new());
    let offline = without(
        with(valid_order(), "/action_source", json!("offline")),
        "/source_url",
    );
    assert_eq!(violations(&offline), Vec::<String>::new());
    let app = json!({"id": "a", "type": "app_opened", "timestamp_ms": NOW, "action_source": "web",
        "source_url": "https://x.example/", "data": {"type": "customer_action"}});
    assert_eq!(
        violations(&app),
        ["action_source: must be mobile_app for app events"]
    );
}

#[test]
fn both_user_shapes_are_accepted() {
    let hash = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b";
    let shape_b = with(
        valid_order(),
        "/user",
        json!({
            "emails_sha256": [hash], "phone_numbers_sha256": [hash], "external_ids_sha256": [hash],
            "first_names_sha256": [hash], "last_names_sha256": [hash],
            "countries": ["DE"], "cities": ["Berlin"], "regions": ["BE"], "postal_codes": ["10115"],
            "ip_address": "2001:db8::1", "user_agent": "curl/8", "obref": "ob_1",
            "android_advertising_id": "38400000-8cf0-11bd-b23e-10b96e40000d"
        }),
    );
    assert_eq!(violations(&shape_b), Vec::<String>::new());
    let bad = with(
        valid_order(),
        "/user",
        json!({"emails_sha256": [], "phone": "+1 415", "zip_code": "97205!", "ip_address": "999.1.1.1",
               "city": "x".repeat(129), "android_advertising_id": "nope"}),
    );
    assert_eq!(
        violations(&bad),
        [
            "user.android_advertising_id: must be a UUID",
            "user.city: must be at most 128 characters",
            "user.emails_sha256: must not be empty",
            "user.ip_address: must be an IPv4 or IPv6 address",
            "user.phone: is not a documented user field",
            "user.zip_code: must be at most 32 letters, digits, spaces or hyphens",
        ]
    );
}

#[test]
fn every_violation_names_its_rule_and_a_relaxed_rule_is_not_enforced() {
    let mut refund = valid_order();
    refund["data"]["amount"] = json!(-4804);
    refund["data"]["contents"][0]["quantity"] = json!(0);
    let strict = OpenAiValidator::STRICT.validate(&refund, NOW);
    let rules: Vec<&str> = strict.iter().map(|v| v.rule).collect();
    assert_eq!(
        rules,
        ["amount_non_negative", "quantity_positive"],
        "{strict:?}"
    );

    let relaxed = OpenAiValidator::relaxing(["amount_non_negative"]).unwrap();
    let left = relaxed.validate(&refund, NOW);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].rule, "quantity_positive");
    assert_eq!(
        relaxed.relaxed().map(|r| r.name()).collect::<Vec<_>>(),
        ["amount_non_negative"]
    );

    // Every rule of the validator carries a name, old events too.
    let mut old = valid_order();
    old["timestamp_ms"] = json!(NOW - MAX_AGE_MS - 1);
    assert_eq!(
        OpenAiValidator::STRICT.validate(&old, NOW)[0].rule,
        "timestamp_window"
    );
    let patient = OpenAiValidator::relaxing(["timestamp_window"]).unwrap();
    assert!(patient.validate(&old, NOW).is_empty());

    let unknown = OpenAiValidator::relaxing(["amount_positive"]).unwrap_err();
    assert!(
        unknown.to_string().contains("amount_non_negative"),
        "{unknown}"
    );
}
