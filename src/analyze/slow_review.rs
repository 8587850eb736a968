//! The hazard card's quarterly slow-query review (docs/slowlogs.md): a
//! quarter's monthly digests merged, the statement shapes that ran longer
//! than `slow_query_seconds`, each with its per-month trend and the
//! connections it held, what is new since the quarter before and what no
//! longer runs slow. Pure: the months come from files or the store
//! ([`crate::ops::slow_review`]), the same way, so both give the same review
//! and the same digest.

use serde::Serialize;

use super::digest::{Digest, FingerprintStats};
use crate::model::provenance::rfc3339;
use crate::model::window::{Month, Quarter};

/// Where one month's statements came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceRecord {
    /// The log file as given (or as stored).
    pub source: String,
    /// SHA-256 of the month's stored form of that log's digest: the same
    /// whether it was read from the store or made from the file now.
    pub sha256: String,
    /// Its executed statements.
    pub statements: u64,
}

/// One month's digest, merged over its sources.
#[derive(Debug, Clone)]
pub struct MonthInput {
    /// The month.
    pub month: Month,
    /// Its sources, in order of period then source.
    pub sources: Vec<SourceRecord>,
    /// Their digests merged; `None` when there were none.
    pub digest: Option<Digest>,
}

/// The quarterly review.
#[derive(Debug, Clone, Serialize)]
pub struct QuarterReview {
    /// `YYYY-Qn`.
    pub quarter: String,
    /// `files` or the store (password replaced).
    pub from: String,
    /// Statements slower than this are reviewed, seconds.
    pub threshold_seconds: f64,
    /// SHA-256 of the quarter's merged digest in its stored form: equal for
    /// equal statements, whether read from files or the store.
    pub digest_sha256: String,
    /// Executed statements in the quarter.
    pub statements: u64,
    /// Of those, over the threshold.
    pub over_threshold: u64,
    /// Σ statement time ÷ the span of the quarter's statements: the
    /// connections the logged statements held on average.
    pub mean_connections: f64,
    /// The busiest second: when and how many connections were in statements.
    pub peak: Option<Peak>,
    /// Each month of the quarter, in order.
    pub months: Vec<MonthSummary>,
    /// The quarter before, for what is new.
    pub previous: PreviousQuarter,
    /// Shapes with statements over the threshold, the costliest (most
    /// connection time) first.
    pub slow: Vec<SlowShape>,
    /// Shapes slow the quarter before with no statement over the threshold
    /// in this one (they still ran, or no longer ran at all).
    pub no_longer_slow: Vec<NoLongerSlow>,
}

/// The busiest second.
#[derive(Debug, Clone, Serialize)]
pub struct Peak {
    /// RFC 3339 UTC.
    pub at: String,
    /// Mean connections in statements during that second.
    pub connections: f64,
}

/// One month of the quarter.
#[derive(Debug, Clone, Serialize)]
pub struct MonthSummary {
    /// `YYYY-MM`.
    pub month: String,
    /// Its logs; empty when the month has none (its numbers are then null).
    pub sources: Vec<SourceRecord>,
    /// Executed statements.
    pub statements: Option<u64>,
    /// Over the threshold.
    pub over_threshold: Option<u64>,
    /// Mean connections in statements.
    pub mean_connections: Option<f64>,
    /// Peak connections in statements (one second).
    pub peak_connections: Option<f64>,
}

/// The quarter before.
#[derive(Debug, Clone, Serialize)]
pub struct PreviousQuarter {
    /// `YYYY-Qn`.
    pub quarter: String,
    /// Its months that had logs.
    pub months_with_logs: Vec<String>,
    /// Its executed statements.
    pub statements: u64,
    /// Its statements over the threshold.
    pub over_threshold: u64,
}

/// A statement shape with statements over the threshold in the quarter.
#[derive(Debug, Clone, Serialize)]
pub struct SlowShape {
    /// The normalized statement.
    pub fingerprint: String,
    /// Its executed statements in the quarter.
    pub statements: u64,
    /// Of those, over the threshold.
    pub over_threshold: u64,
    /// The longest, ms.
    pub max_ms: f64,
    /// The 95th percentile of its statements, ms (within 1 %).
    pub p95_ms: f64,
    /// Σ duration, ms.
    pub total_ms: f64,
    /// Connections it held on average over the quarter's span.
    pub mean_connections: f64,
    /// Per month of the quarter: null where the month had no logs.
    pub months: Vec<Option<MonthCell>>,
    /// Its statements over the threshold the quarter before; null when that
    /// quarter had no logs.
    pub previous_over_threshold: Option<u64>,
    /// Slow this quarter and not the one before; null when that quarter had
    /// no logs (nothing to compare with).
    pub new: Option<bool>,
}

/// One shape in one month.
#[derive(Debug, Clone, Serialize)]
pub struct MonthCell {
    /// Executed statements.
    pub statements: u64,
    /// Over the threshold.
    pub over_threshold: u64,
    /// The longest, ms.
    pub max_ms: f64,
}

/// A shape slow the quarter before and not in this one.
#[derive(Debug, Clone, Serialize)]
pub struct NoLongerSlow {
    /// The normalized statement.
    pub fingerprint: String,
    /// Its statements over the threshold the quarter before.
    pub previous_over_threshold: u64,
    /// Its executed statements this quarter (0: it no longer ran).
    pub statements: u64,
}

fn merged(months: &[MonthInput]) -> Option<Digest> {
    let mut all: Option<Digest> = None;
    for d in months.iter().filter_map(|m| m.digest.clone()) {
        match &mut all {
            Some(a) => a.merge(d),
            None => all = Some(d),
        }
    }
    all
}

fn cost(stats: &FingerprintStats, span_ms: f64) -> f64 {
    if span_ms > 0.0 { stats.hold_ms / span_ms } else { 0.0 }
}

/// The review of `quarter` from its three months (`this`, in order) and the
/// three of the quarter before (`previous`); `None` when the quarter's months
/// hold no statement at all (the caller says why).
pub fn review(quarter: Quarter, from: &str, previous: &[MonthInput], this: &[MonthInput]) -> Option<QuarterReview> {
    let all = merged(this)?;
    if all.statements == 0 {
        return None;
    }
    let before = merged(previous);
    let span_ms = all.span.map_or(0.0, |(a, b)| (b - a) as f64);
    let threshold_ms = all.settings().threshold_ms;
    let mut slow: Vec<(&String, &FingerprintStats)> =
        all.fingerprints().filter(|(_, s)| s.over_threshold > 0).collect();
    slow.sort_by(|a, b| b.1.hold_ms.total_cmp(&a.1.hold_ms).then_with(|| a.0.cmp(b.0)));
    let slow = slow
        .into_iter()
        .map(|(fp, s)| {
            let previous_over_threshold = before.as_ref().map(|b| b.get(fp).map_or(0, |p| p.over_threshold));
            SlowShape {
                fingerprint: fp.clone(),
                statements: s.count,
                over_threshold: s.over_threshold,
                max_ms: s.max_ms,
                p95_ms: s.histogram.quantile(0.95),
                total_ms: s.total_ms,
                mean_connections: cost(s, span_ms),
                months: this
                    .iter()
                    .map(|m| {
                        m.digest.as_ref().map(|d| {
                            d.get(fp).map_or(
                                MonthCell {
                                    statements: 0,
                                    over_threshold: 0,
                                    max_ms: 0.0,
                                },
                                |c| MonthCell {
                                    statements: c.count,
                                    over_threshold: c.over_threshold,
                                    max_ms: c.max_ms,
                                },
                            )
                        })
                    })
                    .collect(),
                previous_over_threshold,
                new: previous_over_threshold.map(|n| n == 0),
            }
        })
        .collect();
    let mut no_longer_slow: Vec<NoLongerSlow> = before
        .as_ref()
        .map(|b| {
            b.fingerprints()
                .filter(|(fp, s)| s.over_threshold > 0 && all.get(fp).is_none_or(|t| t.over_threshold == 0))
                .map(|(fp, s)| NoLongerSlow {
                    fingerprint: fp.clone(),
                    previous_over_threshold: s.over_threshold,
                    statements: all.get(fp).map_or(0, |t| t.count),
                })
                .collect()
        })
        .unwrap_or_default();
    no_longer_slow.sort_by(|a, b| {
        b.previous_over_threshold
            .cmp(&a.previous_over_threshold)
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
    let stored = serde_json::to_string(&all.to_stored()).unwrap_or_default();
    Some(QuarterReview {
        quarter: quarter.to_string(),
        from: from.to_string(),
        threshold_seconds: threshold_ms / 1000.0,
        digest_sha256: crate::support::digest::sha256_hex(stored.as_bytes()),
        statements: all.statements,
        over_threshold: all.over_threshold,
        mean_connections: all.mean_concurrency(),
        peak: all.in_flight.peak().and_then(|(second, connections)| {
            Some(Peak {
                at: rfc3339(second, false)?,
                connections,
            })
        }),
        months: this
            .iter()
            .map(|m| MonthSummary {
                month: m.month.to_string(),
                sources: m.sources.clone(),
                statements: m.digest.as_ref().map(|d| d.statements),
                over_threshold: m.digest.as_ref().map(|d| d.over_threshold),
                mean_connections: m.digest.as_ref().map(Digest::mean_concurrency),
                peak_connections: m.digest.as_ref().map(|d| d.in_flight.peak().map_or(0.0, |p| p.1)),
            })
            .collect(),
        previous: PreviousQuarter {
            quarter: quarter.previous().to_string(),
            months_with_logs: previous
                .iter()
                .filter(|m| m.digest.is_some())
                .map(|m| m.month.to_string())
                .collect(),
            statements: before.as_ref().map_or(0, |b| b.statements),
            over_threshold: before.as_ref().map_or(0, |b| b.over_threshold),
        },
        slow,
        no_longer_slow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::digest::DigestSettings;
    use crate::analyze::fingerprint::Dialect;
    use crate::model::slowlog::{EntryKind, LogEntry};
    use std::borrow::Cow;

    fn digest(entries: &[(i64, f64, &str)]) -> Digest {
        let mut d = Digest::new(DigestSettings {
            dialect: Dialect::Postgres,
            threshold_ms: 5000.0,
            timezone: jiff::tz::TimeZone::UTC,
            since_ms: None,
            until_ms: None,
            keep_samples: false,
        });
        for &(end_ms, duration_ms, text) in entries {
            d.add(&LogEntry {
                end_ms,
                duration_ms,
                kind: EntryKind::Statement,
                database: None,
                user: None,
                text: Cow::Owned(text.to_string()),
                parameters: None,
                line: 1,
            });
        }
        d
    }

    fn month(q: Quarter, i: usize, entries: &[(i64, f64, &str)]) -> MonthInput {
        MonthInput {
            month: q.months()[i],
            sources: vec![],
            digest: (!entries.is_empty()).then(|| digest(entries)),
        }
    }

    const DAY: i64 = 86_400_000;
    const OCT: i64 = 1_790_812_800_000; // 2026-10-01T00:00:00Z

    #[test]
    fn new_recurring_and_no_longer_slow_shapes_with_their_months() {
        let q: Quarter = "2026-Q4".parse().unwrap();
        let p = q.previous();
        let previous = [
            month(p, 0, &[]),
            month(p, 1, &[(OCT - 20 * DAY, 6000.0, "select a from t where id = 1")]),
            month(
                p,
                2,
                &[
                    (OCT - DAY, 7000.0, "select b from t"),
                    (OCT - DAY, 10.0, "select c from t"),
                ],
            ),
        ];
        let this = [
            month(
                q,
                0,
                &[
                    (OCT + DAY, 9000.0, "select a from t where id = 2"),
                    (OCT + DAY, 1.0, "select b from t"),
                ],
            ),
            month(q, 1, &[]),
            month(
                q,
                2,
                &[
                    (OCT + 70 * DAY, 5500.0, "select c from t"),
                    (OCT + 71 * DAY, 8000.0, "select a from t where id = 3"),
                ],
            ),
        ];
        let r = review(q, "files", &previous, &this).unwrap();
        assert_eq!((r.statements, r.over_threshold), (4, 3));
        assert_eq!(r.previous.months_with_logs, ["2026-08", "2026-09"]);
        let shapes: Vec<(&str, u64, Option<bool>)> = r
            .slow
            .iter()
            .map(|s| (s.fingerprint.as_str(), s.over_threshold, s.new))
            .collect();
        // a: slow in both quarters (two statements, the most connection time);
        // c: ran fast before, slow now → new.
        assert_eq!(
            shapes,
            [
                ("select a from t where id = ?", 2, Some(false)),
                ("select c from t", 1, Some(true))
            ]
        );
        let a = &r.slow[0];
        assert_eq!(a.previous_over_threshold, Some(1));
        assert_eq!(a.months[0].as_ref().map(|c| c.over_threshold), Some(1));
        assert!(a.months[1].is_none(), "November has no logs");
        assert_eq!(a.months[2].as_ref().map(|c| c.max_ms), Some(8000.0));
        let span = (OCT + 71 * DAY - (OCT + DAY - 9000)) as f64;
        assert!((a.mean_connections - 17_000.0 / span).abs() < 1e-12);
        // b: slow before, fast now.
        assert_eq!(r.no_longer_slow.len(), 1);
        assert_eq!(
            (r.no_longer_slow[0].fingerprint.as_str(), r.no_longer_slow[0].statements),
            ("select b from t", 1)
        );
        assert_eq!(r.months[1].statements, None);
        assert_eq!(r.months[2].over_threshold, Some(2));
    }

    #[test]
    fn without_a_previous_quarter_nothing_is_called_new_and_an_empty_quarter_is_none() {
        let q: Quarter = "2026-Q4".parse().unwrap();
        let p = q.previous();
        let previous = [month(p, 0, &[]), month(p, 1, &[]), month(p, 2, &[])];
        let this = [
            month(q, 0, &[(OCT + DAY, 6000.0, "select 1")]),
            month(q, 1, &[]),
            month(q, 2, &[]),
        ];
        let r = review(q, "files", &previous, &this).unwrap();
        assert_eq!(r.slow[0].new, None);
        assert_eq!(r.slow[0].previous_over_threshold, None);
        assert!(r.previous.months_with_logs.is_empty());
        let empty = [month(q, 0, &[]), month(q, 1, &[]), month(q, 2, &[])];
        assert!(review(q, "files", &previous, &empty).is_none());
    }
}
