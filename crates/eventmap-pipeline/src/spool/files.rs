//! The spool directory on disk: its files' names, the lock that keeps it to one
//! process, private permissions, syncing, replacing a file atomically, and reserving
//! space ahead of need.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::SpoolError;

/// The spool's segments of accepted events: `seg-<first sequence number>.log`.
const SEGMENT_PREFIX: &str = "seg-";
const SEGMENT_SUFFIX: &str = ".log";
/// Settled sequence numbers.
pub(super) const ACKS: &str = "acks.log";
/// Dead letters.
pub(super) const DEAD: &str = "dead.log";
/// The highest dead-letter number an export removed (text).
pub(super) const DEAD_EXPORTED: &str = "dead.exported";
/// The lanes' route names, one `NUMBER NAME` a line (text).
pub(super) const LANES: &str = "lanes";
/// Message ids of settled events still within the dedup window.
pub(super) const SEEN: &str = "seen.log";
/// Held (flock) by the one process using the spool.
const LOCK: &str = "LOCK";
/// The file of the earlier, redb-based spool.
const OLD_FORMAT: &str = "spool.redb";

pub(super) fn io_error(path: &Path) -> impl Fn(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Creates `dir` (0700, tightened if it exists looser): the spool holds personal data.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), SpoolError> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_error(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io_error(dir))?;
    }
    if dir.join(OLD_FORMAT).exists() {
        return Err(SpoolError::OldFormat {
            path: dir.join(OLD_FORMAT).display().to_string(),
        });
    }
    Ok(())
}

/// Takes the spool's lock, or fails when another process holds it.
pub(super) fn lock(dir: &Path) -> Result<File, SpoolError> {
    let path = dir.join(LOCK);
    let file = open_private(&path, false)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SpoolError::Locked {
            path: dir.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io_error(&path)(e)),
    }
}

/// Opens (creating 0600) a file for reading and appending at positions the caller gives.
pub(super) fn open_private(path: &Path, truncate: bool) -> Result<File, SpoolError> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(io_error(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_error(path))?;
    }
    Ok(file)
}

pub(super) fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{SEGMENT_PREFIX}{start:020}{SEGMENT_SUFFIX}"))
}

/// The segments in `dir` by first sequence number, in order.
pub(super) fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, SpoolError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        let Some(start) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SEGMENT_PREFIX))
            .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        found.push((start, entry.path()));
    }
    found.sort();
    Ok(found)
}

/// Makes a file's creation, removal or renaming in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))?;
    Ok(())
}

/// Replaces `path` with `bytes` atomically: written beside it, synced, renamed over it.
pub(super) fn replace(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SpoolError> {
    let path = dir.join(name);
    let temporary = dir.join(format!("{name}.new"));
    let mut file = open_private(&temporary, true)?;
    file.write_all(bytes).map_err(io_error(&temporary))?;
    file.sync_data().map_err(io_error(&temporary))?;
    std::fs::rename(&temporary, &path).map_err(io_error(&path))?;
    sync_dir(dir)
}

/// Reserves `len` bytes of disk for `file` past `from` without changing its size, so
/// that later appends there do not need new space (they land even on a full disk).
/// Best effort: where the system cannot reserve, appends just take their chances.
pub(super) fn reserve(file: &File, from: u64, len: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(from), Ok(len)) = (libc::off_t::try_from(from), libc::off_t::try_from(len)) else {
            return false;
        };
        // SAFETY: fallocate only acts on the descriptor given, which `file` keeps open.
        unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, from, len) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, from, len);
        false
    }
}
