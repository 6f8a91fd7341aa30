//! How a compiled mapping treats events: one test per rule of the mapping language.

use std::sync::Arc;

use eventmap::{CompileOptions, EventContext, Mapping, Outcome, Registry, TransformError};
use serde_json::{json, Value};

const NOW: EventContext = EventContext {
    now_ms: 1_795_260_600_000,
};

fn compile(yaml: &str) -> Mapping {
    compile_with(yaml, CompileOptions::default())
}

fn compile_with(yaml: &str, options: CompileOptions) -> Mapping {
    Mapping::compile(yaml, "test.yaml", &options).unwrap_or_else(|e| panic!("compile failed:\n{e}"))
}

fn mapped(mapping: &Mapping, event: Value) -> Value {
    match mapping.map(&event, &NOW) {
        Outcome::Mapped(v) => v,
        other => panic!("expected a mapped event, got {other:?}"),
    }
}

#[test]
fn missing_null_and_empty_string_are_absent_and_omit_the_key() {
    let m = compile(
        "default:\n  keys:\n    a: { from: a }\n    b: { from: b }\n    c: { from: c }\n    d: { from: d }\n    e: { from: e }\n",
    );
    let out = mapped(&m, json!({"a": null, "b": "", "c": 0, "d": false}));
    assert_eq!(out, json!({"c": 0, "d": false}));
}

#[test]
fn defaults_fill_absent_values_and_required_keys_fail_naming_the_key() {
    let m = compile(
        "default:\n  keys:\n    currency: { from: properties.currency, default: USD }\n    id: { from: [messageId, properties.id], required: true }\n",
    );
    assert_eq!(
        mapped(&m, json!({"messageId": "m1"})),
        json!({"currency": "USD", "id": "m1"})
    );
    assert_eq!(
        mapped(&m, json!({"properties": {"id": "p1", "currency": "EUR"}})),
        json!({"currency": "EUR", "id": "p1"})
    );
    let Outcome::Failed(errors) = m.map(&json!({"messageId": ""}), &NOW) else {
        panic!("should fail")
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key, "id");
    assert_eq!(
        errors[0].message,
        "required value is absent (read from messageId, properties.id)"
    );
    assert_eq!(errors[0].location.to_string(), "test.yaml:4:5");
}

#[test]
fn dotted_output_keys_build_nested_objects() {
    let m = compile("default:\n  keys:\n    user.address.city: { const: Paris }\n    user.id: { const: 7 }\n    type: { const: x }\n");
    assert_eq!(
        mapped(&m, json!({})),
        json!({"user": {"address": {"city": "Paris"}, "id": 7}, "type": "x"})
    );
}

#[test]
fn transforms_chain_and_absent_values_skip_them() {
    let m = compile(
        "default:\n  keys:\n    email: { from: traits.email, transform: [trim, lower] }\n    hashed: { from: traits.email, transform: sha256_email }\n    oppref: { from: context.page.url, transform: { query_param: oppref } }\n",
    );
    let out = mapped(
        &m,
        json!({"traits": {"email": "  A@B.COM "}, "context": {"page": {"url": "https://x.example/?oppref=o_1"}}}),
    );
    assert_eq!(out["email"], "a@b.com");
    // printf '%s' 'a@b.com' | sha256sum
    assert_eq!(
        out["hashed"],
        "fb98d44ad7501a959f3f4f4a3f004fe2d9e581ea6207e218c4b02c08a4d75adf"
    );
    assert_eq!(out["oppref"], "o_1");
    assert_eq!(mapped(&m, json!({})), json!({}));
}

#[test]
fn expressions_see_only_their_inputs_and_can_read_params() {
    let yaml = r#"
params:
  factor: { default: 2 }
default:
  keys:
    doubled:
      expr: n * param("factor")
      inputs: { n: properties.n }
    label:
      expr: 'if n > 10 { "big" } else { "small" }'
      inputs: { n: properties.n }
    constant_input:
      expr: x + 1
      inputs: { x: { const: 41 } }
    from_param:
      expr: f + 0
      inputs: { f: { param: factor } }
    nothing:
      expr: ()
"#;
    let m = compile(yaml);
    assert_eq!(
        mapped(&m, json!({"properties": {"n": 21}})),
        json!({"doubled": 42, "label": "big", "constant_input": 42, "from_param": 2})
    );
    let mut options = CompileOptions::default();
    options.params.insert("factor".into(), "3".into());
    let m = compile_with(yaml, options);
    assert_eq!(mapped(&m, json!({"properties": {"n": 1}}))["doubled"], 3);
}

#[test]
fn when_sets_a_key_only_if_its_condition_holds() {
    let yaml = "params:\n  send_user_data: true\ndefault:\n  keys:\n    user.email: { from: email, when: param(\"send_user_data\") }\n    vip: { const: true, when: 'total > 100', inputs: { total: properties.total } }\n";
    let m = compile(yaml);
    assert_eq!(
        mapped(&m, json!({"email": "e", "properties": {"total": 500}})),
        json!({"user": {"email": "e"}, "vip": true})
    );
    assert_eq!(
        mapped(&m, json!({"email": "e", "properties": {"total": 5}})),
        json!({"user": {"email": "e"}})
    );
    let mut options = CompileOptions::default();
    options
        .params
        .insert("send_user_data".into(), "false".into());
    let m = compile_with(yaml, options);
    assert_eq!(mapped(&m, json!({"email": "e"})), json!({}));
}

#[test]
fn filters_skip_events_with_their_reason() {
    let yaml = r#"
filters:
  - skip_if: 'consent == "denied"'
    inputs: { consent: context.consent.advertising }
    reason: no advertising consent
events:
  order:
    match: { event: Order Completed }
    filters:
      - skip_if: test
        inputs: { test: properties.test }
        reason: test order
    keys:
      id: { from: messageId }
"#;
    let m = compile(yaml);
    let skipped = m.map(
        &json!({"event": "Order Completed", "context": {"consent": {"advertising": "denied"}}}),
        &NOW,
    );
    assert_eq!(
        skipped,
        Outcome::Skipped {
            reason: "no advertising consent".into()
        }
    );
    let skipped = m.map(
        &json!({"event": "Order Completed", "properties": {"test": true}}),
        &NOW,
    );
    assert_eq!(
        skipped,
        Outcome::Skipped {
            reason: "test order".into()
        }
    );
    assert_eq!(
        mapped(&m, json!({"event": "Order Completed", "messageId": "m"})),
        json!({"id": "m"})
    );
}

#[test]
fn events_match_by_name_aliases_normalized_spelling_and_call_type() {
    let yaml = r#"
global:
  source: { const: global }
  kind: { const: generic }
events:
  order:
    match: { event: [Order Completed, purchase] }
    keys:
      kind: { const: order }
  page:
    match: { type: page }
    keys:
      kind: { const: page }
  Signed Up:
    keys:
      kind: { const: signup }
"#;
    let m = compile(yaml);
    let kind = |e: Value| mapped(&m, e)["kind"].clone();
    assert_eq!(
        kind(json!({"type": "track", "event": "Order Completed"})),
        "order"
    );
    assert_eq!(
        kind(json!({"type": "track", "event": "order_completed"})),
        "order"
    );
    assert_eq!(kind(json!({"type": "track", "event": "PURCHASE"})), "order");
    assert_eq!(kind(json!({"type": "page", "name": "Home"})), "page");
    assert_eq!(
        kind(json!({"type": "track", "event": "signed_up"})),
        "signup"
    );
    assert_eq!(
        mapped(&m, json!({"event": "purchase"}))["source"],
        "global",
        "global keys apply to every event"
    );
    assert_eq!(
        m.map(
            &json!({"type": "track", "event": "Newsletter Opened"}),
            &NOW
        ),
        Outcome::Skipped {
            reason: "no mapping for event `Newsletter Opened`".into()
        }
    );
    assert_eq!(
        m.map(&json!({"type": "identify"}), &NOW),
        Outcome::Skipped {
            reason: "no mapping for `identify` calls".into()
        }
    );
}

#[test]
fn default_section_maps_or_skips_unmatched_events() {
    let skip =
        compile("events:\n  a: { keys: { x: { const: 1 } } }\ndefault:\n  skip: only a is sent\n");
    assert_eq!(
        skip.map(&json!({"event": "b"}), &NOW),
        Outcome::Skipped {
            reason: "only a is sent".into()
        }
    );
    let fallback = compile("global:\n  id: { from: messageId }\nevents:\n  a: { keys: { x: { const: 1 } } }\ndefault:\n  keys:\n    custom_event_name: { from: event }\n");
    assert_eq!(
        mapped(&fallback, json!({"event": "b", "messageId": "m"})),
        json!({"id": "m", "custom_event_name": "b"})
    );
}

#[test]
fn each_maps_list_elements_through_a_sub_mapping() {
    let yaml = r#"
default:
  keys:
    data.contents:
      each: [properties.products, properties]
      keys:
        id: { from: product_id, required: true }
        amount:
          expr: minor_units(price, currency)
          inputs: { price: price, currency: $.properties.currency }
        quantity: { from: quantity, default: 1 }
"#;
    let m = compile(yaml);
    let out = mapped(
        &m,
        json!({"properties": {"currency": "KWD", "products": [
            {"product_id": "a", "price": 1.25},
            {"product_id": "b", "price": "0.5", "quantity": 2}
        ]}}),
    );
    assert_eq!(
        out,
        json!({"data": {"contents": [
            {"id": "a", "amount": 1250, "quantity": 1},
            {"id": "b", "amount": 500, "quantity": 2}
        ]}})
    );
    // A single product (no list) is mapped as a list of one.
    let out = mapped(
        &m,
        json!({"properties": {"currency": "JPY", "product_id": "solo", "price": 500}}),
    );
    assert_eq!(
        out,
        json!({"data": {"contents": [{"id": "solo", "amount": 500, "quantity": 1}]}})
    );
    // Errors inside elements name the element.
    let Outcome::Failed(errors) = m.map(&json!({"properties": {"currency": "USD", "products": [{"product_id": "a"}, {"price": 1}]}}), &NOW) else {
        panic!("should fail")
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, "data.contents[1].id");
}

#[test]
fn event_keys_override_global_keys_of_the_same_name() {
    let m = compile("global:\n  action_source: { const: web }\nevents:\n  call:\n    keys:\n      action_source: { const: phone_call }\n");
    assert_eq!(
        mapped(&m, json!({"event": "call"})),
        json!({"action_source": "phone_call"})
    );
}

#[test]
fn errors_fail_the_event_unless_the_key_omits_them() {
    let m = compile("default:\n  keys:\n    country: { from: c, transform: country_alpha2, on_error: omit }\n    amount: { from: p, transform: { minor_units: ZZZ } }\n");
    let Outcome::Failed(errors) = m.map(&json!({"c": "Atlantis", "p": 1}), &NOW) else {
        panic!("should fail")
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key, "amount");
    assert_eq!(
        errors[0].message,
        "minor_units: the currency is not an ISO 4217 code"
    );
    assert_eq!(errors[0].location.to_string(), "test.yaml:4:37");
    assert_eq!(mapped(&m, json!({"c": "Atlantis"})), json!({}));
}

#[test]
fn a_runaway_expression_fails_its_event_and_the_next_event_maps() {
    let m = compile("default:\n  keys:\n    x:\n      expr: 'if n > 0 { loop { } } else { 1 }'\n      inputs: { n: n }\n");
    let Outcome::Failed(errors) = m.map(&json!({"n": 1}), &NOW) else {
        panic!("should fail")
    };
    assert_eq!(errors[0].key, "x");
    assert!(
        errors[0].message.contains("operation limit"),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].location.line, 4);
    assert_eq!(mapped(&m, json!({"n": 0})), json!({"x": 1}));
}

#[test]
fn the_clock_is_the_context_clock() {
    let m = compile("default:\n  keys:\n    age_ms:\n      expr: now_ms() - to_ms(ts)\n      inputs: { ts: timestamp }\n");
    assert_eq!(
        mapped(&m, json!({"timestamp": "2026-11-21T11:29:59Z"})),
        json!({"age_ms": 1000})
    );
}

#[test]
fn parameters_interpolate_the_environment() {
    let yaml = "params:\n  pixel: { default: \"px-${PIXEL_SUFFIX:-none}\" }\n  flag: { type: bool }\ndefault:\n  keys:\n    pixel: { param: pixel }\n    flag: { param: flag }\n";
    let env: eventmap::EnvLookup = Arc::new(|name| match name {
        "PIXEL_SUFFIX" => Some("42".into()),
        "EVENTMAP_PARAM_FLAG" => Some("true".into()),
        _ => None,
    });
    let m = compile_with(
        yaml,
        CompileOptions {
            env,
            ..CompileOptions::default()
        },
    );
    assert_eq!(
        mapped(&m, json!({})),
        json!({"pixel": "px-42", "flag": true})
    );
    let m = compile_with(
        yaml,
        CompileOptions {
            env: Arc::new(|_| None),
            ..CompileOptions::default()
        },
    );
    assert_eq!(mapped(&m, json!({})), json!({"pixel": "px-none"}));
}

#[test]
fn host_transforms_work_by_name_and_inside_expressions() {
    let mut registry = Registry::with_builtins();
    registry
        .register(
            "loyalty_tier",
            0..=1,
            "tier name from points",
            |value, args| {
                let points = value
                    .as_i64()
                    .ok_or_else(|| TransformError::new("points must be an integer"))?;
                let gold = args.first().and_then(Value::as_i64).unwrap_or(1000);
                Ok(Some(json!(if points >= gold { "gold" } else { "basic" })))
            },
        )
        .unwrap();
    let yaml = "default:\n  keys:\n    tier: { from: points, transform: loyalty_tier }\n    strict_tier: { from: points, transform: { loyalty_tier: 100 } }\n    label:\n      expr: 'upper(loyalty_tier(p, 100))'\n      inputs: { p: points }\n";
    let m = compile_with(
        yaml,
        CompileOptions {
            registry,
            ..CompileOptions::default()
        },
    );
    assert_eq!(
        mapped(&m, json!({"points": 150})),
        json!({"tier": "basic", "strict_tier": "gold", "label": "GOLD"})
    );
    let Outcome::Failed(errors) = m.map(&json!({"points": "many"}), &NOW) else {
        panic!("should fail")
    };
    assert_eq!(errors.len(), 3);
    assert!(
        errors.iter().all(|e| e
            .message
            .contains("loyalty_tier: points must be an integer")),
        "{errors:?}"
    );
    // Without the registration the same mapping does not compile.
    let err = Mapping::compile(yaml, "test.yaml", &CompileOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("unknown transform `loyalty_tier`"),
        "{err}"
    );
}

#[test]
fn one_compiled_mapping_is_shared_by_many_threads() {
    let m = compile("default:\n  keys:\n    id: { from: id }\n    amount:\n      expr: minor_units(p, \"USD\")\n      inputs: { p: price }\n");
    std::thread::scope(|s| {
        for t in 0..4 {
            let m = &m;
            s.spawn(move || {
                for i in 0..500 {
                    let out = mapped(m, json!({"id": format!("{t}-{i}"), "price": i}));
                    assert_eq!(out, json!({"id": format!("{t}-{i}"), "amount": i * 100}));
                }
            });
        }
    });
}

#[test]
fn interpreter_free_expressions_give_the_same_results_as_rhai() {
    // Each `native` expression is in the subset run without the interpreter; binding the
    // same expression with `let` (a statement, outside the subset) keeps its twin in Rhai.
    // Both must agree.
    let pairs = [
        "minor_units(p, c)",
        "minor_units(p, \"JPY\")",
        "currency_code(c ?? param(\"fallback\"))",
        "total_minor_units(items, c) ?? minor_units(p, c)",
        "upper(c) ?? \"none\"",
        "sha256_email(e)",
        "if consent == false { true } else { () }",
        "if consent != true { \"no\" }",
        "if c == \"USD\" { upper(c) } else if c == () { \"none\" } else { lower(c) }",
        "if p == 7 { 1 } else if () != p { 2 } else { }",
        "(e == 5) ?? false",
        "consent == 0",
        "false == consent ?? false",
        "c == param(\"fallback\")",
        "total_minor_units(items, c) ?? -1",
        "if p == -7 { -1 } else { 0 }",
    ];
    let mut yaml = String::from("params:\n  fallback: { default: EUR }\ndefault:\n  keys:\n");
    for (i, expr) in pairs.iter().enumerate() {
        let inputs = "{ p: price, c: currency, items: products, e: email, consent: consent }";
        yaml.push_str(&format!(
            "    native{i}: {{ expr: '{expr}', inputs: {inputs} }}\n"
        ));
        yaml.push_str(&format!(
            "    rhai{i}: {{ expr: 'let r = {expr}; r', inputs: {inputs} }}\n"
        ));
    }
    let m = compile(&yaml);
    let cases = [
        json!({"price": 4.35, "currency": "USD", "email": " A@B.c "}),
        json!({"price": "0.5", "currency": "kwd"}),
        json!({"currency": "USD", "products": [{"price": 1.1, "quantity": 3}]}),
        json!({"price": 7, "products": []}),
        json!({"price": "x", "currency": "USD"}),
        json!({"price": 1, "currency": "ZZZ"}),
        json!({"email": 5}),
        json!({}),
        json!({"consent": false, "price": 7.0, "currency": "EUR"}),
        json!({"consent": true, "price": 7, "email": 5.0}),
        json!({"consent": "false", "price": "7", "currency": "eur"}),
        json!({"consent": null, "price": null}),
        json!({"consent": 0, "price": [7]}),
        json!({"consent": 0.0, "price": {"a": 7}}),
        json!({"consent": [false], "price": 18446744073709551615u64}),
        json!({"price": -7, "currency": "USD", "products": [{"price": -1}]}),
    ];
    for event in cases {
        let outcome = m.map(&event, &NOW);
        for (i, expr) in pairs.iter().enumerate() {
            let (native, rhai) = (format!("native{i}"), format!("rhai{i}"));
            match &outcome {
                Outcome::Mapped(out) => {
                    assert_eq!(out.get(&native), out.get(&rhai), "{expr} on {event}")
                }
                Outcome::Failed(errors) => {
                    let by_key = |k: &str| {
                        errors
                            .iter()
                            .find(|e| e.key == k)
                            .map(|e| e.message.clone())
                    };
                    assert_eq!(by_key(&native), by_key(&rhai), "{expr} on {event}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn parameter_only_conditions_are_decided_at_compile_time() {
    let yaml = "params:\n  level: { default: \"high\" }\ndefault:\n  keys:\n    a: { const: 1, when: 'param(\"level\") == \"high\"' }\n    b: { const: 2, when: 'param(\"level\") == \"low\"' }\n    c: { const: 3, when: 'parse_int(param(\"level\")) > 1' }\n";
    let err = Mapping::compile(yaml, "test.yaml", &CompileOptions::default()).unwrap_err();
    assert_eq!(err.diagnostics.len(), 1, "{err}");
    assert!(
        err.diagnostics[0].to_string().starts_with("test.yaml:7:"),
        "{err}"
    );
    assert!(
        err.diagnostics[0].message.starts_with("condition fails:"),
        "{err}"
    );
    let fixed = yaml.replace(
        "    c: { const: 3, when: 'parse_int(param(\"level\")) > 1' }\n",
        "",
    );
    assert_eq!(mapped(&compile(&fixed), json!({})), json!({"a": 1}));
}

#[test]
fn input_paths_can_come_from_parameters() {
    let yaml = "params:\n  value_path: { default: properties.value }\ndefault:\n  keys:\n    value: { from: [{ path_param: value_path }, properties.total] }\n    doubled: { expr: 'if v == () { () } else { v * 2 }', inputs: { v: { path_param: value_path } } }\n";
    let m = compile(yaml);
    assert_eq!(
        mapped(&m, json!({"properties": {"value": 5, "total": 9}})),
        json!({"value": 5, "doubled": 10})
    );
    assert_eq!(
        mapped(&m, json!({"properties": {"total": 9}})),
        json!({"value": 9})
    );
    let mut options = CompileOptions::default();
    options
        .params
        .insert("value_path".into(), "properties.revenue".into());
    let m = compile_with(yaml, options);
    assert_eq!(
        mapped(&m, json!({"properties": {"revenue": 7}}))["value"],
        7
    );
    let mut options = CompileOptions::default();
    options
        .params
        .insert("value_path".into(), "properties..x".into());
    let err = Mapping::compile(yaml, "test.yaml", &options).unwrap_err();
    assert!(
        err.diagnostics[0].to_string().starts_with(
            "test.yaml:5:35: parameter `value_path` is `properties..x`, which is not an input path"
        ),
        "{err}"
    );
    let err = Mapping::compile(
        "default:\n  keys:\n    v: { from: { path_param: nope } }\n",
        "test.yaml",
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown parameter `nope`"),
        "{err}"
    );
}

#[test]
fn explain_traces_every_key() {
    use eventmap::{KeyResult, Matched};
    let m = compile(
        "events:\n  order:\n    match: { event: Order Completed }\n    keys:\n      id: { from: [messageId, properties.id] }\n      currency: { from: properties.currency, default: USD }\n      city: { from: traits.city }\n      vip: { const: true, when: 'n > 10', inputs: { n: properties.n } }\n      amount: { from: properties.total, transform: { minor_units: ZZZ } }\n",
    );
    let explained = m.explain(
        &json!({"event": "Order Completed", "properties": {"id": "p", "n": 1, "total": 3}}),
        &NOW,
    );
    assert_eq!(
        explained.section,
        Some(("order".to_string(), Matched::EventName))
    );
    let result = |key: &str| {
        explained
            .keys
            .iter()
            .find(|k| k.key == key)
            .unwrap()
            .clone()
    };
    assert_eq!(result("id").result, KeyResult::Set(json!("p")));
    assert_eq!(result("id").source, "from properties.id (fallback 2 of 2)");
    assert_eq!(result("id").location.line, 5);
    assert_eq!(result("currency").result, KeyResult::Default(json!("USD")));
    assert_eq!(
        result("city").result,
        KeyResult::Absent("no value at traits.city".into())
    );
    assert_eq!(
        result("vip").result,
        KeyResult::Absent("its `when` condition is false".into())
    );
    assert_eq!(
        result("amount").result,
        KeyResult::Failed("minor_units: the currency is not an ISO 4217 code".into())
    );
    assert_eq!(
        explained.outcome,
        m.map(
            &json!({"event": "Order Completed", "properties": {"id": "p", "n": 1, "total": 3}}),
            &NOW
        )
    );
    let skipped = m.explain(&json!({"event": "Other"}), &NOW);
    assert_eq!(skipped.section, None);
    assert!(matches!(skipped.outcome, Outcome::Skipped { .. }));
}

#[test]
fn test_mode_marks_the_events_of_a_section_or_of_the_whole_file() {
    let yaml = "events:\n  order:\n    match: { event: Order Completed }\n    test_mode: true\n    keys: { id: { from: messageId } }\n  lead:\n    match: { event: Lead }\n    keys: { id: { from: messageId } }\ndefault:\n  test_mode: true\n  keys: { id: { from: messageId } }\n";
    let m = compile(yaml);
    let mode = |m: &Mapping, name: &str| {
        let e = json!({"type": "track", "event": name, "messageId": "m"});
        let by_value = m.map_value(&e, &NOW);
        let by_text = m.map_json(&e.to_string(), &NOW).unwrap();
        assert_eq!(by_value, by_text);
        assert!(matches!(by_value.outcome, Outcome::Mapped(_)));
        by_value.test_mode
    };
    assert!(mode(&m, "Order Completed"));
    assert!(!mode(&m, "Lead"));
    assert!(mode(&m, "Something Else"), "the default section's flag");
    let all = compile(&format!(
        "test_mode: true\n{}",
        yaml.replace("    test_mode: true\n", "")
    ));
    assert!(mode(&all, "Lead"));
}

#[test]
fn test_mode_must_be_a_boolean() {
    let err = Mapping::compile(
        "events:\n  a:\n    test_mode: yes please\n    keys: { id: { from: messageId } }\n",
        "t.yaml",
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.diagnostics[0].code, eventmap::Code::WrongKind);
    assert_eq!(err.diagnostics[0].location.to_string(), "t.yaml:3:16");
    assert!(err.diagnostics[0].message.contains("`test_mode`"), "{err}");
}

#[test]
fn declared_types_fail_a_wrong_value_naming_the_key_and_let_the_right_one_through() {
    let m = compile(
        "default:\n  keys:\n    amount: { from: total, type: integer }\n    name: { from: name, type: string, on_error: omit }\n    ok: { from: ok, type: boolean }\n",
    );
    assert_eq!(
        mapped(&m, json!({"total": 435, "name": "n", "ok": true})),
        json!({"amount": 435, "name": "n", "ok": true})
    );
    match m.map(&json!({"total": 4.35, "name": 7}), &NOW) {
        Outcome::Failed(errors) => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].key, "amount");
            assert_eq!(errors[0].code, eventmap::Code::TypeMismatch);
            assert_eq!(
                errors[0].message,
                "type integer: got a number with a fractional part"
            );
            assert_eq!(errors[0].location.line, 3);
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    // `on_error: omit` leaves a wrongly typed key out; absent values stay absent.
    assert_eq!(
        mapped(&m, json!({"total": 1, "name": 7})),
        json!({"amount": 1})
    );
}

#[test]
fn a_constant_or_default_that_cannot_match_its_type_is_a_compile_error_at_its_line() {
    let err = Mapping::compile(
        "default:\n  keys:\n    a: { const: web, type: integer }\n    b: { from: b, default: 3, type: strng }\n    c: { from: c, default: 3, type: string }\n",
        "types.yaml",
        &CompileOptions::default(),
    )
    .unwrap_err();
    let found = |place: &str, says: &str| {
        err.diagnostics.iter().any(|d| {
            d.code == eventmap::Code::DeclaredType
                && d.location.to_string().starts_with(place)
                && d.message.contains(says)
        })
    };
    assert!(
        found("types.yaml:3:17", "the constant \"web\" is not an integer"),
        "{err}"
    );
    assert!(
        found("types.yaml:4:37", "(did you mean `string`?)"),
        "{err}"
    );
    assert!(
        found("types.yaml:5:", "the default 3 is not a string"),
        "{err}"
    );
}

#[test]
fn tables_drive_lookups_and_matching_and_a_table_parameter_replaces_one_given_as_yaml() {
    let yaml = r#"
params:
  event_types:
    type: table
    default: { Order Completed: order_created, Signed Up: registration_completed }
tables:
  sources: { web: web, ios: mobile_app, android: mobile_app }
events:
  mapped:
    match: { event_in: event_types }
    keys:
      type: { from: event, transform: { lookup: event_types } }
      action_source: { from: context.os, transform: { lookup: [sources, ignore_case] }, default: web }
"#;
    let m = compile(yaml);
    let out = mapped(&m, json!({"event": "Signed Up", "context": {"os": "iOS"}}));
    assert_eq!(
        out,
        json!({"type": "registration_completed", "action_source": "mobile_app"})
    );
    let out = mapped(
        &m,
        json!({"event": "Order Completed", "context": {"os": "plan9"}}),
    );
    assert_eq!(
        out,
        json!({"type": "order_created", "action_source": "web"})
    );
    assert!(matches!(
        m.map(&json!({"event": "Refunded"}), &NOW),
        Outcome::Skipped { .. }
    ));

    // The user's own table, as JSON text: its names are matched and looked up instead.
    let mut options = CompileOptions::default();
    options.params.insert(
        "event_types".into(),
        r#"{"purchase": "order_created"}"#.into(),
    );
    let m = compile_with(yaml, options);
    assert_eq!(
        mapped(&m, json!({"event": "purchase"}))["type"],
        "order_created"
    );
    assert!(matches!(
        m.map(&json!({"event": "Signed Up"}), &NOW),
        Outcome::Skipped { .. }
    ));
}

#[test]
fn an_unknown_table_is_an_error_where_it_is_named() {
    let err = Mapping::compile(
        "tables:\n  sources: { web: web }\ndefault:\n  keys:\n    a: { from: a, transform: { lookup: sourcse } }\n",
        "t.yaml",
        &CompileOptions::default(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("t.yaml:5:32: unknown table `sourcse` (did you mean `sources`?)"),
        "{text}"
    );
}

#[test]
fn let_values_are_computed_once_and_read_by_keys_filters_and_later_lets() {
    let yaml = r#"
let:
  currency: { from: properties.currency, transform: currency_code, default: USD }
events:
  order:
    match: { event: Order Completed }
    let:
      total:
        expr: total_minor_units(products, currency)
        inputs: { products: properties.products }
      doubled: { expr: total * 2 }
    filters:
      - skip_if: total == 0
        reason: an empty order
    keys:
      data.amount: { expr: total, type: integer }
      data.twice: { expr: doubled }
      data.currency: { expr: currency }
      data.items:
        each: properties.products
        keys:
          amount:
            expr: minor_units(price, currency)
            inputs: { price: price }
"#;
    let m = compile(yaml);
    let order = json!({"event": "Order Completed", "properties": {"currency": "eur",
        "products": [{"price": 2.5, "quantity": 2}, {"price": 1, "quantity": 1}]}});
    assert_eq!(
        mapped(&m, order),
        json!({"data": {"amount": 600, "twice": 1200, "currency": "EUR",
            "items": [{"amount": 250}, {"amount": 100}]}})
    );
    // The filter reads the same value: an order of nothing is skipped.
    let empty = json!({"event": "Order Completed", "properties": {"products": [{"price": 0, "quantity": 1}]}});
    assert_eq!(
        m.map(&empty, &NOW),
        Outcome::Skipped {
            reason: "an empty order".into()
        }
    );
    // A failing let fails the event under its name; the default currency applies.
    let bad = json!({"event": "Order Completed", "properties": {"products": [{"price": "x", "quantity": 1}]}});
    let Outcome::Failed(errors) = m.map(&bad, &NOW) else {
        panic!("should fail");
    };
    assert_eq!(errors[0].key, "let.total");
    assert!(
        errors[0].message.contains("total_minor_units"),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].location.line, 9);

    // Explain shows the let values first.
    let explained = m.explain(
        &json!({"event": "Order Completed", "properties": {"products": [{"price": 1, "quantity": 1}]}}),
        &NOW,
    );
    let keys: Vec<&str> = explained.keys.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(
        &keys[..4],
        ["let.currency", "let.total", "let.doubled", "data.amount"]
    );
    assert_eq!(
        explained.keys[0].result,
        eventmap::KeyResult::Default(json!("USD"))
    );
}

#[test]
fn let_names_are_checked_where_they_are_written() {
    let err = Mapping::compile(
        "let:\n  total: { from: a }\nevents:\n  e:\n    let:\n      total: { from: b }\n      later: { expr: after + 1 }\n      after: { from: c }\n    keys:\n      x: { expr: total + t, inputs: { t: d, total: e } }\n",
        "l.yaml",
        &CompileOptions::default(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("l.yaml:6:7: `let` value `total` is already defined (line 2)"),
        "{text}"
    );
    assert!(
        text.contains("l.yaml:7:22: expression uses `after`, a `let` not in scope here"),
        "{text}"
    );
    assert!(
        text.contains(
            "l.yaml:10:45: input `total` has the name of the `let` value at line 2; rename one"
        ),
        "{text}"
    );
}

#[test]
fn a_spread_key_copies_an_objects_keys_under_declared_siblings() {
    let yaml = r#"
default:
  keys:
    type: { const: custom }
    data.*: { from: properties, except: [revenue, currency, products] }
    data.type: { const: custom }
    data.amount: { expr: 'minor_units(revenue, "USD")', inputs: { revenue: properties.revenue } }
"#;
    let m = compile(yaml);
    let out = mapped(
        &m,
        json!({"properties": {"plan": "pro", "type": "theirs", "revenue": 2, "currency": "USD",
            "products": [1], "nested": {"a": 1}}}),
    );
    assert_eq!(
        out,
        json!({"type": "custom", "data": {"plan": "pro", "type": "custom", "amount": 200,
            "nested": {"a": 1}}})
    );
    // Nothing to spread: the declared keys alone.
    assert_eq!(
        mapped(&m, json!({})),
        json!({"type": "custom", "data": {"type": "custom"}})
    );
    // Not an object: the event fails naming the key.
    let Outcome::Failed(errors) = m.map(&json!({"properties": [1, 2]}), &NOW) else {
        panic!("should fail");
    };
    assert_eq!(errors[0].key, "data.*");
    assert!(
        errors[0].message.contains("needs an object"),
        "{}",
        errors[0].message
    );

    let err = Mapping::compile(
        "default:\n  keys:\n    a.*.b: { from: x }\n    c: { from: y, except: [z] }\n    d: { from: p }\n    d.*: { from: q }\n",
        "s.yaml",
        &CompileOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "s.yaml:3:5: output key `a.*.b`: `*` spreads an object and can only end a key"
        ),
        "{err}"
    );
    assert!(
        err.contains("s.yaml:4:19: `except` lists keys a spread leaves out"),
        "{err}"
    );
    assert!(
        err.contains("s.yaml:6:5: output key `d.*` conflicts with `d` (line 5)"),
        "{err}"
    );
}

#[test]
fn an_event_name_matches_track_calls_not_other_calls_that_carry_one() {
    let m = compile(
        "events:\n  order:\n    match: { event: Order Completed }\n    keys:\n      kind: { const: order }\n  who:\n    match: { type: identify }\n    keys:\n      kind: { const: identify }\n",
    );
    let track = json!({"type": "track", "event": "Order Completed"});
    assert_eq!(mapped(&m, track), json!({"kind": "order"}));
    // No type: taken as a track call, as before.
    assert_eq!(
        mapped(&m, json!({"event": "Order Completed"})),
        json!({"kind": "order"})
    );
    // An identify carrying an `event` field is an identify.
    let identify = json!({"type": "identify", "event": "Order Completed"});
    assert_eq!(mapped(&m, identify), json!({"kind": "identify"}));
}

#[test]
fn an_empty_parameter_is_absent_wherever_it_is_read() {
    // `{ param: NAME }` with a default, `param("NAME") ?? X` natively, and the same in Rhai
    // (a `let` keeps the expression out of the native subset): one rule, absent.
    let m = compile(
        "params:\n  b: { default: \"\" }\ndefault:\n  keys:\n    by_key: { param: b, default: X }\n    native: { expr: 'param(\"b\") ?? \"X\"' }\n    rhai: { expr: 'let r = param(\"b\") ?? \"X\"; r' }\n",
    );
    assert_eq!(
        mapped(&m, json!({"type": "track"})),
        json!({"by_key": "X", "native": "X", "rhai": "X"})
    );
}

#[test]
fn a_transform_given_an_absent_value_gives_absent_even_where_rhai_has_the_name() {
    // `to_string` and `trim` are also Rhai's own; `lower` is ours alone.
    let m = compile(
        "default:\n  keys:\n    a: { expr: 'to_string(x) ?? \"FALLBACK\"', inputs: { x: missing } }\n    b: { expr: 'trim(x) ?? \"FALLBACK\"', inputs: { x: missing } }\n    c: { expr: 'lower(x) ?? \"FALLBACK\"', inputs: { x: missing } }\n    d: { expr: 'to_string(x) ?? \"FALLBACK\"', inputs: { x: n } }\n",
    );
    assert_eq!(
        mapped(&m, json!({"n": 5})),
        json!({"a": "FALLBACK", "b": "FALLBACK", "c": "FALLBACK", "d": "5"})
    );
}

#[test]
fn an_event_that_enters_by_a_table_finds_its_entry_in_it() {
    let m = compile(
        "tables:\n  kinds: { Order Completed: order_created }\nevents:\n  mapped:\n    match: { event_in: kinds }\n    keys:\n      type: { from: event, transform: { lookup: [kinds, ignore_case] } }\n",
    );
    for name in ["Order Completed", "order_completed", "ORDER-COMPLETED"] {
        let event = json!({"type": "track", "event": name});
        assert_eq!(
            mapped(&m, event),
            json!({"type": "order_created"}),
            "{name}"
        );
    }
}

#[test]
fn a_parameter_is_a_fallback_in_from_and_a_default_without_an_expression() {
    let m = compile(
        "params:\n  dc: { default: EUR }\n  empty: { default: \"\" }\n  b: { default: fallback }\ndefault:\n  keys:\n    currency: { from: [properties.currency, { param: dc }] }\n    skipped: { from: [{ param: empty }, properties.other] }\n    by_default: { from: properties.missing, default: { param: b } }\n    only: { from: [{ param: empty }, { param: dc }] }\n",
    );
    assert_eq!(
        mapped(&m, json!({"properties": {"currency": "USD", "other": "o"}})),
        json!({"currency": "USD", "skipped": "o", "by_default": "fallback", "only": "EUR"})
    );
    assert_eq!(
        mapped(&m, json!({"properties": {}})),
        json!({"currency": "EUR", "by_default": "fallback", "only": "EUR"})
    );
    // A fallback after a parameter that is set is never read: one error, located.
    let Err(err) = Mapping::compile(
        "params:\n  dc: { default: EUR }\ndefault:\n  keys:\n    c: { from: [a, { param: dc }, b] }\n",
        "m.yaml",
        &CompileOptions::default(),
    ) else {
        panic!("a fallback after a set parameter compiled");
    };
    assert_eq!(err.diagnostics.len(), 1, "{err}");
    assert!(
        err.to_string()
            .contains("m.yaml:5:35: this fallback is never read"),
        "{err}"
    );
}

#[test]
fn a_key_takes_a_let_with_from_and_a_key_out_of_its_scope_is_told_why() {
    let m = compile(
        "events:\n  order:\n    match: { event: Order Completed }\n    let:\n      shape: { expr: '\"contents\"' }\n    keys:\n      data.type: { from: { let: shape } }\n",
    );
    assert_eq!(
        mapped(&m, json!({"type": "track", "event": "Order Completed"})),
        json!({"data": {"type": "contents"}})
    );
    let refused = |yaml: &str| match Mapping::compile(yaml, "m.yaml", &CompileOptions::default()) {
        Err(err) => err.to_string(),
        Ok(_) => panic!("compiled: {yaml}"),
    };
    let section = "events:\n  order:\n    match: { event: Order Completed }\n    let:\n      shape: { expr: '\"contents\"' }\n    keys:\n      kind: { const: order }\n";
    // A global key reading a section's let: not "declare it under `inputs:`".
    let err = refused(&format!("global:\n  t: {{ expr: shape }}\n{section}"));
    assert!(err.contains("`shape`, a `let` not in scope here"), "{err}");
    assert!(!err.contains("inputs:"), "{err}");
    let err = refused(&format!(
        "global:\n  t: {{ from: {{ let: shape }} }}\n{section}"
    ));
    assert!(
        err.contains("`shape` is not a `let` this key can read: it is a `let` of another section"),
        "{err}"
    );
    let err = refused(
        "default:\n  let:\n    total: { expr: '1' }\n  keys:\n    t: { from: { let: totl } }\n",
    );
    assert!(
        err.contains("lets in scope here: total (did you mean `total`?)"),
        "{err}"
    );
}

#[test]
fn a_table_parameter_may_be_a_list_of_rows_with_named_columns() {
    let yaml = "params:\n  event_map:\n    type: table\n    columns: [from, to]\n    default:\n      - { from: Order Completed, to: order_created }\n      - { from: Signed Up, to: registration_completed }\nevents:\n  mapped:\n    match: { event_in: event_map }\n    keys:\n      type: { from: event, transform: { lookup: [event_map, ignore_case] } }\n";
    let m = compile(yaml);
    assert_eq!(
        mapped(&m, json!({"type": "track", "event": "signed_up"})),
        json!({"type": "registration_completed"})
    );
    // Given by the host as JSON rows, too.
    let mut options = CompileOptions::default();
    options.params.insert(
        "event_map".into(),
        r#"[{"from": "Refunded", "to": "custom"}]"#.into(),
    );
    let m = compile_with(yaml, options);
    assert_eq!(
        mapped(&m, json!({"type": "track", "event": "Refunded"})),
        json!({"type": "custom"})
    );
    // Rows without columns: one error, not a cascade at every use.
    let Err(err) = Mapping::compile(
        &yaml.replace("    columns: [from, to]\n", ""),
        "m.yaml",
        &CompileOptions::default(),
    ) else {
        panic!("rows without columns compiled");
    };
    assert_eq!(err.diagnostics.len(), 1, "{err}");
    assert!(
        err.to_string()
            .contains("`columns: [NAME_COLUMN, VALUE_COLUMN]`"),
        "{err}"
    );
}

#[test]
fn explain_shows_each_elements_keys_and_which_inputs_an_expression_had() {
    let m = compile(
        "default:\n  keys:\n    items:\n      each: [products, items]\n      keys:\n        id: { from: [sku, id] }\n    label: { expr: 'upper(a) ?? lower(b)', inputs: { a: first, b: second } }\n",
    );
    let event = json!({"type": "track", "items": [{"id": "x"}, {"sku": "y"}], "second": "B"});
    let explained = m.explain(&event, &NOW);
    let items = &explained.keys[0];
    assert_eq!(
        items.source,
        "each of 2 element(s) of items (fallback 2 of 2)"
    );
    assert_eq!(items.elements.len(), 2);
    assert_eq!(items.elements[0][0].source, "from id (fallback 2 of 2)");
    assert_eq!(items.elements[1][0].source, "from sku (fallback 1 of 2)");
    assert_eq!(
        items.elements[1][0].result,
        eventmap::KeyResult::Set(json!("y"))
    );
    let label = &explained.keys[1];
    assert!(
        label.source.ends_with("inputs: a absent, b present"),
        "{}",
        label.source
    );
}
