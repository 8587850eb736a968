//! Series matching: which sample field a series feeds, from its `__name__`
//! (the `[prometheus]` names first, then OpenTelemetry's), its service and
//! instance from its labels, and what becomes of a whole series entry
//! (kept, rejected, unknown or skipped) before its points are read.

use std::collections::BTreeMap;
use std::fmt;

use super::State;
use super::points::MAX_EXACT;
use crate::config::PrometheusSettings;
use crate::ingest::{clip, quote};

/// The sample field a recognised series feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Field {
    CheckedOut,
    CheckedIn,
    PoolSize,
    MaxOverflow,
    /// `pool_size + max_overflow` (OpenTelemetry's `…_max`).
    MaxConnections,
    Waiting,
    Timeouts,
}

impl Field {
    pub(super) fn name(self) -> &'static str {
        match self {
            Field::CheckedOut => "checked_out",
            Field::CheckedIn => "checked_in",
            Field::PoolSize => "pool_size",
            Field::MaxOverflow => "max_overflow",
            Field::MaxConnections => "max connections",
            Field::Waiting => "waiting",
            Field::Timeouts => "timeouts",
        }
    }

    /// Largest value the field takes.
    pub(super) fn limit(self) -> f64 {
        match self {
            Field::Timeouts => MAX_EXACT,
            _ => f64::from(u32::MAX),
        }
    }
}

/// What a series' name and labels make of it.
pub(super) enum Class {
    Field(Field),
    /// Known and deliberately skipped (`overflow_metric`).
    Skipped,
    /// Not a pool metric poolcap reads.
    Unknown,
}

pub(super) fn label<'a>(labels: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    labels.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

pub(super) fn classify(labels: &BTreeMap<String, String>, p: &PrometheusSettings) -> Class {
    let Some(name) = label(labels, "__name__") else {
        return Class::Unknown;
    };
    let configured = [
        (&p.checked_out_metric, Field::CheckedOut),
        (&p.pool_size_metric, Field::PoolSize),
        (&p.max_overflow_metric, Field::MaxOverflow),
        (&p.waiting_metric, Field::Waiting),
        (&p.timeouts_metric, Field::Timeouts),
        (&p.checked_in_metric, Field::CheckedIn),
    ];
    if let Some((_, field)) = configured.iter().find(|(n, _)| n.as_str() == name) {
        return Class::Field(*field);
    }
    if name == p.overflow_metric {
        return Class::Skipped;
    }
    let field = match name {
        "db_client_connection_count" | "db_client_connections_usage" => {
            match label(labels, "db_client_connection_state").or_else(|| label(labels, "state")) {
                Some("used") => Field::CheckedOut,
                Some("idle") => Field::CheckedIn,
                _ => return Class::Unknown,
            }
        }
        "db_client_connection_idle_max" | "db_client_connections_idle_max" => Field::PoolSize,
        "db_client_connection_max" | "db_client_connections_max" => Field::MaxConnections,
        "db_client_connection_pending_requests" | "db_client_connections_pending_requests" => Field::Waiting,
        "db_client_connection_timeouts"
        | "db_client_connection_timeouts_total"
        | "db_client_connections_timeouts"
        | "db_client_connections_timeouts_total" => Field::Timeouts,
        _ => return Class::Unknown,
    };
    Class::Field(field)
}

/// The OpenTelemetry metric names poolcap reads ([`classify`]), both
/// semantic-convention generations.
pub const OPENTELEMETRY_NAMES: [&str; 12] = [
    "db_client_connection_count",
    "db_client_connections_usage",
    "db_client_connection_idle_max",
    "db_client_connections_idle_max",
    "db_client_connection_max",
    "db_client_connections_max",
    "db_client_connection_pending_requests",
    "db_client_connections_pending_requests",
    "db_client_connection_timeouts",
    "db_client_connection_timeouts_total",
    "db_client_connections_timeouts",
    "db_client_connections_timeouts_total",
];

/// Every metric name whose series poolcap reads: the `[prometheus]` names
/// (not `overflow_metric`, which is skipped, nor `checked_in_metric`, which is
/// only checked) and the OpenTelemetry ones.
pub fn metric_names(p: &PrometheusSettings) -> Vec<String> {
    let mut names: Vec<String> = [
        &p.checked_out_metric,
        &p.pool_size_metric,
        &p.max_overflow_metric,
        &p.waiting_metric,
        &p.timeouts_metric,
    ]
    .into_iter()
    .cloned()
    .collect();
    names.extend(OPENTELEMETRY_NAMES.iter().map(|n| n.to_string()));
    names.dedup();
    names
}

/// `name{a="x",b="y"}`, as Prometheus writes a series.
pub(super) struct Series<'a>(&'a BTreeMap<String, String>);

impl fmt::Display for Series<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{{", self.0.get("__name__").map_or("", String::as_str))?;
        let mut first = true;
        for (k, v) in self.0.iter().filter(|(k, _)| k.as_str() != "__name__") {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// A series as errors show it: [`Series`], cut like [`clip`].
pub(super) fn series_text(labels: &BTreeMap<String, String>) -> String {
    clip(&Series(labels).to_string()).into_owned()
}

/// What becomes of a series entry, decided from its labels before its points
/// are read (Prometheus writes `metric` first).
pub(super) enum Verdict {
    /// Kept for the join: field and (service, instance).
    Keep(Field, (String, String)),
    /// Rejected whole: code and what is wrong (the point count is added).
    Reject(&'static str, String),
    /// A series poolcap does not read, named in the notice.
    Unknown(String),
    /// Known and skipped.
    Skip,
}

impl State<'_> {
    /// Decides what becomes of the series with `labels`.
    pub(super) fn verdict(&self, labels: &BTreeMap<String, String>) -> Verdict {
        let field = match classify(labels, &self.opts.prometheus) {
            Class::Field(f) => f,
            Class::Skipped => return Verdict::Skip,
            Class::Unknown => {
                return Verdict::Unknown(clip(label(labels, "__name__").unwrap_or("(no __name__)")).into_owned());
            }
        };
        let p = &self.opts.prometheus;
        let service = label(labels, &p.service_label)
            .or_else(|| label(labels, "job"))
            .or(self.opts.service.as_deref())
            .map(str::to_string);
        let Some(service) = service else {
            return Verdict::Reject(
                "missing-label",
                format!(
                    "{}: no {:?} or \"job\" label names the service (give --service)",
                    series_text(labels),
                    p.service_label
                ),
            );
        };
        let instance = label(labels, &p.instance_label)
            .or_else(|| label(labels, "db_client_connection_pool_name"))
            .or_else(|| label(labels, "pool_name"))
            .unwrap_or("default")
            .to_string();
        let key = (service, instance);
        if let Some(first) = self.groups.get(&key).and_then(|g| g.fields.get(&field)) {
            return Verdict::Reject(
                "duplicate-series",
                format!(
                    "{} is a second {} series of service {} instance {}; the first, {} at line {}, is kept",
                    series_text(labels),
                    field.name(),
                    quote(key.0.as_bytes()),
                    quote(key.1.as_bytes()),
                    first.labels,
                    first.line
                ),
            );
        }
        Verdict::Keep(field, key)
    }
}
