//! Values from user data or config (service and instance names, file names,
//! finding messages that quote them, fingerprints, reasons) written into a
//! Markdown template: the `md` filter, registered on every environment that
//! renders a `.md` template, so no value can add a table cell, a line, a
//! heading, a link or raw HTML to the document.
//!
//! - `{{ v | md }}` — text: control characters (newlines included) become
//!   spaces; `\`, `|`, `[` and `]` are backslash-escaped; a `<` that would
//!   open an HTML tag or autolink becomes `&lt;`; a first character that
//!   could start a block (`#`, `>`, `-`, `+`, `*`, `=`, `_`, `~`, `` ` ``,
//!   `1.`/`1)`) is escaped, so the value is text wherever it stands.
//! - `{{ v | md("code") }}` — a whole code span (the backticks included),
//!   fenced with more backticks than the value holds in a row; control
//!   characters become spaces and `|` is escaped, as GFM table cells need.
//!
//! A plain value (`backend`, `pool_size 20 + 5 = 25`) comes out unchanged.

/// The `md` filter of a minijinja environment.
pub fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("md", |value: minijinja::Value, mode: Option<String>| {
        let text = value.to_string();
        match mode.as_deref() {
            None | Some("text") => Ok(text_escape(&text)),
            Some("code") => Ok(code_span(&text)),
            Some(other) => Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("md: unknown mode {other:?} (text or code)"),
            )),
        }
    });
}

/// A control character, or a Unicode line or paragraph separator.
fn breaks(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` as Markdown text (see the module documentation).
pub fn text_escape(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(|c| if breaks(c) { ' ' } else { c }).collect();
    let first = chars.iter().position(|c| *c != ' ');
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        match c {
            '\\' | '|' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '<' if next.is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')) => {
                out.push_str("&lt;");
            }
            '#' | '>' | '-' | '+' | '*' | '=' | '_' | '~' | '`' if Some(i) == first => {
                out.push('\\');
                out.push(c);
            }
            '.' | ')' if ordered_list_marker(&chars, first, i) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether `chars[i]` ends an ordered-list marker at the value's start
/// (1–9 digits, then `.` or `)`, then a space or the end).
fn ordered_list_marker(chars: &[char], first: Option<usize>, i: usize) -> bool {
    let Some(first) = first else { return false };
    let digits = &chars[first..i];
    (1..=9).contains(&digits.len())
        && digits.iter().all(char::is_ascii_digit)
        && chars.get(i + 1).is_none_or(|c| *c == ' ')
}

/// `text` as a code span, backticks included (see the module documentation).
pub fn code_span(text: &str) -> String {
    let body: String = text
        .chars()
        .map(|c| if breaks(c) { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|");
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick needs a space inside the fence
    // (CommonMark strips one space from each side again).
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_unchanged() {
        for v in [
            "backend",
            "backend-0-w1",
            "data/metrics/2026-10.csv.gz",
            "mean utilization 61.5% over the month is above 60.0%: pool_size 20 + 5 = 25",
            "backend-1-w1 held ≥ 19 connections (u > 80.0% at pool_size 20)",
            "optimise it before growing the pool (`poolcap slowlog`)",
            "12 concurrent users × 1.5 = 18 connections",
            "",
        ] {
            assert_eq!(text_escape(v), v);
        }
        assert_eq!(
            code_span("select * from t where a = ?"),
            "`select * from t where a = ?`"
        );
    }

    #[test]
    fn table_cells_and_lines_cannot_be_added() {
        assert_eq!(text_escape("x|y\n# injected"), "x\\|y # injected");
        assert_eq!(text_escape("a\r\nb\tc\u{2028}d\u{85}e"), "a  b c d e");
        assert_eq!(text_escape("a\\|b"), "a\\\\\\|b");
    }

    #[test]
    fn a_value_cannot_start_a_block() {
        assert_eq!(text_escape("# heading"), "\\# heading");
        assert_eq!(text_escape("  > quote"), "  \\> quote");
        assert_eq!(text_escape("- item"), "\\- item");
        assert_eq!(text_escape("1. item"), "1\\. item");
        assert_eq!(text_escape("12) item"), "12\\) item");
        assert_eq!(text_escape("1.5 s"), "1.5 s");
        assert_eq!(text_escape("```"), "\\```");
        assert_eq!(text_escape("a # b"), "a # b");
    }

    #[test]
    fn links_and_html_are_text() {
        assert_eq!(text_escape("[x](https://e.org)"), "\\[x\\](https://e.org)");
        assert_eq!(text_escape("<img src=x>"), "&lt;img src=x>");
        assert_eq!(text_escape("<https://e.org>"), "&lt;https://e.org>");
        assert_eq!(text_escape("a < b"), "a < b");
    }

    #[test]
    fn code_spans_hold_any_text() {
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x`"), "`` `x` ``");
        assert_eq!(code_span("a|b\nc"), "`a\\|b c`");
        assert_eq!(code_span(""), "``");
    }
}
