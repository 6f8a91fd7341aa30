//! What one playground session holds: the mapping file it edits, the fixture file it adds
//! to (the only two files it writes, both fixed when it starts), and the events and
//! parameters it started with.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};
use eventmap::fixtures::{self, Actual, Fixture};
use eventmap::EventContext;
use serde_json::{json, Value};

use super::evaluate;

pub(crate) struct Session {
    pub mapping_file: PathBuf,
    pub fixtures_file: PathBuf,
    /// `{label, event}` for each starting event.
    pub events: Vec<Value>,
    pub params: Vec<String>,
    /// The clock the page starts with (blank in the page: now).
    pub now: Option<String>,
    /// The mapping's text as the page last read or saved it: a save over a file that
    /// another editor changed since is refused, not silently overwritten.
    known: std::sync::Mutex<Option<String>>,
}

/// Why a save was refused: told to the page as it is.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SaveError {
    #[error("the mapping has changes that are not saved: save it first, so the fixture describes the file `eventmap test` runs")]
    MappingUnsaved,
    #[error("the mapping does not compile: a fixture needs a mapping that does")]
    MappingBroken,
    #[error("the mapping file changed on disk since the playground read it (another editor?): not overwritten; copy your changes, reload the page, and apply them again")]
    ChangedOnDisk,
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl Session {
    /// The session for `mapping`, starting with `events` (NDJSON, or a fixture file's
    /// inputs), saving fixtures to `fixtures` (by default where `eventmap test` finds
    /// them for this mapping: `<dir>/<name>/fixtures/playground.yaml`).
    pub fn open(
        mapping: &Path,
        events: Option<&Path>,
        fixtures: Option<&Path>,
        params: Vec<String>,
        now: Option<String>,
    ) -> anyhow::Result<Self> {
        std::fs::read_to_string(mapping)
            .with_context(|| format!("cannot read the mapping {}", mapping.display()))?;
        let fixtures_file = match fixtures {
            Some(file) => file.to_path_buf(),
            None => default_fixtures_file(mapping),
        };
        let events = match events {
            Some(file) => read_events(file)?,
            None => Vec::new(),
        };
        evaluate::options(&params)?;
        if let Some(now) = &now {
            crate::options::parse_now(now)?;
        }
        Ok(Self {
            mapping_file: mapping.to_path_buf(),
            fixtures_file,
            events,
            params,
            now,
            known: std::sync::Mutex::new(None),
        })
    }

    pub fn mapping_text(&self) -> anyhow::Result<String> {
        std::fs::read_to_string(&self.mapping_file)
            .with_context(|| format!("cannot read {}", self.mapping_file.display()))
    }

    pub fn state(&self) -> anyhow::Result<Value> {
        let text = self.mapping_text()?;
        *self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(text.clone());
        Ok(json!({
            "mapping": {"file": self.mapping_file.display().to_string(), "text": text},
            "fixtures_file": self.fixtures_file.display().to_string(),
            "events": self.events,
            "params": self.params,
            "now": self.now,
        }))
    }

    /// Writes `text` to the mapping file, whole or not at all (a crash mid-write leaves
    /// the old file), unless the file changed on disk since the page read it.
    pub fn save_mapping(&self, text: &str) -> Result<(), SaveError> {
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if known
            .as_deref()
            .is_some_and(|known| self.mapping_text().ok().as_deref() != Some(known))
        {
            return Err(SaveError::ChangedOnDisk);
        }
        fixtures::write_whole(&self.mapping_file, text)
            .with_context(|| format!("cannot write {}", self.mapping_file.display()))?;
        *known = Some(text.to_string());
        Ok(())
    }

    /// Adds `event` as a fixture named `name`, expecting what the saved mapping makes of
    /// it at `now_ms` (with `params`); says which expectation it wrote.
    pub fn save_fixture(
        &self,
        name: &str,
        editor_text: &str,
        event: &Value,
        params: &[String],
        now_ms: i64,
    ) -> Result<&'static str, SaveError> {
        if self.mapping_text()? != editor_text {
            return Err(SaveError::MappingUnsaved);
        }
        let options = evaluate::options(params)?;
        let shown = self.mapping_file.display().to_string();
        let compiled = evaluate::compile(&shown, editor_text, &options)
            .map_err(|_| SaveError::MappingBroken)?;
        let outcome = compiled.mapping.map(event, &EventContext { now_ms });
        let actual = Actual::of(outcome, compiled.validator.as_deref(), now_ms);
        let mut fixture = Fixture {
            name: name.to_string(),
            description: Some("saved from eventmap playground".into()),
            mapping: Some(relative_mapping(&self.fixtures_file, &self.mapping_file)?),
            now: Some(json!(eventmap::transforms::format_rfc3339_ms(now_ms))),
            params: params
                .iter()
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), json!(v)))
                .collect(),
            input: event.clone(),
            expect: None,
            expect_partial: None,
            expect_paths: Default::default(),
            expect_skip: None,
            expect_error: None,
        };
        fixture.expect_actual(&actual);
        fixtures::append(&self.fixtures_file, &fixture).map_err(anyhow::Error::from)?;
        Ok(match actual {
            Actual::Output(_) => "expect: the mapped event",
            Actual::Skip(_) => "expect_skip: the reason",
            Actual::Errors(_) => "expect_error: the first error",
        })
    }
}

fn default_fixtures_file(mapping: &Path) -> PathBuf {
    let stem = mapping
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mapping".into());
    mapping
        .with_file_name(stem)
        .join("fixtures")
        .join("playground.yaml")
}

/// The mapping's path as a fixture in `fixtures_file` names it: relative to the fixture
/// file's folder.
fn relative_mapping(fixtures_file: &Path, mapping: &Path) -> anyhow::Result<String> {
    let absolute = |p: &Path| -> anyhow::Result<PathBuf> {
        Ok(std::path::absolute(p)?
            .components()
            .fold(PathBuf::new(), |mut path, part| {
                match part {
                    Component::ParentDir => {
                        path.pop();
                    }
                    Component::CurDir => {}
                    other => path.push(other),
                }
                path
            }))
    };
    let from = absolute(fixtures_file)?;
    let from = from.parent().unwrap_or(&from).to_path_buf();
    let to = absolute(mapping)?;
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative = PathBuf::new();
    for _ in common..from.components().count() {
        relative.push("..");
    }
    for part in to.components().skip(common) {
        relative.push(part);
    }
    Ok(relative.to_string_lossy().replace('\\', "/"))
}

/// The events of `file`: a fixture file's inputs (`.yaml`, `.yml`, or JSON that is a list
/// of fixtures), else NDJSON, one event a line.
fn read_events(file: &Path) -> anyhow::Result<Vec<Value>> {
    let is_yaml = matches!(
        file.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    if is_yaml {
        let fixtures = fixtures::load(file)?;
        return Ok(fixtures
            .into_iter()
            .map(|f| json!({"label": f.name, "event": f.input}))
            .collect());
    }
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read events from {}", file.display()))?;
    if let Ok(fixtures) = fixtures::load(file) {
        if !fixtures.is_empty() && text.trim_start().starts_with('[') {
            return Ok(fixtures
                .into_iter()
                .map(|f| json!({"label": f.name, "event": f.input}))
                .collect());
        }
    }
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event: Value = match serde_json::from_str(line) {
            Ok(event) => event,
            Err(e) => bail!("{}:{}: not a JSON event: {e}", file.display(), i + 1),
        };
        let id = event
            .get("messageId")
            .and_then(Value::as_str)
            .map(|id| format!(" {id}"))
            .unwrap_or_default();
        events.push(json!({"label": format!("line {}{id}", i + 1), "event": event}));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_name_the_mapping_relative_to_their_folder() {
        let rel = |f: &str, m: &str| relative_mapping(Path::new(f), Path::new(m)).unwrap();
        assert_eq!(
            rel(
                "mappings/openai/fixtures/playground.yaml",
                "mappings/openai.yaml"
            ),
            "../../openai.yaml"
        );
        assert_eq!(rel("/tmp/x/fx.yaml", "/tmp/x/m.yaml"), "m.yaml");
        assert_eq!(rel("/tmp/a/b/fx.yaml", "/tmp/c/m.yaml"), "../../c/m.yaml");
    }

    #[test]
    fn the_default_fixture_file_is_where_eventmap_test_finds_it() {
        assert_eq!(
            default_fixtures_file(Path::new("mappings/openai.yaml")),
            Path::new("mappings/openai/fixtures/playground.yaml")
        );
    }
}
