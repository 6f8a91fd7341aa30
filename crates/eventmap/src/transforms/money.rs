//! Money: decimal amounts to integer minor units, with exact decimal arithmetic.
//!
//! Numbers are read through their shortest decimal spelling (the JSON `4.35` is the
//! decimal 4.35, not the binary float 4.3499999…), multiplied by 10^exponent of the
//! currency (ISO 4217: USD 2, JPY 0, KWD 3) and rounded half away from zero.

use std::str::FromStr;

use iso_currency::Currency;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

use super::recent::Recent;
use super::transform::{expect_str, TransformError};
use crate::value::kind_of;

/// A JSON number or numeric string as an exact decimal. `what` names the value in an
/// error, and is formatted only then (`format_args!` at the call).
pub(crate) fn to_decimal(
    value: &Value,
    what: &dyn std::fmt::Display,
) -> Result<Decimal, TransformError> {
    let not_a_number = || TransformError::new(format!("{what} is not a number"));
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Decimal::from(i))
            } else if let Some(u) = n.as_u64() {
                Ok(Decimal::from(u))
            } else {
                let f = n.as_f64().ok_or_else(not_a_number)?;
                float_to_decimal(f).ok_or_else(|| out_of_range(what))
            }
        }
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Err(not_a_number());
            }
            Decimal::from_str(s)
                .or_else(|_| Decimal::from_scientific(s))
                .map_err(|_| {
                    // A number too long for exact decimals is out of range, not "not a
                    // number".
                    if s.parse::<f64>().is_ok_and(f64::is_finite) {
                        out_of_range(what)
                    } else {
                        TransformError::new(format!("{what} is a string that is not a number"))
                    }
                })
        }
        other => Err(TransformError::new(format!(
            "{what} must be a number or numeric string, got {}",
            kind_of(other)
        ))),
    }
}

/// The decimal a float was written as: its shortest round-trip spelling (`4.35`, not
/// 4.3499999999999996447…), formatted without allocating.
pub(crate) fn float_to_decimal(f: f64) -> Option<Decimal> {
    if !f.is_finite() {
        return None;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(f);
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

/// `Currency::from_code` with a memo of the last codes seen on this thread
/// (`recent.rs`): the crate's lookup is a `match` over 180 strings, compared one by one.
pub fn currency_from_code(code: &str) -> Option<Currency> {
    use std::cell::RefCell;
    thread_local! {
        static RECENT: RefCell<Recent<[u8; 3], Option<Currency>>> = const { RefCell::new(Recent::new()) };
    }
    let key: [u8; 3] = code.as_bytes().try_into().ok()?;
    RECENT.with(|recent| {
        recent
            .borrow_mut()
            .get_or_find(&key, |k| *k, || Currency::from_code(code))
    })
}

/// The ISO 4217 currency for a code, case-insensitive and trimmed.
pub(crate) fn currency(code: &Value) -> Result<Currency, TransformError> {
    if crate::value::is_absent(code) {
        return Err(TransformError::new("no currency given for the amount"));
    }
    let code = expect_str(code, "currency")?;
    // Most codes arrive as written in ISO 4217; only normalize the others.
    if let Some(currency) = currency_from_code(code) {
        return Ok(currency);
    }
    let code = code.trim().to_ascii_uppercase();
    currency_from_code(&code)
        .ok_or_else(|| TransformError::new("the currency is not an ISO 4217 code"))
}

fn exponent(currency: Currency) -> Result<u32, TransformError> {
    currency.exponent().map(u32::from).ok_or_else(|| {
        TransformError::new(format!(
            "currency {} has no minor unit (ISO 4217 lists no exponent for it)",
            currency.code()
        ))
    })
}

fn to_minor(amount: Decimal, currency: Currency) -> Result<i64, TransformError> {
    let scale = Decimal::from(10_i64.pow(exponent(currency)?));
    amount
        .checked_mul(scale)
        .map(|v| v.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
        .and_then(|v| v.to_i64())
        .ok_or_else(|| out_of_range(&"amount"))
}

/// One message for every amount too large to carry exactly: what, and the limit.
fn out_of_range(what: &dyn std::fmt::Display) -> TransformError {
    TransformError::new(format!(
        "{what} is out of range: at most {} in minor units (28 significant digits before that)",
        i64::MAX
    ))
}

/// `amount` (number or numeric string) in integer minor units of `currency_code`.
pub fn minor_units(amount: &Value, currency_code: &Value) -> Result<i64, TransformError> {
    let currency = currency(currency_code)?;
    to_minor(to_decimal(amount, &"amount")?, currency)
}

/// Sum of `price × quantity` over `items` in minor units; quantity defaults to 1.
/// A single object counts as a list of one. An empty list gives `None` (absent).
pub fn total_minor_units(
    items: &Value,
    currency_code: &Value,
    price_field: &str,
    quantity_field: &str,
) -> Result<Option<i64>, TransformError> {
    let currency = currency(currency_code)?;
    let items: &[Value] = match items {
        Value::Array(items) => items,
        Value::Object(_) => std::slice::from_ref(items),
        other => {
            return Err(TransformError::new(format!(
                "total_minor_units needs a list of items, got {}",
                kind_of(other)
            )))
        }
    };
    if items.is_empty() {
        return Ok(None);
    }
    let mut total = Decimal::ZERO;
    for (i, item) in items.iter().enumerate() {
        let present = |field: &str| item.get(field).filter(|v| !crate::value::is_absent(v));
        let price = present(price_field)
            .ok_or_else(|| TransformError::new(format!("item {i} has no `{price_field}`")))?;
        let price = to_decimal(price, &format_args!("item {i} `{price_field}`"))?;
        let quantity = match present(quantity_field) {
            Some(q) => to_decimal(q, &format_args!("item {i} `{quantity_field}`"))?,
            None => Decimal::ONE,
        };
        total = price
            .checked_mul(quantity)
            .and_then(|line| total.checked_add(line))
            .ok_or_else(|| out_of_range(&"order total"))?;
    }
    to_minor(total, currency).map(Some)
}

/// Integer minor units as a number in the major unit: `5997` USD is `59.97`. The
/// quotient of two exact integers, correctly rounded, is the double nearest the decimal,
/// so it is written as that decimal (no float drift); a whole amount is an integer.
fn minor_to_major(minor: i64, currency_code: &Value) -> Result<Value, TransformError> {
    let exp = exponent(currency(currency_code)?)?;
    let scale = 10_i64.pow(exp);
    if minor % scale == 0 {
        // A whole amount is written as one: 10, not 10.0.
        return Ok(Value::from(minor / scale));
    }
    #[allow(clippy::cast_precision_loss)] // |minor| < 2^53 for any real amount; checked below
    let major = minor as f64 / scale as f64;
    if minor.unsigned_abs() > (1 << 53) {
        return Err(out_of_range(&"amount"));
    }
    Ok(Value::from(major))
}

pub(crate) fn major_units_transform(
    value: &Value,
    args: &[Value],
) -> Result<Option<Value>, TransformError> {
    let code = args
        .first()
        .ok_or_else(|| TransformError::new("major_units needs a currency argument"))?;
    minor_to_major(minor_units(value, code)?, code).map(Some)
}

pub(crate) fn total_major_units_transform(
    value: &Value,
    args: &[Value],
) -> Result<Option<Value>, TransformError> {
    let Some(Value::Number(minor)) = total_minor_units_transform(value, args)? else {
        return Ok(None);
    };
    let code = args.first().unwrap_or(&Value::Null);
    minor_to_major(minor.as_i64().unwrap_or_default(), code).map(Some)
}

pub(crate) fn minor_units_transform(
    value: &Value,
    args: &[Value],
) -> Result<Option<Value>, TransformError> {
    let code = args
        .first()
        .ok_or_else(|| TransformError::new("minor_units needs a currency argument"))?;
    minor_units(value, code).map(|v| Some(Value::from(v)))
}

pub(crate) fn total_minor_units_transform(
    value: &Value,
    args: &[Value],
) -> Result<Option<Value>, TransformError> {
    let code = args
        .first()
        .ok_or_else(|| TransformError::new("total_minor_units needs a currency argument"))?;
    let field = |i: usize, default: &'static str| -> Result<&str, TransformError> {
        match args.get(i) {
            None => Ok(default),
            Some(v) => expect_str(v, "field name"),
        }
    };
    let total = total_minor_units(value, code, field(1, "price")?, field(2, "quantity")?)?;
    Ok(total.map(Value::from))
}

pub(crate) fn currency_code_transform(
    value: &Value,
    _args: &[Value],
) -> Result<Option<Value>, TransformError> {
    Ok(Some(Value::String(currency(value)?.code().to_string())))
}

pub(crate) fn to_int_transform(
    value: &Value,
    _args: &[Value],
) -> Result<Option<Value>, TransformError> {
    let d = to_decimal(value, &"value")?;
    if !d.fract().is_zero() {
        return Err(TransformError::new("value is not a whole number"));
    }
    d.to_i64()
        .map(|i| Some(Value::from(i)))
        .ok_or_else(|| out_of_range(&"value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minor(amount: Value, code: &str) -> i64 {
        minor_units(&amount, &json!(code)).unwrap()
    }

    #[test]
    fn float_traps_are_exact() {
        // 4.35 * 100 in binary floating point is 434.99999999999994.
        assert_eq!(minor(json!(4.35), "USD"), 435);
        assert_eq!(minor(json!(1.005), "USD"), 101);
        assert_eq!(minor(json!(129.99), "USD"), 12999);
        assert_eq!(minor(json!(0.1 + 0.2), "USD"), 30);
    }

    #[test]
    fn currency_exponents() {
        assert_eq!(minor(json!(500), "JPY"), 500);
        assert_eq!(minor(json!(499.5), "JPY"), 500);
        assert_eq!(minor(json!(1.25), "KWD"), 1250);
        assert_eq!(minor(json!("1.2345"), "KWD"), 1235);
        assert_eq!(minor(json!(12), "usd"), 1200);
        assert_eq!(minor(json!(-4.35), "EUR"), -435);
    }

    #[test]
    fn floats_keep_their_written_decimal() {
        assert_eq!(float_to_decimal(4.35).unwrap().to_string(), "4.35");
        assert_eq!(
            float_to_decimal(1e21).unwrap().to_string(),
            "1000000000000000000000"
        );
        assert_eq!(float_to_decimal(1.5e-7).unwrap().to_string(), "0.00000015");
        assert_eq!(float_to_decimal(f64::NAN), None);
    }

    #[test]
    fn numeric_strings() {
        assert_eq!(minor(json!("4.35"), "USD"), 435);
        assert_eq!(minor(json!(" 19.99 "), "USD"), 1999);
        assert_eq!(minor(json!("1e2"), "USD"), 10000);
    }

    #[test]
    fn clear_errors() {
        let err = minor_units(&json!(1), &json!("ABC")).unwrap_err();
        assert_eq!(err.0, "the currency is not an ISO 4217 code");
        let err = minor_units(&json!("frank@example.com"), &json!("USD")).unwrap_err();
        assert_eq!(err.0, "amount is a string that is not a number");
        // Too long to be exact, or too large for minor units: one message, with the limit.
        for huge in ["9".repeat(64), "9".repeat(20)] {
            let err = minor_units(&json!(huge), &json!("USD")).unwrap_err();
            assert!(
                err.0
                    .starts_with("amount is out of range: at most 9223372036854775807"),
                "{err}"
            );
        }
        let err = minor_units(&json!(true), &json!("USD")).unwrap_err();
        assert!(err.0.contains("got a boolean"), "{err}");
        let err = minor_units(&json!(1), &Value::Null).unwrap_err();
        assert_eq!(err.0, "no currency given for the amount");
        let err = minor_units(&json!(1), &json!("XAU")).unwrap_err();
        assert!(err.0.contains("no minor unit"), "{err}");
    }

    #[test]
    fn point_one_times_three_is_thirty_cents() {
        // In binary floating point 0.1 * 3 is 0.30000000000000004.
        let items = json!([{"price": 0.1, "quantity": 3}]);
        assert_eq!(
            total_minor_units(&items, &json!("USD"), "price", "quantity").unwrap(),
            Some(30)
        );
        let items = json!([{"price": "0.1", "quantity": "3"}]);
        assert_eq!(
            total_minor_units(&items, &json!("USD"), "price", "quantity").unwrap(),
            Some(30)
        );
    }

    #[test]
    fn major_units_are_exact_decimals() {
        let products = json!([{"price": 19.99, "quantity": 3}, {"price": "0.1"}]);
        let total = total_major_units_transform(&products, &[json!("USD")]).unwrap();
        assert_eq!(total.unwrap().to_string(), "60.07");
        let one = major_units_transform(&json!(19.99), &[json!("usd")]).unwrap();
        assert_eq!(one.unwrap().to_string(), "19.99");
        let yen = major_units_transform(&json!(1000.4), &[json!("JPY")]).unwrap();
        assert_eq!(yen.unwrap().to_string(), "1000");
        let dinar = total_major_units_transform(&json!([{"price": 1.2345}]), &[json!("KWD")]);
        assert_eq!(dinar.unwrap().unwrap().to_string(), "1.235");
        assert_eq!(
            total_major_units_transform(&json!([]), &[json!("USD")]).unwrap(),
            None
        );
    }

    #[test]
    fn totals_multiply_and_sum_exactly() {
        let items = json!([
            {"price": 0.1, "quantity": 3},
            {"price": "4.35"},
            {"price": 2.5, "quantity": "2"}
        ]);
        // 0.3 + 4.35 + 5.0 = 9.65
        assert_eq!(
            total_minor_units(&items, &json!("USD"), "price", "quantity").unwrap(),
            Some(965)
        );
        let single = json!({"price": 10, "quantity": 2});
        assert_eq!(
            total_minor_units(&single, &json!("JPY"), "price", "quantity").unwrap(),
            Some(20)
        );
        assert_eq!(
            total_minor_units(&json!([]), &json!("USD"), "price", "quantity").unwrap(),
            None
        );
        let missing = total_minor_units(
            &json!([{"quantity": 1}]),
            &json!("USD"),
            "price",
            "quantity",
        );
        assert_eq!(missing.unwrap_err().0, "item 0 has no `price`");
    }

    #[test]
    fn total_transform_takes_field_names() {
        let items = json!([{"unit": 1.5, "qty": 2}]);
        let out = total_minor_units_transform(&items, &[json!("EUR"), json!("unit"), json!("qty")])
            .unwrap();
        assert_eq!(out, Some(json!(300)));
    }

    #[test]
    fn currency_codes_and_integers() {
        assert_eq!(
            currency_code_transform(&json!(" usd "), &[]).unwrap(),
            Some(json!("USD"))
        );
        assert!(currency_code_transform(&json!("dollars"), &[]).is_err());
        assert_eq!(to_int_transform(&json!("3"), &[]).unwrap(), Some(json!(3)));
        assert_eq!(to_int_transform(&json!(2.0), &[]).unwrap(), Some(json!(2)));
        assert!(to_int_transform(&json!(2.5), &[]).is_err());
    }
}

#[cfg(test)]
mod currency_memo_tests {
    use super::*;

    #[test]
    fn the_memo_answers_as_the_crate_does_past_its_size() {
        let codes = [
            "USD", "usd", "EUR", "GBP", "JPY", "KWD", "XXX", "ABC", "JP", "EURO", "CHF", "SEK",
            "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "ISK", "ZZZ",
        ];
        for _ in 0..3 {
            for code in codes {
                assert_eq!(
                    currency_from_code(code),
                    Currency::from_code(code),
                    "{code}"
                );
            }
        }
    }
}
