//! A line far over `--max-line-bytes` is skipped as it streams past: peak memory stays
//! where a normal run has it. Alone in its test binary, so that the peak resident size
//! of this process's children (getrusage) is that of these runs only.

#![cfg(unix)]

use std::io::Write;
use std::process::{Command, Stdio};

use eventmap_tests::delivery::{good_orders, MAPPING, NOW};

/// The largest peak resident size of any child waited for so far, in KiB (Linux).
fn children_peak_kib() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    usage.ru_maxrss
}

/// Runs `map` on `lines` and then on a line of `long_bytes`; returns the summary.
fn map_streaming(head: &str, long_bytes: usize, tail: &str) -> serde_json::Value {
    let mut child = Command::new(eventmap_tests::binary())
        .args(["map", "--mapping", MAPPING, "--now", NOW])
        .current_dir(eventmap_tests::repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (head, tail) = (head.to_string(), tail.to_string());
    let writer = std::thread::spawn(move || {
        stdin.write_all(head.as_bytes()).unwrap();
        if long_bytes > 0 {
            let chunk = vec![b'x'; 1 << 20];
            stdin.write_all(b"{\"pad\": \"").unwrap();
            for _ in 0..long_bytes / chunk.len() {
                stdin.write_all(&chunk).unwrap();
            }
            stdin.write_all(b"\"}\n").unwrap();
        }
        stdin.write_all(tail.as_bytes()).unwrap();
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("summary").cloned());
    summary.unwrap_or_else(|| panic!("no summary: {stderr}"))
}

#[test]
fn a_line_of_256_mib_costs_no_more_memory_than_a_normal_run() {
    let (events, _) = good_orders("cap", 2000);
    let middle = events
        .match_indices('\n')
        .nth(999)
        .map_or(0, |(i, _)| i + 1);
    let (head, tail) = events.split_at(middle);
    let normal = map_streaming(&events, 0, "");
    assert_eq!(normal["mapped"], 2000);
    let normal_peak = children_peak_kib();

    let long = map_streaming(head, 256 << 20, tail);
    assert_eq!(long["mapped"], 2000, "{long}");
    assert_eq!(long["malformed"], 1, "{long}");
    let peak = children_peak_kib();
    assert!(
        peak < normal_peak + 16 * 1024,
        "peak RSS {peak} KiB with a 256 MiB line, {normal_peak} KiB without"
    );
}
