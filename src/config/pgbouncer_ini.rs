//! `pgbouncer.ini` as PgBouncer 1.18 reads it: the lines (with the byte
//! ranges the editor in `write::ini` changes in place), the connection
//! strings of `[databases]` and `[users]`, and the limits the connection
//! budget needs ([`read`] → [`Bouncer`]).
//!
//! What PgBouncer does and this reader matches (checked against 1.18 with
//! tests/fixtures/pgbouncer): a line whose first non-blank character is `;`
//! or `#` is a comment; a value runs to the end of its line (a `;` after a
//! value is part of it); key and section names are matched without regard to
//! case; a key given twice takes its last value; `%include FILE` reads FILE
//! there, relative to the including file's folder. Keys poolcap does not
//! need are skipped; a line PgBouncer would refuse is an error naming it.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::config::ConfigError;
use crate::model::bouncer::{Bouncer, BouncerDatabase, BouncerUser, PoolMode};
use crate::model::limits;

/// One line of the file, as the reader and the editor see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IniLine {
    /// Blank or a comment.
    Blank,
    /// `[name]` (lowercased).
    Section(String),
    /// `key = value`.
    Entry {
        /// The key, lowercased (for `[databases]`/`[users]`: the name, as written).
        key: String,
        /// The key as written.
        written: String,
        /// The value, trimmed.
        value: String,
        /// Where the value's bytes are in the text (empty at its end when the value is).
        value_range: Range<usize>,
    },
    /// `%include FILE`.
    Include(String),
}

/// A line with its 1-based number and byte range (without the line ending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based.
    pub number: usize,
    /// The line's bytes, without `\r\n` or `\n`.
    pub range: Range<usize>,
    /// What it holds.
    pub line: IniLine,
}

/// Splits `text` into its lines; `Err((line, message))` for a line
/// PgBouncer would refuse.
pub fn lines(text: &str) -> Result<Vec<Line>, (usize, String)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut number = 0;
    while start < text.len() || (start == 0 && !text.is_empty()) {
        number += 1;
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let content_end = if end > start && text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let raw = &text[start..content_end];
        let raw_no_bom = if number == 1 { raw.trim_start_matches('\u{feff}') } else { raw };
        let offset = start + (raw.len() - raw_no_bom.len());
        let trimmed = raw_no_bom.trim_start();
        let lead = offset + (raw_no_bom.len() - trimmed.len());
        let line = if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            IniLine::Blank
        } else if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(close) = rest.find(']') else {
                return Err((number, format!("{trimmed:?} opens a section without closing it with ]")));
            };
            IniLine::Section(rest[..close].trim().to_ascii_lowercase())
        } else if let Some(rest) = trimmed.strip_prefix("%include") {
            IniLine::Include(rest.trim().to_string())
        } else if let Some(eq) = trimmed.find('=') {
            let written = trimmed[..eq].trim_end();
            let value_part = &trimmed[eq + 1..];
            let value = value_part.trim();
            let value_start = lead + eq + 1 + (value_part.len() - value_part.trim_start().len());
            IniLine::Entry {
                key: written.to_ascii_lowercase(),
                written: written.to_string(),
                value: value.to_string(),
                value_range: value_start..value_start + value.len(),
            }
        } else {
            return Err((
                number,
                format!("{trimmed:?} is neither a [section], a key = value line nor a comment"),
            ));
        };
        out.push(Line {
            number,
            range: start..content_end,
            line,
        });
        if end == text.len() {
            break;
        }
        start = end + 1;
    }
    Ok(out)
}

/// The `key=value` pairs of a `[databases]` or `[users]` value (libpq style:
/// a value may be single-quoted, with `\'` or `''` for a quote).
pub fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("{key:?} has no =value"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("the quoted value of {key} is not closed")),
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        value.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key.to_ascii_lowercase(), value));
    }
}

/// Reads the PgBouncer limits of the file at `path` (and its includes).
pub fn read(path: &Path) -> Result<Bouncer, ConfigError> {
    let mut bouncer = Bouncer::defaults(&path.display().to_string());
    // PgBouncer's own default for poolcap's headroom is not a thing: keep ours.
    let mut reading = Reading {
        bouncer: &mut bouncer,
        section: String::new(),
        depth: 0,
    };
    reading.file(path)?;
    Ok(bouncer)
}

struct Reading<'a> {
    bouncer: &'a mut Bouncer,
    section: String,
    depth: usize,
}

/// How deep `%include`s may nest (PgBouncer's own limit is 10).
const MAX_INCLUDE_DEPTH: usize = 10;

impl Reading<'_> {
    fn file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let error = |line: usize, message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            line: Some(line),
            column: None,
            message,
        };
        for line in lines(&text).map_err(|(l, m)| error(l, m))? {
            match line.line {
                IniLine::Blank => {}
                IniLine::Section(name) => self.section = name,
                IniLine::Include(file) => {
                    if self.depth >= MAX_INCLUDE_DEPTH {
                        return Err(error(
                            line.number,
                            format!("%include {file} nests more than {MAX_INCLUDE_DEPTH} files deep"),
                        ));
                    }
                    let included: PathBuf = match path.parent() {
                        Some(dir) if Path::new(&file).is_relative() => dir.join(&file),
                        _ => PathBuf::from(&file),
                    };
                    self.depth += 1;
                    self.file(&included)?;
                    self.depth -= 1;
                }
                IniLine::Entry {
                    key, written, value, ..
                } => self.entry(&key, &written, &value).map_err(|m| error(line.number, m))?,
            }
        }
        Ok(())
    }

    fn entry(&mut self, key: &str, written: &str, value: &str) -> Result<(), String> {
        let b = &mut *self.bouncer;
        match self.section.as_str() {
            "pgbouncer" => match key {
                "pool_mode" => b.pool_mode = mode(key, value)?,
                "max_client_conn" => b.max_client_conn = number(key, value, 1)?,
                "default_pool_size" => b.default_pool_size = number(key, value, 0)?,
                "reserve_pool_size" => b.reserve_pool_size = number(key, value, 0)?,
                "max_db_connections" => b.max_db_connections = number(key, value, 0)?,
                "max_user_connections" => b.max_user_connections = number(key, value, 0)?,
                _ => {}
            },
            "databases" => {
                let mut entry = BouncerDatabase::default();
                for (k, v) in pairs(value).map_err(|m| format!("database {written}: {m}"))? {
                    match k.as_str() {
                        "pool_size" => entry.pool_size = Some(number(&k, &v, 0)?),
                        "reserve_pool" => entry.reserve_pool = Some(number(&k, &v, 0)?),
                        "max_db_connections" => entry.max_db_connections = Some(number(&k, &v, 0)?),
                        "pool_mode" => entry.pool_mode = Some(mode(&k, &v)?),
                        _ => {}
                    }
                }
                b.databases.insert(written.to_string(), entry);
            }
            "users" => {
                let mut entry = BouncerUser::default();
                for (k, v) in pairs(value).map_err(|m| format!("user {written}: {m}"))? {
                    match k.as_str() {
                        "max_user_connections" => entry.max_user_connections = Some(number(&k, &v, 0)?),
                        "pool_mode" => entry.pool_mode = Some(mode(&k, &v)?),
                        _ => {}
                    }
                }
                b.users.insert(written.to_string(), entry);
            }
            "" => return Err(format!("{written} = {value} is outside any [section]")),
            _ => {}
        }
        Ok(())
    }
}

fn mode(key: &str, value: &str) -> Result<PoolMode, String> {
    PoolMode::parse(value).ok_or_else(|| format!("{key} = {value}: use session, transaction or statement"))
}

fn number(key: &str, value: &str, min: u32) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(v) if (min..=limits::MAX_CONNECTIONS).contains(&v) => Ok(v),
        _ => Err(format!(
            "{key} = {value}: not a whole number from {min} to {}",
            limits::MAX_CONNECTIONS
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_value_ranges_and_refuse_what_pgbouncer_refuses() {
        let text = "\u{feff}; comment\r\n[PgBouncer]\r\n  Pool_Mode =  transaction  \r\nmax_client_conn=50\n%include more.ini\n#x\n";
        let parsed = lines(text).unwrap();
        assert_eq!(parsed.len(), 6);
        assert_eq!(parsed[1].line, IniLine::Section("pgbouncer".into()));
        let IniLine::Entry {
            key,
            value,
            value_range,
            ..
        } = &parsed[2].line
        else {
            panic!("not an entry: {:?}", parsed[2]);
        };
        assert_eq!((key.as_str(), value.as_str()), ("pool_mode", "transaction"));
        assert_eq!(&text[value_range.clone()], "transaction");
        assert_eq!(parsed[4].line, IniLine::Include("more.ini".into()));
        assert_eq!(lines("[pgbouncer]\nlisten_port\n"), Err((2, "\"listen_port\" is neither a [section], a key = value line nor a comment".into())));
    }

    #[test]
    fn connection_strings_quote_like_libpq() {
        assert_eq!(
            pairs("host=db port=5432 password='a b\\'c''d' pool_size = 30").unwrap(),
            vec![
                ("host".into(), "db".into()),
                ("port".into(), "5432".into()),
                ("password".into(), "a b'c'd".into()),
                ("pool_size".into(), "30".into()),
            ]
        );
        assert!(pairs("host='db").is_err());
        assert!(pairs("host").is_err());
    }
}
