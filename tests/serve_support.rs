//! What the tests of `eventmap serve` share: a real server process on a free port of
//! 127.0.0.1, raw HTTP/1.1 requests to it, and events stamped with the present time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::delivery::{CREDENTIALS, MAPPING};

/// The write key the test servers accept.
pub const WRITE_KEY: &str = "wk-test-4c1d";

/// A port nothing listens on (yet): bound, read, released.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A running `eventmap serve`; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `eventmap serve` on a free port with `spool`, delivering to `endpoint`,
    /// and waits until it answers `/healthz`.
    pub fn start(spool: &Path, endpoint: &str, extra: &[&str]) -> Self {
        Self::start_with(MAPPING, spool, endpoint, extra)
    }

    pub fn start_with(mapping: &str, spool: &Path, endpoint: &str, extra: &[&str]) -> Self {
        let spool = spool.display().to_string();
        let mut args = vec![
            "--mapping",
            mapping,
            "--spool",
            &spool,
            "--endpoint",
            endpoint,
            "--linger",
            "20ms",
            "--retry-delay",
            "20ms",
            "--max-retry-delay",
            "200ms",
            "--max-attempts",
            "1000",
            "--max-retry-time",
            "1h",
            "--connect-timeout",
            "500ms",
        ];
        args.extend_from_slice(extra);
        Self::spawn(&args)
    }

    /// `eventmap serve ARGS` on a free port with the test write key, once it answers
    /// `/healthz`.
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_in(Command::new(crate::binary()), args)
    }

    /// [`Server::spawn`] with at most `fds` file descriptors (`ulimit -n`, soft and hard).
    pub fn spawn_with_fd_limit(fds: u32, args: &[&str]) -> Self {
        let mut shell = Command::new("sh");
        // `exec` keeps the pid: the child is the server itself.
        shell.args(["-c", &format!("ulimit -n {fds} && exec \"$0\" \"$@\"")]);
        shell.arg(crate::binary());
        Self::spawn_in(shell, args)
    }

    /// `eventmap serve --config FILE ARGS` on a free port, once it answers `/healthz`;
    /// the file's sources read their keys from the variables in `env`.
    pub fn with_config(config: &Path, env: &[(&str, &str)], args: &[&str]) -> Self {
        let config = config.display().to_string();
        let mut command = Command::new(crate::binary());
        command.envs(env.iter().copied());
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        Self::spawn_keyed(command, None, &all)
    }

    fn spawn_in(command: Command, args: &[&str]) -> Self {
        Self::spawn_keyed(command, Some(WRITE_KEY), args)
    }

    fn spawn_keyed(mut command: Command, key: Option<&str>, args: &[&str]) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        command.args(["serve", "--listen", &addr]);
        if let Some(key) = key {
            command.args(["--write-key", key]);
        }
        let mut child = command
            .args(args)
            .current_dir(crate::repo())
            .envs(CREDENTIALS)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("eventmap serve starts");
        let log = crate::capture_lines(child.stderr.take().expect("stderr"));
        let server = Self { child, addr, log };
        let started = Instant::now();
        loop {
            if let Ok(answer) = server.try_request("GET", "/healthz", &[], b"") {
                if answer.status == 200 {
                    return server;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "serve did not come up: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log has a line containing `text`.
    pub fn wait_for_log(&self, text: &str) {
        wait_until(&format!("log line {text}"), || self.log().contains(text));
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Answer> {
        let mut stream = TcpStream::connect(&self.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        Answer::read(stream)
    }

    /// POSTs `body` (JSON) to `path` with the write key as the Basic user.
    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.post_as(WRITE_KEY, path, body)
    }

    /// [`Server::post`] with another write key.
    pub fn post_as(&self, key: &str, path: &str, body: &Value) -> Answer {
        let auth = basic(key);
        self.request(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    }

    /// The value of one unlabelled metric (0 when absent).
    pub fn metric(&self, name: &str) -> f64 {
        let page = self.request("GET", "/metrics", &[], b"").body;
        page.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// CPU time (user + system) the server has used so far, from `/proc`.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("/proc/PID/stat");
        // Fields after the command name (which may hold spaces): utime is the 12th and
        // stime the 13th, in clock ticks (100 a second on Linux).
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<u64> = after_name
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        Duration::from_millis((fields[11] + fields[12]) * 10)
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM with the shell's own `kill`; returns the exit code and the log.
    pub fn terminate(mut self) -> (Option<i32>, String) {
        let code = crate::sigterm_and_wait(&mut self.child);
        (code, self.log())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    fn read(mut stream: TcpStream) -> std::io::Result<Self> {
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Ok(Self {
            status,
            headers,
            body: body.to_string(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// `Basic base64(key:)`.
pub fn basic(key: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{key}:").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

/// The present, in epoch ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// An order that maps and delivers, stamped a minute ago.
pub fn order(id: &str) -> Value {
    json!({"type": "track", "event": "Order Completed", "messageId": id,
        "timestamp": now_ms() - 60_000,
        "properties": {"order_id": format!("o-{id}"), "currency": "USD",
            "products": [{"product_id": "p-1", "price": 12.5, "quantity": 2}]},
        "context": {"page": {"url": "https://shop.example/checkout"},
            "ip": "203.0.113.9", "userAgent": "Mozilla/5.0"}})
}

/// A batch of orders `prefix-0` … `prefix-(n-1)`; returns it and the ids.
pub fn order_batch(prefix: &str, n: usize) -> (Value, Vec<String>) {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let batch: Vec<Value> = ids.iter().map(|id| order(id)).collect();
    (json!({"batch": batch}), ids)
}

/// Polls `done` until it holds (20 s at most).
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A small tmpfs the test mounts, to fill a disk without filling the machine's; unmounted
/// when dropped. Mounting needs root (CAP_SYS_ADMIN), which the CI machine has.
pub struct SmallDisk {
    pub path: std::path::PathBuf,
}

impl SmallDisk {
    pub fn mount(name: &str, mib: u32) -> Self {
        let path =
            std::env::temp_dir().join(format!("eventmap-disk-{name}-{}", std::process::id()));
        let _ = Command::new("umount")
            .arg(&path)
            .stderr(Stdio::null())
            .status();
        std::fs::create_dir_all(&path).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a {mib} MiB tmpfs at {} failed: the full-disk tests need root",
            path.display()
        );
        Self { path }
    }

    /// Writes `mib` MiB of zeros to `name` on the disk; returns its path.
    pub fn ballast(&self, name: &str, mib: usize) -> std::path::PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, vec![0u8; mib << 20]).expect("ballast fits");
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: a server the test left running may still hold files on it.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}
