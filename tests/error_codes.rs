//! docs/errors.md holds: every example it shows gives the code of its section (mappings
//! compiled, events mapped, pipeline files read, as a user would), and
//! `eventmap explain-error` prints the page's section for a code.

use std::path::Path;

use eventmap::{Code, CompileOptions, EventContext, LoadError, Mapping, Outcome};
use eventmap_pipeline::config::PipelineConfig;
use eventmap_tests::{eventmap, repo, Scratch};

/// The examples of one section: the fenced blocks tagged `yaml mapping`, `json event` and
/// `yaml pipeline`.
#[derive(Default)]
struct Examples {
    mapping: Option<String>,
    event: Option<String>,
    pipeline: Option<String>,
}

fn sections() -> Vec<(Code, Examples)> {
    let page = std::fs::read_to_string(repo().join("docs/errors.md")).expect("docs/errors.md");
    let mut found: Vec<(Code, Examples)> = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        if let Some(heading) = line.strip_prefix("## ") {
            let text = heading.split(':').next().unwrap_or_default();
            let code = Code::parse(text).unwrap_or_else(|| panic!("`{line}` names no code"));
            found.push((code, Examples::default()));
        } else if let Some(tag) = line.strip_prefix("```") {
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            let text = block.join("\n") + "\n";
            let Some((_, examples)) = found.last_mut() else {
                continue;
            };
            match tag {
                "yaml mapping" => examples.mapping = Some(text),
                "json event" => examples.event = Some(text),
                "yaml pipeline" => examples.pipeline = Some(text),
                _ => {}
            }
        }
    }
    found
}

fn mapping_codes(dir: &Scratch, yaml: &str) -> Result<Mapping, Vec<(Code, String)>> {
    let path = dir.write("example.yaml", yaml);
    match Mapping::from_file(
        Path::new(&path),
        &CompileOptions::default().without_param_env(),
    ) {
        Ok(mapping) => Ok(mapping),
        Err(LoadError::Compile(err)) => Err(err
            .diagnostics
            .iter()
            .map(|d| (d.code, d.to_string()))
            .collect()),
        Err(other) => panic!("the example cannot be read: {other}"),
    }
}

#[test]
fn every_example_gives_the_code_of_its_section() {
    let sections = sections();
    assert_eq!(sections.len(), Code::all().count(), "one section per code");
    let dir = Scratch::new("error-codes");
    // Pipeline examples name `m.yaml` beside them.
    dir.write(
        "m.yaml",
        "destination: openai\ndefault: { skip: example }\n",
    );
    let mut checked = 0;
    for (code, examples) in &sections {
        match (&examples.mapping, &examples.event, &examples.pipeline) {
            (Some(mapping), None, None) => {
                let errors = mapping_codes(&dir, mapping)
                    .err()
                    .unwrap_or_else(|| panic!("{code}: the example compiles"));
                assert!(
                    errors.iter().any(|(c, _)| c == code),
                    "{code}: the example gives {errors:#?}"
                );
            }
            (Some(mapping), Some(event), None) => {
                let mapping = mapping_codes(&dir, mapping)
                    .unwrap_or_else(|e| panic!("{code}: the example does not compile: {e:?}"));
                let event = serde_json::from_str(event).expect("the example event is JSON");
                match mapping.map(&event, &EventContext::now()) {
                    Outcome::Failed(errors) => assert!(
                        errors.iter().any(|e| e.code == *code),
                        "{code}: the event fails with {errors:#?}"
                    ),
                    other => panic!("{code}: the event did not fail: {other:?}"),
                }
            }
            (None, None, Some(pipeline)) => {
                let path = dir.write("pipeline.yaml", pipeline);
                let errors = PipelineConfig::parse(pipeline, Path::new(&path))
                    .err()
                    .unwrap_or_else(|| panic!("{code}: the example reads"));
                assert!(
                    errors.iter().any(|d| d.code == *code),
                    "{code}: the example gives {errors:#?}"
                );
            }
            (None, None, None) => {
                assert_eq!(*code, Code::FileUnreadable, "{code} has no example");
                let errors = PipelineConfig::load(Path::new(&dir.path("missing.yaml")))
                    .expect_err("a missing file is an error");
                assert_eq!(errors[0].code, Code::FileUnreadable);
            }
            _ => panic!("{code}: examples of two kinds"),
        }
        checked += 1;
    }
    assert_eq!(checked, Code::all().count());
}

#[test]
fn explain_error_prints_the_section_of_a_code_and_lists_them_all() {
    let run = eventmap(&["explain-error", "e0104"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("## E0104: an unknown transform\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("**Fix:**"), "{}", run.stdout);
    assert!(!run.stdout.contains("## E0105"), "{}", run.stdout);

    let all = eventmap(&["explain-error"], "");
    assert_eq!(all.code, 0);
    assert_eq!(all.stdout.lines().count(), Code::all().count());
    assert!(
        all.stdout.contains("E0203  a required key has no value"),
        "{}",
        all.stdout
    );

    let unknown = eventmap(&["explain-error", "E9999"], "");
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("not an error code"),
        "{}",
        unknown.stderr
    );
}
