//! The pipeline file's located tree to [`PipelineConfig`], every mistake collected with
//! its place and, for a misspelt name, a suggestion.

use std::net::SocketAddr;
use std::path::Path;

use eventmap::yaml::{Key, Node, NodeKind};
use eventmap::{Code, Diagnostic};

use super::model::{
    KeySource, LimitsSection, PipelineConfig, RouteConfig, RouteDelivery, RouteSetting,
    SettingValue, SourceConfig, SpoolSection,
};
use super::reader::Reader;
use super::vocabulary::{DELIVERY, LIMITS, ROUTE, SOURCE, SPOOL, TOP};

/// The file as far as it reads, and every mistake in it.
pub(super) fn config(root: &Node, path: &Path, base: &Path) -> (PipelineConfig, Vec<Diagnostic>) {
    let mut r = Reader {
        errors: Vec::new(),
        base,
    };
    let mut config = PipelineConfig {
        file: path.to_path_buf(),
        listen: None,
        spool: SpoolSection::default(),
        limits: LimitsSection::default(),
        routes: Vec::new(),
        sources: Vec::new(),
    };
    let mut routes_node = None;
    let mut sources_node = None;
    for (key, value) in r.fields(root, "the pipeline file", TOP) {
        match key.name.as_str() {
            "version" => {
                if !matches!(value.kind, NodeKind::Int(1)) {
                    r.error(Code::InvalidValue, &value.location, "`version` must be 1");
                }
            }
            "description" => {}
            "listen" => {
                if let Some(text) = r.string(value, "listen") {
                    match text.parse::<SocketAddr>() {
                        Ok(addr) => config.listen = Some(addr),
                        Err(_) => r.error(
                            Code::InvalidValue,
                            &value.location,
                            format!(
                                "`listen`: `{text}` is not ADDRESS:PORT (such as 127.0.0.1:8088)"
                            ),
                        ),
                    }
                }
            }
            "spool" => config.spool = spool(&mut r, value),
            "limits" => config.limits = limits(&mut r, value, "`limits`"),
            "routes" => routes_node = Some((key, value)),
            _ => sources_node = Some((key, value)),
        }
    }
    // Every route the file names, also those with mistakes: a source naming one of
    // them is not wrong too.
    let mut declared: Vec<String> = Vec::new();
    match routes_node {
        Some((_, node)) => {
            for (key, value) in r.named(node, "routes") {
                declared.push(key.name.clone());
                if let Some(route) = route(&mut r, key, value) {
                    config.routes.push(route);
                }
            }
            if config.routes.is_empty() && node.as_map().is_some_and(<[_]>::is_empty) {
                r.error(
                    Code::RouteReference,
                    &node.location,
                    "`routes` names no route",
                );
            }
        }
        None => r.error(
            Code::RouteReference,
            &root.location,
            "the pipeline file has no `routes`: each names a mapping whose events it delivers",
        ),
    }
    if let Some((_, node)) = sources_node {
        for (key, value) in r.named(node, "sources") {
            if let Some(source) = source(&mut r, key, value, &declared) {
                config.sources.push(source);
            }
        }
    }
    r.errors
        .sort_by_key(|d| (d.location.line, d.location.column));
    (config, r.errors)
}

fn spool(r: &mut Reader<'_>, node: &Node) -> SpoolSection {
    let mut spool = SpoolSection::default();
    for (key, value) in r.fields(node, "`spool`", SPOOL) {
        match key.name.as_str() {
            "dir" => spool.dir = r.path(value, "dir"),
            "max_bytes" => spool.max_bytes = r.bytes(value, "max_bytes"),
            "dedup_window" => spool.dedup_window = r.duration(value, "dedup_window"),
            "dedup_max_ids" => {
                spool.dedup_max_ids = r
                    .count(value, "dedup_max_ids", 1..=i64::MAX)
                    .and_then(|n| u64::try_from(n).ok());
            }
            _ => spool.dead_letter_retention = r.duration(value, "dead_letter_retention"),
        }
    }
    spool
}

fn route(r: &mut Reader<'_>, key: &Key, node: &Node) -> Option<RouteConfig> {
    let what = format!("route `{}`", key.name);
    let mut mapping = None;
    let mut params = Vec::new();
    let mut settings = Vec::new();
    let mut delivery = RouteDelivery::default();
    for (field, value) in r.fields(node, &what, ROUTE) {
        match field.name.as_str() {
            "mapping" => {
                mapping = r
                    .path(value, "mapping")
                    .map(|p| (p, value.location.clone()))
            }
            "description" => {}
            "params" => {
                let Some(map) = value.as_map() else {
                    r.error(
                        Code::WrongKind,
                        &value.location,
                        "`params` must be a mapping of names to values",
                    );
                    continue;
                };
                for (name, v) in map {
                    let text = match &v.kind {
                        NodeKind::Str(s, _) => s.clone(),
                        NodeKind::Int(i) => i.to_string(),
                        NodeKind::Float(f) => f.to_string(),
                        NodeKind::Bool(b) => b.to_string(),
                        _ => {
                            r.error(
                                Code::WrongKind,
                                &v.location,
                                format!("param `{}` must be a scalar", name.name),
                            );
                            continue;
                        }
                    };
                    params.push((name.name.clone(), text));
                }
            }
            "settings" => settings = route_settings(r, value),
            _ => delivery = route_delivery(r, value, &what),
        }
    }
    let Some((mapping, mapping_location)) = mapping else {
        r.error(
            Code::RouteReference,
            &key.location,
            format!("{what} has no `mapping:` (the mapping file whose events it delivers)"),
        );
        return None;
    };
    if !mapping.is_file() {
        r.error(
            Code::RouteReference,
            &mapping_location,
            format!("{what}: no mapping file {}", mapping.display()),
        );
        return None;
    }
    Some(RouteConfig {
        name: key.name.clone(),
        location: key.location.clone(),
        mapping,
        mapping_location,
        params,
        settings,
        delivery,
    })
}

fn route_settings(r: &mut Reader<'_>, node: &Node) -> Vec<RouteSetting> {
    let Some(map) = node.as_map() else {
        r.error(
            Code::WrongKind,
            &node.location,
            "`settings` must be a mapping of setting names to `{ env: VARIABLE }` or values",
        );
        return Vec::new();
    };
    let mut settings = Vec::new();
    for (key, value) in map {
        let setting_value = match &value.kind {
            NodeKind::Map(entries) => match entries.as_slice() {
                [(k, v)] if k.name == "env" => match v.as_str() {
                    Some(name) if valid_env_name(name) => SettingValue::Env(name.to_string()),
                    _ => {
                        r.error(
                            Code::DestinationSetting,
                            &v.location,
                            "`env` names an environment variable (A-Z, 0-9, _)",
                        );
                        continue;
                    }
                },
                _ => {
                    r.error(
                        Code::DestinationSetting,
                        &value.location,
                        format!(
                            "setting `{}`: write `{{ env: VARIABLE }}` or a value",
                            key.name
                        ),
                    );
                    continue;
                }
            },
            NodeKind::Str(s, _) => SettingValue::Literal(s.clone()),
            NodeKind::Int(i) => SettingValue::Literal(i.to_string()),
            _ => {
                r.error(
                    Code::DestinationSetting,
                    &value.location,
                    format!(
                        "setting `{}`: write `{{ env: VARIABLE }}` or a value",
                        key.name
                    ),
                );
                continue;
            }
        };
        settings.push(RouteSetting {
            name: key.name.clone(),
            value: setting_value,
            location: key.location.clone(),
        });
    }
    settings
}

fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn route_delivery(r: &mut Reader<'_>, node: &Node, what: &str) -> RouteDelivery {
    let mut d = RouteDelivery::default();
    for (key, value) in r.fields(node, &format!("`delivery` of {what}"), DELIVERY) {
        let name = key.name.as_str();
        match name {
            "batch_size" => {
                d.batch_size = r.count(value, name, 1..=100_000).map(|n| n as usize);
            }
            "max_batch_bytes" => {
                d.max_batch_bytes = r.bytes(value, name).and_then(|n| usize::try_from(n).ok());
            }
            "concurrency" => d.concurrency = r.count(value, name, 1..=256).map(|n| n as usize),
            "max_attempts" => {
                d.max_attempts = r
                    .count(value, name, 1..=i64::from(u32::MAX))
                    .and_then(|n| u32::try_from(n).ok());
            }
            "test_mode" => d.test_mode = r.boolean(value, name).unwrap_or(false),
            _ => {
                let duration = r.duration(value, name);
                let slot = match name {
                    "max_retry_time" => &mut d.max_retry_time,
                    "retry_delay" => &mut d.retry_delay,
                    "max_retry_delay" => &mut d.max_retry_delay,
                    "linger" => &mut d.linger,
                    "connect_timeout" => &mut d.connect_timeout,
                    "read_timeout" => &mut d.read_timeout,
                    _ => &mut d.timeout,
                };
                *slot = duration;
            }
        }
    }
    d
}

/// `limits:` of the listener, or of a source.
fn limits(r: &mut Reader<'_>, node: &Node, what: &str) -> LimitsSection {
    let mut limits = LimitsSection::default();
    for (key, value) in r.fields(node, what, LIMITS) {
        let bytes = r.bytes(value, &key.name);
        match key.name.as_str() {
            "max_event_bytes" => limits.max_event_bytes = bytes,
            _ => limits.max_request_bytes = bytes,
        }
    }
    limits
}

fn source(r: &mut Reader<'_>, key: &Key, node: &Node, routes: &[String]) -> Option<SourceConfig> {
    let what = format!("source `{}`", key.name);
    let mut source = SourceConfig {
        name: key.name.clone(),
        location: key.location.clone(),
        write_keys: Vec::new(),
        cors_origins: Vec::new(),
        limits: LimitsSection::default(),
        routes: Vec::new(),
    };
    let mut saw_routes = false;
    for (field, value) in r.fields(node, &what, SOURCE) {
        match field.name.as_str() {
            "description" => {}
            "write_keys" => source.write_keys = key_sources(r, value),
            "cors_origins" => {
                for (origin, location) in r.strings(value, "cors_origins") {
                    match crate::intake::cors::check_origin(&origin) {
                        Ok(()) => source.cors_origins.push(origin),
                        Err(why) => {
                            r.error(Code::InvalidValue, &location, format!("cors origin {why}"))
                        }
                    }
                }
            }
            "limits" => source.limits = limits(r, value, &format!("{what}'s `limits`")),
            _ => {
                saw_routes = true;
                for (name, location) in r.strings(value, "routes") {
                    if routes.contains(&name) {
                        source.routes.push(name);
                    } else {
                        r.error(Code::RouteReference,
                            &location,
                            format!(
                                "{what} sends to route `{name}`, which the file does not define (its routes: {}){}",
                                routes.join(", "),
                                eventmap::suggestion(&name, routes.iter().map(String::as_str))
                            ),
                        );
                    }
                }
            }
        }
    }
    if !saw_routes {
        r.error(
            Code::RouteReference,
            &key.location,
            format!("{what} has no `routes:` (the routes its events go to)"),
        );
        return None;
    }
    if source.write_keys.is_empty() {
        r.error(
            Code::SourceKeys,
            &key.location,
            format!("{what} has no `write_keys:` (`{{ env: VARIABLE }}` or `{{ file: PATH }}`)"),
        );
        return None;
    }
    Some(source)
}

fn key_sources(r: &mut Reader<'_>, node: &Node) -> Vec<KeySource> {
    let items: Vec<&Node> = match &node.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut found = Vec::new();
    for item in items {
        match item.as_map() {
            Some([(k, v)]) if k.name == "env" => match v.as_str() {
                Some(name) if valid_env_name(name) => found.push(KeySource::Env(name.into())),
                _ => r.error(
                    Code::SourceKeys,
                    &v.location,
                    "`env` names an environment variable (A-Z, 0-9, _)",
                ),
            },
            Some([(k, v)]) if k.name == "file" => {
                if let Some(path) = r.path(v, "file") {
                    found.push(KeySource::File(path));
                }
            }
            _ => r.error(
                Code::SourceKeys,
                &item.location,
                "write keys come from `{ env: VARIABLE }` or `{ file: PATH }`, never written here",
            ),
        }
    }
    found
}
