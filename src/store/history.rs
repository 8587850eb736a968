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

use crate::support::redact_urls;

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

/// What a store error says: a database error as [`super::error_text`] gives
/// it, anything else as its text.
trait Reason {
    fn reason(&self) -> String;
}

impl Reason for sqlx::Error {
    fn reason(&self) -> String {
        super::error_text(self)
    }
}

impl Reason for &str {
    fn reason(&self) -> String {
        (*self).to_string()
    }
}

impl<T> Reason for std::sync::PoisonError<T> {
    fn reason(&self) -> String {
        self.to_string()
    }
}

impl Store {
    /// Opens a store that must already exist, for commands that only read: a
    /// SQLite file that is not there is an error, never created empty.
    pub async fn open_existing(location: &str) -> Result<Store, StoreError> {
        Store::open_existing_or(
            location,
            "there is no history store here; read metric files with --metrics FILE…, or make the store with `poolcap ingest metrics FILE…`",
        )
        .await
    }

    /// [`Store::open_existing`], saying `missing` when the SQLite file is not there.
    pub async fn open_existing_or(location: &str, missing: &str) -> Result<Store, StoreError> {
        let is_postgres = location.starts_with("postgres://") || location.starts_with("postgresql://");
        let path = location.strip_prefix("sqlite://").unwrap_or(location);
        if !is_postgres && !Path::new(path).exists() {
            return Err(StoreError {
                store: redact_urls(location),
                reason: missing.to_string(),
            });
        }
        Store::open(location).await
    }

    /// Opens (creating and migrating when needed) the store at `location`: a
    /// `postgres://` URL, or a SQLite file path.
    pub async fn open(location: &str) -> Result<Store, StoreError> {
        let shown = redact_urls(location);
        let fail = |e: &(dyn std::error::Error + 'static)| StoreError {
            store: shown.clone(),
            reason: crate::store::probe::scrub(&super::error_text(e), location),
        };
        let backend = if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(location).map_err(|e| fail(&e))?;
            // One direct connection first: a refused or unknown server fails at
            // once with its own error, where the pool would retry for its
            // acquire timeout and then say only that it timed out.
            use sqlx::Connection as _;
            sqlx::PgConnection::connect_with(&opts)
                .await
                .map_err(|e| fail(&e))?
                .close()
                .await
                .map_err(|e| fail(&e))?;
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
            let _opening = crate::support::lock::Lock::acquire(
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

    /// Whether this is a PostgreSQL store (which aggregates history in SQL).
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The store, for messages (password replaced).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn error(&self, e: impl Reason) -> StoreError {
        StoreError {
            store: self.shown.clone(),
            reason: redact_urls(&e.reason()),
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
                    let rows = resolve(&batch, &ids).map_err(|e| self.error(e.as_str()))?;
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
                     max_overflow INTEGER, waiting INTEGER, timeouts BIGINT, \
                     prev_ts BIGINT, prev_checked_out INTEGER, prev_pool_size INTEGER) ON COMMIT DROP",
                )
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
                let mut buf = String::with_capacity(1 << 20);
                // Each series' first time in this file and its latest sample so
                // far (the predecessor of the next one while the file is in
                // time order per series, as exports are).
                let mut spans: HashMap<i64, (i64, Link)> = HashMap::new();
                let mut in_order = true;
                for batch in batches {
                    // New series first (no other statement may run during a COPY).
                    for (local, service, instance) in &batch.new_series {
                        ids.insert(*local, self.series_id_pg(&mut tx, service, instance).await?);
                    }
                    let rows = resolve(&batch, &ids).map_err(|e| self.error(e.as_str()))?;
                    counts.rows += rows.len() as u64;
                    let mut copy = tx
                        .copy_in_raw("COPY staging FROM STDIN")
                        .await
                        .map_err(|e| self.error(e))?;
                    for r in &rows {
                        let prev = match spans.get_mut(&r.series) {
                            Some((first, latest)) => {
                                let prev = *latest;
                                if r.ts <= prev.0 {
                                    in_order = false;
                                }
                                *first = (*first).min(r.ts);
                                if r.ts > latest.0 {
                                    *latest = (r.ts, r.checked_out, r.pool_size);
                                }
                                Some(prev)
                            }
                            None => {
                                spans.insert(r.series, (r.ts, (r.ts, r.checked_out, r.pool_size)));
                                None
                            }
                        };
                        copy_row(&mut buf, r, prev);
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
                // speculative insertion. Each row takes its predecessor within the
                // file; the links across the file's edges are mended below. A file
                // in time order per series goes in as it is: its links are made
                // above, and the table stays in time order, which the monthly
                // aggregation's parallel scan needs (each worker then sees its own
                // stretch of time: 535 k groups in all instead of 535 k each).
                let insert = match (overlaps, in_order) {
                    (true, _) => PG_INSERT_OVERLAPPING,
                    (false, true) => PG_INSERT_IN_FILE_ORDER,
                    (false, false) => PG_INSERT_NEW,
                };
                let stored = sqlx::query(insert)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.error(e))?
                    .rows_affected();
                if stored > 0 {
                    let mut spans: Vec<(i64, (i64, Link))> = spans.into_iter().collect();
                    spans.sort_unstable();
                    let series: Vec<i32> = spans.iter().map(|(s, _)| *s as i32).collect();
                    let first: Vec<i64> = spans.iter().map(|(_, (first, _))| *first).collect();
                    let last: Vec<i64> = spans.iter().map(|(_, (_, latest))| latest.0).collect();
                    let mend: &[&'static str] = if overlaps {
                        &[PG_RELINK_RANGES]
                    } else {
                        &[PG_LINK_FIRST, PG_LINK_AFTER_LAST]
                    };
                    for sql in mend {
                        sqlx::query(*sql)
                            .bind(&series)
                            .bind(&first)
                            .bind(&last)
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| self.error(e))?;
                    }
                }
                tx.commit().await.map_err(|e| self.error(e))?;
                // Fresh statistics after a large load, so the next aggregation is
                // planned for the table's real size (autovacuum may come later).
                if stored >= ANALYZE_AFTER_ROWS {
                    sqlx::query("ANALYZE samples")
                        .execute(pool)
                        .await
                        .map_err(|e| self.error(e))?;
                }
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

    /// [`PG_MAX_GAPS`] for the series `ids`: (id, max_gap).
    async fn estimated_max_gaps(
        &self,
        pool: &PgPool,
        ids: &[i32],
        read_from: i64,
        read_to: i64,
    ) -> Result<Vec<(i32, i64)>, StoreError> {
        sqlx::query_as(PG_MAX_GAPS)
            .bind(ids)
            .bind(read_from)
            .bind(read_to)
            .bind(crate::analyze::FALLBACK_MAX_GAP)
            .fetch_all(pool)
            .await
            .map_err(|e| self.error(e))
    }

    /// Every series' estimated `max_gap` over `read_from ≤ ts < read_to`
    /// (3 × the median of its first ten intervals there, as the analysis
    /// estimates it), by service and instance. Empty for a SQLite store.
    pub async fn series_max_gaps(
        &self,
        read_from: i64,
        read_to: i64,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(Vec::new());
        };
        let series: Vec<(i32, String, String)> = sqlx::query_as("SELECT id, service, instance FROM series ORDER BY id")
            .fetch_all(pool)
            .await
            .map_err(|e| self.error(e))?;
        let ids: Vec<i32> = series.iter().map(|s| s.0).collect();
        let gaps: HashMap<i32, i64> = self
            .estimated_max_gaps(pool, &ids, read_from, read_to)
            .await?
            .into_iter()
            .collect();
        Ok(series
            .into_iter()
            .filter_map(|(id, service, instance)| gaps.get(&id).map(|g| (service, instance, *g)))
            .collect())
    }

    /// A service's time-weighted statistics in each of `windows` (disjoint),
    /// computed by SQL inside PostgreSQL, the same way the in-process analysis
    /// does from the samples with `read.0 ≤ ts < ` the last window's end:
    /// each sample holds until the next one of its instance but never longer
    /// than `max_gap` (given, or estimated as [`Store::series_max_gaps`] does
    /// over `read.0 ≤ ts < read.1`, the whole read of the analysis this
    /// completes); service utilization at an instant is Σ checked_out /
    /// Σ pool_size over the instances reporting then.
    /// `None` for a SQLite store (its history stays small enough to stream).
    pub async fn service_stats_sql(
        &self,
        service: &str,
        read: (i64, i64),
        windows: &[(i64, i64)],
        max_gap: Option<i64>,
    ) -> Result<Option<Vec<SqlStats>>, StoreError> {
        let (read_from, estimate_to) = read;
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| windows[i]);
        if order.windows(2).any(|w| windows[w[0]].1 > windows[w[1]].0) || windows.is_empty() {
            return Err(self.error("service_stats_sql needs one or more disjoint windows"));
        }
        let starts: Vec<i64> = order.iter().map(|&i| windows[i].0).collect();
        let ends: Vec<i64> = order.iter().map(|&i| windows[i].1).collect();
        let ids: Vec<i32> = sqlx::query_scalar("SELECT id FROM series WHERE service = $1 ORDER BY id")
            .bind(service)
            .fetch_all(pool)
            .await
            .map_err(|e| self.error(e))?;
        let gaps: Vec<(i32, i64)> = match max_gap {
            Some(g) => ids.iter().map(|&id| (id, g)).collect(),
            None => self.estimated_max_gaps(pool, &ids, read_from, estimate_to).await?,
        };
        // max_gap by series id (PostgreSQL arrays start at 1, like the ids).
        let mut gap_by_id: Vec<Option<i64>> = vec![None; ids.iter().copied().max().unwrap_or(0).max(0) as usize];
        for (id, gap) in gaps {
            gap_by_id[id as usize - 1] = Some(gap);
        }
        let mut tx = pool.begin().await.map_err(|e| self.error(e))?;
        // Hash tables in memory; JIT without its optimizer and inliner, whose
        // compile time costs more than they save here (benchmark month: 5.3 s
        // with both, 4.5 s without).
        for setting in [
            "SET LOCAL work_mem = '256MB'",
            "SET LOCAL jit_inline_above_cost = -1",
            "SET LOCAL jit_optimize_above_cost = -1",
        ] {
            sqlx::query(setting)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        let rows = sqlx::query(PG_SERVICE_STATS)
            .bind(&ids)
            .bind(read_from)
            .bind(&starts)
            .bind(&ends)
            .bind(&gap_by_id)
            .bind(crate::analyze::REPORTED_THRESHOLDS.to_vec())
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.error(e))?;
        tx.commit().await.map_err(|e| self.error(e))?;
        let mut stats = vec![None; windows.len()];
        for (row, &i) in rows.iter().zip(&order) {
            let get_i = |k: usize| row.try_get::<i64, _>(k).map_err(|e| self.error(e));
            let get_f = |k: usize| row.try_get::<f64, _>(k).map_err(|e| self.error(e));
            stats[i] = Some(SqlStats {
                covered_seconds: get_i(0)?,
                mean_utilization: get_f(1)?,
                p50_utilization: get_f(2)?,
                p95_utilization: get_f(3)?,
                p99_utilization: get_f(4)?,
                max_utilization: get_f(5)?,
                mean_checked_out: get_f(6)?,
                seconds_above: [get_i(7)?, get_i(8)?, get_i(9)?],
                samples: get_i(10)? as u64,
            });
        }
        stats
            .into_iter()
            .map(|s| s.ok_or_else(|| self.error("the aggregation returned fewer windows than asked")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
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

    /// The stored decisions, newest month first (then by service), as
    /// [`HistoryFilter`] narrows them.
    pub async fn decisions(&self, filter: &HistoryFilter) -> Result<Vec<StoredDecision>, StoreError> {
        let rows = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query(SQLITE_DECISIONS)
                .bind(filter.service.as_deref())
                .bind(filter.since.as_deref())
                .bind(filter.until.as_deref())
                .fetch_all(pool)
                .await
                .map_err(|e| self.error(e))?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect::<Vec<(String, String, String, String)>>(),
            Backend::Postgres(pool) => sqlx::query(PG_DECISIONS)
                .bind(filter.service.as_deref())
                .bind(filter.since.as_deref())
                .bind(filter.until.as_deref())
                .fetch_all(pool)
                .await
                .map_err(|e| self.error(e))?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect(),
        };
        rows.into_iter()
            .map(|(service, month, decided_at, plan)| {
                let plan = serde_json::from_str(&plan).map_err(|e| {
                    self.error(format!("the decision of {service} for {month} is not JSON: {e}").as_str())
                })?;
                Ok(StoredDecision {
                    service,
                    month,
                    decided_at,
                    plan,
                })
            })
            .collect()
    }

    /// The stored changes, most recently recorded first, as [`HistoryFilter`]
    /// narrows them (its months are those of the entries' dates).
    pub async fn change_entries(&self, filter: &HistoryFilter) -> Result<Vec<StoredChange>, StoreError> {
        let rows = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query(SQLITE_CHANGES)
                .bind(filter.service.as_deref())
                .bind(filter.since.as_deref())
                .bind(filter.until.as_deref())
                .fetch_all(pool)
                .await
                .map_err(|e| self.error(e))?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
                .collect::<Vec<(String, String, String, String, String)>>(),
            Backend::Postgres(pool) => sqlx::query(PG_CHANGES)
                .bind(filter.service.as_deref())
                .bind(filter.since.as_deref())
                .bind(filter.until.as_deref())
                .fetch_all(pool)
                .await
                .map_err(|e| self.error(e))?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
                .collect(),
        };
        rows.into_iter()
            .map(|(id, service, kind, applied_at, change)| {
                let change = serde_json::from_str(&change)
                    .map_err(|e| self.error(format!("the change {id} is not JSON: {e}").as_str()))?;
                Ok(StoredChange {
                    id,
                    service,
                    kind,
                    applied_at,
                    change,
                })
            })
            .collect()
    }

    /// Closes the pool.
    pub async fn close(self) {
        match self.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }
}

/// What `history` reads: every field `None` is no restriction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Only this service.
    pub service: Option<String>,
    /// Only from this month (`YYYY-MM`) on.
    pub since: Option<String>,
    /// Only up to this month (`YYYY-MM`), inclusive.
    pub until: Option<String>,
}

/// A decision as `review` stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDecision {
    /// Service name.
    pub service: String,
    /// The reviewed month, `YYYY-MM`.
    pub month: String,
    /// When it was recorded, RFC 3339 in UTC.
    pub decided_at: String,
    /// The service's part of the plan JSON.
    pub plan: serde_json::Value,
}

/// A change as `apply` or `override` stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChange {
    /// The change-log entry id.
    pub id: String,
    /// Service name.
    pub service: String,
    /// The entry's kind as stored: `review` (written by `apply`) or `override`.
    pub kind: String,
    /// When it was recorded, RFC 3339 in UTC.
    pub applied_at: String,
    /// The change-log entry as JSON.
    pub change: serde_json::Value,
}

/// Decisions for `history` (SQLite). ?1 service, ?2 since, ?3 until (each may be NULL).
const SQLITE_DECISIONS: &str = "
SELECT service, month, decided_at, plan FROM decisions
WHERE (?1 IS NULL OR service = ?1) AND (?2 IS NULL OR month >= ?2) AND (?3 IS NULL OR month <= ?3)
ORDER BY month DESC, service";

/// Decisions for `history` (PostgreSQL). $1 service, $2 since, $3 until (each may be NULL).
const PG_DECISIONS: &str = "
SELECT service, month, to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), plan::text
FROM decisions
WHERE ($1::text IS NULL OR service = $1) AND ($2::text IS NULL OR month >= $2) AND ($3::text IS NULL OR month <= $3)
ORDER BY month DESC, service";

/// Changes for `history` (SQLite), filtered on the month of the entry's date.
/// `applied_at` is RFC 3339 text with a varying number of fractional digits,
/// so it is ordered as a time; the rowid orders changes recorded at once.
const SQLITE_CHANGES: &str = "
SELECT id, service, kind, applied_at, change FROM applied_changes
WHERE (?1 IS NULL OR service = ?1)
  AND (?2 IS NULL OR substr(json_extract(change, '$.date'), 1, 7) >= ?2)
  AND (?3 IS NULL OR substr(json_extract(change, '$.date'), 1, 7) <= ?3)
ORDER BY julianday(applied_at) DESC, rowid DESC";

/// Changes for `history` (PostgreSQL), filtered on the month of the entry's date.
const PG_CHANGES: &str = "
SELECT id, service, kind, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), change::text
FROM applied_changes
WHERE ($1::text IS NULL OR service = $1)
  AND ($2::text IS NULL OR left(change->>'date', 7) >= $2)
  AND ($3::text IS NULL OR left(change->>'date', 7) <= $3)
ORDER BY applied_at DESC, id DESC";

/// One row of COPY text format (with the sample's predecessor in the file),
/// written without allocating.
fn copy_row(buf: &mut String, r: &StoredSample, prev: Option<Link>) {
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
    field(r.timeouts, false);
    field(prev.map(|p| p.0), false);
    field(prev.map(|p| i64::from(p.1)), false);
    field(prev.map(|p| i64::from(p.2)), true);
}

/// The batch's samples with store series ids. Values are checked into the
/// store's integer columns, never wrapped: the readers keep them within
/// [`crate::model::limits`], so a failure here is a bug, reported as such.
fn resolve(batch: &Batch, ids: &HashMap<u32, i64>) -> Result<Vec<StoredSample>, String> {
    let column =
        |name: &str, v: u32| i32::try_from(v).map_err(|_| format!("{name} {v} does not fit the store's column"));
    batch
        .samples
        .iter()
        .map(|s| {
            Ok(StoredSample {
                series: ids.get(&s.series).copied().unwrap_or_default(),
                ts: s.ts,
                pool_size: column("pool_size", s.pool_size)?,
                checked_out: column("checked_out", s.checked_out)?,
                max_overflow: s.max_overflow.map(|v| column("max_overflow", v)).transpose()?,
                waiting: s.waiting.map(|v| column("waiting", v)).transpose()?,
                timeouts: s
                    .timeouts
                    .map(|v| i64::try_from(v).map_err(|_| format!("timeouts {v} does not fit the store's column")))
                    .transpose()?,
            })
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

/// A sample as its successor's predecessor: (ts, checked_out, pool_size).
type Link = (i64, i32, i32);

/// A PostgreSQL ingest storing at least this many rows refreshes the planner's
/// statistics of `samples`.
const ANALYZE_AFTER_ROWS: u64 = 100_000;

/// Inserts a file that overlaps nothing stored and is in time order per series
/// (its links within the file were made while loading), in file order.
const PG_INSERT_IN_FILE_ORDER: &str = "
INSERT INTO samples (series, ts, pool_size, checked_out, max_overflow, waiting, timeouts,
                     prev_ts, prev_checked_out, prev_pool_size)
SELECT series, ts, pool_size, checked_out, max_overflow, waiting, timeouts,
       prev_ts, prev_checked_out, prev_pool_size
FROM staging";

/// Inserts a file that overlaps nothing stored, each row linked to its
/// predecessor within the file.
const PG_INSERT_NEW: &str = "
INSERT INTO samples (series, ts, pool_size, checked_out, max_overflow, waiting, timeouts,
                     prev_ts, prev_checked_out, prev_pool_size)
SELECT series, ts, pool_size, checked_out, max_overflow, waiting, timeouts,
       lag(ts) OVER w, lag(checked_out) OVER w, lag(pool_size) OVER w
FROM (SELECT DISTINCT ON (series, ts) series, ts, pool_size, checked_out, max_overflow, waiting, timeouts
      FROM staging ORDER BY series, ts) d
WINDOW w AS (PARTITION BY series ORDER BY ts)";

/// Inserts a file that overlaps stored samples: existing keys are kept. The
/// new rows' links are left to [`PG_RELINK_RANGES`] (nothing to link, and no
/// window to compute, when every row was already present: a re-ingest).
const PG_INSERT_OVERLAPPING: &str = "
INSERT INTO samples (series, ts, pool_size, checked_out, max_overflow, waiting, timeouts)
SELECT series, ts, pool_size, checked_out, max_overflow, waiting, timeouts
FROM staging ORDER BY series, ts
ON CONFLICT DO NOTHING";

/// After [`PG_INSERT_NEW`]: the file's first sample of each series follows the
/// stored one before it. $1 series, $2 first ts, $3 last ts (per series).
const PG_LINK_FIRST: &str = "
UPDATE samples s
SET prev_ts = b.ts, prev_checked_out = b.checked_out, prev_pool_size = b.pool_size
FROM unnest($1::int4[], $2::int8[], $3::int8[]) AS f(series, lo, hi)
CROSS JOIN LATERAL (
    SELECT ts, checked_out, pool_size FROM samples p
    WHERE p.series = f.series AND p.ts < f.lo ORDER BY p.ts DESC LIMIT 1) b
WHERE s.series = f.series AND s.ts = f.lo";

/// After [`PG_INSERT_NEW`]: the stored sample after the file's last one of
/// each series now follows that one.
const PG_LINK_AFTER_LAST: &str = "
UPDATE samples s
SET prev_ts = l.ts, prev_checked_out = l.checked_out, prev_pool_size = l.pool_size
FROM unnest($1::int4[], $2::int8[], $3::int8[]) AS f(series, lo, hi)
JOIN samples l ON l.series = f.series AND l.ts = f.hi
CROSS JOIN LATERAL (
    SELECT ts FROM samples n
    WHERE n.series = f.series AND n.ts > f.hi ORDER BY n.ts LIMIT 1) a
WHERE s.series = f.series AND s.ts = a.ts";

/// After [`PG_INSERT_OVERLAPPING`]: recomputes the links of each series from
/// the stored sample before the file's first to the one after its last,
/// writing only the rows whose link changed.
const PG_RELINK_RANGES: &str = "
UPDATE samples s
SET prev_ts = r.prev_ts, prev_checked_out = r.prev_c, prev_pool_size = r.prev_p
FROM (
    SELECT x.series, x.ts,
           lag(x.ts) OVER w AS prev_ts, lag(x.checked_out) OVER w AS prev_c, lag(x.pool_size) OVER w AS prev_p
    FROM unnest($1::int4[], $2::int8[], $3::int8[]) AS f(series, lo, hi)
    CROSS JOIN LATERAL (
        SELECT y.series, y.ts, y.checked_out, y.pool_size FROM samples y
        WHERE y.series = f.series
          AND y.ts >= coalesce((SELECT max(z.ts) FROM samples z WHERE z.series = f.series AND z.ts < f.lo), f.lo)
          AND y.ts <= coalesce((SELECT min(z.ts) FROM samples z WHERE z.series = f.series AND z.ts > f.hi), f.hi)) x
    WINDOW w AS (PARTITION BY x.series ORDER BY x.ts)
) r
WHERE s.series = r.series AND s.ts = r.ts AND r.prev_ts IS NOT NULL
  AND (s.prev_ts, s.prev_checked_out, s.prev_pool_size) IS DISTINCT FROM (r.prev_ts, r.prev_c, r.prev_p)";

/// A service's time-weighted statistics of one window, computed in PostgreSQL
/// (the fields mean what [`crate::analyze::WindowStats`]'s do).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SqlStats {
    /// Seconds covered by at least one instance.
    pub covered_seconds: i64,
    /// Time-weighted mean of Σ checked_out / Σ pool_size.
    pub mean_utilization: f64,
    /// Time-weighted median (nearest rank on seconds).
    pub p50_utilization: f64,
    /// Time-weighted 95th percentile.
    pub p95_utilization: f64,
    /// Time-weighted 99th percentile.
    pub p99_utilization: f64,
    /// Highest utilization held.
    pub max_utilization: f64,
    /// Time-weighted mean of Σ checked_out.
    pub mean_checked_out: f64,
    /// Seconds above each reported threshold.
    pub seconds_above: [i64; 3],
    /// Samples inside the window.
    pub samples: u64,
}

/// Each series' `max_gap`: 3 × the median of its first ten intervals from the
/// read start (as the in-process analysis estimates it), the fallback where a
/// series has fewer than two samples. $1 series ids, $2 read start, $3 read
/// end, $4 fallback.
const PG_MAX_GAPS: &str = "
SELECT f.series, coalesce((
    SELECT greatest(1, 3 * percentile_disc(0.5) WITHIN GROUP (ORDER BY d))
    FROM (SELECT ts - lag(ts) OVER (ORDER BY ts) AS d
          FROM (SELECT ts FROM samples WHERE series = f.series AND ts >= $2 AND ts < $3
                ORDER BY ts LIMIT 11) first_samples) intervals
    WHERE d IS NOT NULL), $4::int8)
FROM unnest($1::int4[]) AS f(series)";

/// A service's time-weighted statistics per window, computed where the data
/// lives. $1 the service's series ids, $2 read start, $3 window starts and
/// $4 window ends (ascending, disjoint), $5 max_gap by series id, $6 the
/// reported thresholds.
///
/// Each sample holds from its time until the next sample of its series, or
/// for max_gap at most. The service's utilization at an instant is
/// Σ checked_out / Σ pool_size over the samples holding then. Every sample
/// changes those totals once, at its time: by its values minus its
/// predecessor's where the predecessor still held (stored with the sample, see
/// migration 0004). A predecessor that stopped holding before (a gap), and
/// each series' last sample, end with a change of their own. Summing the
/// changes in time order (a window function over the change points, not over
/// the samples) gives the service's states; their durations, grouped by
/// (window, Σ checked_out, Σ pool_size), give every statistic, the
/// percentiles by nearest rank on the seconds as in the analysis.
const PG_SERVICE_STATS: &str = "
WITH held AS NOT MATERIALIZED (
    SELECT s.ts, greatest(s.checked_out, 0) AS c, greatest(s.pool_size, 1) AS p,
           $5[s.series] AS max_gap,
           CASE WHEN s.prev_ts >= $2 THEN s.prev_ts END AS prev_ts,
           greatest(s.prev_checked_out, 0) AS prev_c, greatest(s.prev_pool_size, 1) AS prev_p
    FROM samples s
    WHERE s.series = ANY($1) AND s.ts >= $2 AND s.ts < $4[cardinality($4)]
),
sample_changes AS (
    SELECT ts AS t,
           c - CASE WHEN prev_ts + max_gap >= ts THEN prev_c ELSE 0 END AS dc,
           p - CASE WHEN prev_ts + max_gap >= ts THEN prev_p ELSE 0 END AS dp,
           1 AS n
    FROM held
    UNION ALL
    SELECT prev_ts + max_gap, -prev_c, -prev_p, 0 FROM held WHERE prev_ts + max_gap < ts
),
changes AS (
    SELECT t, sum(dc)::int4 AS dc, sum(dp)::int4 AS dp, sum(n)::int4 AS n FROM sample_changes GROUP BY t
    UNION ALL
    SELECT l.ts + $5[l.series], -greatest(l.checked_out, 0), -greatest(l.pool_size, 1), 0
    FROM unnest($1) AS g(series) CROSS JOIN LATERAL (
        SELECT series, ts, checked_out, pool_size FROM samples
        WHERE series = g.series AND ts >= $2 AND ts < $4[cardinality($4)]
        ORDER BY ts DESC LIMIT 1) l
    UNION ALL
    -- The window edges, so that no state spans two windows.
    SELECT unnest($3 || $4), 0, 0, 0
),
steps AS (
    SELECT t, sum(dc)::int4 AS dc, sum(dp)::int4 AS dp, sum(n)::int4 AS n FROM changes GROUP BY t
),
states AS (
    SELECT t, lead(t) OVER o AS next_t, sum(dc) OVER o AS c, sum(dp) OVER o AS p, n,
           width_bucket(t, $3) AS k
    FROM steps
    WINDOW o AS (ORDER BY t ROWS UNBOUNDED PRECEDING)
),
hist AS (
    SELECT k, c, p, sum(next_t - t) AS w, sum(n) AS n FROM states
    WHERE next_t IS NOT NULL AND k >= 1 AND t < ($4)[k]
    GROUP BY k, c, p
),
ranked AS (
    SELECT k, c, p, w, n, c::float8 / p AS u,
           sum(w) OVER (PARTITION BY k ORDER BY c::float8 / p ROWS UNBOUNDED PRECEDING) AS cum,
           sum(w) OVER (PARTITION BY k) AS total
    FROM hist WHERE p > 0
),
per_window AS (
    SELECT k,
           sum(w)::int8 AS covered,
           sum(u * w) / sum(w) AS mean,
           min(u) FILTER (WHERE cum >= greatest(1, ceil(0.50::float8 * total))) AS p50,
           min(u) FILTER (WHERE cum >= greatest(1, ceil(0.95::float8 * total))) AS p95,
           min(u) FILTER (WHERE cum >= greatest(1, ceil(0.99::float8 * total))) AS p99,
           max(u) AS max,
           sum(c::float8 * w) / sum(w) AS mean_checked_out,
           sum(w) FILTER (WHERE c > $6[1] * p)::int8 AS above_1,
           sum(w) FILTER (WHERE c > $6[2] * p)::int8 AS above_2,
           sum(w) FILTER (WHERE c > $6[3] * p)::int8 AS above_3,
           sum(n)::int8 AS samples
    FROM ranked GROUP BY k
)
SELECT coalesce(covered, 0), coalesce(mean, 0), coalesce(p50, 0), coalesce(p95, 0), coalesce(p99, 0),
       coalesce(max, 0), coalesce(mean_checked_out, 0),
       coalesce(above_1, 0), coalesce(above_2, 0), coalesce(above_3, 0), coalesce(samples, 0)
FROM generate_series(1, cardinality($3)) AS w(k)
LEFT JOIN per_window USING (k)
ORDER BY w.k";

/// The default store of a config: `poolcap.db` beside it.
pub fn default_location(config: &Path) -> String {
    let dir = match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    dir.join("poolcap.db").display().to_string()
}
