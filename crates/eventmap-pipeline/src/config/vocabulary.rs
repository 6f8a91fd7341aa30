//! The words of the pipeline file: which keys each part may hold. The reader checks
//! against these lists and the JSON Schema (`schema.rs`) is built from them.

pub(super) const TOP: &[&str] = &[
    "version",
    "description",
    "listen",
    "spool",
    "limits",
    "routes",
    "sources",
];
pub(super) const SPOOL: &[&str] = &[
    "dir",
    "max_bytes",
    "dedup_window",
    "dedup_max_ids",
    "dead_letter_retention",
];
pub(super) const LIMITS: &[&str] = &["max_event_bytes", "max_request_bytes"];
pub(super) const ROUTE: &[&str] = &["mapping", "description", "params", "settings", "delivery"];
pub(super) const DELIVERY: &[&str] = &[
    "batch_size",
    "max_batch_bytes",
    "concurrency",
    "max_attempts",
    "max_retry_time",
    "retry_delay",
    "max_retry_delay",
    "linger",
    "connect_timeout",
    "read_timeout",
    "timeout",
    "test_mode",
];
pub(super) const SOURCE: &[&str] = &[
    "description",
    "write_keys",
    "cors_origins",
    "limits",
    "routes",
];
