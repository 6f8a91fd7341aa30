//! Who may use the playground: a local server that writes files is a target for any web
//! page its user visits, so every request must show three things.
//!
//! - **The session token**, made fresh at each start and printed only in the URL: in the
//!   query for the page and its assets, in `X-Playground-Token` for the API. Another
//!   site's page cannot read it, and a cross-origin request with that header needs a
//!   CORS preflight this server never grants.
//! - **A loopback `Host`** with the server's own port: a DNS-rebinding page reaches
//!   127.0.0.1 under its own host name, which this refuses.
//! - **No foreign `Origin`**: a browser names the page behind a cross-origin request
//!   and a POST, and only the playground's own page may make them.

use subtle::ConstantTimeEq;

/// The header the page sends the token in.
pub(crate) const TOKEN_HEADER: &str = "x-playground-token";

/// Why a request is refused (the answer is 403 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("the Host header must be 127.0.0.1:{0} or localhost:{0} (a page under another name reached this server)")]
    ForeignHost(u16),
    #[error("no valid session token: open the URL `eventmap playground` printed")]
    NoToken,
    #[error("a page of another origin may not use the playground")]
    ForeignOrigin,
}

/// What a request shows of itself.
pub(crate) struct Presented<'a> {
    pub host: Option<&'a str>,
    /// From the query (the page, assets) or the header (the API).
    pub token: Option<&'a str>,
    pub origin: Option<&'a str>,
}

pub(crate) struct Guard {
    token: String,
    port: u16,
}

impl Guard {
    pub fn new(token: String, port: u16) -> Self {
        Self { token, port }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn check(&self, request: &Presented<'_>) -> Result<(), Refusal> {
        if !request.host.is_some_and(|h| self.own_host(h)) {
            return Err(Refusal::ForeignHost(self.port));
        }
        let token_ok = request
            .token
            .is_some_and(|t| bool::from(t.as_bytes().ct_eq(self.token.as_bytes())));
        if !token_ok {
            return Err(Refusal::NoToken);
        }
        if let Some(origin) = request.origin {
            let own = origin
                .strip_prefix("http://")
                .is_some_and(|host| self.own_host(host));
            if !own {
                return Err(Refusal::ForeignOrigin);
            }
        }
        Ok(())
    }

    fn own_host(&self, host: &str) -> bool {
        let port = self.port.to_string();
        ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|name| host.strip_prefix(name).and_then(|p| p.strip_prefix(':')) == Some(&port))
    }
}

/// A fresh session token: 32 random bytes, hex.
pub(crate) fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        host: &'a str,
        token: Option<&'a str>,
        origin: Option<&'a str>,
    ) -> Presented<'a> {
        Presented {
            host: Some(host),
            token,
            origin,
        }
    }

    #[test]
    fn only_the_own_host_the_token_and_the_own_origin_pass() {
        let guard = Guard::new("t0k3n".into(), 4100);
        assert_eq!(
            guard.check(&request("127.0.0.1:4100", Some("t0k3n"), None)),
            Ok(())
        );
        assert_eq!(
            guard.check(&request(
                "localhost:4100",
                Some("t0k3n"),
                Some("http://localhost:4100")
            )),
            Ok(())
        );
        for host in [
            "evil.example:4100",
            "127.0.0.1:4101",
            "127.0.0.1",
            "127.0.0.1:41000",
        ] {
            assert_eq!(
                guard.check(&request(host, Some("t0k3n"), None)),
                Err(Refusal::ForeignHost(4100)),
                "{host}"
            );
        }
        for token in [None, Some(""), Some("t0k3"), Some("t0k3n ")] {
            assert_eq!(
                guard.check(&request("127.0.0.1:4100", token, None)),
                Err(Refusal::NoToken),
                "{token:?}"
            );
        }
        for origin in [
            "https://evil.example",
            "null",
            "http://127.0.0.1:4101",
            "https://127.0.0.1:4100",
        ] {
            assert_eq!(
                guard.check(&request("127.0.0.1:4100", Some("t0k3n"), Some(origin))),
                Err(Refusal::ForeignOrigin),
                "{origin}"
            );
        }
    }

    #[test]
    fn tokens_are_fresh_and_long() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
