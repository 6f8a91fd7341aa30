//! Comparing object keys, the commonest operation of mapping an event: a path's keys are
//! looked up in the event's tree, the read set's keys in every event parsed, the output's
//! field names by the validator. Keys are short, so two equal-length keys are compared
//! with at most two overlapping loads a side instead of a call to `memcmp`, whose call
//! and size dispatch cost more than the comparison itself (docs/benchmarks.md).

/// Whether `a` and `b` are the same key.
#[inline(always)]
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let len = a.len();
    if len != b.len() {
        return false;
    }
    match len {
        0 => true,
        // The first, middle and last bytes are all the bytes.
        1..=3 => a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1],
        4..=8 => word4(a, 0) == word4(b, 0) && word4(a, len - 4) == word4(b, len - 4),
        9..=16 => word8(a, 0) == word8(b, 0) && word8(a, len - 8) == word8(b, len - 8),
        _ => a == b,
    }
}

#[inline(always)]
fn word4(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

#[inline(always)]
fn word8(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_every_length_compare_by_every_byte() {
        for len in 0..40 {
            let key: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            assert!(same_key(&key, &key.clone()));
            for at in 0..len {
                let mut other = key.clone().into_bytes();
                other[at] = b'Z';
                let other = String::from_utf8(other).unwrap();
                assert!(!same_key(&key, &other), "{key} against {other}");
            }
            assert!(!same_key(&key, &format!("{key}a")));
        }
        assert!(same_key("café", "café"));
        assert!(!same_key("café", "cafe\u{301}"));
    }
}
