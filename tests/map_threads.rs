//! `map --threads N`: the output is in input order and the same, byte for byte, whatever
//! N, on a large corpus with every kind of line (mapped, skipped, failed, invalid,
//! malformed JSON, not an object, not UTF-8, too long, blank) over several inputs.

use eventmap_tests::delivery::{good_orders, MAPPING, NOW};
use eventmap_tests::Scratch;
use serde_json::{json, Value};

/// A mixed corpus of `n` lines, as bytes (some lines are not UTF-8).
fn corpus(n: usize) -> Vec<u8> {
    let (orders, _) = good_orders("par", n);
    let mut out = Vec::new();
    for (i, order) in orders.lines().enumerate() {
        let line: Vec<u8> = match i % 50 {
            3 => b"{\"type\": \"track\", \"event\": ".to_vec(),
            7 => b"[1, 2, 3]".to_vec(),
            11 => json!({"type": "identify", "messageId": format!("id-{i}")})
                .to_string()
                .into_bytes(),
            13 => order
                .replace("\"price\":10", "\"price\":\"ten\"")
                .into_bytes(),
            17 => order.replace("1795262340000", "1790000000000").into_bytes(),
            19 => [
                &order.as_bytes()[..20],
                b"\xff\xfe",
                &order.as_bytes()[20..],
            ]
            .concat(),
            23 => format!("{{\"pad\": \"{}\"}}", "x".repeat(3000)).into_bytes(),
            29 => Vec::new(),
            _ => order.as_bytes().to_vec(),
        };
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    out
}

struct Output {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

fn map(threads: &str, inputs: &[String]) -> Output {
    let output = std::process::Command::new(eventmap_tests::binary())
        .args([
            "map",
            "--mapping",
            MAPPING,
            "--now",
            NOW,
            "--max-line-bytes",
            "2000",
            "--threads",
            threads,
        ])
        .args(inputs)
        .current_dir(eventmap_tests::repo())
        .output()
        .expect("eventmap runs");
    Output {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// stderr without the summary's timing.
fn reports(stderr: &str) -> (Vec<&str>, Value) {
    let mut lines: Vec<&str> = stderr.lines().collect();
    let summary: Value = serde_json::from_str(lines.pop().unwrap_or_default()).expect("summary");
    let mut summary = summary["summary"].clone();
    summary.as_object_mut().unwrap().remove("seconds");
    (lines, summary)
}

#[test]
fn any_number_of_threads_gives_the_same_bytes_in_input_order() {
    let dir = Scratch::new("map-threads");
    let first = dir.0.join("a.ndjson");
    let second = dir.0.join("b.ndjson");
    std::fs::write(&first, corpus(30_000)).unwrap();
    std::fs::write(&second, corpus(7_000)).unwrap();
    let inputs = [first.display().to_string(), second.display().to_string()];
    let one = map("1", &inputs);
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    let (one_reports, one_summary) = reports(&one.stderr);
    assert_eq!(one_summary["read"], 37_000 - 37_000 / 50, "{one_summary}");
    for kind in ["mapped", "skipped", "failed", "invalid", "malformed"] {
        assert!(
            one_summary[kind].as_u64().unwrap_or(0) > 0,
            "no {kind} lines: {one_summary}"
        );
    }
    for threads in ["2", "3", "8"] {
        let many = map(threads, &inputs);
        assert_eq!(many.code, Some(0));
        assert!(
            many.stdout == one.stdout,
            "stdout differs with {threads} threads"
        );
        let (many_reports, many_summary) = reports(&many.stderr);
        assert_eq!(
            many_reports, one_reports,
            "stderr differs with {threads} threads"
        );
        assert_eq!(many_summary, one_summary);
    }
    // In input order: report lines name their lines in ascending order per input.
    let lines: Vec<u64> = one_reports
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["input"] == inputs[0].as_str())
        .filter_map(|l| l["line"].as_u64())
        .collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn an_unreadable_input_stops_every_thread_with_the_summary() {
    let dir = Scratch::new("map-threads-missing");
    let (orders, _) = good_orders("missing", 5_000);
    let first = dir.write("a.ndjson", &orders);
    let missing = dir.path("missing.ndjson");
    let run = map("2", &[first, missing.clone()]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("cannot open input"), "{}", run.stderr);
    let summary: Value = run
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| v.get("summary").cloned())
        .expect("a summary");
    assert_eq!(summary["mapped"], 5_000, "{summary}");
    assert_eq!(summary["stopped_at"], json!({"input": missing, "line": 1}));
}

#[test]
fn events_from_a_pipe_come_out_as_they_arrive_not_at_its_end() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let (orders, ids) = good_orders("pipe", 3);
    for threads in ["1", "2"] {
        let mut child = Command::new(eventmap_tests::binary())
            .current_dir(eventmap_tests::repo())
            .args([
                "map",
                "-m",
                MAPPING,
                "--now",
                NOW,
                "--threads",
                threads,
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("eventmap starts");
        let mut stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Three events written, the pipe left open: all three must come out now.
        stdin.write_all(orders.as_bytes()).expect("write events");
        stdin.flush().expect("flush");
        for id in &ids {
            let line = lines_rx
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("--threads {threads}: {id} held back"));
            assert!(line.contains(id.as_str()), "--threads {threads}: {line}");
        }
        drop(stdin);
        assert!(child.wait().expect("exit").success());
        reader.join().expect("reader");
    }
}

#[test]
fn many_small_inputs_and_empty_ones_go_through_every_thread_count() {
    // Each chunk holds one input's lines, and its buffers come back for the next: inputs
    // shorter than a chunk, and empty ones, must neither lose a credit nor stall.
    let dir = Scratch::new("map-threads-many");
    let mut inputs = Vec::new();
    for i in 0..40 {
        let text = if i % 7 == 3 {
            String::new()
        } else {
            String::from_utf8(corpus(1 + i % 5)).expect("these lines are UTF-8")
        };
        inputs.push(dir.write(&format!("in-{i}.ndjson"), &text));
    }
    let one = map("1", &inputs);
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    for threads in ["2", "3"] {
        let many = map(threads, &inputs);
        assert_eq!(many.code, Some(0), "--threads {threads}: {}", many.stderr);
        assert_eq!(many.stdout, one.stdout, "--threads {threads}");
        assert_eq!(reports(&many.stderr), reports(&one.stderr));
    }
}
