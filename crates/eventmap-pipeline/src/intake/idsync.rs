//! The ID sync's two server parts: the browser script at `/idsync.js`, and `/v1/idsync`,
//! which sets the `oppref` cookie with `Set-Cookie` so that it keeps its full lifetime
//! where browsers cap cookies written by script (Safari's ITP: 7 days).

use std::time::Duration;

/// The script, as shipped in `clients/js/idsync.js`.
pub const SCRIPT: &str = include_str!("../../../../clients/js/idsync.js");

/// Its ES-module wrapper (`clients/js/idsync.mjs`), which imports `./idsync.js` beside it.
pub const MODULE: &str = include_str!("../../../../clients/js/idsync.mjs");

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

impl CookieConfig {
    /// The `Set-Cookie` value for `oppref` (already checked with
    /// [`eventmap::transforms::valid_oppref`]).
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

    /// The `Set-Cookie` values that delete the cookie: the one this server sets (with its
    /// `Domain`) and a host-only one, which is where a script without `domain` wrote it.
    pub fn clear_cookies(&self, https: bool) -> Vec<String> {
        let secure = if self.secure || https { "; Secure" } else { "" };
        let host_only = format!("{}=; Max-Age=0; Path=/; SameSite=Lax{secure}", self.name);
        match &self.domain {
            Some(domain) => vec![
                format!(
                    "{}=; Max-Age=0; Path=/; SameSite=Lax; Domain={domain}{secure}",
                    self.name
                ),
                host_only,
            ],
            None => vec![host_only],
        }
    }
}

/// A strong validator for the script, so browsers revalidate cheaply (FNV-1a; not for
/// security, only to tell versions apart).
pub fn etag(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn clearing_deletes_the_domain_cookie_and_the_host_only_one() {
        let config = CookieConfig {
            domain: Some("shop.example".into()),
            ..CookieConfig::default()
        };
        assert_eq!(
            config.clear_cookies(false),
            [
                "__oppref=; Max-Age=0; Path=/; SameSite=Lax; Domain=shop.example",
                "__oppref=; Max-Age=0; Path=/; SameSite=Lax"
            ]
        );
        assert_eq!(CookieConfig::default().clear_cookies(true).len(), 1);
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
