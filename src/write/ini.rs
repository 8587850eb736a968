//! The `pgbouncer.ini` editor: sets `[pgbouncer]` settings and a
//! `[databases]` entry's connection-string parameters, and keeps every
//! other byte (comments, spacing, line endings, the other entries, a last
//! line without newline).
//!
//! Where the value lands is where PgBouncer 1.18 reads it from (the reader
//! and its rules: `config::pgbouncer_ini`): a setting's last line in the
//! last `[pgbouncer]` block (an earlier block is reset by the later
//! header), else a new line after that block's last setting; a database's
//! last entry, its parameter replaced in place or appended. A file with
//! `%include` is refused: the value read could come from another file.

use crate::config::pgbouncer_ini::{IniLine, Line, lines, pair_spans};

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IniEdit {
    /// `key = value` in `[pgbouncer]`.
    Setting {
        /// The parameter.
        key: String,
        /// Its new value.
        value: String,
    },
    /// `param=value` in a `[databases]` entry's connection string.
    DatabaseParam {
        /// The entry (the name clients use).
        database: String,
        /// The parameter (`pool_size`, `reserve_pool`, `max_db_connections`).
        param: String,
        /// Its new value.
        value: String,
    },
}

/// Why a file cannot be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IniEditError {
    /// The file does not read as PgBouncer reads it.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// It includes other files.
    #[error(
        "line {line}: %include {file}: poolcap edits only a pgbouncer.ini without %include (the value PgBouncer reads could come from the included file); put the managed settings in a file of their own without includes, or edit by hand"
    )]
    Include {
        /// 1-based line.
        line: usize,
        /// The included file.
        file: String,
    },
    /// There is no `[pgbouncer]` section to put a setting in.
    #[error("there is no [pgbouncer] section, which PgBouncer needs to start")]
    NoMainSection,
    /// The database is not in `[databases]`.
    #[error("there is no database {0:?} in [databases]; add its entry, or name one that is there")]
    NoDatabase(String),
    /// A value that would change the file's meaning.
    #[error("{key} = {value:?}: a managed value is a whole number or a word of letters, digits and _")]
    BadValue {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
}

/// A managed value: plain, so it needs no quoting in either place.
fn plain(key: &str, value: &str) -> Result<(), IniEditError> {
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(IniEditError::BadValue {
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}

/// `text` with `edits` made, every other byte kept.
pub fn edit(text: &str, edits: &[IniEdit]) -> Result<String, IniEditError> {
    let mut text = text.to_string();
    for e in edits {
        text = edit_one(&text, e)?;
    }
    Ok(text)
}

/// Each line with the section it is in.
fn sectioned(text: &str) -> Result<Vec<(String, Line)>, IniEditError> {
    let parsed = lines(text).map_err(|(line, message)| IniEditError::Syntax { line, message })?;
    let mut section = String::new();
    let mut out = Vec::with_capacity(parsed.len());
    for line in parsed {
        match &line.line {
            IniLine::Section(name) => section = name.clone(),
            IniLine::Include(file) => {
                return Err(IniEditError::Include {
                    line: line.number,
                    file: file.clone(),
                });
            }
            _ => {}
        }
        out.push((section.clone(), line));
    }
    Ok(out)
}

/// The line ending the file uses (`\r\n` when its first line ends so).
fn newline(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

fn edit_one(text: &str, e: &IniEdit) -> Result<String, IniEditError> {
    let lines = sectioned(text)?;
    match e {
        IniEdit::Setting { key, value } => {
            plain(key, value)?;
            // The last [pgbouncer] block: from its header to the next header.
            let header = lines
                .iter()
                .rposition(|(_, l)| l.line == IniLine::Section("pgbouncer".into()))
                .ok_or(IniEditError::NoMainSection)?;
            let block: Vec<&Line> = lines[header..]
                .iter()
                .take_while(|(s, _)| s == "pgbouncer")
                .map(|(_, l)| l)
                .collect();
            if let Some(range) = block.iter().rev().find_map(|l| match &l.line {
                IniLine::Entry {
                    key: k, value_range, ..
                } if k == key => Some(value_range.clone()),
                _ => None,
            }) {
                return Ok(format!("{}{value}{}", &text[..range.start], &text[range.end..]));
            }
            // A new line after the block's last setting (or its header).
            let after = block
                .iter()
                .rev()
                .find(|l| matches!(l.line, IniLine::Entry { .. }))
                .or_else(|| block.first())
                .map_or(0, |l| l.range.end);
            let nl = newline(text);
            let at_end = after >= text.len();
            Ok(if at_end {
                format!("{text}{nl}{key} = {value}")
            } else {
                // `after` is the end of a line's content: insert after its line ending.
                let eol = text[after..].find('\n').map_or(text.len(), |i| after + i + 1);
                format!("{}{key} = {value}{nl}{}", &text[..eol], &text[eol..])
            })
        }
        IniEdit::DatabaseParam { database, param, value } => {
            plain(param, value)?;
            let (entry_value, range) = lines
                .iter()
                .rev()
                .find_map(|(s, l)| match &l.line {
                    IniLine::Entry {
                        key,
                        value,
                        value_range,
                    } if s == "databases" && key == database => Some((value.clone(), value_range.clone())),
                    _ => None,
                })
                .ok_or_else(|| IniEditError::NoDatabase(database.clone()))?;
            let line = text[..range.start].matches('\n').count() + 1;
            let pairs = pair_spans(&entry_value).map_err(|message| IniEditError::Syntax {
                line,
                message: format!("database {database}: {message}"),
            })?;
            match pairs.iter().rev().find(|p| &p.key == param) {
                Some(p) => {
                    let start = range.start + p.range.start;
                    let end = range.start + p.range.end;
                    Ok(format!("{}{value}{}", &text[..start], &text[end..]))
                }
                None => Ok(format!("{} {param}={value}{}", &text[..range.end], &text[range.end..])),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(key: &str, value: &str) -> IniEdit {
        IniEdit::Setting {
            key: key.into(),
            value: value.into(),
        }
    }

    fn param(database: &str, param: &str, value: &str) -> IniEdit {
        IniEdit::DatabaseParam {
            database: database.into(),
            param: param.into(),
            value: value.into(),
        }
    }

    #[test]
    fn values_change_in_place_and_new_ones_follow_the_block() {
        let text = "[databases]\r\napp = host=db  pool_size=10 password='a b'\r\n\r\n[pgbouncer]\r\n; keep\r\ndefault_pool_size=20 \r\nlisten_port = 6432\r\n\r\n[users]\r\n";
        let out = edit(
            text,
            &[
                setting("default_pool_size", "25"),
                setting("max_client_conn", "500"),
                param("app", "pool_size", "30"),
                param("app", "reserve_pool", "5"),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            "[databases]\r\napp = host=db  pool_size=30 password='a b' reserve_pool=5\r\n\r\n[pgbouncer]\r\n; keep\r\ndefault_pool_size=25 \r\nlisten_port = 6432\r\nmax_client_conn = 500\r\n\r\n[users]\r\n"
        );
    }

    #[test]
    fn the_value_pgbouncer_reads_is_the_one_changed() {
        // The second [pgbouncer] block resets the first; the last duplicate wins.
        let text = "[pgbouncer]\nmax_client_conn = 900\n[databases]\nx = host=a\n[pgbouncer]\nmax_client_conn = 100\nmax_client_conn = 200";
        let out = edit(text, &[setting("max_client_conn", "300")]).unwrap();
        assert_eq!(
            out,
            "[pgbouncer]\nmax_client_conn = 900\n[databases]\nx = host=a\n[pgbouncer]\nmax_client_conn = 100\nmax_client_conn = 300"
        );
        let out = edit(text, &[setting("default_pool_size", "7")]).unwrap();
        assert!(out.ends_with("max_client_conn = 200\ndefault_pool_size = 7"), "{out:?}");
    }

    #[test]
    fn what_cannot_be_edited_safely_is_refused() {
        assert!(matches!(
            edit("[pgbouncer]\n%include other.ini\n", &[setting("max_client_conn", "5")]),
            Err(IniEditError::Include { line: 2, .. })
        ));
        assert_eq!(
            edit("[databases]\nx = host=a\n", &[setting("max_client_conn", "5")]),
            Err(IniEditError::NoMainSection)
        );
        assert_eq!(
            edit("[pgbouncer]\n", &[param("app", "pool_size", "5")]),
            Err(IniEditError::NoDatabase("app".into()))
        );
        assert!(matches!(
            edit("[pgbouncer]\n", &[setting("max_client_conn", "5\n[x]")]),
            Err(IniEditError::BadValue { .. })
        ));
    }

    /// In/out trees: `tests/fixtures/pgbouncer-edits/<case>/in.ini` (a file of
    /// the PgBouncer corpus) with the edits of `edits.txt` gives `out.ini`
    /// byte for byte; only the lines of the edited keys and entries differ,
    /// the new values read back, and a second edit changes nothing.
    /// `POOLCAP_BLESS=1` writes `out.ini` (review its diff before committing).
    #[test]
    fn in_out_trees() {
        use crate::config::pgbouncer_ini::read;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pgbouncer-edits");
        let mut cases = 0;
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            let case = dir.file_name().unwrap().to_string_lossy().to_string();
            let input = std::fs::read_to_string(dir.join("in.ini")).unwrap();
            let edits: Vec<IniEdit> = std::fs::read_to_string(dir.join("edits.txt"))
                .unwrap()
                .lines()
                .map(|l| match l.split(' ').collect::<Vec<_>>()[..] {
                    ["setting", k, v] => setting(k, v),
                    ["database", d, k, v] => param(d, k, v),
                    _ => panic!("{case}: bad edit {l:?}"),
                })
                .collect();
            let out = edit(&input, &edits).unwrap_or_else(|e| panic!("{case}: {e}"));
            if std::env::var_os("POOLCAP_BLESS").is_some() {
                std::fs::write(dir.join("out.ini"), &out).unwrap();
            }
            let expected = std::fs::read_to_string(dir.join("out.ini")).unwrap();
            assert_eq!(out, expected, "{case}");
            assert_eq!(
                edit(&out, &edits).as_deref(),
                Ok(out.as_str()),
                "{case}: a second edit changes nothing"
            );
            // Only lines naming an edited key or entry change.
            let names: Vec<&str> = edits
                .iter()
                .map(|e| match e {
                    IniEdit::Setting { key, .. } => key.as_str(),
                    IniEdit::DatabaseParam { database, .. } => database.as_str(),
                })
                .collect();
            let diff = similar::TextDiff::from_lines(&input, &out);
            for change in diff.iter_all_changes() {
                if change.tag() != similar::ChangeTag::Equal {
                    let line = change.value().trim_start();
                    assert!(
                        names
                            .iter()
                            .any(|n| line.starts_with(&format!("{n} ")) || line.starts_with(&format!("{n}="))),
                        "{case}: an unrelated line changed: {line:?}"
                    );
                }
            }
            // What PgBouncer will read.
            let tmp = tempfile::tempdir().unwrap();
            std::fs::write(tmp.path().join("pgbouncer.ini"), &out).unwrap();
            let b = read(&tmp.path().join("pgbouncer.ini")).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!((b.default_pool_size, b.max_client_conn), (33, 512), "{case}");
            for e in &edits {
                if let IniEdit::DatabaseParam { database, .. } = e {
                    let pool = b.server_pool(database, "any");
                    assert_eq!((pool.pool_size, pool.reserve), (44, 3), "{case} {database}");
                }
            }
            cases += 1;
        }
        assert!(cases >= 10, "only {cases} cases");
    }
}
