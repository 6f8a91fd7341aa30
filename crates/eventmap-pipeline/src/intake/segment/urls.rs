//! Long URLs cut on the way in, so that a page view with a huge landing URL is kept.

use serde_json::Value;

/// URLs longer than this are cut to it at intake. A landing page's URL can be tens of
/// kilobytes (ad and tracking parameters), and analytics.js copies it into four fields
/// (`context.page.url` and `.search`, `properties.url` and `.search`): one 10 KB URL
/// made a 42 KB event, over the 32 KB limit, and the page view was refused. 2,048 bytes
/// keeps every real page's address and its usual parameters (browsers and analytics
/// tools have long cut URLs near there).
pub const MAX_URL_BYTES: usize = 2048;

/// The fields where analytics.js and the server SDKs put a page's URL and its parts: the
/// top-level member, and the path inside it.
const URL_FIELDS: [(&str, &str); 8] = [
    ("context", "page.url"),
    ("context", "page.search"),
    ("context", "page.referrer"),
    ("context", "page.path"),
    ("properties", "url"),
    ("properties", "search"),
    ("properties", "referrer"),
    ("properties", "path"),
];

/// Whether the top-level member `key` may hold a URL field.
pub(crate) fn may_hold_urls(key: &str) -> bool {
    URL_FIELDS.iter().any(|(top, _)| *top == key)
}

/// Cuts each URL field inside the top-level member `top` (its value `value`) that is over
/// [`MAX_URL_BYTES`] to that length; how many it cut.
pub(crate) fn cut_long_urls(top: &str, value: &mut Value) -> u32 {
    let mut cut = 0;
    for (_, path) in URL_FIELDS.iter().filter(|(t, _)| *t == top) {
        let mut field = Some(&mut *value);
        for part in path.split('.') {
            field = field.and_then(|v| v.get_mut(part));
        }
        if let Some(Value::String(url)) = field {
            if url.len() > MAX_URL_BYTES {
                cut_url(url, MAX_URL_BYTES);
                cut += 1;
            }
        }
    }
    cut
}

/// Cuts `url` to at most `max` bytes, at a character boundary and never inside a `%XX`
/// escape (half an escape would make the rest undecodable).
fn cut_url(url: &mut String, max: usize) {
    let mut end = max.min(url.len());
    while !url.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = url.as_bytes();
    for back in 1..=2 {
        if end >= back && bytes[end - back] == b'%' {
            end -= back;
            break;
        }
    }
    url.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_never_splits_a_character_or_an_escape() {
        for (url, max, cut) in [
            ("ab%2Fcd", 3, "ab"),
            ("ab%2Fcd", 4, "ab"),
            ("ab%2Fcd", 5, "ab%2F"),
            ("aé", 2, "a"),
            ("short", 10, "short"),
        ] {
            let mut text = url.to_string();
            cut_url(&mut text, max);
            assert_eq!(text, cut, "{url} at {max}");
        }
    }
}
