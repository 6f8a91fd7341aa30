//! The conversions key and pixel id. The key never shows in `Debug`, `Display` or errors.

use std::fmt;

/// A Conversions API key. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// What a request needs to be accepted: `Authorization: Bearer {key}` and `?pid={pixel}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub pixel_id: String,
    pub api_key: ApiKey,
}

/// Credentials that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error("no conversions API key: set OPENAI_CAPI_KEY (or pass --api-key)")]
    MissingKey,
    #[error("no pixel id: set OPENAI_PIXEL_ID (or pass --pixel-id)")]
    MissingPixel,
    #[error("the conversions API key contains whitespace or control characters (was it pasted with a line break?)")]
    MalformedKey,
}

impl Credentials {
    /// Checks and trims both values.
    pub fn new(pixel_id: &str, api_key: &str) -> Result<Self, CredentialsError> {
        let (pixel_id, api_key) = (pixel_id.trim(), api_key.trim());
        if api_key.is_empty() {
            return Err(CredentialsError::MissingKey);
        }
        if pixel_id.is_empty() {
            return Err(CredentialsError::MissingPixel);
        }
        if api_key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CredentialsError::MalformedKey);
        }
        Ok(Self {
            pixel_id: pixel_id.to_string(),
            api_key: ApiKey(api_key.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let c = Credentials::new("px_1", "sk-conv-secret-123").unwrap();
        let shown = format!("{c:?} {:#?}", c);
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("px_1"));
    }

    #[test]
    fn blank_or_broken_values_are_refused() {
        assert_eq!(
            Credentials::new("px", " "),
            Err(CredentialsError::MissingKey)
        );
        assert_eq!(
            Credentials::new("", "k"),
            Err(CredentialsError::MissingPixel)
        );
        assert_eq!(
            Credentials::new("px", "ab\ncd"),
            Err(CredentialsError::MalformedKey)
        );
        assert_eq!(Credentials::new(" px ", " k\n").unwrap().pixel_id, "px");
    }
}
