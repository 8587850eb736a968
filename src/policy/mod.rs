//! The capacity policy (DESIGN §1.4) and its guards (§1.5), as pure functions:
//! evidence in, findings and a recommendation out. No I/O, no clock.
//!
//! Invariants (property-tested):
//! - each rule yields a candidate `pool_size`; the recommendation is the largest
//!   candidate (rules do not add up), never below the current size, and capped by
//!   `max_pool_size` (but still never below current);
//! - more load never gives a smaller recommendation;
//! - whenever `pool_size` changes, `max_overflow = ceil(pool_size × overflow_factor)`;
//! - the budget is checked on the recommendation: a plan over it is blocked;
//! - findings from the analysis ([`evidence`]: slow queries, the queueing
//!   check) inform and never change the recommendation.
//!
//! The rules in plain words: docs/policy.md.

pub mod alert_rules;
mod bouncer_pools;
mod budget;
pub mod evidence;
mod finding;
pub mod outlook;

pub use bouncer_pools::{PoolDecision, pool_decisions};
pub use budget::{
    BouncerBudget, Breach, Budget, BudgetDatabase, BudgetLine, BudgetSide, ServerPoolLine, check_budget, headroom,
    waiting_findings,
};
pub use finding::{Code, Effect, Finding, FindingEvidence, SlowShape, SourceValue};

use serde::Serialize;

use crate::config::PolicySettings;
use crate::model::bouncer::{PoolMode, ServicePools};
use crate::model::{DatabaseBudget, PoolSize, ceil_times};

/// A month's service-level numbers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MonthEvidence {
    /// Time-weighted mean utilization.
    pub mean_utilization: f64,
    /// Covered share of the month.
    pub coverage: f64,
    /// Seconds with any pool saturated.
    pub saturated_seconds: i64,
    /// Pool timeouts.
    pub timeouts: u64,
}

/// The worst sustained-high episode of the month.
#[derive(Debug, Clone, PartialEq)]
pub struct SustainedEvidence {
    /// The instance it happened in.
    pub instance: String,
    /// When it started (RFC 3339, for the message).
    pub start: String,
    /// How long it lasted, seconds.
    pub duration: i64,
    /// Connections held through its best `sustained_for` window.
    pub level_checked_out: u32,
    /// Pool size during it.
    pub pool_size: u32,
}

/// Everything the policy looks at for one service.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Service name.
    pub service: String,
    /// The pool as deployed.
    pub current: PoolSize,
    /// The pool size in effect at the end of the reviewed month (what produced
    /// the evidence). Escalation steps are taken from it, so a plan applied once
    /// is not escalated again by the same month's numbers.
    pub observed_pool_size: u32,
    /// Peak concurrent users, when configured.
    pub concurrent_users: Option<u32>,
    /// Hard limit, when configured.
    pub max_pool_size: Option<u32>,
    /// The reviewed month.
    pub month: MonthEvidence,
    /// Earlier months, most recent first (`None`: no data at all).
    pub earlier: Vec<Option<MonthEvidence>>,
    /// The worst sustained-high episode, if any.
    pub sustained: Option<SustainedEvidence>,
}

/// The decision for one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Service name.
    pub service: String,
    /// As deployed.
    pub current: PoolSize,
    /// As recommended.
    pub recommended: PoolSize,
    /// The finding that set the recommendation, when it differs from current.
    pub deciding: Option<Code>,
    /// Every rule that fired, in rule order.
    pub findings: Vec<Finding>,
}

impl Decision {
    /// Whether the recommendation differs from what is deployed.
    pub fn changes(&self) -> bool {
        self.recommended != self.current
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn finding(code: Code, current: u32, candidate: Option<u32>, message: String, evidence: FindingEvidence) -> Finding {
    let effect = match candidate {
        Some(c) if c > current => Effect::Raise,
        _ => Effect::Info,
    };
    Finding {
        code,
        effect,
        candidate_pool_size: candidate,
        message,
        rule: code.rule_text(),
        evidence,
    }
}

/// Rule 3's size: the smallest `observed + k × step` (k ≥ 0) at which `level`
/// connections are at or below `threshold` of the pool, found by division (not
/// by stepping, which a huge level would make endless), checked exactly against
/// the rule's own comparison, and capped at `u32::MAX`.
fn sustained_size(level: u32, threshold: f64, observed: u32, step: u32) -> u32 {
    let fits = |size: u64| f64::from(level) <= threshold * size as f64;
    let (observed64, step64) = (u64::from(observed), u64::from(step.max(1)));
    if fits(observed64) {
        return observed;
    }
    let cap = u64::from(u32::MAX);
    let k_max = (cap - observed64.min(cap)) / step64;
    let estimate = ((f64::from(level) / threshold - observed as f64) / step64 as f64).ceil();
    // NaN or below 1 → 1; beyond the cap → the cap (`as` saturates).
    let mut k = (estimate as u64).clamp(1, k_max.max(1));
    // The division is exact to a few ulps: a few steps either way settle it.
    for _ in 0..4 {
        if k > 1 && fits(observed64 + (k - 1) * step64) {
            k -= 1;
        } else if !fits(observed64 + k * step64) && k < k_max {
            k += 1;
        } else {
            break;
        }
    }
    (observed64 + k * step64).min(cap) as u32
}

/// Applies every rule to one service's evidence.
pub fn decide(e: &Evidence, p: &PolicySettings) -> Decision {
    let current = e.current.pool_size;
    let observed = e.observed_pool_size.max(1);
    let step = p.escalate_step;
    let base_note = if observed == current {
        String::new()
    } else {
        format!(" (the pool in effect during the month; {current} is deployed now)")
    };
    let mut findings = Vec::new();

    // Rule 1: sizing formula.
    if let Some(users) = e.concurrent_users {
        let size = ceil_times(users, p.users_factor).max(1);
        let message = if size > current {
            format!(
                "{users} concurrent users × {} = {size} connections, above the current {current}",
                p.users_factor
            )
        } else {
            format!(
                "{users} concurrent users × {} = {size} connections; the current {current} already covers it",
                p.users_factor
            )
        };
        findings.push(finding(
            Code::SizingFormula,
            current,
            Some(size),
            message,
            FindingEvidence::SizingFormula {
                concurrent_users: users,
                pool_size: size,
                users_factor: p.users_factor,
            },
        ));
    }

    let gated = e.month.coverage < p.min_coverage;
    // Rule 7: data gate.
    if gated {
        findings.push(Finding {
            code: Code::InsufficientData,
            effect: Effect::Advisory,
            candidate_pool_size: None,
            message: format!(
                "samples cover {} of the month, below the {} needed; the monthly mean is not used for a decision",
                pct(e.month.coverage),
                pct(p.min_coverage)
            ),
            rule: Code::InsufficientData.rule_text(),
            evidence: FindingEvidence::InsufficientData {
                coverage: e.month.coverage,
                min_coverage: p.min_coverage,
            },
        });
    }

    // Rule 2: monthly escalation.
    if !gated && e.month.mean_utilization > p.escalate_mean_utilization {
        let size = observed.saturating_add(step);
        findings.push(finding(
            Code::MonthlyEscalation,
            current,
            Some(size),
            format!(
                "mean utilization {} over the month is above {}: pool_size {observed}{base_note} + {step} = {size}",
                pct(e.month.mean_utilization),
                pct(p.escalate_mean_utilization)
            ),
            FindingEvidence::MonthlyEscalation {
                mean_utilization: e.month.mean_utilization,
                step,
                threshold: p.escalate_mean_utilization,
            },
        ));
    }

    // Rule 3: sustained high.
    if let Some(s) = &e.sustained {
        let size = sustained_size(s.level_checked_out, p.sustained_utilization, observed, step);
        let message = if size > current {
            format!(
                "{} held ≥ {} connections for {} from {} (u > {} at pool_size {}); at {size} that level is {}, so increase now",
                s.instance,
                s.level_checked_out,
                crate::model::format_duration(s.duration),
                s.start,
                pct(p.sustained_utilization),
                s.pool_size,
                pct(f64::from(s.level_checked_out) / f64::from(size)),
            )
        } else {
            format!(
                "{} held ≥ {} connections for {} from {}; the current pool_size {current} already keeps that level at {}",
                s.instance,
                s.level_checked_out,
                crate::model::format_duration(s.duration),
                s.start,
                pct(f64::from(s.level_checked_out) / f64::from(current)),
            )
        };
        findings.push(finding(
            Code::SustainedHigh,
            current,
            Some(size),
            message,
            FindingEvidence::SustainedHigh {
                duration_seconds: s.duration,
                for_seconds: p.sustained_for,
                instance: s.instance.clone(),
                pool_size: s.pool_size,
                start: s.start.clone(),
                sustained_checked_out: s.level_checked_out,
                threshold: p.sustained_utilization,
            },
        ));
    }

    // Rule 4: saturation.
    if e.month.saturated_seconds > 0 || e.month.timeouts > 0 {
        let size = observed.saturating_add(step);
        findings.push(finding(
            Code::Saturation,
            current,
            Some(size),
            format!(
                "pools were saturated for {} and {} checkout(s) timed out: true demand is unknown (censored), so grow pool_size {observed}{base_note} by at least {step} to {size}",
                crate::model::format_duration(e.month.saturated_seconds),
                e.month.timeouts
            ),
            FindingEvidence::Saturation {
                saturated_seconds: e.month.saturated_seconds,
                step,
                timeouts: e.month.timeouts,
            },
        ));
    }

    // Rule 6: never shrink by itself; advisory only.
    let months = p.overprovisioned_months as usize;
    let low = |m: &MonthEvidence| m.coverage >= p.min_coverage && m.mean_utilization < p.overprovisioned_utilization;
    if !gated
        && low(&e.month)
        && e.earlier.len() + 1 >= months
        && e.earlier.iter().take(months - 1).all(|m| m.as_ref().is_some_and(low))
    {
        let means: Vec<f64> = std::iter::once(e.month.mean_utilization)
            .chain(e.earlier.iter().take(months - 1).flatten().map(|m| m.mean_utilization))
            .collect();
        findings.push(Finding {
            code: Code::Overprovisioned,
            effect: Effect::Advisory,
            candidate_pool_size: None,
            message: format!(
                "mean utilization stayed below {} for {months} month(s) ({}); consider a smaller pool — poolcap does not shrink it",
                pct(p.overprovisioned_utilization),
                means.iter().map(|m| pct(*m)).collect::<Vec<_>>().join(", ")
            ),
            rule: Code::Overprovisioned.rule_text(),
            evidence: FindingEvidence::Overprovisioned {
                monthly_means: means,
                threshold: p.overprovisioned_utilization,
            },
        });
    }

    // The largest candidate wins; never below current.
    let best = findings
        .iter()
        .filter_map(|f| f.candidate_pool_size)
        .fold(current, u32::max);
    let mut pool_size = best;
    let mut deciding = findings
        .iter()
        .find(|f| f.effect == Effect::Raise && f.candidate_pool_size == Some(best))
        .map(|f| f.code);

    // Guard: hard limit.
    if let Some(limit) = e.max_pool_size
        && pool_size > limit
    {
        let capped = limit.max(current);
        findings.push(Finding {
            code: Code::MaxPoolSize,
            effect: Effect::Limit,
            candidate_pool_size: Some(capped),
            message: format!(
                "the rules ask for pool_size {pool_size}, above max_pool_size {limit}: capped at {capped}; the remaining demand needs another remedy (more processes, PgBouncer, faster queries)"
            ),
            rule: Code::MaxPoolSize.rule_text(),
            evidence: FindingEvidence::MaxPoolSize {
                max_pool_size: limit,
                requested: pool_size,
            },
        });
        pool_size = capped;
        if capped > current {
            deciding = Some(Code::MaxPoolSize);
        } else {
            deciding = None;
        }
    }

    let recommended = if pool_size == current {
        e.current
    } else {
        PoolSize {
            pool_size,
            max_overflow: ceil_times(pool_size, p.overflow_factor),
        }
    };
    Decision {
        service: e.service.clone(),
        current: e.current,
        recommended,
        deciding,
        findings,
    }
}

/// The whole plan: decisions, then the budget guard on them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// One per service, in config order.
    pub decisions: Vec<Decision>,
    /// The budget on the recommendation.
    pub budget: Budget,
    /// PgBouncer's server pools, decided from their snapshots (`plan
    /// --pgbouncer-pools`); empty without them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pgbouncer_pools: Vec<PoolDecision>,
}

impl Plan {
    /// Whether a guard blocks the plan: the budget, or a finding that blocks
    /// (services writing different pools into one shared file, a tenfold
    /// setting drift not accepted, PgBouncer server pools the database
    /// cannot hold).
    pub fn blocked(&self) -> bool {
        !self.budget.ok
            || self.blocking_findings().next().is_some()
            || self
                .pgbouncer_pools
                .iter()
                .flat_map(|p| &p.findings)
                .any(|f| f.effect == Effect::Block)
    }

    /// The findings other than the budget's that block the plan; no budget
    /// flag overrides them.
    pub fn blocking_findings(&self) -> impl Iterator<Item = &Finding> {
        self.decisions
            .iter()
            .flat_map(|d| &d.findings)
            .filter(|f| f.effect == Effect::Block && f.code != Code::BudgetExceeded)
    }

    /// The first `shared-target` finding that blocks, if any (the file cannot
    /// hold two pools).
    pub fn shared_conflict(&self) -> Option<&Finding> {
        self.blocking_findings().find(|f| f.code == Code::SharedTarget)
    }
}

/// Services (indices into the evidence) whose targets are one file with the same keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedTarget {
    /// The file, as the config names it.
    pub file: String,
    /// The services reading it, in config order (two or more).
    pub services: Vec<usize>,
}

/// Decides every service, then checks the budget and records a
/// `budget-exceeded` finding on the services that grow (or on all of them when
/// the current sizes alone break it). Services sharing a target file are
/// budgeted at the largest pool any of them asks for (the file holds one), and
/// a `shared-target` finding blocks the plan when they ask for different ones.
pub fn plan(
    evidence: &[Evidence],
    pools: &[ServicePools],
    params: &PolicySettings,
    db: &DatabaseBudget,
    shared: &[SharedTarget],
) -> Plan {
    let mut decisions: Vec<Decision> = evidence.iter().map(|e| decide(e, params)).collect();
    let mut budgeted = decisions.clone();
    for group in shared {
        let members: Vec<Decision> = group
            .services
            .iter()
            .filter_map(|&k| decisions.get(k).cloned())
            .collect();
        let Some(largest) = members
            .iter()
            .map(|d| d.recommended)
            .max_by_key(|p| (p.capacity(), p.pool_size))
        else {
            continue;
        };
        let differ = members.iter().any(|d| d.recommended != largest);
        let names: Vec<&str> = members.iter().map(|d| d.service.as_str()).collect();
        let asked = members
            .iter()
            .map(|d| {
                format!(
                    "{} {} + {}",
                    d.service, d.recommended.pool_size, d.recommended.max_overflow
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let message = if differ {
            format!(
                "{} is a target of {} with the same keys, and they ask for different pools ({asked}): the file can hold only one; give each service its own file or keys, or make their policies agree — nothing is written until then",
                group.file,
                names.join(" and ")
            )
        } else {
            format!(
                "{} is a target of {} with the same keys: the file holds one pool ({} + {}) for all of them, and the budget counts it for each",
                group.file,
                names.join(" and "),
                largest.pool_size,
                largest.max_overflow
            )
        };
        for &k in &group.services {
            if let Some(b) = budgeted.get_mut(k) {
                b.recommended = largest;
            }
            if let Some(d) = decisions.get_mut(k) {
                d.findings.push(Finding {
                    code: Code::SharedTarget,
                    effect: if differ { Effect::Block } else { Effect::Advisory },
                    candidate_pool_size: None,
                    message: message.clone(),
                    rule: Code::SharedTarget.rule_text(),
                    evidence: FindingEvidence::SharedTarget {
                        budgeted: largest,
                        file: group.file.clone(),
                        services: names.iter().map(|n| n.to_string()).collect(),
                    },
                });
            }
        }
    }
    let budget = check_budget(db, pools, &budgeted);
    let any_growing = decisions.iter().any(Decision::changes);
    for breach in budget.breaches() {
        // The finding goes on the services counted on that side that grow;
        // when none grows (the deployed pools alone break it), on every service.
        let counted = |k: usize| {
            pools
                .get(k)
                .is_some_and(|p| (p.route == crate::model::bouncer::Route::Direct) == breach.side.is_database())
        };
        let growing_here: Vec<usize> = (0..decisions.len())
            .filter(|&k| counted(k) && decisions[k].changes())
            .collect();
        let on: Vec<usize> = if growing_here.is_empty() || !any_growing {
            (0..decisions.len()).collect()
        } else {
            growing_here
        };
        for k in on {
            decisions[k].findings.push(Finding {
                code: Code::BudgetExceeded,
                effect: Effect::Block,
                candidate_pool_size: None,
                message: breach.message.clone(),
                rule: Code::BudgetExceeded.rule_text(),
                evidence: FindingEvidence::BudgetExceeded {
                    current_required: breach.current_required,
                    limit: breach.limit,
                    required: breach.required,
                    side: breach.side,
                },
            });
        }
    }
    // Session mode: a SQLAlchemy pool keeps its connections open, and each
    // open client connection holds a server connection for its life.
    if let Some(p) = &budget.pgbouncer {
        for line in &p.server_pools {
            if line.pool.pool_mode != PoolMode::Session || line.clients <= line.pool.capacity() {
                continue;
            }
            let message = format!(
                "{} reach PostgreSQL through PgBouncer's pool {}/{} in session mode: their pools may hold {} client connections, and each holds a server connection for its whole life, but the server pool has {} ({} + {} reserve); the other {} clients wait (cl_waiting) and time out. Ways out: pool_mode = transaction for this database or user, a server pool of {} or more, or smaller application pools",
                line.services.join(", "),
                line.pool.database,
                line.pool.user,
                line.clients,
                line.pool.capacity(),
                line.pool.pool_size,
                line.pool.reserve,
                line.clients - line.pool.capacity(),
                line.clients,
            );
            for d in decisions.iter_mut().filter(|d| line.services.contains(&d.service)) {
                d.findings.push(Finding {
                    code: Code::PgbouncerPool,
                    effect: Effect::Advisory,
                    candidate_pool_size: None,
                    message: message.clone(),
                    rule: Code::PgbouncerPool.rule_text(),
                    evidence: FindingEvidence::PgbouncerPool {
                        database: line.pool.database.clone(),
                        user: line.pool.user.clone(),
                        pool_mode: line.pool.pool_mode,
                        server_capacity: line.pool.capacity(),
                        clients: line.clients,
                        cl_waiting: None,
                        maxwait_seconds: None,
                    },
                });
            }
        }
    }
    Plan {
        decisions,
        budget,
        pgbouncer_pools: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
