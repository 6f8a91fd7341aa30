//! `eventmap check FILE...` and `eventmap check --config PIPELINE`

use std::path::PathBuf;

use eventmap::{LoadError, Mapping};

use crate::exit;
use crate::options::compile_options;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Mapping files to validate.
    #[arg(required_unless_present = "config")]
    files: Vec<PathBuf>,
    /// A pipeline file to validate: its structure, every route's mapping (with the
    /// mapping's own locations) and settings, all mistakes at once. The environment is not
    /// read: variables are checked when `serve` starts.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Set a parameter (KEY=VALUE), as `map` would.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let mut failed = 0;
    if let Some(config) = &args.config {
        if !check_config(config) {
            failed += 1;
        }
    }
    let options = compile_options(&args.params)?;
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
                eprintln!(
                    "{}: {} error(s); `eventmap explain-error CODE` explains a code",
                    file.display(),
                    err.diagnostics.len()
                );
            }
            Err(err) => {
                failed += 1;
                eprintln!("{err}");
            }
        }
    }
    Ok(if failed == 0 { exit::OK } else { exit::ERROR })
}

/// Checks a pipeline file; prints each mistake, or what it holds.
fn check_config(path: &std::path::Path) -> bool {
    let (config, diagnostics) = eventmap_pipeline::config::PipelineConfig::load_partly(path);
    let mut errors: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    // The routes that read well are compiled too: all the mistakes at once.
    let routes = config.as_ref().map(crate::route_plan::check_routes);
    if let Some(Err(route_errors)) = &routes {
        errors.extend(route_errors.iter().cloned());
    }
    if !errors.is_empty() {
        for line in &errors {
            eprintln!("{line}");
        }
        let located = errors.iter().filter(|l| !l.starts_with(' ')).count();
        eprintln!(
            "{}: {located} error(s); `eventmap explain-error CODE` explains a code",
            path.display()
        );
        return false;
    }
    let (Some(config), Some(result)) = (&config, routes) else {
        return false;
    };
    match result {
        Ok(routes) => {
            let routes: Vec<String> = routes
                .iter()
                .map(|r| format!("{} → {}", r.route.name, r.destination.name()))
                .collect();
            println!(
                "{}: ok (routes: {}; {} source(s))",
                path.display(),
                routes.join(", "),
                config.sources.len()
            );
            true
        }
        Err(_) => false,
    }
}
