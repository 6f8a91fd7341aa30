//! The spool's lanes: a route's number in the spool (0 to 63), under its name. An event
//! is written once with the lanes it goes to, and each route reads and settles it on its
//! own lane. The numbers are kept in the file `lanes` (`0 default` a line), written
//! before any event of a new lane is, so that a restart reads each event's lanes under
//! the names they had.
//!
//! A number once given stays with its name while the spool lives: a route that leaves
//! and comes back finds its waiting events again.

use std::path::Path;

use super::error::SpoolError;
use super::files;

/// The most routes a spool can have known.
pub const MAX_LANES: usize = 64;

/// The lane of the one route of a spool used without routes (and of spools written
/// before routes existed).
pub const DEFAULT_ROUTE: &str = "default";

#[derive(Debug, Clone, Default)]
pub(super) struct Lanes {
    /// Index: the lane number.
    names: Vec<String>,
}

impl Lanes {
    /// The lanes of the spool in `dir`; `default` is lane 0 when the file has none.
    pub fn read(dir: &Path) -> Result<Self, SpoolError> {
        let path = dir.join(files::LANES);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(files::io_error(&path)(e)),
        };
        let mut names = vec![DEFAULT_ROUTE.to_string()];
        for line in text.lines() {
            let Some((number, name)) = line.split_once(' ') else {
                continue;
            };
            let Ok(number) = number.parse::<usize>() else {
                continue;
            };
            if number >= MAX_LANES || name.is_empty() {
                continue;
            }
            if names.len() <= number {
                names.resize(number + 1, String::new());
            }
            names[number] = name.to_string();
        }
        Ok(Self { names })
    }

    pub fn name_of(&self, lane: u8) -> Option<&str> {
        self.names
            .get(usize::from(lane))
            .map(String::as_str)
            .filter(|n| !n.is_empty())
    }

    pub fn lane_of(&self, name: &str) -> Option<u8> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|i| u8::try_from(i).ok())
    }

    /// The lane of `name`, given the next free number (and written to `dir`) when it
    /// has none.
    pub fn assign(&mut self, dir: &Path, name: &str) -> Result<u8, SpoolError> {
        if let Some(lane) = self.lane_of(name) {
            return Ok(lane);
        }
        if self.names.len() >= MAX_LANES {
            return Err(SpoolError::Io {
                path: dir.join(files::LANES).display().to_string(),
                source: std::io::Error::other(format!(
                    "this spool has known {MAX_LANES} routes, the most it can: route `{name}` needs a new spool"
                )),
            });
        }
        self.names.push(name.to_string());
        let text: String = self
            .names
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty())
            .map(|(i, n)| format!("{i} {n}\n"))
            .collect();
        files::replace(dir, files::LANES, text.as_bytes())?;
        Ok(u8::try_from(self.names.len() - 1).unwrap_or(u8::MAX))
    }
}
