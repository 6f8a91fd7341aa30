//! `eventmap dead-letters`: the dead letters a `serve` spool keeps, as the NDJSON that
//! `eventmap send` replays.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use eventmap_pipeline::spool::{Spool, SpoolConfig};

use crate::exit;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The spool directory of `eventmap serve` (stop the server first: one process at a
    /// time holds the spool).
    #[arg(long, default_value = "spool", value_name = "DIR")]
    spool: PathBuf,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    if !Spool::exists(&args.spool) {
        anyhow::bail!("{} holds no spool", args.spool.display());
    }
    let spool = Spool::open(&args.spool, SpoolConfig::default()).with_context(|| {
        format!(
            "cannot open the spool in {} (is `eventmap serve` still running on it?)",
            args.spool.display()
        )
    })?;
    let letters = spool.dead_letters()?;
    let mut out = std::io::stdout().lock();
    for letter in &letters {
        writeln!(out, "{letter}")?;
    }
    out.flush()?;
    eprintln!("{{\"summary\":{{\"dead_letters\":{}}}}}", letters.len());
    Ok(exit::OK)
}
