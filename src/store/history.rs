//! The history store (DESIGN §5): SQLite by default (a file beside the config,
//! created on first use; bundled, no system library), PostgreSQL when the store
//! is a `postgres://` URL. Embedded migrations, one set per backend.
//!
//! [`Store`] is synchronous: it owns a small runtime of its own, and no caller
//! ever sees a future. The logic both backends share — opening, the ingest
//! flow, counting conflicts, the series cache, the history queries, decisions
//! and changes — is written once here and compiled for each backend by
//! [`per_backend!`]; what truly differs lives in [`super::sqlite`] and
//! [`super::postgres`], under the same function names. SQL the backends share
//! uses `$n` placeholders, which SQLite (and sqlx's SQLite driver) accepts too.
//!
//! Ingest is idempotent and atomic: a file is loaded in one transaction into a
//! staging table (PostgreSQL: COPY; SQLite: prepared multi-row inserts), then
//! compared with what is stored — rows already present with the same values are
//! counted, rows whose key exists with other values are reported as conflicts
//! (and not stored) — and inserted. A file with a fatal error stores nothing.
//!
//! Values are checked into and out of the store's integer columns, never
//! wrapped or clamped: a value that does not fit is an error.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use sqlx::Row;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

use crate::support::redact_urls;

pub use super::types::{
    Aggregation, Batch, HistoryFilter, IngestCounts, StoreError, StoredChange, StoredDecision, StoredSample,
};

/// Adds a (service, instance) series unless it is there. $1 service, $2 instance.
const ADD_SERIES: &str = "INSERT INTO series (service, instance) VALUES ($1, $2) ON CONFLICT DO NOTHING";

/// A series' id. $1 service, $2 instance.
const SERIES_ID: &str = "SELECT CAST(id AS BIGINT) FROM series WHERE service = $1 AND instance = $2";

/// Samples with $1 ≤ ts < $2.
const SAMPLES_BETWEEN: &str = include_str!("sql/samples_between.sql");
const INSTANCE_SPANS: &str = include_str!("sql/instance_spans.sql");

/// Same and conflicting staged rows.
const COMPARE_STAGED: &str = include_str!("sql/compare_staged.sql");

/// Counts of stored slow-log digests and decisions.
const COUNTS: &str = "SELECT (SELECT count(*) FROM slowlog_digests), (SELECT count(*) FROM decisions)";

/// A service's changes, oldest first. $1 service.
const CHANGES_OF: &str = "SELECT id, kind FROM applied_changes WHERE service = $1 ORDER BY applied_at, id";

/// What a store operation failed on, before it is told as a [`StoreError`].
#[derive(Debug)]
pub(super) enum Failure {
    /// sqlx (or the database) said so.
    Db(sqlx::Error),
    /// Anything else, as a sentence.
    Bad(String),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Db(e)
    }
}

impl Failure {
    fn reason(&self) -> String {
        match self {
            Failure::Db(e) => super::error_text(e),
            Failure::Bad(text) => text.clone(),
        }
    }
}

/// A backend's statements that record a digest, a decision or a change:
/// each replaces (or keeps) the record of the same key.
pub(super) struct Records {
    /// $1 period, $2 source, $3 digest JSON (the report), $4 its mergeable form.
    pub digest: &'static str,
    /// $1 service, $2 month, $3 plan JSON.
    pub decision: &'static str,
    /// $1 id, $2 service, $3 kind, $4 change JSON.
    pub change: &'static str,
    /// $1 id, $2 service, $3 month, $4 load-test report JSON.
    pub loadtest: &'static str,
    /// Whether each takes the time of the record as its last parameter
    /// (else the database's clock sets it).
    pub client_clock: bool,
}

enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` once per backend with `$pool` the backend's pool and, in the
/// second form, `$dialect` its module ([`super::sqlite`] or
/// [`super::postgres`]): code written once, compiled for each backend.
macro_rules! per_backend {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match $backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
    ($backend:expr, |$pool:ident, $dialect:ident| $body:expr) => {
        match $backend {
            Backend::Sqlite($pool) => {
                use super::sqlite as $dialect;
                $body
            }
            Backend::Postgres($pool) => {
                use super::postgres as $dialect;
                $body
            }
        }
    };
}

/// An open store. Dropping it closes its connections.
pub struct Store {
    backend: Backend,
    shown: String,
    series: Mutex<HashMap<(String, String), i64>>,
    /// Runs the store's queries; declared last, so it outlives the pool.
    runtime: tokio::runtime::Runtime,
}

/// Whether `location` names a PostgreSQL store.
fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

impl Store {
    /// Opens a store that must already exist, for commands that only read: a
    /// SQLite file that is not there is an error, never created empty.
    pub fn open_existing(location: &str) -> Result<Store, StoreError> {
        Store::open_existing_or(
            location,
            "there is no history store here; read metric files with --metrics FILE…, or make the store with `poolcap ingest metrics FILE…`",
        )
    }

    /// [`Store::open_existing`], saying `missing` when the SQLite file is not there.
    pub fn open_existing_or(location: &str, missing: &str) -> Result<Store, StoreError> {
        let path = location.strip_prefix("sqlite://").unwrap_or(location);
        if !is_postgres(location) && !Path::new(path).exists() {
            return Err(StoreError {
                store: redact_urls(location),
                reason: missing.to_string(),
            });
        }
        Store::open(location)
    }

    /// Opens (creating and migrating when needed) the store at `location`: a
    /// `postgres://` URL, or a SQLite file path.
    pub fn open(location: &str) -> Result<Store, StoreError> {
        let shown = redact_urls(location);
        let fail = |e: &(dyn std::error::Error + 'static)| StoreError {
            store: shown.clone(),
            reason: super::probe::scrub(&super::error_text(e), location),
        };
        let runtime = super::runtime().map_err(|e| fail(&e))?;
        let backend = if is_postgres(location) {
            Backend::Postgres(
                runtime
                    .block_on(super::postgres::connect(location))
                    .map_err(|e| fail(&*e))?,
            )
        } else {
            let path = location.strip_prefix("sqlite://").unwrap_or(location);
            Backend::Sqlite(runtime.block_on(super::sqlite::connect(path)).map_err(|e| fail(&*e))?)
        };
        Ok(Store {
            backend,
            shown,
            series: Mutex::new(HashMap::new()),
            runtime,
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

    /// Runs `work` on the store's runtime, telling its failure as a [`StoreError`].
    fn run<T>(&self, work: impl std::future::Future<Output = Result<T, Failure>>) -> Result<T, StoreError> {
        self.runtime.block_on(work).map_err(|e| self.error(&e))
    }

    fn error(&self, e: &Failure) -> StoreError {
        StoreError {
            store: self.shown.clone(),
            reason: redact_urls(&e.reason()),
        }
    }

    /// The id of a (service, instance) series this store has already looked
    /// up or added in a committed ingest.
    fn known_series(&self, key: &(String, String)) -> Result<Option<i64>, Failure> {
        let series = self.series.lock().map_err(|e| Failure::Bad(e.to_string()))?;
        Ok(series.get(key).copied())
    }

    /// Adds the series of a committed ingest to the cache.
    fn remember_series(&self, committed: HashMap<(String, String), i64>) -> Result<(), Failure> {
        let mut series = self.series.lock().map_err(|e| Failure::Bad(e.to_string()))?;
        series.extend(committed);
        Ok(())
    }

    /// Stores the samples of `batches` in one transaction, committed only when
    /// `keep()` says so after the last batch: all or nothing. `keep` is where
    /// the producer of the batches is asked how it ended: a producer that
    /// failed or panicked answers no, and the transaction is rolled back.
    pub fn ingest(
        &self,
        batches: &mut dyn Iterator<Item = Batch>,
        keep: impl FnOnce() -> bool,
    ) -> Result<Option<IngestCounts>, StoreError> {
        self.run(async move {
            per_backend!(&self.backend, |pool, dialect| {
                let mut counts = IngestCounts::default();
                let mut ids: HashMap<u32, i64> = HashMap::new();
                // Series added by this transaction: known to the cache only once
                // it commits (a rolled-back id names no series).
                let mut fresh: HashMap<(String, String), i64> = HashMap::new();
                let mut tx = pool.begin().await?;
                let mut staging = dialect::create_staging(&mut tx).await?;
                for batch in batches {
                    // New series first (no other statement may run during a COPY).
                    for (local, service, instance) in &batch.new_series {
                        let key = (service.clone(), instance.clone());
                        let id = match self.known_series(&key)?.or_else(|| fresh.get(&key).copied()) {
                            Some(id) => id,
                            None => {
                                sqlx::query(ADD_SERIES)
                                    .bind(service)
                                    .bind(instance)
                                    .execute(&mut *tx)
                                    .await?;
                                let id: i64 = sqlx::query_scalar(SERIES_ID)
                                    .bind(service)
                                    .bind(instance)
                                    .fetch_one(&mut *tx)
                                    .await?;
                                fresh.insert(key, id);
                                id
                            }
                        };
                        ids.insert(*local, id);
                    }
                    let rows = resolve(&batch, &ids).map_err(Failure::Bad)?;
                    counts.rows += rows.len() as u64;
                    dialect::stage(&mut tx, &rows, &mut staging).await?;
                }
                if !keep() {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let overlaps = dialect::may_overlap(&mut tx).await?;
                let (same, conflicts): (i64, i64) = if overlaps {
                    sqlx::query_as(COMPARE_STAGED).fetch_one(&mut *tx).await?
                } else {
                    (0, 0)
                };
                let stored = dialect::insert_staged(&mut tx, staging, overlaps).await?;
                tx.commit().await?;
                self.remember_series(fresh)?;
                dialect::after_commit(pool, stored).await?;
                counts.stored = stored;
                counts.already_present = count(same)?;
                counts.conflicts = count(conflicts)?;
                Ok::<_, Failure>(Some(counts))
            })
        })
    }

    /// Every stored sample with `from ≤ ts < to`, in time order, with its
    /// service and instance, handed to `sink`.
    pub fn samples(
        &self,
        from: i64,
        to: i64,
        sink: &mut dyn FnMut(&str, &str, StoredSample),
    ) -> Result<u64, StoreError> {
        use futures_util::TryStreamExt;
        self.run(async move {
            per_backend!(&self.backend, |pool| {
                let mut n = 0u64;
                let mut rows = sqlx::query(SAMPLES_BETWEEN).bind(from).bind(to).fetch(pool);
                while let Some(row) = rows.try_next().await? {
                    let service: String = row.try_get(0)?;
                    let instance: String = row.try_get(1)?;
                    let sample = StoredSample {
                        series: row.try_get(2)?,
                        ts: row.try_get(3)?,
                        pool_size: row.try_get(4)?,
                        checked_out: row.try_get(5)?,
                        max_overflow: row.try_get(6)?,
                        waiting: row.try_get(7)?,
                        timeouts: row.try_get(8)?,
                    };
                    sink(&service, &instance, sample);
                    n += 1;
                }
                Ok(n)
            })
        })
    }

    /// Every instance with a stored sample at `from ≤ ts < to`: its service,
    /// instance, first and last sample time there, by service and instance.
    pub fn instance_spans(&self, from: i64, to: i64) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        self.run(async move {
            per_backend!(&self.backend, |pool| {
                let rows = sqlx::query(INSTANCE_SPANS).bind(from).bind(to).fetch_all(pool).await?;
                rows.iter()
                    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()
                    .map_err(Into::into)
            })
        })
    }

    /// Stores a slow-log digest for a period and source — the report (JSON)
    /// and the mergeable form (text, [`crate::analyze::digest::StoredDigest`])
    /// — replacing an earlier one of the same pair (a re-ingest of the same log).
    pub fn record_digest(
        &self,
        period: &str,
        source: &str,
        report: &serde_json::Value,
        mergeable: &str,
    ) -> Result<(), StoreError> {
        self.record(|r| r.digest, &[period, source, &report.to_string(), mergeable])
    }

    /// The stored slow-log digests of the periods `from` to `to` (YYYY-MM,
    /// inclusive), ordered by period and then source byte by byte (the same
    /// order on every backend): (period, source, mergeable form — `None` for
    /// a digest stored by a poolcap before the form existed).
    pub fn slowlog_digests(&self, from: &str, to: &str) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        let mut rows: Vec<(String, String, Option<String>)> = self.run(async move {
            per_backend!(&self.backend, |pool, dialect| {
                Ok::<_, Failure>(
                    sqlx::query_as(dialect::SLOWLOG_DIGESTS)
                        .bind(from)
                        .bind(to)
                        .fetch_all(pool)
                        .await?,
                )
            })
        })?;
        rows.sort_by(|a, b| (&a.0, a.1.as_bytes()).cmp(&(&b.0, b.1.as_bytes())));
        Ok(rows)
    }

    /// Stores a service's decision for a month (the plan JSON of that service),
    /// replacing an earlier one.
    pub fn record_decision(&self, service: &str, month: &str, plan: &serde_json::Value) -> Result<(), StoreError> {
        self.record(|r| r.decision, &[service, month, &plan.to_string()])
    }

    /// Records what `apply` or `override` wrote (idempotent by entry id).
    pub fn record_change(
        &self,
        id: &str,
        service: &str,
        kind: &str,
        change: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.record(|r| r.change, &[id, service, kind, &change.to_string()])
    }

    /// Records a load test's report for a service and month (idempotent by id).
    pub fn record_loadtest(
        &self,
        id: &str,
        service: &str,
        month: &str,
        report: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.record(|r| r.loadtest, &[id, service, month, &report.to_string()])
    }

    /// The load-test reports recorded for `service` and `month`, oldest first.
    pub fn loadtest_runs(&self, service: &str, month: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows: Vec<(String,)> = self.run(async move {
            per_backend!(&self.backend, |pool, dialect| {
                Ok::<_, Failure>(
                    sqlx::query_as(dialect::LOADTEST_RUNS)
                        .bind(service)
                        .bind(month)
                        .fetch_all(pool)
                        .await?,
                )
            })
        })?;
        rows.into_iter()
            .map(|(report,)| {
                serde_json::from_str(&report).map_err(|e| {
                    self.error(&Failure::Bad(format!(
                        "a load-test report of {service} for {month} is not JSON: {e}"
                    )))
                })
            })
            .collect()
    }

    /// Runs the backend's record statement that `which` picks with `args`,
    /// and the time last where the backend takes it from the client.
    fn record(&self, which: fn(&Records) -> &'static str, args: &[&str]) -> Result<(), StoreError> {
        self.run(async move {
            per_backend!(&self.backend, |pool, dialect| {
                let mut q = sqlx::query(which(&dialect::RECORDS));
                for arg in args {
                    q = q.bind(*arg);
                }
                if dialect::RECORDS.client_clock {
                    q = q.bind(now());
                }
                q.execute(pool).await?;
                Ok::<_, Failure>(())
            })
        })
    }

    /// Counts of stored slow-log digests and decisions: (digests, decisions).
    pub fn counts(&self) -> Result<(i64, i64), StoreError> {
        self.run(async move {
            per_backend!(&self.backend, |pool| {
                Ok::<_, Failure>(sqlx::query_as(COUNTS).fetch_one(pool).await?)
            })
        })
    }

    /// Changes recorded for `service`, oldest first: (id, kind).
    pub fn changes(&self, service: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.run(async move {
            per_backend!(&self.backend, |pool| {
                Ok::<_, Failure>(sqlx::query_as(CHANGES_OF).bind(service).fetch_all(pool).await?)
            })
        })
    }

    /// The stored decisions, newest month first (then by service), as
    /// [`HistoryFilter`] narrows them.
    pub fn decisions(&self, filter: &HistoryFilter) -> Result<Vec<StoredDecision>, StoreError> {
        let rows: Vec<(String, String, String, String)> = self.run(async move {
            per_backend!(&self.backend, |pool, dialect| {
                Ok::<_, Failure>(
                    filtered(sqlx::query_as(dialect::DECISIONS), filter)
                        .fetch_all(pool)
                        .await?,
                )
            })
        })?;
        rows.into_iter()
            .map(|(service, month, decided_at, plan)| {
                let plan = serde_json::from_str(&plan).map_err(|e| {
                    self.error(&Failure::Bad(format!(
                        "the decision of {service} for {month} is not JSON: {e}"
                    )))
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
    pub fn change_entries(&self, filter: &HistoryFilter) -> Result<Vec<StoredChange>, StoreError> {
        let rows: Vec<(String, String, String, String, String)> = self.run(async move {
            per_backend!(&self.backend, |pool, dialect| {
                Ok::<_, Failure>(
                    filtered(sqlx::query_as(dialect::CHANGES), filter)
                        .fetch_all(pool)
                        .await?,
                )
            })
        })?;
        rows.into_iter()
            .map(|(id, service, kind, applied_at, change)| {
                let change = serde_json::from_str(&change)
                    .map_err(|e| self.error(&Failure::Bad(format!("the change {id} is not JSON: {e}"))))?;
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

    /// Every series' estimated `max_gap` over `read_from ≤ ts < read_to`
    /// (3 × the median of its first ten intervals there, as the analysis
    /// estimates it; `rules.fallback_max_gap` for a series with fewer than two
    /// samples), by service and instance. Empty for a SQLite store.
    pub fn series_max_gaps(
        &self,
        read_from: i64,
        read_to: i64,
        rules: &Aggregation,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(Vec::new());
        };
        use super::postgres as pg;
        self.run(async {
            let series = pg::all_series(pool).await?;
            let ids: Vec<i32> = series.iter().map(|s| s.0).collect();
            let gaps: HashMap<i32, i64> = pg::max_gaps(pool, &ids, (read_from, read_to), rules.fallback_max_gap)
                .await?
                .into_iter()
                .collect();
            Ok(series
                .into_iter()
                .filter_map(|(id, service, instance)| gaps.get(&id).map(|g| (service, instance, *g)))
                .collect())
        })
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
    pub fn service_stats_sql(
        &self,
        service: &str,
        read: (i64, i64),
        windows: &[(i64, i64)],
        max_gap: Option<i64>,
        rules: &Aggregation,
    ) -> Result<Option<Vec<crate::model::stats::WindowStats>>, StoreError> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        use super::postgres as pg;
        self.run(async {
            let ids: Vec<i32> = sqlx::query_scalar("SELECT id FROM series WHERE service = $1 ORDER BY id")
                .bind(service)
                .fetch_all(pool)
                .await?;
            let gaps = match max_gap {
                Some(g) => ids.iter().map(|&id| (id, g)).collect(),
                None => pg::max_gaps(pool, &ids, read, rules.fallback_max_gap).await?,
            };
            pg::service_stats(pool, &ids, read.0, windows, gaps, rules.thresholds)
                .await
                .map(Some)
        })
    }

    /// Closes the store's connections (as dropping it does).
    pub fn close(self) {}
}

impl Drop for Store {
    fn drop(&mut self) {
        per_backend!(&self.backend, |pool| self.runtime.block_on(pool.close()));
    }
}

/// A history query with its filter bound: $1 service, $2 since, $3 until.
fn filtered<'q, DB, O>(
    q: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments>,
    filter: &'q HistoryFilter,
) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(filter.service.as_deref())
        .bind(filter.since.as_deref())
        .bind(filter.until.as_deref())
}

/// Now, RFC 3339 in UTC, for the stores that take the time from the client.
fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// A count from the database, checked into an unsigned one.
fn count(n: i64) -> Result<u64, Failure> {
    u64::try_from(n).map_err(|_| Failure::Bad(format!("the store counted {n} rows")))
}

/// The batch's samples with store series ids. Values are checked into the
/// store's integer columns, never wrapped: the readers keep them within
/// [`crate::model::limits`], so a failure here is a bug, reported as such.
pub(super) fn resolve(batch: &Batch, ids: &HashMap<u32, i64>) -> Result<Vec<StoredSample>, String> {
    let column =
        |name: &str, v: u32| i32::try_from(v).map_err(|_| format!("{name} {v} does not fit the store's column"));
    batch
        .samples
        .iter()
        .map(|s| {
            Ok(StoredSample {
                series: *ids
                    .get(&s.series)
                    .ok_or_else(|| format!("a sample names series {} before the batch announced it", s.series))?,
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

/// The default store of a config: `poolcap.db` beside it.
pub fn default_location(config: &Path) -> String {
    let dir = match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    dir.join("poolcap.db").display().to_string()
}

#[cfg(test)]
mod tests;
