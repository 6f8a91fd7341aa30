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
