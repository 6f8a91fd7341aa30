//! A destination's settings (credentials, endpoint, options): which ones it reads, from
//! which environment variables, and their values as resolved for one run.
//!
//! Secrets (an API key, an access token) are checked like any value, but never shown:
//! `Debug` redacts them and no error quotes a value.

use std::fmt;
use std::time::Duration;

/// One setting a destination reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The setting's name (`api_key`), what `--setting NAME=VALUE` says.
    pub name: &'static str,
    /// The environment variable it is read from when no flag gives it (`OPENAI_CAPI_KEY`).
    pub env: &'static str,
    /// The command line's own flag for it, when there is one (`--api-key`); messages
    /// name it.
    pub flag: Option<&'static str>,
    /// What it is, for messages (`conversions API key`).
    pub what: &'static str,
    /// Never shown: `Debug` redacts it, and the destination never logs it.
    pub secret: bool,
    /// Without it the destination cannot deliver.
    pub required: bool,
    /// The value when neither a flag nor the environment gives one.
    pub default: Option<&'static str>,
}

impl Setting {
    /// A setting read from `env`, optional and not secret; see the builder methods.
    pub const fn new(name: &'static str, env: &'static str, what: &'static str) -> Self {
        Self {
            name,
            env,
            flag: None,
            what,
            secret: false,
            required: false,
            default: None,
        }
    }

    pub const fn flag(mut self, flag: &'static str) -> Self {
        self.flag = Some(flag);
        self
    }

    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    /// Whether `name` is this setting's name or its flag.
    fn is_called(&self, name: &str) -> bool {
        self.name == name || self.flag == Some(name)
    }

    /// How a user gives it: `set OPENAI_CAPI_KEY (or pass --api-key)`.
    fn how_to_set(&self) -> String {
        match self.flag {
            Some(flag) => format!("set {} (or pass {flag})", self.env),
            None => format!("set {} (or pass --setting {}=…)", self.env, self.name),
        }
    }
}

/// Timeouts for each request. Without them a stalled server would hold a batch forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the TCP (and TLS) connection.
    pub connect: Duration,
    /// Between two reads of the response.
    pub read: Duration,
    /// For the whole request, response included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(20),
            total: Duration::from_secs(30),
        }
    }
}

/// Settings that cannot be used. No variant holds a value: secrets never reach a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("no {what}: {how}")]
    Missing { what: &'static str, how: String },
    #[error(
        "the {what} contains whitespace or control characters (was it pasted with a line break?)"
    )]
    Malformed { what: &'static str },
    #[error("`{destination}` has no setting `{name}` (its settings: {known})")]
    Unknown {
        destination: &'static str,
        name: String,
        known: String,
    },
    /// A value the destination refuses, in its own words (which never quote a secret).
    #[error("{0}")]
    Invalid(String),
}

/// A destination's settings as resolved for one run: each from a flag, else its
/// environment variable, else its default; trimmed.
#[derive(Clone)]
pub struct Settings {
    values: Vec<(Setting, String)>,
    /// Requests time out after these.
    pub timeouts: Timeouts,
    /// Test mode was asked for (`--validate-only`): a destination whose test mode needs
    /// a setting (Meta's `test_event_code`) says so when its sink is built.
    pub test_mode: bool,
}

impl Settings {
    /// Resolves `specs` from `given` (`(name or flag, value)` from the command line, which
    /// win: `("--api-key", …)` sets the setting whose `flag` that is), then
    /// `env`, then each default. A name in `given` that is no setting of the
    /// destination, a required setting left empty, or a secret with whitespace inside is
    /// an error; the first one in the destination's order is reported.
    pub fn resolve(
        destination: &'static str,
        specs: &[Setting],
        given: &[(String, String)],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        if let Some((name, _)) = given
            .iter()
            .find(|(name, _)| !specs.iter().any(|s| s.is_called(name)))
        {
            return Err(SettingsError::Unknown {
                destination,
                name: name.clone(),
                known: specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
            });
        }
        let mut values = Vec::with_capacity(specs.len());
        for spec in specs {
            let value = given
                .iter()
                .rev()
                .find(|(name, _)| spec.is_called(name))
                .map(|(_, v)| v.clone())
                .or_else(|| env(spec.env))
                .or_else(|| spec.default.map(str::to_string))
                .unwrap_or_default();
            let value = value.trim().to_string();
            if value.is_empty() {
                if spec.required {
                    return Err(SettingsError::Missing {
                        what: spec.what,
                        how: spec.how_to_set(),
                    });
                }
                continue;
            }
            if spec.secret && value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(SettingsError::Malformed { what: spec.what });
            }
            values.push((*spec, value));
        }
        Ok(Self {
            values,
            timeouts: Timeouts::default(),
            test_mode: false,
        })
    }

    /// The setting's value, when it has one (never empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(spec, _)| spec.name == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    pub fn with_test_mode(mut self, test_mode: bool) -> Self {
        self.test_mode = test_mode;
        self
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (spec, value) in &self.values {
            if spec.secret {
                map.entry(&spec.name, &"<redacted>");
            } else {
                map.entry(&spec.name, value);
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Setting] = &[
        Setting::new("endpoint", "X_ENDPOINT", "endpoint").default("https://x.example"),
        Setting::new("api_key", "X_KEY", "API key")
            .flag("--api-key")
            .secret()
            .required(),
        Setting::new("pixel_id", "X_PIXEL", "pixel id").required(),
    ];

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn flags_win_over_the_environment_and_defaults_fill_in() {
        let given = vec![("pixel_id".to_string(), " px ".to_string())];
        let s = Settings::resolve(
            "x",
            SPECS,
            &given,
            env(&[("X_KEY", "k1"), ("X_PIXEL", "no")]),
        )
        .unwrap();
        assert_eq!(s.get("pixel_id"), Some("px"));
        assert_eq!(s.get("api_key"), Some("k1"));
        assert_eq!(s.get("endpoint"), Some("https://x.example"));
    }

    #[test]
    fn missing_malformed_and_unknown_settings_are_named_never_quoted() {
        let missing = Settings::resolve("x", SPECS, &[], env(&[("X_PIXEL", "p")])).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "no API key: set X_KEY (or pass --api-key)"
        );
        let missing = Settings::resolve("x", SPECS, &[], env(&[("X_KEY", "k")])).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "no pixel id: set X_PIXEL (or pass --setting pixel_id=…)"
        );
        let broken = Settings::resolve(
            "x",
            SPECS,
            &[],
            env(&[("X_KEY", "sec ret"), ("X_PIXEL", "p")]),
        )
        .unwrap_err();
        assert!(!broken.to_string().contains("sec"), "{broken}");
        let unknown = Settings::resolve("x", SPECS, &[("colour".into(), "blue".into())], env(&[]))
            .unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "`x` has no setting `colour` (its settings: endpoint, api_key, pixel_id)"
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = Settings::resolve(
            "x",
            SPECS,
            &[],
            env(&[("X_KEY", "sk-secret"), ("X_PIXEL", "p")]),
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert!(shown.contains("\"p\""), "{shown}");
    }
}
