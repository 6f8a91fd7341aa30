//! `eventmap test [PATH ...]`: run mapping fixtures.

use std::path::PathBuf;

use eventmap::fixtures::{bless, discover, FixtureRunner, Verdict};
use eventmap::CompileOptions;

use crate::exit;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Fixture files, mapping files (their `NAME/fixtures/`), or folders searched for
    /// `fixtures/` folders (default: mappings).
    paths: Vec<PathBuf>,
    /// Run only fixtures whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Rewrite the expectations of failing fixtures from what actually happened.
    #[arg(long)]
    bless: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let paths = if args.paths.is_empty() {
        let default = PathBuf::from("mappings");
        if !default.is_dir() {
            eprintln!(
                "eventmap: error: no fixtures given, and no `mappings/` folder here to search \
                 for `fixtures/` folders in; give fixture files, mapping files or folders: \
                 `eventmap test path/to/mapping.yaml`"
            );
            return Ok(exit::ERROR);
        }
        vec![default]
    } else {
        args.paths.clone()
    };
    let files = discover(&paths)?;
    let lookup = eventmap_cli::destinations::lookup;
    let mut runner = FixtureRunner::new(CompileOptions::default(), &lookup);
    let (mut passed, mut failed, mut blessed) = (0usize, 0usize, 0usize);
    for file in &files {
        let (fixtures, reports) = match runner.run_file(file, args.filter.as_deref()) {
            Ok(result) => result,
            Err(err) => {
                failed += 1;
                println!("FAIL {err}");
                continue;
            }
        };
        let starts = eventmap::fixtures::lines(file);
        for report in &reports {
            // FILE:LINE, where the fixture starts, so an editor jumps to it.
            let place = match starts.get(report.index) {
                Some(line) => format!("{}:{line}", report.file.display()),
                None => report.file.display().to_string(),
            };
            match &report.verdict {
                Verdict::Passed => passed += 1,
                Verdict::Failed(lines) => {
                    failed += 1;
                    println!("FAIL {} ({place})", report.name);
                    for line in lines {
                        println!("    {line}");
                    }
                }
                Verdict::Broken(message) => {
                    failed += 1;
                    println!("FAIL {} ({place}): {message}", report.name);
                }
            }
        }
        if args.bless {
            // What was rewritten is no longer a failure: the file now says what happens.
            let changed = bless(file, fixtures, &reports)?;
            if changed > 0 {
                println!(
                    "blessed {changed} fixture(s) in {}: expectations rewritten",
                    file.display()
                );
            }
            failed -= changed.min(failed);
            blessed += changed;
        }
    }
    if files.is_empty() {
        println!(
            "no fixture files found under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if args.bless {
        println!("{passed} passed, {blessed} blessed, {failed} failed");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    Ok(if failed == 0 { exit::OK } else { exit::ERROR })
}
