//! `lookup`: a value's entry in a table (`tables:` in the mapping, or a table parameter).

use serde_json::Value;

use super::transform::TransformError;

/// `lookup(value, table[, "ignore_case"])`: the table's entry for the value (as text), or
/// absent when the table has none. `ignore_case` matches names the way events find their
/// sections (`match: { event }`, `event_in`): case and separators aside, so a table an
/// event entered a section by also finds that event's entry.
pub(super) fn lookup(input: &Value, args: &[Value]) -> Result<Option<Value>, TransformError> {
    let Some(Value::Object(table)) = args.first() else {
        return Err(TransformError::new(
            "the first argument must be a table (name one from `tables:`)",
        ));
    };
    let ignore_case = match args.get(1).map(Value::as_str) {
        None | Some(Some("exact")) => false,
        Some(Some("ignore_case")) => true,
        Some(_) => {
            return Err(TransformError::new(
                "the match mode must be `exact` (the default) or `ignore_case`",
            ))
        }
    };
    let key = match input {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => {
            return Err(TransformError::new(format!(
                "looks up text, found {}",
                crate::value::kind_of(other)
            )))
        }
    };
    let found = match table.get(&key) {
        Some(v) => Some(v),
        None if ignore_case => table
            .iter()
            .find(|(k, _)| crate::event_name::same_event_name(k, &key))
            .map(|(_, v)| v),
        None => None,
    };
    Ok(found.filter(|v| !v.is_null()).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_then_case_insensitive_then_absent() {
        let table =
            json!({"Order Completed": "order_created", "Signed Up": "registration_completed"});
        let exact = lookup(&json!("Order Completed"), std::slice::from_ref(&table)).unwrap();
        assert_eq!(exact, Some(json!("order_created")));
        assert_eq!(
            lookup(&json!("order completed"), std::slice::from_ref(&table)).unwrap(),
            None
        );
        let loose = lookup(&json!("signed up"), &[table.clone(), json!("ignore_case")]).unwrap();
        assert_eq!(loose, Some(json!("registration_completed")));
        // The rule events find their sections by: separators aside too.
        for name in ["order_completed", "ORDER-COMPLETED", " Order  Completed "] {
            let found = lookup(&json!(name), &[table.clone(), json!("ignore_case")]).unwrap();
            assert_eq!(found, Some(json!("order_created")), "{name}");
        }
        assert!(lookup(&json!("x"), &[json!("not a table")]).is_err());
        assert!(lookup(&json!("x"), &[table, json!("fuzzy")]).is_err());
    }
}
