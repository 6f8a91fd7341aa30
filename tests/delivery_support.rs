//! What the tests of `eventmap send` share: the mock API set to the example's clock,
//! `send` run against it, and the accounting every run must satisfy.

use eventmap_mock_capi::{MockCapi, MockConfig};
use eventmap_pipeline::delivery::Clock;
use serde_json::Value;

use crate::{eventmap_env, Run, Scratch};

pub const MAPPING: &str = "mappings/openai.yaml";
/// The same Segment events to Meta: tests of delivery run for both destinations.
pub const META_MAPPING: &str = "mappings/meta.yaml";
/// Every destination's mapping, for the tests that run once for each.
pub const MAPPINGS: [&str; 2] = [MAPPING, META_MAPPING];
pub const EXAMPLES: &str = "mappings/examples/segment-events.ndjson";
pub const NOW: &str = "2026-11-21T12:00:00Z";
pub const NOW_MS: i64 = 1_795_262_400_000;
pub const KEY: &str = "sk-conv-e2e-secret-7f3a";
pub const PIXEL: &str = "px_e2e";

/// Both destinations' credentials for the mock (which takes one key and one pixel id on
/// both wires): a test process gets them all and its mapping picks its destination.
pub const CREDENTIALS: [(&str, &str); 4] = [
    ("OPENAI_CAPI_KEY", KEY),
    ("OPENAI_PIXEL_ID", PIXEL),
    ("META_ACCESS_TOKEN", KEY),
    ("META_PIXEL_ID", PIXEL),
];

/// What the mock records as the type of a mapped order (`order_created`, `Purchase`).
pub fn purchase_type(mapping: &str) -> &'static str {
    if mapping == META_MAPPING {
        "Purchase"
    } else {
        "order_created"
    }
}

/// A mock whose clock reads NOW, like the client's with `--now NOW`.
pub fn mock(configure: impl FnOnce(&mut MockConfig)) -> MockCapi {
    let mut config = MockConfig::new(KEY, PIXEL);
    config.clock = Clock::starting_at(NOW_MS);
    configure(&mut config);
    MockCapi::start(config).expect("mock starts")
}

/// The arguments of `eventmap send` against `mock` with the dead letters in `dir` and
/// fast retries; a flag in `extra` replaces its default here.
pub fn send_args(mock: &MockCapi, dir: &Scratch, extra: &[&str]) -> Vec<String> {
    let defaults = [
        ("--endpoint", mock.endpoint()),
        ("--dead-letter", dir.path("dead.ndjson")),
        ("--retry-delay", "5ms".to_string()),
        ("--read-timeout", "300ms".to_string()),
        ("--linger", "20ms".to_string()),
    ];
    let mut args: Vec<String> = ["send", "--now", NOW]
        .iter()
        .map(|a| a.to_string())
        .collect();
    if !extra.contains(&"--mapping") {
        args.extend(["--mapping".to_string(), MAPPING.to_string()]);
    }
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.push(flag.to_string());
            args.push(value);
        }
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// `eventmap send` against `mock` with `key`, reading `inputs`.
pub fn send(mock: &MockCapi, dir: &Scratch, key: &str, extra: &[&str], inputs: &[&str]) -> Run {
    let mut args = send_args(mock, dir, extra);
    args.extend(inputs.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    eventmap_env(
        &args,
        "",
        &[
            ("OPENAI_CAPI_KEY", key),
            ("OPENAI_PIXEL_ID", PIXEL),
            ("META_ACCESS_TOKEN", key),
            ("META_PIXEL_ID", PIXEL),
        ],
    )
}

pub fn dead_letters(dir: &Scratch) -> Vec<Value> {
    std::fs::read_to_string(dir.path("dead.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("dead letters are JSON lines"))
        .collect()
}

pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// delivered + dead-lettered + skipped = read, and the file holds every dead letter.
pub fn assert_accounted(run: &Run, dir: &Scratch) -> Value {
    let s = run.summary();
    assert_eq!(
        n(&s["delivered"]) + n(&s["dead_lettered"]) + n(&s["skipped"]),
        n(&s["read"]),
        "{s}"
    );
    let by_reason: u64 = s["dead_lettered_by_reason"]
        .as_object()
        .unwrap()
        .values()
        .map(n)
        .sum();
    assert_eq!(by_reason, n(&s["dead_lettered"]));
    assert_eq!(dead_letters(dir).len() as u64, n(&s["dead_lettered"]));
    s
}

/// `count` events that map and deliver (orders a minute before NOW), one per line.
pub fn good_orders(prefix: &str, count: usize) -> (String, Vec<String>) {
    let mut lines = String::new();
    let mut ids = Vec::new();
    for i in 0..count {
        let id = format!("{prefix}-{i}");
        let event = serde_json::json!({"type": "track", "event": "Order Completed",
            "messageId": id, "timestamp": NOW_MS - 60_000,
            "properties": {"order_id": format!("o-{i}"), "currency": "USD",
                "products": [{"product_id": "p-1", "price": 10, "quantity": 1}]},
            "context": {"page": {"url": "https://shop.example/checkout"},
                "ip": "203.0.113.9", "userAgent": "Mozilla/5.0"}});
        lines.push_str(&event.to_string());
        lines.push('\n');
        ids.push(id);
    }
    (lines, ids)
}

/// `eventmap send` against `mock` as a child process with stdin piped, for tests that
/// signal it or feed it slowly.
pub fn spawn_send(mock: &MockCapi, dir: &Scratch, extra: &[&str]) -> std::process::Child {
    std::process::Command::new(crate::binary())
        .args(send_args(mock, dir, extra))
        .current_dir(crate::repo())
        .envs(CREDENTIALS)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("eventmap starts")
}

/// Sends `signal` (INT, TERM) with the shell's own `kill`, so no procps is needed.
pub fn signal(child: &std::process::Child, signal: &str) {
    let kill = format!("kill -{signal} {}", child.id());
    let status = std::process::Command::new("sh")
        .args(["-c", &kill])
        .status()
        .expect("sh runs");
    assert!(status.success(), "{kill} failed");
}

/// Waits for the child and splits its output like [`eventmap_env`] does.
pub fn finish(child: std::process::Child) -> Run {
    let output = child.wait_with_output().expect("eventmap runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
