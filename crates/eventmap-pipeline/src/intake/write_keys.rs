//! The write keys the intake accepts, checked in constant time.
//!
//! A hash-set lookup returns as soon as a byte differs, which lets a client that can time
//! the answers learn a key byte by byte. Here every key is kept as its SHA-256 digest and
//! a presented key is hashed once and compared with every stored digest, each comparison
//! in constant time and none cut short, so the time an answer takes says nothing about how
//! close the key came (nor how long the real keys are).
//!
//! Each key belongs to a source ([`super::sources`]): a key is kept with its source's
//! index, and the lookup that finds it gives that.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// A set of write keys, each with the index of its source; no key is kept in the clear.
#[derive(Clone, Default)]
pub struct WriteKeys {
    digests: Vec<([u8; 32], u32)>,
}

/// A key given to two sources: it could not say which one's routes its events go to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sources #{first} and #{second} share a write key: each key must belong to one source")]
pub struct SharedKey {
    pub first: u32,
    pub second: u32,
}

impl WriteKeys {
    /// The keys of one source (index 0), blank ones left out, each once.
    pub fn new<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut digests: Vec<([u8; 32], u32)> = keys
            .into_iter()
            .filter(|k| !k.as_ref().is_empty())
            .map(|k| (digest(k.as_ref()), 0))
            .collect();
        digests.sort_unstable();
        digests.dedup();
        Self { digests }
    }

    /// Keys with the index of their source; blank keys left out, a key given twice to
    /// the same source kept once, a key given to two sources refused.
    pub fn indexed<I, S>(keys: I) -> Result<Self, SharedKey>
    where
        I: IntoIterator<Item = (S, u32)>,
        S: AsRef<str>,
    {
        let mut digests: Vec<([u8; 32], u32)> = Vec::new();
        for (key, index) in keys {
            if key.as_ref().is_empty() {
                continue;
            }
            let digest = digest(key.as_ref());
            match digests.iter().find(|(d, _)| *d == digest) {
                Some((_, known)) if *known == index => {}
                Some((_, known)) => {
                    return Err(SharedKey {
                        first: *known,
                        second: index,
                    })
                }
                None => digests.push((digest, index)),
            }
        }
        digests.sort_unstable();
        Ok(Self { digests })
    }

    /// Whether `key` is one of the keys.
    pub fn contains(&self, key: &str) -> bool {
        self.index_of(key).is_some()
    }

    /// The index of `key`'s source, when it is one of the keys. Every stored key is
    /// compared, in constant time, whichever matches.
    pub fn index_of(&self, key: &str) -> Option<u32> {
        let presented = digest(key);
        let (found, index) = self.digests.iter().fold(
            (Choice::from(0), 0u32),
            |(found, index), (stored, stored_index)| {
                let here = stored.ct_eq(&presented);
                (
                    found | here,
                    u32::conditional_select(&index, stored_index, here),
                )
            },
        );
        bool::from(found).then_some(index)
    }

    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
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
    fn a_key_gives_its_source_and_belongs_to_one_only() {
        let keys = WriteKeys::indexed([("wk_brand_a", 0), ("wk_brand_b", 1), ("wk_brand_a", 0)])
            .expect("no key shared");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.index_of("wk_brand_a"), Some(0));
        assert_eq!(keys.index_of("wk_brand_b"), Some(1));
        assert_eq!(keys.index_of("wk_brand_c"), None);
        assert_eq!(WriteKeys::new(["k"]).index_of("k"), Some(0));
        let shared = WriteKeys::indexed([("wk", 0), ("wk", 3)]).map(|_| ());
        assert_eq!(
            shared,
            Err(SharedKey {
                first: 0,
                second: 3
            })
        );
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
