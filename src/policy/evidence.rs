//! The policy's evidence, built from the analysis: each service's month and
//! earlier months, its worst sustained-high episode and the pool size in
//! effect at the month's end; and the advisory findings that come from the
//! analysis rather than from a sizing rule (slow queries, the queueing check).

use crate::analyze::digest::{Digest, FingerprintStats};
use crate::analyze::study::QueueingStudy;
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

/// Why the simulation and the policy point different ways, in one sentence
/// (`None` when they agree): the policy raises a pool the simulation finds
/// already meets `queue_target`, or the recommended size still misses it.
pub fn queueing_disagreement(q: &QueueingStudy, decision: &super::Decision) -> Option<String> {
    let size = |p: PoolSize| format!("{} + {}", p.pool_size, p.max_overflow);
    if decision.changes() && q.current.p_timeout <= q.target {
        let rule = decision.deciding.map_or("a sizing rule", |c| c.as_str());
        return Some(format!(
            "The policy raises {} to {} by {rule}, a rule on measured utilization, while the simulation finds {} already under queue_target in the {} busiest instance-hours: the raise buys room for growth and bursts the month did not show, not relief from timeouts.",
            size(decision.current),
            size(decision.recommended),
            size(decision.current),
            q.instance_hours
        ));
    }
    if let Some(smallest) = q.smallest_meeting_target
        && decision.changes()
        && smallest.pool_size < decision.recommended.pool_size
    {
        let rule = decision.deciding.map_or("a sizing rule", |c| c.as_str());
        return Some(format!(
            "The simulation finds {} the smallest size under queue_target, below the recommended {}: {rule} sizes for the utilization measured, censored demand and growth, the simulation only for this month's timeouts.",
            size(smallest),
            size(decision.recommended)
        ));
    }
    if q.above_target {
        let smallest = match q.smallest_meeting_target {
            Some(p) => format!("the smallest simulated size that meets it is {}", size(p)),
            None => "no simulated size meets it".to_string(),
        };
        return Some(format!(
            "The simulation still times out at the recommended {} (P(timeout) = {}, above queue_target {}) where the policy sees no further need: the censored minutes count waiting callers as extra arrivals at the month's hold times, which a long-held lock would explain with fewer; {smallest}.",
            size(decision.recommended),
            probability_text(q.recommended.p_timeout),
            probability_text(q.target)
        ));
    }
    None
}

/// The queueing check as a finding: advisory when the recommended pool's
/// simulated P(timeout) is above `queue_target`, information otherwise.
/// Either way it changes nothing: the sizing rules decide (docs/review.md,
/// "Queueing check", says why), the simulation informs the review.
pub fn queueing_finding(q: &QueueingStudy) -> Finding {
    let r = &q.recommended;
    let hours = format!("{} busiest instance-hour(s)", q.instance_hours);
    let at = |o: &crate::analyze::study::SizeOutcome| {
        format!(
            "{} + {}: {} of {} checkouts timed out (P = {}), wait p99 {} ms",
            o.pool_size,
            o.max_overflow,
            o.timeouts,
            o.checkouts,
            probability_text(o.p_timeout),
            o.wait_p99_ms
        )
    };
    let message = if q.above_target {
        let smallest = match q.smallest_meeting_target {
            Some(p) => format!(
                "; the smallest simulated size under it is {} + {}",
                p.pool_size, p.max_overflow
            ),
            None => String::new(),
        };
        format!(
            "simulated over the {hours}: at the recommended {} — above queue_target {}{smallest}",
            at(r),
            probability_text(q.target)
        )
    } else {
        format!(
            "simulated over the {hours}: at the recommended {} — under queue_target {} (current {})",
            at(r),
            probability_text(q.target),
            at(&q.current)
        )
    };
    Finding {
        code: Code::Queueing,
        effect: if q.above_target { Effect::Advisory } else { Effect::Info },
        candidate_pool_size: None,
        message,
        rule: Code::Queueing.rule_text(),
        evidence: FindingEvidence::Queueing(Box::new(q.clone())),
    }
}
