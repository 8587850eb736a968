//! The small part of PromQL poolcap writes: label matchers and the series
//! selectors built from them (`{namespace="clinical", service=~"a|b"}`).
//! A selector given in the config (`[prometheus] selector`) is parsed here
//! into its matchers, so poolcap can add its own to it and never pastes a
//! user's text into a query; values are quoted and regex-escaped here.

use std::fmt;

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (a fully anchored RE2 regex)
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    fn text(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One label matcher, `name op "value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The label.
    pub label: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value (a regex for `=~`/`!~`), unquoted.
    pub value: String,
}

impl Matcher {
    /// `label="value"`.
    pub fn equal(label: &str, value: &str) -> Self {
        Matcher {
            label: label.to_string(),
            op: MatchOp::Equal,
            value: value.to_string(),
        }
    }

    /// `label=~"v1|v2|…"`: any of `values`, each matched literally.
    pub fn any_of<'a>(label: &str, values: impl IntoIterator<Item = &'a str>) -> Self {
        Matcher {
            label: label.to_string(),
            op: MatchOp::Regex,
            value: values.into_iter().map(regex_literal).collect::<Vec<_>>().join("|"),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.label, self.op.text(), quote(&self.value))
    }
}

/// A series selector: the matchers between braces, all of which must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// The matchers, in the order given.
    pub matchers: Vec<Matcher>,
}

impl Selector {
    /// Parses `{label op "value", …}` (also `{}`; strings in double, single
    /// or back quotes). A metric name before the brace is not allowed: the
    /// metric names are poolcap's to choose.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let mut p = Parser {
            s: text.trim().as_bytes(),
            i: 0,
        };
        if !p.eat(b'{') {
            return Err("a selector is label matchers between braces, e.g. {namespace=\"clinical\"}".into());
        }
        let mut matchers = Vec::new();
        loop {
            p.space();
            if p.eat(b'}') {
                break;
            }
            let label = p.label()?;
            p.space();
            let op = p.op()?;
            p.space();
            let value = p.string()?;
            if matches!(op, MatchOp::Regex | MatchOp::NotRegex) {
                regex::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("the regex {value:?} of {label} is not valid: {e}"))?;
            }
            matchers.push(Matcher { label, op, value });
            p.space();
            if p.eat(b',') {
                continue;
            }
            p.space();
            if p.eat(b'}') {
                break;
            }
            return Err(format!("expected `,` or `}}` at byte {}", p.i + 1));
        }
        p.space();
        if p.i != p.s.len() {
            return Err(format!("unexpected text after the closing brace at byte {}", p.i + 1));
        }
        Ok(Selector { matchers })
    }

    /// This selector with `more` matchers after its own.
    pub fn with(&self, more: impl IntoIterator<Item = Matcher>) -> Selector {
        let mut matchers = self.matchers.clone();
        matchers.extend(more);
        Selector { matchers }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

/// `value` as a PromQL double-quoted string.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` as an RE2 regex that matches it literally.
pub fn regex_literal(text: &str) -> String {
    regex::escape(text)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn label(&mut self) -> Result<String, String> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.i += 1;
        }
        let label = &self.s[start..self.i];
        if label.is_empty() || label[0].is_ascii_digit() {
            return Err(format!("expected a label name at byte {}", start + 1));
        }
        Ok(String::from_utf8_lossy(label).into_owned())
    }

    fn op(&mut self) -> Result<MatchOp, String> {
        let at = self.i + 1;
        let op = if self.eat(b'=') {
            if self.eat(b'~') { MatchOp::Regex } else { MatchOp::Equal }
        } else if self.eat(b'!') {
            if self.eat(b'=') {
                MatchOp::NotEqual
            } else if self.eat(b'~') {
                MatchOp::NotRegex
            } else {
                return Err(format!("expected `!=` or `!~` at byte {at}"));
            }
        } else {
            return Err(format!("expected one of = != =~ !~ at byte {at}"));
        };
        Ok(op)
    }

    fn string(&mut self) -> Result<String, String> {
        let at = self.i + 1;
        let quote = match self.s.get(self.i) {
            Some(q @ (b'"' | b'\'' | b'`')) => *q,
            _ => return Err(format!("expected a quoted value at byte {at}")),
        };
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err(format!("the value starting at byte {at} is not closed"));
            };
            self.i += 1;
            if b == quote {
                break;
            }
            if b == b'\\' && quote != b'`' {
                let Some(&e) = self.s.get(self.i) else {
                    return Err(format!("the value starting at byte {at} is not closed"));
                };
                self.i += 1;
                out.push(match e {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    other => other,
                });
            } else {
                out.push(b);
            }
        }
        String::from_utf8(out).map_err(|_| format!("the value starting at byte {at} is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_print_back() {
        let s = Selector::parse(r#" { namespace="clinical" , env!~'dev|test', team=~`a\.b` } "#).unwrap();
        assert_eq!(s.matchers.len(), 3);
        assert_eq!(s.matchers[1].op, MatchOp::NotRegex);
        assert_eq!(s.matchers[2].value, r"a\.b");
        assert_eq!(
            s.to_string(),
            r#"{namespace="clinical", env!~"dev|test", team=~"a\\.b"}"#
        );
        assert_eq!(Selector::parse(&s.to_string()).unwrap(), s);
        assert_eq!(Selector::parse("{}").unwrap(), Selector::default());
        assert_eq!(Selector::parse(r#"{a="x",}"#).unwrap().matchers.len(), 1);
    }

    #[test]
    fn bad_selectors_say_where() {
        for (text, says) in [
            (r#"up{a="b"}"#, "between braces"),
            (r#"{a="b""#, "expected `,` or `}`"),
            (r#"{a=b}"#, "quoted value at byte 4"),
            (r#"{a=="b"}"#, "quoted value at byte 4"),
            (r#"{1a="b"}"#, "label name at byte 2"),
            (r#"{a="b} "#, "not closed"),
            (r#"{a=~"("}"#, "is not valid"),
            (r#"{a="b"} or vector(1)"#, "after the closing brace"),
        ] {
            let e = Selector::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn values_are_quoted_and_escaped() {
        let m = Matcher::any_of("service", ["team/api", "a.b", r#"q"x"#]);
        assert_eq!(m.to_string(), r#"service=~"team/api|a\\.b|q\"x""#);
        let re = regex::Regex::new(&format!("^(?:{})$", m.value)).unwrap();
        assert!(re.is_match("a.b") && !re.is_match("axb") && re.is_match(r#"q"x"#));
        assert_eq!(Matcher::equal("s", "a\\b").to_string(), r#"s="a\\b""#);
    }
}
