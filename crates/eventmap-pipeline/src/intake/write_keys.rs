//! The write keys the intake accepts, checked in constant time.
//!
//! A hash-set lookup returns as soon as a byte differs, which lets a client that can time
//! the answers learn a key byte by byte. Here every key is kept as its SHA-256 digest and
//! a presented key is hashed once and compared with every stored digest, each comparison
//! in constant time and none cut short, so the time an answer takes says nothing about how
//! close the key came (nor how long the real keys are).

//!
//! Each key belongs to a source, which sends its events to some routes: a key is kept
//! with the spool lanes of those routes, and the lookup that finds it gives them.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// Lane 0 alone: where a server without routes sends every event.
const DEFAULT_LANES: u64 = 1;

/// A set of write keys, each with the lanes its events go to; no key is kept in the
/// clear.
#[derive(Clone, Default)]
pub struct WriteKeys {
    digests: Vec<([u8; 32], u64)>,
}

impl WriteKeys {
    /// The keys of a server without routes (lane 0), blank ones left out, each once.
    pub fn new<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::with_lanes(keys.into_iter().map(|k| (k, DEFAULT_LANES)))
    }

    /// Keys with the lanes (a bit each) their events go to; blank keys left out. A key
    /// given twice goes to the lanes of both.
    pub fn with_lanes<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = (S, u64)>,
        S: AsRef<str>,
    {
        let mut digests: Vec<([u8; 32], u64)> = Vec::new();
        for (key, lanes) in keys {
            if key.as_ref().is_empty() {
                continue;
            }
            let digest = digest(key.as_ref());
            match digests.iter_mut().find(|(d, _)| *d == digest) {
                Some((_, known)) => *known |= lanes,
                None => digests.push((digest, lanes)),
            }
        }
        digests.sort_unstable();
        Self { digests }
    }

    /// Whether `key` is one of the keys.
    pub fn contains(&self, key: &str) -> bool {
        self.lanes_of(key).is_some()
    }

    /// The lanes of `key`'s events, when it is one of the keys. Every stored key is
    /// compared, in constant time, whichever matches.
    pub fn lanes_of(&self, key: &str) -> Option<u64> {
        let presented = digest(key);
        let (found, lanes) = self.digests.iter().fold(
            (Choice::from(0), 0u64),
            |(found, lanes), (stored, stored_lanes)| {
                let here = stored.ct_eq(&presented);
                (
                    found | here,
                    u64::conditional_select(&lanes, stored_lanes, here),
                )
            },
        );
        bool::from(found).then_some(lanes)
    }

    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}

/// The write keys a running intake checks, replaced whole when the pipeline file is
/// reloaded; cheap to clone (the clones share them).
#[derive(Clone, Default, Debug)]
pub struct SharedWriteKeys(std::sync::Arc<std::sync::RwLock<WriteKeys>>);

impl SharedWriteKeys {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, WriteKeys> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn lanes_of(&self, key: &str) -> Option<u64> {
        self.read().lanes_of(key)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.read().contains(key)
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// From now on, these keys.
    pub fn replace(&self, keys: WriteKeys) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
    }
}

impl From<WriteKeys> for SharedWriteKeys {
    fn from(keys: WriteKeys) -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(keys)))
    }
}

impl std::fmt::Debug for WriteKeys {
    /// Says how many keys there are, never what they are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WriteKeys({} keys)", self.digests.len())
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The keys of a keys file: one a line, surrounding spaces trimmed, blank lines and lines
/// that start with `#` skipped. A `#` inside a key is part of the key.
pub fn parse_keys_file(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gives_the_lanes_of_its_source() {
        let keys = WriteKeys::with_lanes([("wk_brand_a", 0b01), ("wk_brand_b", 0b10)]);
        assert_eq!(keys.lanes_of("wk_brand_a"), Some(0b01));
        assert_eq!(keys.lanes_of("wk_brand_b"), Some(0b10));
        assert_eq!(keys.lanes_of("wk_brand_c"), None);
        assert_eq!(WriteKeys::new(["k"]).lanes_of("k"), Some(1));
    }

    #[test]
    fn only_the_keys_themselves_are_accepted() {
        let keys = WriteKeys::new(["wk_live", "wk#hash", ""]);
        assert_eq!(keys.len(), 2);
        assert!(keys.contains("wk_live"));
        assert!(keys.contains("wk#hash"));
        for other in ["", "wk", "wk_liv", "wk_live ", "WK_LIVE", "wk#"] {
            assert!(!keys.contains(other), "{other}");
        }
        assert!(!WriteKeys::default().contains(""));
        assert!(!format!("{keys:?}").contains("wk"));
    }

    #[test]
    fn a_keys_file_keeps_whole_lines_and_skips_comment_lines() {
        let text =
            "# the shop's keys\n wk#hash \n\n  # an indented comment\nwk_2 # not a comment\n";
        let keys: Vec<_> = parse_keys_file(text).collect();
        assert_eq!(keys, ["wk#hash", "wk_2 # not a comment"]);
    }
}
