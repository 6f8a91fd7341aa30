//! What the page shows for a mapping text and some events: the compiler's diagnostics,
//! or for each event its outcome and the `explain` trace of every key. The same compiler,
//! explainer and destination validators as `eventmap check`, `map --explain` and `eventmap
//! test`; nothing here maps on its own.

use eventmap::{
    CompileOptions, EventContext, Explanation, KeyResult, KeyTrace, Mapping, Matched, Outcome,
};
use eventmap_pipeline::process::Compiled;
use serde_json::{json, Value};

/// The options the playground compiles with: the page's parameters only (never
/// `EVENTMAP_PARAM_*`), as fixtures compile, so a fixture saved here passes there.
pub(crate) fn options(params: &[String]) -> anyhow::Result<CompileOptions> {
    Ok(crate::options::compile_options(params)?.without_param_env())
}

/// Compiles `text` (named `file` in locations): the mapping, or its diagnostics as the
/// page shows them (`{line, column, message}`, in file order).
pub(crate) fn compile(
    file: &str,
    text: &str,
    options: &CompileOptions,
) -> Result<Compiled, Vec<Value>> {
    let mapping = Mapping::compile(text, file, options).map_err(|error| {
        error
            .diagnostics
            .iter()
            .map(|d| {
                let mut shown = diagnostic(d.location.line, d.location.column, &d.message);
                // The code goes in the text the page shows, so it can be looked up
                // (`eventmap explain-error CODE`, docs/errors.md).
                shown["message"] = json!(format!("{} [{}]", d.message, d.code));
                shown["code"] = json!(d.code.as_str());
                shown
            })
            .collect::<Vec<_>>()
    })?;
    let validator = eventmap_cli::destinations::lookup(&mapping).map_err(|message| {
        let (line, column) = mapping
            .destination_location()
            .map_or((1, 1), |l| (l.line, l.column));
        vec![diagnostic(line, column, &message)]
    })?;
    Ok(Compiled { mapping, validator })
}

fn diagnostic(line: u32, column: u32, message: &str) -> Value {
    json!({"line": line, "column": column, "message": message})
}

/// The page's answer for `text` and `events` at `now_ms`.
pub(crate) fn evaluate(
    file: &str,
    text: &str,
    options: &CompileOptions,
    events: &[Value],
    now_ms: i64,
) -> Value {
    match compile(file, text, options) {
        Err(diagnostics) => json!({"diagnostics": diagnostics, "results": []}),
        Ok(compiled) => {
            let results: Vec<Value> = events
                .iter()
                .map(|event| outcome_of(&compiled, event, now_ms))
                .collect();
            json!({
                "diagnostics": [],
                "destination": compiled.mapping.destination(),
                "results": results,
            })
        }
    }
}

/// One event's outcome and trace.
fn outcome_of(compiled: &Compiled, event: &Value, now_ms: i64) -> Value {
    if !event.is_object() {
        return json!({"outcome": "unreadable",
            "reason": "an event is a JSON object ({\"type\": \"track\", …})"});
    }
    let explanation = compiled.mapping.explain(event, &EventContext { now_ms });
    let mut answer = trace_of(&explanation);
    match &explanation.outcome {
        Outcome::Mapped(output) => {
            let violations = compiled
                .validator
                .as_ref()
                .map(|v| v.validate(output, now_ms))
                .unwrap_or_default();
            answer["outcome"] = json!(if violations.is_empty() {
                "mapped"
            } else {
                "invalid"
            });
            answer["output"] = output.clone();
            answer["violations"] = violations
                .iter()
                .map(|v| json!({"rule": v.rule, "path": v.path, "message": v.message}))
                .collect();
        }
        Outcome::Skipped { reason } => {
            answer["outcome"] = json!("skipped");
            answer["reason"] = json!(reason);
        }
        Outcome::Failed(errors) => {
            answer["outcome"] = json!("failed");
            answer["errors"] = errors
                .iter()
                .map(|e| {
                    json!({"key": e.key, "code": e.code.as_str(), "message": e.message, "line": e.location.line,
                    "column": e.location.column, "text": e.to_string()})
                })
                .collect();
        }
    }
    answer
}

fn trace_of(explanation: &Explanation) -> Value {
    let section = explanation.section.as_ref().map(|(name, how)| {
        let matched = match how {
            Matched::EventName => "matched by event name",
            Matched::CallType => "matched by call type",
            Matched::Default => "no section matched: the default section",
        };
        json!({"name": name, "matched": matched})
    });
    json!({"section": section, "trace": keys(&explanation.keys)})
}

fn keys(keys: &[KeyTrace]) -> Vec<Value> {
    keys.iter()
        .map(|key| {
            let result = match &key.result {
                KeyResult::Set(v) => json!({"kind": "set", "value": v}),
                KeyResult::Default(v) => json!({"kind": "default", "value": v}),
                KeyResult::Absent(why) => json!({"kind": "absent", "why": why}),
                KeyResult::Failed(why) => json!({"kind": "failed", "why": why}),
            };
            let elements: Vec<Vec<Value>> = key.elements.iter().map(|e| self::keys(e)).collect();
            json!({"key": key.key, "line": key.location.line, "column": key.location.column,
                "source": key.source, "result": result, "elements": elements})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPPING: &str = "version: 1
global:
  id: { from: messageId }
  email: { from: traits.email, transform: sha256_emial }
events:
  Signed Up:
    keys:
      kind: { const: lead }
";

    #[test]
    fn a_misspelt_transform_is_a_diagnostic_at_its_line_with_a_suggestion() {
        let answer = evaluate("m.yaml", MAPPING, &CompileOptions::default(), &[], 0);
        assert_eq!(
            answer["diagnostics"],
            json!([{"line": 4, "column": 43, "code": "E0104",
                "message": "unknown transform `sha256_emial` (did you mean `sha256_email`?) [E0104]"}])
        );
    }

    #[test]
    fn events_are_mapped_with_their_trace_and_what_is_not_an_event_is_named() {
        let fixed = MAPPING.replace("sha256_emial", "sha256_email");
        let events = [
            json!([1]),
            json!({"type": "track", "event": "Signed Up", "messageId": "m-1"}),
        ];
        let answer = evaluate("m.yaml", &fixed, &CompileOptions::default(), &events, 0);
        assert_eq!(answer["results"][0]["outcome"], "unreadable", "{answer}");
        assert_eq!(answer["results"][1]["outcome"], "mapped", "{answer}");
        assert_eq!(answer["results"][1]["output"]["id"], "m-1", "{answer}");
        let trace = &answer["results"][1]["trace"];
        assert_eq!(trace[0]["key"], "id", "{answer}");
        assert_eq!(trace[1]["result"]["kind"], "absent", "{answer}");
    }
}
