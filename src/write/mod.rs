//! Writing decisions into deployment files: the `.env`, TOML and YAML editors
//! (each changes only the values of the keys poolcap manages and keeps every
//! other byte), the change log, and the all-or-nothing file replacement.

pub mod atomic;
pub mod changelog;
pub mod env;
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

/// Replaces, on each line where `value_at` finds a value, the rest of the line
/// (up to its line ending) with `********`.
pub(crate) fn mask_lines(text: &str, mut value_at: impl FnMut(&str) -> Option<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        match value_at(body) {
            Some(start) if start < body.len() => {
                out.push_str(&body[..start]);
                out.push_str("********");
                out.push_str(ending);
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn unquote(key: &str) -> &str {
    key.trim().trim_matches(|c| c == '"' || c == '\'')
}

/// YAML text with every scalar value whose key is not in `managed` masked, for
/// showing in diffs: `key: value` lines, `- item` lines, the inside of block
/// scalars (`key: |`), and the pairs of one-line flow maps.
pub fn mask_yaml(text: &str, managed: &[&str]) -> String {
    let mut block_indent: Option<usize> = None;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let indent = body.len() - body.trim_start().len();
        let trimmed = body.trim_start();
        if let Some(bi) = block_indent {
            if trimmed.is_empty() || indent > bi {
                out.push_str(if trimmed.is_empty() { line } else { "" });
                if !trimmed.is_empty() {
                    out.push_str(&body[..indent]);
                    out.push_str("********");
                    out.push_str(ending);
                }
                continue;
            }
            block_indent = None;
        }
        if trimmed.starts_with('#') || trimmed.is_empty() || trimmed.starts_with("---") {
            out.push_str(line);
            continue;
        }
        let item = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        let item_at = body.len() - item.len();
        let Some(colon) = find_mapping_colon(item) else {
            if item_at > indent && !item.is_empty() {
                // A sequence item without a key.
                out.push_str(&body[..item_at]);
                out.push_str("********");
                out.push_str(ending);
            } else {
                out.push_str(line);
            }
            continue;
        };
        let key = unquote(&item[..colon]);
        let rest = &item[colon + 1..];
        let value = rest.trim_start();
        let value_at = item_at + colon + 1 + (rest.len() - value.len());
        if value.is_empty() || value.starts_with('#') || value.starts_with('&') && !value.contains(' ') {
            out.push_str(line);
            continue;
        }
        if value.starts_with('|') || value.starts_with('>') {
            block_indent = Some(indent);
            out.push_str(line);
            continue;
        }
        if value.starts_with('{') && value.trim_end().ends_with('}') {
            out.push_str(&body[..value_at]);
            out.push_str(&mask_flow_map(value, managed));
            out.push_str(ending);
            continue;
        }
        if managed.contains(&key) || value.starts_with('*') {
            out.push_str(line);
        } else {
            out.push_str(&body[..value_at]);
            out.push_str("********");
            out.push_str(ending);
        }
    }
    out
}

/// The `:` that ends a mapping key (followed by a space or the end), outside quotes.
fn find_mapping_colon(item: &str) -> Option<usize> {
    let bytes = item.as_bytes();
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'{' || b == b'[' => return None,
            None if b == b':' && bytes.get(i + 1).is_none_or(|n| *n == b' ') => return Some(i),
            None if b == b'#' && i > 0 && bytes[i - 1] == b' ' => return None,
            None => {}
        }
    }
    None
}

fn mask_flow_map(value: &str, managed: &[&str]) -> String {
    let inner = value.trim_end();
    let inner = &inner[1..inner.len() - 1];
    let parts: Vec<String> = inner
        .split(',')
        .map(|pair| match pair.find(':') {
            Some(c) if !managed.contains(&unquote(&pair[..c])) => {
                let lead = &pair[..c + 1];
                format!("{lead} ********")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_masking_keeps_managed_keys_and_structure() {
        let text = "backend:\n  env:\n    DB_POOL_SIZE: \"20\"  # note\n    DATABASE_URL: postgres://u:p@h/d\n    tls: |\n      -----BEGIN KEY-----\n      abc\n  args:\n    - --password=x\n  flow: {DB_MAX_OVERFLOW: 10, token: abc}\n";
        let masked = mask_yaml(text, &["DB_POOL_SIZE", "DB_MAX_OVERFLOW"]);
        assert_eq!(
            masked,
            "backend:\n  env:\n    DB_POOL_SIZE: \"20\"  # note\n    DATABASE_URL: ********\n    tls: |\n      ********\n      ********\n  args:\n    - ********\n  flow: {DB_MAX_OVERFLOW: 10, token: ********}\n"
        );
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
