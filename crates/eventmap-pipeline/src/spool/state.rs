//! What the spool knows in memory about its segments: for each, which sequence numbers it
//! holds, how many bytes are committed (readers read no further), which lanes (routes)
//! each event goes to, and which of them have settled it.
//!
//! One bit an event says it is done (settled on every lane it goes to); an event that goes
//! to several lanes also has one bit on each of them. Lanes are kept as runs (events in a
//! row share them), so a one-route spool still costs one bit an event.

use std::collections::BTreeMap;

use super::records::SettleKey;

/// One segment file: the events `start..end`, in order, contiguous.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub start: u64,
    /// One past the last event committed.
    pub end: u64,
    /// Bytes committed: sound records up to here.
    pub len: u64,
    /// Bit `i`: event `start + i` is done.
    done: Vec<u64>,
    /// `(first seq, lanes)`: from that event on, events go to those lanes.
    lanes: Vec<(u64, u64)>,
    /// Per lane, bit `i`: event `start + i` is settled on that lane (kept only for events
    /// that go to more than one lane; a one-lane event is done when its lane settles it).
    on_lane: BTreeMap<u8, Vec<u64>>,
    /// Events not done yet.
    pub unsettled: u64,
    /// Per lane, its events not settled on it yet.
    lane_unsettled: BTreeMap<u8, u64>,
    /// When its newest event was received (epoch ms).
    pub newest_ms: u64,
}

fn bit(offset: u64) -> Option<(usize, u64)> {
    Some((usize::try_from(offset / 64).ok()?, 1u64 << (offset % 64)))
}

fn lanes_of(mask: u64) -> impl Iterator<Item = u8> {
    (0..64u8).filter(move |l| mask & (1 << l) != 0)
}

impl Segment {
    pub fn new(start: u64) -> Self {
        Self {
            start,
            end: start,
            len: 0,
            done: Vec::new(),
            lanes: Vec::new(),
            on_lane: BTreeMap::new(),
            unsettled: 0,
            lane_unsettled: BTreeMap::new(),
            newest_ms: 0,
        }
    }

    /// Takes `count` more events going to `lanes`, committed up to `len` bytes.
    pub fn extend(&mut self, count: u64, len: u64, newest_ms: u64, lanes: u64) {
        if count > 0 && self.lanes.last().is_none_or(|(_, l)| *l != lanes) {
            self.lanes.push((self.end, lanes));
        }
        self.end += count;
        self.unsettled += count;
        for lane in lanes_of(lanes) {
            *self.lane_unsettled.entry(lane).or_default() += count;
        }
        self.len = len;
        self.newest_ms = self.newest_ms.max(newest_ms);
        let words = usize::try_from((self.end - self.start).div_ceil(64)).unwrap_or(usize::MAX);
        if self.done.len() < words {
            self.done.resize(words, 0);
        }
        if lanes.count_ones() > 1 {
            for lane in lanes_of(lanes) {
                let bits = self.on_lane.entry(lane).or_default();
                if bits.len() < words {
                    bits.resize(words, 0);
                }
            }
        }
    }

    pub fn holds(&self, seq: u64) -> bool {
        (self.start..self.end).contains(&seq)
    }

    /// The lanes event `seq` goes to.
    pub fn lanes_of(&self, seq: u64) -> u64 {
        let at = self.lanes.partition_point(|(from, _)| *from <= seq);
        at.checked_sub(1).map_or(0, |i| self.lanes[i].1)
    }

    fn position(&self, seq: u64) -> Option<(usize, u64)> {
        if !self.holds(seq) {
            return None;
        }
        bit(seq - self.start)
    }

    /// Settled on every lane it goes to.
    pub fn is_done(&self, seq: u64) -> bool {
        let Some((word, bit)) = self.position(seq) else {
            return true; // Not here: settled long ago (its segment is gone).
        };
        self.done[word] & bit != 0
    }

    /// Needs nothing more from `lane`: done, not going there, or settled there.
    pub fn is_settled_on(&self, seq: u64, lane: u8) -> bool {
        let Some((word, bit)) = self.position(seq) else {
            return true;
        };
        if self.done[word] & bit != 0 || self.lanes_of(seq) & (1 << lane) == 0 {
            return true;
        }
        self.on_lane
            .get(&lane)
            .is_some_and(|bits| bits[word] & bit != 0)
    }

    /// Settles `seq` on the key's lane (or on all of them); false when nothing changed.
    pub fn settle(&mut self, key: SettleKey) -> bool {
        let seq = key.seq;
        let Some((word, bit)) = self.position(seq) else {
            return false;
        };
        if self.done[word] & bit != 0 {
            return false;
        }
        let lanes = self.lanes_of(seq);
        let Some(lane) = key.lane else {
            for lane in lanes_of(lanes) {
                let settled_there = self
                    .on_lane
                    .get(&lane)
                    .is_some_and(|bits| bits[word] & bit != 0);
                if !settled_there {
                    self.count_lane_settled(lane);
                }
            }
            self.mark_done(word, bit);
            return true;
        };
        if lanes & (1 << lane) == 0 {
            return false;
        }
        if lanes.count_ones() == 1 {
            self.count_lane_settled(lane);
            self.mark_done(word, bit);
            return true;
        }
        let Some(bits) = self.on_lane.get_mut(&lane) else {
            return false;
        };
        if bits[word] & bit != 0 {
            return false;
        }
        bits[word] |= bit;
        self.count_lane_settled(lane);
        let all_there = lanes_of(lanes).all(|l| {
            self.on_lane
                .get(&l)
                .is_some_and(|bits| bits[word] & bit != 0)
        });
        if all_there {
            self.mark_done(word, bit);
        }
        true
    }

    fn mark_done(&mut self, word: usize, bit: u64) {
        self.done[word] |= bit;
        self.unsettled -= 1;
    }

    fn count_lane_settled(&mut self, lane: u8) {
        if let Some(n) = self.lane_unsettled.get_mut(&lane) {
            *n = n.saturating_sub(1);
        }
    }

    /// Events of `lane` not settled on it.
    pub fn lane_unsettled(&self, lane: u8) -> u64 {
        self.lane_unsettled.get(&lane).copied().unwrap_or(0)
    }

    /// The lanes with events waiting here.
    pub fn waiting_lanes(&self) -> impl Iterator<Item = u8> + '_ {
        self.lane_unsettled
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(l, _)| *l)
    }

    /// What is settled, as settle keys, for rewriting the settle log: a done event as
    /// one key for every lane, a partly settled one a key per lane.
    pub fn settled_keys(&self) -> impl Iterator<Item = SettleKey> + '_ {
        (self.start..self.end).flat_map(move |seq| {
            let keys: Vec<SettleKey> = if self.is_done(seq) {
                vec![SettleKey::new(seq, None)]
            } else {
                lanes_of(self.lanes_of(seq))
                    .filter(|l| self.is_settled_on(seq, *l))
                    .map(|l| SettleKey::new(seq, Some(l)))
                    .collect()
            };
            keys
        })
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

    /// Settles an event on a lane (or all); false when nothing changed or it is unknown.
    pub fn settle(&mut self, key: SettleKey) -> bool {
        self.segments
            .range_mut(..=key.seq)
            .next_back()
            .is_some_and(|(_, s)| s.settle(key))
    }

    /// Done: settled on every lane it goes to.
    pub fn is_settled(&self, seq: u64) -> bool {
        self.segment_of(seq).is_none_or(|s| s.is_done(seq))
    }

    pub fn is_settled_on(&self, seq: u64, lane: u8) -> bool {
        self.segment_of(seq)
            .is_none_or(|s| s.is_settled_on(seq, lane))
    }

    /// Events waiting (on any lane).
    pub fn depth(&self) -> u64 {
        self.segments.values().map(|s| s.unsettled).sum()
    }

    /// Events waiting on `lane`.
    pub fn lane_depth(&self, lane: u8) -> u64 {
        self.segments.values().map(|s| s.lane_unsettled(lane)).sum()
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
    use crate::spool::records::LANE_0;

    fn on(seq: u64, lane: u8) -> SettleKey {
        SettleKey::new(seq, Some(lane))
    }

    #[test]
    fn settling_is_counted_once_per_event_across_segments() {
        let mut state = State::default();
        let mut first = Segment::new(0);
        first.extend(70, 700, 1, LANE_0);
        let mut second = Segment::new(70);
        second.extend(5, 50, 2, LANE_0);
        state.segments.insert(0, first);
        state.segments.insert(70, second);
        assert_eq!(state.depth(), 75);
        assert!(state.settle(on(69, 0)));
        assert!(!state.settle(on(69, 0)));
        assert!(state.settle(on(72, 0)));
        assert!(!state.settle(on(75, 0)), "not held anywhere");
        assert_eq!(state.depth(), 73);
        assert!(state.is_settled(69) && !state.is_settled(68));
        assert!(state.is_settled(1000), "unknown numbers are long settled");
        assert_eq!(
            state.segments[&70].settled_keys().collect::<Vec<_>>(),
            [SettleKey::new(72, None)]
        );
        assert_eq!(state.bytes(), 750);
    }

    #[test]
    fn an_event_of_two_lanes_is_done_when_both_settled_it() {
        let mut segment = Segment::new(0);
        segment.extend(2, 10, 1, 0b01);
        segment.extend(3, 20, 1, 0b11);
        assert_eq!(segment.lanes_of(1), 0b01);
        assert_eq!(segment.lanes_of(2), 0b11);
        assert_eq!(
            (segment.lane_unsettled(0), segment.lane_unsettled(1)),
            (5, 3)
        );
        // Lane 1 has nothing to do with events 0 and 1.
        assert!(!segment.settle(on(0, 1)));
        assert!(segment.is_settled_on(0, 1));
        assert!(segment.settle(on(2, 1)));
        assert!(!segment.settle(on(2, 1)));
        assert!(!segment.is_done(2) && segment.is_settled_on(2, 1));
        assert!(!segment.is_settled_on(2, 0));
        assert_eq!(segment.unsettled, 5);
        assert!(segment.settle(on(2, 0)));
        assert!(segment.is_done(2));
        assert_eq!(segment.unsettled, 4);
        assert_eq!(
            (segment.lane_unsettled(0), segment.lane_unsettled(1)),
            (4, 2)
        );
        // A damaged event is done on every lane at once.
        assert!(segment.settle(SettleKey::new(3, None)));
        assert_eq!(
            (segment.lane_unsettled(0), segment.lane_unsettled(1)),
            (3, 1)
        );
        assert!(segment.settle(on(4, 0)));
        let keys: Vec<SettleKey> = segment.settled_keys().collect();
        assert_eq!(
            keys,
            [SettleKey::new(2, None), SettleKey::new(3, None), on(4, 0)]
        );
        assert_eq!(segment.waiting_lanes().collect::<Vec<_>>(), [0, 1]);
    }
}
