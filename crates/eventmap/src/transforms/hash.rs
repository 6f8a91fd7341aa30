//! SHA-256 of normalized identifiers, as conversion APIs expect them.
//!
//! A value that already is a 64-hex SHA-256 digest is passed through (lowercased), so a
//! source that hashes on its side is never hashed twice. Error messages never quote the
//! value: it is personal data.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::transform::{expect_str, TransformError};

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn sha256_hex(input: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(input.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    out
}

/// Hashes `normalized(value)` unless `value` is already a digest; `None` when the
/// normalized value is empty (nothing to identify anyone by).
fn hash_with(
    value: &str,
    normalize: impl Fn(&str) -> Result<String, TransformError>,
) -> Result<Option<String>, TransformError> {
    let trimmed = value.trim();
    if is_sha256_hex(trimmed) {
        return Ok(Some(trimmed.to_ascii_lowercase()));
    }
    let normalized = normalize(trimmed)?;
    Ok((!normalized.is_empty()).then(|| sha256_hex(&normalized)))
}

/// Email: trim, then lowercase (Unicode-aware).
pub fn sha256_email(email: &str) -> Result<Option<String>, TransformError> {
    hash_with(email, |s| Ok(s.to_lowercase()))
}

/// Phone: the E.164 digits. Spaces, parentheses, periods and hyphens are removed, then a
/// leading `+` and leading zeros (international prefixes); 8 to 15 digits must remain.
/// No country code is added: numbers must arrive in international form.
pub fn sha256_phone(phone: &str) -> Result<Option<String>, TransformError> {
    hash_with(phone, |s| {
        let compact: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '(' | ')' | '.' | '-' | '\u{a0}'))
            .collect();
        let digits = compact
            .strip_prefix('+')
            .unwrap_or(&compact)
            .trim_start_matches('0');
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TransformError::new(
                "phone number contains characters other than digits and separators",
            ));
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(TransformError::new(format!(
                "phone number has {} digits; E.164 numbers have 8 to 15",
                digits.len()
            )));
        }
        Ok(digits.to_string())
    })
}

/// Name: trim, lowercase, remove ASCII punctuation (letters of any script are kept).
pub fn sha256_name(name: &str) -> Result<Option<String>, TransformError> {
    hash_with(name, |s| {
        Ok(s.chars()
            .filter(|c| !c.is_ascii_punctuation())
            .flat_map(char::to_lowercase)
            .collect::<String>()
            .trim()
            .to_string())
    })
}

/// External id: trim, lowercase.
pub fn sha256_external_id(id: &str) -> Result<Option<String>, TransformError> {
    hash_with(id, |s| Ok(s.to_lowercase()))
}

fn as_hash_input(value: &Value) -> Result<std::borrow::Cow<'_, str>, TransformError> {
    match value {
        // Numeric ids (customer 12345) are hashed as their decimal text.
        Value::Number(n) => Ok(std::borrow::Cow::Owned(n.to_string())),
        other => expect_str(other, "value to hash").map(std::borrow::Cow::Borrowed),
    }
}

fn wrap(out: Option<String>) -> Option<Value> {
    out.map(Value::String)
}

pub(crate) fn sha256_email_transform(
    v: &Value,
    _: &[Value],
) -> Result<Option<Value>, TransformError> {
    sha256_email(expect_str(v, "email")?).map(wrap)
}
pub(crate) fn sha256_phone_transform(
    v: &Value,
    _: &[Value],
) -> Result<Option<Value>, TransformError> {
    sha256_phone(&as_hash_input(v)?).map(wrap)
}
pub(crate) fn sha256_name_transform(
    v: &Value,
    _: &[Value],
) -> Result<Option<Value>, TransformError> {
    sha256_name(expect_str(v, "name")?).map(wrap)
}
pub(crate) fn sha256_external_id_transform(
    v: &Value,
    _: &[Value],
) -> Result<Option<Value>, TransformError> {
    sha256_external_id(&as_hash_input(v)?).map(wrap)
}
pub(crate) fn sha256_raw_transform(
    v: &Value,
    _: &[Value],
) -> Result<Option<Value>, TransformError> {
    Ok(Some(Value::String(sha256_hex(&as_hash_input(v)?))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        let a = sha256_email("  Jane.Doe@Example.COM ").unwrap().unwrap();
        let b = sha256_email("jane.doe@example.com").unwrap().unwrap();
        assert_eq!(a, b);
        assert_eq!(a, sha256_hex("jane.doe@example.com"));
    }

    #[test]
    fn known_digests() {
        // printf '%s' 'test@example.com' | sha256sum
        assert_eq!(
            sha256_email("Test@Example.com").unwrap().unwrap(),
            "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
        );
        // printf '%s' '' | sha256sum
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn pre_hashed_values_pass_through() {
        let digest = "973DFE463EC85785F5F95AF5BA3906EEDB2D931C24E69824A89EA65DBA4E813B";
        assert_eq!(
            sha256_email(digest).unwrap().unwrap(),
            digest.to_ascii_lowercase()
        );
        assert_eq!(
            sha256_phone(&digest.to_ascii_lowercase()).unwrap().unwrap(),
            digest.to_ascii_lowercase()
        );
    }

    #[test]
    fn unicode_is_lowercased_not_mangled() {
        assert_eq!(
            sha256_email("ÉLODIE@exemple.fr").unwrap(),
            sha256_email("élodie@exemple.fr").unwrap()
        );
        assert_eq!(
            sha256_name("  Zoë O'Brien ").unwrap().unwrap(),
            sha256_hex("zoë obrien")
        );
        assert_eq!(
            sha256_name("Łukasz").unwrap().unwrap(),
            sha256_hex("łukasz")
        );
    }

    #[test]
    fn phones_reduce_to_e164_digits() {
        let expected = sha256_hex("14155552671");
        for phone in ["+1 (415) 555-2671", "001 415.555.2671", "14155552671"] {
            assert_eq!(sha256_phone(phone).unwrap().unwrap(), expected, "{phone}");
        }
        assert!(sha256_phone("555-1234").is_err(), "7 digits is too short");
        let err = sha256_phone("+1 415 CALL NOW").unwrap_err();
        assert!(
            !err.0.contains("415"),
            "error must not echo the number: {err}"
        );
    }

    #[test]
    fn external_ids_and_blank_values() {
        assert_eq!(
            sha256_external_id(" AnOn-123 ").unwrap().unwrap(),
            sha256_hex("anon-123")
        );
        assert_eq!(sha256_email("   ").unwrap(), None);
        assert_eq!(
            sha256_external_id_transform(&Value::from(42), &[]).unwrap(),
            Some(Value::String(sha256_hex("42")))
        );
        assert!(sha256_email_transform(&Value::from(42), &[]).is_err());
    }
}
