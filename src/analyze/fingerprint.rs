//! Query fingerprints: one normalized text per query shape, so that the slow-log
//! digest groups `SELECT … WHERE id = 7` with `… WHERE id = 8`.
//!
//! Rules (one pass over the bytes, no allocation beyond the output):
//!
//! | input | fingerprint |
//! |---|---|
//! | `SELECT *  FROM t WHERE id = 42` | `select * from t where id = ?` |
//! | `… name = 'O''Brien'`, `E'\n'`, `$$body$$`, `$f$x$f$` | `… name = ?` |
//! | `… a = -1.5e3 AND b = 0x1F` | `… a = ? and b = ?` |
//! | `… id = $1`, `… id = ?` | `… id = ?` |
//! | `… flag = TRUE AND x IS NULL` | `… flag = ? and x is ?` |
//! | `… id IN (1, 2, 3)` | `… id in (?+)` |
//! | `INSERT INTO t VALUES (1,'a'), (2,'b')` | `insert into t values (?+)` |
//! | `-- note` and `/* hint */` comments, runs of white space | removed / one space |
//! | `/* a /* b */ c */` (PostgreSQL: comments nest), an unclosed `/* …` | removed |
//! | `"Patient2Ward"`, `` `ward2` ``, `t1`, `col_2` | kept as written (quoted identifiers keep their case) |
//!
//! Unquoted text is lower-cased (PostgreSQL folds unquoted identifiers anyway);
//! digits inside names and quoted identifiers are never erased — the two faults
//! of pt-query-digest's fingerprints this avoids. In MySQL, `"…"` is a string
//! (the default without `ANSI_QUOTES`); in PostgreSQL it is an identifier.

/// Which SQL dialect a statement is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The fingerprint of one statement.
pub fn fingerprint(sql: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(sql.len().min(4096));
    fingerprint_into(sql, dialect, &mut out);
    out
}

/// The fingerprint of one statement, written into `out` (cleared first), so a
/// caller digesting millions of statements reuses one buffer.
pub fn fingerprint_into(sql: &str, dialect: Dialect, out: &mut String) {
    out.clear();
    let out_ref = out;
    let mut out = std::mem::take(out_ref);
    fingerprint_body(sql, dialect, &mut out);
    *out_ref = out;
}

fn fingerprint_body(sql: &str, dialect: Dialect, out: &mut String) {
    let b = sql.as_bytes();
    let n = b.len();
    let mut i = 0;
    // Whether a space is owed before the next token.
    let mut space = false;
    #[inline(always)]
    fn push_token(out: &mut String, space: &mut bool, text: &str) {
        if *space && !out.is_empty() {
            out.push(' ');
        }
        *space = false;
        match text.as_bytes() {
            // One ASCII byte (`?`, `(`, `=` …): a push, not a copy.
            [one] if one.is_ascii() => out.push(*one as char),
            _ => out.push_str(text),
        }
    }
    while i < n {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {
                space = true;
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
                space = true;
            }
            b'#' if dialect == Dialect::MySql => {
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
                space = true;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i, dialect == Dialect::Postgres);
                space = true;
            }
            b'\'' => {
                i = skip_quoted(b, i, b'\'', dialect == Dialect::MySql);
                push_token(out, &mut space, "?");
            }
            b'"' if dialect == Dialect::MySql => {
                i = skip_quoted(b, i, b'"', true);
                push_token(out, &mut space, "?");
            }
            b'"' | b'`' => {
                let end = skip_quoted(b, i, c, false);
                push_token(out, &mut space, &sql[i..end]);
                i = end;
            }
            b'$' if dialect == Dialect::Postgres => {
                // $1 parameter, or a dollar-quoted string $tag$…$tag$.
                let mut j = i + 1;
                while j < n && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j > i + 1 {
                    push_token(out, &mut space, "?");
                    i = j;
                    continue;
                }
                let mut k = i + 1;
                while k < n && (b[k].is_ascii_alphanumeric() || b[k] == b'_') {
                    k += 1;
                }
                if k < n && b[k] == b'$' {
                    let tag = &sql[i..=k];
                    let body = k + 1;
                    let end = sql[body..].find(tag).map_or(n, |p| body + p + tag.len());
                    push_token(out, &mut space, "?");
                    i = end;
                } else {
                    push_token(out, &mut space, "$");
                    i += 1;
                }
            }
            b'0'..=b'9' => {
                i = skip_number(b, i);
                push_token(out, &mut space, "?");
            }
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = skip_number(b, i + 1);
                push_token(out, &mut space, "?");
            }
            b'-' | b'+'
                if b.get(i + 1).is_some_and(|d| d.is_ascii_digit() || *d == b'.')
                    && out
                        .as_bytes()
                        .last()
                        .is_none_or(|p| b"(,=<>+-*/%".contains(p) || (space && *p == b'?')) =>
            {
                // A signed literal: `= -5`, `(-1, 2)`.
                if out.ends_with('?') && space {
                    // `? - 5` is arithmetic, not a sign.
                    push_token(out, &mut space, &sql[i..=i]);
                    i += 1;
                    continue;
                }
                i = skip_number(b, i + 1);
                push_token(out, &mut space, "?");
            }
            b'?' => {
                push_token(out, &mut space, "?");
                i += 1;
            }
            _ if is_ident_byte(c) => {
                let start = i;
                while i < n && is_ident_byte(b[i]) {
                    i += 1;
                }
                let word = &sql[start..i];
                // E'…', B'…', X'…', N'…' prefixed strings.
                if i < n && b[i] == b'\'' && word.len() == 1 && b"eEbBxXnN".contains(&word.as_bytes()[0]) {
                    i = skip_quoted(b, i, b'\'', word.eq_ignore_ascii_case("e") || dialect == Dialect::MySql);
                    push_token(out, &mut space, "?");
                    continue;
                }
                if word.eq_ignore_ascii_case("true")
                    || word.eq_ignore_ascii_case("false")
                    || word.eq_ignore_ascii_case("null")
                {
                    push_token(out, &mut space, "?");
                } else {
                    // Lowered in place: no allocation per identifier.
                    let at = out.len();
                    push_token(out, &mut space, word);
                    out[at..].make_ascii_lowercase();
                }
            }
            _ => {
                // Operators and punctuation: `(`, `)`, `,`, `;`, `=`, …
                let len = utf8_len(c);
                let piece = &sql[i..(i + len).min(n)];
                if piece == "," || piece == ")" {
                    space = false;
                }
                push_token(out, &mut space, piece);
                if piece == "," {
                    space = true;
                }
                i += len;
            }
        }
    }
    while out.ends_with(';') || out.ends_with(' ') {
        out.pop();
    }
    if IN_LIST.find(out.as_bytes()).is_some() || VALUES_LIST.find(out.as_bytes()).is_some() {
        // A second buffer per thread, swapped with `out`: no allocation per statement.
        thread_local! {
            static COLLAPSED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        COLLAPSED.with(|cell| {
            let mut collapsed = cell.borrow_mut();
            collapse_lists(out, &mut collapsed);
            std::mem::swap(out, &mut *collapsed);
        });
    }
}

static IN_LIST: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new("in ("));
static VALUES_LIST: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new("values ("));

fn utf8_len(first: u8) -> usize {
    match first {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

/// Index after the block comment starting at `start` (`/*`). PostgreSQL's
/// comments nest (`/* a /* b */ c */` is one comment); MySQL's end at the
/// first `*/`. An unclosed comment runs to the end: no text of a comment ever
/// reaches a fingerprint.
fn skip_block_comment(b: &[u8], start: usize, nested: bool) -> usize {
    let mut depth = 1usize;
    let mut j = start + 2;
    while j + 1 < b.len() {
        match (b[j], b[j + 1]) {
            (b'*', b'/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return j;
                }
            }
            (b'/', b'*') if nested => {
                depth += 1;
                j += 2;
            }
            _ => j += 1,
        }
    }
    b.len()
}

/// Index after a quoted run starting at `start` (doubled quotes escape; with
/// `backslash`, so does `\`). An unclosed quote runs to the end.
fn skip_quoted(b: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// Index after a numeric literal (decimal, fraction, exponent, hex) at `start`.
fn skip_number(b: &[u8], start: usize) -> usize {
    let mut i = start;
    if b.get(i) == Some(&b'0') && matches!(b.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_') {
        i += 1;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < b.len() && matches!(b[j], b'+' | b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    // `1abc` is not a number followed by a word but a (weird) identifier tail: absorb it.
    while i < b.len() && is_ident_byte(b[i]) {
        i += 1;
    }
    i
}

/// `in (?, ?, ?)` → `in (?+)`; `values (?, ?), (?, ?)` → `values (?+)`.
fn collapse_lists(fp: &str, out: &mut String) {
    out.clear();
    let mut rest = fp;
    loop {
        let next = ["in (", "values ("]
            .iter()
            .filter_map(|kw| find_word(rest, kw).map(|p| (p, *kw)))
            .min_by_key(|(p, _)| *p);
        let Some((at, kw)) = next else {
            out.push_str(rest);
            return;
        };
        out.push_str(&rest[..at + kw.len() - 1]);
        let after = &rest[at + kw.len() - 1..];
        match placeholder_group(after) {
            Some(mut len) => {
                if kw == "values (" {
                    // Further `, (…)` groups of the same VALUES list.
                    while let Some(more) = after[len..].strip_prefix(", ").and_then(placeholder_group) {
                        len += 2 + more;
                    }
                }
                out.push_str("(?+)");
                rest = &after[len..];
            }
            None => {
                out.push('(');
                rest = &after[1..];
            }
        }
    }
}

/// Finds `kw` (`in (` or `values (`) at a word boundary.
fn find_word(text: &str, kw: &str) -> Option<usize> {
    let mut from = 0;
    let finder = if kw == "in (" { &*IN_LIST } else { &*VALUES_LIST };
    while let Some(p) = finder.find(&text.as_bytes()[from..]) {
        let at = from + p;
        if at == 0 || !is_ident_byte(text.as_bytes()[at - 1]) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Length of `(?, ?, …)` at the start of `text`, if it is one (only placeholders).
fn placeholder_group(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    if b.first() != Some(&b'(') {
        return None;
    }
    let mut i = 1;
    loop {
        match b.get(i) {
            Some(b'?') => {
                i += 1;
                if text[i..].starts_with('+') {
                    i += 1;
                }
            }
            _ => return None,
        }
        match b.get(i) {
            Some(b')') => return Some(i + 1),
            Some(b',') => {
                i += 1;
                if b.get(i) == Some(&b' ') {
                    i += 1;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pg(s: &str) -> String {
        fingerprint(s, Dialect::Postgres)
    }
    fn my(s: &str) -> String {
        fingerprint(s, Dialect::MySql)
    }

    #[test]
    fn the_documented_examples() {
        assert_eq!(pg("SELECT *  FROM t WHERE id = 42"), "select * from t where id = ?");
        assert_eq!(
            pg("SELECT 1 FROM t WHERE name = 'O''Brien'"),
            "select ? from t where name = ?"
        );
        assert_eq!(pg("SELECT E'a\\'b', $$body$$, $f$x$f$"), "select ?, ?, ?");
        assert_eq!(
            pg("UPDATE t SET a = -1.5e3 WHERE b = 0x1F"),
            "update t set a = ? where b = ?"
        );
        assert_eq!(
            pg("SELECT * FROM t WHERE id = $1 AND x = $12"),
            "select * from t where id = ? and x = ?"
        );
        assert_eq!(my("SELECT * FROM t WHERE id = ?"), "select * from t where id = ?");
        assert_eq!(
            pg("SELECT 1 WHERE flag = TRUE AND x IS NULL"),
            "select ? where flag = ? and x is ?"
        );
        assert_eq!(
            pg("SELECT * FROM t WHERE id IN (1, 2, 3)"),
            "select * from t where id in (?+)"
        );
        assert_eq!(
            pg("select * from t where id in (7)"),
            "select * from t where id in (?+)"
        );
        assert_eq!(pg("INSERT INTO t VALUES (1,'a'), (2,'b')"), "insert into t values (?+)");
        assert_eq!(pg("SELECT a -- note\nFROM /* hint */ t;"), "select a from t");
    }

    #[test]
    fn identifiers_keep_their_digits_and_quotes() {
        assert_eq!(
            pg("SELECT col_2 FROM t1 JOIN \"Patient2Ward\" p ON p.id = t1.id"),
            "select col_2 from t1 join \"Patient2Ward\" p on p.id = t1.id"
        );
        assert_eq!(
            my("SELECT * FROM `ward2` WHERE note = \"x\""),
            "select * from `ward2` where note = ?"
        );
        assert_eq!(
            pg("SELECT pgbench_accounts.abalance FROM pgbench_accounts"),
            "select pgbench_accounts.abalance from pgbench_accounts"
        );
    }

    #[test]
    fn in_lists_of_any_length_share_a_fingerprint() {
        let a = pg("SELECT * FROM a WHERE aid IN (1,2)");
        let b = pg("select * from a where aid in (1, 2, 3, 4, 5, 6, 7)");
        assert_eq!(a, b);
        // A subquery is not a list.
        assert_eq!(
            pg("SELECT 1 WHERE x IN (SELECT id FROM t)"),
            "select ? where x in (select id from t)"
        );
    }

    #[test]
    fn signs_and_arithmetic() {
        assert_eq!(
            pg("SELECT * FROM t WHERE a = -5 AND b > +3"),
            "select * from t where a = ? and b > ?"
        );
        assert_eq!(pg("UPDATE t SET a = a - 1"), "update t set a = a - ?");
        assert_eq!(pg("SELECT f(-1, 2)"), "select f(?, ?)");
    }

    #[test]
    fn non_ascii_and_whitespace() {
        assert_eq!(
            pg("SELECT 'Überweisung ✓' AS\n\t\"Grüße\"   -- 日本語\n"),
            "select ? as \"Grüße\""
        );
        assert_eq!(pg("SELECT   größe FROM t"), "select größe from t");
    }

    #[test]
    fn mysql_strings_and_comments() {
        assert_eq!(my("SELECT 'it\\'s', \"two\" # comment\nFROM t"), "select ?, ? from t");
        assert_eq!(pg("SELECT a # b"), "select a # b");
    }

    #[test]
    fn no_text_of_a_comment_reaches_a_fingerprint() {
        // PostgreSQL block comments nest.
        assert_eq!(pg("SELECT /* a /* b */ hunterA2 */ 1"), "select ?");
        assert_eq!(
            pg("SELECT 1 /* a /* b /* c */ hunterA3 */ hunterA4 */ FROM t"),
            "select ? from t"
        );
        // Unclosed, at any depth: to the end.
        assert_eq!(pg("SELECT 1 /* a /* b */ hunterA5"), "select ?");
        assert_eq!(my("SELECT 1 /* hunterA6"), "select ?");
        assert_eq!(pg("SELECT 1 /*/ hunterA7 */ FROM t"), "select ? from t");
        // MySQL's end at the first `*/`: what follows is SQL to the server too.
        assert_eq!(my("SELECT /* a /* b */ 1"), "select ?");
    }

    proptest! {
        #[test]
        fn never_panics(s in "(?s).{0,300}") {
            let _ = pg(&s);
            let _ = my(&s);
        }

        #[test]
        fn literals_do_not_change_the_fingerprint(a in 0u64..1_000_000, b in "[a-zA-Z ]{0,20}") {
            let one = pg(&format!("SELECT * FROM t WHERE id = {a} AND name = '{b}'"));
            prop_assert_eq!(one, "select * from t where id = ? and name = ?");
        }
    }
}
