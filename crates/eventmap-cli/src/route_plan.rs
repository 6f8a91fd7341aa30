//! The routes a pipeline file or the flags make, shared by `serve`, `consume` and `check`:
//! each a compiled mapping, its destination's sink and its delivery, every mistake found
//! before anything runs (at start, and again at each reload), with the exit status it
//! means.

use std::path::Path;
use std::sync::Arc;

use eventmap::LoadError;
use eventmap_pipeline::config::{PipelineConfig, RouteConfig};
use eventmap_pipeline::delivery::DeliveryConfig;
use eventmap_pipeline::destination::{BoxSink, Destination, Settings, SettingsError};
use eventmap_pipeline::process::Compiled;
use eventmap_pipeline::spool::DEFAULT_ROUTE;

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

/// Why a plan could not be made: every message, and the exit status.
pub(crate) struct Failure {
    pub lines: Vec<String>,
    pub code: u8,
}

impl Failure {
    pub(crate) fn of(code: u8, lines: Vec<String>) -> Self {
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

/// A checked route of the file, with its settings read from the environment and its
/// delivery from the file over the flags. `Err((message, credentials))`.
pub(crate) fn file_route(
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
