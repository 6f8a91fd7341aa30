//! The dedup window in memory: each recently accepted `messageId`, by a 128-bit key
//! (24 bytes and a little map overhead an id), with when it was accepted. Bounded twice:
//! by the window, and by a number of ids, past which the oldest are forgotten first.

use std::collections::HashMap;

pub(super) struct Seen {
    at: HashMap<u128, u64>,
    window_ms: u64,
    max_ids: usize,
}

impl Seen {
    pub fn new(window_ms: u64, max_ids: usize) -> Self {
        Self {
            at: HashMap::new(),
            window_ms,
            max_ids: max_ids.max(1),
        }
    }

    /// Whether `key` was accepted within the window before `now_ms`.
    pub fn fresh(&self, key: u128, now_ms: u64) -> bool {
        self.at
            .get(&key)
            .is_some_and(|at| *at >= now_ms.saturating_sub(self.window_ms))
    }

    pub fn remember(&mut self, key: u128, at_ms: u64) {
        let entry = self.at.entry(key).or_insert(at_ms);
        *entry = (*entry).max(at_ms);
    }

    /// Forgets what left the window, then the oldest while there are too many.
    pub fn prune(&mut self, now_ms: u64) {
        let mut since = now_ms.saturating_sub(self.window_ms);
        self.at.retain(|_, at| *at >= since);
        let mut step = (self.window_ms / 8).max(1);
        while self.at.len() > self.max_ids {
            since = since.saturating_add(step);
            self.at.retain(|_, at| *at >= since);
            step = step.saturating_mul(2);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn entries(&self) -> impl Iterator<Item = (u128, u64)> + '_ {
        self.at.iter().map(|(k, v)| (*k, *v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_within_the_window_and_the_oldest_go_first_past_the_bound() {
        let mut seen = Seen::new(1000, 3);
        seen.remember(1, 100);
        assert!(seen.fresh(1, 1100));
        assert!(!seen.fresh(1, 1101));
        assert!(!seen.fresh(2, 200));
        for (key, at) in [(2, 200), (3, 300), (4, 400)] {
            seen.remember(key, at);
        }
        seen.prune(500);
        assert_eq!(seen.len(), 3);
        assert!(!seen.fresh(1, 500), "the oldest is forgotten first");
        assert!(seen.fresh(4, 500));
        seen.prune(1250);
        assert_eq!(seen.len(), 2, "what left the window goes");
    }
}
