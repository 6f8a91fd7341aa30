//! The pipeline layer around the eventmap engine: what moves mapped events to a
//! destination and keeps them safe on the way.
//!
//! - [`delivery`]: the shared machinery between a producer of mapped events and a
//!   destination's [`delivery::Sink`] (batching, retries, isolation, dead letters).
//! - [`process`]: one event through the mapping and the destination's validator, with
//!   what a dead letter keeps when it cannot go on.
//! - [`spool`]: the durable, group-committed queue of `eventmap serve`.
//! - [`intake`]: Segment's HTTP tracking API in front of the spool.
//! - [`config`]: the pipeline file (routes, sources, listener, spool), checked with
//!   located errors.
//! - [`drive`]: the one loop from a source (`send`'s files, the spool, a Kafka group)
//!   through the processor into [`delivery`]; [`forward`]: the spool as its source.
//! - [`metrics`]: what the server counts, for `/metrics`; [`log`]: its JSON log lines.
//!
//! The core `eventmap` crate stays pure mapping: a host that only maps pulls no async
//! runtime.

pub mod config;
pub mod delivery;
pub mod destination;
pub mod drive;
pub mod forward;
pub mod intake;
pub mod log;
pub mod metrics;
pub mod process;
pub mod signals;
pub mod spool;
pub mod units;
