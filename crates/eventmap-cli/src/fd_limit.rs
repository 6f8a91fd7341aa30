//! The file-descriptor limit of `serve`: raised from the soft limit to the hard one at
//! start (as Go's runtime and most servers do: the soft default of 1024 is a leftover of
//! `select()`), and a warning when it still cannot hold `--max-connections`.

use eventmap_pipeline::log;
use serde_json::json;

/// Descriptors `serve` needs besides its clients' connections: the spool's files, the
/// connections to the destination, the runtime's own.
const RESERVED: u64 = 64;

/// Raises the soft limit to the hard limit; logs `fd_limit_low` when what results cannot
/// hold `max_connections` clients.
pub(crate) fn raise_for(max_connections: u64) {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read or write the struct given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit = raised;
            }
        }
        // `rlim_t` is 32 bits wide on some 32-bit targets.
        #[allow(clippy::useless_conversion)]
        let soft = u64::try_from(limit.rlim_cur).unwrap_or(u64::MAX);
        if soft < max_connections.saturating_add(RESERVED) {
            log::line(
                "fd_limit_low",
                json!({"open_files": soft, "max_connections": max_connections,
                    "note": "past the limit, new connections wait (the accept loop backs off); raise `ulimit -n` or lower --max-connections"}),
            );
        }
    }
    #[cfg(not(unix))]
    let _ = max_connections;
}
