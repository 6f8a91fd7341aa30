//! Runs a compiled program on one event; [`native`] evaluates the expressions that need
//! no interpreter.

mod each;
pub(crate) mod frame;
mod native;

use std::borrow::Cow;

use serde_json::Value;

use crate::codes::Code;
use crate::diagnostics::Location;
use crate::event_name::normalize_event_name;
use crate::input::path::{first_found, first_present, Found, InputPath};
use crate::input::tree::EventTree;
use crate::output::shape::ItemList;
use crate::output::view::Output;
use crate::program::{EventPlan, Fallback, Filter, Input, KeyRule, Program, Script, Source};
use crate::script::engine::{dynamic_to_json, json_to_dynamic, set_clock, ScriptError};
use crate::value::is_absent;
use each::Elements;
use frame::Frame;
pub use frame::KeyError;
use native::eval_native;

/// What a run needs besides the event: the clock, fixed by `--now` in tests.
#[derive(Debug, Clone, Copy)]
pub struct EventContext {
    pub now_ms: i64,
}

impl EventContext {
    /// The current system time.
    pub fn now() -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Self { now_ms }
    }
}

/// The result of mapping one event: nothing is silently dropped. The mapped event is a
/// JSON value, or (from [`Mapping::map_json_output`](crate::Mapping::map_json_output)) an
/// [`Output`] still in its slots.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T = Value> {
    Mapped(T),
    Skipped { reason: String },
    Failed(Vec<KeyError>),
}

impl<T> Outcome<T> {
    /// The outcome with its mapped event passed through `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Mapped(event) => Outcome::Mapped(f(event)),
            Outcome::Skipped { reason } => Outcome::Skipped { reason },
            Outcome::Failed(errors) => Outcome::Failed(errors),
        }
    }
}

/// How an event found its section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    EventName,
    CallType,
    /// No section matched; the `default:` section mapped it.
    Default,
}

impl Program {
    pub(crate) fn run<T: EventTree>(&self, event: &T, cx: &EventContext) -> Outcome {
        self.run_in_mode(event, cx).0.map(Output::into_value)
    }

    /// The event mapped into its slots, and whether the section that mapped it is in
    /// test mode.
    pub(crate) fn run_in_mode<T: EventTree>(
        &self,
        event: &T,
        cx: &EventContext,
    ) -> (Outcome<Output<'_>>, bool) {
        set_clock(cx.now_ms);
        let plan = match self.select_plan(event) {
            Ok((plan, _)) => plan,
            Err(reason) => return (Outcome::Skipped { reason }, false),
        };
        let outcome = self.run_plan(plan, event);
        (outcome, plan.test_mode)
    }

    fn run_plan<'p, T: EventTree>(&self, plan: &'p EventPlan, event: &T) -> Outcome<Output<'p>> {
        let mut errors = Vec::new();
        let lets = self.eval_lets(plan, event, &mut errors);
        for filter in self.filters.iter().chain(&plan.filters) {
            match self.filter_matches(filter, event, &lets) {
                Ok(true) => {
                    return Outcome::Skipped {
                        reason: filter.reason.clone(),
                    }
                }
                Ok(false) => {}
                Err(error) => {
                    errors.push(error);
                    return Outcome::Failed(errors);
                }
            }
        }
        let mut slots = vec![None; plan.keys.len()];
        let mut lists = Vec::new();
        self.eval_keys(
            &plan.keys,
            Frame::top(event, &lets),
            &mut slots,
            &mut errors,
            Some(&mut lists),
        );
        if errors.is_empty() {
            Outcome::Mapped(Output::new(&plan.shape, slots, lists))
        } else {
            Outcome::Failed(errors)
        }
    }

    /// By event name (as written, then normalized; `track` calls only), then by call type,
    /// then `default`.
    pub(crate) fn select_plan<T: EventTree>(
        &self,
        event: &T,
    ) -> Result<(&EventPlan, Matched), String> {
        let text = |path: &InputPath| match path.find(event, event) {
            Some(Found::Node(node)) => node.as_str(),
            _ => None,
        };
        let call_type = text(&self.call_type_path);
        // An event name names a `track` call (or an event that says no type): an
        // `identify` that happens to carry an `event` field is matched by its type.
        let name = text(&self.event_name_path).filter(|_| call_type.is_none_or(|t| t == "track"));
        let by_name = name.and_then(|n| {
            self.by_exact_name
                .get(n)
                .or_else(|| self.by_normalized_name.get(&normalize_event_name(n)))
                .map(|i| (*i, Matched::EventName))
        });
        let found = by_name.or_else(|| {
            call_type.and_then(|t| self.by_call_type.get(t).map(|i| (*i, Matched::CallType)))
        });
        let (index, matched) = match (found, &self.fallback) {
            (Some(found), _) => found,
            (None, Fallback::Plan(i)) => (*i, Matched::Default),
            (None, Fallback::Skip(reason)) => return Err(reason.clone()),
            (None, Fallback::Unmatched) => {
                return Err(match (name, call_type) {
                    (Some(n), _) => format!("no mapping for event `{n}`"),
                    (None, Some(t)) => format!("no mapping for `{t}` calls"),
                    (None, None) => "event has neither `event` nor `type`".to_string(),
                })
            }
        };
        Ok((&self.plans[index], matched))
    }

    /// The plan's `let:` values for this event, in order (each sees those before it).
    /// A failing value is recorded in `errors` and left absent.
    pub(crate) fn eval_lets<T: EventTree>(
        &self,
        plan: &EventPlan,
        event: &T,
        errors: &mut Vec<KeyError>,
    ) -> Vec<Option<Value>> {
        let mut lets: Vec<Option<Value>> = vec![None; plan.lets.len()];
        for index in 0..plan.lets.len() {
            let (done, rest) = lets.split_at_mut(index);
            let frame = Frame::top(event, done);
            self.eval_keys(
                &plan.lets[index..=index],
                frame,
                &mut rest[..1],
                errors,
                None,
            );
        }
        lets
    }

    pub(crate) fn filter_matches<T: EventTree>(
        &self,
        filter: &Filter,
        event: &T,
        lets: &[Option<Value>],
    ) -> Result<bool, KeyError> {
        self.eval_condition(&filter.condition, event, event, lets)
            .map_err(|e| KeyError {
                code: e.code,
                key: "filters".into(),
                message: e.message,
                location: e.location,
            })
    }

    /// Fills one slot per rule. Given `lists` (at the top of a plan, whose shape has them),
    /// the `each` keys that keep their elements in slots put their lists there instead.
    fn eval_keys<'p, T: EventTree>(
        &self,
        rules: &'p [KeyRule],
        frame: Frame<'_, T>,
        slots: &mut [Option<Value>],
        errors: &mut Vec<KeyError>,
        mut lists: Option<&mut Vec<ItemList<'p>>>,
    ) {
        for (index, (rule, slot)) in rules.iter().zip(slots.iter_mut()).enumerate() {
            let fail = |code: Code, message: String, location: &Location| KeyError {
                code,
                key: frame.path.render(&rule.output.text),
                message,
                location: location.clone(),
            };
            if let Some(when) = &rule.when {
                match self.eval_condition(when, frame.root, frame.current, frame.lets) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        errors.push(fail(e.code, e.message, &e.location));
                        continue;
                    }
                }
            }
            if let (Some(lists), Source::Each { over, keys, shape }) =
                (lists.as_deref_mut(), &rule.source)
            {
                if rule.keeps_items_in_slots() {
                    let mut list = Elements::Slots(ItemList::new(index, shape, keys.len()));
                    let each = (over.as_slice(), keys.as_slice(), shape);
                    match self.eval_each(rule, each, frame, errors, &mut list) {
                        Ok(()) => {
                            if let Elements::Slots(list) = list {
                                if !list.is_empty() {
                                    lists.push(list);
                                }
                            }
                        }
                        Err(_) if rule.omit_on_error => {}
                        Err(e) => errors.push(fail(e.code, e.message, &e.location)),
                    }
                    continue;
                }
            }
            match self.eval_key(rule, frame, errors, slot) {
                Ok(()) if slot.is_some() => {}
                Ok(()) => match &rule.default {
                    Some(default) => *slot = Some(default.clone()),
                    None if rule.required => errors.push(fail(
                        Code::RequiredAbsent,
                        self.absent_message(rule),
                        &rule.location,
                    )),
                    None => {}
                },
                Err(_) if rule.omit_on_error => *slot = None,
                Err(e) => {
                    *slot = None;
                    errors.push(fail(e.code, e.message, &e.location))
                }
            }
        }
    }

    /// Writes the key's value after its source and transforms into `slot`, which must be
    /// empty and is left empty when the value is absent. Writing in place, rather than
    /// returning the value through `Option`/`Cow`/`Result` layers, keeps the processor
    /// from stalling on each move of a `Value` (docs/benchmarks.md).
    pub(crate) fn eval_key<T: EventTree>(
        &self,
        rule: &KeyRule,
        frame: Frame<'_, T>,
        errors: &mut Vec<KeyError>,
        slot: &mut Option<Value>,
    ) -> Result<(), ScriptError> {
        let mut steps = rule.transforms.iter();
        match &rule.source {
            Source::Paths(paths) => {
                let Some(found) = first_found(paths, frame.root, frame.current) else {
                    return Ok(());
                };
                match steps.next() {
                    // A value read from the event goes through its first transform
                    // without being copied when the event is JSON already.
                    Some(step) if step.checks.is_none() => {
                        *slot = found.with_json(|input| step.apply(input))?
                    }
                    Some(check) => {
                        *slot = Some(found.into_value().into_owned());
                        check.apply_to(slot)?;
                    }
                    None => *slot = Some(found.into_value().into_owned()),
                }
            }
            Source::Const(v) => {
                if !is_absent(v) {
                    *slot = Some(v.clone());
                }
            }
            Source::Expr(script) => {
                *slot = Some(self.eval_script(script, frame.root, frame.current, frame.lets)?);
                if slot.as_ref().is_some_and(is_absent) {
                    *slot = None;
                }
            }
            Source::Each { over, keys, shape } => {
                let mut list = Elements::Values(Vec::new());
                let each = (over.as_slice(), keys.as_slice(), shape);
                self.eval_each(rule, each, frame, errors, &mut list)?;
                *slot = match list {
                    Elements::Values(items) if !items.is_empty() => Some(Value::Array(items)),
                    _ => None,
                };
            }
        }
        for step in steps {
            step.apply_to(slot)?;
        }
        Ok(())
    }

    fn eval_script<T: EventTree>(
        &self,
        script: &Script,
        root: &T,
        current: &T,
        lets: &[Option<Value>],
    ) -> Result<Value, ScriptError> {
        if let Some(native) = &script.native {
            return eval_native(native, script, root, current, lets).map(Cow::into_owned);
        }
        let values = script
            .inputs
            .iter()
            .map(|input| match input {
                Input::Paths(paths) => first_present(paths, root, current)
                    .map(|v| json_to_dynamic(&v))
                    .unwrap_or(rhai::Dynamic::UNIT),
                Input::Const(v) => json_to_dynamic(v),
                Input::Let(i) => lets
                    .get(*i)
                    .and_then(Option::as_ref)
                    .map_or(rhai::Dynamic::UNIT, json_to_dynamic),
            })
            .collect();
        let result = self
            .script
            .eval(&script.expression, &script.input_names, values)?;
        dynamic_to_json(&result).map_err(|message| ScriptError {
            code: Code::ExpressionFailed,
            message,
            location: script.expression.location().clone(),
        })
    }

    pub(crate) fn eval_condition<T: EventTree>(
        &self,
        script: &Script,
        root: &T,
        current: &T,
        lets: &[Option<Value>],
    ) -> Result<bool, ScriptError> {
        match self.eval_script(script, root, current, lets)? {
            Value::Bool(b) => Ok(b),
            v if is_absent(&v) => Ok(false),
            other => Err(ScriptError {
                code: Code::ExpressionFailed,
                message: format!(
                    "a condition must give true or false, got {}",
                    crate::value::kind_of(&other)
                ),
                location: script.expression.location().clone(),
            }),
        }
    }

    fn absent_message(&self, rule: &KeyRule) -> String {
        match &rule.source {
            Source::Paths(paths) => {
                let list: Vec<&str> = paths.iter().map(|p| p.as_str()).collect();
                format!("required value is absent (read from {})", list.join(", "))
            }
            _ => "required value is absent".to_string(),
        }
    }
}
