//! Secrets in text shown to a user: the password of a connection URL.

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
mod tests {
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
