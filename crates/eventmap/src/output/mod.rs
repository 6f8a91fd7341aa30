//! How mapped events are built and handed out: the shape of a plan's output keys
//! (`shape.rs`), the borrowed view a host reads an output through (`view.rs`), and the
//! compact JSON writer (`json_out.rs`).

pub(crate) mod json_out;
pub(crate) mod shape;
pub(crate) mod view;
