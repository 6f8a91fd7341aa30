//! `let:`: named values computed once per event. A `let` is written like an output key
//! (`from`, `expr`, `transform`, `default`, …) but is not output: expressions, conditions
//! and filters that follow it read it by name, as a variable.
//!
//! Global lets are visible everywhere; an event's lets in that event only. A name is
//! handed to an expression only when its text mentions it, so an expression that does
//! not use a let pays nothing for it.

use super::cx::Cx;
use crate::codes::Code;
use crate::program::{Input, KeyRule};
use crate::yaml::{Key, Node};

impl Cx<'_> {
    /// Compiles a `let:` mapping, adding each name to the scope as it goes (a let sees
    /// those before it). The caller truncates the scope when the section ends.
    pub fn lets(&mut self, node: &Node) -> Vec<KeyRule> {
        let Some(entries) = node.as_map() else {
            self.error(
                Code::WrongKind,
                &node.location,
                format!(
                    "`let` must be a mapping of names to rules (like output keys), found {}",
                    node.describe()
                ),
            );
            return Vec::new();
        };
        let mut rules = Vec::new();
        for (key, spec) in entries {
            if !crate::transforms::is_identifier(&key.name) {
                self.error(
                    Code::InvalidValue,
                    &key.location,
                    format!(
                        "`let` name `{}` is not a variable name (letters, digits and `_`)",
                        key.name
                    ),
                );
                continue;
            }
            if let Some((_, earlier)) = self.let_scope.iter().find(|(n, _)| *n == key.name) {
                let message = format!(
                    "`let` value `{}` is already defined (line {})",
                    key.name, earlier.line
                );
                self.error(Code::LetScope, &key.location, message);
                continue;
            }
            // Reported by its place in the output's terms: `let.total`.
            let named = Key {
                name: format!("let.{}", key.name),
                location: key.location.clone(),
            };
            if let Some(rule) = self.key_rule(&named, spec) {
                rules.push(rule);
                self.let_scope
                    .push((key.name.clone(), key.location.clone()));
            }
        }
        rules
    }

    /// The let values an expression's text mentions, as extra inputs. An input of the
    /// same name as a let is an error: one name, one value.
    pub(super) fn let_inputs(
        &mut self,
        text: &str,
        names: &mut Vec<String>,
        values: &mut Vec<Input>,
        inputs_node: Option<&Node>,
    ) -> bool {
        let mut ok = true;
        for (index, (name, defined)) in self.let_scope.iter().enumerate() {
            if names.contains(name) {
                let at = inputs_node
                    .and_then(Node::as_map)
                    .and_then(|m| m.iter().find(|(k, _)| k.name == *name))
                    .map(|(k, _)| k.location.clone())
                    .unwrap_or_else(|| defined.clone());
                self.diags.error(
                    Code::LetScope,
                    at,
                    format!(
                        "input `{name}` has the name of the `let` value at line {}; rename one",
                        defined.line
                    ),
                );
                ok = false;
            } else if mentions(text, name) {
                names.push(name.clone());
                values.push(Input::Let(index));
            }
        }
        ok
    }
}

/// Whether `name` appears in `text` as a whole identifier (not as `x.name` or `name_2`).
/// A mention inside a string literal counts too: handing an unused value is harmless.
fn mentions(text: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(|c| is_word(c) || c == '.') && !after.is_some_and(is_word)
    })
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn mentions_are_whole_identifiers() {
        assert!(mentions("total + 1", "total"));
        assert!(mentions("f(total)", "total"));
        assert!(!mentions("subtotal + 1", "total"));
        assert!(!mentions("total_2", "total"));
        assert!(!mentions("order.total", "total"));
    }
}
