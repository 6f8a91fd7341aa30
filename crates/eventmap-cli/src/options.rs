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

/// A duration such as `250ms`, `2s`, `1.5s`, `5m` or `1h` (a bare number is seconds).
pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 500ms, 2s, 5m)"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}` (use ms, s, m or h)"
            ))
        }
    };
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_take_common_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 days").is_err());
    }
}
