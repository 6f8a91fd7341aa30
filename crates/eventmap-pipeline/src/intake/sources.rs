//! The sources the intake serves: who may post (write keys, pages), how much, and where
//! their events go.
//!
//! A write key names its source, and the source decides the rest of a request: the spool
//! lanes of its routes, the browser origins whose pages may post with its keys (and read
//! the answer), and its size limits. A request is read before its key is known when the
//! key is in the body (`writeKey`, as beacons send it), so the body is read up to the
//! largest limit of any source and held to its own source's once the key is found.
//!
//! What no key decides (the CORS preflight, which browsers send without credentials, and
//! the ID sync, which takes no key) answers the origins of every source.

use std::sync::{Arc, PoisonError, RwLock};

use super::segment::Limits;
use super::write_keys::{SharedKey, WriteKeys};

/// Lane 0 alone: where a server without routes sends every event.
pub const DEFAULT_LANES: u64 = 1;

/// One source, as a write key of it admits a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    /// The spool lanes (a bit each) of the routes its events go to.
    pub lanes: u64,
    /// The pages that may post with its keys (`*` for any).
    pub cors_origins: Vec<String>,
    pub limits: Limits,
}

impl Source {
    /// The source a server without routes has: every key's events to lane 0.
    pub fn single(cors_origins: Vec<String>, limits: Limits) -> Self {
        Self {
            name: "default".into(),
            lanes: DEFAULT_LANES,
            cors_origins,
            limits,
        }
    }
}

/// Every source and its keys, replaced whole at a reload.
#[derive(Debug, Default)]
pub struct Sources {
    keys: WriteKeys,
    sources: Vec<Arc<Source>>,
    /// Every source's origins, once each.
    origins: Vec<String>,
    /// The largest limits of any source: what a body is read within before its key is
    /// known.
    largest: Limits,
}

/// Two sources given the same write key; names the sources, never the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sources `{first}` and `{second}` share a write key: each key must belong to one source")]
pub struct SharedKeyError {
    pub first: String,
    pub second: String,
}

impl Sources {
    /// The sources, each with its write keys.
    pub fn new(sources: Vec<(Source, Vec<String>)>) -> Result<Self, SharedKeyError> {
        let indexed = sources.iter().enumerate().flat_map(|(index, (_, keys))| {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            keys.iter().map(move |key| (key.as_str(), index))
        });
        let keys = WriteKeys::indexed(indexed).map_err(|SharedKey { first, second }| {
            let name = |i: u32| {
                sources
                    .get(i as usize)
                    .map_or_else(String::new, |(s, _)| s.name.clone())
            };
            SharedKeyError {
                first: name(first),
                second: name(second),
            }
        })?;
        let sources: Vec<Arc<Source>> = sources.into_iter().map(|(s, _)| Arc::new(s)).collect();
        let mut origins: Vec<String> = sources
            .iter()
            .flat_map(|s| s.cors_origins.iter().cloned())
            .collect();
        origins.sort();
        origins.dedup();
        let largest = Limits {
            max_event_bytes: sources
                .iter()
                .map(|s| s.limits.max_event_bytes)
                .max()
                .unwrap_or(0),
            max_batch_bytes: sources
                .iter()
                .map(|s| s.limits.max_batch_bytes)
                .max()
                .unwrap_or(0),
        };
        Ok(Self {
            keys,
            sources,
            origins,
            largest,
        })
    }

    /// One source (a server without routes) with `keys`.
    pub fn single(keys: Vec<String>, cors_origins: Vec<String>, limits: Limits) -> Self {
        let largest = limits;
        let origins = cors_origins.clone();
        Self {
            keys: WriteKeys::new(keys),
            sources: vec![Arc::new(Source::single(cors_origins, limits))],
            origins,
            largest,
        }
    }

    /// The source `key` belongs to; the key is compared in constant time.
    pub fn of_key(&self, key: &str) -> Option<Arc<Source>> {
        let index = self.keys.index_of(key)?;
        self.sources.get(index as usize).cloned()
    }

    /// Every source's CORS origins, once each.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// The largest limits of any source.
    pub fn largest(&self) -> &Limits {
        &self.largest
    }

    /// How many write keys there are.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}

/// The sources a running intake serves, replaced whole when the pipeline file is
/// reloaded; cheap to clone (the clones share them).
#[derive(Clone, Default, Debug)]
pub struct SharedSources(Arc<RwLock<Arc<Sources>>>);

impl SharedSources {
    /// The sources now: one request reads them all from one version.
    pub fn current(&self) -> Arc<Sources> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// From now on, these sources.
    pub fn replace(&self, sources: Sources) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(sources);
    }
}

impl From<Sources> for SharedSources {
    fn from(sources: Sources) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(sources))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, lanes: u64, origins: &[&str], max_event_bytes: usize) -> Source {
        Source {
            name: name.into(),
            lanes,
            cors_origins: origins.iter().map(|o| o.to_string()).collect(),
            limits: Limits {
                max_event_bytes,
                max_batch_bytes: max_event_bytes * 10,
            },
        }
    }

    #[test]
    fn a_key_gives_its_own_source_and_the_listener_answers_every_origin() {
        let sources = Sources::new(vec![
            (
                source("brand_a", 0b01, &["https://a.example"], 100),
                vec!["wk_a".into()],
            ),
            (
                source(
                    "brand_b",
                    0b10,
                    &["https://b.example", "https://a.example"],
                    300,
                ),
                vec!["wk_b".into(), "wk_b2".into()],
            ),
        ])
        .expect("no key shared");
        let a = sources.of_key("wk_a").expect("wk_a is brand_a's");
        assert_eq!((a.name.as_str(), a.lanes), ("brand_a", 0b01));
        assert_eq!(a.cors_origins, ["https://a.example"]);
        assert_eq!(sources.of_key("wk_b2").map(|s| s.lanes), Some(0b10));
        assert!(sources.of_key("wk_c").is_none());
        assert_eq!(
            sources.origins(),
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(sources.largest().max_event_bytes, 300);
        assert_eq!(sources.largest().max_batch_bytes, 3000);
        assert_eq!(sources.key_count(), 3);
    }

    #[test]
    fn a_key_of_two_sources_is_refused_by_their_names() {
        let shared = Sources::new(vec![
            (source("brand_a", 1, &[], 1), vec!["wk".into()]),
            (source("brand_b", 2, &[], 1), vec!["wk".into()]),
        ])
        .map(|_| ());
        let error = shared.expect_err("a shared key");
        assert_eq!(
            (error.first.as_str(), error.second.as_str()),
            ("brand_a", "brand_b")
        );
        assert!(!error.to_string().contains("wk`"));
    }

    #[test]
    fn a_reload_replaces_every_source_at_once() {
        let shared = SharedSources::from(Sources::single(
            vec!["old".into()],
            Vec::new(),
            Limits::default(),
        ));
        let before = shared.current();
        shared.replace(Sources::single(
            vec!["new".into()],
            Vec::new(),
            Limits::default(),
        ));
        assert!(
            before.of_key("old").is_some(),
            "a request keeps the version it read"
        );
        assert!(shared.current().of_key("old").is_none());
        assert!(shared.current().of_key("new").is_some());
    }
}
