pub mod diagnostics;
pub mod path;
pub mod script;
pub mod transforms;
pub mod value;
mod yaml;
