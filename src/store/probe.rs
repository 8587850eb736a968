//! Live database probe: the limits the connection budget depends on and what is
//! connected now (DESIGN §2). PostgreSQL: `max_connections`,
//! `superuser_reserved_connections`, `reserved_connections` (16+), server
//! version, connections by application and state, sessions `idle in
//! transaction` longer than a threshold (the card's cause 3), top statements
//! from `pg_stat_statements` when installed. MySQL/MariaDB: `max_connections`,
//! `Threads_connected`, `Max_used_connections`, the slow-log settings.
//!
//! [`probe`] is synchronous: it runs its queries on a runtime of its own.
//!
//! Invariant: no password ever leaves this module — errors name host, port and
//! the reason, with the URL's password replaced.

use serde::Serialize;
use sqlx::{Connection, Row};

use crate::support::redact_urls;

/// Connections of one application in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionGroup {
    /// `application_name` ("" when unset).
    pub application: String,
    /// `state` (`active`, `idle`, `idle in transaction`, …).
    pub state: String,
    /// How many.
    pub count: i64,
}

/// A session idle in a transaction (it holds a pool connection and locks).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdleInTransaction {
    /// Backend pid.
    pub pid: i32,
    /// `application_name`.
    pub application: String,
    /// User.
    pub user: String,
    /// Database.
    pub database: String,
    /// Seconds since the session went idle.
    pub idle_seconds: f64,
}

/// One statement from `pg_stat_statements`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopStatement {
    /// The normalized query (`$n` for constants, as the extension stores it).
    pub query: String,
    /// Calls.
    pub calls: i64,
    /// Total execution time, ms.
    pub total_ms: f64,
    /// Mean, ms.
    pub mean_ms: f64,
}

/// What a PostgreSQL server says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostgresProbe {
    /// `server_version`.
    pub server_version: String,
    /// `max_connections`.
    pub max_connections: u32,
    /// `superuser_reserved_connections`.
    pub superuser_reserved_connections: u32,
    /// `reserved_connections` (PostgreSQL 16+; `None` before).
    pub reserved_connections: Option<u32>,
    /// Client connections now.
    pub connections: i64,
    /// By application and state.
    pub by_application: Vec<ConnectionGroup>,
    /// Sessions idle in a transaction longer than the threshold.
    pub idle_in_transaction: Vec<IdleInTransaction>,
    /// The threshold, seconds.
    pub idle_threshold_seconds: f64,
    /// Top statements by total time, when `pg_stat_statements` is installed.
    pub top_statements: Option<Vec<TopStatement>>,
}

/// What a MySQL/MariaDB server says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MysqlProbe {
    /// `version`.
    pub version: String,
    /// `max_connections`.
    pub max_connections: u32,
    /// `Threads_connected`.
    pub threads_connected: u64,
    /// `Max_used_connections`.
    pub max_used_connections: u64,
    /// `slow_query_log`.
    pub slow_query_log: bool,
    /// `long_query_time`, seconds.
    pub long_query_time: f64,
    /// `slow_query_log_file`.
    pub slow_query_log_file: String,
}

/// A probe's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Probe {
    /// PostgreSQL.
    Postgres(PostgresProbe),
    /// MySQL or MariaDB.
    Mysql(MysqlProbe),
}

/// A probe that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The URL is not one poolcap can use.
    #[error("{url}: {reason}")]
    Url {
        /// The URL, password replaced.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Connecting or querying failed.
    #[error("{host}:{port}: {reason}")]
    Database {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// What the server or driver said (password replaced).
        reason: String,
    },
    /// The runtime the probe's queries run on could not start.
    #[error("starting the database client: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Host and port of a database URL, for messages.
fn host_port(url: &str) -> (String, u16) {
    let default_port = if url.starts_with("mysql") || url.starts_with("mariadb") {
        3306
    } else {
        5432
    };
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(default_port)),
        None => (
            if host_port.is_empty() {
                "localhost".into()
            } else {
                host_port.to_string()
            },
            default_port,
        ),
    }
}

/// Removes every trace of `url`'s password from `text`.
pub fn scrub(text: &str, url: &str) -> String {
    let mut out = redact_urls(text);
    if let Some((_, rest)) = url.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
        && !password.is_empty()
    {
        out = out.replace(password, "****");
    }
    out
}

fn db_error(url: &str) -> impl Fn(sqlx::Error) -> ProbeError + '_ {
    move |e| {
        let (host, port) = host_port(url);
        ProbeError::Database {
            host,
            port,
            reason: scrub(&super::error_text(&e), url),
        }
    }
}

/// Probes the server at `url` (`postgres://…` or `mysql://…`).
pub fn probe(url: &str, idle_threshold_seconds: f64) -> Result<Probe, ProbeError> {
    super::runtime()?.block_on(probe_async(url, idle_threshold_seconds))
}

async fn probe_async(url: &str, idle_threshold_seconds: f64) -> Result<Probe, ProbeError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        probe_postgres(url, idle_threshold_seconds).await.map(Probe::Postgres)
    } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        let url = url.replacen("mariadb://", "mysql://", 1);
        probe_mysql(&url).await.map(Probe::Mysql)
    } else {
        Err(ProbeError::Url {
            url: redact_urls(url),
            reason: "not a postgres:// or mysql:// URL".into(),
        })
    }
}

async fn probe_postgres(url: &str, idle_threshold_seconds: f64) -> Result<PostgresProbe, ProbeError> {
    let err = db_error(url);
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(&err)?;
    let row = sqlx::query(
        "SELECT current_setting('server_version'), current_setting('max_connections')::int4, \
         current_setting('superuser_reserved_connections')::int4, \
         current_setting('reserved_connections', true)",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(&err)?;
    let reserved: Option<String> = row.try_get(3).map_err(&err)?;
    let groups = sqlx::query(
        "SELECT coalesce(application_name, ''), coalesce(state, ''), count(*) FROM pg_stat_activity \
         WHERE backend_type = 'client backend' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(&err)?;
    let by_application: Vec<ConnectionGroup> = groups
        .iter()
        .map(|r| {
            Ok(ConnectionGroup {
                application: r.try_get(0)?,
                state: r.try_get(1)?,
                count: r.try_get(2)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(&err)?;
    let idle = sqlx::query(
        "SELECT pid, coalesce(application_name, ''), coalesce(usename::text, ''), coalesce(datname::text, ''), \
         extract(epoch FROM now() - state_change)::float8 FROM pg_stat_activity \
         WHERE state = 'idle in transaction' AND now() - state_change >= make_interval(secs => $1) \
         ORDER BY 5 DESC",
    )
    .bind(idle_threshold_seconds)
    .fetch_all(&mut conn)
    .await
    .map_err(&err)?;
    let idle_in_transaction = idle
        .iter()
        .map(|r| {
            Ok(IdleInTransaction {
                pid: r.try_get(0)?,
                application: r.try_get(1)?,
                user: r.try_get(2)?,
                database: r.try_get(3)?,
                idle_seconds: r.try_get(4)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(&err)?;
    let has_statements: bool =
        sqlx::query_scalar("SELECT exists(SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')")
            .fetch_one(&mut conn)
            .await
            .map_err(&err)?;
    let top_statements = if has_statements {
        let rows = sqlx::query(
            "SELECT query, calls, total_exec_time::float8, mean_exec_time::float8 FROM pg_stat_statements \
             ORDER BY total_exec_time DESC LIMIT 10",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(&err)?;
        Some(
            rows.iter()
                .map(|r| {
                    Ok(TopStatement {
                        query: r.try_get(0)?,
                        calls: r.try_get(1)?,
                        total_ms: r.try_get(2)?,
                        mean_ms: r.try_get(3)?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(&err)?,
        )
    } else {
        None
    };
    let connections = by_application.iter().map(|g| g.count).sum();
    let _ = conn.close().await;
    Ok(PostgresProbe {
        server_version: row.try_get(0).map_err(&err)?,
        max_connections: setting(&row, 1, "max_connections", url)?,
        superuser_reserved_connections: setting(&row, 2, "superuser_reserved_connections", url)?,
        reserved_connections: reserved.and_then(|r| r.parse().ok()),
        connections,
        by_application,
        idle_in_transaction,
        idle_threshold_seconds,
        top_statements,
    })
}

/// A connection count the server reports as `int4`, checked into a `u32`
/// (never clamped: a negative one is an error that names the setting).
fn setting(row: &sqlx::postgres::PgRow, i: usize, name: &str, url: &str) -> Result<u32, ProbeError> {
    let value: i32 = row.try_get(i).map_err(db_error(url))?;
    u32::try_from(value).map_err(|_| {
        let (host, port) = host_port(url);
        ProbeError::Database {
            host,
            port,
            reason: format!("the server reports {name} = {value}"),
        }
    })
}

/// `SHOW` results come back as text or bytes depending on the server.
fn text(row: &sqlx::mysql::MySqlRow, i: usize) -> Result<String, sqlx::Error> {
    match row.try_get::<String, _>(i) {
        Ok(s) => Ok(s),
        Err(_) => row
            .try_get::<Vec<u8>, _>(i)
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
    }
}

async fn probe_mysql(url: &str) -> Result<MysqlProbe, ProbeError> {
    let err = db_error(url);
    let mut conn = sqlx::MySqlConnection::connect(url).await.map_err(&err)?;
    let mut values = std::collections::BTreeMap::new();
    for sql in [
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('max_connections', 'version', 'slow_query_log', 'long_query_time', 'slow_query_log_file')",
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected', 'Max_used_connections')",
    ] {
        for row in sqlx::query(sql).fetch_all(&mut conn).await.map_err(&err)? {
            values.insert(
                text(&row, 0).map_err(&err)?.to_ascii_lowercase(),
                text(&row, 1).map_err(&err)?,
            );
        }
    }
    let _ = conn.close().await;
    let get = |k: &str| values.get(k).cloned().unwrap_or_default();
    Ok(MysqlProbe {
        version: get("version"),
        max_connections: get("max_connections").parse().unwrap_or(0),
        threads_connected: get("threads_connected").parse().unwrap_or(0),
        max_used_connections: get("max_used_connections").parse().unwrap_or(0),
        slow_query_log: matches!(get("slow_query_log").to_ascii_uppercase().as_str(), "ON" | "1"),
        long_query_time: get("long_query_time").parse().unwrap_or(0.0),
        slow_query_log_file: get("slow_query_log_file"),
    })
}

#[cfg(test)]
mod tests;
