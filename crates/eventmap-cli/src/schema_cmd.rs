//! `eventmap schema [--pipeline]`: the JSON Schema of mapping files (or of the pipeline
//! file), for editors. `docs/mapping.schema.json` and `docs/pipeline.schema.json` are
//! these outputs, checked in (and checked against them by tests).

use crate::exit;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The schema of the pipeline file (`serve --config`) instead.
    #[arg(long)]
    pipeline: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let schema = if args.pipeline {
        eventmap_pipeline::config::pipeline_schema()
    } else {
        eventmap::mapping_schema()
    };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(exit::OK)
}
