//! `.env` editor, written by hand because no crate edits dotenv files faithfully.
//!
//! Invariants: only the values of the keys asked for change; every other byte
//! stays — comments, blank lines, order, `export ` prefixes, spacing around `=`,
//! quoting style, inline comments, CRLF or LF, a trailing newline or its absence.
//! A key missing from the file is appended at the end under one
//! `# managed by poolcap` comment. When a key appears more than once, the last
//! occurrence is what applications read (python-dotenv, Docker `env_file`,
//! systemd), so that is the one read and changed, and the duplicate is reported.
//!
//! Lines that are not `KEY=VALUE` assignments (comments, garbage) are kept as
//! they are. A quoted value may span lines (python-dotenv reads both quotes
//! so); it is kept whole. A UTF-8 byte order mark before the first line is
//! skipped when reading and kept when writing.

use std::collections::BTreeMap;

/// The comment above keys poolcap appends.
pub const MANAGED_COMMENT: &str = "# managed by poolcap";

/// A UTF-8 byte order mark.
const BOM: &str = "\u{feff}";

/// How a value is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// `KEY=value`
    None,
    /// `KEY='value'`
    Single,
    /// `KEY="value"`
    Double,
}

/// One assignment found in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The key.
    pub key: String,
    /// The value, unquoted (escapes of double quotes resolved).
    pub value: String,
    /// Quoting style.
    pub quote: Quote,
    /// 1-based line of the key.
    pub line: usize,
    /// Byte range of the raw value (quotes included) in the text.
    pub(crate) value_span: (usize, usize),
}

/// A parsed file: its assignments in order.
#[derive(Debug, Clone, Default)]
pub struct EnvFile {
    /// Every assignment, in file order (duplicates included).
    pub assignments: Vec<Assignment>,
    /// Byte ranges of the lines that are neither assignments, comments nor
    /// blank (from their first non-blank byte to their line ending).
    pub(crate) unparsed: Vec<(usize, usize)>,
}

impl EnvFile {
    /// The last assignment of `key` (the one applications read).
    pub fn get(&self, key: &str) -> Option<&Assignment> {
        self.assignments.iter().rev().find(|a| a.key == key)
    }

    /// Keys assigned more than once, with the lines of every occurrence.
    pub fn duplicates(&self) -> BTreeMap<String, Vec<usize>> {
        let mut lines: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for a in &self.assignments {
            lines.entry(a.key.clone()).or_default().push(a.line);
        }
        lines.retain(|_, l| l.len() > 1);
        lines
    }
}

fn is_key_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'
}

/// Parses the assignments of an env file.
pub fn parse(text: &str) -> EnvFile {
    let bytes = text.as_bytes();
    let mut file = EnvFile::default();
    let mut pos = if text.starts_with(BOM) { BOM.len() } else { 0 };
    let mut line_no = 1;
    while pos < bytes.len() {
        let line_end = memchr_newline(bytes, pos);
        let mut i = pos;
        while i < line_end && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        if bytes[i..line_end].starts_with(b"export ") || bytes[i..line_end].starts_with(b"export\t") {
            i += 7;
            while i < line_end && (bytes[i] == b' ' || bytes[i] == b'\t') {
                i += 1;
            }
        }
        let key_start = i;
        let mut next = line_end + 1;
        let mut lines_spanned = 1;
        let mut assigned = false;
        if i < line_end && is_key_start(bytes[i]) {
            while i < line_end && is_key_byte(bytes[i]) {
                i += 1;
            }
            let key_end = i;
            while i < line_end && (bytes[i] == b' ' || bytes[i] == b'\t') {
                i += 1;
            }
            if i < line_end && bytes[i] == b'=' {
                i += 1;
                while i < line_end && (bytes[i] == b' ' || bytes[i] == b'\t') {
                    i += 1;
                }
                let value_start = i;
                let (value, quote, value_end) = match bytes.get(i) {
                    Some(b'"') => match closing_double(bytes, i + 1) {
                        Some(close) => (unescape_double(&text[i + 1..close]), Quote::Double, close + 1),
                        None => (text[i + 1..line_end].to_string(), Quote::Double, line_end),
                    },
                    Some(b'\'') => match bytes[i + 1..].iter().position(|&b| b == b'\'') {
                        Some(off) => (text[i + 1..i + 1 + off].to_string(), Quote::Single, i + 2 + off),
                        None => (text[i + 1..line_end].to_string(), Quote::Single, line_end),
                    },
                    _ => {
                        // Unquoted: up to an inline comment (` #`) or the end of the line.
                        let mut end = line_end;
                        let mut j = i;
                        while j < line_end {
                            if bytes[j] == b'#' && (j == value_start || bytes[j - 1] == b' ' || bytes[j - 1] == b'\t') {
                                end = j;
                                break;
                            }
                            j += 1;
                        }
                        let mut end_trim = end;
                        while end_trim > value_start && matches!(bytes[end_trim - 1], b' ' | b'\t' | b'\r') {
                            end_trim -= 1;
                        }
                        (text[value_start..end_trim].to_string(), Quote::None, end_trim)
                    }
                };
                if value_end > line_end {
                    // A quoted value spanning lines: continue after it.
                    let last_line_end = memchr_newline(bytes, value_end.saturating_sub(1));
                    lines_spanned = 1 + bytes[line_end..value_end].iter().filter(|&&b| b == b'\n').count();
                    next = last_line_end + 1;
                }
                file.assignments.push(Assignment {
                    key: text[key_start..key_end].to_string(),
                    value,
                    quote,
                    line: line_no,
                    value_span: (value_start, value_end),
                });
                assigned = true;
            }
        }
        let content_start = pos + (bytes[pos..line_end].len() - text[pos..line_end].trim_start().len());
        let content_end = if line_end > pos && bytes[line_end - 1] == b'\r' {
            line_end - 1
        } else {
            line_end
        };
        if !assigned && content_start < content_end && bytes[content_start] != b'#' {
            file.unparsed.push((content_start, content_end));
        }
        line_no += lines_spanned;
        pos = next;
    }
    file
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

fn closing_double(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn unescape_double(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The line ending the file uses (CRLF when its first line ends so).
fn line_ending(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

fn render_value(value: &str, quote: Quote) -> String {
    match quote {
        Quote::None => value.to_string(),
        Quote::Single => format!("'{value}'"),
        Quote::Double => format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")),
    }
}

/// Sets each `(key, value)`; returns the new text (equal to `text` when nothing changes).
/// Values poolcap writes are numbers and booleans, so new keys are unquoted.
pub fn edit(text: &str, changes: &[(&str, String)]) -> String {
    let file = parse(text);
    let mut replacements: Vec<((usize, usize), String)> = Vec::new();
    let mut missing: Vec<(&str, &str)> = Vec::new();
    for (key, value) in changes {
        match file.get(key) {
            Some(a) if a.value == *value => {}
            Some(a) => replacements.push((a.value_span, render_value(value, a.quote))),
            None => missing.push((key, value)),
        }
    }
    replacements.sort_by_key(|r| r.0.0);
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for ((start, end), new) in &replacements {
        out.push_str(&text[at..*start]);
        out.push_str(new);
        at = *end;
    }
    out.push_str(&text[at..]);
    if !missing.is_empty() {
        let nl = line_ending(text);
        let ends_with_newline = text.is_empty() || text.ends_with('\n');
        if !ends_with_newline {
            out.push_str(nl);
        }
        let has_comment = text
            .trim_start_matches(BOM)
            .lines()
            .any(|l| l.trim_end() == MANAGED_COMMENT);
        let mut block: Vec<String> = Vec::new();
        if !has_comment {
            block.push(MANAGED_COMMENT.to_string());
        }
        block.extend(missing.iter().map(|(k, v)| format!("{k}={v}")));
        out.push_str(&block.join(nl));
        if ends_with_newline {
            out.push_str(nl);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn changes(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn parses_the_usual_shapes() {
        let text = "# comment\nexport A=1\nB = \"two words\" # note\nC='x#y'\nD=plain # c\nE=\"a\\\"b\"\n  F=\n";
        let f = parse(text);
        let got: Vec<(&str, &str, Quote, usize)> = f
            .assignments
            .iter()
            .map(|a| (a.key.as_str(), a.value.as_str(), a.quote, a.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A", "1", Quote::None, 2),
                ("B", "two words", Quote::Double, 3),
                ("C", "x#y", Quote::Single, 4),
                ("D", "plain", Quote::None, 5),
                ("E", "a\"b", Quote::Double, 6),
                ("F", "", Quote::None, 7),
            ]
        );
    }

    #[test]
    fn multi_line_double_quoted_values_are_one_value() {
        let text = "KEY=\"-----BEGIN\nline2\n-----END\"\nNEXT=1\n";
        let f = parse(text);
        assert_eq!(f.assignments.len(), 2);
        assert_eq!(f.assignments[0].value, "-----BEGIN\nline2\n-----END");
        assert_eq!((f.assignments[1].key.as_str(), f.assignments[1].line), ("NEXT", 4));
    }

    #[test]
    fn unchanged_values_leave_the_text_alone() {
        let text = "DB_POOL_SIZE=20\r\nX=1";
        assert_eq!(edit(text, &changes(&[("DB_POOL_SIZE", "20")])), text);
    }

    #[test]
    fn keeps_quotes_export_and_comments() {
        let text = "export DB_POOL_SIZE=\"20\"  # raised 2025\nDB_MAX_OVERFLOW='10'\n";
        assert_eq!(
            edit(text, &changes(&[("DB_POOL_SIZE", "25"), ("DB_MAX_OVERFLOW", "13")])),
            "export DB_POOL_SIZE=\"25\"  # raised 2025\nDB_MAX_OVERFLOW='13'\n"
        );
    }

    #[test]
    fn duplicates_change_the_last_one() {
        let text = "DB_POOL_SIZE=5\nDB_POOL_SIZE=20\n";
        assert_eq!(parse(text).duplicates()["DB_POOL_SIZE"], vec![1, 2]);
        assert_eq!(
            edit(text, &changes(&[("DB_POOL_SIZE", "25")])),
            "DB_POOL_SIZE=5\nDB_POOL_SIZE=25\n"
        );
    }

    #[test]
    fn appends_missing_keys_once_under_one_comment() {
        let text = "A=1";
        let once = edit(text, &changes(&[("DB_POOL_TIMEOUT", "30")]));
        assert_eq!(once, "A=1\n# managed by poolcap\nDB_POOL_TIMEOUT=30");
        let twice = edit(&once, &changes(&[("DB_POOL_RECYCLE", "3600")]));
        assert_eq!(
            twice,
            "A=1\n# managed by poolcap\nDB_POOL_TIMEOUT=30\nDB_POOL_RECYCLE=3600"
        );
        assert_eq!(
            edit("A=1\r\n", &changes(&[("B", "2")])),
            "A=1\r\n# managed by poolcap\r\nB=2\r\n"
        );
    }

    #[test]
    fn single_quoted_values_may_span_lines_too() {
        let text = "PGPASSWORD='first\nsecond' # c\nDB_POOL_SIZE=20\nX='unclosed\nY=1\n";
        let f = parse(text);
        let got: Vec<(&str, &str, usize)> = f
            .assignments
            .iter()
            .map(|a| (a.key.as_str(), a.value.as_str(), a.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("PGPASSWORD", "first\nsecond", 1),
                ("DB_POOL_SIZE", "20", 3),
                ("X", "unclosed", 4),
                ("Y", "1", 5)
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_kept() {
        let text = "\u{feff}DB_POOL_SIZE=20\n";
        assert_eq!(parse(text).get("DB_POOL_SIZE").map(|a| a.line), Some(1));
        assert_eq!(
            edit(text, &changes(&[("DB_POOL_SIZE", "25")])),
            "\u{feff}DB_POOL_SIZE=25\n"
        );
    }

    #[test]
    fn lines_that_are_not_assignments_are_recorded() {
        let text = "# c\n\n  garbage line\r\nA=1\nexport\n";
        let f = parse(text);
        let unparsed: Vec<&str> = f.unparsed.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(unparsed, vec!["garbage line", "export"]);
    }

    proptest! {
        #[test]
        fn never_panics_and_sets_what_was_asked(text in "(?s).{0,200}", value in "[0-9]{1,4}") {
            let out = edit(&text, &[("DB_POOL_SIZE", value.clone())]);
            prop_assert_eq!(parse(&out).get("DB_POOL_SIZE").map(|a| a.value.clone()), Some(value));
            let _ = crate::write::mask::env(&text, &[]);
        }
    }
}
