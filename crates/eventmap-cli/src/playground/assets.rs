//! The page's files, built into the binary: no CDN, no network. `playground.js` is the
//! bundle `crates/eventmap-cli/playground/build.mjs` makes from the sources beside it and
//! the CodeMirror packages its package-lock.json pins (docs/architecture.md says how it
//! is built and checked).

pub(crate) const INDEX: &str = include_str!("../../playground/src/index.html");
pub(crate) const STYLE: &str = include_str!("../../playground/src/style.css");
pub(crate) const SCRIPT: &str = include_str!("../../playground/dist/playground.js");
