//! `eventmap serve` under the faults operators meet: a slow or down destination at
//! shutdown, a long outage, a full disk, no file descriptors left, a damaged spool. Each
//! runs a real server process on 127.0.0.1 against the mock Conversions API.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use eventmap_mock_capi::{Fault, FaultPlan, MockCapi, MockConfig};
use eventmap_tests::delivery::{KEY, MAPPING, MAPPINGS, PIXEL};
use eventmap_tests::serve::*;
use eventmap_tests::Scratch;

/// What the docs promise: a stop returns within `--drain-timeout` plus this.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Posts `batches` batches of 100 orders; returns their ids.
fn post_orders(server: &Server, prefix: &str, batches: usize) -> Vec<String> {
    let mut all = Vec::new();
    for b in 0..batches {
        let (batch, ids) = order_batch(&format!("{prefix}{b}"), 100);
        let answer = server.post("/v1/batch", &batch);
        assert_eq!(answer.status, 200, "{}", answer.body);
        all.extend(ids);
    }
    all
}

/// `serve` with `mapping` and only the flags a user must give (the delivery defaults are
/// the server's).
fn server_with_defaults(
    mapping: &str,
    spool: &std::path::Path,
    endpoint: &str,
    extra: &[&str],
) -> Server {
    let spool = spool.display().to_string();
    let mut args = vec![
        "--mapping",
        mapping,
        "--spool",
        &spool,
        "--endpoint",
        endpoint,
    ];
    args.extend_from_slice(extra);
    Server::spawn(&args)
}

/// SIGTERM; asserts the exit within the documented bound, with exit code 0, every
/// acknowledged event still in the spool and none dead-lettered. Returns the log.
fn stop_within_bound(server: Server, drain: Duration, acknowledged: usize) -> String {
    let started = Instant::now();
    let (code, log) = server.terminate();
    let took = started.elapsed();
    assert!(
        took <= drain + SHUTDOWN_GRACE,
        "the stop took {took:?}, past {drain:?} + {SHUTDOWN_GRACE:?}:\n{log}"
    );
    assert_eq!(code, Some(0), "{log}");
    assert!(
        !log.contains("\"dead_letter\""),
        "dead letters at shutdown:\n{log}"
    );
    let depth = format!("\"spool_depth\":{acknowledged}");
    assert!(
        log.contains(&depth),
        "not every event stayed in the spool:\n{log}"
    );
    log
}

#[test]
fn sigterm_under_a_destination_answering_in_25_s_returns_within_the_drain_bound() {
    for mapping in MAPPINGS {
        sigterm_under_a_slow_destination(mapping);
    }
}

fn sigterm_under_a_slow_destination(mapping: &str) {
    let mock = MockCapi::start({
        let mut config = MockConfig::new(KEY, PIXEL);
        config.faults = FaultPlan::Random {
            seed: 7,
            weights: vec![(
                Fault::Slow {
                    delay: Duration::from_secs(25),
                    recorded: false,
                },
                1000,
            )],
        };
        config
    })
    .expect("mock starts");
    let dir = Scratch::new("faults-slow-stop");
    let spool = dir.0.join("spool");
    // More events than the delivery queue holds: the reader waits for room when the stop
    // comes.
    let server = server_with_defaults(
        mapping,
        &spool,
        &mock.endpoint(),
        &["--drain-timeout", "2s"],
    );
    let ids = post_orders(&server, "slow", 50);
    wait_until("requests at the slow mock", || {
        !mock.record().requests.is_empty()
    });
    stop_within_bound(server, Duration::from_secs(2), ids.len());
}

#[test]
fn sigterm_during_an_outage_returns_within_the_drain_bound() {
    for mapping in MAPPINGS {
        sigterm_during_an_outage(mapping);
    }
}

fn sigterm_during_an_outage(mapping: &str) {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let dir = Scratch::new("faults-down-stop");
    let spool = dir.0.join("spool");
    // The retry flags docs/serve.md recommends for a server, which kept a stop waiting
    // for ten minutes.
    let flags = [
        "--drain-timeout",
        "2s",
        "--max-attempts",
        "1000",
        "--max-retry-time",
        "1h",
    ];
    let server = server_with_defaults(mapping, &spool, &endpoint, &flags);
    let ids = post_orders(&server, "down", 50);
    server.wait_for_log("destination_down");
    stop_within_bound(server, Duration::from_secs(2), ids.len());
}

#[test]
fn a_60_second_outage_with_default_flags_dead_letters_nothing() {
    // One server per destination, through the same minute of outage.
    let dir = Scratch::new("faults-outage");
    let servers: Vec<(u16, Server, Vec<String>)> = MAPPINGS
        .iter()
        .enumerate()
        .map(|(i, mapping)| {
            let port = free_port();
            let endpoint = format!("http://127.0.0.1:{port}");
            let server =
                server_with_defaults(mapping, &dir.0.join(format!("spool{i}")), &endpoint, &[]);
            let ids = post_orders(&server, &format!("outage{i}-"), 3);
            server.wait_for_log("destination_down");
            (port, server, ids)
        })
        .collect();
    std::thread::sleep(Duration::from_secs(60));
    for (_, server, ids) in &servers {
        assert!(
            !server.log().contains("\"dead_letter\""),
            "{}",
            server.log()
        );
        assert_eq!(server.metric("eventmap_spool_depth"), ids.len() as f64);
    }
    let mocks: Vec<MockCapi> = servers
        .iter()
        .map(|(port, _, _)| {
            MockCapi::start_on(MockConfig::new(KEY, PIXEL), *port).expect("mock on the port")
        })
        .collect();
    // The backoff is capped at 30 s by default: the next attempt comes within that.
    let started = Instant::now();
    for ((_, server, ids), mock) in servers.iter().zip(&mocks) {
        while mock.delivered_count() < ids.len() {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "delivered {} of {} after the outage:\n{}",
                mock.delivered_count(),
                ids.len(),
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let record = mock.record();
        assert!(ids.iter().all(|id| record.delivered.contains_key(id)));
        assert!(!server.log().contains("\"dead_letter\""));
    }
}

#[test]
fn out_of_file_descriptors_the_accept_loop_backs_off_instead_of_spinning() {
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts");
    let dir = Scratch::new("faults-emfile");
    let spool = dir.0.join("spool").display().to_string();
    let endpoint = mock.endpoint();
    let args = [
        "--mapping",
        MAPPING,
        "--spool",
        &spool,
        "--endpoint",
        &endpoint,
        "--max-connections",
        "100000",
    ];
    let server = Server::spawn_with_fd_limit(64, &args);
    // More idle connections than the server has descriptors: the kernel completes them
    // (the backlog), the server cannot accept them.
    let idle: Vec<TcpStream> = (0..120)
        .filter_map(|_| TcpStream::connect(&server.addr).ok())
        .collect();
    server.wait_for_log("accept_failing");
    let before = server.cpu_time();
    std::thread::sleep(Duration::from_secs(3));
    let used = server.cpu_time().saturating_sub(before);
    assert!(
        used < Duration::from_millis(300),
        "the server used {used:?} of CPU in 3 s while out of descriptors:\n{}",
        server.log()
    );
    drop(idle);
    // Once the clients go, the server accepts again.
    wait_until("an answer after the clients left", || {
        server
            .try_request("GET", "/healthz", &[], b"")
            .is_ok_and(|a| a.status == 200)
    });
    server.wait_for_log("accept_recovered");
}

#[test]
fn the_connection_limit_keeps_idle_clients_from_taking_every_slot_and_the_next_gets_in() {
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts");
    let dir = Scratch::new("faults-conn-limit");
    let spool = dir.0.join("spool").display().to_string();
    let endpoint = mock.endpoint();
    let args = [
        "--mapping",
        MAPPING,
        "--spool",
        &spool,
        "--endpoint",
        &endpoint,
        "--max-connections",
        "4",
    ];
    let server = Server::spawn(&args);
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(&server.addr).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // A fifth client is not answered while four connections are open...
    let mut fifth = TcpStream::connect(&server.addr).expect("the backlog takes it");
    fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    fifth
        .set_read_timeout(Some(Duration::from_millis(700)))
        .expect("timeout");
    let mut answer = Vec::new();
    assert!(
        fifth.read_to_end(&mut answer).is_err() && answer.is_empty(),
        "answered past the limit: {}",
        String::from_utf8_lossy(&answer)
    );
    // ...and is, once one of them goes.
    drop(idle.pop());
    fifth
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    fifth.read_to_end(&mut answer).expect("an answer");
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    server.wait_for_log("connection_limit");
    drop(idle);
    wait_until("the limit counted", || {
        server.metric("eventmap_connection_limit_reached_total") >= 1.0
    });
}

/// Posts batches of 100 orders until one is refused; asserts the refusal is a 500 that
/// says the spool failed. Returns the acknowledged ids.
fn post_until_the_disk_is_full(server: &Server, prefix: &str) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for b in 0..400 {
        let (batch, ids) = order_batch(&format!("{prefix}{b}"), 100);
        let answer = server.post("/v1/batch", &batch);
        if answer.status == 200 {
            acknowledged.extend(ids);
            continue;
        }
        assert_eq!(answer.status, 500, "{}", answer.body);
        return acknowledged;
    }
    panic!("400 batches fitted on the small disk:\n{}", server.log());
}

/// Waits until every acknowledged id reached the mock.
fn wait_delivered(mock: &MockCapi, ids: &[String], server: &Server) {
    let started = Instant::now();
    loop {
        let record = mock.record();
        if ids.iter().all(|id| record.delivered.contains_key(id)) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "delivered {} of {}:\n{}",
            ids.iter()
                .filter(|id| record.delivered.contains_key(*id))
                .count(),
            ids.len(),
            server.log()
        );
        drop(record);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Restarts on the same spool, gives it time to resend anything it thinks pending, and
/// asserts the mock saw no id twice.
fn assert_no_resend_after_restart(mock: &MockCapi, spool: &std::path::Path, server: Server) {
    let log = stop_within_bound(server, Duration::from_secs(2), 0);
    assert!(!log.contains("\"dead_letter\""), "{log}");
    let again = Server::start(spool, &mock.endpoint(), &[]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(again.metric("eventmap_spool_depth"), 0.0, "{}", again.log());
    let twice: Vec<_> = mock
        .record()
        .delivered
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(id, _)| id.clone())
        .collect();
    assert!(twice.is_empty(), "sent again after the restart: {twice:?}");
}

#[test]
fn a_full_disk_refuses_requests_while_full_and_the_writer_recovers_when_space_returns() {
    let disk = SmallDisk::mount("full-recover", 8);
    let ballast = disk.ballast("ballast", 3);
    let spool = disk.path.join("spool");
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let server = Server::start(&spool, &endpoint, &["--drain-timeout", "2s"]);
    assert_eq!(server.request("GET", "/readyz", &[], b"").status, 200);

    // The destination is down: everything stays on the disk until it fills.
    let acknowledged = post_until_the_disk_is_full(&server, "full");
    assert!(acknowledged.len() >= 1_000, "{}", acknowledged.len());
    let readiness = server.request("GET", "/readyz", &[], b"");
    assert_eq!(readiness.status, 503, "{}", readiness.body);
    server.wait_for_log("spool_commit_failed");

    // Space returns: the writer notices within a tick and takes requests again.
    std::fs::remove_file(&ballast).expect("remove the ballast");
    wait_until("/readyz 200 once space returned", || {
        server.request("GET", "/readyz", &[], b"").status == 200
    });
    let mut all = acknowledged;
    all.extend(post_orders(&server, "after", 10));

    let mock = MockCapi::start_on(MockConfig::new(KEY, PIXEL), port).expect("mock on the port");
    wait_delivered(&mock, &all, &server);
    assert_no_resend_after_restart(&mock, &spool, server);
}

#[test]
fn settles_land_on_a_full_disk_and_nothing_delivered_is_sent_again_after_a_restart() {
    let disk = SmallDisk::mount("full-settle", 8);
    disk.ballast("ballast", 3);
    let spool = disk.path.join("spool");
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let server = Server::start(&spool, &endpoint, &["--drain-timeout", "2s"]);
    let acknowledged = post_until_the_disk_is_full(&server, "settle");

    // The destination returns while the disk is still full: every delivery must still be
    // recorded as settled, and the drained segments' space comes back by itself.
    let mock = MockCapi::start_on(MockConfig::new(KEY, PIXEL), port).expect("mock on the port");
    wait_delivered(&mock, &acknowledged, &server);
    wait_until("/readyz 200 once the spool drained", || {
        server.request("GET", "/readyz", &[], b"").status == 200
    });
    let more = post_orders(&server, "more", 5);
    wait_delivered(&mock, &more, &server);
    assert_no_resend_after_restart(&mock, &spool, server);
}

/// The spool's one segment file (the tests here write less than a segment holds).
fn segment_file(spool: &std::path::Path) -> std::path::PathBuf {
    let mut segments: Vec<_> = std::fs::read_dir(spool)
        .expect("spool dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seg-"))
        })
        .collect();
    segments.sort();
    assert_eq!(segments.len(), 1, "{segments:?}");
    segments.remove(0)
}

/// Spools `batches` × 100 orders with the destination down, then stops the server.
fn spool_orders_and_stop(spool: &std::path::Path, prefix: &str, batches: usize) -> Vec<String> {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let server = Server::start(spool, &endpoint, &["--drain-timeout", "1s"]);
    let ids = post_orders(&server, prefix, batches);
    stop_within_bound(server, Duration::from_secs(1), ids.len());
    ids
}

#[test]
fn a_byte_changed_in_a_stored_event_is_dead_lettered_corrupt_and_never_sent() {
    let dir = Scratch::new("faults-flipped-byte");
    let spool = dir.0.join("spool");
    let ids = spool_orders_and_stop(&spool, "flip", 2);

    // The price of one order, 12.5, becomes 92.5 on disk.
    let segment = segment_file(&spool);
    let mut bytes = std::fs::read(&segment).expect("segment");
    let victim = "flip1-42";
    let at = find(&bytes, format!("\"{victim}\"").as_bytes()).expect("the id on disk");
    let price = at + find(&bytes[at..], b"12.5").expect("the price after the id");
    bytes[price] = b'9';
    std::fs::write(&segment, &bytes).expect("write back");

    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts");
    let server = Server::start(&spool, &mock.endpoint(), &[]);
    let others: Vec<String> = ids.iter().filter(|id| *id != victim).cloned().collect();
    wait_delivered(&mock, &others, &server);
    assert!(
        !mock.record().delivered.contains_key(victim),
        "the altered order was sent"
    );
    let log = server.log();
    assert!(
        log.lines().any(|l| l.contains("\"dead_letter\"")
            && l.contains(victim)
            && l.contains("\"corrupt\"")),
        "{log}"
    );

    // The letter is exported while serve runs, and --remove takes it out.
    let spool_arg = spool.display().to_string();
    let export = eventmap_tests::eventmap(&["dead-letters", "--spool", &spool_arg, "--remove"], "");
    assert_eq!(export.code, 0, "{}", export.stderr);
    let letters = export.stdout_json();
    assert_eq!(letters.len(), 1, "{}", export.stdout);
    assert_eq!(letters[0]["id"], victim);
    assert_eq!(letters[0]["dead_letter"]["reason"], "corrupt");
    let again = eventmap_tests::eventmap(&["dead-letters", "--spool", &spool_arg], "");
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.is_empty(), "exported twice: {}", again.stdout);
}

#[test]
fn a_zeroed_page_stops_serve_with_a_clear_message_and_spool_export_salvages_the_rest() {
    let dir = Scratch::new("faults-zeroed-page");
    let spool = dir.0.join("spool");
    let ids = spool_orders_and_stop(&spool, "page", 3);
    let segment = segment_file(&spool);
    let mut bytes = std::fs::read(&segment).expect("segment");
    assert!(bytes.len() > 3 * 4096, "{}", bytes.len());
    bytes[4096..8192].fill(0);
    std::fs::write(&segment, &bytes).expect("write back");

    // serve refuses the spool: an error naming the way out, not a panic.
    let spool_arg = spool.display().to_string();
    let refused = eventmap_tests::eventmap_env(
        &[
            "serve",
            "--mapping",
            MAPPING,
            "--spool",
            &spool_arg,
            "--write-key",
            WRITE_KEY,
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ],
        "",
        &[("OPENAI_CAPI_KEY", KEY), ("OPENAI_PIXEL_ID", PIXEL)],
    );
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert_ne!(refused.code, 101, "a panic: {}", refused.stderr);
    assert!(!refused.stderr.contains("panicked"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("spool export"),
        "{}",
        refused.stderr
    );

    // The salvage writes every readable pending event; send delivers them.
    let export = eventmap_tests::eventmap(&["spool", "export", "--spool", &spool_arg], "");
    assert_eq!(export.code, 0, "{}", export.stderr);
    let salvaged: Vec<String> = export
        .stdout_json()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap_or_default().to_string())
        .collect();
    let lost = ids.len() - salvaged.len();
    assert!(lost > 0 && lost < 30, "lost {lost} of {}", ids.len());
    assert!(salvaged.iter().all(|id| ids.contains(id)));
    assert!(export.stderr.contains("damaged"), "{}", export.stderr);

    let file = dir.write("salvaged.ndjson", &export.stdout);
    let mock = MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts");
    let sent = eventmap_tests::eventmap_env(
        &[
            "send",
            "--mapping",
            MAPPING,
            "--endpoint",
            &mock.endpoint(),
            "--dead-letter",
            &dir.path("dead.ndjson"),
            &file,
        ],
        "",
        &[("OPENAI_CAPI_KEY", KEY), ("OPENAI_PIXEL_ID", PIXEL)],
    );
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    assert_eq!(mock.delivered_count(), salvaged.len());
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
