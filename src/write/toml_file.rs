//! TOML editor on `toml_edit::DocumentMut`: dotted prefixes through tables,
//! inline tables and dotted keys; comments, order and formatting kept.
//!
//! Invariants: a value keeps its type where the file gave one (a quoted `"20"`
//! stays a string) and its surrounding comments and spacing; a missing key is
//! added to the table at the prefix (created when missing); a prefix that runs
//! into a value that is not a table is an error naming the path. A byte order
//! mark at the start is kept.
//!
//! Line endings: `toml_edit` writes every line it formats with LF, so the
//! output is put back on the input's endings ([`keep_line_endings`]). Each line
//! that is still there (the same text, or a value changed in place) keeps its
//! own ending, CRLF or LF; a line poolcap adds takes the ending of the file's
//! first line (the rule of the `.env` editor). A file without a CR is returned
//! as `toml_edit` wrote it, and a CR inside a multi-line string is never touched.

use toml_edit::{DocumentMut, Item, Table};

use super::Value;

/// What went wrong reading or editing a TOML file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TomlError {
    /// The file is not valid TOML.
    #[error("{0}")]
    Syntax(String),
    /// A part of the prefix is a value, not a table.
    #[error("{path} is a {found}, not a table")]
    NotATable {
        /// Dotted path.
        path: String,
        /// What is there.
        found: String,
    },
    /// A managed key holds something other than a number, boolean or string.
    #[error("{path} is a {found}; poolcap writes numbers and booleans")]
    NotAScalar {
        /// Dotted path.
        path: String,
        /// What is there.
        found: String,
    },
}

fn parse(text: &str) -> Result<DocumentMut, TomlError> {
    text.parse::<DocumentMut>().map_err(|e| {
        let msg = e.to_string();
        TomlError::Syntax(msg.lines().next().unwrap_or("TOML syntax error").to_string())
    })
}

fn join(prefix: &[&str], key: Option<&str>) -> String {
    let mut parts: Vec<&str> = prefix.to_vec();
    parts.extend(key);
    parts.join(".")
}

/// Reads the value at `prefix + key` for each key, as text (strings unquoted).
pub fn read(text: &str, prefix: &[&str], keys: &[&str]) -> Result<Vec<Option<String>>, TomlError> {
    let doc = parse(text)?;
    let mut item = doc.as_item();
    for (i, part) in prefix.iter().enumerate() {
        match item.get(part) {
            None => return Ok(vec![None; keys.len()]),
            Some(next) if next.is_table_like() => item = next,
            Some(next) => {
                return Err(TomlError::NotATable {
                    path: join(&prefix[..=i], None),
                    found: next.type_name().to_string(),
                });
            }
        }
    }
    keys.iter()
        .map(|key| match item.get(key) {
            None => Ok(None),
            Some(found) => match found.as_value() {
                Some(toml_edit::Value::String(s)) => Ok(Some(s.value().clone())),
                Some(toml_edit::Value::Integer(i)) => Ok(Some(i.value().to_string())),
                Some(toml_edit::Value::Boolean(b)) => Ok(Some(b.value().to_string())),
                Some(toml_edit::Value::Float(f)) => Ok(Some(f.value().to_string())),
                _ => Err(TomlError::NotAScalar {
                    path: join(prefix, Some(key)),
                    found: found.type_name().to_string(),
                }),
            },
        })
        .collect()
}

fn new_value(old: Option<&toml_edit::Value>, value: Value) -> toml_edit::Value {
    let mut v = match (old, value) {
        (Some(toml_edit::Value::String(_)), v) => toml_edit::Value::from(v.to_string()),
        (_, Value::Int(i)) => toml_edit::Value::from(i),
        (_, Value::Bool(b)) => toml_edit::Value::from(b),
    };
    if let Some(old) = old {
        *v.decor_mut() = old.decor().clone();
    }
    v
}

/// Sets `prefix + key` to each value.
pub fn edit(text: &str, prefix: &[&str], changes: &[(&str, Value)]) -> Result<String, TomlError> {
    let mut doc = parse(text)?;
    let mut item: &mut Item = doc.as_item_mut();
    for (i, part) in prefix.iter().enumerate() {
        let path = join(&prefix[..=i], None);
        let container = item.as_table_like_mut().ok_or_else(|| TomlError::NotATable {
            path: join(&prefix[..i], None),
            found: "value".into(),
        })?;
        if container.get(part).is_none() {
            let mut table = Table::new();
            table.set_implicit(i + 1 < prefix.len());
            container.insert(part, Item::Table(table));
        }
        let next = container.get_mut(part).expect("inserted above");
        if !next.is_table_like() {
            return Err(TomlError::NotATable {
                path,
                found: next.type_name().to_string(),
            });
        }
        item = next;
    }
    let table = item.as_table_like_mut().expect("checked above");
    for (key, value) in changes {
        match table.get_mut(key) {
            Some(existing) => {
                let old = existing.as_value().ok_or_else(|| TomlError::NotAScalar {
                    path: join(prefix, Some(key)),
                    found: existing.type_name().to_string(),
                })?;
                if read_scalar(old).as_deref() == Some(value.to_string().as_str()) {
                    continue;
                }
                if !matches!(
                    old,
                    toml_edit::Value::String(_) | toml_edit::Value::Integer(_) | toml_edit::Value::Boolean(_)
                ) {
                    return Err(TomlError::NotAScalar {
                        path: join(prefix, Some(key)),
                        found: old.type_name().to_string(),
                    });
                }
                let v = new_value(Some(old), *value);
                *existing = Item::Value(v);
            }
            None => {
                table.insert(key, Item::Value(new_value(None, *value)));
            }
        }
    }
    // toml_edit skips a byte order mark when parsing and never writes one.
    let bom = if text.starts_with('\u{feff}') { "\u{feff}" } else { "" };
    let out = keep_line_endings(text, &format!("{bom}{doc}"));
    // Nothing asked for a change: hand back the input byte for byte.
    if read(&out, prefix, &changes.iter().map(|c| c.0).collect::<Vec<_>>())?
        == read(text, prefix, &changes.iter().map(|c| c.0).collect::<Vec<_>>())?
    {
        return Ok(text.to_string());
    }
    Ok(out)
}

/// `out` (an edit of `input`) with each line ending as it ends in `input`:
/// lines are matched by their text without the ending; a matched or replaced
/// line takes its input line's ending, an added line (and a final newline the
/// input lacked) the ending of the input's first line.
fn keep_line_endings(input: &str, out: &str) -> String {
    if !input.contains('\r') {
        return out.to_string();
    }
    let old = lines(input);
    let new = lines(out);
    let added = match old.first() {
        Some((_, "\r\n")) => "\r\n",
        _ => "\n",
    };
    let old_text: Vec<&str> = old.iter().map(|l| l.0).collect();
    let new_text: Vec<&str> = new.iter().map(|l| l.0).collect();
    let mut result = String::with_capacity(out.len() + new.len());
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &old_text, &new_text) {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        for (i, (line, ending)) in new[new_range].iter().enumerate() {
            result.push_str(line);
            if ending.is_empty() {
                continue;
            }
            let kept = match tag {
                similar::DiffTag::Equal | similar::DiffTag::Replace if i < old_range.len() => {
                    old[old_range.start + i].1
                }
                _ => "",
            };
            result.push_str(if kept.is_empty() { added } else { kept });
        }
    }
    result
}

/// Each line of `text` as (text, ending): the ending is `\r\n`, `\n`, or empty
/// for a last line without one.
fn lines(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (line, ending, next) = match rest.find('\n') {
            Some(i) if i > 0 && rest.as_bytes()[i - 1] == b'\r' => (&rest[..i - 1], "\r\n", &rest[i + 1..]),
            Some(i) => (&rest[..i], "\n", &rest[i + 1..]),
            None => (rest, "", ""),
        };
        out.push((line, ending));
        rest = next;
    }
    out
}

fn read_scalar(v: &toml_edit::Value) -> Option<String> {
    match v {
        toml_edit::Value::String(s) => Some(s.value().clone()),
        toml_edit::Value::Integer(i) => Some(i.value().to_string()),
        toml_edit::Value::Boolean(b) => Some(b.value().to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_a_standard_table_keeping_comments() {
        let text = "# app\n[database.pool]\npool_size = 20 # raised 2025\nmax_overflow = 10\n\n[other]\nx = 1\n";
        let out = edit(
            text,
            &["database", "pool"],
            &[("pool_size", Value::Int(25)), ("max_overflow", Value::Int(13))],
        )
        .unwrap();
        assert_eq!(
            out,
            "# app\n[database.pool]\npool_size = 25 # raised 2025\nmax_overflow = 13\n\n[other]\nx = 1\n"
        );
    }

    #[test]
    fn edits_inline_tables_and_dotted_keys() {
        let text = "database = { pool = { pool_size = 20, max_overflow = 10 } }\n";
        let out = edit(text, &["database", "pool"], &[("pool_size", Value::Int(25))]).unwrap();
        assert_eq!(out, "database = { pool = { pool_size = 25, max_overflow = 10 } }\n");
        let text = "database.pool.pool_size = 20\ndatabase.pool.max_overflow = 10\n";
        let out = edit(text, &["database", "pool"], &[("pool_size", Value::Int(25))]).unwrap();
        assert_eq!(out, "database.pool.pool_size = 25\ndatabase.pool.max_overflow = 10\n");
    }

    #[test]
    fn keeps_string_types_and_adds_missing_keys() {
        let text = "[pool]\npool_size = \"20\"\n";
        let out = edit(
            text,
            &["pool"],
            &[("pool_size", Value::Int(25)), ("pool_pre_ping", Value::Bool(true))],
        )
        .unwrap();
        assert_eq!(out, "[pool]\npool_size = \"25\"\npool_pre_ping = true\n");
        assert_eq!(
            read(&out, &["pool"], &["pool_size", "x"]).unwrap(),
            vec![Some("25".into()), None]
        );
    }

    #[test]
    fn creates_a_missing_prefix() {
        let out = edit(
            "title = \"app\"\n",
            &["database", "pool"],
            &[("pool_size", Value::Int(25))],
        )
        .unwrap();
        assert_eq!(out, "title = \"app\"\n\n[database.pool]\npool_size = 25\n");
    }

    #[test]
    fn unchanged_means_byte_identical() {
        let text = "[pool]\npool_size   =   20   # odd spacing\n";
        assert_eq!(edit(text, &["pool"], &[("pool_size", Value::Int(20))]).unwrap(), text);
    }

    #[test]
    fn crlf_lines_keep_crlf() {
        let text = "# app\r\n[database.pool]\r\npool_size = 20 # c\r\n\r\n[other]\r\nx = [\r\n 1,\r\n]\r\n";
        let out = edit(
            text,
            &["database", "pool"],
            &[("pool_size", Value::Int(25)), ("pool_timeout", Value::Int(30))],
        )
        .unwrap();
        assert_eq!(
            out,
            "# app\r\n[database.pool]\r\npool_size = 25 # c\r\npool_timeout = 30\r\n\r\n[other]\r\nx = [\r\n 1,\r\n]\r\n"
        );
        // A missing final newline is added (as for LF files), in the file's ending.
        let out = edit("[pool]\r\npool_size = 20", &["pool"], &[("pool_size", Value::Int(25))]).unwrap();
        assert_eq!(out, "[pool]\r\npool_size = 25\r\n");
    }

    #[test]
    fn mixed_endings_are_kept_line_by_line() {
        let text = "a = 1\n[pool]\r\npool_size = 20\nmax_overflow = 10\r\ns = \"\"\"x\r\ny\ny\"\"\"\n";
        let out = edit(
            text,
            &["pool"],
            &[
                ("pool_size", Value::Int(25)),
                ("max_overflow", Value::Int(13)),
                ("pool_pre_ping", Value::Bool(true)),
            ],
        )
        .unwrap();
        // Added lines take the first line's ending (LF here).
        assert_eq!(
            out,
            "a = 1\n[pool]\r\npool_size = 25\nmax_overflow = 13\r\ns = \"\"\"x\r\ny\ny\"\"\"\npool_pre_ping = true\n"
        );
        assert_eq!(lines("a\r\nb\nc"), vec![("a", "\r\n"), ("b", "\n"), ("c", "")]);
    }

    #[test]
    fn errors_name_the_path() {
        let err = edit("database = 3\n", &["database", "pool"], &[("pool_size", Value::Int(1))]).unwrap_err();
        assert_eq!(err.to_string(), "database is a integer, not a table");
        let err = edit("[pool]\npool_size = [1]\n", &["pool"], &[("pool_size", Value::Int(1))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pool.pool_size is a array; poolcap writes numbers and booleans"
        );
        assert!(matches!(edit("[pool\n", &["pool"], &[]), Err(TomlError::Syntax(_))));
    }
}
