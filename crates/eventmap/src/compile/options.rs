//! How to compile a mapping: the transforms it may use, parameter values, where `${VAR}`
//! reads, and the sandbox limits.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::script::engine::SandboxLimits;
use crate::transforms::Registry;

/// Reads an environment variable (replaceable so hosts and tests control the environment).
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How to compile a mapping: the transforms it may use, the parameter values the host
/// sets, where `${VAR}` interpolation reads, and the sandbox limits.
#[derive(Clone)]
pub struct CompileOptions {
    pub registry: Registry,
    /// Parameter values as text (from `--param`, the environment or the host's config);
    /// each is converted to the parameter's declared type.
    pub params: BTreeMap<String, String>,
    /// Looks up environment variables for `${VAR}` in parameter defaults.
    pub env: EnvLookup,
    pub limits: SandboxLimits,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self {
            registry: Registry::with_builtins(),
            params: BTreeMap::new(),
            env: Arc::new(|name| std::env::var(name).ok()),
            limits: SandboxLimits::default(),
        }
    }
}

impl CompileOptions {
    /// These options, with parameter values taken from `params` alone and never from
    /// `EVENTMAP_PARAM_*`: what fixtures compile with, so they give the same result on
    /// every machine (and what the playground shows, so a fixture it saves passes).
    pub fn without_param_env(self) -> Self {
        let env = self.env.clone();
        Self {
            env: Arc::new(move |name: &str| {
                if name.starts_with("EVENTMAP_PARAM_") {
                    None
                } else {
                    env(name)
                }
            }),
            ..self
        }
    }
}

impl std::fmt::Debug for CompileOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Parameter values may be secrets: only their names are shown.
        f.debug_struct("CompileOptions")
            .field("registry", &self.registry.names().collect::<Vec<_>>())
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
