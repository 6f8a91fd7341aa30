//! `eventmap transforms [-m MAPPING]`: what `transform:` lists and expressions can call.

use std::path::PathBuf;

use crate::exit;
use crate::options::{compile_options, load_mapping};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Also list the plug-in transforms this mapping's `transforms:` files define, with
    /// their doc comments and where they are written.
    #[arg(short, long, value_name = "MAPPING")]
    mapping: Option<PathBuf>,
    /// Set a parameter (KEY=VALUE), as `map` would.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let options = compile_options(&args.params)?;
    for t in options.registry.iter() {
        println!("{:<20} {}", t.name(), t.summary());
    }
    let Some(path) = &args.mapping else {
        return Ok(exit::OK);
    };
    let Some(mapping) = load_mapping(path, &options)? else {
        return Ok(exit::ERROR);
    };
    let plugins = mapping.plugin_transforms();
    if plugins.is_empty() {
        println!("\n{} defines no plug-in transforms", path.display());
        return Ok(exit::OK);
    }
    println!("\nplug-ins of {}:", path.display());
    for plugin in plugins {
        println!(
            "{}({})  [{}]",
            plugin.name,
            plugin.params.join(", "),
            plugin.location
        );
        for line in plugin.doc.lines() {
            println!("    {line}");
        }
    }
    Ok(exit::OK)
}
