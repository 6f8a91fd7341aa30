//! Every mapping fixture under `mappings/`, run by the same library runner as
//! `eventmap test`, with the destinations the binary knows.

use eventmap::fixtures::{discover, FixtureRunner, Verdict};
use eventmap::CompileOptions;
use eventmap_tests::repo;

#[test]
fn every_fixture_under_mappings_passes() {
    let files = discover(&[repo().join("mappings")]).expect("mappings/ is readable");
    assert!(!files.is_empty(), "no fixture files under mappings/");
    let lookup = eventmap_cli::destinations::lookup;
    let mut runner = FixtureRunner::new(CompileOptions::default(), &lookup);
    let (mut passed, mut failures) = (0, Vec::new());
    for file in &files {
        let (_, reports) = runner
            .run_file(file, None)
            .unwrap_or_else(|e| panic!("{e}"));
        for report in reports {
            match report.verdict {
                Verdict::Passed => passed += 1,
                Verdict::Failed(lines) => failures.push(format!(
                    "{} ({}):\n    {}",
                    report.name,
                    file.display(),
                    lines.join("\n    ")
                )),
                Verdict::Broken(why) => {
                    failures.push(format!("{} ({}): {why}", report.name, file.display()))
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(passed >= 40, "only {passed} fixtures ran");
}

/// A destination from outside the workspace's destination crates, registered the way a
/// pipeline host would: its name, its validator, its named rules, relaxable by a mapping.
mod host_destination {
    use eventmap::{CompileOptions, Mapping, Node, Validator, Violation};
    use eventmap_pipeline::destination::Destination;
    use serde_json::json;

    struct Shouty;

    /// Events must carry `shout`, in capitals (rule `shout_upper`).
    struct ShoutyValidator {
        relaxed: bool,
    }

    impl Validator for ShoutyValidator {
        fn destination(&self) -> &str {
            "shouty"
        }

        fn validate_node(&self, event: Node<'_>, _now_ms: i64) -> Vec<Violation> {
            let shout = event
                .as_object()
                .and_then(|fields| fields.get("shout"))
                .and_then(|node| node.as_str());
            match shout {
                Some(s) if self.relaxed || s == s.to_uppercase() => Vec::new(),
                _ => vec![Violation::new("shout", "must be capitals")],
            }
        }
    }

    impl Destination for Shouty {
        fn name(&self) -> &'static str {
            "shouty"
        }

        fn validator(&self, relax: &[&str]) -> Result<Box<dyn Validator>, String> {
            match relax {
                [] => Ok(Box::new(ShoutyValidator { relaxed: false })),
                ["shout_upper"] => Ok(Box::new(ShoutyValidator { relaxed: true })),
                other => Err(format!(
                    "`{}` is not a rule of shouty (its rules: shout_upper)",
                    other.join(", ")
                )),
            }
        }

        fn rules(&self) -> Vec<(&'static str, &'static str)> {
            vec![("shout_upper", "`shout` is in capitals")]
        }
    }

    fn mapping(text: &str) -> Mapping {
        Mapping::compile(text, "host.yaml", &CompileOptions::default()).expect("compiles")
    }

    #[test]
    fn a_host_registers_its_own_destination_beside_the_built_in_ones() {
        let registry = eventmap_cli::destinations::registry().with(Shouty);
        assert_eq!(registry.names(), ["openai", "meta", "shouty"]);
        let strict = mapping(
            "version: 1\ndestination: shouty\ndefault:\n  keys:\n    shout: { from: text }\n",
        );
        let validator = registry
            .validator_for(&strict)
            .expect("known")
            .expect("a validator");
        assert!(validator.validate(&json!({"shout": "HEY"}), 0).is_empty());
        assert_eq!(validator.validate(&json!({"shout": "hey"}), 0).len(), 1);
        let relaxed = mapping("version: 1\ndestination: shouty\nvalidate: { relax: [shout_upper] }\ndefault:\n  keys:\n    shout: { from: text }\n");
        let validator = registry
            .validator_for(&relaxed)
            .expect("known")
            .expect("a validator");
        assert!(validator.validate(&json!({"shout": "hey"}), 0).is_empty());
        // A rule it does not have, at its place in the mapping.
        let wrong = mapping("version: 1\ndestination: shouty\nvalidate: { relax: [whisper] }\ndefault:\n  keys:\n    shout: { from: text }\n");
        let error = registry.validator_for(&wrong).err().expect("refused");
        assert!(error.starts_with("host.yaml:3:"), "{error}");
        assert!(error.contains("not a rule of shouty"), "{error}");
        // Without it, the binary's registry does not know the name.
        let error = eventmap_cli::destinations::registry()
            .validator_for(&strict)
            .err()
            .expect("unknown");
        assert!(
            error.starts_with("host.yaml:2:14: unknown destination `shouty`"),
            "{error}"
        );
    }
}
