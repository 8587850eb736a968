//! TOML editor on `toml_edit::DocumentMut`: dotted prefixes through tables,
//! inline tables and dotted keys; comments, order and formatting kept.
//!
//! Invariants: a value keeps its type where the file gave one (a quoted `"20"`
//! stays a string) and its surrounding comments and spacing; a missing key is
//! added to the table at the prefix (created when missing); a prefix that runs
//! into a value that is not a table is an error naming the path. A byte order
//! mark at the start is kept.

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
    let out = format!("{bom}{doc}");
    // Nothing asked for a change: hand back the input byte for byte.
    if read(&out, prefix, &changes.iter().map(|c| c.0).collect::<Vec<_>>())?
        == read(text, prefix, &changes.iter().map(|c| c.0).collect::<Vec<_>>())?
    {
        return Ok(text.to_string());
    }
    Ok(out)
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
