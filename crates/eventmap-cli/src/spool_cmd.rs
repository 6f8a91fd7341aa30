//! `eventmap dead-letters` and `eventmap spool export`: what a `serve` spool holds, as
//! NDJSON that `eventmap send` takes. Both only read the spool, so they run beside a
//! running server (a snapshot) and on a spool too damaged to open.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use eventmap_pipeline::spool::{self, Spool};

use crate::exit;

#[derive(clap::Args)]
pub(crate) struct DeadLetterArgs {
    /// The spool directory of `eventmap serve` (it may be running).
    #[arg(long, default_value = "spool", value_name = "DIR")]
    spool: PathBuf,
    /// Remove the letters exported from the spool (once they are written out): a
    /// second export does not repeat them.
    #[arg(long)]
    remove: bool,
    /// Only the letters of this route (of the pipeline file); `default` without one.
    #[arg(long, value_name = "NAME", conflicts_with = "remove")]
    route: Option<String>,
}

pub(crate) fn dead_letters(args: &DeadLetterArgs) -> anyhow::Result<u8> {
    check_spool(&args.spool)?;
    let mut letters = spool::read_dead_letters(&args.spool)
        .with_context(|| format!("cannot read the dead letters in {}", args.spool.display()))?;
    if let Some(route) = &args.route {
        // A letter without a route is of an event damaged on disk: it belongs to none.
        letters.retain(|(_, letter)| letter["route"].as_str() == Some(route.as_str()));
    }
    let mut out = std::io::stdout().lock();
    for (_, letter) in &letters {
        writeln!(out, "{letter}")?;
    }
    // Only what reached stdout is removed: a failed write (a full disk) keeps them.
    out.flush()?;
    let removed = match letters.last() {
        Some((through, _)) if args.remove => {
            spool::remove_dead_letters_through(&args.spool, *through)?;
            letters.len()
        }
        _ => 0,
    };
    eprintln!(
        "{{\"summary\":{{\"dead_letters\":{},\"removed\":{removed}}}}}",
        letters.len()
    );
    Ok(exit::OK)
}

#[derive(clap::Subcommand)]
pub(crate) enum SpoolCommand {
    /// Write every readable pending event to stdout (NDJSON `eventmap send` takes),
    /// skipping damaged records; for a spool that does not open, or to move one.
    Export(ExportArgs),
}

#[derive(clap::Args)]
pub(crate) struct ExportArgs {
    /// The spool directory.
    #[arg(long, default_value = "spool", value_name = "DIR")]
    spool: PathBuf,
}

pub(crate) fn run(command: &SpoolCommand) -> anyhow::Result<u8> {
    match command {
        SpoolCommand::Export(args) => export(args),
    }
}

fn export(args: &ExportArgs) -> anyhow::Result<u8> {
    check_spool(&args.spool)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let found = spool::export_pending(&args.spool, &mut out)
        .with_context(|| format!("cannot export the spool in {}", args.spool.display()))?;
    drop(out);
    let damaged_ids: Vec<&str> = found.damaged.iter().flatten().map(String::as_str).collect();
    let summary = serde_json::json!({"summary": {
        "exported": found.exported, "settled_skipped": found.settled,
        "damaged": found.damaged.len(), "damaged_ids": damaged_ids,
        "segments": found.segments}});
    eprintln!("{summary}");
    Ok(exit::OK)
}

fn check_spool(dir: &Path) -> anyhow::Result<()> {
    if !Spool::exists(dir) {
        anyhow::bail!("{} holds no spool", dir.display());
    }
    Ok(())
}
