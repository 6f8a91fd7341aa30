//! String basics.

use serde_json::Value;

use super::transform::{expect_str, TransformError};
use crate::value::kind_of;

fn map_str(value: &Value, f: impl Fn(&str) -> String) -> Result<Option<Value>, TransformError> {
    Ok(Some(Value::String(f(expect_str(value, "value")?))))
}

pub(crate) fn trim(value: &Value, _: &[Value]) -> Result<Option<Value>, TransformError> {
    map_str(value, |s| s.trim().to_string())
}

pub(crate) fn lower(value: &Value, _: &[Value]) -> Result<Option<Value>, TransformError> {
    map_str(value, str::to_lowercase)
}

pub(crate) fn upper(value: &Value, _: &[Value]) -> Result<Option<Value>, TransformError> {
    map_str(value, str::to_uppercase)
}

/// Letters and digits only (Unicode): spaces, punctuation and symbols removed, as
/// ad platforms normalize cities, states and zip codes before hashing them.
pub(crate) fn alnum(value: &Value, _: &[Value]) -> Result<Option<Value>, TransformError> {
    map_str(value, |s| {
        s.chars().filter(|c| c.is_alphanumeric()).collect()
    })
}

pub(crate) fn to_string(value: &Value, _: &[Value]) -> Result<Option<Value>, TransformError> {
    match value {
        Value::String(_) => Ok(Some(value.clone())),
        Value::Number(n) => Ok(Some(Value::String(n.to_string()))),
        Value::Bool(b) => Ok(Some(Value::String(b.to_string()))),
        other => Err(TransformError::new(format!(
            "cannot turn {} into a string",
            kind_of(other)
        ))),
    }
}

/// An identifier from any text: ASCII letters and digits lowercased, every other run of
/// characters turned into one `_`, no `_` at either end, at most `max` characters
/// (optional argument). Absent when nothing is left. Suits names like a custom event name.
pub(crate) fn snake_case(value: &Value, args: &[Value]) -> Result<Option<Value>, TransformError> {
    let text = expect_str(value, "value")?;
    let max =
        match args.first() {
            None => usize::MAX,
            Some(v) => v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                TransformError::new("snake_case length must be a positive integer")
            })? as usize,
        };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.truncate(max.min(out.len()));
    let out = out.trim_end_matches('_');
    Ok((!out.is_empty()).then(|| Value::String(out.to_string())))
}

/// The first value of query parameter `name` in a URL, percent-decoded; `None` when absent.
pub(crate) fn query_param(value: &Value, args: &[Value]) -> Result<Option<Value>, TransformError> {
    let url = expect_str(value, "url")?;
    let name = expect_str(
        args.first()
            .ok_or_else(|| TransformError::new("query_param needs a parameter name"))?,
        "parameter name",
    )?;
    Ok(query_param_of(url, name).map(Value::String))
}

/// The first value of query parameter `name` in `url` (anything up to a `?` is skipped),
/// percent-decoded, as plain text.
pub fn query_param_of(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name).then(|| percent_decode(value))
    })
}

/// `application/x-www-form-urlencoded` decoding; malformed escapes are kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn case_and_whitespace() {
        assert_eq!(trim(&json!("  a b  "), &[]).unwrap(), Some(json!("a b")));
        assert_eq!(upper(&json!("usd"), &[]).unwrap(), Some(json!("USD")));
        assert_eq!(lower(&json!("ÉCOLE"), &[]).unwrap(), Some(json!("école")));
        assert!(upper(&json!(5), &[]).is_err());
        assert_eq!(to_string(&json!(5), &[]).unwrap(), Some(json!("5")));
    }

    #[test]
    fn snake_case_identifiers() {
        assert_eq!(
            snake_case(&json!("Newsletter Opened!"), &[]).unwrap(),
            Some(json!("newsletter_opened"))
        );
        assert_eq!(
            snake_case(&json!("  --Demo  Booked-- "), &[]).unwrap(),
            Some(json!("demo_booked"))
        );
        assert_eq!(
            snake_case(&json!("Café Visit"), &[]).unwrap(),
            Some(json!("caf_visit"))
        );
        assert_eq!(
            snake_case(&json!("abc def"), &[json!(4)]).unwrap(),
            Some(json!("abc"))
        );
        assert_eq!(snake_case(&json!("!!!"), &[]).unwrap(), None);
        assert!(snake_case(&json!("x"), &[json!(0)]).is_err());
    }

    #[test]
    fn query_parameters() {
        let url = json!("https://shop.example/p?utm=x&oppref=abc%2F123&q=a+b#frag");
        assert_eq!(
            query_param(&url, &[json!("oppref")]).unwrap(),
            Some(json!("abc/123"))
        );
        assert_eq!(
            query_param(&url, &[json!("q")]).unwrap(),
            Some(json!("a b"))
        );
        assert_eq!(query_param(&url, &[json!("missing")]).unwrap(), None);
        assert_eq!(query_param_of("https://x.example/", "a"), None);
        assert_eq!(
            query_param_of("https://x.example/?a=%zz&b=%4", "a").as_deref(),
            Some("%zz")
        );
        assert_eq!(
            query_param_of("https://x.example/?b=%4", "b").as_deref(),
            Some("%4")
        );
        assert_eq!(
            query_param_of("https://x.example/?flag", "flag").as_deref(),
            Some("")
        );
    }
}
