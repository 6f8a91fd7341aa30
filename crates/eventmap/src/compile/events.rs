//! `events:`, `filters:` and `default:`: which events are mapped, and how.

use std::collections::HashMap;

use super::cx::Cx;
use super::vocabulary::{CALL_TYPES, DEFAULT_FIELDS, EVENT_FIELDS, FILTER_FIELDS, MATCH_FIELDS};
use crate::codes::Code;
use crate::diagnostics::{suggestion, Location};
use crate::event_name::normalize_event_name;
use crate::output::shape::OutputShape;
use crate::program::{EventPlan, Fallback, Filter, KeyRule};
use crate::yaml::Node;

/// A name as written in the file, with where.
type Named = (String, Location);

pub(super) struct Section {
    name: String,
    location: Location,
    names: Vec<Named>,
    types: Vec<Named>,
    lets: Vec<KeyRule>,
    filters: Vec<Filter>,
    keys: Vec<KeyRule>,
    test_mode: bool,
}

pub(super) enum DefaultSection {
    Skip(String),
    Map {
        lets: Vec<KeyRule>,
        filters: Vec<Filter>,
        keys: Vec<KeyRule>,
        test_mode: bool,
    },
}

pub(super) struct Tables {
    pub plans: Vec<EventPlan>,
    pub by_exact_name: HashMap<String, usize>,
    pub by_normalized_name: HashMap<String, usize>,
    pub by_call_type: HashMap<String, usize>,
    pub fallback: Fallback,
}

/// A list of `{ skip_if: EXPR, inputs: {...}, reason: TEXT }`.
pub(super) fn filters(cx: &mut Cx<'_>, node: &Node) -> Vec<Filter> {
    let Some(items) = (match &node.kind {
        crate::yaml::NodeKind::Seq(items) => Some(items),
        _ => None,
    }) else {
        cx.error(
            Code::WrongKind,
            &node.location,
            format!(
                "`filters` must be a list of `{{ skip_if: ..., reason: ... }}`, found {}",
                node.describe()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(fields) = cx.fields(item, "a filter", FILTER_FIELDS) else {
            continue;
        };
        let Some(condition_node) = fields.get("skip_if") else {
            cx.error(
                Code::EventMatch,
                &item.location,
                "a filter needs `skip_if: <expression>`",
            );
            continue;
        };
        let reason = match fields.get("reason") {
            Some(r) => cx.string(r, "`reason`"),
            None => Some(format!(
                "skip_if at line {} matched",
                condition_node.location.line
            )),
        };
        if let (Some(condition), Some(reason)) =
            (cx.script(condition_node, fields.get("inputs")), reason)
        {
            out.push(Filter { condition, reason });
        }
    }
    out
}

pub(super) fn sections(cx: &mut Cx<'_>, node: &Node) -> Vec<Section> {
    let Some(entries) = node.as_map() else {
        cx.error(
            Code::WrongKind,
            &node.location,
            format!(
                "`events` must be a mapping of section names to event mappings, found {}",
                node.describe()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, spec) in entries {
        let Some(fields) = cx.fields(spec, &format!("event `{}`", key.name), EVENT_FIELDS) else {
            continue;
        };
        if let Some(d) = fields.get("description") {
            cx.string(d, "`description`");
        }
        let (names, types) = match fields.get("match") {
            // Without `match`, a section matches the event named like the section.
            None => (vec![(key.name.clone(), key.location.clone())], Vec::new()),
            Some(m) => match_clause(cx, m),
        };
        let global_lets = cx.let_scope.len();
        let lets = fields.get("let").map(|n| cx.lets(n)).unwrap_or_default();
        let filters = fields
            .get("filters")
            .map(|f| filters(cx, f))
            .unwrap_or_default();
        let keys = match fields.get("keys") {
            Some(k) => cx.key_rules(k),
            None => {
                cx.error(
                    Code::EventMatch,
                    &key.location,
                    format!("event `{}` has no `keys`", key.name),
                );
                Vec::new()
            }
        };
        cx.let_scope.truncate(global_lets);
        out.push(Section {
            name: key.name.clone(),
            location: key.location.clone(),
            names,
            types,
            lets,
            filters,
            keys,
            test_mode: test_mode(cx, &fields),
        });
    }
    out
}

fn match_clause(cx: &mut Cx<'_>, node: &Node) -> (Vec<Named>, Vec<Named>) {
    let Some(fields) = cx.fields(node, "`match`", MATCH_FIELDS) else {
        return (Vec::new(), Vec::new());
    };
    let mut names = fields
        .get("event")
        .map(|n| cx.string_list(n, "an event name"))
        .unwrap_or_default();
    // `event_in: TABLE`: every name the table lists.
    if let Some(node) = fields.get("event_in") {
        if let Some(table_name) = cx.string(node, "`event_in` (a table's name)") {
            if let Some(serde_json::Value::Object(table)) = cx.table(&table_name, &node.location) {
                names.extend(table.keys().map(|k| (k.clone(), node.location.clone())));
            }
        }
    }
    let types = fields
        .get("type")
        .map(|n| cx.string_list(n, "a call type"))
        .unwrap_or_default();
    for (call_type, location) in &types {
        if !CALL_TYPES.contains(&call_type.as_str()) {
            let hint = suggestion(call_type, CALL_TYPES.iter().copied());
            cx.error(
                Code::EventMatch,
                location,
                format!(
                    "unknown call type `{call_type}`{hint}; expected one of: {}",
                    CALL_TYPES.join(", ")
                ),
            );
        }
    }
    // An `event_in` whose table was refused has said so already.
    if names.is_empty() && types.is_empty() && fields.get("event_in").is_none() {
        cx.error(Code::EventMatch,
            &node.location,
            "`match` needs `event` (event names), `event_in` (a table of them) or `type` (call types)",
        );
    }
    (names, types)
}

pub(super) fn default_section(cx: &mut Cx<'_>, node: &Node) -> Option<DefaultSection> {
    let fields = cx.fields(node, "`default`", DEFAULT_FIELDS)?;
    match (fields.get("skip"), fields.get("keys")) {
        (Some(reason), None) => {
            if let Some(f) = fields.key("filters") {
                cx.error(
                    Code::EventMatch,
                    &f.location,
                    "`filters` apply only to a `default` that maps events (`keys`)",
                );
            }
            cx.string(reason, "`skip` (the reason)")
                .map(DefaultSection::Skip)
        }
        (None, Some(keys)) => {
            let global_lets = cx.let_scope.len();
            let lets = fields.get("let").map(|n| cx.lets(n)).unwrap_or_default();
            let filters = fields
                .get("filters")
                .map(|f| filters(cx, f))
                .unwrap_or_default();
            let keys = cx.key_rules(keys);
            cx.let_scope.truncate(global_lets);
            Some(DefaultSection::Map {
                lets,
                filters,
                keys,
                test_mode: test_mode(cx, &fields),
            })
        }
        _ => {
            cx.error(
                Code::EventMatch,
                &node.location,
                "`default` needs either `skip: <reason>` or `keys: {...}`, not both",
            );
            None
        }
    }
}

/// Merges global keys into each section and builds the lookup tables.
pub(super) fn plans(
    cx: &mut Cx<'_>,
    global_lets: &[KeyRule],
    global: &[KeyRule],
    sections: Vec<Section>,
    default: Option<Option<DefaultSection>>,
    all_test_mode: bool,
) -> Tables {
    let mut tables = Tables {
        plans: Vec::new(),
        by_exact_name: HashMap::new(),
        by_normalized_name: HashMap::new(),
        by_call_type: HashMap::new(),
        fallback: Fallback::Unmatched,
    };
    let mut claimed: HashMap<String, (String, u32)> = HashMap::new();
    for section in sections {
        let index = tables.plans.len();
        for (name, location) in &section.names {
            let normalized = normalize_event_name(name);
            if normalized.is_empty() {
                cx.error(
                    Code::EventMatch,
                    location,
                    "an event name must contain letters or digits",
                );
                continue;
            }
            if let Some((owner, line)) = claimed.get(&normalized) {
                cx.error(
                    Code::EventMatch,
                    location,
                    format!(
                        "event name `{name}` is already matched by event `{owner}` (line {line})"
                    ),
                );
                continue;
            }
            claimed.insert(
                normalized.clone(),
                (section.name.clone(), section.location.line),
            );
            tables.by_exact_name.insert(name.clone(), index);
            tables.by_normalized_name.insert(normalized, index);
        }
        for (call_type, location) in &section.types {
            let key = format!("type:{call_type}");
            if let Some((owner, line)) = claimed.get(&key) {
                cx.error(Code::EventMatch, location, format!("call type `{call_type}` is already matched by event `{owner}` (line {line})"));
                continue;
            }
            claimed.insert(key, (section.name.clone(), section.location.line));
            tables.by_call_type.insert(call_type.clone(), index);
        }
        let keys = merge(cx, global, section.keys);
        tables.plans.push(EventPlan {
            shape: plan_shape(&keys),
            name: section.name,
            lets: [global_lets, &section.lets].concat(),
            filters: section.filters,
            keys,
            test_mode: all_test_mode || section.test_mode,
        });
    }
    tables.fallback = match default.flatten() {
        None => Fallback::Unmatched,
        Some(DefaultSection::Skip(reason)) => Fallback::Skip(reason),
        Some(DefaultSection::Map {
            lets,
            filters,
            keys,
            test_mode,
        }) => {
            let keys = merge(cx, global, keys);
            tables.plans.push(EventPlan {
                shape: plan_shape(&keys),
                name: "default".into(),
                lets: [global_lets, &lets].concat(),
                filters,
                keys,
                test_mode: all_test_mode || test_mode,
            });
            Fallback::Plan(tables.plans.len() - 1)
        }
    };
    tables
}

/// `test_mode: true`: the section's events are sent with `validate_only` (checked by the
/// destination, not recorded), like the seed's per-rule test mode.
pub(super) fn test_mode(cx: &mut Cx<'_>, fields: &super::cx::Fields<'_>) -> bool {
    fields
        .get("test_mode")
        .and_then(|n| cx.bool(n, "`test_mode`"))
        .unwrap_or(false)
}

/// Global keys first, each replaced by the event's key of the same name if there is one.
fn merge(cx: &mut Cx<'_>, global: &[KeyRule], own: Vec<KeyRule>) -> Vec<KeyRule> {
    let mut merged: Vec<KeyRule> = global.to_vec();
    for rule in own {
        match merged
            .iter_mut()
            .find(|g| g.output.text == rule.output.text)
        {
            Some(slot) => *slot = rule,
            None => merged.push(rule),
        }
    }
    cx.check_conflicts(&merged);
    merged
}

/// A plan's output shape: the lists of `each` keys that allow it kept in slots
/// ([`KeyRule::keeps_items_in_slots`]).
fn plan_shape(keys: &[KeyRule]) -> OutputShape {
    OutputShape::of(
        keys.iter()
            .map(|key| (key.output.segments.as_slice(), key.keeps_items_in_slots())),
    )
}

#[cfg(test)]
mod tests {
    use crate::event_name::normalize_event_name;

    #[test]
    fn event_names_normalize_spelling() {
        assert_eq!(normalize_event_name("Order Completed"), "order_completed");
        assert_eq!(normalize_event_name("order_completed"), "order_completed");
        assert_eq!(
            normalize_event_name(" Order--Completed! "),
            "order_completed"
        );
        assert_eq!(normalize_event_name("Äpfel Gekauft"), "äpfel_gekauft");
        assert_eq!(normalize_event_name("__a__b__"), "a_b");
        assert_eq!(normalize_event_name("İx"), "i\u{307}x");
        assert_eq!(normalize_event_name("  "), "");
        // Compared without building either name: the same answer.
        for (a, b, same) in [
            ("Order Completed", "ORDER-COMPLETED", true),
            ("order completed", "order completed!", true),
            ("Order Completed", "Order Complete", false),
            ("a b", "ab", false),
        ] {
            assert_eq!(crate::event_name::same_event_name(a, b), same, "{a} / {b}");
            assert_eq!(normalize_event_name(a) == normalize_event_name(b), same);
        }
    }
}
