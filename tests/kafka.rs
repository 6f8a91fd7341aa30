//! `eventmap consume` and `serve --to-kafka` against a real Kafka-compatible broker
//! (tansu) and the mock API: a group sharing partitions, a member killed with SIGKILL
//! (also right after a commit inside a partition's last batch), poisoned records, and the
//! intake producing to the topic end to end.

use std::collections::HashMap;
use std::time::Duration;

use eventmap_mock_capi::{Fault, FaultPlan, MockCapi, MockConfig};
use eventmap_tests::delivery::{KEY, MAPPING, MAPPINGS, META_MAPPING, PIXEL};
use eventmap_tests::kafka::{wait_for, wait_for_with_logs, Broker, Consumer};
use eventmap_tests::serve::{order, order_batch, Server};
use serde_json::json;

fn mock() -> MockCapi {
    MockCapi::start(MockConfig::new(KEY, PIXEL)).expect("mock starts")
}

/// `n` orders `prefix-i`, keyed by a user of their own, as (key, value) records.
fn orders(prefix: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            let mut event = order(&id);
            event["userId"] = json!(format!("user-{}", i % 17));
            (format!("user-{}", i % 17), event.to_string().into_bytes())
        })
        .collect()
}

/// Receipts by id: every id of `ids` delivered, and how many times each.
fn receipts(mock: &MockCapi) -> HashMap<String, u32> {
    mock.record().delivered
}

fn all_delivered(mock: &MockCapi, ids: &[String]) -> bool {
    let delivered = receipts(mock);
    ids.iter().all(|id| delivered.contains_key(id))
}

fn ids_of(records: &[(String, Vec<u8>)]) -> Vec<String> {
    records
        .iter()
        .map(|(_, v)| {
            let event: serde_json::Value = serde_json::from_slice(v).unwrap();
            event["messageId"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn two_consumers_in_a_group_split_the_partitions_and_deliver_every_event_once() {
    let broker = Broker::start();
    let mock = mock();
    broker.create_topic("orders", 4);
    let a = Consumer::start(&broker, "orders", "g-split", &mock.endpoint(), &[]);
    let b = Consumer::start(&broker, "orders", "g-split", &mock.endpoint(), &[]);
    wait_for(
        "both members to own partitions",
        Duration::from_secs(60),
        || a.owns_partitions() && b.owns_partitions(),
    );
    let records = orders("split", 400);
    let ids = ids_of(&records);
    broker.produce("orders", &records);
    wait_for_with_logs(
        "all 400 delivered",
        Duration::from_secs(60),
        &[&a, &b],
        || all_delivered(&mock, &ids),
    );
    // Both members delivered some, and the shares add up.
    let delivered_by = |c: &Consumer| -> f64 {
        c.metrics()
            .lines()
            .find(|l| l.starts_with("eventmap_consume_records_total{outcome=\"delivered\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let (share_a, share_b) = (delivered_by(&a), delivered_by(&b));
    assert!(share_a > 0.0 && share_b > 0.0, "a {share_a}, b {share_b}");
    assert_eq!(share_a + share_b, 400.0);
    let once = receipts(&mock);
    assert_eq!(once.len(), 400);
    assert!(once.values().all(|&n| n == 1), "each id once: {once:?}");

    // A clean stop commits: the group's offsets reach each partition's end (400 in all).
    let (code_a, _) = a.terminate();
    let (code_b, log_b) = b.terminate();
    assert_eq!((code_a, code_b), (Some(0), Some(0)), "{log_b}");
    let committed: i64 = broker.committed("g-split", "orders", 4).iter().sum();
    assert_eq!(committed, 400);

    // A member that joins later starts from these commits. (Not run here: after every
    // member has left, tansu 0.6 keeps the departed leader as the group's leader and a
    // new member waits for its assignment forever; docs/scaling.md.)
}

#[test]
fn a_member_killed_with_sigkill_loses_nothing_its_partitions_move_on() {
    for mapping in MAPPINGS {
        member_killed_loses_nothing(mapping);
    }
}

fn member_killed_loses_nothing(mapping: &str) {
    let broker = Broker::start();
    let mock = mock();
    broker.create_topic("orders", 4);
    let survivor =
        Consumer::start_with(mapping, &broker, "orders", "g-kill", &mock.endpoint(), &[]);
    let victim = Consumer::start_with(mapping, &broker, "orders", "g-kill", &mock.endpoint(), &[]);
    wait_for(
        "both members to own partitions",
        Duration::from_secs(60),
        || survivor.owns_partitions() && victim.owns_partitions(),
    );
    let first = orders("before", 300);
    broker.produce("orders", &first);
    wait_for("delivery under way", Duration::from_secs(60), || {
        mock.delivered_count() >= 100
    });
    victim.kill_9();
    let second = orders("after", 300);
    broker.produce("orders", &second);
    // The group moves the dead member's partitions once its session times out. tansu
    // 0.6 does so only at the next change of membership (its heartbeat path drops the
    // dead member without starting a new generation, so the old assignment is handed
    // out again: docs/scaling.md); a supervisor restarting the member is that change.
    std::thread::sleep(Duration::from_secs(7));
    let replacement =
        Consumer::start_with(mapping, &broker, "orders", "g-kill", &mock.endpoint(), &[]);
    let mut ids = ids_of(&first);
    ids.extend(ids_of(&second));
    let started = std::time::Instant::now();
    while !all_delivered(&mock, &ids) {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{mapping}: not all 600 delivered ({} delivered):\n{}\n{}",
            receipts(&mock).len(),
            survivor.log(),
            replacement.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The living members own all four partitions between them.
    let owned = |c: &Consumer| -> Vec<String> {
        c.logged("partitions_assigned")
            .last()
            .and_then(|a| a["partitions"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect()
    };
    // (once the group settles: a rebalance may still be going on)
    wait_for(
        "the living members to own all four",
        Duration::from_secs(30),
        || {
            let mut all = owned(&survivor);
            all.extend(owned(&replacement));
            all.sort();
            all == ["orders/0", "orders/1", "orders/2", "orders/3"]
        },
    );
    // Only what the killed member had not committed can have been sent twice.
    let delivered = receipts(&mock);
    let twice = delivered.values().filter(|&&n| n > 1).count();
    assert_eq!(delivered.len(), 600);
    assert!(twice < 300, "{twice} sent twice");
}

#[test]
fn poisoned_records_go_to_the_dead_letter_topic_with_their_reason_and_the_partition_moves_on() {
    let broker = Broker::start();
    let mock = mock();
    broker.create_topic("mixed", 1);
    broker.create_topic("mixed-dead", 1);
    let big = json!({"type": "track", "event": "Order Completed", "pad": "x".repeat(3000)});
    let bad_price = json!({"type": "track", "event": "Order Completed", "messageId": "bad-price",
        "timestamp": "2026-11-21T11:00:00Z",
        "properties": {"currency": "USD", "products": [{"product_id": "p", "price": "abc", "quantity": 1}]},
        "context": {"page": {"url": "https://shop.example/"}}});
    let mut records = orders("good-a", 3);
    records.push(("k".into(), b"{not json".to_vec()));
    records.push(("k".into(), b"[1, 2, 3]".to_vec()));
    records.push(("k".into(), big.to_string().into_bytes()));
    records.push(("k".into(), bad_price.to_string().into_bytes()));
    records.push(("k".into(), b"{\"id\": \"\xff\xfe\"}".to_vec()));
    let tail = orders("good-b", 3);
    records.extend(tail.iter().cloned());
    broker.produce("mixed", &records);

    let consumer = Consumer::start(
        &broker,
        "mixed",
        "g-poison",
        &mock.endpoint(),
        &["--max-record-bytes", "2KiB"],
    );
    let mut good = ids_of(&orders("good-a", 3));
    good.extend(ids_of(&tail));
    wait_for(
        "the good records around the poison",
        Duration::from_secs(60),
        || all_delivered(&mock, &good),
    );
    let dead = broker.read_all("mixed-dead", 5);
    assert_eq!(dead.len(), 5, "{dead:?}");
    let by_offset: HashMap<i64, serde_json::Value> = dead
        .iter()
        .map(|r| (r.json()["kafka"]["offset"].as_i64().unwrap(), r.json()))
        .collect();
    let reason = |offset: i64| by_offset[&offset]["dead_letter"]["reason"].clone();
    assert_eq!(reason(3), "malformed", "{}", by_offset[&3]);
    assert_eq!(by_offset[&3]["line"], "{not json");
    assert_eq!(reason(4), "malformed");
    assert!(by_offset[&4]["dead_letter"]["message"]
        .as_str()
        .unwrap()
        .contains("a list"));
    assert_eq!(reason(5), "malformed");
    assert!(by_offset[&5]["dead_letter"]["message"]
        .as_str()
        .unwrap()
        .contains("over the limit of 2048"));
    assert_eq!(reason(6), "mapping_failed");
    assert_eq!(by_offset[&6]["source"]["messageId"], "bad-price");
    assert_eq!(reason(7), "malformed");
    assert_eq!(by_offset[&7]["line_hex"], "7b226964223a2022fffe227d");
    for record in &dead {
        let value = record.json();
        assert_eq!(value["kafka"]["topic"], "mixed");
        assert_eq!(value["kafka"]["partition"], 0);
        assert_eq!(record.key.as_deref(), Some("k"));
        assert_eq!(
            record.header("eventmap-reason"),
            value["dead_letter"]["reason"].as_str()
        );
    }
    // A dump of the topic replays through `send`: each letter is read back and found
    // bad again, nothing is lost.
    let dir = eventmap_tests::Scratch::new("kafka-dead-replay");
    let dump: String = dead
        .iter()
        .map(|r| format!("{}\n", String::from_utf8_lossy(&r.value)))
        .collect();
    std::fs::write(dir.path("dump.ndjson"), dump).unwrap();
    let replay_mock = eventmap_tests::delivery::mock(|_| {});
    let run = eventmap_tests::delivery::send(
        &replay_mock,
        &dir,
        KEY,
        &["--dead-letter", &dir.path("again.ndjson")],
        &[&dir.path("dump.ndjson")],
    );
    let summary = run.summary();
    assert_eq!(summary["read"], 5, "{}", run.stderr);
    assert_eq!(summary["replayed"], 5, "{}", run.stderr);
    // Every record is done: the commit reaches the partition's end, and the process
    // is still running.
    wait_for(
        "the commit past the poison",
        Duration::from_secs(20),
        || broker.committed("g-poison", "mixed", 1) == vec![11],
    );
    let mut consumer = consumer;
    assert!(
        consumer.child.try_wait().unwrap().is_none(),
        "still running"
    );
    let log = consumer.log();
    // Ids and reasons only: never the records themselves.
    assert!(
        !log.contains("not json") && !log.contains("xxxxxxxx"),
        "{log}"
    );
}

#[test]
fn serve_to_kafka_then_consume_delivers_everything_acknowledged_even_after_kill_9() {
    let broker = Broker::start();
    let mock = mock();
    broker.create_topic("intake", 3);
    let server = Server::spawn(&[
        "--to-kafka",
        "--brokers",
        &broker.bootstrap,
        "--topic",
        "intake",
    ]);
    let mut ids = Vec::new();
    for n in 0..5 {
        let (mut batch, batch_ids) = order_batch(&format!("http-{n}"), 20);
        for (i, event) in batch["batch"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            event["userId"] = json!(format!("u-{}", i % 7));
        }
        let answer = server.post("/v1/batch", &batch);
        assert_eq!(answer.status, 200, "{}", answer.body);
        ids.extend(batch_ids);
    }
    // Acknowledged means on the broker: kill the intake at once.
    server.kill_9();
    let on_topic = broker.read_all("intake", 100);
    assert_eq!(on_topic.len(), 100);
    for record in &on_topic {
        let event = record.json();
        assert_eq!(
            record.key.as_deref(),
            event["userId"].as_str(),
            "keyed by user"
        );
        assert!(event["receivedAt"].is_string(), "enriched by the intake");
    }
    // One user's events share a partition, so they stay in order.
    let mut partition_of_user: HashMap<String, i32> = HashMap::new();
    for record in &on_topic {
        let user = record.key.clone().unwrap();
        let p = *partition_of_user.entry(user).or_insert(record.partition);
        assert_eq!(p, record.partition);
    }

    let consumer = Consumer::start(&broker, "intake", "g-e2e", &mock.endpoint(), &[]);
    wait_for("all 100 delivered", Duration::from_secs(60), || {
        all_delivered(&mock, &ids)
    });
    let record = mock.record();
    assert_eq!(record.delivered.len(), 100);
    let sample = &record.events["http-3-7"];
    assert_eq!(sample["data"]["amount"], 2500, "{sample}");
    drop(consumer);
}

#[test]
fn a_rebalance_mid_stream_finishes_and_commits_the_revoked_work_so_nothing_is_sent_twice() {
    let broker = Broker::start();
    // Every request takes half a second, so delivery is still going when the second
    // member joins.
    let mut config = MockConfig::new(KEY, PIXEL);
    config.faults = FaultPlan::Random {
        seed: 7,
        weights: vec![(
            Fault::Slow {
                delay: Duration::from_millis(250),
                recorded: false,
            },
            1000,
        )],
    };
    let mock = MockCapi::start(config).expect("mock starts");
    let slow = ["--batch-size", "50", "--concurrency", "2"];
    broker.create_topic("busy", 4);
    let records = orders("busy", 3000);
    let ids = ids_of(&records);
    broker.produce("busy", &records);
    let first = Consumer::start(&broker, "busy", "g-busy", &mock.endpoint(), &slow);
    wait_for("delivery under way", Duration::from_secs(60), || {
        mock.delivered_count() >= 100
    });
    // A member joins while the first has records in flight: the first gives up half of
    // its partitions, after finishing and committing what it had taken from them.
    let second = Consumer::start(&broker, "busy", "g-busy", &mock.endpoint(), &slow);
    let started = std::time::Instant::now();
    while !all_delivered(&mock, &ids) {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not all 3000 delivered ({}):\n{}\n{}\n{}\n{}",
            receipts(&mock).len(),
            first.log(),
            first.metrics(),
            second.log(),
            second.metrics()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(second.owns_partitions(), "{}", second.log());
    let revoked = first.logged("partitions_revoked");
    assert!(!revoked.is_empty(), "{}", first.log());
    assert!(revoked
        .iter()
        .all(|r| r["finished"] == true && r["abandoned"] == 0));
    let delivered = receipts(&mock);
    let twice: Vec<_> = delivered.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    // What /metrics shows of it.
    let page = first.metrics();
    assert!(
        page.contains("eventmap_consume_rebalances_total{kind=\"revoke\"}"),
        "{page}"
    );
    // Served as serve serves its own.
    let content_type = format!("content-type: {}", eventmap_pipeline::metrics::CONTENT_TYPE);
    assert!(page.to_ascii_lowercase().contains(&content_type), "{page}");
    // The committed offsets of the partitions it owns (none while a rebalance has taken
    // them all away: they come back with the assignment).
    wait_for("its committed offsets", Duration::from_secs(30), || {
        first
            .metrics()
            .contains("eventmap_consume_committed_offset{")
    });
}

#[test]
fn refused_credentials_stop_the_consumer_with_exit_4_and_commit_nothing_undelivered() {
    let broker = Broker::start();
    let mock = mock();
    broker.create_topic("keyed", 1);
    broker.produce("keyed", &orders("refused", 20));
    let run = std::process::Command::new(eventmap_tests::binary())
        .args([
            "consume",
            "--brokers",
            &broker.bootstrap,
            "--topic",
            "keyed",
            "--group",
            "g-refused",
            "--dead-letter-topic",
            "keyed-dead",
            "--mapping",
            eventmap_tests::delivery::MAPPING,
            "--endpoint",
            &mock.endpoint(),
            "--session-timeout",
            "6s",
        ])
        .current_dir(eventmap_tests::repo())
        .env("OPENAI_CAPI_KEY", "sk-wrong")
        .env("OPENAI_PIXEL_ID", PIXEL)
        .output()
        .expect("consume runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(4), "{stderr}");
    assert!(!stderr.contains("sk-wrong"), "the key is never logged");
    assert!(stderr.contains("credentials_refused"), "{stderr}");
    assert_eq!(mock.delivered_count(), 0);
    // Nothing was delivered, so nothing is committed: the records wait for a good key.
    assert!(broker.committed("g-refused", "keyed", 1)[0] <= 0);
    assert!(
        broker.read_all("keyed-dead", 1).is_empty(),
        "not dead-lettered"
    );
}

/// The documented path as users run it: `serve --to-kafka` with posts of 100 events (the
/// producer writes each as one batch per partition), a member joining while the first
/// is mid-stream, then one killed with SIGKILL. A commit made inside a batch must not make
/// the next owner skip the rest of it (tansu answers a fetch from inside a batch with the
/// next batch).
#[test]
fn posts_of_100_through_serve_survive_a_member_joining_and_one_killed() {
    let broker = Broker::start();
    let mock = mock();
    broker.create_topic("posts", 4);
    let server = Server::spawn(&[
        "--to-kafka",
        "--brokers",
        &broker.bootstrap,
        "--topic",
        "posts",
    ]);
    let mut ids = Vec::new();
    for n in 0..80 {
        let (mut batch, batch_ids) = order_batch(&format!("post-{n}"), 100);
        for (i, event) in batch["batch"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            event["userId"] = json!(format!("u-{}", (n * 100 + i) % 37));
        }
        let answer = server.post("/v1/batch", &batch);
        assert_eq!(answer.status, 200, "{}", answer.body);
        ids.extend(batch_ids);
    }
    server.kill_9();
    // One event at a time: the revoke finds records in work, mid-batch.
    let slow = ["--concurrency", "1", "--batch-size", "1"];
    let first = Consumer::start(&broker, "posts", "g-posts", &mock.endpoint(), &slow);
    wait_for("delivery under way", Duration::from_secs(60), || {
        mock.delivered_count() >= 1500
    });
    let second = Consumer::start(&broker, "posts", "g-posts", &mock.endpoint(), &slow);
    wait_for("the second member at work", Duration::from_secs(60), || {
        second.owns_partitions() && mock.delivered_count() >= 3500
    });
    // A member reports only the partitions it owns: after the rebalance, half of them.
    let page = first.metrics();
    for gauge in [
        "eventmap_consume_consumer_lag{",
        "eventmap_consume_committed_offset{",
    ] {
        let reported = page.lines().filter(|l| l.starts_with(gauge)).count();
        assert!(reported <= 2, "{gauge} for {reported} partitions:\n{page}");
    }
    let first_log = first.log();
    drop(first); // SIGKILL: its partitions go to the next owner from their last commit.
                 // tansu 0.6 moves a dead member's partitions only at the next change of membership
                 // (see the SIGKILL test above): a supervisor restarting the member is that change.
    std::thread::sleep(Duration::from_secs(7));
    let replacement = Consumer::start(&broker, "posts", "g-posts", &mock.endpoint(), &slow);
    let started = std::time::Instant::now();
    while !all_delivered(&mock, &ids) {
        if started.elapsed() > Duration::from_secs(120) {
            let delivered = receipts(&mock);
            let missing: Vec<_> = ids
                .iter()
                .filter(|id| !delivered.contains_key(*id))
                .collect();
            panic!(
                "{} of {} acknowledged events never reached the API, e.g. {:?}\nfirst:\n{first_log}\nsecond:\n{}\n{}\nreplacement:\n{}",
                missing.len(),
                ids.len(),
                &missing[..missing.len().min(10)],
                second.log(),
                second.metrics(),
                replacement.log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Where tansu answered a fetch from inside a batch with the next batch, the partition
    // was read again from further back (`partition_read_again`); no range was left out.
    let logs = format!("{}{}", second.log(), replacement.log());
    assert!(!logs.contains("offset_gap"), "{logs}");
    let pages = format!("{}{}", second.metrics(), replacement.metrics());
    assert!(
        !pages.contains("eventmap_consume_offset_gaps_total{"),
        "{pages}"
    );
}

/// A member killed after committing inside a partition's last record batch: tansu
/// answers the next owner's fetch from there with the batch after it, and there is none,
/// so nothing comes at all. The next owner notices the silence and reads the partition
/// again from further back.
#[test]
fn a_commit_inside_the_last_batch_does_not_strand_the_rest_of_it() {
    let broker = Broker::start();
    let slow = Fault::Slow {
        delay: Duration::from_millis(40),
        recorded: true,
    };
    let mut config = MockConfig::new(KEY, PIXEL);
    config.faults = FaultPlan::Script(vec![Some(slow); 100]);
    let mock = MockCapi::start(config).expect("mock starts");
    broker.create_topic("tail", 1);
    let records = orders("tail", 100);
    broker.produce_one_batch("tail", &records);
    // One event a request, 40 ms each: commits (every 200 ms) land inside the batch.
    let one_by_one = ["--batch-size", "1", "--concurrency", "1"];
    let first = Consumer::start(&broker, "tail", "g-tail", &mock.endpoint(), &one_by_one);
    wait_for_with_logs(
        "a commit inside the batch",
        Duration::from_secs(60),
        &[&first],
        || {
            let committed = broker.committed("g-tail", "tail", 1)[0];
            (10..90).contains(&committed)
        },
    );
    first.kill_9();
    // tansu moves a dead member's partitions at the next change of membership.
    std::thread::sleep(Duration::from_secs(7));
    let next = Consumer::start(&broker, "tail", "g-tail", &mock.endpoint(), &one_by_one);
    let ids = ids_of(&records);
    wait_for_with_logs(
        "the rest of the batch delivered",
        Duration::from_secs(60),
        &[&next],
        || all_delivered(&mock, &ids),
    );
    let read_again = next.logged("partition_read_again");
    assert!(
        read_again.iter().any(|line| line["silent"] == true),
        "{}",
        next.log()
    );
}

#[test]
fn with_routes_each_event_is_produced_once_and_each_route_has_its_own_group() {
    let broker = Broker::start();
    let openai = mock();
    let meta = mock();
    broker.create_topic("routed", 2);
    let dir = eventmap_tests::Scratch::new("kafka-routes");
    let config = dir.write(
        "pipeline.yaml",
        &format!(
            "version: 1
routes:
  openai:
    mapping: {}
    settings: {{ endpoint: '{}' }}
  meta:
    mapping: {}
    settings: {{ endpoint: '{}' }}
sources:
  shop:
    write_keys: {{ env: SHOP_KEYS }}
    routes: [openai, meta]
  partner:
    write_keys: {{ env: PARTNER_KEYS }}
    routes: [openai]
",
            eventmap_tests::repo().join(MAPPING).display(),
            openai.endpoint(),
            eventmap_tests::repo().join(META_MAPPING).display(),
            meta.endpoint()
        ),
    );
    let server = Server::with_config(
        std::path::Path::new(&config),
        &[("SHOP_KEYS", "wk-shop"), ("PARTNER_KEYS", "wk-partner")],
        &[
            "--to-kafka",
            "--brokers",
            &broker.bootstrap,
            "--topic",
            "routed",
        ],
    );
    let (shop, shop_ids) = order_batch("shop", 40);
    let (partner, partner_ids) = order_batch("partner", 20);
    assert_eq!(server.post_as("wk-shop", "/v1/batch", &shop).status, 200);
    assert_eq!(
        server.post_as("wk-partner", "/v1/batch", &partner).status,
        200
    );
    // Each event once on the topic, naming its routes.
    let on_topic = broker.read_all("routed", 60);
    assert_eq!(on_topic.len(), 60);
    // A consumer group per route: each destination scales and lags on its own.
    let to_openai = Consumer::start_route(&broker, "routed", &config, "openai");
    let to_meta = Consumer::start_route(&broker, "routed", &config, "meta");
    let mut for_openai = shop_ids.clone();
    for_openai.extend(partner_ids.iter().cloned());
    wait_for_with_logs(
        "the openai route's events",
        Duration::from_secs(60),
        &[&to_openai],
        || all_delivered(&openai, &for_openai),
    );
    wait_for_with_logs(
        "the meta route's events",
        Duration::from_secs(60),
        &[&to_meta],
        || all_delivered(&meta, &shop_ids),
    );
    // The partner's events never reach Meta, and nothing is sent twice.
    let (seen_openai, seen_meta) = (openai.record(), meta.record());
    assert_eq!(seen_meta.delivered.len(), 40);
    assert!(partner_ids
        .iter()
        .all(|id| !seen_meta.delivered.contains_key(id)));
    assert!(seen_openai.delivered.values().all(|n| *n == 1));
    assert_eq!(seen_meta.events["shop-0"]["event_name"], "Purchase");
    assert!(
        to_meta
            .logged("consumer_started")
            .iter()
            .any(|l| l["group"] == "eventmap-meta"),
        "{}",
        to_meta.log()
    );
}
