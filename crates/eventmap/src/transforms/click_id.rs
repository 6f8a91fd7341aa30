//! Ad click ids (`oppref`): one rule for what one may be, used wherever a value enters:
//! the browser script (`clients/js/idsync.js` has the same pattern), `serve`'s
//! `/v1/idsync`, and a mapping's fallback to the landing page's `?oppref=`.
//!
//! The API asks for the id byte for byte and calls it opaque; what it hands out are short
//! URL-safe tokens. Anything else in that place (a `;`, script text, non-ASCII, kilobytes)
//! is not a click id but a crafted link, and is dropped rather than sent as attribution.

use serde_json::Value;

use super::transform::TransformError;

/// The longest click id accepted, in bytes.
pub const MAX_OPPREF_BYTES: usize = 256;

/// 1 to 256 URL-safe characters: `A–Z a–z 0–9 . _ ~ + / -`.
pub fn valid_oppref(value: &str) -> bool {
    (1..=MAX_OPPREF_BYTES).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/-".contains(&b))
}

/// The transform `valid_oppref`: the value when it is a well-formed click id, else absent
/// (so a fallback, `??` or `from:` list, goes on to the next source).
pub(crate) fn valid_oppref_transform(
    value: &Value,
    _: &[Value],
) -> Result<Option<Value>, TransformError> {
    Ok(match value {
        Value::String(s) if valid_oppref(s) => Some(value.clone()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_short_url_safe_tokens_are_click_ids() {
        assert!(valid_oppref("oppref_abc-123.XYZ~+/"));
        assert!(valid_oppref(&"x".repeat(256)));
        let long = "x".repeat(257);
        let hostile = [
            "",
            "a;b=c",
            "a=b",
            "a b",
            "<script>alert(1)</script>",
            "é",
            &long,
        ];
        for value in hostile {
            assert!(!valid_oppref(value), "{value}");
            assert_eq!(valid_oppref_transform(&json!(value), &[]), Ok(None));
        }
        assert_eq!(valid_oppref_transform(&json!(12), &[]), Ok(None));
        assert_eq!(
            valid_oppref_transform(&json!("opp_1"), &[]),
            Ok(Some(json!("opp_1")))
        );
    }
}
