//! The routes as they run: one delivery task a route, each on its own spool lane, and
//! the sources whose write keys send their events to their routes' lanes.
//!
//! A reload ([`Running::apply`]) replaces a route's mapping in place, restarts the
//! delivery of a route whose settings or delivery changed, starts new routes, and stops
//! the routes the file no longer has. A removed route's waiting events are not dropped:
//! they become dead letters of that route (`route_removed`, with their source event), kept
//! in the spool and exported with `eventmap dead-letters --route NAME`, to replay where
//! they now belong. The same holds at start for lanes with events waiting whose route is
//! gone.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use eventmap_pipeline::delivery::{Clock, DeadLetter, DeadPayload, DeadReason};
use eventmap_pipeline::drive::{Driving, MappingSlot, Replay};
use eventmap_pipeline::forward::{self, Forwarding};
use eventmap_pipeline::intake::{SharedSources, Sources};
use eventmap_pipeline::log;
use eventmap_pipeline::metrics::Metrics;
use eventmap_pipeline::spool::{Settle, Spool, SpoolError};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::plan::{intake_sources, Plan};
use crate::route_plan::RoutePlan;

/// One running route.
struct RouteRun {
    lane: u8,
    slot: MappingSlot,
    fingerprint: String,
    stop: Arc<watch::Sender<bool>>,
    task: JoinHandle<()>,
}

/// What every route's delivery shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub spool: Spool,
    pub metrics: Metrics,
    pub clock: Clock,
    pub drain: Duration,
    pub refused_backoff: Duration,
    /// The server's stop: every route stops with it.
    pub stopped: watch::Receiver<bool>,
}

pub(crate) struct Running {
    shared: Shared,
    routes: BTreeMap<String, RouteRun>,
    pub sources: SharedSources,
}

impl Running {
    /// Starts every route of `plan`, and sets aside what waits for routes it no longer
    /// has.
    pub async fn start(shared: Shared, plan: Plan) -> anyhow::Result<Self> {
        let mut running = Self {
            shared,
            routes: BTreeMap::new(),
            sources: SharedSources::default(),
        };
        running.sources.replace(running.sources_of(&plan)?);
        for route in plan.routes {
            running.start_route(route)?;
        }
        running.orphans().await;
        Ok(running)
    }

    /// `plan`'s sources, each sending to its routes' lanes.
    fn sources_of(&self, plan: &Plan) -> anyhow::Result<Sources> {
        intake_sources(&plan.sources, |route| {
            self.shared.spool.lane(route).map_err(anyhow::Error::from)
        })
    }

    fn start_route(&mut self, plan: RoutePlan) -> Result<(), SpoolError> {
        let lane = self.shared.spool.lane(&plan.name)?;
        let slot: MappingSlot = Arc::new(RwLock::new(Arc::new(plan.compiled)));
        let (stop, stopped) = watch::channel(false);
        let stop = Arc::new(stop);
        // The server's stop is each route's stop too.
        let mut server = self.shared.stopped.clone();
        let relay = Arc::clone(&stop);
        tokio::spawn(async move {
            let _ = server.wait_for(|s| *s).await;
            relay.send_replace(true);
        });
        let backoff = self.shared.refused_backoff;
        let forwarding = Forwarding {
            driving: Driving {
                route: plan.name.clone(),
                mapping: Arc::clone(&slot),
                clock: self.shared.clock,
                delivery: plan.delivery,
                validate_only: plan.test_mode,
                drain: self.shared.drain,
                replay: Replay::Off,
            },
            spool: self.shared.spool.clone(),
            lane,
            metrics: self.shared.metrics.clone(),
        };
        let sinks = plan.sinks;
        let task = tokio::spawn(async move {
            forward::forward_until_stopped(&forwarding, || sinks.make(), stopped, backoff).await;
        });
        log::line(
            "route_started",
            json!({"route": plan.name, "destination": destination_of(&slot)}),
        );
        self.routes.insert(
            plan.name,
            RouteRun {
                lane,
                slot,
                fingerprint: plan.fingerprint,
                stop,
                task,
            },
        );
        Ok(())
    }

    /// Replaces the running routes and sources with a whole, checked plan (a reload).
    pub async fn apply(&mut self, plan: Plan) -> anyhow::Result<()> {
        let sources = self.sources_of(&plan)?;
        let mut keep: Vec<String> = Vec::new();
        for route in plan.routes {
            keep.push(route.name.clone());
            let same = self
                .routes
                .get(&route.name)
                .is_some_and(|run| run.fingerprint == route.fingerprint);
            if same {
                if let Some(run) = self.routes.get(&route.name) {
                    *run.slot.write().unwrap_or_else(PoisonError::into_inner) =
                        Arc::new(route.compiled);
                }
                continue;
            }
            if let Some(run) = self.routes.remove(&route.name) {
                stop_route(run).await;
            }
            self.start_route(route)?;
        }
        let gone: Vec<String> = self
            .routes
            .keys()
            .filter(|name| !keep.contains(name))
            .cloned()
            .collect();
        for name in gone {
            if let Some(run) = self.routes.remove(&name) {
                let lane = run.lane;
                stop_route(run).await;
                log::line("route_stopped", json!({"route": name}));
                set_aside(&self.shared, lane, &name).await;
            }
        }
        self.sources.replace(sources);
        Ok(())
    }

    /// Lanes with events waiting whose route is not running: their events are set
    /// aside as dead letters of that route.
    async fn orphans(&self) {
        for (lane, _) in self.shared.spool.waiting_lanes() {
            let name = self
                .shared
                .spool
                .lane_name(lane)
                .unwrap_or_else(|| format!("lane {lane}"));
            if !self.routes.contains_key(&name) {
                set_aside(&self.shared, lane, &name).await;
            }
        }
    }

    /// Every route's delivery task, to wait on after the server's stop.
    pub fn take_tasks(&mut self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut self.routes)
            .into_values()
            .map(|run| run.task)
            .collect()
    }

    /// The names of the running routes.
    pub fn names(&self) -> Vec<String> {
        self.routes.keys().cloned().collect()
    }
}

fn destination_of(slot: &MappingSlot) -> Option<String> {
    slot.read()
        .unwrap_or_else(PoisonError::into_inner)
        .mapping
        .destination()
        .map(str::to_string)
}

async fn stop_route(run: RouteRun) {
    run.stop.send_replace(true);
    let _ = run.task.await;
}

/// Dead-letters every event waiting on `lane` as `route_removed`, keeping its source
/// event, so nothing a removed route owed is lost.
async fn set_aside(shared: &Shared, lane: u8, route: &str) {
    let mut cursor = None;
    let mut count = 0u64;
    loop {
        let batch = match shared.spool.read_lane(lane, cursor, 512) {
            Ok(batch) => batch,
            Err(e) => {
                log::line(
                    "route_removed_failed",
                    json!({"route": route, "error": e.to_string(),
                        "note": "its events stay in the spool"}),
                );
                return;
            }
        };
        if batch.events.is_empty() {
            break;
        }
        cursor = batch.through;
        let now_ms = shared.clock.now_ms();
        let letters: Vec<Settle> = batch
            .events
            .into_iter()
            .map(|event| {
                let source = serde_json::from_slice(&event.json)
                    .unwrap_or_else(|_| json!(String::from_utf8_lossy(&event.json)));
                Settle::Dead {
                    seq: event.seq,
                    letter: DeadLetter {
                        id: source["messageId"].as_str().map(str::to_string),
                        reason: DeadReason::RouteRemoved,
                        status: None,
                        code: None,
                        message: format!(
                            "route `{route}` is no longer in the pipeline file: replay with the mapping it now belongs to"
                        ),
                        attempts: 0,
                        at_ms: now_ms,
                        payload: DeadPayload::Source(source),
                    },
                }
            })
            .collect();
        count += letters.len() as u64;
        for _ in 0..letters.len() {
            shared
                .metrics
                .dead_lettered(route, DeadReason::RouteRemoved.as_str());
        }
        if let Err(e) = shared.spool.settle_on(lane, letters, now_ms).await {
            log::line(
                "route_removed_deferred",
                json!({"route": route, "error": e.to_string()}),
            );
        }
    }
    if count > 0 {
        log::line(
            "route_removed",
            json!({"route": route, "dead_lettered": count,
                "note": "its waiting events are dead letters of the route: `eventmap dead-letters --route` exports them"}),
        );
    }
}
