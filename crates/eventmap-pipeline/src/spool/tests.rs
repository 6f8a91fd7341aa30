//! Tests of the spool: events kept in order across reopens until settled, the dedup window,
//! a full spool, shared commits, damage (a changed byte, a zeroed page, a torn write) found
//! and dead-lettered, segments deleted, one process per spool, and lanes.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::delivery::{DeadLetter, DeadPayload, DeadReason};
use std::path::Path;

const NOW: i64 = 1_795_262_400_000;

/// A spool directory under a fresh scratch directory, removed when the test ends (passed
/// or not), so test runs leave nothing in the temporary directory.
struct Scratch {
    root: PathBuf,
    spool: PathBuf,
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.spool
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.spool
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn scratch(name: &str) -> Scratch {
    let root = std::env::temp_dir().join(format!("eventmap-spool-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let spool = root.join("spool");
    Scratch { root, spool }
}

fn incoming(id: &str) -> Incoming {
    Incoming::new(
        Some(id.to_string()),
        format!("{{\"messageId\":\"{id}\"}}").into_bytes(),
    )
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
    let left = spool.read_after(None, 10).unwrap().events;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].json, b"{\"messageId\":\"c\"}");
    assert_eq!(spool.depth(), 1);
    assert_eq!(spool.dead_letters().unwrap()[0]["id"], "b");
    // New events carry on after the highest number ever used.
    rt.block_on(spool.append(vec![incoming("d")], NOW)).unwrap();
    let all = spool.read_after(None, 10).unwrap().events;
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(spool.read_after(Some(2), 10).unwrap().events.len(), 1);
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
    let anonymous = Incoming::new(None, b"{}".to_vec());
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
    // Two small events fit; a third does not.
    let config = SpoolConfig {
        max_bytes: 100,
        ..SpoolConfig::default()
    };
    let spool = Spool::open(&dir, config).unwrap();
    let ok = rt.block_on(spool.append(vec![incoming("a"), incoming("b")], NOW));
    assert!(matches!(ok, Ok(Admission::Accepted { spooled: 2, .. })));
    let full = rt.block_on(spool.append(vec![incoming("c")], NOW)).unwrap();
    assert_eq!(full, Admission::Full);
    assert_eq!(spool.depth(), 2);
    // The room comes back when a segment's events are all settled (it is deleted).
    rt.block_on(spool.settle(vec![Settle::Done(0), Settle::Done(1)], NOW))
        .unwrap();
    let again = rt.block_on(spool.append(vec![incoming("c")], NOW));
    assert!(
        matches!(again, Ok(Admission::Accepted { spooled: 1, .. })),
        "{again:?}"
    );
    assert_eq!(spool.read_after(None, 10).unwrap().events[0].seq, 2);
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
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
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

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    files::segments(dir)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

/// Three events in one segment, the spool closed; returns the segment's path.
fn three_events(dir: &Path, rt: &tokio::runtime::Runtime) -> PathBuf {
    let spool = Spool::open(dir, SpoolConfig::default()).unwrap();
    let events = vec![incoming("one"), incoming("two"), incoming("three")];
    rt.block_on(spool.append(events, NOW)).unwrap();
    drop(spool);
    segment_files(dir).pop().unwrap()
}

#[test]
fn a_byte_changed_in_a_stored_event_is_dead_lettered_corrupt_never_read() {
    let dir = scratch("flip");
    let rt = runtime();
    let segment = three_events(&dir, &rt);
    let mut bytes = std::fs::read(&segment).unwrap();
    // Inside the second event's JSON: `"two"` becomes `"twn"`, still valid JSON.
    let at = bytes.windows(5).rposition(|w| w == b"\"two\"").unwrap() + 3;
    bytes[at] = b'n';
    std::fs::write(&segment, &bytes).unwrap();
    let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
    let ids: Vec<String> = spool
        .read_after(None, 10)
        .unwrap()
        .events
        .iter()
        .map(|e| String::from_utf8_lossy(&e.json).into_owned())
        .collect();
    assert_eq!(
        ids,
        ["{\"messageId\":\"one\"}", "{\"messageId\":\"three\"}"]
    );
    let letters = spool.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["dead_letter"]["reason"], "corrupt");
    assert_eq!(
        letters[0]["id"], "two",
        "the id is kept where it still reads"
    );
    assert_eq!(spool.depth(), 2);
}

#[test]
fn damage_found_while_running_is_dead_lettered_too() {
    let dir = scratch("flip-live");
    let rt = runtime();
    let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
    rt.block_on(spool.append(vec![incoming("a"), incoming("b")], NOW))
        .unwrap();
    let segment = segment_files(&dir).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.windows(3).rposition(|w| w == b"\"b\"").unwrap() + 1;
    bytes[at] = b'c';
    std::fs::write(&segment, &bytes).unwrap();
    let read = spool.read_after(None, 10).unwrap();
    assert_eq!(read.events.len(), 1);
    assert_eq!(read.through, Some(1));
    super::tests::wait_for(|| spool.dead() == 1);
    assert_eq!(
        spool.dead_letters().unwrap()[0]["dead_letter"]["reason"],
        "corrupt"
    );
}

pub(super) fn wait_for(mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_zeroed_page_refuses_to_open_without_panicking_and_export_salvages_the_rest() {
    let dir = scratch("zeroed");
    let rt = runtime();
    {
        let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
        let events: Vec<Incoming> = (0..200)
            .map(|i| {
                Incoming::new(
                    Some(format!("z{i}")),
                    format!("{{\"messageId\":\"z{i}\",\"pad\":\"{}\"}}", "x".repeat(60))
                        .into_bytes(),
                )
            })
            .collect();
        rt.block_on(spool.append(events, NOW)).unwrap();
        rt.block_on(spool.settle(vec![Settle::Done(0)], NOW))
            .unwrap();
    }
    let segment = segment_files(&dir).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    assert!(bytes.len() > 12_288);
    bytes[4096..8192].fill(0);
    std::fs::write(&segment, &bytes).unwrap();
    let Err(err) = Spool::open(&dir, SpoolConfig::default()) else {
        panic!("a damaged spool opened");
    };
    assert!(matches!(err, SpoolError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("eventmap spool export"), "{err}");
    let mut out = Vec::new();
    let found = export_pending(&dir, &mut out).unwrap();
    let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
    assert_eq!(found.exported as usize, lines.len());
    assert_eq!(found.settled, 1, "the settled event is not exported");
    // About 4096 / 120 events lost to the page, one or two cut at its edges.
    let lost = 199 - lines.len();
    assert!((25..=45).contains(&lost), "{lost} lost: {found:?}");
    assert!(!found.damaged.is_empty());
    assert!(lines
        .iter()
        .all(|l| serde_json::from_str::<Value>(l).is_ok()));
    assert!(lines[0].contains("\"z1\"") && lines.last().unwrap().contains("\"z199\""));
}

#[test]
fn a_torn_write_at_the_end_is_cut_off_and_appends_go_on() {
    let dir = scratch("torn");
    let rt = runtime();
    let segment = three_events(&dir, &rt);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    std::io::Write::write_all(&mut file, b"EMsp\x40\x00\x00\x00half a rec").unwrap();
    drop(file);
    let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
    assert_eq!(spool.depth(), 3);
    rt.block_on(spool.append(vec![incoming("four")], NOW))
        .unwrap();
    drop(spool);
    let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
    let seqs: Vec<u64> = spool
        .read_after(None, 10)
        .unwrap()
        .events
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
}

#[test]
fn settled_segments_are_deleted_their_ids_still_deduplicated_and_numbering_goes_on() {
    let dir = scratch("reclaim");
    let rt = runtime();
    // The window is judged by the real clock when the spool opens.
    let now = crate::delivery::Clock::system().now_ms();
    let config = SpoolConfig {
        segment_bytes: 4096,
        ..SpoolConfig::default()
    };
    let spool = Spool::open(&dir, config.clone()).unwrap();
    for batch in 0..20 {
        let events = (0..10)
            .map(|i| incoming(&format!("r{batch}-{i}")))
            .collect();
        rt.block_on(spool.append(events, now)).unwrap();
    }
    assert!(segment_files(&dir).len() >= 3, "{:?}", segment_files(&dir));
    let held = spool.bytes();
    let settles = (0..200).map(Settle::Done).collect();
    rt.block_on(spool.settle(settles, now)).unwrap();
    wait_for(|| segment_files(&dir).len() == 1 && spool.bytes() == 0);
    assert!(held > 4096);
    assert_eq!(spool.depth(), 0);
    drop(spool);
    let spool = Spool::open(&dir, config).unwrap();
    let again = rt
        .block_on(spool.append(vec![incoming("r3-4"), incoming("new")], now + 1000))
        .unwrap();
    assert_eq!(
        again,
        Admission::Accepted {
            spooled: 1,
            duplicates: 1
        },
        "an id of a deleted segment is still in the window"
    );
    assert_eq!(spool.read_after(None, 10).unwrap().events[0].seq, 200);
}

#[test]
fn exported_dead_letters_are_removed_and_not_exported_twice() {
    let dir = scratch("export-dead");
    let rt = runtime();
    let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
    rt.block_on(spool.append(vec![incoming("d1"), incoming("d2")], NOW))
        .unwrap();
    let letter = |id: &str| DeadLetter {
        id: Some(id.into()),
        reason: DeadReason::Rejected,
        status: Some(400),
        code: None,
        message: "refused".into(),
        attempts: 1,
        at_ms: NOW,
        payload: DeadPayload::Line("{}".into()),
    };
    rt.block_on(spool.settle(
        vec![Settle::Dead {
            seq: 0,
            letter: letter("d1"),
        }],
        NOW,
    ))
    .unwrap();
    // Read beside the running spool, as `eventmap dead-letters` does.
    let first = read_dead_letters(&dir).unwrap();
    assert_eq!(first.len(), 1);
    remove_dead_letters_through(&dir, first[0].0).unwrap();
    assert!(read_dead_letters(&dir).unwrap().is_empty());
    rt.block_on(spool.settle(
        vec![Settle::Dead {
            seq: 1,
            letter: letter("d2"),
        }],
        NOW,
    ))
    .unwrap();
    let second = read_dead_letters(&dir).unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].1["id"], "d2");
    wait_for(|| spool.dead() == 1);
}

#[test]
fn a_second_process_cannot_open_a_spool_in_use() {
    let dir = scratch("locked");
    let _spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
    let second = Spool::open(&dir, SpoolConfig::default());
    assert!(matches!(second, Err(SpoolError::Locked { .. })));
}

#[test]
fn an_event_for_two_lanes_is_written_once_and_leaves_when_both_settled_it() {
    let dir = scratch("lanes");
    let rt = runtime();
    let ids = ["a", "b", "c", "d"];
    {
        let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
        let (openai, meta) = (spool.lane("openai").unwrap(), spool.lane("meta").unwrap());
        assert_eq!((openai, meta), (1, 2), "lane 0 is the default route");
        assert_eq!(spool.lane("openai").unwrap(), 1, "a name keeps its lane");
        let both = (1 << openai) | (1 << meta);
        let mut events: Vec<Incoming> = ids.iter().map(|id| incoming(id)).collect();
        for event in &mut events {
            event.lanes = both;
        }
        // One more for Meta only.
        let mut meta_only = incoming("e");
        meta_only.lanes = 1 << meta;
        events.push(meta_only);
        rt.block_on(spool.append(events, NOW)).unwrap();
        assert_eq!(spool.read_lane(openai, None, 10).unwrap().events.len(), 4);
        assert_eq!(spool.read_lane(meta, None, 10).unwrap().events.len(), 5);
        assert!(spool.read_after(None, 10).unwrap().events.is_empty());
        // OpenAI delivers all of its four; one of them is dead on Meta.
        let done = (0..4).map(Settle::Done).collect();
        rt.block_on(spool.settle_on(openai, done, NOW)).unwrap();
        let letter = DeadLetter {
            id: Some("b".into()),
            reason: DeadReason::Rejected,
            status: Some(400),
            code: None,
            message: "refused".into(),
            attempts: 1,
            at_ms: NOW,
            payload: DeadPayload::Line("{}".into()),
        };
        rt.block_on(spool.settle_on(meta, vec![Settle::Dead { seq: 1, letter }], NOW))
            .unwrap();
        assert_eq!(spool.lane_depth(openai), 0);
        assert_eq!(spool.lane_depth(meta), 4);
        assert_eq!(spool.depth(), 4, "each waits for Meta");
        assert_eq!(spool.waiting_lanes(), [(meta, 4)]);
    }
    // After a restart (as after a kill -9: the settles are on disk), each lane reads
    // only what it still owes.
    let spool = Spool::open(&dir, SpoolConfig::default()).unwrap();
    let (openai, meta) = (spool.lane("openai").unwrap(), spool.lane("meta").unwrap());
    assert!(spool.read_lane(openai, None, 10).unwrap().events.is_empty());
    let owed: Vec<u64> = spool
        .read_lane(meta, None, 10)
        .unwrap()
        .events
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(owed, [0, 2, 3, 4]);
    let letters = spool.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["route"], "meta");
    let done = owed.into_iter().map(Settle::Done).collect();
    rt.block_on(spool.settle_on(meta, done, NOW)).unwrap();
    assert_eq!(spool.depth(), 0);
    assert_eq!(spool.lane_name(meta).as_deref(), Some("meta"));
}
