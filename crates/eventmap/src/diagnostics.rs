//! Located diagnostics: every compile error names `file:line:col`.
//!
//! Errors are plain values collected while compiling and rendered once, at the edge
//! (the CLI prints them; a host may inspect them).

use std::fmt;
use std::sync::Arc;

use crate::codes::Code;

/// A position inside a mapping file (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl Location {
    pub fn new(file: Arc<str>, line: u32, column: u32) -> Self {
        Self { file, line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem found in a mapping file (or a pipeline file): its kind, where it is, and
/// what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The kind of mistake, stable across releases (docs/errors.md).
    pub code: Code,
    pub location: Location,
    pub message: String,
}

impl Diagnostic {
    pub fn new(code: Code, location: Location, message: impl Into<String>) -> Self {
        Self {
            code,
            location,
            message: message.into(),
        }
    }
}

/// `FILE:LINE:COL: message [E0104]`: the place first, as editors read it, the code last
/// (`eventmap explain-error E0104` says more).
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.location, self.message, self.code)
    }
}

/// Every error found while compiling one mapping, in file order.
#[derive(Debug, Clone, thiserror::Error)]
pub struct CompileError {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics while a compiler pass walks a file.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error(&mut self, code: Code, location: Location, message: impl Into<String>) {
        self.items.push(Diagnostic::new(code, location, message));
    }

    pub fn has_errors(&self) -> bool {
        !self.items.is_empty()
    }

    pub fn into_error(mut self) -> CompileError {
        self.items
            .sort_by_key(|d| (d.location.line, d.location.column));
        self.items.dedup();
        CompileError {
            diagnostics: self.items,
        }
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo, or if one
/// is a prefix of the other (`send_user` for `send_user_data`).
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let prefix_related =
        |c: &str| word.len() >= 3 && c.len() >= 3 && (c.starts_with(word) || word.starts_with(c));
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= limit || prefix_related(c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// " (did you mean `x`?)" or "".
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Optimal string alignment distance over characters: Levenshtein plus adjacent
/// transpositions, the most common typo (`form` for `from`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["sha256_email", "sha256_phone", "upper", "lower"];
        assert_eq!(did_you_mean("sha265_email", names), Some("sha256_email"));
        assert_eq!(did_you_mean("uper", names), Some("upper"));
        assert_eq!(did_you_mean("country", names), None);
        assert_eq!(did_you_mean("form", ["from", "const"]), Some("from"));
        assert_eq!(
            did_you_mean("send_user", ["send_user_data"]),
            Some("send_user_data")
        );
    }

    #[test]
    fn edit_distance_counts_characters_not_bytes() {
        assert_eq!(edit_distance("café", "cafe"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("form", "from"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
