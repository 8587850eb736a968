//! Writing decisions into deployment files: the `.env`, TOML and YAML editors
//! (each changes only the values of the keys poolcap manages and keeps every
//! other byte), what a dry run may show of them, the change log, and the
//! all-or-nothing file replacement.

pub mod atomic;
pub mod changelog;
pub mod env;
pub mod mask;
pub mod toml_file;
pub mod yaml;

use std::fmt;

/// A value poolcap writes, typed so that each format writes it natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A whole number (`pool_size = 25`).
    Int(i64),
    /// A boolean (`pool_pre_ping = true`).
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// `text` with the password of every `scheme://user:password@host` URL replaced
/// by `****`, so that connection strings can be shown.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace or quote.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(atsign), Some(colon)) if colon < atsign => {
                out.push_str(&authority[..colon + 1]);
                out.push_str("****");
                out.push_str(&authority[atsign..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod url_tests {
    use super::redact_urls;

    #[test]
    fn passwords_in_urls_are_replaced() {
        assert_eq!(
            redact_urls("DATABASE_URL=postgresql://app:s3cr@t@db:5432/clinic?x=1 and http://host/p"),
            "DATABASE_URL=postgresql://app:****@db:5432/clinic?x=1 and http://host/p"
        );
        assert_eq!(
            redact_urls("postgres://root@127.0.0.1/test"),
            "postgres://root@127.0.0.1/test"
        );
    }
}
