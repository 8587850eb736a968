//! `poolcap simulate`: SQLAlchemy's QueuePool simulated
//! ([`crate::analyze::simulator`]) on a synthetic workload — Poisson arrivals
//! and a hold-time distribution — for checks against closed forms and for
//! what-ifs. docs/simulate.md says what each figure means.

use serde::Serialize;

use crate::analyze::queueing::erlang_c;
use crate::analyze::simulator::{HoldTime, PoolConfig, poisson_checkouts, simulate};
use crate::model::limits;

use super::UsageError;

/// Expected checkouts a run may ask for.
pub const MAX_CHECKOUTS: f64 = 2e7;

/// A synthetic scenario, as `simulate` is asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Checkouts per second (Poisson).
    pub rate: f64,
    /// How long each holds its connection.
    pub hold: HoldTime,
    /// The pool.
    pub pool: PoolConfig,
    /// Seconds simulated.
    pub duration: f64,
    /// The random seed.
    pub seed: u64,
}

/// Parses `--arrivals poisson:RATE` (checkouts per second).
pub fn parse_arrivals(text: &str) -> Result<f64, UsageError> {
    let bad = || {
        UsageError(format!(
            "--arrivals {text:?}: write poisson:RATE, RATE checkouts per second (e.g. poisson:30)"
        ))
    };
    let rate = text.strip_prefix("poisson:").ok_or_else(bad)?;
    let rate: f64 = rate.trim().parse().map_err(|_| bad())?;
    if !(rate.is_finite() && rate > 0.0 && rate <= 1e6) {
        return Err(UsageError(format!(
            "--arrivals {text:?}: the rate must be above 0 and at most 1000000 per second"
        )));
    }
    Ok(rate)
}

/// Parses `--hold exp:SECONDS`, `fixed:SECONDS` or `lognormal:SECONDS:SIGMA`
/// (mean seconds, σ of the log).
pub fn parse_hold(text: &str) -> Result<HoldTime, UsageError> {
    let bad = || {
        UsageError(format!(
            "--hold {text:?}: write exp:SECONDS, fixed:SECONDS or lognormal:SECONDS:SIGMA (mean hold; σ of its log, e.g. lognormal:0.1:1)"
        ))
    };
    let seconds = |s: &str| -> Result<f64, UsageError> {
        let v: f64 = s.trim().parse().map_err(|_| bad())?;
        if v.is_finite() && v > 0.0 && v <= 3600.0 {
            Ok(v)
        } else {
            Err(UsageError(format!(
                "--hold {text:?}: a hold time must be above 0 and at most 3600 seconds"
            )))
        }
    };
    let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
    match kind {
        "exp" => Ok(HoldTime::Exponential(seconds(rest)?)),
        "fixed" => Ok(HoldTime::Fixed(seconds(rest)?)),
        "lognormal" => {
            let (mean, sigma) = rest.split_once(':').ok_or_else(bad)?;
            let sigma: f64 = sigma.trim().parse().map_err(|_| bad())?;
            if !(sigma.is_finite() && (0.0..=4.0).contains(&sigma)) {
                return Err(UsageError(format!("--hold {text:?}: σ must be from 0 to 4")));
            }
            Ok(HoldTime::Lognormal {
                mean: seconds(mean)?,
                sigma,
            })
        }
        _ => Err(bad()),
    }
}

/// Checks the pool and the run's length: sizes within poolcap's limits, a
/// timeout and a duration that are positive, at most 2 × 10⁷ expected
/// checkouts (each checkout's wait is kept for the percentiles: 9 bytes each,
/// 180 MB at the limit).
pub fn check(scenario: &Scenario) -> Result<(), UsageError> {
    let p = &scenario.pool;
    if p.pool_size == 0 || u64::from(p.pool_size) > u64::from(limits::MAX_CONNECTIONS) {
        return Err(UsageError(format!(
            "--pool-size {}: from 1 to {}",
            p.pool_size,
            limits::MAX_CONNECTIONS
        )));
    }
    if u64::from(p.max_overflow) > u64::from(limits::MAX_CONNECTIONS) {
        return Err(UsageError(format!(
            "--max-overflow {}: at most {}",
            p.max_overflow,
            limits::MAX_CONNECTIONS
        )));
    }
    for (flag, v) in [("--pool-timeout", p.timeout), ("--duration", scenario.duration)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(UsageError(format!("{flag} {v}: a positive number of seconds")));
        }
    }
    if !(p.connect.is_finite() && p.connect >= 0.0) {
        return Err(UsageError(format!("--connect-ms {}: zero or more", p.connect * 1000.0)));
    }
    let expected = scenario.rate * scenario.duration;
    if expected > MAX_CHECKOUTS {
        return Err(UsageError(format!(
            "--arrivals × --duration asks for {expected:.0} checkouts; at most {MAX_CHECKOUTS:.0} per run (shorten --duration)"
        )));
    }
    Ok(())
}

/// What a synthetic run gives (the JSON of `simulate --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct SimulationReport {
    /// Checkouts asked for.
    pub checkouts: u64,
    /// Checkouts that failed after `pool_timeout`.
    pub timeouts: u64,
    /// Share of checkouts that waited for a returned connection.
    pub p_wait: f64,
    /// Share of checkouts that failed.
    pub p_timeout: f64,
    /// Median wait of all checkouts, ms (a failed one waited `pool_timeout`).
    pub wait_p50_ms: f64,
    /// 95th percentile wait, ms.
    pub wait_p95_ms: f64,
    /// 99th percentile wait, ms.
    pub wait_p99_ms: f64,
    /// Connections opened.
    pub opened: u64,
    /// Most connections in use at once.
    pub peak_in_use: u64,
    /// Mean connections in use.
    pub mean_in_use: f64,
    /// Seconds with every connection the pool may open in use.
    pub saturated_seconds: f64,
    /// Offered load: rate × mean hold (Erlangs).
    pub offered_load: f64,
    /// Erlang C's P(wait) for `pool_size + max_overflow` servers at that load
    /// — the review's queueing model — for comparison (`null` when the load
    /// reaches them: M/M/c has no steady state there).
    pub erlang_c_p_wait: Option<f64>,
    /// The scenario, as run.
    pub scenario: ScenarioJson,
}

/// The scenario as the report echoes it.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioJson {
    /// `poisson:RATE`.
    pub arrivals: String,
    /// The hold distribution.
    pub hold: String,
    /// `pool_size`.
    pub pool_size: u32,
    /// `max_overflow`.
    pub max_overflow: u32,
    /// `pool_timeout`, seconds.
    pub pool_timeout: f64,
    /// Connect time, ms.
    pub connect_ms: f64,
    /// Seconds simulated.
    pub duration_seconds: f64,
    /// The seed.
    pub seed: u64,
}

fn hold_text(h: &HoldTime) -> String {
    match h {
        HoldTime::Fixed(s) => format!("fixed:{s}"),
        HoldTime::Exponential(s) => format!("exp:{s}"),
        HoldTime::Lognormal { mean, sigma } => format!("lognormal:{mean}:{sigma}"),
        HoldTime::Empirical(q) => format!("measured ({} quantiles, mean {:.4} s)", q.len(), h.mean()),
    }
}

/// Runs `scenario`.
pub fn run(scenario: &Scenario) -> Result<SimulationReport, UsageError> {
    check(scenario)?;
    let out = simulate(
        scenario.pool,
        poisson_checkouts(scenario.rate, scenario.hold.clone(), scenario.duration, scenario.seed),
    );
    let offered = scenario.rate * scenario.hold.mean();
    let q = out.wait_quantiles(&[0.50, 0.95, 0.99]);
    let ms = |i: usize| (q[i] * 1e6).round() / 1e3;
    Ok(SimulationReport {
        checkouts: out.counts.checkouts,
        timeouts: out.counts.timeouts,
        p_wait: out.p_wait(),
        p_timeout: out.p_timeout(),
        wait_p50_ms: ms(0),
        wait_p95_ms: ms(1),
        wait_p99_ms: ms(2),
        opened: out.counts.opened,
        peak_in_use: out.counts.peak_in_use,
        mean_in_use: out.mean_in_use(),
        saturated_seconds: out.counts.saturated_seconds,
        offered_load: offered,
        erlang_c_p_wait: u32::try_from(scenario.pool.capacity())
            .ok()
            .filter(|&c| offered < f64::from(c))
            .map(|c| erlang_c(c, offered)),
        scenario: ScenarioJson {
            arrivals: format!("poisson:{}", scenario.rate),
            hold: hold_text(&scenario.hold),
            pool_size: scenario.pool.pool_size,
            max_overflow: scenario.pool.max_overflow,
            pool_timeout: scenario.pool.timeout,
            connect_ms: scenario.pool.connect * 1000.0,
            duration_seconds: scenario.duration,
            seed: scenario.seed,
        },
    })
}

/// Parses `--pool-sizes`: `FROM..TO` (in steps of `step`), `FROM..TO:STEP`,
/// or a list `N,M,…`; at most 100 sizes, each from 1 to poolcap's limit.
pub fn parse_pool_sizes(text: &str, step: u32) -> Result<Vec<u32>, UsageError> {
    let bad = || {
        UsageError(format!(
            "--pool-sizes {text:?}: write FROM..TO (e.g. 10..60, in steps of policy.escalate_step), FROM..TO:STEP or a list such as 20,25,30"
        ))
    };
    let number = |s: &str| -> Result<u32, UsageError> {
        let n: u32 = s.trim().parse().map_err(|_| bad())?;
        if n == 0 || n > limits::MAX_CONNECTIONS {
            return Err(UsageError(format!(
                "--pool-sizes {text:?}: each size must be from 1 to {}",
                limits::MAX_CONNECTIONS
            )));
        }
        Ok(n)
    };
    let sizes: Vec<u32> = if let Some((from, rest)) = text.split_once("..") {
        let (to, step) = match rest.split_once(':') {
            Some((to, s)) => (to, number(s)?),
            None => (rest, step.max(1)),
        };
        let (from, to) = (number(from)?, number(to)?);
        if from > to {
            return Err(UsageError(format!("--pool-sizes {text:?}: FROM must not be above TO")));
        }
        (0..)
            .map(|i: u32| from.saturating_add(i.saturating_mul(step)))
            .take_while(|&p| p <= to)
            .take(101)
            .collect()
    } else {
        text.split(',').map(number).collect::<Result<_, _>>()?
    };
    if sizes.len() > 100 {
        return Err(UsageError(format!(
            "--pool-sizes {text:?}: at most 100 sizes per run (each one is simulated)"
        )));
    }
    Ok(sizes)
}

/// One simulated size of a service, with its connections against the budget.
#[derive(Debug, Clone, Serialize)]
pub struct SizeRow {
    /// What the pools did.
    #[serde(flatten)]
    pub outcome: crate::analyze::study::SizeOutcome,
    /// The service's connections at this size (pools × (pool_size + max_overflow)).
    pub connections: u64,
    /// Whether the budget holds it with the other services as recommended.
    pub fits_budget: bool,
}

/// `simulate --month` for one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceSimulation {
    /// Service name.
    pub service: String,
    /// Pools (replicas × processes per replica).
    pub pools: u64,
    /// Current size.
    pub current: crate::model::PoolSize,
    /// Recommended size.
    pub recommended: crate::model::PoolSize,
    /// The largest pool_size the budget takes, the others as recommended.
    pub headroom: Option<u32>,
    /// Each size simulated.
    pub sizes: Vec<SizeRow>,
    /// The whole check (calibration, holds, dispersion…).
    pub queueing: crate::analyze::study::QueueingStudy,
}

/// What `simulate --month` reports.
#[derive(Debug, Clone, Serialize)]
pub struct MonthReport {
    /// `YYYY-MM`.
    pub month: String,
    /// Which instance-hours.
    pub hours: String,
    /// The seed.
    pub seed: u64,
    /// Connections the budget allows.
    pub budget_limit: u32,
    /// Per service with minutes in the month.
    pub services: Vec<ServiceSimulation>,
}

/// The report of `simulate --month` from a plan computed with the sizes asked.
pub fn month_report(
    settings: &crate::config::Settings,
    outcome: &super::plan::PlanOutcome,
    hours: crate::model::simulation::Hours,
    seed: u64,
    only: Option<&str>,
) -> MonthReport {
    let budget = &outcome.plan.budget;
    let pools: Vec<_> = settings
        .services
        .iter()
        .map(crate::config::ServiceSettings::budget_pools)
        .collect();
    let services = outcome
        .plan
        .decisions
        .iter()
        .enumerate()
        .filter(|(_, d)| only.is_none_or(|s| s == d.service))
        .filter_map(|(k, d)| {
            let q = outcome.queueing.get(k)?.clone()?;
            let sizes = q
                .candidates
                .iter()
                .map(|c| {
                    let connections = pools[k].count.saturating_mul(c.size().capacity());
                    SizeRow {
                        outcome: c.clone(),
                        connections,
                        fits_budget: budget.fits(k, connections),
                    }
                })
                .collect();
            Some(ServiceSimulation {
                service: d.service.clone(),
                pools: pools[k].count,
                current: d.current,
                recommended: d.recommended,
                headroom: crate::policy::headroom(
                    &outcome.database,
                    &pools,
                    &outcome.plan.decisions,
                    k,
                    settings.policy.overflow_factor,
                    settings.services[k].max_pool_size,
                ),
                sizes,
                queueing: q,
            })
        })
        .collect();
    MonthReport {
        month: outcome.month.to_string(),
        hours: hours.to_string(),
        seed,
        budget_limit: budget.limit,
        services,
    }
}
