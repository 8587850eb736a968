//! The statistics of one window — an instance's or a service's month —
//! whether the analysis computed them from the samples or the store's SQL
//! computed them where the data lives. One type, and it serializes itself as
//! the `stats` object of `plan.json` (ratios rounded to 6 decimals, the
//! seconds above each reported threshold keyed `"0.60"`, `"0.80"`, `"0.90"`).

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::window::Window;

/// The fixed thresholds every statistics block reports time above.
pub const REPORTED_THRESHOLDS: [f64; 3] = [0.60, 0.80, 0.90];

/// Statistics of one window (an instance's or a service's).
/// Statistics computed by the store's SQL (earlier months of a PostgreSQL
/// store) carry the utilization figures only: `saturated_seconds`,
/// `timeouts`, `waiting_seconds` and `max_waiting` are 0 there.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowStats {
    /// The window.
    pub window: Window,
    /// Seconds covered by samples.
    pub covered_seconds: i64,
    /// covered / window length.
    pub coverage: f64,
    /// Time-weighted mean utilization.
    pub mean_utilization: f64,
    /// Time-weighted median.
    pub p50_utilization: f64,
    /// Time-weighted 95th percentile.
    pub p95_utilization: f64,
    /// Time-weighted 99th percentile.
    pub p99_utilization: f64,
    /// Highest utilization.
    pub max_utilization: f64,
    /// Time-weighted mean of connections checked out.
    pub mean_checked_out: f64,
    /// Seconds above each of [`REPORTED_THRESHOLDS`].
    pub seconds_above: [i64; 3],
    /// Seconds with a pool at `pool_size + max_overflow` (service: any pool).
    pub saturated_seconds: i64,
    /// Pool timeout errors (increase of the cumulative counter).
    pub timeouts: u64,
    /// Seconds with callers waiting (service: summed over instances).
    pub waiting_seconds: i64,
    /// Most callers seen waiting at once in one pool.
    pub max_waiting: u32,
    /// Samples inside the window.
    pub samples: u64,
}

impl WindowStats {
    /// No data yet for `window`.
    pub fn empty(window: Window) -> Self {
        WindowStats {
            window,
            covered_seconds: 0,
            coverage: 0.0,
            mean_utilization: 0.0,
            p50_utilization: 0.0,
            p95_utilization: 0.0,
            p99_utilization: 0.0,
            max_utilization: 0.0,
            mean_checked_out: 0.0,
            seconds_above: [0; 3],
            saturated_seconds: 0,
            timeouts: 0,
            waiting_seconds: 0,
            max_waiting: 0,
            samples: 0,
        }
    }

    /// Sets the covered seconds and the coverage they give of the window.
    pub fn set_covered(&mut self, seconds: i64) {
        self.covered_seconds = seconds;
        self.coverage = if self.window.seconds() > 0 {
            seconds as f64 / self.window.seconds() as f64
        } else {
            0.0
        };
    }
}

/// A probability as reports print it: `0`, or one decimal of scientific
/// notation (`3.2e-5`).
pub fn probability_text(p: f64) -> String {
    if p == 0.0 { "0".to_string() } else { format!("{p:.1e}") }
}

/// `x` rounded to 6 decimals, as every ratio of the JSON output is.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl Serialize for WindowStats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let above: std::collections::BTreeMap<String, i64> = REPORTED_THRESHOLDS
            .iter()
            .zip(self.seconds_above)
            .map(|(t, s)| (format!("{t:.2}"), s))
            .collect();
        let mut s = serializer.serialize_struct("WindowStats", 14)?;
        s.serialize_field("mean_utilization", &round6(self.mean_utilization))?;
        s.serialize_field("p50_utilization", &round6(self.p50_utilization))?;
        s.serialize_field("p95_utilization", &round6(self.p95_utilization))?;
        s.serialize_field("p99_utilization", &round6(self.p99_utilization))?;
        s.serialize_field("max_utilization", &round6(self.max_utilization))?;
        s.serialize_field("mean_checked_out", &round6(self.mean_checked_out))?;
        s.serialize_field("coverage", &round6(self.coverage))?;
        s.serialize_field("covered_seconds", &self.covered_seconds)?;
        s.serialize_field("seconds_above", &above)?;
        s.serialize_field("saturated_seconds", &self.saturated_seconds)?;
        s.serialize_field("timeouts", &self.timeouts)?;
        s.serialize_field("waiting_seconds", &self.waiting_seconds)?;
        s.serialize_field("max_waiting", &self.max_waiting)?;
        s.serialize_field("samples", &self.samples)?;
        s.end()
    }
}
