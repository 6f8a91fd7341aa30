//! Output keys: `global:`, an event's `keys:` and an `each:`'s `keys:`.

use serde_json::Value;

use super::cx::{Cx, Fields};
use super::steps::closing_steps;
use super::vocabulary::{KEY_FIELDS, SOURCES};
use crate::codes::Code;
use crate::output::shape::OutputShape;
use crate::program::{KeyRule, OutputKey, Script, Source};
use crate::yaml::{Key, Node, NodeKind};

impl Cx<'_> {
    /// A mapping of output keys to their rules.
    pub fn key_rules(&mut self, section: &Node) -> Vec<KeyRule> {
        let Some(entries) = section.as_map() else {
            self.error(
                Code::WrongKind,
                &section.location,
                format!(
                    "output keys must be a mapping of key names to rules, found {}",
                    section.describe()
                ),
            );
            return Vec::new();
        };
        entries
            .iter()
            .filter_map(|(key, spec)| self.key_rule(key, spec))
            .collect()
    }

    /// A `from:` list: its paths (`None` when it names only parameters), and the value of
    /// the first `{ param: NAME }` in it that is set (an unset one is passed over, as an
    /// absent path is).
    fn fallbacks_of(
        &mut self,
        node: &Node,
    ) -> Option<(Option<Vec<crate::InputPath>>, Option<serde_json::Value>)> {
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        let mut paths = Vec::new();
        let mut param = None;
        let mut ok = true;
        for item in items {
            match param_reference(item) {
                Some(name) => {
                    let value = self.param_value(name);
                    ok &= value.is_some();
                    if param.is_none() {
                        param = value.filter(|v| !crate::value::is_absent(v));
                    }
                }
                None if param.is_some() => {
                    self.error(
                        Code::InputPath,
                        &item.location,
                        "this fallback is never read: the parameter before it is set",
                    );
                    ok = false;
                }
                None => match self.paths(item) {
                    Some(found) => paths.extend(found),
                    None => ok = false,
                },
            }
        }
        ok.then_some(((!paths.is_empty()).then_some(paths), param))
    }

    /// One output key's rule, pass by pass: its fields, its one source, the fields that
    /// go with others, the source itself, transforms, condition, default, modifiers and
    /// declared type, then the steps the compiler adds. `None` when it has an error, or
    /// when a condition the parameters decide means it is never set.
    pub(super) fn key_rule(&mut self, key: &Key, spec: &Node) -> Option<KeyRule> {
        let output = self.output_key(key)?;
        let fields = self.key_fields(key, spec)?;
        let source_name = self.source_named(key, &fields)?;
        let spread = self.check_companions(key, &fields, &output, source_name)?;
        let (source, from_param) = self.key_source(key, &fields, source_name)?;
        let mut transforms = fields
            .get("transform")
            .map(|t| self.transforms(t))
            .unwrap_or_default();
        let (when, never_set) = self.key_condition(&fields)?;
        let default = self.key_default(&fields);
        let default = from_param.or(default);
        let required = fields
            .get("required")
            .and_then(|r| self.bool(r, "`required`"))
            .unwrap_or(false);
        let omit_on_error = self.on_error(&fields);
        let declared = self.declared_type(key, &fields, default.as_ref());
        transforms.extend(closing_steps(key, spread, declared));
        if never_set {
            return None;
        }
        Some(KeyRule {
            output,
            location: key.location.clone(),
            source,
            transforms,
            when,
            default,
            required,
            omit_on_error,
        })
    }

    /// The fields of a key's rule, which must be a mapping of known fields.
    fn key_fields<'n>(&mut self, key: &Key, spec: &'n Node) -> Option<Fields<'n>> {
        if !matches!(spec.kind, NodeKind::Map(_)) {
            let hint = match &spec.kind {
                NodeKind::Str(s, _) => format!(": write `{{ from: {s} }}` to read an input path or `{{ const: {s} }}` for a constant"),
                _ => ": write `{ const: ... }` for a constant".to_string(),
            };
            self.error(
                Code::KeySource,
                &spec.location,
                format!(
                    "output key `{}` needs a rule mapping, found {}{hint}",
                    key.name,
                    spec.describe()
                ),
            );
            return None;
        }
        self.fields(spec, &format!("output key `{}`", key.name), KEY_FIELDS)
    }

    /// The one source a key names (`from`, `const`, `param`, `expr` or `each`).
    fn source_named(&mut self, key: &Key, fields: &Fields<'_>) -> Option<&'static str> {
        let given: Vec<&'static str> = SOURCES
            .iter()
            .copied()
            .filter(|s| fields.get(s).is_some())
            .collect();
        match given.as_slice() {
            [] => {
                self.error(Code::KeySource, &key.location, format!("output key `{}` has no source: give one of `from`, `const`, `param`, `expr` or `each`", key.name));
                None
            }
            [only] => Some(only),
            [first, second, ..] => {
                let at = fields
                    .key(second)
                    .map(|k| k.location.clone())
                    .unwrap_or_else(|| key.location.clone());
                self.error(
                    Code::KeySource,
                    &at,
                    format!(
                        "output key `{}` has both `{first}` and `{second}`; keep one source",
                        key.name
                    ),
                );
                None
            }
        }
    }

    /// Fields that only mean something beside another (`keys` with `each`, `inputs` with
    /// `expr` or `when`, `except` with a spread key). Gives the keys a spread leaves out
    /// (`None` inside for a key that is not a spread); `None` when the key cannot be
    /// compiled at all.
    fn check_companions(
        &mut self,
        key: &Key,
        fields: &Fields<'_>,
        output: &OutputKey,
        source_name: &str,
    ) -> Option<Option<Vec<String>>> {
        if fields.get("keys").is_some() && fields.get("each").is_none() {
            self.error(
                Code::KeySource,
                &fields.key("keys")?.location,
                "`keys` describes the elements of an `each`; add `each: <input path of a list>`",
            );
        }
        if fields.get("inputs").is_some()
            && fields.get("expr").is_none()
            && fields.get("when").is_none()
        {
            self.error(
                Code::KeySource,
                &fields.key("inputs")?.location,
                "`inputs` are read only by `expr` and `when`",
            );
        }
        if let Some(d) = fields.get("description") {
            self.string(d, "`description`");
        }
        let spread = output.is_spread().then(|| self.spread_except(fields, key));
        if let (None, Some(except)) = (&spread, fields.key("except")) {
            self.error(
                Code::KeySource,
                &except.location,
                format!(
                    "`except` lists keys a spread leaves out; spread into `{}` with the key `{}.*`",
                    key.name, key.name
                ),
            );
        }
        if spread.is_some() && source_name == "each" {
            self.error(
                Code::KeySource,
                &key.location,
                "a spread key copies an object's keys; `each` builds a list: use one or the other",
            );
            return None;
        }
        Some(spread)
    }

    /// The key's source, and the value of the first parameter set at the end of a `from:`
    /// list (the value when no path has one; it comes before `default:`).
    fn key_source(
        &mut self,
        key: &Key,
        fields: &Fields<'_>,
        source_name: &str,
    ) -> Option<(Source, Option<Value>)> {
        let inputs = fields.get("inputs");
        let source = match source_name {
            "from" if fields.get("from").and_then(let_reference).is_some() => {
                let name = fields.get("from").and_then(let_reference)?;
                Source::Expr(self.let_source(name)?)
            }
            "from" => {
                let (paths, mut param) = self.fallbacks_of(fields.get("from")?)?;
                return Some(match paths {
                    Some(paths) => (Source::Paths(paths), param),
                    None => (Source::Const(param.take().unwrap_or(Value::Null)), None),
                });
            }
            "const" => Source::Const(fields.get("const")?.to_json()),
            "param" => Source::Const(self.param_value(fields.get("param")?)?),
            "expr" => Source::Expr(self.script(fields.get("expr")?, inputs)?),
            _ => self.each_source(key, fields)?,
        };
        Some((source, None))
    }

    /// `each: PATHS` with `keys:` for the elements.
    fn each_source(&mut self, key: &Key, fields: &Fields<'_>) -> Option<Source> {
        let over = self.paths(fields.get("each")?)?;
        let Some(keys_node) = fields.get("keys") else {
            self.error(
                Code::KeySource,
                &key.location,
                format!(
                    "output key `{}` has `each` but no `keys` for its elements",
                    key.name
                ),
            );
            return None;
        };
        let keys = self.key_rules(keys_node);
        self.check_conflicts(&keys);
        Some(Source::Each {
            shape: OutputShape::of(
                keys.iter()
                    .map(|key| (key.output.segments.as_slice(), false)),
            ),
            over,
            keys,
        })
    }

    /// `when:`: the condition checked per event (`None` when there is none, or when the
    /// parameters make it always true), and whether the parameters make it never true.
    fn key_condition(&mut self, fields: &Fields<'_>) -> Option<(Option<Script>, bool)> {
        let Some(node) = fields.get("when") else {
            return Some((None, false));
        };
        let script = self.script(node, fields.get("inputs"))?;
        Some(match self.constant_condition(&script, node) {
            // Always true: no condition to check per event.
            Some(true) => (None, false),
            // Never true with these parameters: the key is never set.
            Some(false) => (None, true),
            None => (Some(script), false),
        })
    }

    /// `default:` (`{ param: NAME }` is the parameter's value, not that object).
    fn key_default(&mut self, fields: &Fields<'_>) -> Option<Value> {
        match fields.get("default")? {
            d if matches!(d.kind, NodeKind::Null) => {
                self.error(
                    Code::InvalidValue,
                    &d.location,
                    "a null `default` has no effect (absent values are omitted anyway)",
                );
                None
            }
            d => match param_reference(d) {
                Some(name) => self
                    .param_value(name)
                    .filter(|v| !crate::value::is_absent(v)),
                None => Some(d.to_json()),
            },
        }
    }

    /// `on_error: omit` (the key is left out) rather than `fail` (the event fails).
    fn on_error(&mut self, fields: &Fields<'_>) -> bool {
        let Some(node) = fields.get("on_error") else {
            return false;
        };
        match node.as_str() {
            Some("fail") => false,
            Some("omit") => true,
            _ => {
                self.error(Code::InvalidValue, &node.location, "`on_error` must be `fail` (the default: the event fails) or `omit` (the key is left out)");
                false
            }
        }
    }

    fn spread_except(&mut self, fields: &Fields<'_>, key: &Key) -> Vec<String> {
        let Some(node) = fields.get("except") else {
            return Vec::new();
        };
        let what = format!("`except` of `{}`", key.name);
        self.string_list(node, &what)
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    fn output_key(&mut self, key: &Key) -> Option<OutputKey> {
        let segments: Vec<String> = key.name.split('.').map(str::to_string).collect();
        if segments.iter().any(|s| s.trim().is_empty()) {
            self.error(
                Code::KeyConflict,
                &key.location,
                format!("output key `{}` has an empty segment", key.name),
            );
            return None;
        }
        if segments[..segments.len() - 1].iter().any(|s| s == "*") {
            self.error(
                Code::KeyConflict,
                &key.location,
                format!(
                    "output key `{}`: `*` spreads an object and can only end a key (`data.*`)",
                    key.name
                ),
            );
            return None;
        }
        Some(OutputKey {
            text: key.name.clone(),
            segments,
        })
    }

    /// Two keys where one is a prefix of the other (`data` and `data.type`) would
    /// overwrite each other.
    pub fn check_conflicts(&mut self, rules: &[KeyRule]) {
        for (i, later) in rules.iter().enumerate() {
            for earlier in &rules[..i] {
                let (a, b) = (&earlier.output.segments, &later.output.segments);
                let shared = a.len().min(b.len());
                if a[..shared] == b[..shared] {
                    self.error(Code::KeyConflict,
                        &later.location,
                        format!(
                            "output key `{}` conflicts with `{}` (line {}): a key cannot hold both a value and nested keys",
                            later.output.text, earlier.output.text, earlier.location.line
                        ),
                    );
                }
            }
        }
    }
}

/// The parameter name of a `{ param: NAME }` node.
fn param_reference(node: &Node) -> Option<&Node> {
    match node.as_map()? {
        [(key, value)] if key.name == "param" => Some(value),
        _ => None,
    }
}

/// The let name of a `{ let: NAME }` node.
fn let_reference(node: &Node) -> Option<&Node> {
    match node.as_map()? {
        [(key, value)] if key.name == "let" => Some(value),
        _ => None,
    }
}
