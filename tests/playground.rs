//! `eventmap playground` end to end: the page in Debian's Chromium (driven by
//! playwright-core, tests/node/playground.mjs) on a copy of the OpenAI mapping and the
//! example events; what it saved checked on disk and by `eventmap test`; its guard
//! attacked with raw HTTP requests; and its page bundle checked against its sources.
//!
//! Needs `npm ci --prefix tests/node`, `npm ci --prefix crates/eventmap-cli/playground`
//! and the `chromium` package (`.ci/run` installs them).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use eventmap_tests::browser::node_dir;
use eventmap_tests::{binary, eventmap, repo, Scratch};
use serde_json::Value;

/// The example's clock: its events are inside the destination's time window.
const EXAMPLE_NOW: &str = "2026-11-21T12:00:00Z";

/// A running `eventmap playground`, killed when dropped.
struct Playground {
    child: Child,
    url: String,
    port: u16,
    token: String,
}

impl Playground {
    fn start(mapping: &str, events: &str) -> Self {
        let mut child = Command::new(binary())
            .args([
                "playground",
                "-m",
                mapping,
                "--events",
                events,
                "--now",
                EXAMPLE_NOW,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("eventmap playground starts");
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut first).expect("it prints its URL");
        // Read the rest, so the pipe stays open while it runs.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = first
            .trim()
            .strip_prefix("eventmap playground: open ")
            .unwrap_or_else(|| panic!("not the URL line: {first:?}"))
            .to_string();
        let (address, token) = url.split_once("/?token=").expect("a token in the URL");
        let port = address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        assert!(address.starts_with("http://127.0.0.1:"), "{url}");
        let token = token.to_string();
        Self {
            child,
            url,
            port,
            token,
        }
    }

    /// One raw HTTP/1.1 request (the headers given as they are); the status and the body.
    fn request(&self, head: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connects");
        let request = format!(
            "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("sent");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("answered");
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not HTTP: {answer}"));
        let body = answer
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        (status, body)
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch copy of the OpenAI mapping and the example events.
fn scratch_copy(name: &str) -> (Scratch, String, String) {
    let dir = Scratch::new(name);
    let mapping = std::fs::read_to_string(repo().join("mappings/openai.yaml")).expect("mapping");
    let events = std::fs::read_to_string(repo().join("mappings/examples/segment-events.ndjson"))
        .expect("events");
    let mapping = dir.write("openai.yaml", &mapping);
    let events = dir.write("events.ndjson", &events);
    (dir, mapping, events)
}

#[test]
fn a_typo_shows_where_it_is_as_it_is_typed_and_what_the_page_saves_eventmap_test_passes() {
    let node_dir = node_dir(&["playwright-core"]);
    let (dir, mapping, events) = scratch_copy("playground-page");
    let playground = Playground::start(&mapping, &events);
    // PLAYGROUND_SCREENSHOTS=$PWD/docs/playground refreshes the doc's pictures.
    let screenshots = std::env::var("PLAYGROUND_SCREENSHOTS").unwrap_or_default();
    let output = Command::new("node")
        .args(["playground.mjs", &playground.url, &screenshots])
        .current_dir(&node_dir)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the report");

    assert_eq!(
        report["outside"],
        serde_json::json!([]),
        "requests left the machine"
    );
    // The one error the page logs is the refused fixture of an unsaved mapping (409).
    for error in report["console"].as_array().expect("console") {
        assert!(
            error.as_str().is_some_and(|e| e.contains("409")),
            "{report}"
        );
    }

    // The misspelt transform: at its line and column, with its suggestion, in time.
    let typo = &report["typo"];
    let line = std::fs::read_to_string(repo().join("mappings/openai.yaml"))
        .expect("mapping")
        .lines()
        .position(|l| l.trim() == "transform: sha256_email")
        .expect("the mapping hashes the email")
        + 1;
    assert_eq!(typo["line"], line, "{typo}");
    assert_eq!(typo["column_shown"], typo["column"], "{typo}");
    assert_eq!(
        typo["text"],
        format!(
            "{line}:{} unknown transform `sha256_emial` (did you mean `sha256_email`?) [E0104]",
            typo["column"]
        ),
        "{typo}"
    );
    assert_eq!(typo["marked_in_editor"], 1, "{typo}");
    let shown_after = typo["shown_after_ms"].as_u64().expect("ms");
    assert!(
        shown_after <= 1000,
        "the diagnostic took {shown_after} ms: {typo}"
    );
    assert!(
        typo["outcomes"]
            .as_array()
            .expect("outcomes")
            .iter()
            .all(|o| o == "none"),
        "no outcome while the mapping does not compile: {typo}"
    );
    // Fixed: every outcome as before.
    assert_eq!(
        report["outcomes_after_fix"], report["outcomes_at_start"],
        "{report}"
    );

    // The explain trace lists every key of the mapped event's output; the invalid event's
    // rule and the failed event's keys are named.
    let keys: Vec<&str> = report["trace_keys"]
        .as_array()
        .expect("trace")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for key in ["id", "timestamp_ms", "type", "user.email_sha256", "oppref"] {
        assert!(keys.contains(&key), "{key} not in the trace: {keys:?}");
    }
    assert_eq!(report["mapped_output"]["type"], "page_viewed", "{report}");
    assert_eq!(
        report["invalid_rules"],
        serde_json::json!(["timestamp_window"])
    );
    assert_eq!(
        report["failed_keys"],
        serde_json::json!(["data.amount", "data.contents[0].amount"])
    );
    assert_eq!(report["pasted"], "mapped", "{report}");
    assert!(
        report["unsaved_fixture"]
            .as_str()
            .is_some_and(|s| s.contains("not saved")),
        "{report}"
    );

    // Saved: the mapping with the typed comment, and a fixture `eventmap test` passes.
    let saved = std::fs::read_to_string(&mapping).expect("saved mapping");
    assert!(
        saved.starts_with("# edited in the playground\n"),
        "{saved:.200}"
    );
    let fixtures = dir.0.join("openai/fixtures/playground.yaml");
    let written = std::fs::read_to_string(&fixtures).expect("the fixture file");
    assert!(written.contains("name: pasted order"), "{written}");
    assert!(!written.contains("refused while unsaved"), "{written}");
    assert!(
        written.contains("\n  expect:"),
        "a mapped fixture: {written}"
    );
    let run = eventmap(&["test", &fixtures.display().to_string()], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("1 passed, 0 failed"), "{said}");
    // And the saved mapping itself still checks.
    let check = eventmap(&["check", &mapping], "");
    assert_eq!(check.code, 0, "{}", check.stderr);
}

#[test]
fn requests_without_the_token_or_from_another_host_or_page_are_refused() {
    let (_dir, mapping, events) = scratch_copy("playground-guard");
    let playground = Playground::start(&mapping, &events);
    let before = std::fs::read_to_string(&mapping).expect("mapping");
    let port = playground.port;
    let token = &playground.token;
    let host = format!("Host: 127.0.0.1:{port}");
    let save = r##"{"mapping":"# overwritten"}"##;
    let post = |extra: &str, body: &str| {
        playground.request(
            &format!("POST /api/save-mapping HTTP/1.1\r\n{extra}Content-Type: application/json"),
            body,
        )
    };

    // The page: with its token only.
    let (status, page) = playground.request(&format!("GET /?token={token} HTTP/1.1\r\n{host}"), "");
    assert_eq!(status, 200);
    assert!(page.contains("eventmap playground"), "{page:.200}");
    let (status, _) = playground.request(&format!("GET / HTTP/1.1\r\n{host}"), "");
    assert_eq!(status, 403, "the page without its token");
    let (status, _) = playground.request(
        &format!("GET /?token={} HTTP/1.1\r\n{host}", "0".repeat(64)),
        "",
    );
    assert_eq!(status, 403, "a guessed token");

    // The API: the token in its header (a link or a form cannot set one), not the URL.
    let (status, _) = post(&format!("{host}\r\n"), save);
    assert_eq!(status, 403, "no token");
    let (status, _) = playground.request(
        &format!("POST /api/save-mapping?token={token} HTTP/1.1\r\n{host}\r\nContent-Type: application/json"),
        save,
    );
    assert_eq!(status, 403, "the token in the URL of an API call");
    // DNS rebinding: a name of the attacker's that resolves to 127.0.0.1.
    let (status, _) = post(
        &format!("Host: rebound.example:{port}\r\nX-Playground-Token: {token}\r\n"),
        save,
    );
    assert_eq!(status, 403, "a foreign Host");
    let (status, _) = post(&format!("X-Playground-Token: {token}\r\n"), save);
    assert_eq!(status, 403, "no Host");
    // Another page in the browser (it would need the token as well).
    let (status, _) = post(
        &format!("{host}\r\nOrigin: https://evil.example\r\nX-Playground-Token: {token}\r\n"),
        save,
    );
    assert_eq!(status, 403, "a foreign Origin");
    // No path can be given: the two files are fixed when it starts.
    let (status, body) = post(
        &format!("{host}\r\nX-Playground-Token: {token}\r\n"),
        r##"{"mapping":"# overwritten","path":"/tmp/elsewhere.yaml"}"##,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown field `path`"), "{body}");
    assert_eq!(
        std::fs::read_to_string(&mapping).expect("mapping"),
        before,
        "nothing written"
    );

    // The page's own request, for contrast, passes.
    let (status, body) = playground.request(
        &format!(
            "GET /api/state HTTP/1.1\r\n{host}\r\nOrigin: http://127.0.0.1:{port}\r\nX-Playground-Token: {token}"
        ),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let state: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(state["now"], EXAMPLE_NOW);
    assert_eq!(state["events"].as_array().map(Vec::len), Some(10));

    // Another editor changed the file since the page read it: a save is refused, and the
    // other editor's text stays; read again, the page may save.
    std::fs::write(&mapping, format!("# changed elsewhere\n{before}")).expect("edited");
    let own = format!("{host}\r\nX-Playground-Token: {token}\r\n");
    let (status, body) = post(&own, save);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("changed on disk"), "{body}");
    let kept = std::fs::read_to_string(&mapping).expect("mapping");
    assert!(kept.starts_with("# changed elsewhere"), "{kept:.80}");
    let (status, _) = playground.request(
        &format!("GET /api/state HTTP/1.1\r\n{host}\r\nX-Playground-Token: {token}"),
        "",
    );
    assert_eq!(status, 200);
    let (status, body) = post(&own, save);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        std::fs::read_to_string(&mapping).expect("mapping"),
        "# overwritten"
    );
}

#[test]
fn the_page_bundle_is_what_its_sources_and_lock_file_build() {
    let dir = repo().join("crates/eventmap-cli/playground");
    assert!(
        dir.join("node_modules/esbuild").exists(),
        "the playground's build tools are not installed: run `npm ci --prefix crates/eventmap-cli/playground`"
    );
    let output = Command::new("node")
        .args(["build.mjs", "--check"])
        .current_dir(&dir)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
