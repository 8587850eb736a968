//! The outlook (issue 16, item 7): from each service's monthly statistics, the
//! trend of mean and p95 utilization with an 80 % prediction interval, the
//! months they cross the policy's thresholds, and how many more escalation
//! steps the connection budget can take. Pure: the analysis' windows and the
//! plan in, an [`Outlook`] out. The fitting is `analyze::forecast`; the
//! definitions in plain words are in docs/review.md ("Outlook").
//!
//! Definitions:
//! - **Months fitted**: the reviewed month and the [`OUTLOOK_MONTHS`] − 1
//!   before it, those whose coverage is at least `policy.min_coverage`; fewer
//!   than 3 such months give no outlook, and a reason.
//! - **Mean trend** crosses `policy.escalate_mean_utilization`, **p95 trend**
//!   the warning threshold: the `above` of the `[[alerts]]` rule named
//!   `warning`, else the lowest `above` of any rule (none without rules). A
//!   crossing is the first projected month strictly above the threshold
//!   (`analyze::forecast::Fit::crossing`); `above_now` says the reviewed month
//!   itself was already above it, and `upper_crosses` is the first month the
//!   interval's upper end is above it (the earliest it plausibly happens).
//!   Projections are utilization of the pool the months were measured at.
//! - **Budget**: the budget (with every other service at its recommended
//!   size, and the service's own `max_pool_size`) allows pool sizes up to
//!   [`super::headroom`]; starting from the recommended pool size `p₀`, it
//!   takes `steps_left = ⌊(headroom − p₀) / escalate_step⌋` more steps (0 when
//!   `p₀` is already above it). The policy's future steps are simulated as
//!   rule 2 would take them: the projected mean demand in connections is
//!   `mean(k) × observed_pool_size` (the pool the trend was measured at);
//!   month `k` (1…horizon) is a step when that demand over the pool then in
//!   effect is above `escalate_mean_utilization`, and the pool grows by
//!   `escalate_step` from that month on. `exhausted` is the month of step
//!   number `steps_left + 1`: the first step the budget cannot take.

use serde::Serialize;

use crate::analyze::WindowStats;
use crate::analyze::forecast::{self, Fit, HORIZON, LEVEL, MIN_POINTS};
use crate::config::{AlertRule, PolicySettings};
use crate::model::stats::round6;
use crate::model::window::Month;

/// Months the outlook fits at most: the reviewed month and the five before it.
/// Half a year follows a change of trend within months, and gives the interval
/// four degrees of freedom when all are covered. `plan` and `review` analyse at
/// least these, so both print the same outlook.
pub const OUTLOOK_MONTHS: usize = 6;

/// How the trends are fitted, as `plan.json` states it.
pub const METHOD: &str = "ordinary least squares of the monthly value on the month index; prediction interval ŷ ± t(n−2) · s · √(1 + 1/n + (x − x̄)²/Sxx)";

/// One service's outlook, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceOutlook {
    /// The outlook, when at least three months have data.
    pub outlook: Option<Outlook>,
    /// Why there is no outlook (`None` when there is one).
    pub reason: Option<String>,
}

/// The trends, their crossings and the budget's steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outlook {
    /// How the trends are fitted ([`METHOD`]).
    pub method: &'static str,
    /// Two-sided level of the prediction interval (0.8).
    pub level: f64,
    /// Months projected after the reviewed one.
    pub horizon_months: u32,
    /// The months fitted (`YYYY-MM`, oldest first).
    pub months: Vec<String>,
    /// Mean utilization.
    pub mean: Trend,
    /// p95 utilization.
    pub p95: Trend,
    /// The budget's remaining escalation steps.
    pub budget: BudgetOutlook,
}

/// One fitted trend and where it crosses its threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// Change per month (utilization, 0.01 = one percentage point).
    pub slope_per_month: f64,
    /// The line's value at the reviewed month.
    pub fitted_now: f64,
    /// Residual standard error.
    pub residual_se: f64,
    /// The threshold it is compared with (`None`: no alert rule to take it from).
    pub threshold: Option<f64>,
    /// Where the threshold comes from.
    pub threshold_source: String,
    /// The reviewed month's value was already above the threshold.
    pub above_now: bool,
    /// First projected month strictly above the threshold, within the horizon.
    pub crosses: Option<String>,
    /// First month the interval's upper end is above it, within the horizon.
    pub upper_crosses: Option<String>,
    /// The next months.
    pub projection: Vec<ProjectedMonth>,
}

/// One projected month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectedMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// The line's value.
    pub value: f64,
    /// Lower end of the interval (not below 0).
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
}

/// How many more escalation steps the connection budget can take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetOutlook {
    /// The recommended pool size the steps start from.
    pub pool_size: u32,
    /// `policy.escalate_step`.
    pub step: u32,
    /// The largest pool size within the budget (`null`: not even 1 fits).
    pub headroom: Option<u32>,
    /// Steps of `step` the budget can still take from `pool_size`.
    pub steps_left: u32,
    /// The pool size the projected demand is scaled from (in effect at the
    /// end of the reviewed month).
    pub measured_pool_size: u32,
    /// Months (within the horizon) in which the policy would take a step.
    pub step_months: Vec<String>,
    /// The month of the first step the budget cannot take (`null`: none
    /// within the horizon).
    pub exhausted: Option<String>,
}

/// What the outlook of one service is built from.
#[derive(Debug, Clone, Copy)]
pub struct OutlookInputs<'a> {
    /// The reviewed month.
    pub month: Month,
    /// The service's windows: 0 is the reviewed month, then earlier months,
    /// most recent first.
    pub windows: &'a [WindowStats],
    /// The recommended pool size.
    pub recommended: u32,
    /// The pool size in effect at the end of the reviewed month.
    pub measured_pool_size: u32,
    /// [`super::headroom`] for this service.
    pub headroom: Option<u32>,
}

/// The warning threshold p95 is compared with: the rule named `warning`, else
/// the lowest `above`; with its source.
pub fn warning_threshold(alerts: &[AlertRule]) -> Option<(f64, String)> {
    if let Some(rule) = alerts.iter().find(|r| r.name == "warning") {
        return Some((rule.above, "alert rule \"warning\"".to_string()));
    }
    alerts.iter().min_by(|a, b| a.above.total_cmp(&b.above)).map(|r| {
        (
            r.above,
            format!("alert rule {:?} (the lowest; none is named \"warning\")", r.name),
        )
    })
}

fn nth_after(month: Month, k: u32) -> Month {
    (0..k).fold(month, |m, _| m.next())
}

fn trend(fit: &Fit, month: Month, now: Option<f64>, threshold: Option<(f64, String)>) -> Trend {
    let projection: Vec<_> = fit.project(HORIZON);
    let (threshold, threshold_source) = match threshold {
        Some((t, source)) => (Some(t), source),
        None => (None, "no alert rule".to_string()),
    };
    let month_of = |k: u32| nth_after(month, k).to_string();
    Trend {
        slope_per_month: round6(fit.slope),
        fitted_now: round6(fit.at(0.0)),
        residual_se: round6(fit.residual_se),
        threshold,
        threshold_source,
        above_now: matches!((now, threshold), (Some(v), Some(t)) if v > t),
        crosses: threshold.and_then(|t| fit.crossing(t, HORIZON)).map(month_of),
        upper_crosses: threshold
            .and_then(|t| projection.iter().find(|p| p.high > t))
            .map(|p| month_of(p.ahead)),
        projection: projection
            .iter()
            .map(|p| ProjectedMonth {
                month: month_of(p.ahead),
                value: round6(p.value),
                low: round6(p.low.max(0.0)),
                high: round6(p.high),
            })
            .collect(),
    }
}

/// The budget's steps (see the module header for the definition).
fn budget(mean: &Fit, inputs: &OutlookInputs<'_>, p: &PolicySettings) -> BudgetOutlook {
    let step = p.escalate_step.max(1);
    let start = inputs.recommended;
    let steps_left = inputs.headroom.map_or(0, |h| h.saturating_sub(start) / step);
    let demand = |k: u32| mean.at(f64::from(k)) * f64::from(inputs.measured_pool_size.max(1));
    let mut pool = start.max(1);
    let mut steps = Vec::new();
    for k in 1..=HORIZON {
        if demand(k) / f64::from(pool) > p.escalate_mean_utilization {
            pool = pool.saturating_add(step);
            steps.push(nth_after(inputs.month, k).to_string());
        }
    }
    BudgetOutlook {
        pool_size: start,
        step,
        headroom: inputs.headroom,
        steps_left,
        measured_pool_size: inputs.measured_pool_size,
        exhausted: steps.get(steps_left as usize).cloned(),
        step_months: steps,
    }
}

/// The outlook of one service.
pub fn outlook(inputs: &OutlookInputs<'_>, p: &PolicySettings, alerts: &[AlertRule]) -> ServiceOutlook {
    let considered = inputs.windows.len().min(OUTLOOK_MONTHS);
    let mut used: Vec<(i32, &WindowStats)> = inputs.windows[..considered]
        .iter()
        .enumerate()
        .filter(|(_, w)| w.samples > 0 && w.coverage >= p.min_coverage)
        .map(|(i, w)| (-(i as i32), w))
        .collect();
    used.reverse();
    let month_at = |x: i32| (0..x.unsigned_abs()).fold(inputs.month, |m, _| m.previous());
    if used.len() < MIN_POINTS {
        let oldest = month_at(1 - considered as i32);
        let listed = if used.is_empty() {
            "none".to_string()
        } else {
            used.iter()
                .map(|(x, _)| month_at(*x).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return ServiceOutlook {
            outlook: None,
            reason: Some(format!(
                "{} month(s) from {oldest} to {} cover at least {:.1}% ({listed}); a trend needs {MIN_POINTS}",
                used.len(),
                inputs.month,
                p.min_coverage * 100.0
            )),
        };
    }
    let series = |value: fn(&WindowStats) -> f64| -> Vec<(f64, f64)> {
        used.iter().map(|(x, w)| (f64::from(*x), value(w))).collect()
    };
    let (Some(mean), Some(p95)) = (
        forecast::fit(&series(|w| w.mean_utilization)),
        forecast::fit(&series(|w| w.p95_utilization)),
    ) else {
        return ServiceOutlook {
            outlook: None,
            reason: Some("the monthly values cannot be fitted (not finite)".to_string()),
        };
    };
    let now = inputs
        .windows
        .first()
        .filter(|w| w.samples > 0 && w.coverage >= p.min_coverage);
    ServiceOutlook {
        outlook: Some(Outlook {
            method: METHOD,
            level: LEVEL,
            horizon_months: HORIZON,
            months: used.iter().map(|(x, _)| month_at(*x).to_string()).collect(),
            mean: trend(
                &mean,
                inputs.month,
                now.map(|w| w.mean_utilization),
                Some((
                    p.escalate_mean_utilization,
                    "policy.escalate_mean_utilization".to_string(),
                )),
            ),
            p95: trend(
                &p95,
                inputs.month,
                now.map(|w| w.p95_utilization),
                warning_threshold(alerts),
            ),
            budget: budget(&mean, inputs, p),
        }),
        reason: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::window::Window;

    fn window(mean: f64, p95: f64, coverage: f64) -> WindowStats {
        let mut w = WindowStats::empty(Window { start: 0, end: 1 });
        w.mean_utilization = mean;
        w.p95_utilization = p95;
        w.coverage = coverage;
        w.samples = 1;
        w
    }

    fn rule(name: &str, above: f64) -> AlertRule {
        AlertRule {
            name: name.to_string(),
            above,
            for_seconds: 300,
        }
    }

    const OCTOBER: Month = Month { year: 2026, month: 10 };

    #[test]
    fn the_warning_rule_else_the_lowest_gives_the_p95_threshold() {
        assert_eq!(
            warning_threshold(&[rule("critical", 0.9), rule("warning", 0.85)]).map(|w| w.0),
            Some(0.85)
        );
        assert_eq!(
            warning_threshold(&[rule("page", 0.95), rule("ticket", 0.7)]).map(|w| w.0),
            Some(0.7)
        );
        assert_eq!(warning_threshold(&[]), None);
    }

    #[test]
    fn budget_steps_follow_rule_2_on_the_grown_pool() {
        // Mean 0.50, 0.55, 0.60 (newest first: 0.60, 0.55, 0.50): slope 0.05, 0.60 at x = 0.
        // Measured at pool 20, recommended 20 (0.60 is not above 0.60), headroom 32, step 5:
        // ⌊(32 − 20) / 5⌋ = 2 steps. Demand 20 × (0.60 + 0.05k) = 13, 14, 15, 16, 17, 18:
        //   k=1 13/20 = 0.65 step → 25; k=2 14/25 = 0.56; k=3 15/25 = 0.60 (not above);
        //   k=4 16/25 = 0.64 step → 30; k=5 17/30 = 0.567; k=6 18/30 = 0.60.
        let windows = [window(0.60, 0.7, 1.0), window(0.55, 0.7, 1.0), window(0.50, 0.7, 1.0)];
        let inputs = OutlookInputs {
            month: OCTOBER,
            windows: &windows,
            recommended: 20,
            measured_pool_size: 20,
            headroom: Some(32),
        };
        let o = outlook(&inputs, &PolicySettings::default(), &[rule("warning", 0.8)]);
        let o = o.outlook.unwrap();
        assert_eq!(o.budget.steps_left, 2);
        assert_eq!(o.budget.step_months, ["2026-11", "2027-02"]);
        assert_eq!(o.budget.exhausted, None);
        assert!(!o.mean.above_now);
        assert_eq!(o.mean.crosses.as_deref(), Some("2026-11"));
        // With room for one step only, the second (2027-02) is the one it cannot take.
        let tight = OutlookInputs {
            headroom: Some(28),
            ..inputs
        };
        let o = outlook(&tight, &PolicySettings::default(), &[]).outlook.unwrap();
        assert_eq!(o.budget.steps_left, 1);
        assert_eq!(o.budget.exhausted.as_deref(), Some("2027-02"));
        assert_eq!(o.p95.threshold, None);
        assert_eq!(o.p95.crosses, None);
    }

    #[test]
    fn thin_months_are_left_out_and_too_few_give_a_reason() {
        // October and August covered, September at 50 %: two months.
        let windows = [window(0.6, 0.7, 1.0), window(0.5, 0.7, 0.5), window(0.4, 0.7, 1.0)];
        let inputs = OutlookInputs {
            month: OCTOBER,
            windows: &windows,
            recommended: 20,
            measured_pool_size: 20,
            headroom: Some(30),
        };
        let o = outlook(&inputs, &PolicySettings::default(), &[]);
        assert_eq!(o.outlook, None);
        assert_eq!(
            o.reason.as_deref(),
            Some("2 month(s) from 2026-08 to 2026-10 cover at least 80.0% (2026-08, 2026-10); a trend needs 3")
        );
        // A fourth month (July) makes three, and the gap keeps its place on the time
        // axis: 0.3 at −3, 0.4 at −2, 0.6 at 0 lie on y = 0.6 + 0.1·x, slope 0.1
        // (numbered −2, −1, 0 they would give (0.6 − 0.3) / 2 = 0.15).
        let windows = [
            window(0.6, 0.7, 1.0),
            window(0.5, 0.7, 0.5),
            window(0.4, 0.7, 1.0),
            window(0.3, 0.7, 1.0),
        ];
        let o = outlook(
            &OutlookInputs {
                windows: &windows,
                ..inputs
            },
            &PolicySettings::default(),
            &[],
        );
        let o = o.outlook.unwrap();
        assert_eq!(o.months, ["2026-07", "2026-08", "2026-10"]);
        assert!(
            (o.mean.slope_per_month - 0.1).abs() < 1e-9,
            "{}",
            o.mean.slope_per_month
        );
    }
}
