//! Provenance: what a decision was made from — each input file with its
//! digest, counts and time span — in the form `plan.json`, the review and the
//! change log record and `verify` checks (docs/verify.md).

use serde::{Deserialize, Serialize};

/// One input file of a decision, as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// `metrics` or `slowlog`.
    pub kind: String,
    /// The path as given on the command line (a folder's files each on their own).
    pub path: String,
    /// SHA-256 of the file's bytes as stored (before decompression).
    pub sha256: String,
    /// Bytes on disk.
    pub bytes: u64,
    /// Rows (metrics) or statements (slow logs) read.
    pub rows: u64,
    /// Of those, used: samples the analysis took, statements in the month.
    pub used: u64,
    /// Of those, rejected as bad.
    pub rejected: u64,
    /// The first and last used sample or statement time, RFC 3339 UTC.
    pub first: Option<String>,
    /// See `first`.
    pub last: Option<String>,
}

/// A file read whole for a decision (the config): its path and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// The path as the config or command line names it.
    pub path: String,
    /// SHA-256 of its bytes (`None`: it did not exist).
    pub sha256: Option<String>,
    /// Bytes on disk (0 when missing).
    pub bytes: u64,
}

/// Unix seconds (or milliseconds with `millis`) as RFC 3339 UTC.
pub fn rfc3339(ts: i64, millis: bool) -> Option<String> {
    let t = if millis {
        jiff::Timestamp::from_millisecond(ts).ok()?
    } else {
        jiff::Timestamp::from_second(ts).ok()?
    };
    Some(t.to_string())
}

/// Samples read back from a history store for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRecord {
    /// The store, any password replaced.
    pub store: String,
    /// The query's window, RFC 3339 UTC (`from` inclusive, `to` exclusive).
    pub from: String,
    /// See `from`.
    pub to: String,
    /// Rows read.
    pub rows: u64,
    /// Of those, used by the analysis.
    pub used: u64,
    /// Order-independent digest of the used rows (docs/verify.md): the sum
    /// modulo 2²⁵⁶ of the SHA-256 of each row's canonical text.
    pub rows_digest: String,
    /// The earlier months a PostgreSQL store aggregated in SQL, whose rows
    /// the digest does not cover (their statistics are in the plan).
    pub aggregated_in_database: Vec<String>,
    /// The month's slow-log digests read from the store (no `--slowlog`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slowlog_digests: Vec<StoredDigestRecord>,
}

/// Samples read from a Prometheus server (`--prometheus`) for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrometheusRecord {
    /// The server, without credentials.
    pub server: String,
    /// The series selector every query used (metric names and `[prometheus] selector`).
    pub selector: String,
    /// Seconds between the points asked for.
    pub step_seconds: i64,
    /// The window asked for, RFC 3339 UTC (`from` inclusive, `to` exclusive).
    pub from: String,
    /// See `from`.
    pub to: String,
    /// Range queries sent for the samples.
    pub queries: u64,
    /// HTTP requests answered in all: the series listing, the step check,
    /// the range queries and the history's instant queries.
    pub requests: u64,
    /// Bytes transferred (as sent, compressed).
    pub bytes: u64,
    /// Series the queries returned.
    pub series: u64,
    /// Points read.
    pub rows: u64,
    /// Samples the analysis used.
    pub used: u64,
    /// Order-independent digest of the used samples, as for a store.
    pub rows_digest: String,
    /// The earlier months whose statistics the server computed (their
    /// samples were not read; the digest does not cover them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aggregated_in_server: Vec<String>,
}

/// A slow-log digest read back from the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDigestRecord {
    /// The month, YYYY-MM.
    pub period: String,
    /// The log it was made from, as given to `ingest slowlog`.
    pub source: String,
    /// SHA-256 of its stored (mergeable) form.
    pub sha256: String,
    /// Its executed statements.
    pub statements: u64,
}

/// What a decision was made from, as `plan.json` (and so the review and
/// `verify`) records it: enough to read the same inputs again and to tell
/// whether they are still the same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The poolcap version that decided.
    pub poolcap: String,
    /// The request: month and flags as given.
    pub request: Request,
    /// The config file.
    pub config: FileRecord,
    /// Every policy parameter in force (the config's or the card's default).
    pub policy: PolicyRecord,
    /// Every alert rule in force.
    pub alerts: Vec<AlertRecord>,
    /// Each metrics and slow-log file read.
    pub inputs: Vec<InputRecord>,
    /// The history store the samples came from, when no metrics file was given.
    pub store: Option<StoreRecord>,
    /// The Prometheus server the samples came from (`--prometheus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusRecord>,
    /// Each target file the deployed pool was read from, per service, with
    /// the managed settings it held.
    pub targets: Vec<TargetRecord>,
}

/// The month and the flags of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The reviewed month, `YYYY-MM` (`last` resolved).
    pub month: String,
    /// `--metrics` as given (a folder stays a folder).
    pub metrics: Vec<String>,
    /// `--metrics-format`.
    pub metrics_format: String,
    /// `--service`.
    pub service: Option<String>,
    /// `--lenient`.
    pub lenient: bool,
    /// `--max-series`.
    pub max_series: usize,
    /// `--slowlog` as given.
    pub slowlog: Vec<String>,
    /// `--log-line-prefix`.
    pub log_line_prefix: Option<String>,
    /// `--input-format`.
    pub input_format: Option<String>,
    /// `--log-timezone`.
    pub log_timezone: Option<String>,
    /// `--probe`, any password replaced.
    pub probe: Option<String>,
    /// `--accept-drift`.
    pub accept_drift: bool,
    /// `--prometheus`, without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<String>,
    /// `--probe-pgbouncer`, any password replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_pgbouncer: Option<String>,
    /// `--pgbouncer-pools`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pgbouncer_pools: Vec<String>,
}

/// The policy's parameters (`[policy]`), durations in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// IANA zone.
    pub timezone: String,
    /// Monthly escalation threshold.
    pub escalate_mean_utilization: f64,
    /// Connections per escalation step.
    pub escalate_step: u32,
    /// Sustained-high threshold.
    pub sustained_utilization: f64,
    /// Seconds above it that count.
    pub sustained_for_seconds: i64,
    /// Data gate.
    pub min_coverage: f64,
    /// Sizing formula's factor.
    pub users_factor: f64,
    /// `max_overflow` factor.
    pub overflow_factor: f64,
    /// Overprovisioned threshold.
    pub overprovisioned_utilization: f64,
    /// …for this many months.
    pub overprovisioned_months: u32,
    /// Fixed `max_gap` (null: 3 × each instance's median interval).
    pub max_gap_seconds: Option<i64>,
    /// Reorder window.
    pub reorder_window_seconds: i64,
    /// Slow-query threshold.
    pub slow_query_seconds: f64,
    /// Hold time without a slow log.
    pub hold_time_seconds: f64,
    /// Queueing check's target.
    pub queue_target: f64,
    /// Simulated hours.
    pub simulate_hours: String,
    /// Hold-time shape.
    pub hold_distribution: String,
    /// Simulation seed.
    pub simulation_seed: u64,
}

/// An alert rule in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Name.
    pub name: String,
    /// Threshold on utilization.
    pub above: f64,
    /// `for:` in seconds.
    pub for_seconds: i64,
}

/// A target file of a service, as read for the deployed pool: the settings
/// poolcap manages in it, not a digest of the file — a target often holds
/// secrets (a database password beside the pool size), and a digest of a
/// file whose other bytes are known would let a weak secret be guessed
/// offline. Only the managed values inform the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRecord {
    /// The service.
    pub service: String,
    /// The file, resolved against the config's folder.
    pub path: String,
    /// Whether it existed (a target may be created by `apply`).
    pub exists: bool,
    /// Each managed setting it holds, by its key in the file, as written.
    pub values: std::collections::BTreeMap<String, String>,
}
