//! The `data` object: its type against the event type, the fields of its shape, amounts
//! and currencies, and content items.

use eventmap::{Fields, Node};
use serde_json::Value;

use super::check::{At, Check, CONTENTS};
use crate::model::{DataType, EventType};
use crate::rules::Rule;

const ITEM_FIELDS: &[&str] = &[
    "id",
    "name",
    "content_type",
    "quantity",
    "amount",
    "currency",
    "group_id",
    "variant_dict",
];

/// The fields of `data` the rules look at, found in one pass; the others are collected
/// for the shape rule.
#[derive(Default)]
struct DataFields<'a> {
    data_type: Option<Node<'a>>,
    amount: Option<Node<'a>>,
    currency: Option<Node<'a>>,
    plan_id: Option<Node<'a>>,
    contents: Option<Node<'a>>,
    /// A field besides these.
    others: bool,
}

impl<'a> DataFields<'a> {
    fn of(fields: Fields<'a>) -> Self {
        let mut found = Self::default();
        for (key, node) in fields {
            let slot = match key {
                "type" => &mut found.data_type,
                "amount" => &mut found.amount,
                "currency" => &mut found.currency,
                "plan_id" => &mut found.plan_id,
                "contents" => &mut found.contents,
                _ => {
                    found.others = true;
                    continue;
                }
            };
            *slot = Some(node);
        }
        found
    }

    /// Whether `shape` allows every field present: when not, the fields are gone through
    /// again, in order, to name each one it does not.
    fn all_allowed_in(&self, shape: DataType) -> bool {
        let allows = |node: Option<Node<'_>>, name| node.is_none() || shape.allows(name);
        allows(self.plan_id, "plan_id")
            && allows(self.contents, "contents")
            && (!self.others || shape == DataType::Custom)
    }
}

impl Check {
    pub(super) fn data(&mut self, data: Node<'_>, event_type: Option<EventType>) {
        let Some(fields) = data.as_object() else {
            self.fail(Rule::DataRequired, "data", "must be an object");
            return;
        };
        let found = DataFields::of(fields);
        let data_type = match found.data_type.and_then(Node::as_value) {
            Some(Value::String(name)) => match DataType::from_name(name) {
                Some(t) => Some(t),
                None => {
                    self.fail(
                        Rule::DataTypeMatches,
                        "data.type",
                        format!("`{name}` is not a supported data type"),
                    );
                    None
                }
            },
            Some(_) => {
                self.fail(Rule::DataTypeMatches, "data.type", "must be a string");
                None
            }
            None => {
                self.fail(Rule::DataTypeMatches, "data.type", "is required");
                None
            }
        };
        if let (Some(event_type), Some(data_type)) = (event_type, data_type) {
            let expected = event_type.data_type();
            if expected != data_type {
                self.fail(
                    Rule::DataTypeMatches,
                    "data.type",
                    format!(
                        "must be `{}` for a {} event, not `{}`",
                        expected.name(),
                        event_type.name(),
                        data_type.name()
                    ),
                );
            }
        }
        // Judge the shape by the type the event requires (or the one given).
        let shape = event_type.map(EventType::data_type).or(data_type);
        if let Some(shape) = shape.filter(|shape| !found.all_allowed_in(*shape)) {
            for key in fields.keys().filter(|k| *k != "type") {
                if !shape.allows(key) {
                    self.fail(
                        Rule::DataFieldsAllowed,
                        format!("data.{key}"),
                        format!("is not allowed in `{}` data", shape.name()),
                    );
                }
            }
        }
        let has_amount = found.amount.is_some();
        if let Some(amount) = found.amount {
            self.amount(At::Field("data.amount"), amount);
        }
        let currency = found.currency;
        if let Some(c) = currency {
            self.currency(At::Field("data.currency"), c);
        }
        if has_amount && currency.is_none() {
            self.fail(
                Rule::CurrencyWithAmount,
                "data.currency",
                "is required when data.amount is present",
            );
        }
        if let Some(plan) = found.plan_id {
            if plan.as_str().is_none_or(str::is_empty) {
                self.fail(
                    Rule::PlanIdString,
                    "data.plan_id",
                    "must be a non-empty string",
                );
            }
        }
        if let Some(contents) = found.contents {
            if shape.is_none_or(|s| s.allows("contents")) {
                self.contents(contents, currency.is_some());
            }
        }
    }

    pub(super) fn contents(&mut self, contents: Node<'_>, event_has_currency: bool) {
        let Some(items) = contents.elements() else {
            self.fail(Rule::ContentsShape, "data.contents", "must be a list");
            return;
        };
        for (i, item) in items.enumerate() {
            let path = At::Item(&CONTENTS, i);
            let Some(fields) = item.as_object() else {
                self.fail(Rule::ContentsShape, path, "must be an object");
                continue;
            };
            // Counted and noted in the one pass over the fields, rather than looked up
            // by name after it.
            let (mut count, mut has_amount, mut has_currency) = (0, false, false);
            for (key, value) in fields {
                count += 1;
                let field_path = At::Key(&path, key);
                match key {
                    "id" | "name" | "content_type" | "group_id" => {
                        if value.as_str().is_none_or(str::is_empty) {
                            self.fail(Rule::ItemText, field_path, "must be a non-empty string");
                        }
                    }
                    "quantity" => {
                        if value.as_i64().is_none_or(|q| q < 1) {
                            self.fail(
                                Rule::QuantityPositive,
                                field_path,
                                "must be a positive integer",
                            );
                        }
                    }
                    "amount" => {
                        has_amount = true;
                        self.amount(field_path, value)
                    }
                    "currency" => {
                        has_currency = true;
                        self.currency(field_path, value)
                    }
                    "variant_dict" => {
                        let ok = value
                            .as_object()
                            .is_some_and(|m| m.iter().all(|(_, v)| v.as_str().is_some()));
                        if !ok {
                            self.fail(
                                Rule::VariantDictStrings,
                                field_path,
                                "must be an object of strings",
                            );
                        }
                    }
                    _ => self.fail(
                        Rule::ItemFieldsKnown,
                        field_path,
                        format!("is not a content item field ({})", ITEM_FIELDS.join(", ")),
                    ),
                }
            }
            if count == 0 {
                self.fail(Rule::ContentsShape, path, "must have at least one field");
            }
            if has_amount && !has_currency && !event_has_currency {
                self.fail(
                    Rule::CurrencyWithAmount,
                    format!("{path}.currency"),
                    "is required when the item has an amount and data has no currency",
                );
            }
        }
    }

    pub(super) fn amount(&mut self, path: At<'_>, value: Node<'_>) {
        match value.as_i64() {
            Some(a) if a >= 0 => {}
            Some(_) => self.fail(Rule::AmountNonNegative, path, "must not be negative"),
            None if value.is_number() => self.fail(
                Rule::AmountInteger,
                path,
                "must be an integer in the currency's minor unit (e.g. cents)",
            ),
            None => self.fail(Rule::AmountInteger, path, "must be an integer"),
        }
    }

    pub(super) fn currency(&mut self, path: At<'_>, value: Node<'_>) {
        let ok = value.as_str().is_some_and(|s| {
            s.len() == 3
                && s.bytes().all(|b| b.is_ascii_uppercase())
                && eventmap::transforms::currency_from_code(s).is_some()
        });
        if !ok {
            self.fail(
                Rule::CurrencyIso,
                path,
                "must be an uppercase ISO 4217 currency code",
            );
        }
    }
}
