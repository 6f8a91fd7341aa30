//! `eventmap serve` under the faults operators meet: a slow or down destination at
//! shutdown, a long outage, a full disk, no file descriptors left, a damaged spool. Each
//! runs a real server process on 127.0.0.1 against the mock Conversions API.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use eventmap_mock_capi::{Fault, FaultPlan, MockCapi, MockConfig};
use eventmap_tests::delivery::{KEY, MAPPING, PIXEL};
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

/// `serve` with only the flags a user must give (the delivery defaults are the server's).
fn server_with_defaults(spool: &std::path::Path, endpoint: &str, extra: &[&str]) -> Server {
    let spool = spool.display().to_string();
    let mut args = vec![
        "--mapping",
        MAPPING,
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
    let server = server_with_defaults(&spool, &mock.endpoint(), &["--drain-timeout", "2s"]);
    let ids = post_orders(&server, "slow", 50);
    wait_until("requests at the slow mock", || {
        !mock.record().requests.is_empty()
    });
    stop_within_bound(server, Duration::from_secs(2), ids.len());
}

#[test]
fn sigterm_during_an_outage_returns_within_the_drain_bound() {
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
    let server = server_with_defaults(&spool, &endpoint, &flags);
    let ids = post_orders(&server, "down", 50);
    server.wait_for_log("destination_down");
    stop_within_bound(server, Duration::from_secs(2), ids.len());
}

#[test]
fn a_60_second_outage_with_default_flags_dead_letters_nothing() {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = Scratch::new("faults-outage");
    let spool = dir.0.join("spool");
    let server = server_with_defaults(&spool, &endpoint, &[]);
    let ids = post_orders(&server, "outage", 3);
    server.wait_for_log("destination_down");
    std::thread::sleep(Duration::from_secs(60));
    assert!(
        !server.log().contains("\"dead_letter\""),
        "{}",
        server.log()
    );
    assert_eq!(server.metric("eventmap_spool_depth"), ids.len() as f64);
    let mock = MockCapi::start_on(MockConfig::new(KEY, PIXEL), port).expect("mock on the port");
    // The backoff is capped at 30 s by default: the next attempt comes within that.
    let started = Instant::now();
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
