//! Expressions that need no interpreter.
//!
//! Many mapping expressions are plain transform calls on inputs, with `??` fallbacks:
//! `minor_units(price, currency ?? param("default_currency"))`,
//! `total_minor_units(products, currency) ?? minor_units(total, currency)`. This module
//! recognizes that closed subset (calls to transforms, input variables, string, integer
//! and boolean literals, `()`, `param("name")`, `??`, `==`/`!=` against a literal, and
//! `if comparison { … } else { … }`: `if consent == false { true } else { () }`) and turns
//! it into a small tree evaluated natively. Everything else runs in Rhai. The expression is always compiled by Rhai first, so
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
    Equals,
    NotEquals,
    BlockOpen,
    BlockClose,
}

/// What a native expression may refer to.
pub(crate) struct Scope<'a> {
    pub inputs: &'a [String],
    pub params: &'a crate::script::engine::ParamTable,
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
    let expr = parser.expression()?;
    (parser.pos == parser.tokens.len()).then_some(expr)
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some((token, width)) = punctuation(c, chars.get(i + 1).copied()) {
            tokens.push(token);
            i += width;
            continue;
        }
        match c {
            c if c.is_whitespace() => i += 1,
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
            // A `-` right before digits negates them, as Rhai's unary minus does; where it
            // would be a subtraction (`a -1`) the parser finds two values in a row and
            // leaves the expression to Rhai.
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let negative = c == '-';
                let start = i + usize::from(negative);
                i = start;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let digits: String = chars[start..i].iter().collect();
                // Negated after parsing, so `-9223372036854775808` (whose digits overflow
                // as Rhai's do) stays Rhai's too.
                let value: i64 = digits.parse().ok()?;
                tokens.push(Token::Int(if negative { -value } else { value }));
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

/// The operator or bracket starting with `c` (and `next`), with how many characters it
/// takes.
fn punctuation(c: char, next: Option<char>) -> Option<(Token, usize)> {
    Some(match (c, next) {
        ('?', Some('?')) => (Token::Coalesce, 2),
        ('=', Some('=')) => (Token::Equals, 2),
        ('!', Some('=')) => (Token::NotEquals, 2),
        ('(', _) => (Token::Open, 1),
        (')', _) => (Token::Close, 1),
        (',', _) => (Token::Comma, 1),
        ('{', _) => (Token::BlockOpen, 1),
        ('}', _) => (Token::BlockClose, 1),
        _ => return None,
    })
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

    fn eat(&mut self, token: &Token) -> bool {
        let found = self.peek() == Some(token);
        if found {
            self.pos += 1;
        }
        found
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(name)) if name == keyword) && {
            self.pos += 1;
            true
        }
    }

    /// `if …` or a comparison (which may be a plain `??` chain).
    fn expression(&mut self) -> Option<NativeExpr> {
        if self.eat_keyword("if") {
            return self.if_rest();
        }
        self.comparison()
    }

    /// After `if`: the condition must be a comparison, which is always a boolean, so the
    /// native form never meets Rhai's "boolean expected" error.
    fn if_rest(&mut self) -> Option<NativeExpr> {
        let condition = self.comparison()?;
        if !matches!(condition, NativeExpr::Compare { .. }) {
            return None;
        }
        let then = self.block()?;
        let otherwise = if !self.eat_keyword("else") {
            NativeExpr::Literal(Value::Null)
        } else if self.eat_keyword("if") {
            self.if_rest()?
        } else {
            self.block()?
        };
        Some(NativeExpr::If(Box::new([condition, then, otherwise])))
    }

    /// `{ expression }` or `{ }` (which is `()`).
    fn block(&mut self) -> Option<NativeExpr> {
        if !self.eat(&Token::BlockOpen) {
            return None;
        }
        if self.eat(&Token::BlockClose) {
            return Some(NativeExpr::Literal(Value::Null));
        }
        let inner = self.expression()?;
        self.eat(&Token::BlockClose).then_some(inner)
    }

    /// `a == b` or `a != b` where one side is a string, integer, boolean or `()` literal;
    /// `??` binds tighter, as in Rhai. A chain of comparisons stays in Rhai.
    fn comparison(&mut self) -> Option<NativeExpr> {
        let left = self.coalesce()?;
        let equal = match self.peek() {
            Some(Token::Equals) => true,
            Some(Token::NotEquals) => false,
            _ => return Some(left),
        };
        self.pos += 1;
        let right = self.coalesce()?;
        if matches!(self.peek(), Some(Token::Equals | Token::NotEquals)) {
            return None;
        }
        let (value, literal) = match (left, right) {
            (value, NativeExpr::Literal(literal)) if is_scalar(&literal) => (value, literal),
            (NativeExpr::Literal(literal), value) if is_scalar(&literal) => (value, literal),
            _ => return None,
        };
        Some(NativeExpr::Compare {
            value: Box::new(value),
            literal,
            equal,
        })
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
            Token::Open if self.eat(&Token::Close) => Some(NativeExpr::Literal(Value::Null)),
            Token::Open => {
                let inner = self.expression()?;
                (self.next()? == Token::Close).then_some(inner)
            }
            Token::Ident(name) if name == "true" || name == "false" => {
                Some(NativeExpr::Literal(Value::Bool(name == "true")))
            }
            Token::Ident(name) if self.peek() == Some(&Token::Open) => {
                self.pos += 1;
                let mut args = Vec::new();
                if self.peek() != Some(&Token::Close) {
                    loop {
                        args.push(self.expression()?);
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
                // An empty parameter is absent, as everywhere (Rhai's `param` says so too).
                [NativeExpr::Literal(Value::String(p))] => self
                    .scope
                    .params
                    .get(p)
                    .map(|v| crate::value::present(v.clone()).unwrap_or(Value::Null))
                    .map(NativeExpr::Literal),
                _ => None,
            };
        }
        if (self.scope.shadowed)(name) {
            return None;
        }
        let transform = self.scope.registry.get(name)?;
        let (first, extra) = args.split_first()?;
        if !transform.extra_args().contains(&extra.len()) {
            return None;
        }
        let fields = match first {
            NativeExpr::Input(_) => {
                let literals: Vec<Option<&Value>> = extra
                    .iter()
                    .map(|arg| match arg {
                        NativeExpr::Literal(value) => Some(value),
                        _ => None,
                    })
                    .collect();
                transform.fields_read(&literals).map(Vec::into_boxed_slice)
            }
            _ => None,
        };
        Some(NativeExpr::Call {
            transform: transform.clone(),
            args,
            fields,
        })
    }
}

/// Literals whose comparison with any JSON value has one obvious answer in Rhai: a value
/// of another type is simply not equal. Lists and maps compare element by element there,
/// which stays Rhai's job.
fn is_scalar(value: &Value) -> bool {
    matches!(
        value,
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile_with(text: &str, inputs: &[&str]) -> Option<NativeExpr> {
        let inputs: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
        let params = crate::script::engine::ParamTable::from([("cur".to_string(), json!("USD"))]);
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
            Some(NativeExpr::Call { .. })
        ));
        assert!(matches!(
            compile_with("minor_units(p, \"JPY\")", &["p"]),
            Some(NativeExpr::Call { .. })
        ));
        assert!(matches!(
            compile_with("currency_code(c ?? param(\"cur\"))", &["c"]),
            Some(NativeExpr::Call { .. })
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
        assert!(matches!(
            compile_with("total_minor_units(items, c) ?? -1", &["items", "c"]),
            Some(NativeExpr::Coalesce(items))
                if matches!(&items[1], NativeExpr::Literal(v) if v.as_i64() == Some(-1))
        ));
        assert!(matches!(
            compile_with("c == -20", &["c"]),
            Some(NativeExpr::Compare { literal, .. }) if literal.as_i64() == Some(-20)
        ));
    }

    #[test]
    fn notes_the_fields_a_call_reads_of_an_input() {
        let fields = |text: &str| match compile_with(text, &["items", "c", "f"]) {
            Some(NativeExpr::Call { fields, .. }) => fields.map(|f| f.to_vec()),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            fields("total_minor_units(items, c)"),
            Some(vec!["price".to_string(), "quantity".to_string()])
        );
        assert_eq!(
            fields("total_minor_units(items, c, \"unit\")"),
            Some(vec!["unit".to_string(), "quantity".to_string()])
        );
        // A computed field name, an input that is itself computed, a transform that reads
        // its whole input: nothing is known.
        assert_eq!(fields("total_minor_units(items, c, f)"), None);
        assert_eq!(fields("total_minor_units(items ?? f, c)"), None);
        assert_eq!(fields("minor_units(items, c)"), None);
    }

    #[test]
    fn recognizes_comparisons_with_a_literal_and_if() {
        let inputs = ["consent", "c", "p", "e"];
        for text in [
            "if consent == false { true } else { () }",
            "if consent != true { \"no\" }",
            "if c == \"USD\" { upper(c) } else if c == () { \"none\" } else { lower(c) }",
            "if p == 7 { 1 } else if () != p { 2 } else { }",
            "(e == 5) ?? false",
            "false == consent ?? false",
            "c == param(\"cur\")",
        ] {
            assert!(compile_with(text, &inputs).is_some(), "{text}");
        }
        assert!(matches!(
            compile_with("if consent == false { true } else { () }", &inputs),
            Some(NativeExpr::If(_))
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
            "if true { a } else { b }",
            "if a { b }",
            "a == b",
            "a == b == c",
            "a == 1.5",
            "let r = a; r",
            "if a == 1 { b } else c",
            "if a == 1 { b",
            "a -1",
            "5-1",
            "-a",
            "--1",
            "-9223372036854775808",
            "!a",
        ] {
            assert!(
                compile_with(text, &["a", "b", "c", "price", "currency"]).is_none(),
                "{text}"
            );
        }
    }
}
