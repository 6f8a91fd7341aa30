//! End-to-end: the `eventmap` binary on the bundled mapping and example events, and on
//! broken mappings and inputs.

use eventmap_tests::{eventmap, eventmap_env, Scratch};
use serde_json::json;

const MAPPING: &str = "mappings/openai.yaml";
const EXAMPLES: &str = "mappings/examples/segment-events.ndjson";
/// The clock the test events were written for (the mapping validates their timestamps).
const NOW: &str = "2026-11-21T12:00:00Z";

#[test]
fn check_accepts_the_bundled_mapping() {
    let run = eventmap(&["check", MAPPING], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("mappings/openai.yaml: ok"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_reports_every_error_with_its_location_and_fails() {
    let dir = Scratch::new("check");
    let bad = dir.write(
        "bad.yaml",
        "global:\n  id: { form: messageId }\n  email: { from: traits.email, transform: sha265_email }\nevents:\n  x:\n    keys:\n      y: { expr: '1 +' }\n",
    );
    let run = eventmap(&["check", &bad, "mappings/openai.yaml"], "");
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    // Each error: its place, its message with the suggestion, its code last.
    let shown = |place: &str, says: &str, code: &str| {
        lines.iter().any(|l| {
            l.starts_with(&format!("{bad}:{place}: "))
                && l.contains(says)
                && l.ends_with(&format!(" [{code}]"))
        })
    };
    assert!(
        shown(
            "2:9",
            "unknown key `form` in output key `id` (did you mean `from`?)",
            "E0101"
        ),
        "{}",
        run.stderr
    );
    assert!(
        shown(
            "3:43",
            "unknown transform `sha265_email` (did you mean `sha256_email`?)",
            "E0104"
        ),
        "{}",
        run.stderr
    );
    // The count says where a code is explained.
    assert!(
        run.stderr
            .contains("error(s); `eventmap explain-error CODE` explains a code"),
        "{}",
        run.stderr
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("{bad}:7:")))
            && run.stderr.contains("Rhai syntax"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("mappings/openai.yaml: ok"),
        "the good file is still checked: {}",
        run.stdout
    );
}

#[test]
fn map_runs_the_bundled_examples_in_order() {
    let run = eventmap(&["map", "--mapping", MAPPING, "--now", NOW, EXAMPLES], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.stdout_json();
    let ids: Vec<&str> = out.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "msg-page-001",
            "msg-view-002",
            "msg-add-003",
            "msg-checkout-004",
            "msg-order-005",
            "msg-order-jpy-006"
        ]
    );
    let types: Vec<&str> = out.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "page_viewed",
            "contents_viewed",
            "items_added",
            "checkout_started",
            "order_created",
            "order_created"
        ]
    );

    // Amounts worked out by hand from the example events.
    let order = &out[4];
    assert_eq!(order["data"]["amount"], 4804, "34.99 + 3 x 4.35");
    assert_eq!(order["data"]["currency"], "USD");
    assert_eq!(
        order["data"]["contents"][1],
        json!({"id": "mug-02", "name": "Enamel Mug", "amount": 435, "quantity": 3})
    );
    assert_eq!(out[5]["data"]["amount"], 5800, "JPY has no minor unit");
    assert_eq!(
        out[2]["data"]["currency"], "USD",
        "Product Added defaults to USD"
    );
    // 2026-11-21T13:30:00.250+02:00
    assert_eq!(out[0]["timestamp_ms"], 1_795_260_600_250_i64);
    // printf '%s' 'jane.doe@example.com' | sha256sum
    assert_eq!(
        out[0]["user"]["email_sha256"],
        "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
    );
    assert_eq!(out[0]["user"]["country"], "US");
    assert_eq!(out[5]["user"]["country"], "JP");

    let reports = run.stderr_json();
    assert_eq!(reports.len(), 5, "{}", run.stderr);
    assert_eq!(reports[0]["status"], "skipped");
    assert_eq!(reports[0]["id"], "msg-identify-007");
    assert_eq!(reports[0]["line"], 7);
    assert_eq!(reports[2]["status"], "failed");
    assert_eq!(reports[2]["id"], "msg-order-bad-009");
    assert_eq!(reports[2]["errors"][0]["key"], "data.amount");
    assert!(reports[2]["errors"][0]["location"]
        .as_str()
        .unwrap()
        .starts_with("mappings/openai.yaml:"));
    assert_eq!(
        run.summary(),
        json!({"read": 10, "mapped": 6, "skipped": 2, "failed": 1, "invalid": 1, "malformed": 0, "seconds": run.summary()["seconds"]})
    );
    // Mapped, but 20 days old: the API would reject it.
    assert_eq!(reports[3]["status"], "invalid");
    assert_eq!(reports[3]["id"], "msg-view-stale-010");
    assert_eq!(
        reports[3]["reasons"],
        json!(["timestamp_ms: is 13 days older than the 7 days the API accepts (20 days old)"])
    );
}

#[test]
fn map_reads_stdin_reports_malformed_lines_and_goes_on() {
    let input = concat!(
        "{\"type\":\"track\",\"event\":\"Order Completed\",\"context\":{\"page\":{\"url\":\"https://shop.example/done\"}},\"messageId\":\"a\",\"timestamp\":\"2026-11-21T10:00:00Z\",\"properties\":{\"currency\":\"EUR\",\"total\":\"12.30\"}}\n",
        "{not json\n",
        "\n",
        "{\"type\":\"track\",\"event\":\"Order Completed\",\"context\":{\"page\":{\"url\":\"https://shop.example/done\"}},\"timestamp\":\"2026-11-21T10:00:00Z\",\"properties\":{\"currency\":\"EUR\",\"total\":1}}\n",
        "{\"type\":\"track\",\"event\":\"Order Completed\",\"context\":{\"page\":{\"url\":\"https://shop.example/done\"}},\"messageId\":\"c\",\"timestamp\":\"2026-11-21T10:00:00Z\",\"properties\":{\"currency\":\"EUR\",\"total\":0.1}}\n",
    );
    let run = eventmap(&["map", "--mapping", MAPPING, "--now", NOW, "-"], input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.stdout_json();
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0]["id"].as_str(), out[0]["data"]["amount"].as_i64()),
        (Some("a"), Some(1230))
    );
    assert_eq!(
        (out[1]["id"].as_str(), out[1]["data"]["amount"].as_i64()),
        (Some("c"), Some(10))
    );
    let reports = run.stderr_json();
    assert_eq!(reports[0]["status"], "malformed");
    assert_eq!(reports[0]["line"], 2);
    assert_eq!(reports[1]["status"], "failed");
    assert_eq!(
        reports[1]["line"], 4,
        "an event without messageId is named by its line"
    );
    assert!(reports[1].get("id").is_none());
    assert_eq!(reports[1]["errors"][0]["key"], "id");
    assert_eq!(run.summary()["read"], 4);
    assert_eq!(run.summary()["malformed"], 1);

    let strict = eventmap(
        &["map", "--mapping", MAPPING, "--now", NOW, "--fail-on-error"],
        input,
    );
    assert_eq!(strict.code, 3);
}

#[test]
fn map_parameters_come_from_flags_and_environment() {
    let event = "{\"type\":\"page\",\"messageId\":\"p\",\"timestamp\":\"2026-11-21T10:00:00Z\",\"anonymousId\":\"anon\",\"context\":{\"page\":{\"url\":\"https://x.example/\"},\"ip\":\"203.0.113.9\"}}\n";
    let with_user = eventmap(&["map", "--mapping", MAPPING, "--now", NOW], event);
    assert!(
        with_user.stdout_json()[0].get("user").is_some(),
        "{}",
        with_user.stdout
    );
    let flag = eventmap(
        &[
            "map",
            "--mapping",
            MAPPING,
            "--now",
            NOW,
            "--param",
            "send_user_data=false",
        ],
        event,
    );
    assert!(
        flag.stdout_json()[0].get("user").is_none(),
        "{}",
        flag.stdout
    );
    let env = eventmap_env(
        &["map", "--mapping", MAPPING, "--now", NOW],
        event,
        &[("EVENTMAP_PARAM_SEND_USER_DATA", "false")],
    );
    assert!(env.stdout_json()[0].get("user").is_none(), "{}", env.stdout);
    let unknown = eventmap(
        &["map", "--mapping", MAPPING, "--param", "send_user=false"],
        event,
    );
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("did you mean `send_user_data`?"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn map_now_fixes_the_clock_for_expressions() {
    let dir = Scratch::new("now");
    let mapping = dir.write("age.yaml", "default:\n  keys:\n    age_s:\n      expr: (now_ms() - to_ms(ts)) / 1000\n      inputs: { ts: timestamp }\n");
    let run = eventmap(
        &[
            "map",
            "--mapping",
            &mapping,
            "--now",
            "2026-11-21T12:00:00Z",
        ],
        "{\"timestamp\":\"2026-11-21T11:00:00Z\"}\n",
    );
    assert_eq!(run.stdout_json(), [json!({"age_s": 3600})]);
    let bad = eventmap(&["map", "--mapping", &mapping, "--now", "tomorrow"], "");
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("--now `tomorrow` is not a time"),
        "{}",
        bad.stderr
    );
}

#[test]
fn map_with_a_broken_mapping_exits_before_reading() {
    let dir = Scratch::new("broken");
    let mapping = dir.write(
        "m.yaml",
        "events:\n  a:\n    keys:\n      x: { from: '' }\n",
    );
    let run = eventmap(&["map", "--mapping", &mapping], "{}\n");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!("{mapping}:4:")),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn map_reports_a_missing_input_file() {
    let run = eventmap(&["map", "--mapping", MAPPING, "no/such/file.ndjson"], "");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cannot open input no/such/file.ndjson"),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_destinations_are_rejected() {
    let dir = Scratch::new("destination");
    let mapping = dir.write(
        "d.yaml",
        "version: 1\ndestination: nowhere\ndefault: { skip: x }\n",
    );
    let check = eventmap(&["check", &mapping], "");
    assert_eq!(check.code, 1);
    // At the value, with what is known.
    assert!(
        check.stderr.contains(&format!(
            "{mapping}:2:14: unknown destination `nowhere` (this eventmap knows: openai, meta) [E0103]"
        )),
        "{}",
        check.stderr
    );
    let typo = dir.write("t.yaml", "destination: opnai\ndefault: { skip: x }\n");
    let check = eventmap(&["check", &typo], "");
    assert!(
        check.stderr.contains("(did you mean `openai`?)"),
        "{}",
        check.stderr
    );
    let map = eventmap(&["map", "--mapping", &mapping], "{}\n");
    assert_eq!(map.code, 1);
    assert!(map.stdout.is_empty());
}

#[test]
fn the_destination_validator_reports_every_reason() {
    // A web event without a page URL and with a currency the API would not take.
    let event = "{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"o-1\",\"timestamp\":\"2026-11-21T11:00:00Z\",\"properties\":{\"currency\":\"XAU\"}}\n";
    let run = eventmap(&["map", "--mapping", MAPPING, "--now", NOW], event);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let reports = run.stderr_json();
    assert_eq!(reports[0]["status"], "invalid");
    assert_eq!(reports[0]["id"], "o-1");
    assert_eq!(
        reports[0]["reasons"],
        json!(["source_url: is required when action_source is web"])
    );
    assert_eq!(run.summary()["invalid"], 1);
}

#[test]
fn test_runs_fixtures_diffs_failures_filters_and_blesses() {
    let dir = Scratch::new("fixtures");
    let root = dir.0.join("maps");
    std::fs::create_dir_all(root.join("shop/fixtures")).unwrap();
    std::fs::write(
        root.join("shop.yaml"),
        "events:\n  order:\n    match: { event: Order Completed }\n    keys:\n      id: { from: messageId }\n      amount: { expr: 'minor_units(t, c)', inputs: { t: total, c: currency } }\ndefault: { skip: not an order }\n",
    )
    .unwrap();
    let fixtures = root.join("shop/fixtures/orders.yaml");
    std::fs::write(
        &fixtures,
        concat!(
            "- name: good order\n  input: { event: Order Completed, messageId: a, total: 4.35, currency: USD }\n  expect: { id: a, amount: 435 }\n",
            "- name: wrong expectation\n  input: { event: Order Completed, messageId: b, total: 1, currency: JPY }\n  expect: { id: b, amount: 100 }  # hand-computed\n",
            "- name: skipped\n  input: { event: Refund }\n  expect_skip: not an order\n",
            "- name: new fixture without expectation\n  input: { event: Order Completed, messageId: c, total: 2, currency: KWD }\n",
        ),
    )
    .unwrap();
    let root_arg = root.display().to_string();

    let run = eventmap(&["test", &root_arg], "");
    assert_eq!(run.code, 1, "{}", run.stdout);
    // Named FILE:LINE, where the fixture starts.
    let place = format!("FAIL wrong expectation ({}:4)", fixtures.display());
    assert!(run.stdout.contains(&place), "{place} in {}", run.stdout);
    assert!(
        run.stdout.contains("    amount: expected 100, got 1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("FAIL new fixture without expectation"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.lines().last(),
        Some("2 passed, 2 failed"),
        "{}",
        run.stdout
    );

    // A mapping file runs its own fixtures (NAME/fixtures/ beside NAME.yaml).
    let shop = root.join("shop.yaml").display().to_string();
    let by_mapping = eventmap(&["test", &shop], "");
    assert_eq!(by_mapping.stdout.lines().last(), Some("2 passed, 2 failed"));
    let lonely = root.join("lonely.yaml");
    std::fs::write(&lonely, "default: { skip: nothing }\n").unwrap();
    let none = eventmap(&["test", &lonely.display().to_string()], "");
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("has no fixtures"), "{}", none.stderr);

    let filtered = eventmap(&["test", &root_arg, "--filter", "good"], "");
    assert_eq!(filtered.code, 0, "{}", filtered.stdout);
    assert_eq!(filtered.stdout.lines().last(), Some("1 passed, 0 failed"));

    let blessed = eventmap(&["test", &root_arg, "--bless"], "");
    assert!(
        blessed.stdout.contains("blessed 2 fixture(s)"),
        "{}",
        blessed.stdout
    );
    // What failed was rewritten: the run says so and succeeds.
    assert_eq!(blessed.code, 0, "{}", blessed.stdout);
    assert_eq!(
        blessed.stdout.lines().last(),
        Some("2 passed, 2 blessed, 0 failed")
    );
    let again = eventmap(&["test", &root_arg], "");
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(again.stdout.lines().last(), Some("4 passed, 0 failed"));
    // Only what changed in the two expectations; every other byte is as written (the
    // flow style and the comment of the one that was wrong included).
    let text = std::fs::read_to_string(&fixtures).unwrap();
    assert_eq!(
        text,
        concat!(
            "- name: good order\n  input: { event: Order Completed, messageId: a, total: 4.35, currency: USD }\n  expect: { id: a, amount: 435 }\n",
            "- name: wrong expectation\n  input: { event: Order Completed, messageId: b, total: 1, currency: JPY }\n  expect: { id: b, amount: 1 }  # hand-computed\n",
            "- name: skipped\n  input: { event: Refund }\n  expect_skip: not an order\n",
            "- name: new fixture without expectation\n  input: { event: Order Completed, messageId: c, total: 2, currency: KWD }\n  expect:\n    amount: 2000\n    id: c\n",
        ),
        "KWD 2 = 2000 fils was recorded"
    );
}

#[test]
fn test_runs_the_bundled_fixtures() {
    let run = eventmap(&["test", "mappings"], "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    let last = run.stdout.lines().last().unwrap_or_default().to_string();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
}

#[test]
fn explain_shows_where_each_key_came_from_and_why_keys_are_absent() {
    let event = std::fs::read_to_string(eventmap_tests::repo().join(EXAMPLES)).unwrap();
    let order = event.lines().nth(4).unwrap().to_string() + "\n";
    let run = eventmap(
        &[
            "map",
            "--mapping",
            MAPPING,
            "--now",
            NOW,
            "--explain",
            "--param",
            "send_user_data=false",
        ],
        &order,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = &run.stdout;
    assert!(
        text.contains("section `order_created` (matched by event name)"),
        "{text}"
    );
    assert!(text.contains("= id "), "{text}");
    assert!(
        text.contains("from messageId, then type string   [mappings/openai.yaml:"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("= data.amount") && l.trim_end().ends_with(" 4804")),
        "{text}"
    );
    assert!(
        text.contains("each of 2 element(s) of properties.products"),
        "{text}"
    );
    // With send_user_data off, the user keys are decided at compile time and not listed;
    // the consent key is absent for a stated reason.
    assert!(!text.contains("user.email_sha256"), "{text}");
    assert!(text.contains("- opt_out"), "{text}");
    assert!(
        text.contains("absent: the expression gave no value"),
        "{text}"
    );
    assert!(text.contains("outcome: mapped"), "{text}");
    assert_eq!(run.summary()["mapped"], 1);
}

#[test]
fn explain_takes_a_pretty_printed_document_and_names_where_each_event_starts() {
    let examples = std::fs::read_to_string(eventmap_tests::repo().join(EXAMPLES)).unwrap();
    let order: serde_json::Value = serde_json::from_str(examples.lines().nth(4).unwrap()).unwrap();
    // Pasted from a ticket: pretty-printed, then a broken one, then an NDJSON line.
    let input = format!(
        "{}\n{{\n  \"type\": \"track\",\n  \"event\": oops\n}}\n{}\n",
        serde_json::to_string_pretty(&order).unwrap(),
        examples.lines().nth(4).unwrap()
    );
    let pretty_lines = serde_json::to_string_pretty(&order)
        .unwrap()
        .lines()
        .count() as u64;
    let run = eventmap(
        &["map", "--mapping", MAPPING, "--now", NOW, "--explain"],
        &input,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = &run.stdout;
    assert!(text.contains("event at -:1\n"), "{text}");
    let broken = format!("event at -:{}: invalid JSON", pretty_lines + 1);
    assert!(text.contains(&broken), "{text}");
    assert!(
        text.contains(&format!("event at -:{}\n", pretty_lines + 5)),
        "{text}"
    );
    assert_eq!(text.matches("section `order_created`").count(), 2, "{text}");
    let summary = run.summary();
    assert_eq!(summary["read"], 3);
    assert_eq!(summary["malformed"], 1);
    assert_eq!(summary["mapped"], 2);
}

#[test]
fn a_mapping_relaxes_validator_rules_by_name_and_check_says_which() {
    let dir = Scratch::new("relax");
    let base = std::fs::read_to_string(eventmap_tests::repo().join(MAPPING)).unwrap();
    let relaxing = dir.path("refunds.yaml");
    std::fs::write(
        &relaxing,
        format!("{base}\nvalidate:\n  relax: [amount_non_negative]\n"),
    )
    .unwrap();
    let check = eventmap(&["check", &relaxing], "");
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stdout.contains("relaxes amount_non_negative"),
        "{}",
        check.stdout
    );

    // A refund: the price is negative. Strict by default, mapped once relaxed.
    let refund = json!({"type": "track", "event": "Order Completed", "messageId": "refund-1",
        "timestamp": "2026-11-21T11:00:00Z",
        "properties": {"order_id": "r-1", "currency": "USD",
            "products": [{"product_id": "p-1", "price": -12.5, "quantity": 1}]},
        "context": {"page": {"url": "https://shop.example/refunds"}}})
    .to_string()
        + "\n";
    let strict = eventmap(&["map", "--mapping", MAPPING, "--now", NOW], &refund);
    assert!(
        strict.stderr.contains("\"status\":\"invalid\""),
        "{}",
        strict.stderr
    );
    let relaxed = eventmap(&["map", "--mapping", &relaxing, "--now", NOW], &refund);
    let mapped = relaxed.stdout_json();
    assert_eq!(mapped.len(), 1, "{}", relaxed.stderr);
    assert_eq!(mapped[0]["data"]["amount"], -1250);

    // A rule the destination does not know is reported where it is named.
    let typo = dir.path("typo.yaml");
    std::fs::write(
        &typo,
        format!("{base}\nvalidate:\n  relax: [amount_positive]\n"),
    )
    .unwrap();
    let line = base.lines().count() + 3;
    let check = eventmap(&["check", &typo], "");
    assert_eq!(check.code, 1);
    let expected = format!("{typo}:{line}:");
    assert!(
        check.stderr.contains(&expected),
        "{expected} in {}",
        check.stderr
    );
    assert!(
        check.stderr.contains("`amount_positive` is not a rule"),
        "{}",
        check.stderr
    );
}

#[test]
fn partial_expectations_check_only_what_they_list_and_bless_keeps_them_partial() {
    let dir = Scratch::new("partial");
    let root = dir.0.join("maps");
    std::fs::create_dir_all(root.join("shop/fixtures")).unwrap();
    std::fs::write(
        root.join("shop.yaml"),
        "events:\n  order:\n    match: { event: Order Completed }\n    keys:\n      id: { from: messageId }\n      data.amount: { expr: 'minor_units(t, c)', inputs: { t: total, c: currency } }\n      data.currency: { from: currency }\n      items: { from: items }\n",
    )
    .unwrap();
    let fixtures = root.join("shop/fixtures/partial.yaml");
    std::fs::write(
        &fixtures,
        concat!(
            "- name: only the amount matters\n  input: { event: Order Completed, messageId: a, total: 4.35, currency: USD }\n  expect_partial: { data: { amount: 435 } }\n",
            "- name: single paths\n  input: { event: Order Completed, messageId: b, total: 1, currency: JPY, items: [{ sku: k1 }] }\n  expect_paths: { data.amount: 1, \"items[0].sku\": k1, user: null }\n",
            "- name: a wrong partial\n  input: { event: Order Completed, messageId: c, total: 2, currency: KWD }\n  expect_partial: { data: { amount: 2 } }\n",
            "- name: a wrong path\n  input: { event: Order Completed, messageId: d, total: 3, currency: USD }\n  expect_paths: { data.currency: EUR }\n",
        ),
    )
    .unwrap();
    let path = fixtures.display().to_string();
    let run = eventmap(&["test", &path], "");
    assert_eq!(
        run.stdout.lines().last(),
        Some("2 passed, 2 failed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("    data.amount: expected 2, got 2000"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("    data.currency: expected \"EUR\", got \"USD\""),
        "{}",
        run.stdout
    );
    // Unlisted keys (id, data.currency) are not differences.
    assert!(!run.stdout.contains("unexpected"), "{}", run.stdout);

    let blessed = eventmap(&["test", &path, "--bless"], "");
    assert!(
        blessed.stdout.contains("blessed 2 fixture(s)"),
        "{}",
        blessed.stdout
    );
    let again = eventmap(&["test", &path], "");
    assert_eq!(
        again.stdout.lines().last(),
        Some("4 passed, 0 failed"),
        "{}",
        again.stdout
    );
    let fixtures: serde_json::Value = {
        let text = std::fs::read_to_string(&fixtures).unwrap();
        serde_json::to_value(
            eventmap::fixtures::load(std::path::Path::new(&path))
                .unwrap_or_else(|e| panic!("{e}\n{text}")),
        )
        .unwrap()
    };
    assert_eq!(
        fixtures[2]["expect_partial"],
        json!({"data": {"amount": 2000}})
    );
    assert!(fixtures[2].get("expect").is_none(), "still partial");
    assert_eq!(fixtures[3]["expect_paths"], json!({"data.currency": "USD"}));
}

/// The shipped plug-in example: `transforms -m` lists its functions with their doc
/// comments, its fixtures pass, and a plug-in failing on one event names the plug-in's
/// line while `--explain` shows the `let` value the filter and key read.
#[test]
fn the_plugin_example_lists_tests_explains_and_locates_failures() {
    const EXAMPLE: &str = "mappings/examples/net-revenue.yaml";
    let listed = eventmap(&["transforms", "-m", EXAMPLE], "");
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        listed.stdout.contains(
            "net_minor_units(products, discount, currency)  [mappings/examples/plugins/orders.rhai:8:4]"
        ),
        "{}",
        listed.stdout
    );
    assert!(
        listed
            .stdout
            .contains("    The top level of a category path"),
        "{}",
        listed.stdout
    );

    let checked = eventmap(&["check", EXAMPLE], "");
    assert!(
        checked.stdout.contains("2 plug-in transform(s)"),
        "{}",
        checked.stdout
    );

    let tested = eventmap(&["test", EXAMPLE], "");
    assert_eq!(tested.code, 0, "{}{}", tested.stdout, tested.stderr);
    assert!(
        tested.stdout.contains("3 passed, 0 failed"),
        "{}",
        tested.stdout
    );

    let event = r#"{"type":"track","event":"Order Completed","messageId":"p-1","timestamp":"2026-11-21T11:30:00Z","context":{"page":{"url":"https://a.example/"}},"properties":{"currency":"USD","discount":1,"products":[{"sku":"a","price":10,"quantity":1,"category":42}]}}
{"type":"track","event":"Order Completed","messageId":"p-2","timestamp":"2026-11-21T11:30:00Z","context":{"page":{"url":"https://a.example/"}},"properties":{"currency":"USD","products":[{"sku":"a","price":10,"quantity":1,"category":"Toys/Blocks"}]}}
"#;
    let mapped = eventmap(&["map", "-m", EXAMPLE, "--now", NOW], event);
    let out = mapped.stdout_json();
    assert_eq!(out.len(), 1, "{}", mapped.stdout);
    assert_eq!(out[0]["id"], "p-2");
    assert_eq!(out[0]["data"]["contents"][0]["name"], "toys");
    let failed = mapped.stderr_json();
    let failure = failed
        .iter()
        .find(|l| l["status"] == "failed")
        .unwrap_or_else(|| panic!("no failure in {}", mapped.stderr));
    assert_eq!(failure["id"], "p-1");
    let message = failure["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("top_category: mappings/examples/plugins/orders.rhai:16:"),
        "{message}"
    );

    let explained = eventmap(&["map", "--explain", "-m", EXAMPLE, "--now", NOW], event);
    assert!(
        explained.stdout.contains("= let.net        900"),
        "{}",
        explained.stdout
    );
}

#[test]
fn pretty_printed_json_on_stdin_gets_a_hint() {
    let pretty = "{\n  \"type\": \"page\",\n  \"messageId\": \"m1\"\n}\n";
    let run = eventmap(&["map", "-m", "mappings/openai.yaml"], pretty);
    assert_eq!(run.summary()["malformed"], 4, "{}", run.stderr);
    let hints = run
        .stderr
        .matches("this looks like pretty-printed JSON")
        .count();
    assert_eq!(
        hints, 1,
        "one hint, on the line that opens the object: {}",
        run.stderr
    );
    assert!(run.stderr.contains("jq -c"), "{}", run.stderr);
    assert!(run.stderr.contains("--explain"), "{}", run.stderr);
}

#[test]
fn test_without_paths_outside_a_project_says_what_it_looked_for() {
    let dir = Scratch::new("test-no-mappings");
    let output = std::process::Command::new(eventmap_tests::binary())
        .arg("test")
        .current_dir(&dir.0)
        .output()
        .expect("eventmap runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no `mappings/` folder here"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).is_empty(),
        "no fixture counted"
    );
}

#[test]
fn a_yaml_indentation_mistake_says_its_likely_cause() {
    let dir = Scratch::new("yaml-indent");
    let misaligned = dir.write(
        "m.yaml",
        "version: 1\nname: x\ndefault:\n  keys:\n    id: { from: messageId }\n   bad: { from: x }\n",
    );
    let tabbed = dir.write(
        "t.yaml",
        "version: 1\nname: x\ndefault:\n  keys:\n\tid: { from: messageId }\n",
    );
    let run = eventmap(&["check", &misaligned], "");
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(":6:4: YAML syntax:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("indented differently"),
        "{}",
        run.stderr
    );
    let run = eventmap(&["check", &tabbed], "");
    assert!(
        run.stderr.contains("a tab; YAML indents with spaces only"),
        "{}",
        run.stderr
    );
}

#[test]
fn completions_and_the_manual_page_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let run = eventmap(&["completions", shell], "");
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(
            run.stdout.contains("serve") && run.stdout.contains("dead-letters"),
            "{shell}"
        );
    }
    let man = eventmap(&["man"], "");
    assert_eq!(man.code, 0, "{}", man.stderr);
    for page in [".TH eventmap ", ".TH eventmap-serve ", ".TH eventmap-send "] {
        assert!(man.stdout.contains(page), "no {page}");
    }
    assert!(
        man.stdout.contains("\\-\\-drain\\-timeout"),
        "serve's flags are in its page"
    );
}

#[test]
fn the_systemd_units_give_flags_the_binary_takes() {
    for (unit, command) in [
        ("deploy/systemd/eventmap-serve.service", "serve"),
        ("deploy/systemd/eventmap-consume@.service", "consume"),
    ] {
        let text = std::fs::read_to_string(eventmap_tests::repo().join(unit)).expect(unit);
        let exec = text
            .split("\nExecStart=")
            .nth(1)
            .expect("an ExecStart")
            .replace("\\\n", " ");
        let exec = exec.lines().next().unwrap_or_default();
        assert!(
            exec.contains(&format!("eventmap {command} ")),
            "{unit}: {exec}"
        );
        let help = eventmap(&[command, "--help"], "").stdout;
        let flags: Vec<&str> = exec
            .split_whitespace()
            .filter(|w| w.starts_with("--"))
            .collect();
        assert!(flags.len() >= 4, "{unit}");
        for flag in flags {
            assert!(
                help.contains(flag),
                "{unit}: `{flag}` is not a flag of `eventmap {command}`"
            );
        }
        for hardening in [
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "DynamicUser=yes",
        ] {
            assert!(text.contains(hardening), "{unit}: {hardening}");
        }
    }
}

#[test]
fn a_meta_mapping_is_checked_by_metas_rules() {
    let dir = Scratch::new("meta-mapping");
    let mapping = dir.write(
        "meta.yaml",
        "version: 1\ndestination: meta\nglobal:\n  event_time: { expr: 'to_ms(t) / 1000', inputs: { t: timestamp } }\n  event_id: { from: messageId }\n  action_source: { const: website }\n  event_source_url: { from: context.page.url }\n  user_data.client_user_agent: { from: context.userAgent }\n  user_data.client_ip_address: { from: context.ip }\nevents:\n  purchase:\n    match: { event: Order Completed }\n    keys:\n      event_name: { const: Purchase }\n      custom_data.value: { from: properties.total }\n      custom_data.currency: { from: properties.currency }\n",
    );
    let check = eventmap(&["check", &mapping], "");
    assert_eq!(check.code, 0, "{}", check.stderr);
    let good = "{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"m1\",\"timestamp\":\"2026-11-21T11:00:00Z\",\"context\":{\"page\":{\"url\":\"https://shop.example/\"},\"userAgent\":\"Mozilla/5.0\",\"ip\":\"203.0.113.9\"},\"properties\":{\"total\":59.97,\"currency\":\"USD\"}}\n";
    let run = eventmap(&["map", "-m", &mapping, "--now", NOW], good);
    assert_eq!(run.summary()["mapped"], 1, "{}", run.stderr);
    assert!(
        run.stdout.contains("\"event_time\":1795258800"),
        "{}",
        run.stdout
    );
    // No user agent on a website event: Meta's rule, by name.
    let bad = good.replace(",\"userAgent\":\"Mozilla/5.0\"", "");
    let run = eventmap(&["map", "-m", &mapping, "--now", NOW], &bad);
    let reports = run.stderr_json();
    assert_eq!(reports[0]["status"], "invalid", "{}", run.stderr);
    assert_eq!(reports[0]["rules"], json!(["user_agent_for_website"]));
}
