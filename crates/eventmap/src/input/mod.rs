//! How events are read: input paths, the trees events are read through (a host's
//! `serde_json::Value`, or a borrowed tree parsed from a line keeping only what the
//! mapping reads), the scan and the serde parse that build it, and key comparison.

pub(crate) mod key_eq;
pub(crate) mod parse;
pub(crate) mod path;
pub(crate) mod readset;
pub(crate) mod scan;
pub(crate) mod tree;
