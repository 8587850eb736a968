//! The policy's evidence, built from the analysis: each service's month and
//! earlier months, its worst sustained-high episode and the pool size in
//! effect at the month's end; and the advisory findings that come from the
//! analysis rather than from a sizing rule (slow queries, the queueing check).

use crate::analyze::digest::{Digest, FingerprintStats};
use crate::analyze::queueing::{HoldTime, Queueing};
use crate::analyze::{Analysis, WindowStats};
use crate::config::{PolicySettings, Settings};
use crate::ingest::SeriesTable;
use crate::model::PoolSize;
use crate::model::stats::probability_text;
use crate::model::window::format_instant;

use super::{Code, Effect, Evidence, Finding, FindingEvidence, MonthEvidence, SlowShape, SustainedEvidence};

/// The advisory `slow-queries` finding: statements over the review threshold
/// and the connections logged statements held (Little's law).
pub fn slow_query_finding(g: &Digest, settings: &PolicySettings) -> Option<Finding> {
    if g.over_threshold == 0 {
        return None;
    }
    let span_ms = g.span.map_or(0.0, |(a, b)| (b - a) as f64);
    let mut slow: Vec<(&String, &FingerprintStats)> = g.fingerprints().filter(|(_, s)| s.over_threshold > 0).collect();
    slow.sort_by(|a, b| b.1.total_ms.total_cmp(&a.1.total_ms).then_with(|| a.0.cmp(b.0)));
    let peak = g.in_flight.peak().map_or(0.0, |p| p.1);
    let cost = |s: &FingerprintStats| if span_ms > 0.0 { s.hold_ms / span_ms } else { 0.0 };
    Some(Finding {
        code: Code::SlowQueries,
        effect: Effect::Advisory,
        candidate_pool_size: None,
        message: format!(
            "{} statement(s) in {} query shape(s) ran longer than {} s (the slowest {:.1} s); statements in the database log held {:.2} connections on average (peak {:.1}); the costliest slow shape held {:.3} — optimise it before growing the pool (`poolcap slowlog`)",
            g.over_threshold,
            slow.len(),
            settings.slow_query_seconds,
            slow.iter().map(|(_, s)| s.max_ms).fold(0.0, f64::max) / 1000.0,
            g.mean_concurrency(),
            peak,
            slow.first().map_or(0.0, |(_, s)| cost(s)),
        ),
        rule: Code::SlowQueries.rule_text(),
        evidence: FindingEvidence::SlowQueries {
            fingerprints: slow
                .iter()
                .take(10)
                .map(|(fp, s)| SlowShape {
                    count: s.count,
                    fingerprint: (*fp).clone(),
                    max_ms: s.max_ms,
                    mean_connections: cost(s),
                    over_threshold: s.over_threshold,
                    total_ms: s.total_ms,
                })
                .collect(),
            mean_concurrency: g.mean_concurrency(),
            over_threshold: g.over_threshold,
            peak_concurrency: peak,
            threshold_seconds: settings.slow_query_seconds,
        },
    })
}

/// Builds each configured service's evidence from the analysis.
pub fn evidence(settings: &Settings, current: &[PoolSize], analysis: &Analysis, series: &SeriesTable) -> Vec<Evidence> {
    let tz = &settings.policy.timezone;
    let month_end = analysis
        .services
        .first()
        .and_then(|s| s.windows.first())
        .map_or(i64::MAX, |w| w.window.end);
    settings
        .services
        .iter()
        .enumerate()
        .map(|(k, service)| {
            let windows = &analysis.services[k].windows;
            let month_evidence = |w: &WindowStats| MonthEvidence {
                mean_utilization: w.mean_utilization,
                coverage: w.coverage,
                saturated_seconds: w.saturated_seconds,
                timeouts: w.timeouts,
            };
            let sustained = analysis
                .instances
                .iter()
                .filter(|i| i.service == k)
                .flat_map(|i| i.sustained.iter().map(move |e| (i, e)))
                .max_by_key(|(i, e)| {
                    (
                        e.sustained_checked_out,
                        e.duration(),
                        std::cmp::Reverse((e.start, i.series)),
                    )
                })
                .map(|(i, e)| SustainedEvidence {
                    instance: series.key(i.series).instance.clone(),
                    start: format_instant(e.start, tz),
                    duration: e.duration(),
                    level_checked_out: e.sustained_checked_out,
                    pool_size: e.pool_size,
                });
            // The pool size in effect at the end of the month: the last size each
            // instance reported before the month ended, the largest of them.
            let observed = analysis
                .instances
                .iter()
                .filter(|i| i.service == k)
                .filter_map(|i| {
                    i.pool_size_changes
                        .iter()
                        .rev()
                        .find(|(ts, _)| *ts < month_end)
                        .map(|(_, size)| *size)
                })
                .max()
                .unwrap_or(current[k].pool_size);
            Evidence {
                service: service.name.clone(),
                current: current[k],
                observed_pool_size: observed,
                concurrent_users: service.concurrent_users,
                max_pool_size: service.max_pool_size,
                month: month_evidence(&windows[0]),
                earlier: windows[1..]
                    .iter()
                    .map(|w| (w.covered_seconds > 0).then(|| month_evidence(w)))
                    .collect(),
                sustained,
            }
        })
        .collect()
}

/// The hold time of the queueing check: the mean statement time of the
/// month's slow-query log when one was given (and held statements), else
/// `policy.hold_time_seconds`.
pub fn hold_time(slow: Option<&Digest>, settings: &PolicySettings) -> HoldTime {
    match slow {
        Some(d) if d.statements > 0 => HoldTime {
            seconds: d.hold_ms / d.statements as f64 / 1000.0,
            source: "mean statement hold time from the slow-query log".to_string(),
        },
        _ => HoldTime {
            seconds: settings.hold_time_seconds,
            source: "policy.hold_time_seconds".to_string(),
        },
    }
}

/// The queueing check as a finding: advisory when the recommended pool keeps
/// P(wait > pool_timeout) above `queue_target` in the busiest hour (or cannot
/// keep up at all), information otherwise. Either way it changes nothing: the
/// sizing rules decide, the model informs the review.
pub fn queueing_finding(q: &Queueing) -> Finding {
    let r = &q.recommended;
    let message = if r.unstable {
        format!(
            "in the busiest hour ({}) the offered load A = {:.2} reaches the recommended pool's {} connections: every checkout would wait and the queue would grow (hold time {:.3} s from {})",
            q.busiest_hour, q.offered_load, r.connections, q.hold_seconds, q.hold_source
        )
    } else if q.above_target {
        format!(
            "in the busiest hour ({}) the recommended pool of {} connections gives P(wait > pool_timeout) = {}, above queue_target {} (offered load {:.2}, hold time {:.3} s from {})",
            q.busiest_hour,
            r.connections,
            probability_text(r.p_timeout),
            probability_text(q.target),
            q.offered_load,
            q.hold_seconds,
            q.hold_source
        )
    } else {
        format!(
            "in the busiest hour ({}) the recommended pool of {} connections keeps P(wait > pool_timeout) = {} under queue_target {}",
            q.busiest_hour,
            r.connections,
            probability_text(r.p_timeout),
            probability_text(q.target)
        )
    };
    Finding {
        code: Code::Queueing,
        effect: if q.above_target { Effect::Advisory } else { Effect::Info },
        candidate_pool_size: None,
        message,
        rule: Code::Queueing.rule_text(),
        evidence: FindingEvidence::Queueing(q.clone()),
    }
}
