//! What `serve` runs, built from a pipeline file or from the flags: the routes (each a
//! compiled mapping, its destination's sink and its delivery; `route_plan.rs` builds each,
//! as it does for `consume` and `check`) and the sources (write keys and the routes their
//! events go to). The flags build exactly a file with one route and
//! one source, both named `default` (docs/serve.md shows that file).
//!
//! Everything that can be wrong is found here, before anything runs or changes: at start,
//! and again at each reload, whose plan replaces the running one only when it is whole.

use std::path::{Path, PathBuf};

use eventmap_pipeline::config::{LimitsSection, PipelineConfig};
use eventmap_pipeline::intake::sources::SharedKeyError;
use eventmap_pipeline::intake::write_keys::parse_keys_file;
use eventmap_pipeline::intake::{Limits, Source, Sources};
use eventmap_pipeline::spool::DEFAULT_ROUTE;

use super::args::Args;
use crate::exit;
use crate::route_plan::{check_routes, file_route, flag_route, Failure, RoutePlan};

/// One source: its write keys, the pages that may post with them, its limits and the
/// routes their events go to.
pub(crate) struct SourcePlan {
    pub name: String,
    pub keys: Vec<String>,
    pub routes: Vec<String>,
    pub cors_origins: Vec<String>,
    pub limits: Limits,
}

/// The intake's sources from the plan's, each sending its events to the lanes
/// `lane_of` gives its routes.
pub(crate) fn intake_sources<E: From<SharedKeyError>>(
    sources: &[SourcePlan],
    mut lane_of: impl FnMut(&str) -> Result<u8, E>,
) -> Result<Sources, E> {
    let mut built = Vec::with_capacity(sources.len());
    for plan in sources {
        let mut lanes = 0u64;
        for route in &plan.routes {
            lanes |= 1 << lane_of(route)?;
        }
        let source = Source {
            name: plan.name.clone(),
            lanes,
            cors_origins: plan.cors_origins.clone(),
            limits: plan.limits,
        };
        built.push((source, plan.keys.clone()));
    }
    Ok(Sources::new(built)?)
}

/// The limits the flags give (of the listener, and of the one source they make).
pub(crate) fn flag_limits(args: &Args) -> Limits {
    limits_over(
        Limits {
            max_event_bytes: size(args.max_event_bytes),
            max_batch_bytes: size(args.max_request_bytes),
        },
        &LimitsSection::default(),
    )
}

/// `section`'s limits, and for what it leaves out, `defaults`'.
pub(crate) fn limits_over(defaults: Limits, section: &LimitsSection) -> Limits {
    Limits {
        max_event_bytes: section
            .max_event_bytes
            .map_or(defaults.max_event_bytes, size),
        max_batch_bytes: section
            .max_request_bytes
            .map_or(defaults.max_batch_bytes, size),
    }
}

fn size(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

pub(crate) struct Plan {
    pub routes: Vec<RoutePlan>,
    pub sources: Vec<SourcePlan>,
    /// The pipeline file, when there is one.
    pub config: Option<PipelineConfig>,
}

/// The plan the flags mean: one route and one source, both `default`.
pub(crate) fn from_flags(args: &Args, mapping: &Path) -> Result<Plan, Failure> {
    let route = flag_route(
        &args.connection,
        &args.delivery,
        mapping,
        &args.params,
        args.validate_only,
    )?;
    let keys = flag_write_keys(args)
        .map_err(|e| Failure::of(exit::ERROR, vec![format!("eventmap: error: {e}")]))?;
    Ok(Plan {
        routes: vec![route],
        sources: vec![SourcePlan {
            name: DEFAULT_ROUTE.to_string(),
            keys,
            routes: vec![DEFAULT_ROUTE.to_string()],
            cors_origins: args.cors_origins.clone(),
            limits: flag_limits(args),
        }],
        config: None,
    })
}

/// Write keys from the flags, a file and `EVENTMAP_WRITE_KEYS` (comma-separated).
pub(crate) fn flag_write_keys(args: &Args) -> Result<Vec<String>, String> {
    let mut keys: Vec<String> = args.write_keys.clone();
    if let Some(file) = &args.write_keys_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read write keys from {}: {e}", file.display()))?;
        keys.extend(parse_keys_file(&text).map(str::to_string));
    }
    if let Ok(env) = std::env::var("EVENTMAP_WRITE_KEYS") {
        keys.extend(env.split(',').map(str::trim).map(str::to_string));
    }
    keys.retain(|k| !k.is_empty());
    if keys.is_empty() {
        return Err(
            "no write key: give --write-key, --write-keys-file or EVENTMAP_WRITE_KEYS".into(),
        );
    }
    Ok(keys)
}

/// The plan a pipeline file means, with its settings and write keys read from the
/// environment: every mistake at once.
pub(crate) fn from_file(args: &Args, path: &Path) -> Result<Plan, Failure> {
    let config = PipelineConfig::load(path).map_err(|diagnostics| {
        Failure::of(
            exit::ERROR,
            diagnostics.iter().map(ToString::to_string).collect(),
        )
    })?;
    let checked = check_routes(&config).map_err(|e| Failure::of(exit::ERROR, e))?;
    let mut errors = Vec::new();
    let mut credentials = false;
    let mut routes = Vec::new();
    for checked in checked {
        match file_route(&args.connection, &args.delivery, checked) {
            Ok(route) => routes.push(route),
            Err((message, refused)) => {
                credentials |= refused;
                errors.push(message);
            }
        }
    }
    let sources = match source_plans(args, &config) {
        Ok(sources) => sources,
        Err(mistakes) => {
            errors.extend(mistakes);
            Vec::new()
        }
    };
    if !errors.is_empty() {
        let code = if credentials {
            exit::CREDENTIALS
        } else {
            exit::ERROR
        };
        return Err(Failure::of(code, errors));
    }
    Ok(Plan {
        routes,
        sources,
        config: Some(config),
    })
}

/// The file's sources with their write keys read from the environment and their limits
/// over the listener's; every mistake at once. A key of two sources would send its
/// events to both sources' routes: refused, naming the sources (never the key).
pub(crate) fn source_plans(
    args: &Args,
    config: &PipelineConfig,
) -> Result<Vec<SourcePlan>, Vec<String>> {
    let listener = limits_over(flag_limits(args), &config.limits);
    let env = |name: &str| std::env::var(name).ok();
    let mut errors = Vec::new();
    let mut sources = Vec::new();
    for source in &config.sources {
        match source.keys(&env) {
            Ok(keys) => sources.push(SourcePlan {
                name: source.name.clone(),
                keys,
                routes: source.routes.clone(),
                cors_origins: source.cors_origins.clone(),
                limits: limits_over(listener, &source.limits),
            }),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if config.sources.is_empty() {
        errors.push(format!(
            "{}: the pipeline file has no `sources`: `serve` needs at least one (its write keys and routes)",
            config.file.display()
        ));
    }
    if let Err(shared) = intake_sources(&sources, |_| Ok::<u8, SharedKeyError>(0)) {
        errors.push(shared.to_string());
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        Err(errors)
    }
}

/// Where the plan comes from: what a reload reads again.
#[derive(Clone)]
pub(crate) enum Origin {
    Flags { mapping: PathBuf },
    File(PathBuf),
}
