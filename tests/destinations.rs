//! Destinations as plug-ins, end to end: `send` and `connect` pick the destination from
//! the mapping (or `--destination`) with one registry lookup, and Meta's delivery meets
//! the same guarantees as OpenAI's against the mock's Meta wire: every event delivered
//! once or dead-lettered with its reason, a refused batch split until the bad event is
//! alone, test mode as `test_event_code`, a refused token stopping delivery, and no
//! secret in any output. (The SIGKILL, fault and SDK tests of `serve`, and the Kafka
//! consumer's, run for both destinations in their own files.)

use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_tests::delivery::{
    assert_accounted, dead_letters, good_orders, mock, n, send, KEY, META_MAPPING, PIXEL,
};
use eventmap_tests::{eventmap, eventmap_env, Scratch};

fn send_meta(
    mock: &MockCapi,
    dir: &Scratch,
    key: &str,
    extra: &[&str],
    lines: &str,
) -> eventmap_tests::Run {
    let input = dir.write("in.ndjson", lines);
    let mut args = vec!["--mapping", META_MAPPING];
    args.extend_from_slice(extra);
    send(mock, dir, key, &args, &[&input])
}

#[test]
fn meta_gets_every_event_once_and_the_one_it_refuses_is_dead_lettered_alone() {
    let mock = mock(|config| config.poison_unnamed = Box::new(|id| id == "meta-7"));
    let dir = Scratch::new("meta-send");
    let (lines, ids) = good_orders("meta", 30);
    let run = send_meta(&mock, &dir, KEY, &["--batch-size", "10"], &lines);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = assert_accounted(&run, &dir);
    assert_eq!(n(&summary["delivered"]), 29, "{summary}");
    let record = mock.record();
    for id in ids.iter().filter(|id| *id != "meta-7") {
        assert_eq!(record.delivered.get(id), Some(&1), "{id}");
        let event = &record.events[id];
        assert_eq!(event["event_name"], "Purchase");
        assert_eq!(event["custom_data"]["value"], serde_json::json!(10));
        // Seconds, not milliseconds.
        assert_eq!(event["event_time"], serde_json::json!(1_795_262_340));
    }
    assert!(!record.delivered.contains_key("meta-7"));
    let letters = dead_letters(&dir);
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["event"]["event_id"], "meta-7");
    assert_eq!(letters[0]["dead_letter"]["reason"], "rejected");
    // Meta's Graph error, with its code.
    assert!(
        letters[0]["dead_letter"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("code 100")),
        "{}",
        letters[0]
    );
    let everything = format!("{}{}{}", run.stdout, run.stderr, letters[0]);
    assert!(!everything.contains(KEY), "the access token leaked");
}

#[test]
fn meta_test_mode_sends_the_test_event_code_and_refuses_to_run_without_one() {
    let mock = mock(|_| {});
    let dir = Scratch::new("meta-test-mode");
    let (lines, ids) = good_orders("meta-test", 5);
    let without = send_meta(&mock, &dir, KEY, &["--validate-only"], &lines);
    assert_eq!(without.code, 4, "{}", without.stderr);
    assert!(
        without.stderr.contains("META_TEST_EVENT_CODE"),
        "{}",
        without.stderr
    );
    assert!(mock.record().requests.is_empty(), "nothing may be sent");
    let with = send_meta(
        &mock,
        &dir,
        KEY,
        &["--test-mode", "--setting", "test_event_code=TEST4242"],
        &lines,
    );
    assert_eq!(with.code, 0, "{}", with.stderr);
    let record = mock.record();
    assert!(record.delivered.is_empty(), "test events are not real ones");
    for id in &ids {
        assert_eq!(record.validated.get(id), Some(&1), "{id}");
    }
}

#[test]
fn a_refused_meta_token_stops_delivery_with_exit_4_and_is_never_shown() {
    let mock = mock(|_| {});
    let dir = Scratch::new("meta-token");
    let (lines, _) = good_orders("meta-token", 3);
    let run = send_meta(&mock, &dir, "EAAB-wrong-token-123", &[], &lines);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("META_ACCESS_TOKEN"), "{}", run.stderr);
    let letters = dead_letters(&dir);
    assert_eq!(letters.len(), 3);
    assert!(
        letters
            .iter()
            .all(|l| l["dead_letter"]["reason"] == "credentials_refused"),
        "{letters:?}"
    );
    let everything = format!(
        "{}{}{}",
        run.stdout,
        run.stderr,
        std::fs::read_to_string(dir.path("dead.ndjson")).unwrap()
    );
    assert!(!everything.contains("EAAB-wrong-token-123"));
}

#[test]
fn connect_checks_the_named_destination_in_its_test_mode() {
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).unwrap();
    let endpoint = mock.endpoint();
    let connect = |token: &str, code: &str| {
        eventmap_env(
            &["connect", "--destination", "meta", "--endpoint", &endpoint],
            "",
            &[
                ("META_ACCESS_TOKEN", token),
                ("META_PIXEL_ID", PIXEL),
                ("META_TEST_EVENT_CODE", code),
            ],
        )
    };
    let ok = connect(KEY, "TEST1");
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.starts_with("connected"), "{}", ok.stdout);
    let record = mock.record();
    assert!(record.delivered.is_empty() && record.validated.len() == 1);
    let bad = connect("EAAB-nope", "TEST1");
    assert_eq!(bad.code, 4, "{}", bad.stdout);
    assert!(bad.stdout.contains("code 190"), "{}", bad.stdout);
    assert!(!format!("{}{}", bad.stdout, bad.stderr).contains("EAAB-nope"));
    // Without a test event code the check would record a real event: it is refused.
    let no_code = connect(KEY, "");
    assert_eq!(no_code.code, 4);
    assert!(no_code.stderr.contains("META_TEST_EVENT_CODE"));
    let unknown = eventmap(&["connect", "--destination", "metta"], "");
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("unknown destination `metta`")
            && unknown.stderr.contains("did you mean `meta`"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn send_names_an_unknown_destination_at_its_line_and_column_with_the_known_ones() {
    let dir = Scratch::new("unknown-destination");
    let mapping = dir.write(
        "m.yaml",
        "version: 1\nname: x\ndestination: metta\ndefault:\n  keys:\n    a: { const: 1 }\n",
    );
    let run = eventmap(
        &[
            "send",
            "--mapping",
            &mapping,
            "--endpoint",
            "http://127.0.0.1:9",
        ],
        "",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("m.yaml:3:14: unknown destination `metta`")
            && run.stderr.contains("openai, meta"),
        "{}",
        run.stderr
    );
}

#[test]
fn settings_a_destination_does_not_have_are_refused_by_name() {
    let mock = mock(|_| {});
    let dir = Scratch::new("meta-foreign-setting");
    let (lines, _) = good_orders("meta-foreign", 1);
    let run = send_meta(
        &mock,
        &dir,
        KEY,
        &["--integration-source", "eventmap"],
        &lines,
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`meta` has no setting `--integration-source`"),
        "{}",
        run.stderr
    );
    let listing = eventmap(&["destinations", "meta"], "");
    assert_eq!(listing.code, 0);
    for name in [
        "META_ACCESS_TOKEN",
        "META_PIXEL_ID",
        "META_TEST_EVENT_CODE",
        "event_time_window",
    ] {
        assert!(listing.stdout.contains(name), "{}", listing.stdout);
    }
}
