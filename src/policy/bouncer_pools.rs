//! PgBouncer's server pools under the same policy as the application pools
//! (docs/pgbouncer.md): from a month of `SHOW POOLS` snapshots, each pool's
//! `pool_size` is raised by `escalate_step` when its mean busy share is
//! above `escalate_mean_utilization`, when any client waited (censored
//! demand), and until a sustained wait's demand fits under
//! `sustained_utilization`; it never shrinks by itself; and the recommended
//! server pools must fit the database's budget.

use serde::Serialize;

use super::{Code, Decision, Effect, Finding, FindingEvidence, check_budget};
use crate::analyze::bouncer::PoolStats;
use crate::config::PolicySettings;
use crate::model::DatabaseBudget;
use crate::model::bouncer::{PoolMode, ServicePools};

/// One server pool's decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolDecision {
    /// The database, as clients name it.
    pub database: String,
    /// The user.
    pub user: String,
    /// Its mode.
    pub pool_mode: PoolMode,
    /// Its `pool_size` now, as configured (the database's, else
    /// `default_pool_size`); the rules step from the pool the snapshots
    /// measured (`stats.observed_pool_size`) when they recorded it.
    pub current: u32,
    /// Its reserve.
    pub reserve: u32,
    /// The `pool_size` the policy asks for.
    pub recommended: u32,
    /// Mean busy server connections ÷ the measured `pool_size`.
    pub mean_utilization: f64,
    /// The month's numbers.
    pub stats: PoolStats,
    /// Each rule's result.
    pub findings: Vec<Finding>,
}

impl PoolDecision {
    /// Whether the recommendation differs from the pool now.
    pub fn changes(&self) -> bool {
        self.recommended != self.current
    }
}

fn finding(code: Code, effect: Effect, candidate: Option<u32>, message: String, d: &PoolStats, size: u32) -> Finding {
    Finding {
        code,
        effect,
        candidate_pool_size: candidate,
        message,
        rule: code.rule_text(),
        evidence: FindingEvidence::PgbouncerServerPool {
            database: d.database.clone(),
            user: d.user.clone(),
            pool_size: size,
            mean_sv_active: d.mean_sv_active,
            peak_demand: d.peak_demand,
            waiting_seconds: d.waiting_seconds,
            max_cl_waiting: d.max_cl_waiting,
        },
    }
}

/// Decides each server pool seen in the snapshots, then checks the
/// database's budget with the recommended sizes (each database's
/// `pool_size` taken as the largest its pools ask for).
pub fn pool_decisions(
    stats: Vec<PoolStats>,
    db: &DatabaseBudget,
    pools: &[ServicePools],
    decisions: &[Decision],
    params: &PolicySettings,
) -> Vec<PoolDecision> {
    let Some(bouncer) = &db.bouncer else {
        return Vec::new();
    };
    let step = params.escalate_step;
    let mut out: Vec<PoolDecision> = stats
        .into_iter()
        .map(|s| {
            let pool = bouncer.server_pool(&s.database, &s.user);
            let configured = pool.pool_size;
            // Steps are taken from the pool the month measured (applying
            // twice is stable); without it recorded, from the configured one.
            let current = s.observed_pool_size.unwrap_or(configured);
            let u = if current > 0 {
                s.mean_sv_active / f64::from(current)
            } else {
                1.0
            };
            let mut findings = Vec::new();
            let mut recommended = current;
            let name = format!("{}/{}", s.database, s.user);
            if s.coverage < params.min_coverage {
                findings.push(finding(
                    Code::InsufficientData,
                    Effect::Info,
                    None,
                    format!(
                        "server pool {name}: the snapshots cover {:.1}% of the month, below {:.1}%; no mean-based decision",
                        s.coverage * 100.0,
                        params.min_coverage * 100.0
                    ),
                    &s,
                    current,
                ));
            } else if u > params.escalate_mean_utilization {
                let candidate = current.saturating_add(step);
                recommended = recommended.max(candidate);
                findings.push(finding(
                    Code::MonthlyEscalation,
                    Effect::Raise,
                    Some(candidate),
                    format!(
                        "server pool {name}: a mean of {:.1} of its {current} server connections busy ({:.1}%) over the month, above {:.1}%: pool_size {current} + {step} = {candidate}",
                        s.mean_sv_active,
                        u * 100.0,
                        params.escalate_mean_utilization * 100.0
                    ),
                    &s,
                    current,
                ));
            }
            if let Some(e) = &s.longest_waiting
                && e.seconds >= params.sustained_for
            {
                // Steps until the episode's demand is at or under the threshold.
                let mut candidate = current.saturating_add(step);
                while candidate < u32::MAX - step
                    && e.peak_demand as f64 / f64::from(candidate) > params.sustained_utilization
                {
                    candidate += step;
                }
                recommended = recommended.max(candidate);
                findings.push(finding(
                    Code::SustainedHigh,
                    Effect::Raise,
                    Some(candidate),
                    format!(
                        "server pool {name}: clients waited for a server connection for {} s at a stretch (up to {} waiting, {} connections wanted at once); at pool_size {candidate} that demand is at or under {:.1}%, so increase now",
                        e.seconds,
                        e.peak_waiting,
                        e.peak_demand,
                        params.sustained_utilization * 100.0
                    ),
                    &s,
                    current,
                ));
            } else if s.waiting_seconds > 0 {
                let candidate = current.saturating_add(step);
                recommended = recommended.max(candidate);
                findings.push(finding(
                    Code::Saturation,
                    Effect::Raise,
                    Some(candidate),
                    format!(
                        "server pool {name}: clients waited for a server connection for {} s in all (up to {} at once, the longest wait {:.1} s): the demand is censored, increase by {step} to {candidate}",
                        s.waiting_seconds, s.max_cl_waiting, s.max_wait_seconds
                    ),
                    &s,
                    current,
                ));
            }
            PoolDecision {
                database: s.database.clone(),
                user: s.user.clone(),
                pool_mode: pool.pool_mode,
                current: configured,
                recommended: recommended.max(configured),
                reserve: pool.reserve,
                mean_utilization: u,
                stats: s,
                findings,
            }
        })
        .collect();
    // The database side with the recommended server pools.
    let mut grown = db.clone();
    if let Some(b) = grown.bouncer.as_mut() {
        for d in out.iter().filter(|d| d.changes()) {
            let entry = b.databases.entry(d.database.clone()).or_default();
            entry.pool_size = Some(entry.pool_size.unwrap_or(d.current).max(d.recommended));
        }
    }
    let budget = check_budget(&grown, pools, decisions);
    // A cap on the database (or user) still holds the grown pools together.
    let caps = budget.pgbouncer.as_ref().map(|p| p.caps.clone()).unwrap_or_default();
    for d in out.iter_mut().filter(|d| d.changes()) {
        let binding: Vec<&String> = caps
            .iter()
            .filter(|c| c.contains(&format!(" for {} (", d.database)) || c.contains(&format!(" for {} (", d.user)))
            .collect();
        if !binding.is_empty() {
            let s = d.stats.clone();
            d.findings.push(finding(
                Code::PgbouncerPool,
                Effect::Advisory,
                None,
                format!(
                    "server pool {}/{}: with the recommended sizes, {} — a larger pool_size helps only while the other pools under that cap are quiet; raise the cap in pgbouncer.ini too (the database budget above counts it)",
                    d.database,
                    d.user,
                    binding.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(" and ")
                ),
                &s,
                d.current,
            ));
        }
    }
    if !budget.database_ok() {
        let message = format!(
            "the recommended server pools need {} = {} connections at the database, but the budget is {}: raise max_connections (a restart), move a service off the database, or cap the pools with max_db_connections and accept the waits",
            budget.arithmetic(),
            budget.required,
            budget.limit
        );
        for d in out.iter_mut().filter(|d| d.changes()) {
            let s = d.stats.clone();
            d.findings.push(finding(
                Code::BudgetExceeded,
                Effect::Block,
                None,
                message.clone(),
                &s,
                d.current,
            ));
        }
    }
    out
}
