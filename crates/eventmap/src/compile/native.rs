//! Recognizes expressions that are one transform call on inputs and literals
//! (`minor_units(price, currency)`, `query_param(url, "oppref")`) so they run as a direct
//! native call instead of through the Rhai interpreter. The expression is still compiled
//! by Rhai first, so syntax and variable errors are reported exactly as for any other.

use serde_json::Value;

/// An argument of a recognized call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CallArg {
    /// The index of an input variable.
    Input(usize),
    Literal(Value),
}

/// `name(arg, ...)` where each arg is an input name, a plain string or an integer.
pub(crate) fn simple_call(text: &str, inputs: &[String]) -> Option<(String, Vec<CallArg>)> {
    let text = text.trim();
    let open = text.find('(')?;
    let name = text[..open].trim();
    if !crate::transforms::is_identifier(name) || !text.ends_with(')') {
        return None;
    }
    let inner = &text[open + 1..text.len() - 1];
    if inner.contains(['(', ')']) {
        return None;
    }
    let mut args = Vec::new();
    if !inner.trim().is_empty() {
        for raw in inner.split(',') {
            args.push(parse_arg(raw.trim(), inputs)?);
        }
    }
    Some((name.to_string(), args))
}

fn parse_arg(raw: &str, inputs: &[String]) -> Option<CallArg> {
    if let Some(i) = inputs.iter().position(|n| n == raw) {
        return Some(CallArg::Input(i));
    }
    let quoted = raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"');
    if quoted {
        let s = &raw[1..raw.len() - 1];
        // Escapes would need Rhai's rules; leave such calls to Rhai.
        return (!s.contains(['"', '\\'])).then(|| CallArg::Literal(Value::String(s.to_string())));
    }
    raw.parse::<i64>()
        .ok()
        .map(|i| CallArg::Literal(Value::from(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn recognizes_plain_calls_only() {
        let inputs = names(&["price", "currency"]);
        assert_eq!(
            simple_call(" minor_units(price, currency) ", &inputs),
            Some((
                "minor_units".into(),
                vec![CallArg::Input(0), CallArg::Input(1)]
            ))
        );
        assert_eq!(
            simple_call("minor_units(price, \"JPY\")", &inputs),
            Some((
                "minor_units".into(),
                vec![CallArg::Input(0), CallArg::Literal(Value::from("JPY"))]
            ))
        );
        assert_eq!(
            simple_call("minor_units(price * 2, currency)", &inputs),
            None
        );
        assert_eq!(simple_call("upper(trim(currency))", &inputs), None);
        assert_eq!(
            simple_call("minor_units(price, currency) + 1", &inputs),
            None
        );
        assert_eq!(simple_call("f(\"a\\\"b\")", &inputs), None);
        assert_eq!(simple_call("price", &inputs), None);
        assert_eq!(simple_call("minor_units(price, other)", &inputs), None);
    }
}
