//! `eventmap check FILE...`

use std::path::PathBuf;

use eventmap::{LoadError, Mapping};

use crate::exit;
use crate::options::compile_options;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Mapping files to validate.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Set a parameter (KEY=VALUE), as `map` would.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let options = compile_options(&args.params)?;
    let mut failed = 0;
    for file in &args.files {
        match Mapping::from_file(file, &options) {
            Ok(mapping) => match eventmap_cli::destinations::validator_for(&mapping) {
                Ok(_) => {
                    let sections = mapping.event_sections().count();
                    let destination = mapping
                        .destination()
                        .map(|d| format!(", destination {d}"))
                        .unwrap_or_default();
                    let relaxed: Vec<&str> = mapping
                        .relaxed_rules()
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect();
                    let relaxed = if relaxed.is_empty() {
                        String::new()
                    } else {
                        format!(", relaxes {}", relaxed.join(", "))
                    };
                    let plugins = match mapping.plugin_transforms().len() {
                        0 => String::new(),
                        n => format!(", {n} plug-in transform(s)"),
                    };
                    println!(
                        "{}: ok ({sections} event sections{destination}{relaxed}{plugins})",
                        file.display()
                    );
                }
                Err(err) => {
                    failed += 1;
                    eprintln!("{err}");
                }
            },
            Err(LoadError::Compile(err)) => {
                failed += 1;
                for diagnostic in &err.diagnostics {
                    eprintln!("{diagnostic}");
                }
                eprintln!("{}: {} error(s)", file.display(), err.diagnostics.len());
            }
            Err(err) => {
                failed += 1;
                eprintln!("{err}");
            }
        }
    }
    Ok(if failed == 0 { exit::OK } else { exit::ERROR })
}
