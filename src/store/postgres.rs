//! What the PostgreSQL history store does its own way: connecting (one direct
//! connection first, so a refused server fails at once), its migrations, the
//! staging load by COPY with each sample's predecessor (migration 0004), the
//! overlap check under an advisory lock, the inserts that keep those links,
//! its upserts (the server's clock, JSONB columns), the `history` queries,
//! and the monthly aggregation in SQL. Everything else is in
//! [`super::history`].
//!
//! The ingest functions' names match [`super::sqlite`]'s one for one: the
//! shared code calls `dialect::stage(…)` and is compiled once per backend.

use std::collections::HashMap;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Row};

use super::history::{Failure, Records, StoredSample};
use crate::model::stats::WindowStats;
use crate::model::window::Window;

/// The record statements: JSONB columns, and the server's clock.
pub(super) const RECORDS: Records = Records {
    digest: "INSERT INTO slowlog_digests (period, source, digest, mergeable) VALUES ($1, $2, $3::jsonb, $4) \
             ON CONFLICT (period, source) DO UPDATE SET digest = excluded.digest, mergeable = excluded.mergeable, \
             ingested_at = now()",
    decision: "INSERT INTO decisions (service, month, plan) VALUES ($1, $2, $3::jsonb) \
               ON CONFLICT (service, month) DO UPDATE SET plan = excluded.plan, decided_at = now()",
    change: "INSERT INTO applied_changes (id, service, kind, change) VALUES ($1, $2, $3, $4::jsonb) \
             ON CONFLICT DO NOTHING",
    loadtest: "INSERT INTO loadtest_runs (id, service, month, report) VALUES ($1, $2, $3, $4::jsonb) \
               ON CONFLICT DO NOTHING",
    client_clock: false,
};

/// Stored slow-log digests of the periods `$1` to `$2` (inclusive, YYYY-MM):
/// (period, source, mergeable form or NULL).
pub(super) const SLOWLOG_DIGESTS: &str =
    "SELECT period, source, mergeable FROM slowlog_digests WHERE period >= $1 AND period <= $2";

/// Load-test reports of a service and month, oldest first.
pub(super) const LOADTEST_RUNS: &str =
    "SELECT report::text FROM loadtest_runs WHERE service = $1 AND month = $2 ORDER BY recorded_at, id";

/// Decisions for `history`.
pub(super) const DECISIONS: &str = include_str!("sql/postgres/decisions.sql");

/// Changes for `history`.
pub(super) const CHANGES: &str = include_str!("sql/postgres/changes.sql");

const INSERT_IN_FILE_ORDER: &str = include_str!("sql/postgres/insert_in_file_order.sql");
const INSERT_NEW: &str = include_str!("sql/postgres/insert_new.sql");
const INSERT_OVERLAPPING: &str = include_str!("sql/postgres/insert_overlapping.sql");
const LINK_FIRST: &str = include_str!("sql/postgres/link_first.sql");
const LINK_AFTER_LAST: &str = include_str!("sql/postgres/link_after_last.sql");
const RELINK_RANGES: &str = include_str!("sql/postgres/relink_ranges.sql");
const MAX_GAPS: &str = include_str!("sql/postgres/max_gaps.sql");
const SERVICE_STATS: &str = include_str!("sql/postgres/service_stats.sql");

/// An ingest storing at least this many rows refreshes the planner's
/// statistics of `samples`.
const ANALYZE_AFTER_ROWS: u64 = 100_000;

/// Bytes of COPY text gathered before they are sent.
const COPY_BUFFER: usize = 1 << 20;

/// Connects to the PostgreSQL store at `url` and migrates it.
pub(super) async fn connect(url: &str) -> Result<PgPool, Box<dyn std::error::Error + Send + Sync>> {
    let opts = PgConnectOptions::from_str(url)?;
    // One direct connection first: a refused or unknown server fails at
    // once with its own error, where the pool would retry for its
    // acquire timeout and then say only that it timed out.
    use sqlx::Connection as _;
    PgConnection::connect_with(&opts).await?.close().await?;
    let pool = PgPoolOptions::new().max_connections(4).connect_with(opts).await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(pool)
}

/// A sample as its successor's predecessor: (ts, checked_out, pool_size).
type Link = (i64, i32, i32);

/// The staging load's state.
#[derive(Default)]
pub(super) struct Staging {
    /// COPY text not yet sent.
    buf: String,
    /// Each series' first time in this file and its latest sample so far
    /// (the predecessor of the next one while the file is in time order per
    /// series, as exports are).
    spans: HashMap<i64, (i64, Link)>,
    /// Whether every series came in time order.
    out_of_order: bool,
}

/// An empty staging table, dropped at commit.
pub(super) async fn create_staging(tx: &mut PgConnection) -> Result<Staging, Failure> {
    sqlx::query(
        "CREATE TEMP TABLE staging (series INTEGER, ts BIGINT, pool_size INTEGER, checked_out INTEGER, \
         max_overflow INTEGER, waiting INTEGER, timeouts BIGINT, \
         prev_ts BIGINT, prev_checked_out INTEGER, prev_pool_size INTEGER) ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await?;
    Ok(Staging {
        buf: String::with_capacity(COPY_BUFFER),
        ..Staging::default()
    })
}

/// Adds `rows` to staging in one COPY, each with its predecessor in the file.
pub(super) async fn stage(tx: &mut PgConnection, rows: &[StoredSample], st: &mut Staging) -> Result<(), Failure> {
    let mut copy = tx.copy_in_raw("COPY staging FROM STDIN").await?;
    for r in rows {
        let prev = match st.spans.get_mut(&r.series) {
            Some((first, latest)) => {
                let prev = *latest;
                if r.ts <= prev.0 {
                    st.out_of_order = true;
                }
                *first = (*first).min(r.ts);
                if r.ts > latest.0 {
                    *latest = (r.ts, r.checked_out, r.pool_size);
                }
                Some(prev)
            }
            None => {
                st.spans.insert(r.series, (r.ts, (r.ts, r.checked_out, r.pool_size)));
                None
            }
        };
        copy_row(&mut st.buf, r, prev);
        if st.buf.len() > COPY_BUFFER {
            copy.send(st.buf.as_bytes()).await?;
            st.buf.clear();
        }
    }
    copy.send(st.buf.as_bytes()).await?;
    st.buf.clear();
    copy.finish().await?;
    Ok(())
}

/// Takes the ingest lock (one ingest at a time from here to commit, so the
/// answer stays true until this transaction's rows are in) and says whether
/// any stored sample lies within the staged rows' time span.
pub(super) async fn may_overlap(tx: &mut PgConnection) -> Result<bool, Failure> {
    sqlx::query("SELECT pg_advisory_xact_lock(7061110112)")
        .execute(&mut *tx)
        .await?;
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM samples s, (SELECT min(ts) lo, max(ts) hi FROM staging) r \
         WHERE s.ts BETWEEN r.lo AND r.hi)",
    )
    .fetch_one(&mut *tx)
    .await?)
}

/// Moves the staged rows into `samples`, keeping the stored ones, and mends
/// the predecessor links at the edges; the number stored.
pub(super) async fn insert_staged(tx: &mut PgConnection, st: Staging, overlaps: bool) -> Result<u64, Failure> {
    // Without overlap no stored key can clash: a plain insert (duplicates
    // within the file dropped) is twice as fast as ON CONFLICT's
    // speculative insertion. Each row takes its predecessor within the
    // file; the links across the file's edges are mended below. A file
    // in time order per series goes in as it is: its links are made
    // while staging, and the table stays in time order, which the monthly
    // aggregation's parallel scan needs (each worker then sees its own
    // stretch of time: 535 k groups in all instead of 535 k each).
    let insert = match (overlaps, st.out_of_order) {
        (true, _) => INSERT_OVERLAPPING,
        (false, false) => INSERT_IN_FILE_ORDER,
        (false, true) => INSERT_NEW,
    };
    let stored = sqlx::query(insert).execute(&mut *tx).await?.rows_affected();
    if stored == 0 {
        return Ok(0);
    }
    let mut spans: Vec<(i64, (i64, Link))> = st.spans.into_iter().collect();
    spans.sort_unstable();
    let series = spans
        .iter()
        .map(|(s, _)| {
            i32::try_from(*s).map_err(|_| Failure::Bad(format!("series id {s} does not fit the store's column")))
        })
        .collect::<Result<Vec<i32>, _>>()?;
    let first: Vec<i64> = spans.iter().map(|(_, (first, _))| *first).collect();
    let last: Vec<i64> = spans.iter().map(|(_, (_, latest))| latest.0).collect();
    let mend: &[&str] = if overlaps {
        &[RELINK_RANGES]
    } else {
        &[LINK_FIRST, LINK_AFTER_LAST]
    };
    for sql in mend {
        sqlx::query(*sql)
            .bind(&series)
            .bind(&first)
            .bind(&last)
            .execute(&mut *tx)
            .await?;
    }
    Ok(stored)
}

/// After the commit of an ingest: fresh statistics after a large load, so the
/// next aggregation is planned for the table's real size (autovacuum may
/// come later).
pub(super) async fn after_commit(pool: &PgPool, stored: u64) -> Result<(), Failure> {
    if stored >= ANALYZE_AFTER_ROWS {
        sqlx::query("ANALYZE samples").execute(pool).await?;
    }
    Ok(())
}

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

/// Every series: (id, service, instance), by id.
pub(super) async fn all_series(pool: &PgPool) -> Result<Vec<(i32, String, String)>, Failure> {
    Ok(sqlx::query_as("SELECT id, service, instance FROM series ORDER BY id")
        .fetch_all(pool)
        .await?)
}

/// Each series' estimated `max_gap` (see max_gaps.sql): (id, max_gap).
pub(super) async fn max_gaps(
    pool: &PgPool,
    ids: &[i32],
    read: (i64, i64),
    fallback: i64,
) -> Result<Vec<(i32, i64)>, Failure> {
    Ok(sqlx::query_as(MAX_GAPS)
        .bind(ids)
        .bind(read.0)
        .bind(read.1)
        .bind(fallback)
        .fetch_all(pool)
        .await?)
}

/// A service's statistics per window (see service_stats.sql). `windows` are
/// disjoint, `gaps` the max_gap of each of the service's series.
pub(super) async fn service_stats(
    pool: &PgPool,
    ids: &[i32],
    read_from: i64,
    windows: &[(i64, i64)],
    gaps: Vec<(i32, i64)>,
    thresholds: [f64; 3],
) -> Result<Vec<WindowStats>, Failure> {
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| windows[i]);
    if order.windows(2).any(|w| windows[w[0]].1 > windows[w[1]].0) || windows.is_empty() {
        return Err(Failure::Bad(
            "service_stats_sql needs one or more disjoint windows".into(),
        ));
    }
    let starts: Vec<i64> = order.iter().map(|&i| windows[i].0).collect();
    let ends: Vec<i64> = order.iter().map(|&i| windows[i].1).collect();
    // max_gap by series id (PostgreSQL arrays start at 1, like the ids).
    let slot = |id: i32| {
        usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .ok_or_else(|| Failure::Bad(format!("series id {id} is not a positive number")))
    };
    let mut gap_by_id: Vec<Option<i64>> = Vec::new();
    for (id, gap) in gaps {
        let i = slot(id)?;
        if gap_by_id.len() <= i {
            gap_by_id.resize(i + 1, None);
        }
        gap_by_id[i] = Some(gap);
    }
    let mut tx = pool.begin().await?;
    // Hash tables in memory; JIT without its optimizer and inliner, whose
    // compile time costs more than they save here (benchmark month: 5.3 s
    // with both, 4.5 s without).
    for setting in [
        "SET LOCAL work_mem = '256MB'",
        "SET LOCAL jit_inline_above_cost = -1",
        "SET LOCAL jit_optimize_above_cost = -1",
    ] {
        sqlx::query(setting).execute(&mut *tx).await?;
    }
    let rows = sqlx::query(SERVICE_STATS)
        .bind(ids)
        .bind(read_from)
        .bind(&starts)
        .bind(&ends)
        .bind(&gap_by_id)
        .bind(thresholds.to_vec())
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut stats = vec![None; windows.len()];
    for (row, &i) in rows.iter().zip(&order) {
        let get_i = |k: usize| row.try_get::<i64, _>(k);
        let get_f = |k: usize| row.try_get::<f64, _>(k);
        let samples = get_i(10)?;
        // The time-weighted figures only: saturation, timeouts and waiting
        // are the reviewed month's concern and stay zero.
        let (start, end) = windows[i];
        let mut w = WindowStats::empty(Window { start, end });
        w.set_covered(get_i(0)?);
        w.mean_utilization = get_f(1)?;
        w.p50_utilization = get_f(2)?;
        w.p95_utilization = get_f(3)?;
        w.p99_utilization = get_f(4)?;
        w.max_utilization = get_f(5)?;
        w.mean_checked_out = get_f(6)?;
        w.seconds_above = [get_i(7)?, get_i(8)?, get_i(9)?];
        w.samples =
            u64::try_from(samples).map_err(|_| Failure::Bad(format!("the aggregation counted {samples} samples")))?;
        stats[i] = Some(w);
    }
    stats
        .into_iter()
        .map(|s| s.ok_or_else(|| Failure::Bad("the aggregation returned fewer windows than asked".into())))
        .collect()
}
