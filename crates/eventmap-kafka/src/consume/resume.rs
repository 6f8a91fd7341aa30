//! Where a partition's reading resumes, checked on its first records.
//!
//! A new owner of a partition reads from the group's committed offset `N`, and everything
//! before `N` is done. Kafka answers a fetch from `N` with the record batch that holds `N`
//! and the client skips the records before it. Some brokers do not: tansu 0.6 answers with
//! the *next* batch, so a commit made inside a batch (any commit at a rebalance, or while
//! a batch is half delivered) made the next owner skip the rest of that batch silently.
//!
//! So the first record after an assignment is checked against `N`. When it is past `N`,
//! the partition is read again from further back (a window that grows until it reaches a
//! record before `N`), the records before `N` are dropped (they are done), and reading goes
//! on from `N`. If no record at `N` exists even then (compaction, retention, an operator's
//! reset, a broker bug of another kind), the range is a gap: counted and logged, never
//! hidden. On Kafka the first record is `N` and none of this runs.
//!
//! A commit inside a partition's *last* batch leaves no later batch to answer with: the
//! new owner hears nothing at all, and the rest of that batch would wait forever. The
//! broker's offsets cannot tell this apart from a partition with nothing new (tansu's
//! high watermark is the last batch's first offset + 1), so a partition that stays
//! silent for a while after its assignment is read again from further back the same way:
//! at worst a caught-up partition's last few hundred records are read and dropped once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::offsets::Partition;

/// The first window read again, in records. serve's producer writes a request's events
/// as one batch per partition, so most batches hold at most a few hundred.
const FIRST_WINDOW: i64 = 512;

/// What to do with a record just polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Process it.
    Take,
    /// Before the committed offset: done already, drop it.
    Drop,
    /// The broker skipped records: drop this one and read the partition again from
    /// `from`, for the record at `expected`.
    SeekTo { expected: i64, from: i64 },
    /// Records `from..to` are not on the partition: process this one (at `to`), and say so.
    Gap { from: i64, to: i64 },
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    /// The committed offset: the first record to process.
    from: i64,
    /// How far back the last read-again began (0 before any).
    window: i64,
    /// A record before `from` came since the last read-again began.
    seen_before: bool,
    /// No record of the partition has come since it was assigned or last read again
    /// (from this instant).
    silent_since: Option<Instant>,
}

/// How long a partition may stay silent after its assignment before the broker is asked
/// whether it holds records past the committed offset.
pub(crate) const SILENCE: Duration = Duration::from_secs(2);

/// The partitions whose first record is still to be checked.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    pending: HashMap<Partition, Pending>,
}

impl Resume {
    /// `partition` was assigned with committed offset `from`.
    pub fn expect(&mut self, partition: Partition, from: i64) {
        self.expect_at(partition, from, Instant::now());
    }

    fn expect_at(&mut self, partition: Partition, from: i64, now: Instant) {
        self.pending.insert(
            partition,
            Pending {
                from,
                window: 0,
                seen_before: false,
                silent_since: Some(now),
            },
        );
    }

    /// The partitions still waiting for their first record that have been silent for
    /// [`SILENCE`] or longer, each with its committed offset.
    pub fn silent(&self, now: Instant) -> Vec<(Partition, i64)> {
        self.pending
            .iter()
            .filter(|(_, p)| {
                p.silent_since
                    .is_some_and(|since| now.duration_since(since) >= SILENCE)
            })
            .map(|(partition, p)| (partition.clone(), p.from))
            .collect()
    }

    /// A silent partition, read again from further back: the seek to make, or `None`
    /// when it is no longer pending or was already read from its start (nothing further
    /// back to find; its silence is no longer watched).
    pub fn read_silent_again(&mut self, partition: &Partition, now: Instant) -> Option<Verdict> {
        let pending = self.pending.get_mut(partition)?;
        if pending.window > 0 && pending.window >= pending.from {
            pending.silent_since = None;
            return None;
        }
        pending.silent_since = Some(now);
        Some(pending.read_again())
    }

    /// `partition` was taken away.
    pub fn forget(&mut self, partition: &Partition) {
        self.pending.remove(partition);
    }

    /// The verdict on a record at `offset` of `partition`.
    pub fn check(&mut self, partition: &Partition, offset: i64) -> Verdict {
        let Some(pending) = self.pending.get_mut(partition) else {
            return Verdict::Take;
        };
        pending.silent_since = None;
        let from = pending.from;
        if offset < from {
            pending.seen_before = true;
            return Verdict::Drop;
        }
        if offset == from {
            self.pending.remove(partition);
            return Verdict::Take;
        }
        // Past `from`: either the broker skipped the rest of a batch (read again from
        // further back), or the records are gone (seen what came before, or read from the
        // start already).
        if pending.seen_before || (pending.window > 0 && pending.window >= from) {
            self.pending.remove(partition);
            return Verdict::Gap { from, to: offset };
        }
        pending.read_again()
    }
}

impl Pending {
    /// Reads the partition again from further back than last time.
    fn read_again(&mut self) -> Verdict {
        self.window = if self.window == 0 {
            FIRST_WINDOW
        } else {
            self.window.saturating_mul(4)
        };
        Verdict::SeekTo {
            expected: self.from,
            from: (self.from - self.window).max(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Partition {
        Partition::new("t", 0)
    }

    fn seek(expected: i64, from: i64) -> Verdict {
        Verdict::SeekTo { expected, from }
    }

    #[test]
    fn a_partition_that_resumes_where_committed_is_taken_as_is() {
        let mut resume = Resume::default();
        resume.expect(p(), 40);
        assert_eq!(resume.check(&p(), 40), Verdict::Take);
        assert_eq!(resume.check(&p(), 41), Verdict::Take);
        // Never assigned with an offset: nothing to check.
        assert_eq!(resume.check(&Partition::new("t", 1), 7), Verdict::Take);
    }

    #[test]
    fn a_skipped_batch_is_read_again_and_the_done_records_dropped() {
        // Batches of 100 at 0, 100, 200…; committed 1013, inside the batch at 1000; the
        // broker answers with the batch at 1100.
        let mut resume = Resume::default();
        resume.expect(p(), 1013);
        assert_eq!(resume.check(&p(), 1100), seek(1013, 1013 - 512));
        // From 501 it answers from the batch at 600: before 1013, dropped…
        for offset in 600..1013 {
            assert_eq!(resume.check(&p(), offset), Verdict::Drop, "{offset}");
        }
        // …and the record at the committed offset is taken, the rest after it.
        assert_eq!(resume.check(&p(), 1013), Verdict::Take);
        assert_eq!(resume.check(&p(), 1014), Verdict::Take);
    }

    #[test]
    fn the_window_grows_until_it_reaches_before_the_committed_offset() {
        let mut resume = Resume::default();
        resume.expect(p(), 5000);
        assert_eq!(resume.check(&p(), 6000), seek(5000, 5000 - 512));
        // One batch of 3000 from 2000: still past.
        assert_eq!(resume.check(&p(), 5100), seek(5000, 5000 - 2048));
        assert_eq!(resume.check(&p(), 5100), seek(5000, 0));
        assert_eq!(resume.check(&p(), 2000), Verdict::Drop);
        assert_eq!(resume.check(&p(), 5000), Verdict::Take);
    }

    #[test]
    fn records_that_are_not_there_are_a_gap_not_a_loop() {
        // Compacted away: what came before is there, then the records after the gap.
        let mut resume = Resume::default();
        resume.expect(p(), 300);
        assert_eq!(resume.check(&p(), 350), seek(300, 0));
        assert_eq!(resume.check(&p(), 290), Verdict::Drop);
        assert_eq!(resume.check(&p(), 350), Verdict::Gap { from: 300, to: 350 });
        assert_eq!(resume.check(&p(), 351), Verdict::Take);
        // Deleted by retention: even from the start, the first record is past.
        resume.expect(p(), 10);
        assert_eq!(resume.check(&p(), 900), seek(10, 0));
        assert_eq!(resume.check(&p(), 900), Verdict::Gap { from: 10, to: 900 });
    }

    #[test]
    fn a_partition_taken_away_is_forgotten() {
        let mut resume = Resume::default();
        resume.expect(p(), 10);
        resume.forget(&p());
        assert_eq!(resume.check(&p(), 99), Verdict::Take);
    }

    #[test]
    fn a_silent_partition_is_read_again_until_read_from_its_start() {
        // Committed 1013 inside the last batch (1000..1100): the broker answers with the
        // next batch, which does not exist, so nothing comes.
        let mut resume = Resume::default();
        let assigned = Instant::now();
        resume.expect_at(p(), 1013, assigned);
        assert!(resume.silent(assigned + SILENCE / 2).is_empty(), "not yet");
        let later = assigned + SILENCE;
        assert_eq!(resume.silent(later), vec![(p(), 1013)]);
        assert_eq!(
            resume.read_silent_again(&p(), later),
            Some(seek(1013, 1013 - 512))
        );
        assert!(
            resume.silent(later).is_empty(),
            "a fresh wait after the seek"
        );
        // Read from the batch at 500: the records before the commit are dropped.
        assert_eq!(resume.check(&p(), 500), Verdict::Drop);
        assert!(resume.silent(later + SILENCE).is_empty(), "heard from");
        assert_eq!(resume.check(&p(), 1013), Verdict::Take);
        assert_eq!(
            resume.read_silent_again(&p(), later),
            None,
            "no longer pending"
        );

        // Nothing at all comes, even from the start: watched no longer.
        resume.expect_at(p(), 600, assigned);
        assert_eq!(resume.read_silent_again(&p(), later), Some(seek(600, 88)));
        assert_eq!(resume.read_silent_again(&p(), later), Some(seek(600, 0)));
        assert_eq!(resume.read_silent_again(&p(), later), None);
        assert!(resume.silent(later + SILENCE).is_empty());
    }
}
