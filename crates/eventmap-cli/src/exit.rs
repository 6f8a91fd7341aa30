//! Exit codes shared by the subcommands.

pub const OK: u8 = 0;
/// A mapping did not compile, or an input could not be read.
pub const ERROR: u8 = 1;
/// `map --fail-on-error` and some events failed or were malformed; `connect`: the
/// credentials were accepted but the test event was refused.
pub const EVENTS_FAILED: u8 = 3;
/// `send`, `connect`: the credentials are missing or were refused, or the endpoint
/// refuses requests; delivery stopped.
pub const CREDENTIALS: u8 = 4;
/// `connect`: no answer from the API (network, timeout, server error).
pub const UNREACHABLE: u8 = 5;
/// `send` was interrupted (Ctrl-C): what was read is accounted for; the summary's
/// `interrupted_at` says where to resume.
pub const INTERRUPTED: u8 = 130;
