//! What `serve` runs, built from a pipeline file or from the flags: the routes (each a
//! compiled mapping, its destination's sink and its delivery) and the sources (write keys
//! and the routes their events go to). The flags build exactly a file with one route and
//! one source, both named `default` (docs/serve.md shows that file).
//!
//! Everything that can be wrong is found here, before anything runs or changes: at start,
//! and again at each reload, whose plan replaces the running one only when it is whole.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eventmap::LoadError;
use eventmap_pipeline::config::{LimitsSection, PipelineConfig, RouteConfig};
use eventmap_pipeline::delivery::DeliveryConfig;
use eventmap_pipeline::destination::{BoxSink, Destination, Settings, SettingsError};
use eventmap_pipeline::intake::sources::SharedKeyError;
use eventmap_pipeline::intake::write_keys::parse_keys_file;
use eventmap_pipeline::intake::{Limits, Source, Sources};
use eventmap_pipeline::process::Compiled;
use eventmap_pipeline::spool::DEFAULT_ROUTE;

use super::args::Args;
use crate::connection::{ConnectionArgs, DeliveryArgs, RetryDefaults};
use crate::exit;
use crate::options::compile_options;

/// One route, ready to run.
pub(crate) struct RoutePlan {
    pub name: String,
    pub compiled: Compiled,
    pub sinks: SinkMaker,
    pub delivery: DeliveryConfig,
    /// Test mode for every event of the route.
    pub test_mode: bool,
    /// The route as written, but for its mapping's content: when it differs at a reload,
    /// the route's delivery restarts (new settings, a new destination); when only the
    /// mapping changed, the new one is swapped in.
    pub fingerprint: String,
}

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

/// Why a plan could not be made: every message, and the exit status.
pub(crate) struct Failure {
    pub lines: Vec<String>,
    pub code: u8,
}

impl Failure {
    fn of(code: u8, lines: Vec<String>) -> Self {
        Self { lines, code }
    }
}

/// Builds the destination's sink from its settings: once at start, and afresh (a new
/// client) after each refusal.
pub(crate) struct SinkMaker {
    pub destination: Arc<dyn Destination>,
    pub settings: Settings,
}

impl SinkMaker {
    /// The destination with its settings from the flags and environment; the sink is
    /// built once here so that a wrong setting stops the start.
    pub fn new(
        destination: Arc<dyn Destination>,
        connection: &ConnectionArgs,
        test_mode: bool,
    ) -> Result<Self, SettingsError> {
        let settings = connection.settings(destination.as_ref(), test_mode)?;
        Self::with(destination, settings)
    }

    pub fn with(
        destination: Arc<dyn Destination>,
        settings: Settings,
    ) -> Result<Self, SettingsError> {
        destination.sink(&settings)?;
        Ok(Self {
            destination,
            settings,
        })
    }

    pub fn make(&self) -> Result<BoxSink, SettingsError> {
        self.destination.sink(&self.settings)
    }
}

/// Compiles the mapping and picks its validator; errors as `FILE:LINE:COL: message`.
pub(crate) fn compile(path: &Path, params: &[String]) -> Result<Compiled, Vec<String>> {
    let options = compile_options(params).map_err(|e| vec![format!("{e:#}")])?;
    let mapping = match eventmap::Mapping::from_file(path, &options) {
        Ok(mapping) => mapping,
        Err(LoadError::Compile(err)) => {
            return Err(err.diagnostics.iter().map(ToString::to_string).collect())
        }
        Err(e) => return Err(vec![e.to_string()]),
    };
    let validator =
        eventmap_cli::destinations::validator_for(&mapping).map_err(|e| vec![format!("{e:#}")])?;
    Ok(Compiled { mapping, validator })
}

/// The destination the compiled mapping delivers to (see `Registry::delivering_to`).
pub(crate) fn delivering_to(compiled: &Compiled) -> Result<Arc<dyn Destination>, String> {
    let registry = eventmap_cli::destinations::registry();
    let name = registry.delivering_to(&compiled.mapping)?.name();
    registry
        .shared(name)
        .ok_or_else(|| format!("unknown destination `{name}`"))
}

/// The route the flags make (`serve`, `consume`): `default`.
pub(crate) fn flag_route(
    connection: &ConnectionArgs,
    delivery: &DeliveryArgs,
    mapping: &Path,
    params: &[String],
    test_mode: bool,
) -> Result<RoutePlan, Failure> {
    let compiled = compile(mapping, params).map_err(|e| Failure::of(exit::ERROR, e))?;
    let destination = delivering_to(&compiled).map_err(|e| Failure::of(exit::ERROR, vec![e]))?;
    let delivery = delivery
        .config(destination.as_ref(), RetryDefaults::Server)
        .map_err(|e| Failure::of(exit::ERROR, vec![format!("eventmap: error: {e:#}")]))?;
    let sinks = SinkMaker::new(destination, connection, test_mode)
        .map_err(|e| Failure::of(exit::CREDENTIALS, vec![format!("eventmap: error: {e}")]))?;
    Ok(RoutePlan {
        name: DEFAULT_ROUTE.to_string(),
        fingerprint: format!("{}|{:?}", mapping.display(), sinks.settings),
        compiled,
        sinks,
        delivery,
        test_mode,
    })
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

/// A route of the file compiled and checked against its destination, before anything
/// is read from the environment (what `check --config` reports).
pub(crate) struct CheckedRoute<'a> {
    pub route: &'a RouteConfig,
    pub compiled: Compiled,
    pub destination: Arc<dyn Destination>,
}

/// Compiles every route's mapping and checks every route's settings against its
/// destination: all the mistakes, each with its own location.
pub(crate) fn check_routes(config: &PipelineConfig) -> Result<Vec<CheckedRoute<'_>>, Vec<String>> {
    let mut errors = Vec::new();
    let mut checked = Vec::new();
    for route in &config.routes {
        let params: Vec<String> = route
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let compiled = match compile(&route.mapping, &params) {
            Ok(compiled) => compiled,
            Err(lines) => {
                errors.push(format!(
                    "{}: route `{}`: its mapping {} does not compile:",
                    route.mapping_location,
                    route.name,
                    route.mapping.display()
                ));
                errors.extend(lines.into_iter().map(|l| format!("  {l}")));
                continue;
            }
        };
        let destination = match delivering_to(&compiled) {
            Ok(destination) => destination,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mistakes = route.check_settings(destination.as_ref());
        if !mistakes.is_empty() {
            errors.extend(mistakes.iter().map(ToString::to_string));
            continue;
        }
        checked.push(CheckedRoute {
            route,
            compiled,
            destination,
        });
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(errors)
    }
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

/// A checked route of the file, with its settings read from the environment and its
/// delivery from the file over the flags. `Err((message, credentials))`.
fn file_route(
    connection: &ConnectionArgs,
    delivery: &DeliveryArgs,
    checked: CheckedRoute<'_>,
) -> Result<RoutePlan, (String, bool)> {
    let CheckedRoute {
        route,
        compiled,
        destination,
    } = checked;
    let delivery = delivery
        .config_for(destination.as_ref(), RetryDefaults::Server, &route.delivery)
        .map_err(|e| {
            (
                format!("{}: route `{}`: {e:#}", route.location, route.name),
                false,
            )
        })?;
    let sinks = connection
        .route_settings(destination.as_ref(), route)
        .and_then(|settings| {
            SinkMaker::with(destination, settings).map_err(|e| route.settings_error(&e))
        })
        .map_err(|e| (e.to_string(), true))?;
    Ok(RoutePlan {
        name: route.name.clone(),
        fingerprint: format!(
            "{}|{:?}|{:?}|{:?}",
            route.mapping.display(),
            route.params,
            route.settings,
            route.delivery
        ),
        compiled,
        sinks,
        delivery,
        test_mode: route.delivery.test_mode,
    })
}

/// Route `name` of the pipeline file `file`, ready to deliver (`consume --route`).
pub(crate) fn route_of_file(
    connection: &ConnectionArgs,
    delivery: &DeliveryArgs,
    file: &Path,
    name: &str,
) -> Result<RoutePlan, Failure> {
    let mut config = PipelineConfig::load(file).map_err(|diagnostics| {
        Failure::of(
            exit::ERROR,
            diagnostics.iter().map(ToString::to_string).collect(),
        )
    })?;
    let names = config.route_names().join(", ");
    if config.route(name).is_none() {
        let known: Vec<&str> = config.route_names();
        return Err(Failure::of(
            exit::ERROR,
            vec![format!(
                "{}: no route `{name}` (its routes: {names}){}",
                file.display(),
                eventmap::suggestion(name, known)
            )],
        ));
    }
    config.routes.retain(|r| r.name == name);
    let mut checked = check_routes(&config).map_err(|e| Failure::of(exit::ERROR, e))?;
    let Some(route) = checked.pop() else {
        return Err(Failure::of(exit::ERROR, vec![format!("no route `{name}`")]));
    };
    file_route(connection, delivery, route).map_err(|(message, refused)| {
        let code = if refused {
            exit::CREDENTIALS
        } else {
            exit::ERROR
        };
        Failure::of(code, vec![message])
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
