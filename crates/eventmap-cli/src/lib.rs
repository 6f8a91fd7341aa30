//! What the `eventmap` binary and its test harness share: the destinations this build
//! knows. (The binary's commands live in `main.rs` and its modules.)

pub mod destinations;
