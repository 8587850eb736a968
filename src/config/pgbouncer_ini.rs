//! `pgbouncer.ini` as PgBouncer 1.18 reads it: the lines (with the byte
//! ranges the editor in `write::ini` changes in place), the connection
//! strings of `[databases]` and `[users]`, and the limits the connection
//! budget needs ([`read`] → [`Bouncer`]).
//!
//! What PgBouncer 1.18 does, and this reader matches (every case checked
//! against the binary in tests/fixtures/pgbouncer): a line whose first
//! non-blank character is `;` or `#` is a comment, and there are no comments
//! after a value; key and section names are case-sensitive (lower case);
//! text after a section's `]` is read as a line of its own; a key given
//! twice takes its last value, a database or user given twice is replaced
//! whole, and a second `[pgbouncer]` header resets its settings to their
//! defaults; numbers in `[pgbouncer]` read as C's `strtol` (`024` is octal
//! 20, `0x1e` is 30), numbers in a connection string as `atoi`; connection
//! strings split on spaces only and quote with `'…'` (`''` for a quote);
//! an unknown parameter, section or connection-string key, a BOM, a line
//! without `=` and a key outside a section are refused, as PgBouncer
//! refuses to start on them. One difference, by choice: `%include FILE`
//! is read relative to the including file's folder, where PgBouncer uses
//! its working directory (write absolute paths to make them agree).

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
        /// The key (for `[databases]` and `[users]`: the name).
        key: String,
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

/// PgBouncer 1.18's `[pgbouncer]` parameters (its `SHOW CONFIG`), and the
/// ones later releases added, so a file for a newer PgBouncer still reads.
const PARAMETERS: &[&str] = &[
    "admin_users",
    "application_name_add_host",
    "auth_dbname",
    "auth_file",
    "auth_hba_file",
    "auth_query",
    "auth_type",
    "auth_user",
    "autodb_idle_timeout",
    "client_idle_timeout",
    "client_login_timeout",
    "client_tls13_ciphers",
    "client_tls_ca_file",
    "client_tls_cert_file",
    "client_tls_ciphers",
    "client_tls_dheparams",
    "client_tls_ecdhcurve",
    "client_tls_key_file",
    "client_tls_protocols",
    "client_tls_sslmode",
    "conffile",
    "default_pool_size",
    "disable_pqexec",
    "dns_max_ttl",
    "dns_nxdomain_ttl",
    "dns_zone_check_period",
    "idle_transaction_timeout",
    "ignore_startup_parameters",
    "job_name",
    "listen_addr",
    "listen_backlog",
    "listen_port",
    "log_connections",
    "log_disconnections",
    "log_pooler_errors",
    "log_stats",
    "logfile",
    "max_client_conn",
    "max_db_connections",
    "max_packet_size",
    "max_prepared_statements",
    "max_user_connections",
    "min_pool_size",
    "peer_id",
    "pidfile",
    "pkt_buf",
    "pool_mode",
    "query_timeout",
    "query_wait_timeout",
    "reserve_pool_size",
    "reserve_pool_timeout",
    "resolv_conf",
    "sbuf_loopcnt",
    "server_check_delay",
    "server_check_query",
    "server_connect_timeout",
    "server_fast_close",
    "server_idle_timeout",
    "server_lifetime",
    "server_login_retry",
    "server_reset_query",
    "server_reset_query_always",
    "server_round_robin",
    "server_tls13_ciphers",
    "server_tls_ca_file",
    "server_tls_cert_file",
    "server_tls_ciphers",
    "server_tls_key_file",
    "server_tls_protocols",
    "server_tls_sslmode",
    "service_name",
    "so_reuseport",
    "stats_period",
    "stats_users",
    "suspend_timeout",
    "syslog",
    "syslog_facility",
    "syslog_ident",
    "tcp_defer_accept",
    "tcp_keepalive",
    "tcp_keepcnt",
    "tcp_keepidle",
    "tcp_keepintvl",
    "tcp_socket_buffer",
    "tcp_user_timeout",
    "track_extra_parameters",
    "unix_socket_dir",
    "unix_socket_group",
    "unix_socket_mode",
    "user",
    "verbose",
];

/// The keys of a `[databases]` connection string PgBouncer 1.18 knows.
const DATABASE_KEYS: &[&str] = &[
    "dbname",
    "host",
    "port",
    "user",
    "password",
    "auth_user",
    "client_encoding",
    "datestyle",
    "timezone",
    "pool_size",
    "min_pool_size",
    "reserve_pool",
    "connect_query",
    "pool_mode",
    "max_db_connections",
    "application_name",
];

/// The keys of a `[users]` entry PgBouncer 1.18 knows.
const USER_KEYS: &[&str] = &["pool_mode", "max_user_connections"];

/// The sections PgBouncer 1.18 knows.
const SECTIONS: &[&str] = &["pgbouncer", "databases", "users"];

/// Characters PgBouncer allows in a key (a database's or user's name included).
fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '*')
}

/// Splits `text` into its lines; `Err((line, message))` for a line
/// PgBouncer would refuse.
pub fn lines(text: &str) -> Result<Vec<Line>, (usize, String)> {
    if text.starts_with('\u{feff}') {
        return Err((
            1,
            "the file starts with a byte-order mark, which PgBouncer refuses (a syntax error on line 1); save it as UTF-8 without BOM".into(),
        ));
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut number = 0;
    while start < text.len() {
        number += 1;
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let content_end = if end > start && text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let mut at = start;
        // A section header may be followed by a line of its own.
        loop {
            let raw = &text[at..content_end];
            let trimmed = raw.trim_start();
            let lead = at + (raw.len() - trimmed.len());
            let mut rest = None;
            let line = if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
                IniLine::Blank
            } else if let Some(inner) = trimmed.strip_prefix('[') {
                let Some(close) = inner.find(']') else {
                    return Err((number, format!("{trimmed:?} opens a section without closing it with ]")));
                };
                let name = &inner[..close];
                if !SECTIONS.contains(&name) {
                    return Err((
                        number,
                        format!(
                            "[{name}] is not a section PgBouncer knows (it refuses to start); use [pgbouncer], [databases] or [users], in lower case and without blanks"
                        ),
                    ));
                }
                rest = Some(lead + 1 + close + 1);
                IniLine::Section(name.to_string())
            } else if let Some(file) = trimmed.strip_prefix("%include") {
                IniLine::Include(file.trim().to_string())
            } else if let Some(eq) = trimmed.find('=') {
                let written = trimmed[..eq].trim_end();
                if written.is_empty() || !written.chars().all(key_char) {
                    return Err((
                        number,
                        format!(
                            "{written:?} is not a key PgBouncer accepts (letters, digits, _ . - and * only): a syntax error"
                        ),
                    ));
                }
                let value_part = &trimmed[eq + 1..];
                let value = value_part.trim();
                let value_start = lead + eq + 1 + (value_part.len() - value_part.trim_start().len());
                IniLine::Entry {
                    key: written.to_string(),
                    value: value.to_string(),
                    value_range: value_start..value_start + value.len(),
                }
            } else {
                return Err((
                    number,
                    format!(
                        "{:?} is neither a [section], a key = value line nor a comment: a syntax error",
                        trimmed.trim_end()
                    ),
                ));
            };
            out.push(Line {
                number,
                range: at..content_end,
                line,
            });
            match rest {
                Some(r) if r < content_end => at = r,
                _ => break,
            }
        }
        if end == text.len() {
            break;
        }
        start = end + 1;
    }
    Ok(out)
}

/// One `key=value` of a connection string: the key, the value as read
/// (quotes undone), and where the value's bytes are in the string
/// (quotes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// The written value's byte range.
    pub range: Range<usize>,
}

/// The `key=value` pairs of a `[databases]` or `[users]` value: split on
/// spaces only (a tab is part of a value), a value may be single-quoted with
/// `''` for a quote; a backslash inside quotes and an empty value are refused.
pub fn pair_spans(text: &str) -> Result<Vec<Pair>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_spaces = |mut i: usize| {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        i
    };
    loop {
        i = skip_spaces(i);
        if i >= bytes.len() {
            return Ok(out);
        }
        let key_start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b' ' {
            i += 1;
        }
        let key = text[key_start..i].to_string();
        i = skip_spaces(i);
        if i >= bytes.len() || bytes[i] != b'=' {
            return Err(format!("{key:?} has no =value"));
        }
        i = skip_spaces(i + 1);
        let value_start = i;
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'\'' {
            i += 1;
            loop {
                let Some(c) = text[i..].chars().next() else {
                    return Err(format!("the quoted value of {key} is not closed"));
                };
                match c {
                    '\\' => {
                        return Err(format!(
                            "the quoted value of {key} holds a backslash, which PgBouncer refuses; write a quote as ''"
                        ));
                    }
                    '\'' if bytes.get(i + 1) == Some(&b'\'') => {
                        value.push('\'');
                        i += 2;
                    }
                    '\'' => {
                        i += 1;
                        break;
                    }
                    c => {
                        value.push(c);
                        i += c.len_utf8();
                    }
                }
            }
        } else {
            while i < bytes.len() && bytes[i] != b' ' {
                i += 1;
            }
            value.push_str(&text[value_start..i]);
        }
        if value.is_empty() {
            return Err(format!("{key} has an empty value, which PgBouncer refuses"));
        }
        out.push(Pair {
            key,
            value,
            range: value_start..i,
        });
    }
}

/// The pairs of [`pair_spans`] as (key, value).
pub fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    Ok(pair_spans(text)?.into_iter().map(|p| (p.key, p.value)).collect())
}

/// Reads the PgBouncer limits of the file at `path` (and its includes).
pub fn read(path: &Path) -> Result<Bouncer, ConfigError> {
    let mut bouncer = Bouncer::defaults(&path.display().to_string());
    let mut reading = Reading {
        bouncer: &mut bouncer,
        section: String::new(),
        depth: 0,
        main_section: false,
    };
    reading.file(path)?;
    if !reading.main_section {
        return Err(ConfigError::Parse {
            path: path.to_path_buf(),
            line: None,
            column: None,
            message: "there is no [pgbouncer] section, which PgBouncer needs to start".into(),
        });
    }
    Ok(bouncer)
}

struct Reading<'a> {
    bouncer: &'a mut Bouncer,
    section: String,
    depth: usize,
    main_section: bool,
}

/// How deep `%include`s may nest (PgBouncer's own limit).
const MAX_INCLUDE_DEPTH: usize = 10;

impl Reading<'_> {
    fn file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            line: None,
            column: None,
            message: format!(
                "cannot read PgBouncer's config: {}; check [pgbouncer] ini (relative to poolcap.toml's folder) and %include lines",
                crate::support::io_text(&e)
            ),
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
                IniLine::Section(name) => {
                    if name == "pgbouncer" {
                        // PgBouncer 1.18 resets [pgbouncer] to its defaults at each header.
                        let d = Bouncer::defaults("");
                        let b = &mut *self.bouncer;
                        (b.pool_mode, b.max_client_conn, b.default_pool_size) =
                            (d.pool_mode, d.max_client_conn, d.default_pool_size);
                        (b.reserve_pool_size, b.max_db_connections, b.max_user_connections) =
                            (d.reserve_pool_size, d.max_db_connections, d.max_user_connections);
                        self.main_section = true;
                    }
                    self.section = name;
                }
                IniLine::Include(file) => {
                    if self.depth >= MAX_INCLUDE_DEPTH {
                        return Err(error(
                            line.number,
                            format!(
                                "%include {file} nests more than {MAX_INCLUDE_DEPTH} files deep (an include loop?)"
                            ),
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
                IniLine::Entry { key, value, .. } => self.entry(&key, &value).map_err(|m| error(line.number, m))?,
            }
        }
        Ok(())
    }

    fn entry(&mut self, key: &str, value: &str) -> Result<(), String> {
        let b = &mut *self.bouncer;
        match self.section.as_str() {
            "pgbouncer" => match key {
                "pool_mode" => b.pool_mode = mode(key, value)?,
                "max_client_conn" => b.max_client_conn = strtol(key, value)?,
                "default_pool_size" => b.default_pool_size = strtol(key, value)?,
                "reserve_pool_size" => b.reserve_pool_size = strtol(key, value)?,
                "max_db_connections" => b.max_db_connections = strtol(key, value)?,
                "max_user_connections" => b.max_user_connections = strtol(key, value)?,
                _ if PARAMETERS.contains(&key) => {}
                _ => {
                    return Err(format!(
                        "{key} is not a PgBouncer parameter (PgBouncer refuses to start on it; names are lower case)"
                    ));
                }
            },
            "databases" => {
                let mut entry = BouncerDatabase::default();
                for (k, v) in pairs(value).map_err(|m| format!("database {key}: {m}"))? {
                    match k.as_str() {
                        "pool_size" => entry.pool_size = atoi(&v),
                        "reserve_pool" => entry.reserve_pool = atoi(&v),
                        "max_db_connections" => entry.max_db_connections = atoi(&v),
                        "pool_mode" => entry.pool_mode = Some(mode(&k, &v)?),
                        _ if DATABASE_KEYS.contains(&k.as_str()) => {}
                        _ => {
                            return Err(format!(
                                "database {key}: {k} is not a connection parameter PgBouncer knows"
                            ));
                        }
                    }
                }
                b.databases.insert(key.to_string(), entry);
            }
            "users" => {
                let mut entry = BouncerUser::default();
                for (k, v) in pairs(value).map_err(|m| format!("user {key}: {m}"))? {
                    match k.as_str() {
                        "max_user_connections" => entry.max_user_connections = atoi(&v),
                        "pool_mode" => entry.pool_mode = Some(mode(&k, &v)?),
                        _ if USER_KEYS.contains(&k.as_str()) => {}
                        _ => return Err(format!("user {key}: {k} is not a user parameter PgBouncer knows")),
                    }
                }
                b.users.insert(key.to_string(), entry);
            }
            _ => return Err(format!("{key} = {value} is outside any [section]")),
        }
        Ok(())
    }
}

fn mode(key: &str, value: &str) -> Result<PoolMode, String> {
    PoolMode::parse(value).ok_or_else(|| format!("{key} = {value}: use session, transaction or statement"))
}

/// A `[pgbouncer]` number as C's `strtol(value, &end, 0)` reads it, the whole
/// value used: `0x` hex, a leading `0` octal. A negative limit is refused.
fn strtol(key: &str, value: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "{key} = {value:?} is not a whole number from 0 to {} (PgBouncer reads 024 as octal 20 and 0x1e as 30)",
            limits::MAX_CONNECTIONS
        )
    };
    let v = value.trim_start();
    let (digits, radix) = if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        (hex, 16)
    } else if v.len() > 1 && v.starts_with('0') {
        (&v[1..], 8)
    } else {
        (v, 10)
    };
    let n = u32::from_str_radix(digits, radix).map_err(|_| bad())?;
    if n > limits::MAX_CONNECTIONS || digits.starts_with(['+', '-']) {
        return Err(bad());
    }
    Ok(n)
}

/// A connection-string number as C's `atoi` reads it: leading digits, the
/// rest ignored; negative is "not set".
fn atoi(value: &str) -> Option<u32> {
    let v = value.trim_start();
    let (negative, v) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().unwrap_or(0);
    if negative && n > 0 {
        return None;
    }
    Some(n.min(u64::from(limits::MAX_CONNECTIONS)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_value_ranges_and_read_a_line_after_a_section() {
        let text = "; comment\r\n[pgbouncer]\r\n  pool_mode =  transaction  \r\nmax_client_conn=50\n%include more.ini\n[databases] app = host=x\n";
        let parsed = lines(text).unwrap();
        assert_eq!(parsed.len(), 7);
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
        assert_eq!((parsed[5].number, parsed[6].number), (6, 6));
        assert!(matches!(&parsed[6].line, IniLine::Entry { key, .. } if key == "app"));
        assert_eq!(lines("[pgbouncer]\nlisten_port\n").unwrap_err().0, 2);
        assert_eq!(lines("\u{feff}[pgbouncer]\n").unwrap_err().0, 1);
        assert!(lines("[PgBouncer]\n").is_err());
    }

    #[test]
    fn numbers_read_as_pgbouncer_reads_them() {
        assert_eq!(strtol("k", "024"), Ok(20));
        assert_eq!(strtol("k", "0x1e"), Ok(30));
        assert_eq!(strtol("k", "0"), Ok(0));
        assert!(strtol("k", "-1").is_err());
        assert!(strtol("k", "twenty").is_err());
        assert!(strtol("k", "20 ; per pool").is_err());
        assert!(strtol("k", "4294967296").is_err());
        assert_eq!(atoi("12abc"), Some(12));
        assert_eq!(atoi("0x0A"), Some(0));
        assert_eq!(atoi("-3"), None);
    }

    #[test]
    fn connection_strings_split_on_spaces_and_quote_with_doubled_quotes() {
        assert_eq!(
            pairs("host=db port=5432 password='a b''c' pool_size = 30").unwrap(),
            vec![
                ("host".into(), "db".into()),
                ("port".into(), "5432".into()),
                ("password".into(), "a b'c".into()),
                ("pool_size".into(), "30".into()),
            ]
        );
        assert_eq!(
            pairs("dbname=test\tpool_size=11").unwrap(),
            vec![("dbname".into(), "test\tpool_size=11".into())]
        );
        assert!(pairs("password='it\\'s'").is_err());
        assert!(pairs("password=''").is_err());
        assert!(pairs("host='db").is_err());
        assert!(pairs("host").is_err());
    }

    /// Every file of the corpus reads to the values PgBouncer 1.18 itself
    /// reported for it, and every file it refused is refused.
    #[test]
    fn the_corpus_reads_as_pgbouncer_read_it() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pgbouncer");
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
        // Refusals about the values of parameters poolcap does not read (a
        // switch written `on`): poolcap reads what it needs and leaves the
        // rest to PgBouncer.
        let not_ours = ["invalid/boolean-words.ini"];
        let mut checked = 0;
        for (file, want) in expected.as_object().unwrap() {
            let got = read(&dir.join(file));
            if let Some(error) = want.get("error") {
                if not_ours.contains(&file.as_str()) {
                    assert!(got.is_ok(), "{file}: {}", got.unwrap_err());
                } else {
                    assert!(got.is_err(), "{file}: PgBouncer refused it ({error}) but it was read");
                }
                checked += 1;
                continue;
            }
            let b = got.unwrap_or_else(|e| panic!("{file}: {e}"));
            let n = |k: &str| want[k].as_u64().unwrap();
            assert_eq!(b.pool_mode.name(), want["pool_mode"].as_str().unwrap(), "{file}");
            assert_eq!(
                [
                    b.max_client_conn,
                    b.default_pool_size,
                    b.reserve_pool_size,
                    b.max_db_connections,
                    b.max_user_connections
                ]
                .map(u64::from),
                [
                    "max_client_conn",
                    "default_pool_size",
                    "reserve_pool_size",
                    "max_db_connections",
                    "max_user_connections"
                ]
                .map(n),
                "{file}"
            );
            for (name, d) in want["databases"].as_object().unwrap() {
                let pool = b.server_pool(name, "nobody");
                assert!(
                    b.databases.contains_key(name.as_str()),
                    "{file}: database {name} missing"
                );
                assert_eq!(
                    u64::from(pool.pool_size),
                    d["pool_size"].as_u64().unwrap(),
                    "{file} {name}"
                );
                assert_eq!(
                    u64::from(pool.reserve),
                    d["reserve_pool"].as_u64().unwrap(),
                    "{file} {name}"
                );
                assert_eq!(
                    u64::from(b.database_cap(name)),
                    d["max_db_connections"].as_u64().unwrap(),
                    "{file} {name}"
                );
                assert_eq!(
                    b.databases[name.as_str()].pool_mode.map(PoolMode::name),
                    d["pool_mode"].as_str(),
                    "{file} {name}"
                );
            }
            for (name, u) in want["users"].as_object().unwrap() {
                let entry = &b.users[name.as_str()];
                assert_eq!(
                    entry.pool_mode.map(PoolMode::name),
                    u["pool_mode"].as_str(),
                    "{file} {name}"
                );
                assert_eq!(
                    entry.max_user_connections.map(u64::from),
                    u["max_user_connections"].as_u64(),
                    "{file} {name}"
                );
            }
            checked += 1;
        }
        assert!(checked >= 30, "only {checked} files checked");
    }
}
