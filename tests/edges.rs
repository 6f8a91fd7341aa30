//! Every event accounted for at the edges: lines that are not events, lines that are not
//! text, lines too long to hold, stops of every kind (Ctrl-C, SIGTERM, refused
//! credentials, an unreadable input, a dead-letter file that cannot be written) and a
//! closed stdout. Each run's summary must cover every input line.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use eventmap_mock_capi::{Fault, FaultPlan};
use eventmap_tests::delivery::*;
use eventmap_tests::{eventmap, Run, Scratch};
use serde_json::{json, Value};

fn malformed_lines(run: &Run) -> Vec<Value> {
    run.stderr_json()
        .into_iter()
        .filter(|l| l["status"] == "malformed")
        .collect()
}

/// mapped + skipped + failed + invalid + malformed = read, for `map`.
fn assert_map_accounted(s: &Value) {
    let parts = ["mapped", "skipped", "failed", "invalid", "malformed"];
    let sum: u64 = parts.iter().map(|k| n(&s[k])).sum();
    assert_eq!(sum, n(&s["read"]), "{s}");
}

#[test]
fn json_that_is_not_an_object_is_malformed_with_its_line_and_reason() {
    let order = good_orders("obj", 1).0;
    let input = format!("[1, 2]\n\"text\"\n{order}42\nnull\n");
    let run = eventmap(&["map", "--mapping", MAPPING, "--now", NOW], &input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bad = malformed_lines(&run);
    let lines: Vec<u64> = bad.iter().map(|l| n(&l["line"])).collect();
    assert_eq!(lines, [1, 2, 4, 5]);
    for (line, kind) in bad.iter().zip(["a list", "a string", "a number", "null"]) {
        let error = line["error"].as_str().unwrap();
        assert!(
            error.contains("not an event") && error.contains(kind),
            "{error}"
        );
        assert_eq!(line["input"], "-");
    }
    let s = run.summary();
    assert_eq!((n(&s["malformed"]), n(&s["mapped"])), (4, 1), "{s}");
    assert_eq!(n(&s["skipped"]), 0, "not-objects are not skipped events");
    assert_map_accounted(&s);
}

/// A valid event whose email holds the bytes 0xFF 0xFE: not UTF-8, so not text.
fn not_utf8_line() -> Vec<u8> {
    let (order, _) = good_orders("utf8", 1);
    let order = order.trim_end().replace(
        "\"ip\"",
        "\"traits\":{\"email\":\"BAD_BYTES@example.com\"},\"ip\"",
    );
    let (before, after) = order.split_once("BAD_BYTES").unwrap();
    [before.as_bytes(), b"\xff\xfe", after.as_bytes()].concat()
}

#[test]
fn invalid_utf8_is_malformed_at_its_byte_offset_and_never_repaired() {
    let bad = not_utf8_line();
    let offset = bad.iter().position(|&b| b == 0xff).unwrap();
    let (good, _) = good_orders("utf8-ok", 1);
    let mut input = bad.clone();
    input.push(b'\n');
    input.extend_from_slice(good.as_bytes());
    let dir = Scratch::new("edges-utf8");
    let path = dir.0.join("events.ndjson");
    std::fs::write(&path, &input).unwrap();
    let path = path.display().to_string();

    let run = eventmap(&["map", "--mapping", MAPPING, "--now", NOW, &path], "");
    let bad_lines = malformed_lines(&run);
    assert_eq!(bad_lines.len(), 1, "{}", run.stderr);
    let error = bad_lines[0]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("invalid UTF-8 at byte {offset}")),
        "{error}"
    );
    assert_eq!(n(&bad_lines[0]["line"]), 1);
    assert_eq!(run.stdout_json().len(), 1, "the next line maps");
    assert!(!run.stdout.contains('\u{FFFD}') && !run.stderr.contains('\u{FFFD}'));
    assert_map_accounted(&run.summary());

    // `send` dead-letters the line byte for byte, and replaying it finds it malformed
    // again instead of sending a repaired copy.
    let mock = mock(|_| {});
    let run = send(&mock, &dir, KEY, &[], &[&path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = assert_accounted(&run, &dir);
    assert_eq!(s["dead_lettered_by_reason"], json!({"malformed": 1}));
    let letter = &dead_letters(&dir)[0];
    let hex: String = bad.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(letter["line_hex"], hex.as_str());
    let replay_dir = Scratch::new("edges-utf8-replay");
    let letters = dir.path("dead.ndjson");
    let replay = send(&mock, &replay_dir, KEY, &[], &[&letters]);
    assert_eq!(
        replay.summary()["dead_lettered_by_reason"],
        json!({"malformed": 1})
    );
    let record = mock.record();
    assert_eq!(
        record.delivered.len(),
        1,
        "only the good event was ever sent"
    );
}

#[test]
fn a_line_over_the_cap_is_malformed_and_the_run_goes_on() {
    let (good, _) = good_orders("cap", 2);
    let mut lines = good.lines();
    let long = format!("{{\"pad\": \"{}\"}}", "x".repeat(5000));
    let input = format!(
        "{}\n{long}\n{}\n",
        lines.next().unwrap(),
        lines.next().unwrap()
    );
    let cap = ["--max-line-bytes", "2000"];
    let run = eventmap(
        &[&["map", "--mapping", MAPPING, "--now", NOW][..], &cap].concat(),
        &input,
    );
    let bad = malformed_lines(&run);
    assert_eq!(bad.len(), 1, "{}", run.stderr);
    assert_eq!(n(&bad[0]["line"]), 2);
    let message = format!("line too long: {} bytes, limit 2000", long.len());
    assert!(
        bad[0]["error"].as_str().unwrap().contains(&message),
        "{}",
        bad[0]
    );
    assert_eq!(run.stdout_json().len(), 2);
    assert_map_accounted(&run.summary());

    let help = eventmap(&["map", "--help"], "");
    assert!(help.stdout.contains("--max-line-bytes") && help.stdout.contains("1048576"));

    let dir = Scratch::new("edges-cap");
    let path = dir.write("events.ndjson", &input);
    let mock = mock(|_| {});
    let run = send(&mock, &dir, KEY, &cap, &[&path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = assert_accounted(&run, &dir);
    assert_eq!(n(&s["delivered"]), 2);
    let letter = &dead_letters(&dir)[0];
    assert_eq!(letter["not_kept"], json!({"input": path, "line": 2}));
}

#[test]
fn map_prints_its_summary_when_an_input_cannot_be_read() {
    let dir = Scratch::new("edges-map-missing");
    let (good, _) = good_orders("missing", 3);
    let first = dir.write("first.ndjson", &good);
    let missing = dir.path("missing.ndjson");
    let run = eventmap(
        &["map", "--mapping", MAPPING, "--now", NOW, &first, &missing],
        "",
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot open input"), "{}", run.stderr);
    let s = run.summary();
    assert_eq!(n(&s["mapped"]), 3);
    assert_eq!(s["stopped_at"], json!({"input": missing, "line": 1}));
}

#[test]
fn map_into_a_closed_pipe_exits_quietly() {
    let (many, _) = good_orders("pipe", 20_000);
    let mut child = std::process::Command::new(eventmap_tests::binary())
        .args(["map", "--mapping", MAPPING, "--now", NOW])
        .current_dir(eventmap_tests::repo())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(many.as_bytes());
    });
    // Like `head -c 1000`: read a little, then close the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1000];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    let _ = writer.join();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
    assert!(stderr.contains("\"summary\""), "{stderr}");
}

/// A mock that holds every request for a minute: deliveries stay in flight.
fn stalled_mock() -> eventmap_mock_capi::MockCapi {
    mock(|config| {
        config.faults = FaultPlan::Random {
            seed: 1,
            weights: vec![(
                Fault::Slow {
                    delay: Duration::from_secs(60),
                    recorded: false,
                },
                1000,
            )],
        };
    })
}

fn wait_for_requests(mock: &eventmap_mock_capi::MockCapi, count: usize) {
    let waited = Instant::now();
    while mock.record().requests.len() < count {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "no request arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn sigterm_drains_until_the_deadline_then_dead_letters_the_rest_as_interrupted() {
    let mock = stalled_mock();
    let dir = Scratch::new("edges-term");
    let mut child = spawn_send(
        &mock,
        &dir,
        &["--drain-timeout", "1s", "--read-timeout", "120s"],
    );
    let (events, _) = good_orders("term", 25);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(events.as_bytes()).unwrap();
    stdin.flush().unwrap();
    wait_for_requests(&mock, 1);
    let signalled = Instant::now();
    signal(&child, "TERM");
    let run = finish(child);
    drop(stdin);
    let took = signalled.elapsed();
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(took < Duration::from_secs(15), "the drain took {took:?}");
    assert!(
        run.stderr.contains("drain deadline passed"),
        "{}",
        run.stderr
    );
    // Until the destination first answers, `send` reads one batch (10) and waits.
    let s = assert_accounted(&run, &dir);
    assert_eq!(n(&s["read"]), 10);
    assert_eq!(s["dead_lettered_by_reason"], json!({"interrupted": 10}));
    assert_eq!(s["stopped"], "interrupted");
    assert_eq!(s["resume_from"], json!({"input": "-", "line": 11}));
}

#[cfg(unix)]
#[test]
fn a_second_ctrl_c_ends_the_drain_at_once_and_still_accounts_for_everything() {
    let mock = stalled_mock();
    let dir = Scratch::new("edges-int2");
    let mut child = spawn_send(
        &mock,
        &dir,
        &["--drain-timeout", "1h", "--read-timeout", "120s"],
    );
    let (events, _) = good_orders("int2", 12);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(events.as_bytes()).unwrap();
    stdin.flush().unwrap();
    wait_for_requests(&mock, 1);
    signal(&child, "INT");
    std::thread::sleep(Duration::from_millis(300));
    let second = Instant::now();
    signal(&child, "INT");
    let run = finish(child);
    drop(stdin);
    assert!(second.elapsed() < Duration::from_secs(10));
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(
        run.stderr.contains("SIGINT during the drain"),
        "{}",
        run.stderr
    );
    let s = assert_accounted(&run, &dir);
    assert_eq!(n(&s["read"]), 10, "one batch, held until the first answer");
    assert_eq!(n(&s["dead_lettered_by_reason"]["interrupted"]), 10);
    let letters = dead_letters(&dir);
    assert!(letters.iter().any(|l| l["dead_letter"]["message"]
        .as_str()
        .unwrap()
        .contains("in flight")));
}

#[test]
fn refused_credentials_stop_reading_and_the_run_resumes_where_it_stopped() {
    let mock = mock(|_| {});
    let dir = Scratch::new("edges-auth");
    let (events, ids) = good_orders("auth", 3000);
    let path = dir.write("events.ndjson", &events);
    let run = send(&mock, &dir, "sk-conv-wrong-key", &[], &[&path]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let s = assert_accounted(&run, &dir);
    let read = n(&s["read"]);
    assert!(read <= 20, "reading went on after the refusal: {read} read");
    assert_eq!(
        n(&s["dead_lettered_by_reason"]["credentials_refused"]),
        read
    );
    assert_eq!(s["stopped"], "delivery_stopped");
    assert_eq!(s["resume_from"], json!({"input": path, "line": read + 1}));
    assert!(run
        .stderr
        .contains(&format!("--resume-from '{path}:{}'", read + 1)));
    assert!(!run.stderr.contains("sk-conv-wrong-key"));

    // With the key fixed: replay the dead letters, then resume the input.
    let letters = dir.path("dead.ndjson");
    let again = Scratch::new("edges-auth-again");
    let replay = send(&mock, &again, KEY, &[], &[&letters]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert_eq!(n(&replay.summary()["delivered"]), read);
    let resume = format!("{path}:{}", read + 1);
    let rest = send(&mock, &again, KEY, &["--resume-from", &resume], &[&path]);
    assert_eq!(rest.code, 0, "{}", rest.stderr);
    assert_eq!(n(&rest.summary()["read"]), 3000 - read);
    let record = mock.record();
    for id in &ids {
        assert_eq!(record.delivered.get(id), Some(&1), "{id}");
    }
}

#[test]
fn an_unreadable_input_still_ends_with_the_summary_and_where_to_resume() {
    let mock = mock(|_| {});
    let dir = Scratch::new("edges-unreadable");
    let (events, _) = good_orders("unreadable", 5);
    let first = dir.write("first.ndjson", &events);
    let missing = dir.path("missing.ndjson");
    let run = send(&mock, &dir, KEY, &[], &[&first, &missing]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("cannot open input"), "{}", run.stderr);
    let s = assert_accounted(&run, &dir);
    assert_eq!(n(&s["delivered"]), 5, "what was read is still delivered");
    assert_eq!(s["stopped"], "input_unreadable");
    assert_eq!(s["resume_from"], json!({"input": missing, "line": 1}));
}

#[cfg(target_os = "linux")]
#[test]
fn a_dead_letter_file_that_cannot_be_written_is_fatal_and_never_claimed() {
    let mock = mock(|_| {});
    let dir = Scratch::new("edges-full");
    let (events, _) = good_orders("full", 50);
    let input = format!("not json\n{events}");
    let path = dir.write("events.ndjson", &input);
    let run = send(&mock, &dir, KEY, &["--dead-letter", "/dev/full"], &[&path]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot write dead letters to /dev/full: No space left on device"),
        "{}",
        run.stderr
    );
    let s = run.summary();
    assert_eq!(s["dead_letter_file"], Value::Null, "{s}");
    assert_eq!(n(&s["dead_letters_not_written"]), 1);
    assert_eq!(s["stopped"], "dead_letter_write_failed");
    assert_eq!(s["resume_from"], json!({"input": path, "line": 2}));
    assert_eq!(
        mock.record().delivered.len(),
        0,
        "nothing after the failure was read"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn map_onto_a_full_disk_fails_plainly_and_still_prints_its_summary() {
    let (events, _) = good_orders("full-out", 20_000);
    let dir = Scratch::new("edges-map-full");
    let input = dir.write("events.ndjson", &events);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = std::process::Command::new(eventmap_tests::binary())
        .args(["map", "--mapping", MAPPING, "--now", NOW, &input])
        .current_dir(eventmap_tests::repo())
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write output"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("\"summary\""), "{stderr}");
}
