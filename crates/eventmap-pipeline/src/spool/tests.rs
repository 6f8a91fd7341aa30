use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::delivery::{DeadPayload, DeadReason};

const NOW: i64 = 1_795_262_400_000;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eventmap-spool-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("spool")
}

fn incoming(id: &str) -> Incoming {
    Incoming {
        dedup_id: Some(id.to_string()),
        json: format!("{{\"messageId\":\"{id}\"}}").into_bytes(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn events_survive_a_reopen_in_order_until_settled() {
    let dir = scratch("reopen");
    let rt = runtime();
    {
        let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
        let events = vec![incoming("a"), incoming("b"), incoming("c")];
        let admitted = rt.block_on(spool.append(events, NOW)).unwrap();
        assert_eq!(
            admitted,
            Admission::Accepted {
                spooled: 3,
                duplicates: 0
            }
        );
        let letter = DeadLetter {
            id: Some("b".into()),
            reason: DeadReason::Invalid,
            status: None,
            code: None,
            message: "bad".into(),
            attempts: 0,
            at_ms: NOW,
            payload: DeadPayload::Line("{}".into()),
        };
        let settled = vec![Settle::Done(0), Settle::Dead { seq: 1, letter }];
        rt.block_on(spool.settle(settled, NOW)).unwrap();
        assert_eq!((spool.depth(), spool.dead()), (1, 1));
    }
    let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
    let left = spool.read_after(None, 10).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].json, b"{\"messageId\":\"c\"}");
    assert_eq!(spool.depth(), 1);
    assert_eq!(spool.dead_letters().unwrap()[0]["id"], "b");
    // New events carry on after the highest number ever used.
    rt.block_on(spool.append(vec![incoming("d")], NOW)).unwrap();
    let all = spool.read_after(None, 10).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(spool.read_after(Some(2), 10).unwrap().len(), 1);
}

#[test]
fn a_message_id_seen_within_the_window_is_not_spooled_again() {
    let dir = scratch("dedup");
    let rt = runtime();
    let config = SpoolConfig {
        dedup_window: Duration::from_secs(60),
        ..SpoolConfig::default()
    };
    let spool = Spool::open(&dir, config).unwrap();
    let first = rt
        .block_on(spool.append(vec![incoming("x"), incoming("x"), incoming("y")], NOW))
        .unwrap();
    assert_eq!(
        first,
        Admission::Accepted {
            spooled: 2,
            duplicates: 1
        }
    );
    let retry = rt
        .block_on(spool.append(vec![incoming("x")], NOW + 1000))
        .unwrap();
    assert_eq!(
        retry,
        Admission::Accepted {
            spooled: 0,
            duplicates: 1
        }
    );
    // Past the window (pruned once a second), the id is new again.
    std::thread::sleep(Duration::from_millis(1100));
    let later = rt
        .block_on(spool.append(vec![incoming("x")], NOW + 61_000))
        .unwrap();
    assert_eq!(
        later,
        Admission::Accepted {
            spooled: 1,
            duplicates: 0
        }
    );
    // Ids the intake made up are never checked.
    let anonymous = Incoming {
        dedup_id: None,
        json: b"{}".to_vec(),
    };
    let twice = vec![anonymous.clone(), anonymous];
    let made_up = rt.block_on(spool.append(twice, NOW + 62_000)).unwrap();
    assert_eq!(
        made_up,
        Admission::Accepted {
            spooled: 2,
            duplicates: 0
        }
    );
}

#[test]
fn a_full_spool_refuses_whole_appends_until_it_drains() {
    let dir = scratch("full");
    let rt = runtime();
    let config = SpoolConfig {
        max_bytes: 50,
        ..SpoolConfig::default()
    };
    let spool = Spool::open(&dir, config).unwrap();
    let ok = rt.block_on(spool.append(vec![incoming("a"), incoming("b")], NOW));
    assert!(matches!(ok, Ok(Admission::Accepted { spooled: 2, .. })));
    let full = rt.block_on(spool.append(vec![incoming("c")], NOW)).unwrap();
    assert_eq!(full, Admission::Full);
    assert_eq!(spool.depth(), 2);
    rt.block_on(spool.settle(vec![Settle::Done(0)], NOW))
        .unwrap();
    let again = rt.block_on(spool.append(vec![incoming("c")], NOW));
    assert!(matches!(again, Ok(Admission::Accepted { spooled: 1, .. })));
}

#[test]
fn concurrent_appends_share_commits() {
    let dir = scratch("group");
    let rt = runtime();
    let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
    let before = spool.commits();
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..400 {
            let spool = spool.clone();
            tasks.spawn(async move { spool.append(vec![incoming(&format!("g{i}"))], NOW).await });
        }
        while let Some(done) = tasks.join_next().await {
            assert!(matches!(
                done.unwrap(),
                Ok(Admission::Accepted { spooled: 1, .. })
            ));
        }
    });
    let commits = spool.commits() - before;
    assert_eq!(spool.depth(), 400);
    assert!(
        commits < 400,
        "400 appends took {commits} commits: no grouping"
    );
}

#[cfg(unix)]
#[test]
fn the_spool_is_private_to_its_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("perms");
    let _spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(store::FILE_NAME)), 0o600);
}

#[test]
fn dead_letters_are_dropped_after_their_retention() {
    let dir = scratch("retention");
    let rt = runtime();
    let config = SpoolConfig {
        dead_retention: Duration::from_secs(60),
        ..SpoolConfig::default()
    };
    let spool = Spool::open(&dir, config).unwrap();
    rt.block_on(spool.append(vec![incoming("r")], NOW)).unwrap();
    let letter = DeadLetter {
        id: Some("r".into()),
        reason: DeadReason::Rejected,
        status: Some(400),
        code: None,
        message: "refused".into(),
        attempts: 1,
        at_ms: NOW,
        payload: DeadPayload::Line("{}".into()),
    };
    rt.block_on(spool.settle(vec![Settle::Dead { seq: 0, letter }], NOW))
        .unwrap();
    assert_eq!(spool.dead(), 1);
    // Pruning runs at most once a second, with the clock of the work it commits.
    std::thread::sleep(Duration::from_millis(1100));
    rt.block_on(spool.append(vec![incoming("s")], NOW + 30_000))
        .unwrap();
    assert_eq!(spool.dead(), 1, "kept within its retention");
    std::thread::sleep(Duration::from_millis(1100));
    rt.block_on(spool.append(vec![incoming("t")], NOW + 61_000))
        .unwrap();
    assert_eq!(spool.dead(), 0);
    assert!(spool.dead_letters().unwrap().is_empty());
}
