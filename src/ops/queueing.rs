//! The queueing check (DESIGN §1.6, issue 16): each service's busiest
//! instance-hours of the month simulated at the sizes a decision needs
//! ([`crate::analyze::study`]), with hold times from the month's slow log or
//! the configured distribution. `plan`, `review` and `simulate --month` share
//! it; docs/simulate.md says what each figure means.

use crate::analyze::Analysis;
use crate::analyze::digest::{Digest, Histogram};
use crate::analyze::simulator::HoldTime;
use crate::analyze::study::{InstanceMinutes, QueueingStudy, StudyMeta, StudySettings, study_services};
use crate::config::Settings;
use crate::ingest::SeriesTable;
use crate::model::simulation::{HoldShape, Hours};
use crate::model::{PoolSize, ceil_times};

/// Equally likely quantiles an empirical hold distribution is kept as.
pub const HOLD_QUANTILES: usize = 1024;

/// The hold-time distribution and where it comes from: the statement
/// durations of the month's slow log when one was given (and held
/// statements), else `policy.hold_time_seconds` with
/// `policy.hold_distribution`.
pub fn hold_time(slow: Option<&Digest>, settings: &Settings) -> (HoldTime, String) {
    if let Some(d) = slow.filter(|d| d.statements > 0) {
        let mut all = Histogram::default();
        for (_, s) in d.fingerprints() {
            all.merge(&s.histogram);
        }
        let mean = d.hold_ms / d.statements as f64 / 1000.0;
        let quantiles = (0..HOLD_QUANTILES)
            .map(|i| all.quantile((i as f64 + 0.5) / HOLD_QUANTILES as f64) / 1000.0)
            .collect();
        if let Some(hold) = HoldTime::empirical(quantiles, mean) {
            return (
                hold,
                format!("the slow-query log's statement times ({} statements)", d.statements),
            );
        }
    }
    let mean = settings.policy.hold_time_seconds;
    let shape = settings.policy.hold_distribution;
    let hold = match shape {
        HoldShape::Exponential => HoldTime::Exponential(mean),
        HoldShape::Fixed => HoldTime::Fixed(mean),
        HoldShape::Lognormal(sigma) => HoldTime::Lognormal { mean, sigma },
    };
    (hold, format!("policy.hold_time_seconds = {mean} s, {shape}"))
}

/// The sizes the review's chart shows around a decision: one escalation step
/// below the current pool_size up to two above the larger of current and
/// recommended, in steps of `escalate_step` (the caller adds both sizes).
pub fn chart_sizes(settings: &Settings, current: PoolSize, recommended: PoolSize) -> Vec<PoolSize> {
    let step = settings.policy.escalate_step.max(1);
    let low = current.pool_size.saturating_sub(step).max(1);
    let high = current.pool_size.max(recommended.pool_size).saturating_add(2 * step);
    (0..)
        .map(|i: u32| low.saturating_add(i.saturating_mul(step)))
        .take_while(|&p| p <= high)
        .map(|pool_size| PoolSize {
            pool_size,
            max_overflow: ceil_times(pool_size, settings.policy.overflow_factor),
        })
        .collect()
}

/// How the check is run.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// Which hours (default: `policy.simulate_hours`).
    pub hours: Hours,
    /// The seed (default: `policy.simulation_seed`).
    pub seed: u64,
    /// Threads.
    pub threads: usize,
}

impl CheckRequest {
    /// The config's settings, on every core.
    pub fn from_settings(settings: &Settings) -> Self {
        CheckRequest {
            hours: settings.policy.simulate_hours,
            seed: settings.policy.simulation_seed,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// What one service's check is asked: service `k` at `sizes` (sorted,
/// unique, holding `current` and `recommended`).
#[derive(Debug, Clone)]
pub struct CheckAsk {
    /// Index of the service.
    pub service: usize,
    /// Its pool as deployed.
    pub current: PoolSize,
    /// The plan's size.
    pub recommended: PoolSize,
    /// The sizes to simulate.
    pub sizes: Vec<PoolSize>,
}

/// The checks of `asks`, in their order (`None` for a service none of whose
/// instances has minutes of the month). The services' blocks share the
/// threads ([`crate::analyze::study::study_services`]); each check is what it
/// would be alone.
pub fn check_services(
    settings: &Settings,
    analysis: &Analysis,
    series: &SeriesTable,
    hold: &(HoldTime, String),
    request: &CheckRequest,
    asks: &[CheckAsk],
) -> Vec<Option<QueueingStudy>> {
    // Each service's instances (one pass over them), by name: the seeds and
    // the order of the blocks do not depend on the input's row order.
    let mut by_service: std::collections::HashMap<usize, Vec<(String, &crate::analyze::demand::MinuteRecorder)>> =
        std::collections::HashMap::new();
    for i in &analysis.instances {
        if let Some(m) = i.minutes.as_ref().filter(|m| m.covered()) {
            let key = series.key(i.series);
            by_service
                .entry(i.service)
                .or_default()
                .push((format!("{}/{}", key.service, key.instance), m));
        }
    }
    let names: Vec<Vec<(String, &crate::analyze::demand::MinuteRecorder)>> = asks
        .iter()
        .map(|ask| {
            let mut instances = by_service.get(&ask.service).cloned().unwrap_or_default();
            instances.sort_by(|a, b| a.0.cmp(&b.0));
            instances
        })
        .collect();
    let inputs: Vec<Vec<InstanceMinutes<'_>>> = names
        .iter()
        .map(|list| {
            list.iter()
                .map(|(name, minutes)| InstanceMinutes { name, minutes })
                .collect()
        })
        .collect();
    let study_settings = StudySettings {
        hours: request.hours,
        hold: hold.0.clone(),
        timeout: settings.pool.pool_timeout as f64,
        seed: request.seed,
        threads: request.threads,
    };
    let with_minutes: Vec<usize> = (0..asks.len()).filter(|&k| !inputs[k].is_empty()).collect();
    let jobs: Vec<(&[InstanceMinutes<'_>], &[PoolSize])> = with_minutes
        .iter()
        .map(|&k| (inputs[k].as_slice(), asks[k].sizes.as_slice()))
        .collect();
    let mut studies = study_services(&jobs, &study_settings).into_iter();
    let meta = StudyMeta {
        hours: request.hours,
        hold_source: hold.1.clone(),
        target: settings.policy.queue_target,
        seed: request.seed,
    };
    (0..asks.len())
        .map(|k| {
            if inputs[k].is_empty() {
                return None;
            }
            let result = studies.next()?;
            Some(QueueingStudy::new(
                &result,
                &study_settings,
                &meta,
                asks[k].current,
                asks[k].recommended,
                inputs[k].len(),
            ))
        })
        .collect()
}
