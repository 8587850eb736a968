//! What the SQLite history store does its own way: opening the file (WAL, a
//! busy timeout, an OS lock around the first migration), its migrations, the
//! staging load by prepared multi-row inserts, its upserts (the time of a
//! record is the client's: SQLite has no clock type) and the `history`
//! queries over JSON kept as text. Everything else is in [`super::history`].
//!
//! The function names match [`super::postgres`]'s one for one: the shared
//! code calls `dialect::stage(…)` and is compiled once per backend.

use std::path::Path;
use std::time::Duration;

use sqlx::SqliteConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::history::{Failure, Records, StoredSample};

/// Rows per multi-row INSERT into staging (7 parameters each, under SQLite's 32 766).
const ROWS: usize = 1000;

/// The record statements: the time is the client's (SQLite has no clock
/// type; the columns hold RFC 3339 text).
pub(super) const RECORDS: Records = Records {
    digest: "INSERT INTO slowlog_digests (period, source, digest, mergeable, ingested_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (period, source) DO UPDATE SET digest = excluded.digest, mergeable = excluded.mergeable, \
             ingested_at = excluded.ingested_at",
    decision: "INSERT INTO decisions (service, month, plan, decided_at) VALUES ($1, $2, $3, $4) \
               ON CONFLICT (service, month) DO UPDATE SET plan = excluded.plan, decided_at = excluded.decided_at",
    change: "INSERT INTO applied_changes (id, service, kind, change, applied_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
    loadtest: "INSERT INTO loadtest_runs (id, service, month, report, recorded_at) VALUES ($1, $2, $3, $4, $5) \
               ON CONFLICT DO NOTHING",
    client_clock: true,
};

/// Stored slow-log digests of the periods `$1` to `$2` (inclusive, YYYY-MM):
/// (period, source, mergeable form or NULL).
pub(super) const SLOWLOG_DIGESTS: &str =
    "SELECT period, source, mergeable FROM slowlog_digests WHERE period >= $1 AND period <= $2";

/// Load-test reports of a service and month, oldest first.
pub(super) const LOADTEST_RUNS: &str =
    "SELECT report FROM loadtest_runs WHERE service = $1 AND month = $2 ORDER BY recorded_at, id";

/// Decisions for `history`.
pub(super) const DECISIONS: &str = include_str!("sql/sqlite/decisions.sql");

/// Changes for `history`.
pub(super) const CHANGES: &str = include_str!("sql/sqlite/changes.sql");

/// Opens (creating and migrating when needed) the SQLite file at `path`.
pub(super) async fn connect(path: &str) -> Result<SqlitePool, Box<dyn std::error::Error + Send + Sync>> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        // Another ingest may hold the write lock: wait for it rather than fail.
        .busy_timeout(Duration::from_secs(120));
    // SQLite has no advisory lock for sqlx's migrator: two first runs at
    // once would both create the tables. An OS file lock beside the
    // database serialises the opening.
    let _opening = crate::support::lock::Lock::acquire(Path::new(&format!("{path}.lock")), Duration::from_secs(120))?;
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

/// The staging load's state: the statement for a full chunk, built once.
pub(super) struct Staging {
    full: String,
}

/// An empty staging table (a temporary table lives as long as the connection).
pub(super) async fn create_staging(tx: &mut SqliteConnection) -> Result<Staging, Failure> {
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS staging (series INTEGER, ts INTEGER, pool_size INTEGER, \
         checked_out INTEGER, max_overflow INTEGER, waiting INTEGER, timeouts INTEGER)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM staging").execute(&mut *tx).await?;
    Ok(Staging { full: insert_sql(ROWS) })
}

/// Adds `rows` to staging.
pub(super) async fn stage(tx: &mut SqliteConnection, rows: &[StoredSample], st: &mut Staging) -> Result<(), Failure> {
    for chunk in rows.chunks(ROWS) {
        let sql = if chunk.len() == ROWS {
            st.full.clone()
        } else {
            insert_sql(chunk.len())
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(r.series)
                .bind(r.ts)
                .bind(r.pool_size)
                .bind(r.checked_out)
                .bind(r.max_overflow)
                .bind(r.waiting)
                .bind(r.timeouts);
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Whether staging may hold keys already stored. SQLite's writer is alone
/// in its transaction and a lookup per key is cheap: always compare.
pub(super) async fn may_overlap(_tx: &mut SqliteConnection) -> Result<bool, Failure> {
    Ok(true)
}

/// Moves the staged rows into `samples`, keeping the stored ones; the number stored.
pub(super) async fn insert_staged(tx: &mut SqliteConnection, _st: Staging, _overlaps: bool) -> Result<u64, Failure> {
    let stored = sqlx::query("INSERT INTO samples SELECT * FROM staging WHERE true ON CONFLICT DO NOTHING")
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM staging").execute(&mut *tx).await?;
    Ok(stored)
}

/// After the commit of an ingest: nothing to do.
pub(super) async fn after_commit(_pool: &SqlitePool, _stored: u64) -> Result<(), Failure> {
    Ok(())
}

fn insert_sql(rows: usize) -> String {
    let mut sql = String::from("INSERT INTO staging VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?)");
    }
    sql
}
