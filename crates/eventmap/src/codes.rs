//! Stable codes for every kind of mistake: in a mapping file (E01xx), in an event being
//! mapped (E02xx) and in a pipeline file (E03xx). A code never changes meaning once
//! released, so tests, tools and people can rely on it while messages improve;
//! `docs/errors.md` explains each one (what it means, an example, the fix), and
//! `eventmap explain-error CODE` prints that explanation.

use std::fmt;

/// Declares [`Code`] and its table together, so that no code lacks its text or title.
macro_rules! codes {
    ($($variant:ident $text:literal $title:literal,)*) => {
        /// The kind of a diagnostic or of an event's failure.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Code {
            $($variant,)*
        }

        /// Each code's text and a one-line title (docs/errors.md has the rest).
        const CODES: &[(Code, &str, &str)] = &[$((Code::$variant, $text, $title),)*];
    };
}

codes! {
    YamlSyntax "E0100" "the file is not valid YAML",
    UnknownField "E0101" "a key this part of the file does not have",
    WrongKind "E0102" "a value of the wrong kind",
    InvalidValue "E0103" "a value of the right kind that is not allowed",
    UnknownTransform "E0104" "an unknown transform",
    TransformArguments "E0105" "a transform given the wrong arguments",
    UnknownParameter "E0106" "an unknown parameter",
    ParameterValue "E0107" "a parameter without a valid value",
    UnknownTable "E0108" "an unknown table",
    LetScope "E0109" "a `let` value that cannot be read here",
    InputPath "E0110" "an input path that cannot be read",
    Expression "E0111" "an expression that does not compile",
    KeySource "E0112" "an output key without one source",
    KeyConflict "E0113" "output keys that cannot all be built",
    DeclaredType "E0114" "a declared type that cannot hold",
    EventMatch "E0115" "events matched twice, or never",
    Plugin "E0116" "a plug-in file that cannot be used",
    RelaxedRule "E0117" "a destination rule that cannot be relaxed",
    TransformFailed "E0201" "a transform failed on an event's value",
    ExpressionFailed "E0202" "an expression failed on an event",
    RequiredAbsent "E0203" "a required key has no value",
    TypeMismatch "E0204" "a value is not of its key's declared type",
    EachNotAList "E0205" "`each` found neither a list nor an object",
    FileUnreadable "E0300" "a file that cannot be read",
    RouteReference "E0301" "a route, or a route's mapping, that is not there",
    DestinationSetting "E0302" "a destination setting that is not there or not allowed",
    SourceKeys "E0303" "a source's write keys missing, or written in the file",
}

impl Code {
    /// The code as written: `E0104`.
    pub fn as_str(self) -> &'static str {
        self.entry().1
    }

    /// What the code means, in a few words.
    pub fn title(self) -> &'static str {
        self.entry().2
    }

    /// The code written as `text` (`E0104`, `e0104` or `0104`).
    pub fn parse(text: &str) -> Option<Code> {
        let text = text.trim();
        let digits = text
            .strip_prefix('E')
            .or_else(|| text.strip_prefix('e'))
            .unwrap_or(text);
        CODES
            .iter()
            .find(|(_, written, _)| written[1..] == *digits)
            .map(|(code, _, _)| *code)
    }

    /// Every code, in order.
    pub fn all() -> impl Iterator<Item = Code> {
        CODES.iter().map(|(code, _, _)| *code)
    }

    fn entry(self) -> &'static (Code, &'static str, &'static str) {
        // `codes!` gives every variant its entry, in declaration order.
        &CODES[self as usize]
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_entry() {
        let mut texts: Vec<&str> = CODES.iter().map(|(_, text, _)| *text).collect();
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), CODES.len(), "a code text is used twice");
        for (code, text, _) in CODES {
            assert_eq!(code.as_str(), *text);
            assert_eq!(Code::parse(text), Some(*code));
        }
        assert_eq!(Code::parse("e0104"), Some(Code::UnknownTransform));
        assert_eq!(Code::parse("0104"), Some(Code::UnknownTransform));
        assert_eq!(Code::parse("E9999"), None);
    }
}
