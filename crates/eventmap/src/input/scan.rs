//! A JSON reader for the pruned event tree: one pass over the line, no `Deserializer`.
//!
//! serde_json drives the pruning visitor (`tree.rs`) through its generic `Deserializer`,
//! a call per key and per value and a `Cow` through every layer; reading the line here
//! directly does the same work in far fewer steps (docs/benchmarks.md). It takes the
//! common case only. Whatever it cannot vouch for, it gives up on, and the caller parses
//! the line with serde_json, which stays the reference for the result and for the error
//! message: any syntax error, a control character in a string, nesting deeper than
//! [`MAX_DEPTH`]. What it does take, it takes as serde_json would: escapes are decoded,
//! and numbers other than plain non-negative integers are converted, by serde_json
//! itself, on the few bytes they span. So it never accepts a line serde_json rejects,
//! and gives the same tree where both accept it (the differential tests below).

use bumpalo::collections::Vec as ArenaVec;
use bumpalo::Bump;
use serde_json::Number;

use crate::input::readset::ReadNode;
use crate::input::tree::Borrowed;
use crate::json_string::next_special;

/// Deeper nesting is left to serde_json, whose limit for kept values is 128 levels.
const MAX_DEPTH: u32 = 64;

/// Room made at once for the fields of an object kept whole, whose count is not known
/// before it is read: growing a vector from empty cost two or three allocations and copies
/// an object (docs/benchmarks.md). A read node's object is given room for the keys it reads.
const WHOLE_OBJECT_FIELDS: usize = 8;

/// The tree of what `reads` reads in `text`, or `None` where serde_json must decide.
pub(crate) fn parse<'a>(text: &'a str, reads: &ReadNode, arena: &'a Bump) -> Option<Borrowed<'a>> {
    let mut scan = Scan { text, at: 0, arena };
    let value = scan.value(kept(reads), 0)?;
    scan.skip_whitespace();
    (scan.at == text.len()).then_some(value)
}

/// What is kept beneath a read node: `None` keeps everything.
fn kept(node: &ReadNode) -> Option<&ReadNode> {
    (!node.reads_everything()).then_some(node)
}

struct Scan<'a> {
    text: &'a str,
    at: usize,
    /// Where lists, objects and decoded strings are put.
    arena: &'a Bump,
}

impl<'a> Scan<'a> {
    #[inline(always)]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes().get(self.at).copied()
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A value, keeping beneath it what `reads` reads (`None`: everything). Inlined into
    /// the loops of `object` and `array`, so that a string or a number is built where it
    /// is pushed: returned from a call, every value was stored in pieces and loaded back
    /// whole, a load the processor cannot forward from the stores (docs/benchmarks.md).
    #[inline(always)]
    fn value(&mut self, reads: Option<&ReadNode>, depth: u32) -> Option<Borrowed<'a>> {
        Some(match self.peek()? {
            b'"' => Borrowed::Str(self.string()?),
            b'{' => self.object(reads, depth + 1)?,
            b'[' => self.array(reads, depth + 1)?,
            b'-' | b'0'..=b'9' => Borrowed::Number(self.number()?),
            b't' => {
                self.literal(b"true")?;
                Borrowed::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Borrowed::Bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                Borrowed::Null
            }
            _ => return None,
        })
    }

    #[inline(never)]
    fn object(&mut self, reads: Option<&ReadNode>, depth: u32) -> Option<Borrowed<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(Borrowed::Object(&[]));
        }
        let room = reads.map_or(WHOLE_OBJECT_FIELDS, ReadNode::width);
        let mut fields = ArenaVec::with_capacity_in(room, self.arena);
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.eat(b':')?;
            let child = match reads {
                None => Some(None),
                Some(node) => node.child(key).map(kept),
            };
            match child {
                Some(child) => {
                    let value = self.value(child, depth)?;
                    fields.push((key, value));
                }
                None => self.skip_value()?,
            }
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(Borrowed::Object(fields.into_bump_slice()));
                }
                _ => return None,
            }
        }
    }

    #[inline(never)]
    fn array(&mut self, reads: Option<&ReadNode>, depth: u32) -> Option<Borrowed<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(Borrowed::Array(&[]));
        }
        let mut items = ArenaVec::new_in(self.arena);
        loop {
            items.push(self.value(reads, depth)?);
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(Borrowed::Array(items.into_bump_slice()));
                }
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes().get(self.at..end)? == word).then(|| self.at = end)
    }

    /// A string from its opening quote: borrowed from the line unless it holds escapes
    /// (then decoded into the arena).
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at + 1;
        let (end, escaped) = string_end(self.bytes(), start)?;
        self.at = end + 1;
        if escaped {
            // serde_json decodes the escapes (and refuses lone surrogates) as it always has.
            let quoted = self.text.get(start - 1..end + 1)?;
            let decoded = serde_json::from_str::<String>(quoted).ok()?;
            Some(self.arena.alloc_str(&decoded))
        } else {
            self.text.get(start..end)
        }
    }

    fn number(&mut self) -> Option<Number> {
        let start = self.at;
        let span = number_span(self.bytes(), start)?;
        self.at = span.end;
        match span.plain_digits {
            // Up to 19 digits always fit in a u64: serde_json gives these as `u64` too.
            Some(digits) if digits <= 19 => {
                let value = self.bytes()[start..span.end]
                    .iter()
                    .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                Some(Number::from(value))
            }
            _ => serde_json::from_str::<Number>(self.text.get(start..span.end)?).ok(),
        }
    }

    /// Skips a value nobody reads, checking its syntax as serde_json does, without
    /// recursion: one bit a level records whether the container open there is an object.
    fn skip_value(&mut self) -> Option<()> {
        let mut objects: u64 = 0;
        let mut depth = 0u32;
        loop {
            match self.peek()? {
                b'"' => self.at = string_end(self.bytes(), self.at + 1)?.0 + 1,
                b'-' | b'0'..=b'9' => self.at = number_span(self.bytes(), self.at)?.end,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                open @ (b'{' | b'[') => {
                    self.at += 1;
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek()? == close {
                        self.at += 1;
                    } else {
                        if depth == u64::BITS {
                            return None;
                        }
                        objects = objects << 1 | u64::from(open == b'{');
                        depth += 1;
                        if open == b'{' {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                _ => return None,
            }
            // A value is complete: close the containers it completes, or go to the next.
            loop {
                if depth == 0 {
                    return Some(());
                }
                let in_object = objects & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        if in_object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    b'}' if in_object => {}
                    b']' if !in_object => {}
                    _ => return None,
                }
                self.at += 1;
                objects >>= 1;
                depth -= 1;
            }
        }
    }

    fn skip_key(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.at = string_end(self.bytes(), self.at + 1)?.0 + 1;
        self.eat(b':')
    }
}

/// Where the string whose contents start at `start` ends (its closing quote), and whether
/// it holds escapes; `None` for a control character, a bad escape or no closing quote.
#[inline]
fn string_end(bytes: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut at = start;
    let mut escaped = false;
    loop {
        at = next_special(bytes, at)?;
        match *bytes.get(at)? {
            b'"' => return Some((at, escaped)),
            b'\\' => {
                escaped = true;
                at = match *bytes.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at + 2,
                    b'u' => {
                        let hex = bytes.get(at + 2..at + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        at + 6
                    }
                    _ => return None,
                };
            }
            _ => return None,
        }
    }
}

struct NumberSpan {
    end: usize,
    /// The number of digits when the number is a non-negative integer with no fraction or
    /// exponent.
    plain_digits: Option<usize>,
}

/// The extent of the number at `start`, by JSON's grammar (serde_json's, which refuses a
/// leading zero before another digit).
#[inline]
fn number_span(bytes: &[u8], start: usize) -> Option<NumberSpan> {
    let digits_from = |at: usize| {
        let count = bytes.get(at..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        });
        at + count
    };
    let negative = bytes.get(start) == Some(&b'-');
    let int_start = start + usize::from(negative);
    let mut at = match *bytes.get(int_start)? {
        b'0' if bytes.get(int_start + 1).is_some_and(u8::is_ascii_digit) => return None,
        b'0' => int_start + 1,
        b'1'..=b'9' => digits_from(int_start + 1),
        _ => return None,
    };
    let int_end = at;
    if bytes.get(at) == Some(&b'.') {
        let end = digits_from(at + 1);
        if end == at + 1 {
            return None;
        }
        at = end;
    }
    if let Some(b'e' | b'E') = bytes.get(at) {
        at += 1;
        if let Some(b'+' | b'-') = bytes.get(at) {
            at += 1;
        }
        let end = digits_from(at);
        if end == at {
            return None;
        }
        at = end;
    }
    let plain = !negative && at == int_end;
    Some(NumberSpan {
        end: at,
        plain_digits: plain.then_some(int_end - int_start),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::parse::parse_with_serde;

    /// The reference: when the scan gives a tree, serde_json gives the same one.
    fn assert_agrees(text: &str, reads: &ReadNode) -> bool {
        let (ours, theirs) = (Bump::new(), Bump::new());
        let scanned = parse(text, reads, &ours);
        let reference = parse_with_serde(text, reads, &theirs).ok();
        if let Some(tree) = &scanned {
            assert_eq!(
                Some(tree),
                reference.as_ref(),
                "the scan and serde_json differ on {text:?}"
            );
        }
        scanned.is_some()
    }

    fn openai_mapping() -> crate::Mapping {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings/openai.yaml");
        crate::Mapping::from_file(path, &crate::CompileOptions::default()).expect("compiles")
    }

    #[test]
    fn every_corpus_event_is_scanned_and_agrees_with_serde_json() {
        let mapping = openai_mapping();
        let reads = &mapping.reads.tree;
        for line in crate::bench_corpus::corpus(2000) {
            assert!(assert_agrees(&line, reads), "not scanned: {line}");
            assert!(assert_agrees(&line, &ReadNode::everything()));
        }
    }

    #[test]
    fn edge_cases_agree_and_plain_ones_are_scanned() {
        let mapping = openai_mapping();
        let reads = &mapping.reads.tree;
        let scanned = [
            r#"{"messageId":"a\"b\\c\/\u00e9\n","x":[1,{"y":"\ud83d\ude00"}]}"#,
            r#" { "messageId" : "m" , "timestamp" : 12 , "properties" : { } } "#,
            r#"{"properties":{"products":[{"price":-1.5e3,"quantity":0},{"price":18446744073709551615}]}}"#,
            r#"{"properties":{"products":[{"price":123456789012345678901234567890}]}}"#,
            r#"{"properties":{"price":-0,"quantity":1E2,"n":0.0}}"#,
            r#"{"caf\u00e9":1,"context":{"traits":{"email":"\u0041@b.c"}}}"#,
            r#"{"skipped":{"a":[[],{},[{"b":[true,false,null,"\u1234",-0.5e-7]}]]}}"#,
            r#"{"messageId":"dup","messageId":"dup2"}"#,
            "[1,2,3]",
            "\"just a string\"",
            "5",
            "{}",
        ];
        for text in scanned {
            assert!(assert_agrees(text, reads), "not scanned: {text}");
            assert!(assert_agrees(text, &ReadNode::everything()));
        }
        let refused = [
            "",
            "{",
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":"\q"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":tru}"#,
            r#"{"a":1} x"#,
            r#"{"a" 1}"#,
            r#"{1:1}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":{"b":1]}"#,
            r#"{"messageId":"\ud800"}"#,
        ];
        for text in refused {
            assert!(!assert_agrees(text, reads), "scanned: {text}");
            assert!(!assert_agrees(text, &ReadNode::everything()), "{text}");
        }
        // A number out of f64's range is refused where it is read; unread, serde_json
        // checks only its syntax, and so does the scan.
        let huge = r#"{"a":1e400}"#;
        assert!(!assert_agrees(huge, &ReadNode::everything()));
        assert!(assert_agrees(huge, reads));
        // Deep nesting, read and unread, is left to serde_json's own limits.
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(!assert_agrees(&deep, reads));
        assert!(!assert_agrees(&deep, &ReadNode::everything()));
        let shallow = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert!(assert_agrees(&shallow, reads));
    }

    /// Every line made from a corpus event by deleting, doubling or replacing one byte
    /// with a byte that matters to JSON: whatever the scan accepts, serde_json accepts
    /// the same way.
    #[test]
    fn damaged_events_are_refused_or_agree_with_serde_json() {
        let mapping = openai_mapping();
        let reads = &mapping.reads.tree;
        let everything = ReadNode::everything();
        let replacements = b"{}[],:\"\\ 0-.eE+tfnu\x01";
        let mut scanned = 0;
        let mut tried = 0;
        for line in crate::bench_corpus::corpus(12) {
            let bytes = line.as_bytes();
            for at in (0..bytes.len()).step_by(3) {
                let mut doubled = bytes.to_vec();
                doubled.insert(at, bytes[at]);
                let mut variants = vec![[&bytes[..at], &bytes[at + 1..]].concat(), doubled];
                for &r in replacements {
                    let mut v = bytes.to_vec();
                    v[at] = r;
                    variants.push(v);
                }
                for variant in variants {
                    let Ok(text) = std::str::from_utf8(&variant) else {
                        continue;
                    };
                    tried += 1;
                    scanned += usize::from(assert_agrees(text, reads));
                    assert_agrees(text, &everything);
                }
            }
        }
        // Most damage breaks the line; some leaves valid JSON, which the scan takes.
        assert!(scanned > 0 && scanned < tried, "{scanned} of {tried}");
    }
}
