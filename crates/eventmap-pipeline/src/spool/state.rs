//! What the spool knows in memory about its segments: for each, which sequence numbers it
//! holds, how many bytes are committed (readers read no further), and one bit an event
//! saying whether it is settled. One bit an event is all that grows with the backlog.

use std::collections::BTreeMap;

/// One segment file: the events `start..end`, in order, contiguous.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub start: u64,
    /// One past the last event committed.
    pub end: u64,
    /// Bytes committed: sound records up to here.
    pub len: u64,
    /// Bit `i`: event `start + i` is settled.
    settled: Vec<u64>,
    /// Events not settled yet.
    pub unsettled: u64,
    /// When its newest event was received (epoch ms).
    pub newest_ms: u64,
}

impl Segment {
    pub fn new(start: u64) -> Self {
        Self {
            start,
            end: start,
            len: 0,
            settled: Vec::new(),
            unsettled: 0,
            newest_ms: 0,
        }
    }

    /// Takes `count` more events, committed up to `len` bytes.
    pub fn extend(&mut self, count: u64, len: u64, newest_ms: u64) {
        self.end += count;
        self.unsettled += count;
        self.len = len;
        self.newest_ms = self.newest_ms.max(newest_ms);
        let words = usize::try_from((self.end - self.start).div_ceil(64)).unwrap_or(usize::MAX);
        if self.settled.len() < words {
            self.settled.resize(words, 0);
        }
    }

    pub fn holds(&self, seq: u64) -> bool {
        (self.start..self.end).contains(&seq)
    }

    pub fn is_settled(&self, seq: u64) -> bool {
        let Some((word, bit)) = self.position(seq) else {
            return true; // Not here: settled long ago (its segment is gone).
        };
        self.settled[word] & bit != 0
    }

    /// Marks `seq` settled; false when it was already (or is not held here).
    pub fn settle(&mut self, seq: u64) -> bool {
        let Some((word, bit)) = self.position(seq) else {
            return false;
        };
        if self.settled[word] & bit != 0 {
            return false;
        }
        self.settled[word] |= bit;
        self.unsettled -= 1;
        true
    }

    fn position(&self, seq: u64) -> Option<(usize, u64)> {
        if !self.holds(seq) {
            return None;
        }
        let offset = seq - self.start;
        let word = usize::try_from(offset / 64).ok()?;
        Some((word, 1u64 << (offset % 64)))
    }

    /// The settled sequence numbers, for rewriting the settle log.
    pub fn settled_seqs(&self) -> impl Iterator<Item = u64> + '_ {
        (self.start..self.end).filter(|seq| self.is_settled(*seq))
    }
}

/// Every live segment, by first sequence number; the last is the one appended to.
#[derive(Debug, Default)]
pub(super) struct State {
    pub segments: BTreeMap<u64, Segment>,
}

impl State {
    pub fn segment_of(&self, seq: u64) -> Option<&Segment> {
        self.segments
            .range(..=seq)
            .next_back()
            .map(|(_, s)| s)
            .filter(|s| s.holds(seq))
    }

    /// Marks `seq` settled; false when it already was or is unknown.
    pub fn settle(&mut self, seq: u64) -> bool {
        self.segments
            .range_mut(..=seq)
            .next_back()
            .is_some_and(|(_, s)| s.settle(seq))
    }

    pub fn is_settled(&self, seq: u64) -> bool {
        self.segment_of(seq).is_none_or(|s| s.is_settled(seq))
    }

    /// Events waiting.
    pub fn depth(&self) -> u64 {
        self.segments.values().map(|s| s.unsettled).sum()
    }

    /// Bytes of segment files.
    pub fn bytes(&self) -> u64 {
        self.segments.values().map(|s| s.len).sum()
    }

    /// The segment appended to.
    pub fn active(&self) -> Option<&Segment> {
        self.segments.values().next_back()
    }

    pub fn active_mut(&mut self) -> Option<&mut Segment> {
        self.segments.values_mut().next_back()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settling_is_counted_once_per_event_across_segments() {
        let mut state = State::default();
        let mut first = Segment::new(0);
        first.extend(70, 700, 1);
        let mut second = Segment::new(70);
        second.extend(5, 50, 2);
        state.segments.insert(0, first);
        state.segments.insert(70, second);
        assert_eq!(state.depth(), 75);
        assert!(state.settle(69));
        assert!(!state.settle(69));
        assert!(state.settle(72));
        assert!(!state.settle(75), "not held anywhere");
        assert_eq!(state.depth(), 73);
        assert!(state.is_settled(69) && !state.is_settled(68));
        assert!(state.is_settled(1000), "unknown numbers are long settled");
        assert_eq!(state.segments[&70].settled_seqs().collect::<Vec<_>>(), [72]);
        assert_eq!(state.bytes(), 750);
    }
}
