//! Newline-delimited JSON input from files or stdin, line by line, with line numbers.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use anyhow::Context;

/// One source of input lines.
pub(crate) struct Source {
    /// How reports name it: the path, or `-` for stdin.
    pub name: String,
    reader: Box<dyn BufRead>,
}

impl Source {
    pub fn open(name: &str) -> anyhow::Result<Self> {
        let reader: Box<dyn BufRead> = if name == "-" {
            Box::new(BufReader::with_capacity(1 << 16, io::stdin()))
        } else {
            let file = File::open(name).with_context(|| format!("cannot open input {name}"))?;
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        Ok(Self {
            name: name.to_string(),
            reader,
        })
    }

    /// Reads the next line into `buf` (without its newline). `Ok(false)` at the end.
    /// Invalid UTF-8 is replaced rather than aborting the run: the JSON parser then
    /// reports that line as malformed.
    pub fn next_line(&mut self, buf: &mut String, bytes: &mut Vec<u8>) -> anyhow::Result<bool> {
        bytes.clear();
        let n = (&mut self.reader)
            .take(u64::MAX)
            .read_until(b'\n', bytes)
            .with_context(|| format!("cannot read input {}", self.name))?;
        if n == 0 {
            return Ok(false);
        }
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        buf.clear();
        match std::str::from_utf8(bytes) {
            Ok(s) => buf.push_str(s),
            Err(_) => buf.push_str(&String::from_utf8_lossy(bytes)),
        }
        Ok(true)
    }
}
