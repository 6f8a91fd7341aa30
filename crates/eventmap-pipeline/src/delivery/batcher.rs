//! Gathering events into batches: by count, by bytes, and by time for slow streams.

use std::time::{Duration, Instant};

use super::OutgoingEvent;

/// A batch ready to send: events that share one test mode.
#[derive(Debug)]
pub(super) struct ReadyBatch {
    pub events: Vec<OutgoingEvent>,
    pub test_mode: bool,
}

/// Open batches, one per test mode (a request carries one `validate_only`).
pub(super) struct Batcher {
    max_events: usize,
    max_bytes: usize,
    linger: Duration,
    open: [Open; 2],
}

#[derive(Default)]
struct Open {
    events: Vec<OutgoingEvent>,
    bytes: usize,
    since: Option<Instant>,
}

/// What [`Batcher::push`] did with an event.
pub(super) enum Admitted {
    /// Zero, one or two batches are now full.
    Queued(Vec<ReadyBatch>),
    /// The event alone exceeds the byte cap; it can never be sent.
    TooLarge(OutgoingEvent),
}

impl Batcher {
    pub fn new(max_events: usize, max_bytes: usize, linger: Duration) -> Self {
        Self {
            max_events: max_events.max(1),
            max_bytes,
            linger,
            open: Default::default(),
        }
    }

    pub fn push(&mut self, event: OutgoingEvent) -> Admitted {
        // Events are joined with commas inside the request's array.
        let size = event.json.len() + 1;
        if size > self.max_bytes {
            return Admitted::TooLarge(event);
        }
        let test_mode = event.test_mode;
        let mut ready = Vec::new();
        let open = &mut self.open[usize::from(test_mode)];
        if open.bytes + size > self.max_bytes {
            ready.extend(take(open, test_mode));
        }
        open.since.get_or_insert_with(Instant::now);
        open.bytes += size;
        open.events.push(event);
        if open.events.len() >= self.max_events {
            ready.extend(take(open, test_mode));
        }
        Admitted::Queued(ready)
    }

    /// When the oldest open batch has waited long enough to be sent part-full.
    pub fn deadline(&self) -> Option<Instant> {
        self.open
            .iter()
            .filter_map(|o| o.since)
            .min()
            .map(|since| since + self.linger)
    }

    /// Open batches that have waited their linger time by `now`.
    pub fn take_expired(&mut self, now: Instant) -> Vec<ReadyBatch> {
        let linger = self.linger;
        let mut ready = Vec::new();
        for (test_mode, open) in [false, true].into_iter().zip(self.open.iter_mut()) {
            if open.since.is_some_and(|since| since + linger <= now) {
                ready.extend(take(open, test_mode));
            }
        }
        ready
    }

    /// Every open batch, for the end of the stream.
    pub fn take_all(&mut self) -> Vec<ReadyBatch> {
        let mut ready = Vec::new();
        for (test_mode, open) in [false, true].into_iter().zip(self.open.iter_mut()) {
            ready.extend(take(open, test_mode));
        }
        ready
    }
}

fn take(open: &mut Open, test_mode: bool) -> Option<ReadyBatch> {
    if open.events.is_empty() {
        return None;
    }
    let events = std::mem::take(&mut open.events);
    open.bytes = 0;
    open.since = None;
    Some(ReadyBatch { events, test_mode })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str, test_mode: bool, padding: usize) -> OutgoingEvent {
        OutgoingEvent::new(id, json!({"id": id, "pad": "x".repeat(padding)}), test_mode)
    }

    fn ready(admitted: Admitted) -> Vec<Vec<String>> {
        match admitted {
            Admitted::Queued(batches) => batches
                .into_iter()
                .map(|b| b.events.into_iter().map(|e| e.id).collect())
                .collect(),
            Admitted::TooLarge(e) => panic!("{} too large", e.id),
        }
    }

    #[test]
    fn batches_fill_by_count_per_test_mode() {
        let mut b = Batcher::new(2, 1 << 20, Duration::from_secs(1));
        assert!(ready(b.push(event("a", false, 0))).is_empty());
        assert!(ready(b.push(event("t", true, 0))).is_empty());
        assert_eq!(ready(b.push(event("b", false, 0))), vec![vec!["a", "b"]]);
        let rest = b.take_all();
        assert_eq!(rest.len(), 1);
        assert!(rest[0].test_mode);
        assert_eq!(rest[0].events[0].id, "t");
    }

    #[test]
    fn batches_close_before_the_byte_cap() {
        let one = event("a", false, 50).json.len() + 1;
        let mut b = Batcher::new(100, one * 2 + 10, Duration::from_secs(1));
        assert!(ready(b.push(event("a", false, 50))).is_empty());
        assert!(ready(b.push(event("b", false, 50))).is_empty());
        assert_eq!(ready(b.push(event("c", false, 50))), vec![vec!["a", "b"]]);
        assert!(matches!(
            b.push(event("huge", false, 500)),
            Admitted::TooLarge(_)
        ));
    }

    #[test]
    fn part_full_batches_leave_after_their_linger() {
        let mut b = Batcher::new(10, 1 << 20, Duration::from_millis(50));
        assert_eq!(b.deadline(), None);
        let _ = b.push(event("a", false, 0));
        let deadline = b.deadline().unwrap();
        assert!(b
            .take_expired(deadline - Duration::from_millis(1))
            .is_empty());
        assert_eq!(b.take_expired(deadline).len(), 1);
        assert_eq!(b.deadline(), None);
    }
}
