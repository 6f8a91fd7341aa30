//! Expressions that need no interpreter.
//!
//! Many mapping expressions are plain transform calls on inputs, with `??` fallbacks:
//! `minor_units(price, currency ?? param("default_currency"))`,
//! `total_minor_units(products, currency) ?? minor_units(total, currency)`. This module
//! recognizes that closed subset (calls to transforms, input variables, string and integer
//! literals, `param("name")`, `??`) and turns it into a small tree evaluated natively.
//! Everything else runs in Rhai. The expression is always compiled by Rhai first, so
//! errors are reported the same way; the native form gives the same results (a test
//! compares both on the same inputs).

use serde_json::Value;

use crate::program::NativeExpr;
use crate::transforms::Registry;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Int(i64),
    Open,
    Close,
    Comma,
    Coalesce,
}

/// What a native expression may refer to.
pub(crate) struct Scope<'a> {
    pub inputs: &'a [String],
    pub params: &'a crate::script::ParamTable,
    pub registry: &'a Registry,
    /// Names Rhai's standard library also defines: Rhai may resolve those to its own
    /// function, so expressions using them stay in Rhai.
    pub shadowed: &'a dyn Fn(&str) -> bool,
}

pub(crate) fn compile(text: &str, scope: &Scope<'_>) -> Option<NativeExpr> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        scope,
    };
    let expr = parser.coalesce()?;
    (parser.pos == parser.tokens.len()).then_some(expr)
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '?' if chars.get(i + 1) == Some(&'?') => {
                tokens.push(Token::Coalesce);
                i += 2;
            }
            '"' => {
                let end = chars[i + 1..].iter().position(|&c| c == '"')? + i + 1;
                let s: String = chars[i + 1..end].iter().collect();
                // Escapes follow Rhai's rules; leave such strings to Rhai.
                if s.contains('\\') {
                    return None;
                }
                tokens.push(Token::Str(s));
                i = end + 1;
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let digits: String = chars[start..i].iter().collect();
                tokens.push(Token::Int(digits.parse().ok()?));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push(Token::Ident(chars[start..i].iter().collect()));
            }
            // Operators, indexing, blocks, comments: Rhai's job.
            _ => return None,
        }
    }
    Some(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    scope: &'a Scope<'a>,
}

impl Parser<'_> {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn coalesce(&mut self) -> Option<NativeExpr> {
        let mut items = vec![self.primary()?];
        while self.peek() == Some(&Token::Coalesce) {
            self.pos += 1;
            items.push(self.primary()?);
        }
        Some(if items.len() == 1 {
            items.pop()?
        } else {
            NativeExpr::Coalesce(items)
        })
    }

    fn primary(&mut self) -> Option<NativeExpr> {
        match self.next()? {
            Token::Str(s) => Some(NativeExpr::Literal(Value::String(s))),
            Token::Int(i) => Some(NativeExpr::Literal(Value::from(i))),
            Token::Open => {
                let inner = self.coalesce()?;
                (self.next()? == Token::Close).then_some(inner)
            }
            Token::Ident(name) if self.peek() == Some(&Token::Open) => {
                self.pos += 1;
                let mut args = Vec::new();
                if self.peek() != Some(&Token::Close) {
                    loop {
                        args.push(self.coalesce()?);
                        match self.next()? {
                            Token::Comma => continue,
                            Token::Close => break,
                            _ => return None,
                        }
                    }
                } else {
                    self.pos += 1;
                }
                self.call(&name, args)
            }
            Token::Ident(name) => {
                let index = self.scope.inputs.iter().position(|n| *n == name)?;
                Some(NativeExpr::Input(index))
            }
            _ => None,
        }
    }

    fn call(&self, name: &str, args: Vec<NativeExpr>) -> Option<NativeExpr> {
        if name == "param" {
            return match args.as_slice() {
                [NativeExpr::Literal(Value::String(p))] => {
                    self.scope.params.get(p).cloned().map(NativeExpr::Literal)
                }
                _ => None,
            };
        }
        if (self.scope.shadowed)(name) {
            return None;
        }
        let transform = self.scope.registry.get(name)?;
        let extra = args.len().checked_sub(1)?;
        transform
            .extra_args()
            .contains(&extra)
            .then(|| NativeExpr::Call(transform.clone(), args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile_with(text: &str, inputs: &[&str]) -> Option<NativeExpr> {
        let inputs: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
        let params = crate::script::ParamTable::from([("cur".to_string(), json!("USD"))]);
        let registry = Registry::with_builtins();
        let shadowed = |n: &str| n == "to_string";
        compile(
            text,
            &Scope {
                inputs: &inputs,
                params: &params,
                registry: &registry,
                shadowed: &shadowed,
            },
        )
    }

    #[test]
    fn recognizes_calls_inputs_literals_params_and_fallbacks() {
        assert!(matches!(
            compile_with(" minor_units(price, currency) ", &["price", "currency"]),
            Some(NativeExpr::Call(..))
        ));
        assert!(matches!(
            compile_with("minor_units(p, \"JPY\")", &["p"]),
            Some(NativeExpr::Call(..))
        ));
        assert!(matches!(
            compile_with("currency_code(c ?? param(\"cur\"))", &["c"]),
            Some(NativeExpr::Call(..))
        ));
        assert!(matches!(
            compile_with(
                "total_minor_units(items, c) ?? minor_units(total, c)",
                &["items", "c", "total"]
            ),
            Some(NativeExpr::Coalesce(_))
        ));
        assert!(matches!(
            compile_with("(c)", &["c"]),
            Some(NativeExpr::Input(0))
        ));
    }

    #[test]
    fn leaves_everything_else_to_rhai() {
        for text in [
            "minor_units(price * 2, currency)",
            "minor_units(price, currency) + 1",
            "if a { b } else { c }",
            "f(\"a\\\"b\")",
            "minor_units(price, other)",
            "param(\"unknown\")",
            "to_string(a)",
            "not_a_transform(a)",
            "minor_units(a)",
            "a.b",
            "a[0]",
        ] {
            assert!(
                compile_with(text, &["a", "b", "c", "price", "currency"]).is_none(),
                "{text}"
            );
        }
    }
}
