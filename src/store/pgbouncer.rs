//! The live probe of a PgBouncer: its admin console (the virtual database
//! `pgbouncer`), asked `SHOW VERSION`, `SHOW CONFIG`, `SHOW DATABASES`,
//! `SHOW POOLS` and `SHOW STATS` over the simple query protocol (the console
//! knows no other), read by column name so a newer PgBouncer's added
//! columns do no harm.
//!
//! Invariant: no password leaves this module (as in [`super::probe`]).

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Serialize;
use sqlx::{Column, Connection, Row};

use super::probe::{ProbeError, scrub};
use crate::model::bouncer::PoolSnapshot;
use crate::support::redact_urls;

/// The limits of `SHOW CONFIG` the budget and the report use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbedConfig {
    /// `pool_mode`.
    pub pool_mode: String,
    /// `max_client_conn`.
    pub max_client_conn: u32,
    /// `default_pool_size`.
    pub default_pool_size: u32,
    /// `reserve_pool_size`.
    pub reserve_pool_size: u32,
    /// `max_db_connections` (0: no cap).
    pub max_db_connections: u32,
    /// `max_user_connections` (0: no cap).
    pub max_user_connections: u32,
    /// `reserve_pool_timeout`, seconds: how long a client waits before the reserve opens.
    pub reserve_pool_timeout: String,
    /// `query_wait_timeout`, seconds: how long a client may wait before PgBouncer drops it.
    pub query_wait_timeout: String,
}

/// One `SHOW DATABASES` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbedDatabase {
    /// The name clients use.
    pub name: String,
    /// The server's host ("" for the admin console).
    pub host: String,
    /// The server's port.
    pub port: u32,
    /// The database on the server.
    pub database: String,
    /// `pool_size` (the default filled in).
    pub pool_size: u32,
    /// `reserve_pool`.
    pub reserve_pool: u32,
    /// Its own `pool_mode`, when set.
    pub pool_mode: Option<String>,
    /// `max_db_connections` (0: no cap).
    pub max_connections: u32,
    /// Server connections to it now.
    pub current_connections: u32,
}

/// One `SHOW STATS` row (totals since PgBouncer started; averages over its
/// last `stats_period`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbedStats {
    /// The database.
    pub database: String,
    /// Transactions pooled in all.
    pub total_xact_count: u64,
    /// Queries pooled in all.
    pub total_query_count: u64,
    /// Microseconds clients spent waiting for a server, in all.
    pub total_wait_time_us: u64,
    /// Mean transaction time, µs.
    pub avg_xact_time_us: u64,
    /// Mean wait for a server per client … µs.
    pub avg_wait_time_us: u64,
}

/// What a PgBouncer says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgbouncerProbe {
    /// `SHOW VERSION`.
    pub version: String,
    /// Its limits.
    pub config: ProbedConfig,
    /// `SHOW DATABASES`, without the admin console.
    pub databases: Vec<ProbedDatabase>,
    /// `SHOW POOLS`, without the admin console's.
    pub pools: Vec<PoolSnapshot>,
    /// `SHOW STATS`, without the admin console's.
    pub stats: Vec<ProbedStats>,
}

/// The admin console's own database, left out of every list.
const ADMIN_DATABASE: &str = "pgbouncer";

/// Probes the PgBouncer admin console at `url`
/// (`postgres://USER@HOST:PORT/pgbouncer`; USER must be in its
/// `admin_users` or `stats_users`).
pub fn probe(url: &str) -> Result<PgbouncerProbe, ProbeError> {
    super::runtime()?.block_on(probe_async(url))
}

fn host_port(url: &str) -> (String, u16) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(6432)),
        None => (host_port.to_string(), 6432),
    }
}

fn failure(url: &str, reason: String) -> ProbeError {
    let (host, port) = host_port(url);
    ProbeError::Database {
        host,
        port,
        reason: scrub(&reason, url),
    }
}

async fn probe_async(url: &str) -> Result<PgbouncerProbe, ProbeError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(ProbeError::Url {
            url: redact_urls(url),
            reason: "not a postgres:// URL of PgBouncer's admin console (postgres://USER@HOST:6432/pgbouncer)".into(),
        });
    }
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| failure(url, super::error_text(&e)))?
        // PgBouncer refuses startup parameters it does not track.
        .extra_float_digits(None);
    if options.get_database() != Some(ADMIN_DATABASE) {
        return Err(ProbeError::Url {
            url: redact_urls(url),
            reason: format!(
                "the probe reads PgBouncer's admin console: end the URL with /{ADMIN_DATABASE} (postgres://USER@HOST:6432/{ADMIN_DATABASE})"
            ),
        });
    }
    let mut conn = sqlx::PgConnection::connect_with(&options).await.map_err(|e| {
        let text = super::error_text(&e);
        failure(
            url,
            if ["not allowed", "no such user", "authentication failed"]
                .iter()
                .any(|m| text.contains(m))
            {
                format!(
                    "{text}; the console takes users of PgBouncer's auth_file (or auth_query) that are listed in its admin_users or stats_users"
                )
            } else {
                text
            },
        )
    })?;
    let version = show(&mut conn, url, "SHOW VERSION")
        .await?
        .first()
        .and_then(|f| f.values().next().cloned())
        .unwrap_or_default();
    let config: BTreeMap<String, String> = show(&mut conn, url, "SHOW CONFIG")
        .await?
        .into_iter()
        .filter_map(|f| Some((f.get("key")?.clone(), f.get("value")?.clone())))
        .collect();
    let databases = show(&mut conn, url, "SHOW DATABASES").await?;
    let pools = show(&mut conn, url, "SHOW POOLS").await?;
    let stats = show(&mut conn, url, "SHOW STATS").await?;
    let _ = conn.close().await;

    let bad = |what: &str, key: &str, value: &str| failure(url, format!("{what} gives {key} = {value:?}, not a count"));
    let count = |f: &Fields, what: &str, key: &str| -> Result<u64, ProbeError> {
        let value = f.get(key).map_or("0", String::as_str);
        value.trim().parse::<u64>().map_err(|_| bad(what, key, value))
    };
    let small = |f: &Fields, what: &str, key: &str| -> Result<u32, ProbeError> {
        let v = count(f, what, key)?;
        u32::try_from(v).map_err(|_| bad(what, key, &v.to_string()))
    };
    let setting = |key: &str| -> Result<u32, ProbeError> {
        let value = config.get(key).map_or("0", String::as_str);
        value.trim().parse::<u32>().map_err(|_| bad("SHOW CONFIG", key, value))
    };
    let text = |key: &str| config.get(key).cloned().unwrap_or_default();
    Ok(PgbouncerProbe {
        version,
        config: ProbedConfig {
            pool_mode: text("pool_mode"),
            max_client_conn: setting("max_client_conn")?,
            default_pool_size: setting("default_pool_size")?,
            reserve_pool_size: setting("reserve_pool_size")?,
            max_db_connections: setting("max_db_connections")?,
            max_user_connections: setting("max_user_connections")?,
            reserve_pool_timeout: text("reserve_pool_timeout"),
            query_wait_timeout: text("query_wait_timeout"),
        },
        databases: databases
            .iter()
            .filter(|f| f.get("name").map(String::as_str) != Some(ADMIN_DATABASE))
            .map(|f| {
                let what = "SHOW DATABASES";
                Ok(ProbedDatabase {
                    name: f.get("name").cloned().unwrap_or_default(),
                    host: f.get("host").cloned().unwrap_or_default(),
                    port: small(f, what, "port")?,
                    database: f.get("database").cloned().unwrap_or_default(),
                    pool_size: small(f, what, "pool_size")?,
                    reserve_pool: small(f, what, "reserve_pool")?,
                    pool_mode: f.get("pool_mode").filter(|m| !m.is_empty()).cloned(),
                    max_connections: small(f, what, "max_connections")?,
                    current_connections: small(f, what, "current_connections")?,
                })
            })
            .collect::<Result<_, ProbeError>>()?,
        pools: pools
            .iter()
            .filter(|f| f.get("database").map(String::as_str) != Some(ADMIN_DATABASE))
            .map(|f| {
                let what = "SHOW POOLS";
                let micros = count(f, what, "maxwait_us")?;
                Ok(PoolSnapshot {
                    database: f.get("database").cloned().unwrap_or_default(),
                    user: f.get("user").cloned().unwrap_or_default(),
                    cl_active: count(f, what, "cl_active")?,
                    cl_waiting: count(f, what, "cl_waiting")?,
                    sv_active: count(f, what, "sv_active")?,
                    sv_idle: count(f, what, "sv_idle")?,
                    sv_used: count(f, what, "sv_used")?,
                    sv_tested: count(f, what, "sv_tested")?,
                    sv_login: count(f, what, "sv_login")?,
                    maxwait_seconds: count(f, what, "maxwait")? as f64 + micros as f64 / 1e6,
                    pool_mode: f.get("pool_mode").cloned().unwrap_or_default(),
                })
            })
            .collect::<Result<_, ProbeError>>()?,
        stats: stats
            .iter()
            .filter(|f| f.get("database").map(String::as_str) != Some(ADMIN_DATABASE))
            .map(|f| {
                let what = "SHOW STATS";
                Ok(ProbedStats {
                    database: f.get("database").cloned().unwrap_or_default(),
                    total_xact_count: count(f, what, "total_xact_count")?,
                    total_query_count: count(f, what, "total_query_count")?,
                    total_wait_time_us: count(f, what, "total_wait_time")?,
                    avg_xact_time_us: count(f, what, "avg_xact_time")?,
                    avg_wait_time_us: count(f, what, "avg_wait_time")?,
                })
            })
            .collect::<Result<_, ProbeError>>()?,
    })
}

/// Runs one `SHOW` on the console (simple protocol: no arguments, not prepared).
async fn show(conn: &mut sqlx::PgConnection, url: &str, sql: &'static str) -> Result<Vec<Fields>, ProbeError> {
    let rows = sqlx::raw_sql(sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| failure(url, format!("{sql}: {}", super::error_text(&e))))?;
    rows.iter()
        .map(fields)
        .collect::<Result<_, _>>()
        .map_err(|e| failure(url, format!("{sql}: {}", super::error_text(&e))))
}

/// A row's columns by name, as text (the console's numbers come as text
/// or as integers, depending on the column).
type Fields = BTreeMap<String, String>;

fn fields(row: &sqlx::postgres::PgRow) -> Result<Fields, sqlx::Error> {
    let mut out = Fields::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            v.unwrap_or_default()
        } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            v.map(|v| v.to_string()).unwrap_or_default()
        } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
            v.map(|v| v.to_string()).unwrap_or_default()
        } else if let Ok(v) = row.try_get::<Option<i16>, _>(i) {
            v.map(|v| v.to_string()).unwrap_or_default()
        } else {
            row.try_get_unchecked::<Option<String>, _>(i)?.unwrap_or_default()
        };
        out.insert(column.name().to_string(), value);
    }
    Ok(out)
}
