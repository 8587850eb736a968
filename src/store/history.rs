//! The history store (DESIGN §5): SQLite by default (a file beside the config,
//! created on first use; bundled, no system library), PostgreSQL when the store
//! is a `postgres://` URL. Embedded migrations, one per backend.
//!
//! Ingest is idempotent and atomic: a file is loaded in one transaction into a
//! staging table (PostgreSQL: COPY; SQLite: prepared multi-row inserts), then
//! compared with what is stored — rows already present with the same values are
//! counted, rows whose key exists with other values are reported as conflicts
//! (and not stored) — and inserted. A file with a fatal error stores nothing.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};

use crate::write::redact_urls;

/// One sample to store or read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSample {
    /// Series id in the store.
    pub series: i64,
    /// Unix seconds.
    pub ts: i64,
    /// Pool size.
    pub pool_size: i32,
    /// Connections in use.
    pub checked_out: i32,
    /// Overflow limit.
    pub max_overflow: Option<i32>,
    /// Callers waiting.
    pub waiting: Option<i32>,
    /// Cumulative timeouts.
    pub timeouts: Option<i64>,
}

/// What ingesting one file did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestCounts {
    /// Rows given.
    pub rows: u64,
    /// Rows newly stored.
    pub stored: u64,
    /// Rows already stored with the same values.
    pub already_present: u64,
    /// Rows whose (service, instance, ts) is stored with other values: not stored.
    pub conflicts: u64,
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[error("store {store}: {reason}")]
pub struct StoreError {
    /// The store (URL with its password replaced, or path).
    pub store: String,
    /// What went wrong.
    pub reason: String,
}

enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open store.
pub struct Store {
    backend: Backend,
    shown: String,
    series: std::sync::Mutex<HashMap<(String, String), i64>>,
}

/// A batch of parsed samples for [`Store::ingest`], with the series first seen
/// in it (the parser's local id, service, instance).
#[derive(Debug, Default)]
pub struct Batch {
    /// Series first seen in this batch.
    pub new_series: Vec<(u32, String, String)>,
    /// Samples (their `series` is the parser's local id).
    pub samples: Vec<crate::ingest::Sample>,
}

/// Rows per multi-row INSERT into SQLite (7 parameters each, under SQLite's 32 766).
const SQLITE_ROWS: usize = 1000;

impl Store {
    /// Opens (creating and migrating when needed) the store at `location`: a
    /// `postgres://` URL, or a SQLite file path.
    pub async fn open(location: &str) -> Result<Store, StoreError> {
        let shown = redact_urls(location);
        let fail = |e: &dyn std::fmt::Display| StoreError {
            store: shown.clone(),
            reason: crate::store::probe::scrub(&e.to_string(), location),
        };
        let backend = if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(location).map_err(|e| fail(&e))?;
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await
                .map_err(|e| fail(&e))?;
            sqlx::migrate!("./migrations/postgres")
                .run(&pool)
                .await
                .map_err(|e| fail(&e))?;
            Backend::Postgres(pool)
        } else {
            let path = location.strip_prefix("sqlite://").unwrap_or(location);
            let opts = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                // Another ingest may hold the write lock: wait for it rather than fail.
                .busy_timeout(std::time::Duration::from_secs(120));
            // SQLite has no advisory lock for sqlx's migrator: two first runs at
            // once would both create the tables. An OS file lock beside the
            // database serialises the opening.
            let _opening = crate::write::atomic::Lock::acquire(
                Path::new(&format!("{path}.lock")),
                std::time::Duration::from_secs(120),
            )
            .map_err(|e| fail(&e))?;
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await
                .map_err(|e| fail(&e))?;
            sqlx::migrate!("./migrations/sqlite")
                .run(&pool)
                .await
                .map_err(|e| fail(&e))?;
            Backend::Sqlite(pool)
        };
        Ok(Store {
            backend,
            shown,
            series: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The store, for messages (password replaced).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            store: self.shown.clone(),
            reason: redact_urls(&e.to_string()),
        }
    }

    /// The id of a (service, instance) series, adding it (inside the caller's
    /// transaction) when new.
    async fn series_id_sqlite(
        &self,
        conn: &mut sqlx::SqliteConnection,
        service: &str,
        instance: &str,
    ) -> Result<i64, StoreError> {
        if let Some(id) = self.known_series(service, instance)? {
            return Ok(id);
        }
        sqlx::query("INSERT INTO series (service, instance) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(service)
            .bind(instance)
            .execute(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM series WHERE service = ? AND instance = ?")
            .bind(service)
            .bind(instance)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        self.remember_series(service, instance, id)
    }

    async fn series_id_pg(
        &self,
        conn: &mut sqlx::PgConnection,
        service: &str,
        instance: &str,
    ) -> Result<i64, StoreError> {
        if let Some(id) = self.known_series(service, instance)? {
            return Ok(id);
        }
        sqlx::query("INSERT INTO series (service, instance) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(service)
            .bind(instance)
            .execute(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        let id: i32 = sqlx::query_scalar("SELECT id FROM series WHERE service = $1 AND instance = $2")
            .bind(service)
            .bind(instance)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| self.error(e))?;
        self.remember_series(service, instance, i64::from(id))
    }

    /// A series id this store has already looked up or added.
    fn known_series(&self, service: &str, instance: &str) -> Result<Option<i64>, StoreError> {
        let series = self.series.lock().map_err(|e| self.error(e))?;
        Ok(series.get(&(service.to_string(), instance.to_string())).copied())
    }

    fn remember_series(&self, service: &str, instance: &str, id: i64) -> Result<i64, StoreError> {
        let mut series = self.series.lock().map_err(|e| self.error(e))?;
        series.insert((service.to_string(), instance.to_string()), id);
        Ok(id)
    }

    /// Stores the samples of `batches` in one transaction, committed only when
    /// `keep()` says so after the last batch: all or nothing.
    pub async fn ingest(
        &self,
        batches: &mut dyn Iterator<Item = Batch>,
        keep: impl FnOnce() -> bool,
    ) -> Result<Option<IngestCounts>, StoreError> {
        let mut counts = IngestCounts::default();
        let mut ids: HashMap<u32, i64> = HashMap::new();
        match &self.backend {
            Backend::Sqlite(pool) => {
                let mut tx = pool.begin().await.map_err(|e| self.error(e))?;
                sqlx::query(
                    "CREATE TEMP TABLE IF NOT EXISTS staging (series INTEGER, ts INTEGER, pool_size INTEGER, \
                     checked_out INTEGER, max_overflow INTEGER, waiting INTEGER, timeouts INTEGER)",
                )
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
                sqlx::query("DELETE FROM staging")
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.error(e))?;
                let full_sql = insert_sql(SQLITE_ROWS);
                for batch in batches {
                    for (local, service, instance) in &batch.new_series {
                        ids.insert(*local, self.series_id_sqlite(&mut tx, service, instance).await?);
                    }
                    let rows = resolve(&batch, &ids);
                    counts.rows += rows.len() as u64;
                    for chunk in rows.chunks(SQLITE_ROWS) {
                        let sql = if chunk.len() == SQLITE_ROWS {
                            full_sql.clone()
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
                        q.execute(&mut *tx).await.map_err(|e| self.error(e))?;
                    }
                }
                if !keep() {
                    tx.rollback().await.map_err(|e| self.error(e))?;
                    return Ok(None);
                }
                let (same, conflicts): (i64, i64) = {
                    let row = sqlx::query(
                        "SELECT coalesce(sum(CASE WHEN s.pool_size = st.pool_size AND s.checked_out = st.checked_out \
                         AND s.max_overflow IS st.max_overflow AND s.waiting IS st.waiting AND s.timeouts IS st.timeouts \
                         THEN 1 ELSE 0 END), 0), \
                         coalesce(sum(CASE WHEN s.pool_size = st.pool_size AND s.checked_out = st.checked_out \
                         AND s.max_overflow IS st.max_overflow AND s.waiting IS st.waiting AND s.timeouts IS st.timeouts \
                         THEN 0 ELSE 1 END), 0) \
                         FROM staging st JOIN samples s ON s.series = st.series AND s.ts = st.ts",
                    )
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| self.error(e))?;
                    (row.get(0), row.get(1))
                };
                let stored = sqlx::query("INSERT INTO samples SELECT * FROM staging WHERE true ON CONFLICT DO NOTHING")
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.error(e))?
                    .rows_affected();
                sqlx::query("DELETE FROM staging")
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.error(e))?;
                tx.commit().await.map_err(|e| self.error(e))?;
                counts.stored = stored;
                counts.already_present = same as u64;
                counts.conflicts = conflicts as u64;
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(|e| self.error(e))?;
                sqlx::query(
                    "CREATE TEMP TABLE staging (series INTEGER, ts BIGINT, pool_size INTEGER, checked_out INTEGER, \
                     max_overflow INTEGER, waiting INTEGER, timeouts BIGINT) ON COMMIT DROP",
                )
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
                let mut buf = String::with_capacity(1 << 20);
                for batch in batches {
                    // New series first (no other statement may run during a COPY).
                    for (local, service, instance) in &batch.new_series {
                        ids.insert(*local, self.series_id_pg(&mut tx, service, instance).await?);
                    }
                    let rows = resolve(&batch, &ids);
                    counts.rows += rows.len() as u64;
                    let mut copy = tx
                        .copy_in_raw("COPY staging FROM STDIN")
                        .await
                        .map_err(|e| self.error(e))?;
                    for r in &rows {
                        copy_row(&mut buf, r);
                        if buf.len() > (1 << 20) {
                            copy.send(buf.as_bytes()).await.map_err(|e| self.error(e))?;
                            buf.clear();
                        }
                    }
                    copy.send(buf.as_bytes()).await.map_err(|e| self.error(e))?;
                    buf.clear();
                    copy.finish().await.map_err(|e| self.error(e))?;
                }
                if !keep() {
                    tx.rollback().await.map_err(|e| self.error(e))?;
                    return Ok(None);
                }
                // One ingest at a time from here to commit, so the overlap check
                // below stays true until this transaction's rows are in.
                sqlx::query("SELECT pg_advisory_xact_lock(7061110112)")
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.error(e))?;
                // Compare with what is stored only where the file overlaps it in time.
                let overlaps: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM samples s, (SELECT min(ts) lo, max(ts) hi FROM staging) r \
                     WHERE s.ts BETWEEN r.lo AND r.hi)",
                )
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
                let (same, conflicts): (i64, i64) = if overlaps {
                    let row = sqlx::query(
                        "SELECT count(*) FILTER (WHERE (s.pool_size, s.checked_out, s.max_overflow, s.waiting, s.timeouts) \
                         IS NOT DISTINCT FROM (st.pool_size, st.checked_out, st.max_overflow, st.waiting, st.timeouts)), \
                         count(*) FILTER (WHERE (s.pool_size, s.checked_out, s.max_overflow, s.waiting, s.timeouts) \
                         IS DISTINCT FROM (st.pool_size, st.checked_out, st.max_overflow, st.waiting, st.timeouts)) \
                         FROM staging st JOIN samples s ON s.series = st.series AND s.ts = st.ts",
                    )
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| self.error(e))?;
                    (row.get(0), row.get(1))
                } else {
                    (0, 0)
                };
                // Without overlap no stored key can clash: a plain insert (duplicates
                // within the file dropped) is twice as fast as ON CONFLICT's
                // speculative insertion.
                let insert = if overlaps {
                    "INSERT INTO samples SELECT * FROM staging ORDER BY series, ts ON CONFLICT DO NOTHING"
                } else {
                    "INSERT INTO samples SELECT DISTINCT ON (series, ts) * FROM staging ORDER BY series, ts"
                };
                let stored = sqlx::query(insert)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.error(e))?
                    .rows_affected();
                tx.commit().await.map_err(|e| self.error(e))?;
                counts.stored = stored;
                counts.already_present = same as u64;
                counts.conflicts = conflicts as u64;
            }
        }
        Ok(Some(counts))
    }

    /// Every stored sample with `from ≤ ts < to`, in time order, with its
    /// service and instance, handed to `sink`.
    pub async fn samples(
        &self,
        from: i64,
        to: i64,
        sink: &mut dyn FnMut(&str, &str, StoredSample),
    ) -> Result<u64, StoreError> {
        use futures_util::TryStreamExt;
        let mut n = 0u64;
        macro_rules! read {
            ($pool:expr, $sql:expr) => {{
                let mut rows = sqlx::query($sql).bind(from).bind(to).fetch($pool);
                while let Some(row) = rows.try_next().await.map_err(|e| self.error(e))? {
                    let service: String = row.try_get(0).map_err(|e| self.error(e))?;
                    let instance: String = row.try_get(1).map_err(|e| self.error(e))?;
                    let sample = StoredSample {
                        series: i64::from(row.try_get::<i32, _>(2).map_err(|e| self.error(e))?),
                        ts: row.try_get(3).map_err(|e| self.error(e))?,
                        pool_size: row.try_get(4).map_err(|e| self.error(e))?,
                        checked_out: row.try_get(5).map_err(|e| self.error(e))?,
                        max_overflow: row.try_get(6).map_err(|e| self.error(e))?,
                        waiting: row.try_get(7).map_err(|e| self.error(e))?,
                        timeouts: row.try_get(8).map_err(|e| self.error(e))?,
                    };
                    sink(&service, &instance, sample);
                    n += 1;
                }
            }};
        }
        match &self.backend {
            Backend::Sqlite(pool) => read!(
                pool,
                "SELECT se.service, se.instance, s.series, s.ts, s.pool_size, s.checked_out, s.max_overflow, s.waiting, s.timeouts \
                 FROM samples s JOIN series se ON se.id = s.series WHERE s.ts >= ? AND s.ts < ? ORDER BY s.ts"
            ),
            Backend::Postgres(pool) => read!(
                pool,
                "SELECT se.service, se.instance, s.series, s.ts, s.pool_size, s.checked_out, s.max_overflow, s.waiting, s.timeouts \
                 FROM samples s JOIN series se ON se.id = s.series WHERE s.ts >= $1 AND s.ts < $2 ORDER BY s.ts"
            ),
        }
        Ok(n)
    }

    /// Stores a slow-log digest (JSON) for a period and source, replacing an
    /// earlier one of the same pair (a re-ingest of the same log).
    pub async fn record_digest(
        &self,
        period: &str,
        source: &str,
        digest: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = digest.to_string();
        let now = jiff::Timestamp::now().to_string();
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::query(
                "INSERT INTO slowlog_digests (period, source, digest, ingested_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (period, source) DO UPDATE SET digest = excluded.digest, ingested_at = excluded.ingested_at",
            )
            .bind(period)
            .bind(source)
            .bind(text)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))?,
            Backend::Postgres(pool) => sqlx::query(
                "INSERT INTO slowlog_digests (period, source, digest) VALUES ($1, $2, $3::jsonb) \
                 ON CONFLICT (period, source) DO UPDATE SET digest = excluded.digest, ingested_at = now()",
            )
            .bind(period)
            .bind(source)
            .bind(text)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))?,
        };
        Ok(())
    }

    /// Stores a service's decision for a month (the plan JSON of that service),
    /// replacing an earlier one.
    pub async fn record_decision(
        &self,
        service: &str,
        month: &str,
        plan: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = plan.to_string();
        let now = jiff::Timestamp::now().to_string();
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::query(
                "INSERT INTO decisions (service, month, plan, decided_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (service, month) DO UPDATE SET plan = excluded.plan, decided_at = excluded.decided_at",
            )
            .bind(service)
            .bind(month)
            .bind(text)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))?,
            Backend::Postgres(pool) => sqlx::query(
                "INSERT INTO decisions (service, month, plan) VALUES ($1, $2, $3::jsonb) \
                 ON CONFLICT (service, month) DO UPDATE SET plan = excluded.plan, decided_at = now()",
            )
            .bind(service)
            .bind(month)
            .bind(text)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))?,
        };
        Ok(())
    }

    /// Counts of stored slow-log digests and decisions: (digests, decisions).
    pub async fn counts(&self) -> Result<(i64, i64), StoreError> {
        let q = "SELECT (SELECT count(*) FROM slowlog_digests), (SELECT count(*) FROM decisions)";
        let row = match &self.backend {
            Backend::Sqlite(pool) => {
                let r = sqlx::query(q).fetch_one(pool).await.map_err(|e| self.error(e))?;
                (r.get::<i64, _>(0), r.get::<i64, _>(1))
            }
            Backend::Postgres(pool) => {
                let r = sqlx::query(q).fetch_one(pool).await.map_err(|e| self.error(e))?;
                (r.get::<i64, _>(0), r.get::<i64, _>(1))
            }
        };
        Ok(row)
    }

    /// A service's time-weighted statistics over `[start, end)`, computed by SQL
    /// inside PostgreSQL (window functions), the same way the in-process
    /// analysis does: each sample holds until the next one of its instance but
    /// never longer than `max_gap` (3 × the median of the instance's first ten
    /// intervals from `history_from`); service utilization at an instant is
    /// Σ checked_out / Σ pool_size over the instances reporting then.
    /// `None` for a SQLite store (its history stays small enough to stream).
    pub async fn service_stats_sql(
        &self,
        service: &str,
        history_from: i64,
        start: i64,
        end: i64,
    ) -> Result<Option<SqlStats>, StoreError> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        let row = sqlx::query(SERVICE_STATS_SQL)
            .bind(service)
            .bind(history_from)
            .bind(start)
            .bind(end)
            .fetch_one(pool)
            .await
            .map_err(|e| self.error(e))?;
        Ok(Some(SqlStats {
            covered_seconds: row
                .try_get::<Option<i64>, _>(0)
                .map_err(|e| self.error(e))?
                .unwrap_or(0),
            mean_utilization: row
                .try_get::<Option<f64>, _>(1)
                .map_err(|e| self.error(e))?
                .unwrap_or(0.0),
            p95_utilization: row
                .try_get::<Option<f64>, _>(2)
                .map_err(|e| self.error(e))?
                .unwrap_or(0.0),
            max_utilization: row
                .try_get::<Option<f64>, _>(3)
                .map_err(|e| self.error(e))?
                .unwrap_or(0.0),
        }))
    }

    /// Records what `apply` or `override` wrote (idempotent by entry id).
    pub async fn record_change(
        &self,
        id: &str,
        service: &str,
        kind: &str,
        change: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = change.to_string();
        let now = jiff::Timestamp::now().to_string();
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::query(
                "INSERT INTO applied_changes (id, service, kind, applied_at, change) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(service)
            .bind(kind)
            .bind(now)
            .bind(text)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))?,
            Backend::Postgres(pool) => sqlx::query(
                "INSERT INTO applied_changes (id, service, kind, change) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(service)
            .bind(kind)
            .bind(text)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))?,
        };
        Ok(())
    }

    /// Changes recorded for `service`, oldest first: (id, kind).
    pub async fn changes(&self, service: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query("SELECT id, kind FROM applied_changes WHERE service = ? ORDER BY applied_at, id")
                    .bind(service)
                    .fetch_all(pool)
                    .await
                    .map_err(|e| self.error(e))?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect()
            }
            Backend::Postgres(pool) => {
                sqlx::query("SELECT id, kind FROM applied_changes WHERE service = $1 ORDER BY applied_at, id")
                    .bind(service)
                    .fetch_all(pool)
                    .await
                    .map_err(|e| self.error(e))?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect()
            }
        };
        Ok(rows)
    }

    /// Closes the pool.
    pub async fn close(self) {
        match self.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }
}

/// One row of COPY text format, written without allocating.
fn copy_row(buf: &mut String, r: &StoredSample) {
    use std::fmt::Write as _;
    let _ = write!(buf, "{}\t{}\t{}\t{}\t", r.series, r.ts, r.pool_size, r.checked_out);
    let mut field = |v: Option<i64>, last: bool| {
        match v {
            Some(v) => {
                let _ = write!(buf, "{v}");
            }
            None => buf.push_str("\\N"),
        }
        buf.push(if last { '\n' } else { '\t' });
    };
    field(r.max_overflow.map(i64::from), false);
    field(r.waiting.map(i64::from), false);
    field(r.timeouts, true);
}

/// The batch's samples with store series ids.
fn resolve(batch: &Batch, ids: &HashMap<u32, i64>) -> Vec<StoredSample> {
    batch
        .samples
        .iter()
        .map(|s| StoredSample {
            series: ids.get(&s.series).copied().unwrap_or_default(),
            ts: s.ts,
            pool_size: s.pool_size as i32,
            checked_out: s.checked_out as i32,
            max_overflow: s.max_overflow.map(|v| v as i32),
            waiting: s.waiting.map(|v| v as i32),
            timeouts: s.timeouts.map(|v| v as i64),
        })
        .collect()
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

/// Time-weighted statistics computed in PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SqlStats {
    /// Seconds covered by at least one instance.
    pub covered_seconds: i64,
    /// Time-weighted mean of Σ checked_out / Σ pool_size.
    pub mean_utilization: f64,
    /// Time-weighted 95th percentile (nearest rank).
    pub p95_utilization: f64,
    /// Highest utilization held.
    pub max_utilization: f64,
}

/// $1 service, $2 history start, $3 window start, $4 window end (Unix seconds).
const SERVICE_STATS_SQL: &str = "
WITH raw AS (
    SELECT s.series, s.ts, s.pool_size, s.checked_out,
           lead(s.ts) OVER (PARTITION BY s.series ORDER BY s.ts) AS next_ts,
           row_number() OVER (PARTITION BY s.series ORDER BY s.ts) AS rn
    FROM samples s JOIN series se ON se.id = s.series
    WHERE se.service = $1 AND s.ts >= $2 AND s.ts < $4
),
gaps AS (
    SELECT series, greatest(1, 3 * percentile_disc(0.5) WITHIN GROUP (ORDER BY next_ts - ts)) AS max_gap
    FROM raw WHERE rn <= 10 AND next_ts IS NOT NULL GROUP BY series
),
segments AS (
    SELECT greatest(r.ts, $3) AS a,
           least(coalesce(least(r.next_ts, r.ts + coalesce(g.max_gap, 180)), r.ts + coalesce(g.max_gap, 180)), $4) AS b,
           r.checked_out, r.pool_size
    FROM raw r LEFT JOIN gaps g USING (series)
),
clipped AS (SELECT * FROM segments WHERE b > a),
events AS (
    SELECT a AS t, checked_out AS dc, pool_size AS dp FROM clipped
    UNION ALL
    SELECT b AS t, -checked_out, -pool_size FROM clipped
),
steps AS (
    SELECT t, sum(dc) AS dc, sum(dp) AS dp FROM events GROUP BY t
),
states AS (
    SELECT t, lead(t) OVER (ORDER BY t) AS next_t,
           sum(dc) OVER (ORDER BY t) AS c, sum(dp) OVER (ORDER BY t) AS p
    FROM steps
),
weighted AS (
    SELECT c::float8 / p AS u, (next_t - t) AS w FROM states WHERE p > 0 AND next_t IS NOT NULL AND next_t > t
),
ranked AS (
    SELECT u, w, sum(w) OVER (ORDER BY u ROWS UNBOUNDED PRECEDING) AS cum, sum(w) OVER () AS total FROM weighted
)
SELECT (SELECT sum(w) FROM weighted)::int8,
       (SELECT sum(u * w) / nullif(sum(w), 0) FROM weighted),
       (SELECT min(u) FROM ranked WHERE cum >= ceil(0.95 * total)),
       (SELECT max(u) FROM weighted)
";

/// The default store of a config: `poolcap.db` beside it.
pub fn default_location(config: &Path) -> String {
    let dir = match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    dir.join("poolcap.db").display().to_string()
}
