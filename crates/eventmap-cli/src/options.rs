//! Flags shared by the commands that compile a mapping.

use std::collections::BTreeMap;

use std::path::Path;

use anyhow::{bail, Context};
use eventmap::{CompileOptions, LoadError, Mapping};

/// Parses `--param KEY=VALUE` flags.
pub(crate) fn compile_options(params: &[String]) -> anyhow::Result<CompileOptions> {
    let mut values = BTreeMap::new();
    for param in params {
        let Some((key, value)) = param.split_once('=') else {
            bail!("--param expects KEY=VALUE, got `{param}`");
        };
        if values
            .insert(key.trim().to_string(), value.to_string())
            .is_some()
        {
            bail!("--param {key} is given twice");
        }
    }
    Ok(CompileOptions {
        params: values,
        ..CompileOptions::default()
    })
}

/// `--now`: an RFC 3339 time or epoch seconds/milliseconds.
pub(crate) fn parse_now(text: &str) -> anyhow::Result<i64> {
    eventmap::transforms::to_epoch_ms(&serde_json::Value::String(text.to_string()))
        .with_context(|| format!("--now `{text}` is not a time (use RFC 3339, e.g. 2026-11-21T12:00:00Z, or epoch ms)"))
}

/// Compiles a mapping file. On compile errors, prints each as `FILE:LINE:COL: message`
/// and a count on stderr and returns `Ok(None)`.
pub(crate) fn load_mapping(
    path: &Path,
    options: &CompileOptions,
) -> anyhow::Result<Option<Mapping>> {
    match Mapping::from_file(path, options) {
        Ok(mapping) => Ok(Some(mapping)),
        Err(LoadError::Compile(err)) => {
            for d in &err.diagnostics {
                eprintln!("{d}");
            }
            eprintln!("{}: {} error(s)", path.display(), err.diagnostics.len());
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

pub(crate) use eventmap_pipeline::units::{parse_bytes, parse_duration};

/// A `KEY=VALUE` flag (`--kafka-option`, `--setting`), split at its first `=`.
pub(crate) fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}
