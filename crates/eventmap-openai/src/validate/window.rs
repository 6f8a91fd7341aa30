//! The time window the API accepts events in, checked when an event is mapped and again
//! just before it is sent.

use eventmap::Violation;
use eventmap_pipeline::destination::RuleSet;

use crate::rules::Rule;

/// How far back and ahead the API accepts event times.
pub const MAX_AGE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// The timestamp rule alone, for re-checking queued events just before sending. The
/// message says how far past the window the event is, never rounded to nothing: 1 ms past
/// says "1 ms".
pub fn timestamp_violation(timestamp_ms: i64, now_ms: i64) -> Option<Violation> {
    let age = now_ms - timestamp_ms;
    if age > MAX_AGE_MS {
        Some(Violation::of_rule(
            Rule::TimestampWindow.name(),
            "timestamp_ms",
            format!(
                "is {} older than the 7 days the API accepts ({} old)",
                describe_ms(age - MAX_AGE_MS),
                describe_ms(age)
            ),
        ))
    } else if -age > MAX_AHEAD_MS {
        Some(Violation::of_rule(
            Rule::TimestampWindow.name(),
            "timestamp_ms",
            format!(
                "is {} in the future, {} past the 10 minutes the API accepts",
                describe_ms(-age),
                describe_ms(-age - MAX_AHEAD_MS)
            ),
        ))
    } else {
        None
    }
}

/// A duration in the largest unit it fills at least once, rounded down (so what it says
/// is true): `1 ms`, `59 s`, `12 minutes`, `5 hours`, `13 days`.
fn describe_ms(ms: i64) -> String {
    const SECOND: i64 = 1000;
    const MINUTE: i64 = 60 * SECOND;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    let counted = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if ms < SECOND {
        format!("{ms} ms")
    } else if ms < MINUTE {
        format!("{} s", ms / SECOND)
    } else if ms < HOUR {
        counted(ms / MINUTE, "minute")
    } else if ms < DAY {
        counted(ms / HOUR, "hour")
    } else {
        counted(ms / DAY, "day")
    }
}
