//! The values the history store takes and gives back, and its error.

use serde::Serialize;

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

/// A batch of parsed samples for [`super::Store::ingest`], with the series
/// first seen in it (the parser's local id, service, instance).
#[derive(Debug, Default)]
pub struct Batch {
    /// Series first seen in this batch.
    pub new_series: Vec<(u32, String, String)>,
    /// Samples (their `series` is the parser's local id).
    pub samples: Vec<crate::ingest::Sample>,
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

/// The analysis' own constants that the aggregation in SQL reproduces; the
/// caller passes them (the store comes before the analysis and knows none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregation {
    /// `max_gap` of a series with fewer than two samples to estimate it from.
    pub fallback_max_gap: i64,
    /// The utilization thresholds of [`WindowStats::seconds_above`](crate::model::stats::WindowStats::seconds_above).
    pub thresholds: [f64; 3],
}
