//! The last answers of a lookup that a stream asks again and again: a handful of
//! currencies and country spellings recur in every event, while the crates' own lookups
//! compare each against a long table (a `match` over 180 strings for ISO 4217, several
//! perfect-hash tables after lowercasing for countries).

use std::borrow::Borrow;

/// How many answers are kept: a stream's handful of values, and a bound on the scan.
const REMEMBERED: usize = 16;

/// The answers of a pure lookup for its last distinct keys, oldest first.
pub(crate) struct Recent<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V: Copy> Recent<K, V> {
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The answer for `key`: remembered, or found by `find` and remembered under
    /// `owned(key)` (the oldest answer making room).
    pub fn get_or_find<Q>(
        &mut self,
        key: &Q,
        owned: impl FnOnce(&Q) -> K,
        find: impl FnOnce() -> V,
    ) -> V
    where
        K: Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        if let Some((_, value)) = self.entries.iter().find(|(k, _)| k.borrow() == key) {
            return *value;
        }
        let value = find();
        if self.entries.len() >= REMEMBERED {
            self.entries.remove(0);
        }
        self.entries.push((owned(key), value));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_answers_and_forgets_the_oldest() {
        let mut recent: Recent<String, usize> = Recent::new();
        let calls = std::cell::Cell::new(0);
        let mut ask = |key: &str| {
            recent.get_or_find(key, str::to_owned, || {
                calls.set(calls.get() + 1);
                key.len()
            })
        };
        assert_eq!(ask("abc"), 3);
        assert_eq!(ask("abc"), 3);
        assert_eq!(calls.get(), 1);
        for i in 0..REMEMBERED {
            ask(&"x".repeat(i + 10));
        }
        // "abc" was the oldest of seventeen: found again.
        assert_eq!(ask("abc"), 3);
        assert_eq!(calls.get(), REMEMBERED + 2);
    }
}
