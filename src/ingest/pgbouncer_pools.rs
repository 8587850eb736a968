//! PgBouncer's server pools over time: `SHOW POOLS` snapshots, one row per
//! pool per moment, as CSV (header-driven, the console's column names and a
//! `ts` column; what `poolcap probe --pgbouncer URL --record FILE` writes) or
//! as JSON lines with the same keys. Plain or gzip.
//!
//! The reader streams and is strict: a row that is not a snapshot is an
//! error naming file and line (these files are machine-written; a bad row
//! means the wrong file), and a file without rows is an error.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::ingest::IngestError;
use crate::ingest::timestamp::parse_timestamp;
use crate::model::bouncer::PoolSnapshot;

/// One snapshot row.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRow {
    /// Unix seconds.
    pub ts: i64,
    /// The pool as it was.
    pub snapshot: PoolSnapshot,
    /// 1-based line in its file.
    pub line: u64,
    /// The pool's `pool_size` then (`SHOW DATABASES`), when recorded.
    pub pool_size: Option<u32>,
}

/// The columns a row needs, besides `ts`.
const REQUIRED: [&str; 6] = ["database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle"];

/// The CSV header this module reads, and `probe --record` writes.
pub const HEADER: &str = "ts,database,user,cl_active,cl_waiting,sv_active,sv_idle,sv_used,sv_tested,sv_login,maxwait,maxwait_us,pool_mode,pool_size";

/// A row as the CSV header line writes it (`pool_size` left empty when unknown).
pub fn csv_row(ts: &str, s: &PoolSnapshot, pool_size: Option<u32>) -> String {
    let seconds = s.maxwait_seconds.trunc();
    format!(
        "{ts},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        s.database,
        s.user,
        s.cl_active,
        s.cl_waiting,
        s.sv_active,
        s.sv_idle,
        s.sv_used,
        s.sv_tested,
        s.sv_login,
        seconds as u64,
        ((s.maxwait_seconds - seconds) * 1e6).round() as u64,
        s.pool_mode,
        pool_size.map(|p| p.to_string()).unwrap_or_default()
    )
}

fn bad(path: &Path, line: u64, message: String) -> IngestError {
    IngestError::Header {
        path: path.to_path_buf(),
        line,
        message,
    }
}

/// Reads the snapshots of `input` (named `path` in errors), handing each row
/// to `sink`; returns how many rows there were.
pub fn read(path: &Path, input: impl Read, mut sink: impl FnMut(PoolRow)) -> Result<u64, IngestError> {
    let mut reader = BufReader::new(input);
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut line = String::new();
    let mut number = 0u64;
    let mut header: Option<Vec<String>> = None;
    let mut rows = 0u64;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            break;
        }
        number += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let fields: Vec<(String, String)> = if text.trim_start().starts_with('{') {
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| bad(path, number, format!("not a JSON object of a SHOW POOLS row: {e}")))?;
            let Some(object) = value.as_object() else {
                return Err(bad(path, number, "not a JSON object of a SHOW POOLS row".into()));
            };
            object
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        } else if let Some(names) = &header {
            let values: Vec<&str> = text.split(',').collect();
            if values.len() != names.len() {
                return Err(bad(
                    path,
                    number,
                    format!("{} fields where the header has {}", values.len(), names.len()),
                ));
            }
            names
                .iter()
                .cloned()
                .zip(values.iter().map(|v| v.trim().to_string()))
                .collect()
        } else {
            let names: Vec<String> = text.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
            let missing: Vec<&str> = std::iter::once("ts")
                .chain(REQUIRED)
                .filter(|c| !names.iter().any(|n| n == c))
                .collect();
            if !missing.is_empty() {
                return Err(bad(
                    path,
                    number,
                    format!(
                        "not SHOW POOLS snapshots: the header lacks {}; the file needs the columns {HEADER} (what `poolcap probe --pgbouncer URL --record FILE` writes)",
                        missing.join(", ")
                    ),
                ));
            }
            header = Some(names);
            continue;
        };
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let count = |k: &str, required: bool| -> Result<u64, IngestError> {
            match get(k) {
                Some(v) if !v.is_empty() => v
                    .parse::<u64>()
                    .map_err(|_| bad(path, number, format!("{k} = {v:?} is not a count"))),
                _ if required => Err(bad(path, number, format!("the row has no {k}"))),
                _ => Ok(0),
            }
        };
        let ts = get("ts")
            .ok_or_else(|| bad(path, number, "the row has no ts".into()))
            .and_then(|t| parse_timestamp(t.as_bytes()).map_err(|m| bad(path, number, format!("ts {t:?}: {m}"))))?;
        let name = |k: &str| -> Result<String, IngestError> {
            match get(k) {
                Some(v) if !v.is_empty() => Ok(v.to_string()),
                _ => Err(bad(path, number, format!("the row has no {k}"))),
            }
        };
        let snapshot = PoolSnapshot {
            database: name("database")?,
            user: name("user")?,
            cl_active: count("cl_active", true)?,
            cl_waiting: count("cl_waiting", true)?,
            sv_active: count("sv_active", true)?,
            sv_idle: count("sv_idle", true)?,
            sv_used: count("sv_used", false)?,
            sv_tested: count("sv_tested", false)?,
            sv_login: count("sv_login", false)?,
            maxwait_seconds: count("maxwait", false)? as f64 + count("maxwait_us", false)? as f64 / 1e6,
            pool_mode: get("pool_mode").unwrap_or_default().to_string(),
        };
        let pool_size = match get("pool_size") {
            Some(v) if !v.is_empty() => Some(
                v.parse::<u32>()
                    .map_err(|_| bad(path, number, format!("pool_size = {v:?} is not a count")))?,
            ),
            _ => None,
        };
        rows += 1;
        sink(PoolRow {
            ts,
            snapshot,
            line: number,
            pool_size,
        });
    }
    if rows == 0 {
        return Err(IngestError::NoSamples {
            path: path.to_path_buf(),
            rows: 0,
            rejected: 0,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Result<Vec<PoolRow>, String> {
        let mut rows = Vec::new();
        read(Path::new("pools.csv"), text.as_bytes(), |r| rows.push(r))
            .map(|_| rows)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn csv_and_json_lines_read_alike() {
        let s = PoolSnapshot {
            database: "app".into(),
            user: "web".into(),
            cl_active: 2,
            cl_waiting: 3,
            sv_active: 2,
            sv_idle: 0,
            sv_used: 0,
            sv_tested: 0,
            sv_login: 0,
            maxwait_seconds: 1.25,
            pool_mode: "transaction".into(),
        };
        let csv = format!("{HEADER}\n{}\n", csv_row("2026-10-01T08:00:00Z", &s, Some(25)));
        let rows = all(&csv).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].ts, rows[0].line, rows[0].pool_size),
            (1_790_841_600, 2, Some(25))
        );
        assert_eq!(rows[0].snapshot, s);
        let json = "{\"ts\":\"2026-10-01T08:00:00Z\",\"database\":\"app\",\"user\":\"web\",\"cl_active\":2,\"cl_waiting\":3,\"sv_active\":2,\"sv_idle\":0,\"maxwait\":1,\"maxwait_us\":250000,\"pool_mode\":\"transaction\"}\n";
        assert_eq!(all(json).unwrap()[0].snapshot, s);
    }

    #[test]
    fn wrong_files_are_refused_with_their_line() {
        let e = all("ts,service,instance,pool_size,checked_out\n").unwrap_err();
        assert!(
            e.starts_with("pools.csv:1: not SHOW POOLS snapshots: the header lacks database, user"),
            "{e}"
        );
        let e = all(&format!(
            "{HEADER}\n2026-10-01T08:00:00Z,app,web,x,0,0,0,0,0,0,0,0,session,\n"
        ))
        .unwrap_err();
        assert!(e.starts_with("pools.csv:2: cl_active = \"x\" is not a count"), "{e}");
        let e = all(&format!("{HEADER}\n")).unwrap_err();
        assert!(e.contains("no valid samples"), "{e}");
        let e = all(&format!(
            "{HEADER}\n2026-10-01T08:00:00,app,web,1,0,0,0,0,0,0,0,0,session,\n"
        ))
        .unwrap_err();
        assert!(e.starts_with("pools.csv:2: ts"), "{e}");
    }
}
