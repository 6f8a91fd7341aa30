//! Why a mapping produced what it did for one event, key by key (`eventmap map --explain`).

use serde_json::Value;

use crate::diagnostics::Location;
use crate::input::path::Found;
use crate::input::tree::EventTree;
use crate::program::{Input, KeyRule, Program, Source};
use crate::runtime::frame::{Frame, KeyPath};
use crate::runtime::{EventContext, Matched, Outcome};
use crate::script::engine::set_clock;

/// How one event was mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The event section used and how it matched; `None` when the event was skipped
    /// before any section applied.
    pub section: Option<(String, Matched)>,
    /// What each output key of the section became, in mapping order.
    pub keys: Vec<KeyTrace>,
    /// The outcome, exactly as [`crate::Mapping::map`] gives it.
    pub outcome: Outcome,
}

/// One output key: where its value came from and what it became.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyTrace {
    pub key: String,
    /// Where the key's rule is in the mapping file.
    pub location: Location,
    /// Where the value came from: `from traits.email`, `constant`, `expression`, …
    pub source: String,
    pub result: KeyResult,
    /// For an `each` key: every element's keys, traced the same way, in list order.
    pub elements: Vec<Vec<KeyTrace>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KeyResult {
    Set(Value),
    /// The value was absent and the key's `default` was used.
    Default(Value),
    /// The key is left out, and why.
    Absent(String),
    /// The key failed the event, and why.
    Failed(String),
}

impl Program {
    pub(crate) fn explain<T: EventTree>(&self, event: &T, cx: &EventContext) -> Explanation {
        let outcome = self.run(event, cx);
        set_clock(cx.now_ms);
        let Ok((plan, matched)) = self.select_plan(event) else {
            return Explanation {
                section: None,
                keys: Vec::new(),
                outcome,
            };
        };
        let mut let_errors = Vec::new();
        let lets = self.eval_lets(plan, event, &mut let_errors);
        let skipped_by_filter = self
            .filters
            .iter()
            .chain(&plan.filters)
            .any(|f| self.filter_matches(f, event, &lets).unwrap_or(true));
        // `let:` values are traced like keys (each sees the values before it), then the
        // output keys.
        let mut keys: Vec<KeyTrace> = plan
            .lets
            .iter()
            .enumerate()
            .map(|(i, rule)| self.trace(rule, event, event, &lets[..i]))
            .collect();
        if !skipped_by_filter {
            keys.extend(
                plan.keys
                    .iter()
                    .map(|rule| self.trace(rule, event, event, &lets)),
            );
        }
        Explanation {
            section: Some((plan.name.clone(), matched)),
            keys,
            outcome,
        }
    }

    /// One key as it is computed for `current` (the event, or an element of an `each`).
    fn trace<T: EventTree>(
        &self,
        rule: &KeyRule,
        event: &T,
        current: &T,
        lets: &[Option<Value>],
    ) -> KeyTrace {
        let source = describe_source(rule, event, current, lets);
        let elements = self.trace_elements(rule, event, current, lets);
        let trace = |result| KeyTrace {
            key: rule.output.text.clone(),
            location: rule.location.clone(),
            source: source.clone(),
            result,
            elements: elements.clone(),
        };
        if let Some(when) = &rule.when {
            match self.eval_condition(when, event, current, lets) {
                Ok(true) => {}
                Ok(false) => {
                    return trace(KeyResult::Absent("its `when` condition is false".into()))
                }
                Err(e) => return trace(KeyResult::Failed(format!("`when`: {}", e.message))),
            }
        }
        let mut nested_errors = Vec::new();
        let mut slot = None;
        let frame = Frame {
            root: event,
            current,
            lets,
            path: KeyPath::Top,
        };
        let evaluated = self.eval_key(rule, frame, &mut nested_errors, &mut slot);
        let result = match evaluated.map(|()| slot) {
            Ok(Some(value)) => KeyResult::Set(value),
            Ok(None) => match &rule.default {
                Some(default) => KeyResult::Default(default.clone()),
                None if rule.required => KeyResult::Failed(format!(
                    "required, but {}",
                    absent_reason(rule, event, current)
                )),
                None => KeyResult::Absent(absent_reason(rule, event, current)),
            },
            Err(e) if rule.omit_on_error => {
                KeyResult::Absent(format!("`on_error: omit` after: {}", e.message))
            }
            Err(e) => KeyResult::Failed(e.message),
        };
        let result = match (result, nested_errors.first()) {
            (KeyResult::Set(_), Some(e)) => KeyResult::Failed(format!("{}: {}", e.key, e.message)),
            (result, _) => result,
        };
        trace(result)
    }

    /// The keys of every element an `each` key maps (elements reached as nodes of the
    /// event; a JSONPath collection is counted but not traced element by element).
    fn trace_elements<T: EventTree>(
        &self,
        rule: &KeyRule,
        event: &T,
        current: &T,
        lets: &[Option<Value>],
    ) -> Vec<Vec<KeyTrace>> {
        let Source::Each { over, keys, .. } = &rule.source else {
            return Vec::new();
        };
        let elements = over.iter().find_map(|p| match p.find(event, current) {
            Some(Found::Node(node)) => Some(match node.elements() {
                Some(items) => items.iter().collect::<Vec<&T>>(),
                None => vec![node],
            }),
            _ => None,
        });
        elements
            .unwrap_or_default()
            .into_iter()
            .map(|element| {
                keys.iter()
                    .map(|key| self.trace(key, event, element, lets))
                    .collect()
            })
            .collect()
    }
}

fn describe_source<T: EventTree>(
    rule: &KeyRule,
    event: &T,
    current: &T,
    lets: &[Option<Value>],
) -> String {
    let steps: Vec<&str> = rule.transforms.iter().map(|t| t.transform.name()).collect();
    let then = if steps.is_empty() {
        String::new()
    } else {
        format!(", then {}", steps.join(", "))
    };
    let source = match &rule.source {
        Source::Paths(paths) => {
            let found = paths.iter().position(|p| p.find(event, current).is_some());
            match (found, paths.len()) {
                (Some(i), 1) => format!("from {}", paths[i].as_str()),
                (Some(i), n) => format!("from {} (fallback {} of {n})", paths[i].as_str(), i + 1),
                (None, _) => format!(
                    "from {}",
                    paths
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        Source::Const(_) => "constant".to_string(),
        Source::Expr(script) => {
            let engine = if script.native.is_some() {
                "native"
            } else {
                "Rhai"
            };
            // Which inputs it had: what decides a `??` or an absent result.
            let inputs: Vec<String> = script
                .input_names
                .iter()
                .zip(&script.inputs)
                .map(|(name, input)| {
                    let present = match input {
                        Input::Paths(paths) => {
                            crate::input::path::first_present(paths, event, current).is_some()
                        }
                        Input::Const(v) => !crate::value::is_absent(v),
                        Input::Let(i) => lets.get(*i).is_some_and(Option::is_some),
                    };
                    format!("{name} {}", if present { "present" } else { "absent" })
                })
                .collect();
            let inputs = if inputs.is_empty() {
                String::new()
            } else {
                format!("; inputs: {}", inputs.join(", "))
            };
            format!(
                "expression at line {} ({engine}){inputs}",
                script.expression.location().line
            )
        }
        Source::Each { over, .. } => {
            // The list used: the first of the paths that reaches one.
            let found = over.iter().enumerate().find_map(|(i, p)| {
                p.find(event, current).map(|found| {
                    let count = match found {
                        Found::Node(n) => n.elements().map_or(1, <[T]>::len),
                        Found::Collected(Value::Array(items)) => items.len(),
                        Found::Collected(_) => 1,
                    };
                    (i, count)
                })
            });
            match (found, over.len()) {
                (Some((i, n)), 1) => format!("each of {n} element(s) of {}", over[i].as_str()),
                (Some((i, n)), total) => format!(
                    "each of {n} element(s) of {} (fallback {} of {total})",
                    over[i].as_str(),
                    i + 1
                ),
                (None, _) => format!(
                    "each over {}",
                    over.iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    format!("{source}{then}")
}

fn absent_reason<T: EventTree>(rule: &KeyRule, event: &T, current: &T) -> String {
    match &rule.source {
        Source::Paths(paths) if paths.iter().all(|p| p.find(event, current).is_none()) => {
            let list: Vec<&str> = paths.iter().map(|p| p.as_str()).collect();
            format!("no value at {}", list.join(", "))
        }
        Source::Paths(_) => "a transform gave no value".to_string(),
        Source::Const(_) => "the constant is empty".to_string(),
        Source::Expr(_) => "the expression gave no value".to_string(),
        Source::Each { .. } => "no list to map, or no element with a value".to_string(),
    }
}
