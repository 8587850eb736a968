//! Pool sizes tried on the measured month: each service's busiest
//! instance-hours ([`super::demand`]) replayed through the QueuePool simulator
//! ([`super::replay`]) at every candidate size and as deployed, and the
//! deployed run compared with what the metrics measured (the calibration).
//!
//! Blocks (contiguous selected hours of one instance) are independent, so
//! they run on several threads; each has its own seed (from the run's seed,
//! the instance's name and its first minute) and results are merged in block
//! order, so the outcome does not depend on the threads.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::demand::{self, HourRank, Hours, KeptHour, MARGIN, MinuteObs, MinuteRecorder, NO_SAMPLE};
use super::replay::{Block, BlockMinute, LaneResult, LaneSize, run_block};
use super::simulator::{HoldTime, quantile};
use crate::model::PoolSize;

/// What the study is asked.
#[derive(Debug, Clone)]
pub struct StudySettings {
    /// Which hours.
    pub hours: Hours,
    /// Hold times.
    pub hold: HoldTime,
    /// `pool_timeout`, seconds.
    pub timeout: f64,
    /// The run's seed.
    pub seed: u64,
    /// Worker threads (at least 1).
    pub threads: usize,
}

/// One instance of a service: its name (for its seed) and its minutes.
#[derive(Debug, Clone, Copy)]
pub struct InstanceMinutes<'a> {
    /// A stable name (e.g. `backend/backend-0-w1`).
    pub name: &'a str,
    /// Its minutes of the month (its busiest hours, and the dispersion of all).
    pub minutes: &'a MinuteRecorder,
}

/// What the metrics measured over the simulated minutes.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Measured {
    /// Time-weighted mean utilization (checked_out / pool_size).
    pub mean_utilization: f64,
    /// 95th percentile of the sampled utilization (nearest rank).
    pub p95_utilization: f64,
    /// Seconds at `pool_size + max_overflow`.
    pub saturated_seconds: f64,
    /// Timeouts counted.
    pub timeouts: u64,
}

/// One candidate size's result.
#[derive(Debug, Clone)]
pub struct CandidateResult {
    /// The size.
    pub size: PoolSize,
    /// What the pools did, summed over the simulated hours.
    pub result: LaneResult,
}

/// The study of one service.
#[derive(Debug, Clone)]
pub struct ServiceStudy {
    /// The instance-hours simulated (instance index, hour of the month).
    pub hours: Vec<HourRank>,
    /// Minutes simulated.
    pub minutes: usize,
    /// The largest fitted over-dispersion of its instances (`None`: too few minutes).
    pub dispersion: Option<f64>,
    /// Per candidate, in the order asked.
    pub candidates: Vec<CandidateResult>,
    /// The sizes as deployed, minute by minute.
    pub deployed: LaneResult,
    /// The same minutes as measured.
    pub measured: Measured,
    /// The simulated side of the calibration.
    pub simulated: Measured,
    /// The busiest minute's load (connections) of the hours not simulated
    /// (`None`: every covered hour was): a size whose connections stay above
    /// it never runs out in those hours unless bursts within a minute reach it.
    pub unsimulated_peak: Option<f64>,
}

/// A stable 64-bit mix of the seed, a name and a number (FNV-1a, then SplitMix).
fn block_seed(seed: u64, name: &str, minute: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in name.bytes().chain((minute as u64).to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    crate::support::rng::Rng::new(h).next_u64()
}

/// One block to run, and where its results go.
struct Job {
    block: Block,
    /// What the metrics measured in its minutes (for the calibration).
    measured: Vec<MinuteObs>,
}

/// The minutes of contiguous kept `hours` of one instance, with [`MARGIN`]
/// before the first and after the last (as [`KeptHour::minutes`]).
fn joined(hours: &[&KeptHour]) -> Vec<MinuteObs> {
    let mut minutes = Vec::with_capacity(hours.len() * 60 + 2 * MARGIN);
    if let Some(first) = hours.first() {
        minutes.extend_from_slice(&first.minutes[..MARGIN]);
    }
    for h in hours {
        minutes.extend_from_slice(h.own());
    }
    if let Some(last) = hours.last() {
        minutes.extend_from_slice(&last.minutes[MARGIN + last.len..]);
    }
    minutes
}

/// The blocks of one service: contiguous selected hours of one instance.
fn blocks(
    instances: &[InstanceMinutes<'_>],
    selected: &[HourRank],
    settings: &StudySettings,
) -> (Vec<Job>, Option<f64>) {
    let hold_mean = settings.hold.mean();
    let dispersion = instances.iter().filter_map(|i| i.minutes.dispersion()).reduce(f64::max);
    let kept: Vec<Vec<&KeptHour>> = instances.iter().map(|i| i.minutes.kept()).collect();
    let mut jobs: Vec<Job> = Vec::new();
    let mut i = 0;
    while i < selected.len() {
        let mut j = i + 1;
        while j < selected.len()
            && selected[j].instance == selected[i].instance
            && selected[j].hour == selected[j - 1].hour + 1
        {
            j += 1;
        }
        let k = selected[i].instance;
        let d = instances[k].minutes.dispersion();
        let hours: Vec<&KeptHour> = selected[i..j]
            .iter()
            .filter_map(|r| kept[k].iter().find(|h| h.hour == r.hour).copied())
            .collect();
        // The margins give the block's first and last minutes the smoothing
        // they have in the whole month.
        let minutes = joined(&hours);
        let loads = demand::smoothed_loads(&minutes);
        let rates = demand::rates(&minutes, &loads, hold_mean);
        let own = MARGIN..minutes.len() - MARGIN;
        let from = selected[i].hour * 60;
        let mut deployed = (0, 0);
        let block_minutes = own
            .clone()
            .map(|m| {
                let obs = &minutes[m];
                if obs.capacity > 0 {
                    deployed = (obs.pool_size, obs.capacity);
                }
                BlockMinute {
                    rate: rates[m].unwrap_or(0.0),
                    burst_shape: loads[m].and_then(|l| d.and_then(|d| demand::burst_shape(l, d))),
                    deployed,
                    sample_at: (obs.sample_offset != NO_SAMPLE).then_some(f64::from(obs.sample_offset)),
                }
            })
            .collect::<Vec<_>>();
        // Minutes before the first deployed size was seen take it.
        let first = block_minutes
            .iter()
            .map(|m| m.deployed)
            .find(|d| d.1 > 0)
            .unwrap_or((1, 1));
        let block_minutes = block_minutes
            .into_iter()
            .map(|mut m| {
                if m.deployed.1 == 0 {
                    m.deployed = first;
                }
                m
            })
            .collect();
        jobs.push(Job {
            block: Block {
                minutes: block_minutes,
                seed: block_seed(settings.seed, instances[k].name, from),
            },
            measured: minutes[own].to_vec(),
        });
        i = j;
    }
    (jobs, dispersion)
}

/// Runs every service's jobs on `threads` threads, longest block first (so
/// that no thread is left with a long one at the end); results in each
/// service's job order. Each block has its own seed, so the results do not
/// depend on the threads or the order.
fn run_jobs(services: &[Prepared], settings: &StudySettings) -> Vec<Vec<Vec<LaneResult>>> {
    let mut order: Vec<(usize, usize)> = services
        .iter()
        .enumerate()
        .flat_map(|(s, p)| (0..p.jobs.len()).map(move |j| (s, j)))
        .collect();
    order.sort_by_key(|&(s, j)| (std::cmp::Reverse(services[s].jobs[j].block.minutes.len()), s, j));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Vec<Option<Vec<LaneResult>>>>> =
        Mutex::new(services.iter().map(|p| vec![None; p.jobs.len()]).collect());
    let threads = settings.threads.clamp(1, order.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(s, j)) = order.get(i) else { break };
                    let p = &services[s];
                    let r = run_block(&p.jobs[j].block, &p.sizes, &settings.hold, settings.timeout);
                    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[s][j] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
        .collect()
}

/// What the metrics measured over `jobs`' minutes, and the simulated
/// counterpart from the deployed lane.
fn calibration(jobs: &[Job], deployed: &LaneResult) -> (Measured, Measured) {
    let (mut in_use, mut pool_seconds, mut saturated, mut timeouts) = (0.0, 0.0, 0.0, 0u64);
    let mut sampled_measured = Vec::new();
    let mut pool_at_samples = Vec::new();
    let mut sim_pool_seconds = 0.0;
    for job in jobs {
        for (m, bm) in job.measured.iter().zip(&job.block.minutes) {
            sim_pool_seconds += f64::from(bm.deployed.0) * 60.0;
            if m.covered == 0 {
                continue;
            }
            in_use += f64::from(m.in_use);
            pool_seconds += f64::from(m.pool_size) * f64::from(m.covered);
            saturated += f64::from(m.saturated);
            timeouts += u64::from(m.timeouts);
            if m.sample_offset != NO_SAMPLE {
                let size = f64::from(bm.deployed.0.max(1));
                sampled_measured.push(f64::from(m.sample_checked_out) / size);
                pool_at_samples.push(size);
            }
        }
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let measured = Measured {
        mean_utilization: ratio(in_use, pool_seconds),
        p95_utilization: quantile(&sampled_measured, 0.95),
        saturated_seconds: saturated,
        timeouts,
    };
    let sampled_sim: Vec<f64> = deployed
        .sampled
        .iter()
        .zip(&pool_at_samples)
        .map(|(&n, &size)| f64::from(n) / size)
        .collect();
    let simulated = Measured {
        mean_utilization: ratio(deployed.counts.busy_seconds, sim_pool_seconds),
        p95_utilization: quantile(&sampled_sim, 0.95),
        saturated_seconds: deployed.counts.saturated_seconds,
        timeouts: deployed.counts.timeouts,
    };
    (measured, simulated)
}

/// One service's study, ready to run.
struct Prepared {
    ranked: Vec<HourRank>,
    selected: Vec<HourRank>,
    jobs: Vec<Job>,
    dispersion: Option<f64>,
    /// The candidates' lanes, then the deployed one.
    sizes: Vec<LaneSize>,
}

fn prepare(instances: &[InstanceMinutes<'_>], candidates: &[PoolSize], settings: &StudySettings) -> Prepared {
    let all: Vec<&MinuteRecorder> = instances.iter().map(|i| i.minutes).collect();
    let ranked = demand::rank_hours(&all);
    let selected = demand::select_hours(&ranked, settings.hours);
    let (jobs, dispersion) = blocks(instances, &selected, settings);
    let mut sizes: Vec<LaneSize> = candidates
        .iter()
        .map(|c| LaneSize::Fixed {
            pool_size: c.pool_size,
            max_overflow: c.max_overflow,
        })
        .collect();
    sizes.push(LaneSize::Deployed);
    Prepared {
        ranked,
        selected,
        jobs,
        dispersion,
        sizes,
    }
}

/// Studies services: each one's `instances`' busiest hours at each of its
/// `candidates`. Their blocks share the threads, so a fleet keeps every core
/// busy however its blocks are spread; each study is what it would be alone.
pub fn study_services(
    services: &[(&[InstanceMinutes<'_>], &[PoolSize])],
    settings: &StudySettings,
) -> Vec<ServiceStudy> {
    let prepared: Vec<Prepared> = services
        .iter()
        .map(|(instances, candidates)| prepare(instances, candidates, settings))
        .collect();
    let results = run_jobs(&prepared, settings);
    prepared
        .into_iter()
        .zip(results)
        .zip(services)
        .map(|((p, results), (instances, candidates))| assemble(p, &results, instances, candidates))
        .collect()
}

fn assemble(
    prepared: Prepared,
    results: &[Vec<LaneResult>],
    instances: &[InstanceMinutes<'_>],
    candidates: &[PoolSize],
) -> ServiceStudy {
    let Prepared {
        ranked,
        selected,
        jobs,
        dispersion,
        sizes,
    } = prepared;
    let mut merged = vec![LaneResult::default(); sizes.len()];
    for r in results {
        for (m, x) in merged.iter_mut().zip(r) {
            m.merge(x);
        }
    }
    let chosen: std::collections::HashSet<(usize, usize)> = selected.iter().map(|s| (s.instance, s.hour)).collect();
    // The hours each instance did not keep were beaten by its own kept ones.
    let unsimulated_peak = ranked
        .iter()
        .filter(|h| !chosen.contains(&(h.instance, h.hour)))
        .map(|h| h.peak)
        .chain(instances.iter().filter_map(|i| i.minutes.dropped_peak()))
        .reduce(f64::max);
    let deployed = merged.pop().unwrap_or_default();
    let (measured, simulated) = calibration(&jobs, &deployed);
    ServiceStudy {
        minutes: jobs.iter().map(|j| j.block.minutes.len()).sum(),
        hours: selected,
        dispersion,
        candidates: candidates
            .iter()
            .zip(merged)
            .map(|(&size, result)| CandidateResult { size, result })
            .collect(),
        deployed,
        measured,
        simulated,
        unsimulated_peak,
    }
}

/// One pool size's outcome, as `plan.json` and `simulate` report it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SizeOutcome {
    /// `pool_size`.
    pub pool_size: u32,
    /// `max_overflow`.
    pub max_overflow: u32,
    /// Checkouts simulated.
    pub checkouts: u64,
    /// Of them, failed after `pool_timeout`.
    pub timeouts: u64,
    /// Share that failed.
    pub p_timeout: f64,
    /// Share that waited for a returned connection.
    pub p_wait: f64,
    /// Median wait of all checkouts, ms.
    pub wait_p50_ms: f64,
    /// 95th percentile wait, ms.
    pub wait_p95_ms: f64,
    /// 99th percentile wait, ms.
    pub wait_p99_ms: f64,
    /// Seconds some pool had every connection in use (summed over pools).
    pub saturated_seconds: f64,
    /// Most connections one pool had in use at once.
    pub peak_in_use: u64,
}

impl SizeOutcome {
    /// The outcome of `result` at `size`.
    pub fn new(size: PoolSize, result: &LaneResult) -> Self {
        let c = &result.counts;
        let ratio = |a: u64| {
            if c.checkouts > 0 {
                a as f64 / c.checkouts as f64
            } else {
                0.0
            }
        };
        let ms = |p: f64| (result.waits.quantile(p) * 1e6).round() / 1e3;
        SizeOutcome {
            pool_size: size.pool_size,
            max_overflow: size.max_overflow,
            checkouts: c.checkouts,
            timeouts: c.timeouts,
            p_timeout: ratio(c.timeouts),
            p_wait: ratio(c.waited),
            wait_p50_ms: ms(0.50),
            wait_p95_ms: ms(0.95),
            wait_p99_ms: ms(0.99),
            saturated_seconds: (c.saturated_seconds * 10.0).round() / 10.0,
            peak_in_use: c.peak_in_use,
        }
    }

    /// The size.
    pub fn size(&self) -> PoolSize {
        PoolSize {
            pool_size: self.pool_size,
            max_overflow: self.max_overflow,
        }
    }
}

/// Measured against simulated, over the same minutes at the sizes deployed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Calibration {
    /// What the metrics measured.
    pub measured: Measured,
    /// What the simulation of the deployed sizes gave.
    pub simulated: Measured,
}

impl Calibration {
    /// Measured against simulated, short enough for a chart's footer.
    pub fn short(&self) -> String {
        let (m, s) = (&self.measured, &self.simulated);
        format!(
            "measured vs simulated at the deployed sizes: mean {:.1}% vs {:.1}%, p95 {:.1}% vs {:.1}%, saturated {:.0} s vs {:.0} s, timeouts {} vs {}",
            m.mean_utilization * 100.0,
            s.mean_utilization * 100.0,
            m.p95_utilization * 100.0,
            s.p95_utilization * 100.0,
            m.saturated_seconds,
            s.saturated_seconds,
            m.timeouts,
            s.timeouts
        )
    }

    /// The differences in one line: points of utilization, seconds, timeouts.
    pub fn summary(&self) -> String {
        let (m, s) = (&self.measured, &self.simulated);
        format!(
            "simulated − measured at the deployed sizes: mean utilization {:+.1} pts ({:.1}% vs {:.1}%), p95 {:+.1} pts ({:.1}% vs {:.1}%), saturated {:.0} s vs {:.0} s, timeouts {} vs {}",
            (s.mean_utilization - m.mean_utilization) * 100.0,
            s.mean_utilization * 100.0,
            m.mean_utilization * 100.0,
            (s.p95_utilization - m.p95_utilization) * 100.0,
            s.p95_utilization * 100.0,
            m.p95_utilization * 100.0,
            s.saturated_seconds,
            m.saturated_seconds,
            s.timeouts,
            m.timeouts
        )
    }
}

/// The simulation-based queueing check of one service (`plan.json`'s
/// `queueing`, the review's queueing section and `simulate --month`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueueingStudy {
    /// Which instance-hours (`busiest:N` or `all`).
    pub hours: String,
    /// Instance-hours simulated.
    pub instance_hours: usize,
    /// Pools of the service (instances seen in the month).
    pub instances: usize,
    /// Mean hold, seconds.
    pub hold_seconds: f64,
    /// Where the holds come from.
    pub hold_source: String,
    /// `pool_timeout`, seconds.
    pub timeout_seconds: f64,
    /// `queue_target`: the P(timeout) a pool should stay under.
    pub target: f64,
    /// The seed.
    pub seed: u64,
    /// Fitted over-dispersion of the demand (1 = Poisson; `null`: too few minutes).
    pub dispersion: Option<f64>,
    /// At the current size.
    pub current: SizeOutcome,
    /// At the recommended size.
    pub recommended: SizeOutcome,
    /// Every size simulated, by pool_size.
    pub candidates: Vec<SizeOutcome>,
    /// The smallest simulated size with P(timeout) ≤ target.
    pub smallest_meeting_target: Option<PoolSize>,
    /// Whether the recommended size misses the target.
    pub above_target: bool,
    /// The deployed sizes simulated against the metrics.
    pub calibration: Calibration,
    /// The busiest minute's load of the hours not simulated.
    pub unsimulated_peak: Option<f64>,
    /// When the simulation and the policy point different ways, why (one sentence).
    pub disagreement: Option<String>,
}

/// How a study was run, for [`QueueingStudy::new`].
#[derive(Debug, Clone)]
pub struct StudyMeta {
    /// The hours setting.
    pub hours: Hours,
    /// Where the holds come from.
    pub hold_source: String,
    /// `queue_target`.
    pub target: f64,
    /// The seed.
    pub seed: u64,
}

impl QueueingStudy {
    /// The check from `study` (whose candidates, in ascending order, include
    /// `current` and `recommended`).
    pub fn new(
        study: &ServiceStudy,
        settings: &StudySettings,
        meta: &StudyMeta,
        current: PoolSize,
        recommended: PoolSize,
        instances: usize,
    ) -> Self {
        let candidates: Vec<SizeOutcome> = study
            .candidates
            .iter()
            .map(|c| SizeOutcome::new(c.size, &c.result))
            .collect();
        let find = |size: PoolSize| {
            candidates
                .iter()
                .find(|c| c.size() == size)
                .cloned()
                .unwrap_or_else(|| SizeOutcome::new(size, &LaneResult::default()))
        };
        let (current, recommended) = (find(current), find(recommended));
        QueueingStudy {
            hours: meta.hours.to_string(),
            instance_hours: study.hours.len(),
            instances,
            hold_seconds: settings.hold.mean(),
            hold_source: meta.hold_source.clone(),
            timeout_seconds: settings.timeout,
            target: meta.target,
            seed: meta.seed,
            dispersion: study.dispersion,
            above_target: recommended.p_timeout > meta.target,
            smallest_meeting_target: candidates
                .iter()
                .find(|c| c.p_timeout <= meta.target)
                .map(SizeOutcome::size),
            current,
            recommended,
            candidates,
            calibration: Calibration {
                measured: study.measured,
                simulated: study.simulated,
            },
            unsimulated_peak: study.unsimulated_peak,
            disagreement: None,
        }
    }
}
