//! Which browser pages may talk to the intake (CORS), and which may use the ID sync.
//!
//! Two rules, because the two kinds of endpoint carry different risks:
//!
//! - The event endpoints (`/v1/track`, `/v1/batch`, …) are guarded by the write key; CORS
//!   only lets a listed page read the answer. A listed origin is echoed back; `*` answers
//!   `Access-Control-Allow-Origin: *` and never with credentials, so no page's cookies ride
//!   along. The opaque origin `null` (sandboxed frames, `file:` pages, some redirects) is
//!   never allowed, whatever the list says: any page can make itself `null`.
//! - `/v1/idsync` sets a cookie, so a page that may call it can set the visitor's
//!   attribution. Only origins listed by name may, and the server checks the `Origin`
//!   header itself before setting anything: a browser's CORS check only hides the answer
//!   from the page, the cookie would be stored anyway.

use hyper::header::HeaderValue;

/// The `Access-Control-Allow-Origin` an event endpoint answers `origin` with, if any.
pub fn allow_origin(allowed: &[String], origin: &HeaderValue) -> Option<HeaderValue> {
    let text = origin.to_str().ok()?;
    if text == "null" {
        return None;
    }
    if allowed.iter().any(|a| a == text) {
        return Some(origin.clone());
    }
    allowed
        .iter()
        .any(|a| a == "*")
        .then(|| HeaderValue::from_static("*"))
}

/// Whether `origin` is listed by name (not by `*`): the pages that may use the ID sync.
pub fn listed_by_name(allowed: &[String], origin: Option<&HeaderValue>) -> bool {
    let Some(text) = origin.and_then(|o| o.to_str().ok()) else {
        return false;
    };
    text != "null" && text != "*" && allowed.iter().any(|a| a == text)
}

/// Why `--cors-origin VALUE` cannot be what its writer meant, if it cannot: an origin is
/// `scheme://host[:port]`, exactly as a browser sends it (no path, no trailing slash).
pub fn check_origin(value: &str) -> Result<(), String> {
    if value == "*" {
        return Ok(());
    }
    if value == "null" {
        return Err("`null` is the origin any sandboxed page can take: it is never allowed".into());
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(format!(
            "`{value}` is not an origin: write it as scheme://host[:port], e.g. https://www.shop.example"
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("`{value}`: an origin's scheme is http or https"));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "`{value}` is not an origin: browsers send scheme://host[:port] with no path or trailing slash"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn listed_origins_are_echoed_any_origin_gets_a_star_and_null_nothing() {
        let shop = HeaderValue::from_static("https://www.shop.example");
        let other = HeaderValue::from_static("https://evil.example");
        let null = HeaderValue::from_static("null");
        let named = list(&["https://www.shop.example"]);
        assert_eq!(allow_origin(&named, &shop), Some(shop.clone()));
        assert_eq!(allow_origin(&named, &other), None);
        let any = list(&["*"]);
        assert_eq!(
            allow_origin(&any, &other),
            Some(HeaderValue::from_static("*"))
        );
        assert_eq!(allow_origin(&any, &null), None);
        assert_eq!(allow_origin(&list(&["null"]), &null), None);
    }

    #[test]
    fn only_origins_listed_by_name_may_use_the_id_sync() {
        let shop = HeaderValue::from_static("https://www.shop.example");
        assert!(listed_by_name(
            &list(&["https://www.shop.example"]),
            Some(&shop)
        ));
        assert!(!listed_by_name(&list(&["*"]), Some(&shop)));
        assert!(!listed_by_name(&list(&["https://www.shop.example"]), None));
        let null = HeaderValue::from_static("null");
        assert!(!listed_by_name(&list(&["null", "*"]), Some(&null)));
    }

    #[test]
    fn origins_are_checked_as_browsers_write_them() {
        assert!(check_origin("https://www.shop.example").is_ok());
        assert!(check_origin("http://127.0.0.1:8080").is_ok());
        assert!(check_origin("*").is_ok());
        for bad in [
            "null",
            "www.shop.example",
            "https://shop.example/",
            "ftp://x",
            "https://",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
