//! Event names match whatever their spelling of case and separators: the compiler
//! indexes sections by the normalized name, the runtime looks events up by it, and
//! `lookup … ignore_case` compares table keys the same way.

/// The one spelling of an event name: "Order Completed", "order_completed" and
/// "order-completed" all give `order_completed`.
pub(crate) fn normalize_event_name(name: &str) -> String {
    NormalizedName::new(name).collect()
}

/// Whether two names are one event name ([`normalize_event_name`] of both equal), without
/// building either: `lookup … ignore_case` compares an event's name with every table key.
pub(crate) fn same_event_name(a: &str, b: &str) -> bool {
    NormalizedName::new(a).eq(NormalizedName::new(b))
}

/// The characters of a normalized event name: letters and digits lowercased, each run of
/// anything else one `_`, none at either end.
struct NormalizedName<'a> {
    chars: std::str::Chars<'a>,
    /// Lowercase characters still to give (a few letters lowercase to several).
    lower: Option<std::char::ToLowercase>,
    /// A separator run was seen after the last letter or digit given.
    gap: bool,
    started: bool,
}

impl<'a> NormalizedName<'a> {
    fn new(name: &'a str) -> Self {
        Self {
            chars: name.chars(),
            lower: None,
            gap: false,
            started: false,
        }
    }
}

impl Iterator for NormalizedName<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        if let Some(c) = self.lower.as_mut().and_then(Iterator::next) {
            return Some(c);
        }
        loop {
            let c = self.chars.next()?;
            if !c.is_alphanumeric() {
                self.gap = self.started;
                continue;
            }
            let mut lower = c.to_lowercase();
            if std::mem::take(&mut self.gap) {
                // The separator goes out first; the letter waits.
                self.lower = Some(lower);
                return Some('_');
            }
            self.started = true;
            let first = lower.next();
            self.lower = Some(lower);
            return first;
        }
    }
}
