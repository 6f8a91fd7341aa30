//! Timestamps to epoch milliseconds.
//!
//! Accepted inputs:
//! - RFC 3339 strings with an offset (`2026-11-21T13:30:00.250+02:00`, `...Z`); a space may
//!   replace the `T`; digits beyond milliseconds are truncated.
//! - Epoch numbers or numeric strings. With the default unit `auto`, a magnitude below
//!   10^11 is read as seconds (10^11 s is the year 5138, 10^11 ms is 1973), anything
//!   larger as milliseconds. Fractional seconds keep their milliseconds.

use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::Value;

use super::transform::TransformError;
use crate::value::kind_of;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Auto,
    Seconds,
    Millis,
}

pub(crate) fn to_ms_transform(
    value: &Value,
    args: &[Value],
) -> Result<Option<Value>, TransformError> {
    let unit = match args.first() {
        None => Unit::Auto,
        Some(Value::String(u)) => match u.as_str() {
            "auto" => Unit::Auto,
            "s" => Unit::Seconds,
            "ms" => Unit::Millis,
            other => {
                return Err(TransformError::new(format!(
                    "to_ms unit must be `auto`, `s` or `ms`, got `{other}`"
                )))
            }
        },
        Some(other) => {
            return Err(TransformError::new(format!(
                "to_ms unit must be a string, got {}",
                kind_of(other)
            )))
        }
    };
    to_epoch_ms_with_unit(value, unit).map(|ms| Some(Value::from(ms)))
}

/// Epoch milliseconds of a timestamp value (RFC 3339 string, or epoch number in s or ms).
pub fn to_epoch_ms(value: &Value) -> Result<i64, TransformError> {
    to_epoch_ms_with_unit(value, Unit::Auto)
}

fn to_epoch_ms_with_unit(value: &Value, unit: Unit) -> Result<i64, TransformError> {
    match value {
        Value::Number(n) => {
            let decimal = match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Decimal::from(i),
                (None, Some(f)) => super::money::float_to_decimal(f)
                    .ok_or_else(|| TransformError::new("timestamp number is out of range"))?,
                (None, None) => {
                    return Err(TransformError::new("timestamp number is out of range"))
                }
            };
            epoch_number_to_ms(decimal, unit)
        }
        Value::String(s) => {
            let s = s.trim();
            // A decimal has no `:`, an RFC 3339 time always has one: not trying to read
            // the time as a decimal first saves building the error it would give.
            if !s.contains(':') {
                if let Ok(decimal) = Decimal::from_str(s) {
                    return epoch_number_to_ms(decimal, unit);
                }
            }
            parse_rfc3339_ms(s)
        }
        other => Err(TransformError::new(format!(
            "timestamp must be a string or a number, got {}",
            kind_of(other)
        ))),
    }
}

fn epoch_number_to_ms(n: Decimal, unit: Unit) -> Result<i64, TransformError> {
    let seconds = match unit {
        Unit::Seconds => true,
        Unit::Millis => false,
        Unit::Auto => n.abs() < Decimal::from(100_000_000_000_i64),
    };
    let ms = if seconds { n * Decimal::from(1000) } else { n };
    ms.floor()
        .to_i64()
        .ok_or_else(|| TransformError::new("timestamp number is out of range"))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)` into epoch milliseconds.
fn parse_rfc3339_ms(s: &str) -> Result<i64, TransformError> {
    let invalid = || {
        TransformError::new(
            "timestamp is a string that is not RFC 3339 (expected e.g. 2026-11-21T13:30:00.250+02:00)",
        )
    };
    let b = s.as_bytes();
    if b.len() < 19 {
        return Err(invalid());
    }
    let num = |range: std::ops::Range<usize>| -> Result<u32, TransformError> {
        let part = s.get(range).ok_or_else(invalid)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(invalid());
        }
        part.parse::<u32>().map_err(|_| invalid())
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(invalid());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(invalid());
    }
    let mut i = 19;
    let mut millis = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(invalid());
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_minutes: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) => {
            let rest = &s[i + 1..];
            let (h, m) = match rest.len() {
                5 if rest.as_bytes()[2] == b':' => (&rest[0..2], &rest[3..5]),
                4 => (&rest[0..2], &rest[2..4]),
                _ => return Err(invalid()),
            };
            let h: i64 = h.parse().map_err(|_| invalid())?;
            let m: i64 = m.parse().map_err(|_| invalid())?;
            if h > 23 || m > 59 {
                return Err(invalid());
            }
            let total = h * 60 + m;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        None => {
            return Err(TransformError::new(
                "timestamp has no UTC offset (add `Z` or `+HH:MM`)",
            ))
        }
        _ => return Err(invalid()),
    };
    let days = days_from_civil(i64::from(year), month, day);
    // A leap second (:60) is folded onto the next second, as most systems do.
    let seconds =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
            - offset_minutes * 60;
    Ok(seconds * 1000 + i64::from(millis))
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats epoch milliseconds as RFC 3339 UTC with milliseconds, e.g.
/// `2026-11-21T12:00:00.000Z` (the inverse of [`to_epoch_ms`] for such strings).
pub fn format_rfc3339_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's inverse).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ms(v: Value) -> i64 {
        to_epoch_ms(&v).unwrap()
    }

    #[test]
    fn formats_what_it_parses() {
        for text in [
            "1970-01-01T00:00:00.000Z",
            "2026-11-21T12:00:00.000Z",
            "2024-02-29T23:59:59.999Z",
            "1969-12-31T23:59:59.500Z",
            "2000-03-01T00:00:00.001Z",
        ] {
            assert_eq!(format_rfc3339_ms(ms(json!(text))), text);
        }
    }

    #[test]
    fn rfc3339_with_offsets_and_fractions() {
        // 2026-11-21T11:30:00.250Z, checked with `date -u -d @1795260600`.
        assert_eq!(
            ms(json!("2026-11-21T13:30:00.250+02:00")),
            1_795_260_600_250
        );
        assert_eq!(ms(json!("2026-11-21T11:30:00.250Z")), 1_795_260_600_250);
        assert_eq!(ms(json!("2026-11-21T06:30:00.25-0500")), 1_795_260_600_250);
        assert_eq!(ms(json!("2026-11-21 11:30:00.250999Z")), 1_795_260_600_250);
        assert_eq!(ms(json!("1970-01-01T00:00:00Z")), 0);
        assert_eq!(ms(json!("2024-02-29T00:00:00Z")), 1_709_164_800_000);
    }

    #[test]
    fn epoch_numbers_and_strings() {
        assert_eq!(ms(json!(1_795_260_600)), 1_795_260_600_000);
        assert_eq!(ms(json!(1_795_260_600_250_i64)), 1_795_260_600_250);
        assert_eq!(ms(json!(1_795_260_600.25)), 1_795_260_600_250);
        assert_eq!(ms(json!("1795260600")), 1_795_260_600_000);
        assert_eq!(ms(json!(" 1795260600250 ")), 1_795_260_600_250);
    }

    #[test]
    fn explicit_units_override_the_guess() {
        let out = to_ms_transform(&json!(5), &[json!("ms")]).unwrap();
        assert_eq!(out, Some(json!(5)));
        let out = to_ms_transform(&json!(5), &[json!("s")]).unwrap();
        assert_eq!(out, Some(json!(5000)));
        assert!(to_ms_transform(&json!(5), &[json!("hours")]).is_err());
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-21T25:00:00Z",
            "2026-11-21",
            "yesterday",
            "2026-11-21T13:30:00+2",
        ] {
            assert!(to_epoch_ms(&json!(bad)).is_err(), "{bad} accepted");
        }
        let err = to_epoch_ms(&json!("2026-11-21T13:30:00")).unwrap_err();
        assert!(err.0.contains("no UTC offset"), "{err}");
        assert!(to_epoch_ms(&json!(true)).is_err());
    }
}
