//! Helpers for the end-to-end tests: run the built `eventmap` binary on files.

#[path = "browser_support.rs"]
pub mod browser;
#[path = "delivery_support.rs"]
pub mod delivery;
#[path = "kafka_support.rs"]
pub mod kafka;
#[path = "serve_support.rs"]
pub mod serve;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Collects a child's stderr, line by line, as it arrives (a thread reads it).
pub fn capture_lines(
    stderr: std::process::ChildStderr,
) -> std::sync::Arc<std::sync::Mutex<String>> {
    use std::io::BufRead;
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let mut log = sink
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            log.push_str(&line);
            log.push('\n');
        }
    });
    log
}

/// Sends SIGTERM (with the shell's `kill`, as an operator would) and waits for the exit;
/// its exit code, after a moment for the last log lines to be collected.
pub fn sigterm_and_wait(child: &mut std::process::Child) -> Option<i32> {
    let kill = format!("kill -TERM {}", child.id());
    let _ = Command::new("sh").args(["-c", &kill]).status();
    let status = child.wait().expect("the process exits");
    std::thread::sleep(std::time::Duration::from_millis(100));
    status.code()
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `eventmap` binary of this build (`target/<profile>/eventmap`, next to `deps/`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join(format!("eventmap{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (it builds the binary)",
        bin.display()
    );
    bin
}

/// The result of one run, with stdout and stderr split into lines.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn stdout_json(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"))
            })
            .collect()
    }
    pub fn stderr_json(&self) -> Vec<serde_json::Value> {
        self.stderr
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {l}"))
            })
            .collect()
    }
    /// The `summary` object of the last stderr line that has one.
    pub fn summary(&self) -> serde_json::Value {
        self.stderr
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|v| v.get("summary").cloned())
            .unwrap_or_else(|| panic!("no summary line on stderr:\n{}", self.stderr))
    }
}

/// Runs `eventmap ARGS` in the repository root with `stdin` as input.
pub fn eventmap(args: &[&str], stdin: &str) -> Run {
    eventmap_env(args, stdin, &[])
}

pub fn eventmap_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(binary())
        .args(args)
        .current_dir(repo())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("eventmap starts");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("eventmap runs");
    writer.join().expect("stdin writer");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A scratch directory for one test, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("eventmap-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
    /// The path of `name` inside the scratch directory (not created).
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write scratch file");
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
