//! How the spool fails: its directory or a file, or damage found in it.

/// The spool failed: its directory or a file, or damage found in it.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A commit failed (a full disk, say); nothing of that group was written.
    #[error("spool commit failed: {0}")]
    Commit(String),
    #[error("the spool writer has stopped")]
    Stopped,
    #[error("the spool in {path} is in use by another process (one `eventmap serve` at a time holds a spool)")]
    Locked { path: String },
    #[error(
        "the spool is damaged: {file} at byte {offset}: {detail}. Nothing was changed. Its \
         pending events can be salvaged with `eventmap spool export --spool {dir} > \
         pending.ndjson` (which `eventmap send` takes); then move the directory away and \
         start on a new one"
    )]
    Damaged {
        dir: String,
        file: String,
        offset: u64,
        detail: String,
    },
    #[error(
        "{path} is a spool of an earlier eventmap (one redb file): deliver it with that \
         version, then start this one on a new directory"
    )]
    OldFormat { path: String },
}
