//! Which offsets may be committed: per partition, the lowest offset still in work.
//!
//! Records are handed out in offset order but finish in any order (a batch is retried
//! while the next one is delivered). Committing offset `N` tells the group that
//! everything before `N` is done, so the committable offset of a partition is its lowest
//! offset still in work, or one past the highest offset seen when nothing is.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    pub topic: Arc<str>,
    pub partition: i32,
}

impl Partition {
    pub fn new(topic: &str, partition: i32) -> Self {
        Self {
            topic: Arc::from(topic),
            partition,
        }
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

#[derive(Debug, Default)]
struct Track {
    /// Offsets handed out and not yet delivered, skipped or dead-lettered.
    in_work: BTreeSet<i64>,
    /// One past the highest offset handed out.
    next: Option<i64>,
    /// The last offset committed (or asked to be).
    committed: Option<i64>,
    /// The partition is being given up: records not yet processed are handed back.
    revoking: bool,
    /// The lowest offset handed back unprocessed: no commit may pass it.
    cut: Option<i64>,
}

impl Track {
    fn committable(&self) -> Option<i64> {
        let first = self.in_work.first().copied();
        match (first, self.cut) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b).or(self.next),
        }
    }
}

/// The offsets of every partition this consumer owns; shared by the thread that polls
/// and commits and the tasks that settle events.
#[derive(Debug, Default)]
pub struct Offsets {
    tracks: Mutex<HashMap<Partition, Track>>,
    settled: Condvar,
}

impl Offsets {
    fn tracks(&self) -> MutexGuard<'_, HashMap<Partition, Track>> {
        self.tracks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A record was handed out for work.
    pub fn begin(&self, partition: &Partition, offset: i64) {
        let mut tracks = self.tracks();
        let track = tracks.entry(partition.clone()).or_default();
        track.in_work.insert(offset);
        track.next = Some(track.next.map_or(offset + 1, |next| next.max(offset + 1)));
    }

    /// A record's work is over (delivered, skipped or dead-lettered). A partition given up
    /// meanwhile is ignored: its new owner reads from the last commit.
    pub fn settle(&self, partition: &Partition, offset: i64) {
        let mut tracks = self.tracks();
        if let Some(track) = tracks.get_mut(partition) {
            track.in_work.remove(&offset);
            if track.in_work.is_empty() {
                self.settled.notify_all();
            }
        }
    }

    /// A rebalance is taking `partitions` away: records of theirs not yet processed are
    /// handed back (see [`Offsets::hand_back`]) rather than waited for.
    pub fn begin_revoke(&self, partitions: &[Partition]) {
        let mut tracks = self.tracks();
        for partition in partitions {
            if let Some(track) = tracks.get_mut(partition) {
                track.revoking = true;
            }
        }
    }

    /// Called before a record is processed: `true` when its partition is being (or was)
    /// given up, so the record is left for the partition's next owner. No commit passes
    /// it.
    pub fn hand_back(&self, partition: &Partition, offset: i64) -> bool {
        let mut tracks = self.tracks();
        let Some(track) = tracks.get_mut(partition) else {
            return true; // Given up already.
        };
        if !track.revoking {
            return false;
        }
        track.in_work.remove(&offset);
        track.cut = Some(track.cut.map_or(offset, |cut| cut.min(offset)));
        if track.in_work.is_empty() {
            self.settled.notify_all();
        }
        true
    }

    /// The partitions whose committable offset moved since the last commit, with it.
    /// They are marked committed; [`Offsets::commit_failed`] undoes that.
    pub fn due(&self) -> Vec<(Partition, i64)> {
        let mut tracks = self.tracks();
        let mut due = Vec::new();
        for (partition, track) in tracks.iter_mut() {
            if let Some(offset) = track.committable() {
                if track.committed != Some(offset) {
                    track.committed = Some(offset);
                    due.push((partition.clone(), offset));
                }
            }
        }
        due.sort();
        due
    }

    /// A commit did not go through: offer these partitions again.
    pub fn commit_failed(&self, partitions: &[Partition]) {
        let mut tracks = self.tracks();
        for partition in partitions {
            if let Some(track) = tracks.get_mut(partition) {
                track.committed = None;
            }
        }
    }

    /// Waits until none of `partitions` has a record in work, or until `deadline`.
    /// Whether they all finished.
    pub fn wait_settled(&self, partitions: &[Partition], deadline: Instant) -> bool {
        let mut tracks = self.tracks();
        loop {
            let busy = partitions
                .iter()
                .any(|p| tracks.get(p).is_some_and(|track| !track.in_work.is_empty()));
            if !busy {
                return true;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            tracks = self
                .settled
                .wait_timeout(tracks, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Gives partitions up: what may be committed for each (when it moved), and how many
    /// records were still in work (abandoned to the next owner).
    pub fn revoke(&self, partitions: &[Partition]) -> (Vec<(Partition, i64)>, usize) {
        let mut tracks = self.tracks();
        let mut due = Vec::new();
        let mut abandoned = 0;
        for partition in partitions {
            if let Some(track) = tracks.remove(partition) {
                abandoned += track.in_work.len();
                if let Some(offset) = track.committable() {
                    if track.committed != Some(offset) {
                        due.push((partition.clone(), offset));
                    }
                }
            }
        }
        (due, abandoned)
    }

    /// Records in work across every partition.
    pub fn in_work(&self) -> usize {
        self.tracks().values().map(|t| t.in_work.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn p(n: i32) -> Partition {
        Partition::new("orders", n)
    }

    #[test]
    fn commits_stop_below_the_lowest_record_in_work() {
        let offsets = Offsets::default();
        for offset in 10..15 {
            offsets.begin(&p(0), offset);
        }
        assert_eq!(offsets.due(), vec![(p(0), 10)]);
        // 11..=14 finish first: nothing may be committed past 10.
        for offset in 11..15 {
            offsets.settle(&p(0), offset);
        }
        assert_eq!(offsets.due(), vec![]);
        offsets.settle(&p(0), 10);
        assert_eq!(offsets.due(), vec![(p(0), 15)]);
        assert_eq!(offsets.due(), vec![], "nothing moved");
    }

    #[test]
    fn partitions_are_independent_and_a_failed_commit_is_offered_again() {
        let offsets = Offsets::default();
        offsets.begin(&p(0), 0);
        offsets.begin(&p(1), 7);
        offsets.settle(&p(1), 7);
        assert_eq!(offsets.due(), vec![(p(0), 0), (p(1), 8)]);
        offsets.commit_failed(&[p(1)]);
        assert_eq!(offsets.due(), vec![(p(1), 8)]);
    }

    #[test]
    fn revoking_hands_back_what_is_done_and_counts_what_is_not() {
        let offsets = Offsets::default();
        for offset in 0..4 {
            offsets.begin(&p(2), offset);
        }
        offsets.settle(&p(2), 0);
        offsets.settle(&p(2), 1);
        offsets.settle(&p(2), 3);
        let (due, abandoned) = offsets.revoke(&[p(2)]);
        assert_eq!(due, vec![(p(2), 2)]);
        assert_eq!(abandoned, 1);
        // A late settle of a partition given up changes nothing.
        offsets.settle(&p(2), 2);
        assert_eq!(offsets.due(), vec![]);
        assert_eq!(offsets.in_work(), 0);
    }

    #[test]
    fn a_partition_being_revoked_hands_back_what_is_unprocessed_and_commits_below_it() {
        let offsets = Offsets::default();
        for offset in 0..6 {
            offsets.begin(&p(0), offset);
        }
        offsets.begin(&p(1), 0);
        offsets.begin_revoke(&[p(0)]);
        // 0 and 1 were in delivery; 2..6 were still queued and are handed back.
        for offset in 2..6 {
            assert!(offsets.hand_back(&p(0), offset));
        }
        assert!(!offsets.hand_back(&p(1), 0), "not being revoked");
        offsets.settle(&p(0), 1);
        assert!(
            !offsets.wait_settled(&[p(0)], Instant::now()),
            "0 is in delivery"
        );
        offsets.settle(&p(0), 0);
        assert!(offsets.wait_settled(&[p(0)], Instant::now()));
        let (due, abandoned) = offsets.revoke(&[p(0)]);
        assert_eq!(due, vec![(p(0), 2)], "up to the first record handed back");
        assert_eq!(abandoned, 0);
        assert!(
            offsets.hand_back(&p(0), 7),
            "records of a partition given up"
        );
    }

    #[test]
    fn waiting_ends_when_the_last_record_settles_or_at_the_deadline() {
        let offsets = Arc::new(Offsets::default());
        offsets.begin(&p(0), 5);
        let soon = Instant::now() + Duration::from_millis(50);
        assert!(!offsets.wait_settled(&[p(0)], soon));
        let settler = Arc::clone(&offsets);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            settler.settle(&p(0), 5);
        });
        let later = Instant::now() + Duration::from_secs(10);
        assert!(offsets.wait_settled(&[p(0)], later));
        thread.join().unwrap();
        assert!(
            offsets.wait_settled(&[p(1)], Instant::now()),
            "unknown: idle"
        );
    }
}
