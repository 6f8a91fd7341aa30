//! JSON strings byte by byte: where the next byte that ends a run of plain text lies (a
//! quote, a backslash, a control character), for the scan that reads events and the
//! writer that writes them, and a string written escaped as serde_json escapes it.

/// The first quote, backslash or control character at or after `at`, eight bytes at a
/// time: a byte equal to `c` is a zero byte of `word ^ c`, and a byte below 0x20 borrows
/// in `word - 0x20`. The lowest flagged byte is always a true one (a false flag needs a
/// borrow from a true one below it).
#[inline]
pub(crate) fn next_special(bytes: &[u8], mut at: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    const SPACES: u64 = ONES * 0x20;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let quote = word ^ QUOTES;
        let backslash = word ^ BACKSLASHES;
        let flagged = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | word.wrapping_sub(SPACES) & !word)
            & HIGHS;
        if flagged != 0 {
            return Some(at + (flagged.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = bytes.get(at..)?;
    let found = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(at + found)
}

/// A field's name as written before its value: `"name":`.
pub(crate) fn field_prefix(name: &str) -> Box<[u8]> {
    let mut prefix = Vec::with_capacity(name.len() + 3);
    write_str(&mut prefix, name);
    prefix.push(b':');
    prefix.into_boxed_slice()
}

/// Appends `text` as a JSON string, escaped as serde_json escapes it: `\"`, `\\`, the
/// short escapes for backspace, tab, newline, form feed and carriage return, `\u00xx`
/// (lowercase) for the other control characters, and nothing else.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(at) = next_special(bytes, start) {
        out.extend_from_slice(&bytes[start..at]);
        write_escape(out, bytes[at]);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        b'\t' => b't',
        b'\n' => b'n',
        0x0C => b'f',
        b'\r' => b'r',
        _ => {
            let hex = [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xF)]];
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&hex);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}
