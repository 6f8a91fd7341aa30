//! The ID sync's two server parts: the browser script at `/idsync.js`, and `/v1/idsync`,
//! which sets the `oppref` cookie with `Set-Cookie` so that it keeps its full lifetime
//! where browsers cap cookies written by script (Safari's ITP: 7 days).

use std::time::Duration;

/// The script, as shipped in `clients/js/idsync.js`.
pub const SCRIPT: &str = include_str!("../../../../clients/js/idsync.js");

/// How `/v1/idsync` writes the cookie.
#[derive(Debug, Clone)]
pub struct CookieConfig {
    pub name: String,
    /// `Domain=`: e.g. the site's registrable domain, so every subdomain reads it.
    pub domain: Option<String>,
    pub lifetime: Duration,
    /// Always mark it `Secure` (it is also marked so when the request came over https,
    /// as `X-Forwarded-Proto` says behind a proxy).
    pub secure: bool,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: "__oppref".into(),
            domain: None,
            lifetime: Duration::from_secs(30 * 86_400),
            secure: false,
        }
    }
}

/// The check the script makes too: URL-safe text only, so a crafted URL cannot write
/// anything but a value into the cookie.
pub fn valid_oppref(value: &str) -> bool {
    (1..=256).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/-".contains(&b))
}

impl CookieConfig {
    /// The `Set-Cookie` value for `oppref` (already checked with [`valid_oppref`]).
    pub fn set_cookie(&self, oppref: &str, https: bool) -> String {
        let mut cookie = format!(
            "{}={oppref}; Max-Age={}; Path=/; SameSite=Lax",
            self.name,
            self.lifetime.as_secs()
        );
        if let Some(domain) = &self.domain {
            cookie.push_str("; Domain=");
            cookie.push_str(domain);
        }
        if self.secure || https {
            cookie.push_str("; Secure");
        }
        cookie
    }
}

/// A strong validator for the script, so browsers revalidate cheaply (FNV-1a; not for
/// security, only to tell versions apart).
pub fn etag() -> String {
    let hash = SCRIPT.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_url_safe_values_pass() {
        assert!(valid_oppref("oppref_abc-123.XYZ~"));
        for hostile in ["", "a;b", "a=b", "a b", "<script>", &"x".repeat(257), "é"] {
            assert!(!valid_oppref(hostile), "{hostile}");
        }
    }

    #[test]
    fn the_cookie_says_its_lifetime_domain_and_security() {
        let config = CookieConfig {
            domain: Some("shop.example".into()),
            ..CookieConfig::default()
        };
        assert_eq!(
            config.set_cookie("abc", true),
            "__oppref=abc; Max-Age=2592000; Path=/; SameSite=Lax; Domain=shop.example; Secure"
        );
        assert!(!CookieConfig::default()
            .set_cookie("abc", false)
            .contains("Secure"));
    }

    #[test]
    fn the_script_is_small() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(SCRIPT.as_bytes()).unwrap();
        let size = gz.finish().unwrap().len();
        assert!(size < 2048, "idsync.js is {size} bytes gzipped");
    }
}
