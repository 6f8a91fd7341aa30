//! The pipeline file (`eventmap serve --config pipeline.yaml`): the routes (each a
//! mapping, whose `destination:` says where it goes, its settings by environment variable
//! and its delivery), the sources (write keys, CORS origins, the routes their events go
//! to), the listener and the spool.
//!
//! It is read like a mapping: every mistake at its `FILE:LINE:COL`, with a suggestion,
//! all of them at once ([`PipelineConfig::load`]). What needs the mappings compiled (a
//! route's settings against its destination's) is checked by [`RouteConfig::check_settings`]
//! once the host has compiled them. The format is in docs/serve.md; its JSON Schema is
//! [`schema`].

mod model;
mod parse;
mod reader;
mod schema;
mod vocabulary;

use std::path::Path;
use std::sync::Arc;

use eventmap::{Code, Diagnostic, Location};

use crate::destination::{Destination, SettingsError};

pub use model::{
    KeySource, LimitsSection, PipelineConfig, RouteConfig, RouteDelivery, RouteSetting,
    SettingValue, SourceConfig, SpoolSection, StartError,
};
pub use schema::{pipeline_schema, PIPELINE_SCHEMA_ID};

impl PipelineConfig {
    /// Reads and checks the file: every mistake, located, at once. Relative paths in it
    /// are relative to the file's directory.
    pub fn load(path: &Path) -> Result<Self, Vec<Diagnostic>> {
        match Self::load_partly(path) {
            (Some(config), errors) if errors.is_empty() => Ok(config),
            (_, errors) => Err(errors),
        }
    }

    /// The file as far as it reads (`None` when it cannot be read or is not YAML), with
    /// every mistake: for a check that also compiles the mappings of the routes that read
    /// well, so that all mistakes are reported at once.
    pub fn load_partly(path: &Path) -> (Option<Self>, Vec<Diagnostic>) {
        let file: Arc<str> = Arc::from(path.display().to_string());
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse_partly(&text, path),
            Err(e) => (
                None,
                vec![Diagnostic::new(
                    Code::FileUnreadable,
                    Location::new(file, 1, 1),
                    format!("cannot read the pipeline file: {e}"),
                )],
            ),
        }
    }

    /// [`PipelineConfig::load`] of `text`, as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Vec<Diagnostic>> {
        match Self::parse_partly(text, path) {
            (Some(config), errors) if errors.is_empty() => Ok(config),
            (_, errors) => Err(errors),
        }
    }

    fn parse_partly(text: &str, path: &Path) -> (Option<Self>, Vec<Diagnostic>) {
        let file: Arc<str> = Arc::from(path.display().to_string());
        let root = match eventmap::yaml::parse(text, &file) {
            Ok(root) => root,
            Err(d) => return (None, vec![d]),
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let (config, errors) = parse::config(&root, path, base);
        (Some(config), errors)
    }

    pub fn route(&self, name: &str) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// The names of the routes, in file order.
    pub fn route_names(&self) -> Vec<&str> {
        self.routes.iter().map(|r| r.name.as_str()).collect()
    }
}

impl RouteConfig {
    /// Its settings checked against its destination's: each a setting the destination
    /// has (with a suggestion), and a secret never written in the file.
    pub fn check_settings(&self, destination: &dyn Destination) -> Vec<Diagnostic> {
        let specs = destination.settings();
        let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
        let mut errors = Vec::new();
        for setting in &self.settings {
            let Some(spec) = specs.iter().find(|s| s.name == setting.name) else {
                errors.push(Diagnostic::new(
                    Code::DestinationSetting,
                    setting.location.clone(),
                    format!(
                        "`{}` has no setting `{}` (its settings: {}){}",
                        destination.name(),
                        setting.name,
                        names.join(", "),
                        eventmap::suggestion(&setting.name, names.iter().copied())
                    ),
                ));
                continue;
            };
            if spec.secret && matches!(setting.value, SettingValue::Literal(_)) {
                errors.push(Diagnostic::new(
                    Code::DestinationSetting,
                    setting.location.clone(),
                    format!(
                        "`{}` is a secret: name the environment variable that holds it (`{}: {{ env: {} }}`), never the value",
                        setting.name, setting.name, spec.env
                    ),
                ));
            }
        }
        errors
    }

    /// The settings as `(name, value)` pairs for [`Destination::resolve_settings`]: each
    /// `{ env: NAME }` read from `env`. A variable that is not set is an error at the
    /// setting's place (naming the variable, never a value).
    pub fn given_settings(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<(String, String)>, StartError> {
        self.settings
            .iter()
            .map(|setting| {
                let value = match &setting.value {
                    SettingValue::Literal(value) => value.clone(),
                    SettingValue::Env(name) => env(name).ok_or_else(|| StartError {
                        location: setting.location.clone(),
                        message: format!(
                            "route `{}`: the environment variable {name} (for `{}`) is not set",
                            self.name, setting.name
                        ),
                    })?,
                };
                Ok((setting.name.clone(), value))
            })
            .collect()
    }

    /// A settings error of this route, where the route is named.
    pub fn settings_error(&self, error: &SettingsError) -> StartError {
        StartError {
            location: self.location.clone(),
            message: format!("route `{}`: {error}", self.name),
        }
    }
}

impl SourceConfig {
    /// Its write keys: from each variable (comma-separated) and file. A variable that is
    /// not set, a file that cannot be read, or no key at all is an error at the source.
    pub fn keys(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, StartError> {
        let error = |message: String| StartError {
            location: self.location.clone(),
            message: format!("source `{}`: {message}", self.name),
        };
        let mut keys = Vec::new();
        for source in &self.write_keys {
            match source {
                KeySource::Env(name) => {
                    let value = env(name).ok_or_else(|| {
                        error(format!("the environment variable {name} is not set"))
                    })?;
                    keys.extend(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|k| !k.is_empty())
                            .map(str::to_string),
                    );
                }
                KeySource::File(path) => {
                    let text = std::fs::read_to_string(path).map_err(|e| {
                        error(format!(
                            "cannot read write keys from {}: {e}",
                            path.display()
                        ))
                    })?;
                    keys.extend(
                        crate::intake::write_keys::parse_keys_file(&text).map(str::to_string),
                    );
                }
            }
        }
        if keys.is_empty() {
            return Err(error("no write key".into()));
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests;
