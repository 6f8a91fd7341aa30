//! `validate: { relax: [RULE, …] }`: destination rules a mapping turns off by name. The
//! core knows no destination's rules, so it keeps each name with its place; the host that
//! builds the destination's validator checks the names and reports an unknown one there.

use super::cx::Cx;
use crate::codes::Code;
use crate::validate::RelaxedRule;
use crate::yaml::{Node, NodeKind};

pub(super) fn relaxed_rules(cx: &mut Cx<'_>, node: &Node) -> Vec<RelaxedRule> {
    let Some(fields) = cx.fields(node, "`validate`", super::vocabulary::VALIDATE_FIELDS) else {
        return Vec::new();
    };
    let Some(relax) = fields.get("relax") else {
        return Vec::new();
    };
    let NodeKind::Seq(items) = &relax.kind else {
        cx.error(
            Code::WrongKind,
            &relax.location,
            format!(
                "`validate.relax` must be a list of rule names, found {}",
                relax.describe()
            ),
        );
        return Vec::new();
    };
    let mut rules: Vec<RelaxedRule> = Vec::new();
    for item in items {
        let Some(name) = cx.string(item, "a rule name in `validate.relax`") else {
            continue;
        };
        if rules.iter().any(|r| r.name == name) {
            cx.error(
                Code::RelaxedRule,
                &item.location,
                format!("rule `{name}` is relaxed twice"),
            );
            continue;
        }
        rules.push(RelaxedRule {
            name,
            location: item.location.clone(),
        });
    }
    rules
}
