//! `eventmap map --explain`: a readable account of how each event was mapped.

use std::io::Write;

use eventmap::{Explanation, KeyResult, KeyTrace, Matched, Outcome, Validator};
use serde_json::Value;

/// Writes the explanation of one event (read from `input` line `line`).
pub(crate) fn write(
    out: &mut impl Write,
    mapping_file: &str,
    input: &str,
    line: u64,
    explanation: &Explanation,
    validator: Option<&dyn Validator>,
    now_ms: i64,
) -> std::io::Result<()> {
    writeln!(out, "event at {input}:{line}")?;
    match &explanation.section {
        Some((name, how)) => {
            let how = match how {
                Matched::EventName => "matched by event name",
                Matched::CallType => "matched by call type",
                Matched::Default => "no section matched: the default section",
            };
            writeln!(out, "  section `{name}` ({how})")?;
        }
        None => writeln!(out, "  no section applies")?,
    }
    let width = explanation
        .keys
        .iter()
        .map(|k| k.key.len())
        .max()
        .unwrap_or(0);
    for key in &explanation.keys {
        write_key(out, key, width, "  ", mapping_file)?;
    }
    match &explanation.outcome {
        Outcome::Mapped(value) => {
            let violations = validator
                .map(|v| v.validate(value, now_ms))
                .unwrap_or_default();
            if violations.is_empty() {
                writeln!(out, "  outcome: mapped")?;
            } else {
                writeln!(out, "  outcome: mapped, but invalid for the destination:")?;
                for v in violations {
                    writeln!(out, "    - {v}")?;
                }
            }
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            )?;
        }
        Outcome::Skipped { reason } => writeln!(out, "  outcome: skipped: {reason}")?,
        Outcome::Failed(errors) => {
            writeln!(out, "  outcome: failed")?;
            for e in errors {
                writeln!(out, "    - {e}")?;
            }
        }
    }
    writeln!(out)
}

/// One key's line (and, for an `each` key, each element's keys under it, indented).
fn write_key(
    out: &mut impl Write,
    key: &KeyTrace,
    width: usize,
    indent: &str,
    mapping_file: &str,
) -> std::io::Result<()> {
    let (mark, result) = match &key.result {
        KeyResult::Set(v) => ("=", short(v)),
        KeyResult::Default(v) => ("=", format!("{} (the default)", short(v))),
        KeyResult::Absent(why) => ("-", format!("absent: {why}")),
        KeyResult::Failed(why) => ("!", format!("FAILED: {why}")),
    };
    writeln!(
        out,
        "{indent}{mark} {:<width$}  {result}\n{indent}    {}   [{mapping_file}:{}]",
        key.key, key.source, key.location.line
    )?;
    let inner = format!("{indent}    ");
    for (i, element) in key.elements.iter().enumerate() {
        writeln!(out, "{inner}[{i}]")?;
        let width = element.iter().map(|k| k.key.len()).max().unwrap_or(0);
        for element_key in element {
            write_key(out, element_key, width, &format!("{inner}  "), mapping_file)?;
        }
    }
    Ok(())
}

fn short(v: &Value) -> String {
    eventmap::shorten_json(v, 70)
}
