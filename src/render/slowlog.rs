//! The slow-query digest as JSON (schema pinned by tests), CSV and a table.
//! Raw statement text appears only with `--show-samples`: query text can carry
//! patient data.

use std::fmt::Write as _;

use serde::Serialize;

use crate::analyze::digest::FingerprintStats;
use crate::model::window::format_instant;
use crate::ops::slowlog::Digested;

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn instant(ms: i64, tz: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned_datetime(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string(),
        Err(_) => format_instant(ms / 1000, tz),
    }
}

/// `slowlog --format json`.
#[derive(Debug, Serialize)]
pub struct SlowlogReport {
    /// Executed statements (`statement:` and `execute`, not parse/bind).
    pub statements: u64,
    /// Their summed duration, ms.
    pub total_ms: f64,
    /// Adding parse and bind time (and bare durations), ms.
    pub hold_ms: f64,
    /// Parse and bind entries.
    pub parse_bind: u64,
    /// Bare `duration:` lines.
    pub bare: BareJson,
    /// MySQL administrator commands.
    pub admin_commands: u64,
    /// The review threshold, ms.
    pub threshold_ms: f64,
    /// Statements above it.
    pub over_threshold: u64,
    /// First start and last end.
    pub span: Option<SpanJson>,
    /// Σ duration / span: mean connections held by logged statements.
    pub mean_concurrency: f64,
    /// The busiest second.
    pub peak_concurrency: Option<PeakJson>,
    /// Entries outside --since/--until.
    pub filtered: u64,
    /// Distinct fingerprints.
    pub fingerprint_count: usize,
    /// The top fingerprints by total time.
    pub fingerprints: Vec<FingerprintJson>,
    /// Every fingerprint with a statement over the threshold, by total time.
    pub slow_review: Vec<FingerprintJson>,
    /// Per input file.
    pub files: Vec<FileJson>,
}

/// Bare durations.
#[derive(Debug, Serialize)]
pub struct BareJson {
    /// Lines.
    pub count: u64,
    /// Their ms.
    pub total_ms: f64,
}

/// First start and last end of the logged statements.
#[derive(Debug, Serialize)]
pub struct SpanJson {
    /// First start.
    pub first: String,
    /// Last end.
    pub last: String,
}

/// The busiest second.
#[derive(Debug, Serialize)]
pub struct PeakJson {
    /// Mean statements in flight during that second.
    pub in_flight: f64,
    /// The second.
    pub at: String,
}

/// One fingerprint.
#[derive(Debug, Serialize, Clone)]
pub struct FingerprintJson {
    /// The normalized statement.
    pub fingerprint: String,
    /// Executed statements.
    pub count: u64,
    /// Summed duration, ms.
    pub total_ms: f64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Median (±1%), ms.
    pub p50_ms: f64,
    /// 95th percentile (±1%), ms.
    pub p95_ms: f64,
    /// 99th percentile (±1%), ms.
    pub p99_ms: f64,
    /// Shortest, ms.
    pub min_ms: f64,
    /// Longest, ms.
    pub max_ms: f64,
    /// With parse and bind time, ms.
    pub hold_ms: f64,
    /// Statements over the threshold.
    pub over_threshold: u64,
    /// Mean connections this fingerprint held over the span (Little's law).
    pub mean_connections: f64,
    /// First end seen.
    pub first_seen: String,
    /// Last end seen.
    pub last_seen: String,
    /// Statements by database and user.
    pub by_database_user: Vec<DbUserJson>,
    /// Statements per hour of day (policy.timezone).
    pub hours: [u64; 24],
    /// The slowest statement (only with --show-samples).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleJson>,
}

/// Statements of one database and user.
#[derive(Debug, Serialize, Clone)]
pub struct DbUserJson {
    /// Database ("" when the log does not say).
    pub database: String,
    /// User ("" when the log does not say).
    pub user: String,
    /// Statements.
    pub count: u64,
}

/// A raw statement.
#[derive(Debug, Serialize, Clone)]
pub struct SampleJson {
    /// Its duration, ms.
    pub duration_ms: f64,
    /// Its text.
    pub text: String,
    /// Its bind parameters.
    pub parameters: Option<String>,
}

/// One input file.
#[derive(Debug, Serialize)]
pub struct FileJson {
    /// Path.
    pub path: String,
    /// Format read.
    pub format: &'static str,
    /// `log_line_prefix` used (stderr).
    pub log_line_prefix: Option<String>,
    /// Lines read.
    pub lines: u64,
    /// Entries parsed.
    pub entries: u64,
    /// Lines not understood.
    pub unrecognized: u64,
    /// Entries refused as bad records (e.g. an absurd duration).
    pub rejected: u64,
}

fn fingerprint_json(
    fp: &str,
    s: &FingerprintStats,
    span_ms: f64,
    tz: &jiff::tz::TimeZone,
    samples: bool,
) -> FingerprintJson {
    let q = |p: f64| r3(s.histogram.quantile(p).clamp(s.min_ms, s.max_ms));
    FingerprintJson {
        fingerprint: fp.to_string(),
        count: s.count,
        total_ms: r3(s.total_ms),
        mean_ms: if s.count > 0 {
            r3(s.total_ms / s.count as f64)
        } else {
            0.0
        },
        p50_ms: q(0.50),
        p95_ms: q(0.95),
        p99_ms: q(0.99),
        min_ms: r3(s.min_ms),
        max_ms: r3(s.max_ms),
        hold_ms: r3(s.hold_ms),
        over_threshold: s.over_threshold,
        mean_connections: if span_ms > 0.0 {
            (s.hold_ms / span_ms * 1e6).round() / 1e6
        } else {
            0.0
        },
        first_seen: instant(s.first_ms, tz),
        last_seen: instant(s.last_ms, tz),
        by_database_user: s
            .by_database_user
            .iter()
            .map(|(database, user, count)| DbUserJson {
                database: database.clone(),
                user: user.clone(),
                count: *count,
            })
            .collect(),
        hours: s.hours,
        sample: if samples {
            s.sample.as_ref().map(|(d, text, params)| SampleJson {
                duration_ms: r3(*d),
                text: text.clone(),
                parameters: params.clone(),
            })
        } else {
            None
        },
    }
}

impl SlowlogReport {
    /// Assembles the report: the `top` fingerprints by total time, and every slow one.
    pub fn new(d: &Digested, tz: &jiff::tz::TimeZone, top: usize, samples: bool) -> Self {
        let g = &d.digest;
        let span_ms = g.span.map_or(0.0, |(a, b)| (b - a) as f64);
        let mut ranked: Vec<(&String, &FingerprintStats)> = g.fingerprints().filter(|(_, s)| s.count > 0).collect();
        ranked.sort_by(|a, b| b.1.total_ms.total_cmp(&a.1.total_ms).then_with(|| a.0.cmp(b.0)));
        let to_json = |(fp, s): &(&String, &FingerprintStats)| fingerprint_json(fp, s, span_ms, tz, samples);
        SlowlogReport {
            statements: g.statements,
            total_ms: r3(g.total_ms),
            hold_ms: r3(g.hold_ms),
            parse_bind: g.parse_bind,
            bare: BareJson {
                count: g.bare.0,
                total_ms: r3(g.bare.1),
            },
            admin_commands: g.admin,
            threshold_ms: r3(g.settings().threshold_ms),
            over_threshold: g.over_threshold,
            span: g.span.map(|(a, b)| SpanJson {
                first: instant(a, tz),
                last: instant(b, tz),
            }),
            mean_concurrency: (g.mean_concurrency() * 1e6).round() / 1e6,
            peak_concurrency: g.in_flight.peak().map(|(second, v)| PeakJson {
                in_flight: r3(v),
                at: instant(second * 1000, tz),
            }),
            filtered: g.filtered,
            fingerprint_count: ranked.len(),
            fingerprints: ranked.iter().take(top).map(to_json).collect(),
            slow_review: ranked
                .iter()
                .filter(|(_, s)| s.over_threshold > 0)
                .map(to_json)
                .collect(),
            files: d
                .files
                .iter()
                .map(|f| FileJson {
                    path: f.path.display().to_string(),
                    format: f.format.name(),
                    log_line_prefix: f.prefix.clone(),
                    lines: f.stats.lines,
                    entries: f.stats.entries,
                    unrecognized: f.stats.unrecognized,
                    rejected: f.stats.rejected,
                })
                .collect(),
        }
    }
}

/// The top fingerprints as CSV rows.
pub fn csv(report: &SlowlogReport) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "fingerprint",
        "count",
        "total_ms",
        "mean_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "hold_ms",
        "over_threshold",
        "mean_connections",
        "first_seen",
        "last_seen",
    ])?;
    for f in &report.fingerprints {
        w.write_record([
            f.fingerprint.clone(),
            f.count.to_string(),
            f.total_ms.to_string(),
            f.mean_ms.to_string(),
            f.p50_ms.to_string(),
            f.p95_ms.to_string(),
            f.p99_ms.to_string(),
            f.max_ms.to_string(),
            f.hold_ms.to_string(),
            f.over_threshold.to_string(),
            f.mean_connections.to_string(),
            f.first_seen.clone(),
            f.last_seen.clone(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

pub(crate) fn ms(x: f64) -> String {
    if x >= 1000.0 {
        format!("{:.2}s", x / 1000.0)
    } else {
        format!("{x:.1}ms")
    }
}

pub(crate) fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        text.chars().take(width - 1).collect::<String>() + "…"
    }
}

/// The digest for people.
pub fn table(r: &SlowlogReport) -> String {
    let mut out = String::new();
    let span = r
        .span
        .as_ref()
        .map_or_else(|| "—".to_string(), |s| format!("{} → {}", s.first, s.last));
    let _ = writeln!(
        out,
        "{} statement(s), {} in all ({} with parse/bind), {} fingerprint(s), {}",
        r.statements,
        ms(r.total_ms),
        ms(r.hold_ms),
        r.fingerprint_count,
        span
    );
    let _ = writeln!(
        out,
        "connections held by logged statements: mean {:.3}, peak {} ; over {}: {} statement(s) in {} fingerprint(s)",
        r.mean_concurrency,
        r.peak_concurrency
            .as_ref()
            .map_or_else(|| "—".into(), |p| format!("{:.2} at {}", p.in_flight, p.at)),
        ms(r.threshold_ms),
        r.over_threshold,
        r.slow_review.len()
    );
    if r.bare.count > 0 {
        let _ = writeln!(
            out,
            "bare duration lines (no statement text): {} ({})",
            r.bare.count,
            ms(r.bare.total_ms)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:>4}  {:>8}  {:>10}  {:>9}  {:>9}  {:>9}  {:>5}  FINGERPRINT",
        "RANK", "COUNT", "TOTAL", "MEAN", "P95", "MAX", "SLOW"
    );
    for (i, f) in r.fingerprints.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>4}  {:>8}  {:>10}  {:>9}  {:>9}  {:>9}  {:>5}  {}",
            i + 1,
            f.count,
            ms(f.total_ms),
            ms(f.mean_ms),
            ms(f.p95_ms),
            ms(f.max_ms),
            f.over_threshold,
            cut(&f.fingerprint, 90)
        );
        if let Some(s) = &f.sample {
            let _ = writeln!(
                out,
                "{:>56}sample ({}): {}",
                "",
                ms(s.duration_ms),
                cut(&s.text.replace('\n', " "), 120)
            );
            if let Some(p) = &s.parameters {
                let _ = writeln!(out, "{:>56}parameters: {}", "", cut(p, 120));
            }
        }
    }
    if !r.slow_review.is_empty() {
        let _ = writeln!(out, "\nslow review (any statement over {}):", ms(r.threshold_ms));
        for f in &r.slow_review {
            let _ = writeln!(
                out,
                "  {} × over, max {}, mean connections {:.4}: {}",
                f.over_threshold,
                ms(f.max_ms),
                f.mean_connections,
                cut(&f.fingerprint, 100)
            );
        }
    }
    out
}
