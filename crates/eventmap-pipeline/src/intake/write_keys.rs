//! The write keys the intake accepts, checked in constant time.
//!
//! A hash-set lookup returns as soon as a byte differs, which lets a client that can time
//! the answers learn a key byte by byte. Here every key is kept as its SHA-256 digest and
//! a presented key is hashed once and compared with every stored digest, each comparison
//! in constant time and none cut short, so the time an answer takes says nothing about how
//! close the key came (nor how long the real keys are).

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// A set of write keys; no key is kept in the clear.
#[derive(Clone, Default)]
pub struct WriteKeys {
    digests: Vec<[u8; 32]>,
}

impl WriteKeys {
    /// The keys, blank ones left out, each once.
    pub fn new<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut digests: Vec<[u8; 32]> = keys
            .into_iter()
            .filter(|k| !k.as_ref().is_empty())
            .map(|k| digest(k.as_ref()))
            .collect();
        digests.sort_unstable();
        digests.dedup();
        Self { digests }
    }

    /// Whether `key` is one of the keys.
    pub fn contains(&self, key: &str) -> bool {
        let presented = digest(key);
        let found = self.digests.iter().fold(Choice::from(0), |found, stored| {
            found | stored.ct_eq(&presented)
        });
        found.into()
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
