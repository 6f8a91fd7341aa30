//! Newline-delimited input from files or stdin, line by line, as bytes.
//!
//! A line longer than the limit is skipped over as it streams past: only its length is
//! kept, so a 1 GB line costs no more memory than a short one. Bytes are handed on as
//! they are; `eventmap_pipeline::process::text_of` decides whether they are text, so
//! nothing is ever "repaired".

use std::fs::File;
use std::io::{self, BufRead, BufReader};

/// The default `--max-line-bytes`: far above Segment's 32 KB an event, and a dead letter
/// wraps its event in less than a kilobyte more.
pub(crate) const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// An input that cannot be opened or read.
#[derive(Debug, thiserror::Error)]
#[error("cannot {verb} input {name}: {source}")]
pub(crate) struct InputError {
    verb: &'static str,
    name: String,
    #[source]
    source: io::Error,
}

impl InputError {
    /// The reading thread ended without saying why (it panicked).
    pub fn lost(name: &str) -> Self {
        InputError {
            verb: "read",
            name: name.to_string(),
            source: io::Error::other("the reading thread ended unexpectedly"),
        }
    }
}

/// What [`Source::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// A line, now in the buffer (without its line ending).
    Line,
    /// A line over the limit, skipped; the buffer is empty.
    TooLong {
        bytes: u64,
    },
    End,
}

/// One source of input lines.
pub(crate) struct Source {
    /// How reports name it: the path, or `-` for stdin.
    pub name: String,
    reader: BufReader<Box<dyn io::Read + Send>>,
}

impl Source {
    pub fn open(name: &str) -> Result<Self, InputError> {
        let inner: Box<dyn io::Read + Send> = if name == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(name).map_err(|source| InputError {
                verb: "open",
                name: name.to_string(),
                source,
            })?)
        };
        let reader = BufReader::with_capacity(1 << 16, inner);
        Ok(Self {
            name: name.to_string(),
            reader,
        })
    }

    /// Reads the whole input, refusing one over `max_bytes` (`--explain` takes documents
    /// that span lines, so it cannot go line by line).
    pub fn read_whole(&mut self, max_bytes: usize) -> Result<Vec<u8>, InputError> {
        let mut all = Vec::new();
        let limit = u64::try_from(max_bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let read = io::Read::read_to_end(&mut io::Read::take(&mut self.reader, limit), &mut all);
        let error = |source| InputError {
            verb: "read",
            name: self.name.clone(),
            source,
        };
        read.map_err(error)?;
        if all.len() > max_bytes {
            return Err(error(io::Error::other(format!(
                "--explain reads an input whole, and this one is over {max_bytes} bytes: \
                 explain a sample of it"
            ))));
        }
        Ok(all)
    }

    /// Whether bytes read from the input wait in the buffer: when none do, the next line
    /// needs a read that may block (stdin waiting for its writer).
    pub fn has_buffered(&self) -> bool {
        !self.reader.buffer().is_empty()
    }

    /// Reads the next line into `line`, holding at most `max_bytes` of it.
    pub fn next_line(&mut self, line: &mut Vec<u8>, max_bytes: usize) -> Result<Next, InputError> {
        line.clear();
        let next = self.append_line(line, max_bytes);
        if let Ok(Next::TooLong { .. }) = next {
            *line = Vec::new(); // Give back what the long line took.
        }
        next
    }

    /// Appends the next line to `out` (where it starts at the length `out` had), holding
    /// at most `max_bytes` of it: a chunk of lines is read in place, not line by line into
    /// a buffer and copied from there. A line over the limit leaves `out` as it was.
    pub fn append_line(&mut self, out: &mut Vec<u8>, max_bytes: usize) -> Result<Next, InputError> {
        match read_capped(&mut self.reader, out, max_bytes) {
            Ok(next) => Ok(next),
            Err(source) => Err(InputError {
                verb: "read",
                name: self.name.clone(),
                source,
            }),
        }
    }
}

/// Appends a line to `out`; its bytes are `out[start..]`, `start` being the length `out`
/// had.
fn read_capped(reader: &mut impl BufRead, out: &mut Vec<u8>, max: usize) -> io::Result<Next> {
    let start = out.len();
    let mut total: u64 = 0;
    let mut too_long = false;
    let mut seen_any = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break; // The end, with or without a final newline.
        }
        seen_any = true;
        let newline = memchr::memchr(b'\n', buf);
        let part = &buf[..newline.unwrap_or(buf.len())];
        total += part.len() as u64;
        if !too_long {
            if out.len() - start + part.len() > max {
                too_long = true;
                out.truncate(start);
            } else {
                out.extend_from_slice(part);
            }
        }
        let used = part.len() + usize::from(newline.is_some());
        reader.consume(used);
        if newline.is_some() {
            break;
        }
    }
    if !seen_any {
        return Ok(Next::End);
    }
    if out.len() > start && out.last() == Some(&b'\r') {
        out.pop();
        total = total.saturating_sub(1);
    }
    Ok(if too_long {
        Next::TooLong { bytes: total }
    } else {
        Next::Line
    })
}

/// The report message for a line over the limit.
pub(crate) fn too_long_message(bytes: u64, max: usize) -> String {
    format!("line too long: {bytes} bytes, limit {max} (see --max-line-bytes)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(Next, Vec<u8>)> {
        let mut reader = BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            match read_capped(&mut reader, &mut line, max).unwrap() {
                Next::End => return out,
                next => out.push((next, line.clone())),
            }
        }
    }

    #[test]
    fn lines_appended_to_one_buffer_are_the_same_lines() {
        let input = b"ab\r\n\n1234567890\ncdefg\nh";
        let mut reader = BufReader::with_capacity(4, &input[..]);
        let mut data = b"before".to_vec();
        let mut appended = Vec::new();
        loop {
            let start = data.len();
            match read_capped(&mut reader, &mut data, 5).unwrap() {
                Next::End => break,
                next => appended.push((next, data[start..].to_vec())),
            }
        }
        assert_eq!(appended, lines(input, 5));
        assert_eq!(data, b"beforeabcdefgh");
    }

    #[test]
    fn lines_split_on_newlines_with_crlf_and_a_last_line_without_one() {
        let got = lines(b"ab\r\n\ncdefg\nh", 100);
        let texts: Vec<&[u8]> = got.iter().map(|(_, l)| l.as_slice()).collect();
        assert_eq!(texts, [&b"ab"[..], b"", b"cdefg", b"h"]);
        assert!(got.iter().all(|(n, _)| *n == Next::Line));
    }

    #[test]
    fn a_line_over_the_limit_is_measured_and_skipped_and_the_next_one_read() {
        let got = lines(b"12345\n1234567890\nok\n", 5);
        assert_eq!(got[0], (Next::Line, b"12345".to_vec()));
        assert_eq!(got[1], (Next::TooLong { bytes: 10 }, Vec::new()));
        assert_eq!(got[2], (Next::Line, b"ok".to_vec()));
    }
}
