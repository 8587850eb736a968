//! `poolcap loadtest`: the hazard card's testing controls (load, pool
//! exhaustion, stress, connection cleanup) run against a real server. This
//! module resolves what to test (the pool from flags, the service's
//! recommendation or its deployed size; the holds; the workload), runs it
//! through the store's load-test runner, judges each control with its
//! numbers, and sets the simulator's prediction of the same scenario beside
//! the measurement (docs/loadtest.md).

use std::path::PathBuf;

use serde::Serialize;

use crate::analyze::simulator::{self, Outcome, closed_loop, poisson_checkouts, quantile};
use crate::config::Settings;
use crate::model::PoolSize;
use crate::model::queuepool::{PoolConfig, timeout_message};
use crate::model::simulation::HoldTime;
use crate::store::loadtest::{
    self, Ended, ErrorSeen, LoadTestRun, LoadTestSpec, Phase, RecycleSeen, Sample, ScenarioRun, ScenarioSpec,
    ServerSeen, StatementTimeoutSeen,
};
use crate::support::notice::Notices;

use super::UsageError;

/// The card's limit on a request's response time in the load test, seconds.
pub const RESPONSE_LIMIT_SECONDS: f64 = 5.0;
/// The card's ceiling on pool usage in the stress test.
pub const STRESS_USAGE_LIMIT: f64 = 0.8;
/// Ordinary checkouts tried while the pool is exhausted.
pub const DURING_CHECKOUTS: u32 = 3;
/// The longest `pool_recycle` the recycle scenario waits out; a longer one
/// is shortened to [`RECYCLE_TEST_SECONDS`] (the rule does not depend on the age).
pub const RECYCLE_LONGEST_WAIT: f64 = 60.0;
/// `pool_recycle` of the recycle scenario when the configured one is longer
/// than [`RECYCLE_LONGEST_WAIT`].
pub const RECYCLE_TEST_SECONDS: f64 = 5.0;
/// Long transactions beyond the pool's maximum when `--long-transactions`
/// is not given: the card's 35 for a pool of 20 + 10.
pub const EXCESS_TRANSACTIONS: u32 = 5;
/// The most arrivals per second the stress scenario sends.
pub const MAX_RATE: f64 = 2000.0;
/// The most workers of the load scenario and long transactions of the exhaustion one.
pub const MAX_WORKERS: u32 = 2000;

/// Which scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioKind {
    /// Closed-loop users.
    Load,
    /// Long transactions beyond the pool's maximum.
    Exhaustion,
    /// Open-loop arrivals.
    Stress,
    /// Recycling and pre-ping.
    Recycle,
}

/// Where the pool's sizes come from.
#[derive(Debug, Clone)]
pub enum PoolChoice {
    /// `--pool-size N --max-overflow M`.
    Given(PoolSize),
    /// `--service NAME --current`: as deployed (its target files, else `current`).
    Current(String),
    /// `--service NAME`: the month's recommendation (the plan's inputs).
    Recommended(String, Box<super::plan::PlanInputs>),
}

/// Where the holds come from.
#[derive(Debug, Clone)]
pub enum HoldChoice {
    /// `--hold`.
    Given(HoldTime),
    /// `--hold-from-slowlog`: the statement times of these logs.
    Slowlog(Vec<PathBuf>, super::slowlog::LogOptions),
}

/// What `poolcap loadtest` was asked.
#[derive(Debug, Clone)]
pub struct LoadTestRequest {
    /// The server.
    pub url: String,
    /// The pool's sizes.
    pub pool: PoolChoice,
    /// `pool_timeout`, seconds (default: the service's, else 30).
    pub pool_timeout: Option<f64>,
    /// `pool_recycle`, seconds (default: the service's, else 3600).
    pub pool_recycle: Option<f64>,
    /// `pool_pre_ping` (default: the service's, else off as in SQLAlchemy).
    pub pre_ping: Option<bool>,
    /// Statement timeout, seconds; 0 turns it off (default: the service's, else 30).
    pub statement_timeout: Option<f64>,
    /// Scenarios, in the order run.
    pub scenarios: Vec<ScenarioKind>,
    /// Load: workers.
    pub users: u32,
    /// Exhaustion: long transactions (`None`: [`EXCESS_TRANSACTIONS`]
    /// beyond the pool's maximum).
    pub long_transactions: Option<u32>,
    /// Stress: arrivals per second.
    pub rate: f64,
    /// Load and stress: seconds.
    pub duration: f64,
    /// The longest any scenario may take, seconds.
    pub max_duration: f64,
    /// Holds.
    pub hold: HoldChoice,
    /// The user's read-only statements (a file, `;`-separated).
    pub workload: Option<PathBuf>,
    /// Seed of the draws.
    pub seed: u64,
}

/// The configuration tested, as the report states it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tested {
    /// The service, when one was named.
    pub service: Option<String>,
    /// Where the sizes came from.
    pub sizes_from: String,
    /// `pool_size`.
    pub pool_size: u32,
    /// `max_overflow`.
    pub max_overflow: u32,
    /// `pool_timeout`, seconds.
    pub pool_timeout_seconds: f64,
    /// `pool_recycle`, seconds (`None`: never).
    pub pool_recycle_seconds: Option<f64>,
    /// `pool_pre_ping`.
    pub pre_ping: bool,
    /// Statement timeout, seconds (0: none).
    pub statement_timeout_seconds: f64,
    /// The holds.
    pub hold: String,
    /// The workload: the default sleep or the user's file.
    pub workload: String,
    /// Load: workers.
    pub users: u32,
    /// Exhaustion: long transactions.
    pub long_transactions: u32,
    /// Stress: arrivals per second.
    pub rate: f64,
    /// Load and stress: seconds.
    pub duration_seconds: f64,
    /// Seed.
    pub seed: u64,
}

/// A test ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// For the runner.
    pub spec: LoadTestSpec,
    /// For the report.
    pub tested: Tested,
    /// The month the sizes were recommended for, when they were.
    pub month: Option<String>,
}

fn usage(message: String) -> anyhow::Error {
    UsageError(message).into()
}

/// Resolves `request` into a test: checks every number and bound before
/// anything connects. `settings` is needed for `--service` and
/// `--hold-from-slowlog`; `store` is the history store's location for a
/// recommendation without metric files.
pub fn prepare(
    request: &LoadTestRequest,
    settings: Option<&Settings>,
    store: String,
    notices: &mut dyn Notices,
) -> anyhow::Result<Prepared> {
    loadtest::check_url(&request.url)?;
    let need_settings =
        |what: &str| settings.ok_or_else(|| usage(format!("{what} needs the config (--config poolcap.toml)")));
    let (service, size, sizes_from, month) = match &request.pool {
        PoolChoice::Given(size) => (None, *size, "given on the command line".to_string(), None),
        PoolChoice::Current(name) => {
            let settings = need_settings("--service")?;
            let index = service_index(settings, name)?;
            let deployed = super::targets::read_all(settings)?;
            (
                Some(index),
                deployed[index].current,
                "the deployed size (--current)".to_string(),
                None,
            )
        }
        PoolChoice::Recommended(name, inputs) => {
            let settings = need_settings("--service")?;
            let index = service_index(settings, name)?;
            let outcome = super::plan::compute(settings, inputs, store, false, notices)?;
            let decision = &outcome.plan.decisions[index];
            let month = outcome.month.to_string();
            (
                Some(index),
                decision.recommended,
                format!("the recommendation for {month}"),
                Some(month),
            )
        }
    };
    let service_settings = service.and_then(|i| settings.map(|s| &s.services[i]));
    let defaults = service_settings.map(|s| s.pool).unwrap_or_default();
    let pool_timeout = request.pool_timeout.unwrap_or(defaults.pool_timeout as f64);
    let pool_recycle = request.pool_recycle.unwrap_or(defaults.pool_recycle as f64);
    let pre_ping = request
        .pre_ping
        .unwrap_or(service_settings.is_some_and(|s| s.pool.pool_pre_ping));
    let statement_timeout = request
        .statement_timeout
        .unwrap_or(defaults.statement_timeout_ms as f64 / 1000.0);
    if size.pool_size == 0 && size.max_overflow == 0 {
        return Err(usage(
            "a pool of 0 + 0 connections cannot serve anything; give --pool-size".into(),
        ));
    }
    let capacity = u64::from(size.pool_size) + u64::from(size.max_overflow);
    if capacity > u64::from(MAX_WORKERS) {
        return Err(usage(format!(
            "the pool {} + {} would open {capacity} connections; the load test opens at most {MAX_WORKERS}",
            size.pool_size, size.max_overflow
        )));
    }
    if !(pool_timeout > 0.0 && pool_timeout <= 600.0) {
        return Err(usage(format!(
            "--pool-timeout {pool_timeout} s: from above 0 to 10 minutes"
        )));
    }
    let (hold, hold_text) = match &request.hold {
        HoldChoice::Given(h) => (h.clone(), describe_hold(h)),
        HoldChoice::Slowlog(files, options) => {
            let settings = need_settings("--hold-from-slowlog")?;
            let digested = super::slowlog::digest_files(
                files,
                options,
                settings,
                &crate::analyze::digest::DigestSettings {
                    dialect: crate::analyze::fingerprint::Dialect::Postgres,
                    threshold_ms: settings.policy.slow_query_seconds * 1000.0,
                    timezone: settings.policy.timezone.clone(),
                    since_ms: None,
                    until_ms: None,
                    keep_samples: false,
                },
                super::slowlog::threads(None),
                super::slowlog::FileDigests::Skip,
            )?;
            super::slowlog::tell_skipped(&digested, notices);
            if digested.digest.statements == 0 {
                return Err(anyhow::anyhow!(
                    "{}: no statement durations in the slow log(s); give --hold instead",
                    files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            super::queueing::hold_time(Some(&digested.digest), settings)
        }
    };
    let workload = match &request.workload {
        None => None,
        Some(path) => Some(read_workload(path)?),
    };
    let config = PoolConfig {
        pool_size: size.pool_size,
        max_overflow: size.max_overflow,
        timeout: pool_timeout,
        connect: 0.0,
        recycle: (pool_recycle > 0.0).then_some(pool_recycle),
        pre_ping,
    };
    let long_transactions = request.long_transactions.unwrap_or_else(|| {
        u32::try_from(capacity)
            .unwrap_or(MAX_WORKERS)
            .saturating_add(EXCESS_TRANSACTIONS)
    });
    let mut scenarios = Vec::new();
    for kind in &request.scenarios {
        let (spec, length) = match kind {
            ScenarioKind::Load => {
                bounded("--users", request.users, MAX_WORKERS)?;
                (
                    ScenarioSpec::Load {
                        users: request.users,
                        duration: request.duration,
                    },
                    request.duration,
                )
            }
            ScenarioKind::Exhaustion => {
                bounded(
                    "--long-transactions",
                    long_transactions,
                    MAX_WORKERS + EXCESS_TRANSACTIONS,
                )?;
                let statement = if statement_timeout > 0.0 {
                    statement_timeout + (statement_timeout / 2.0).min(5.0)
                } else {
                    0.0
                };
                (
                    ScenarioSpec::Exhaustion {
                        long_transactions,
                        during: DURING_CHECKOUTS,
                    },
                    2.0 * pool_timeout + statement,
                )
            }
            ScenarioKind::Stress => {
                if !(request.rate > 0.0 && request.rate <= MAX_RATE) {
                    return Err(usage(format!(
                        "--rate {}: from above 0 to {MAX_RATE} arrivals per second",
                        request.rate
                    )));
                }
                let arrivals = poisson_checkouts(request.rate, hold.clone(), request.duration, request.seed).collect();
                (
                    ScenarioSpec::Stress {
                        rate: request.rate,
                        duration: request.duration,
                        arrivals,
                    },
                    request.duration,
                )
            }
            ScenarioKind::Recycle => {
                let recycle = if pool_recycle > 0.0 && pool_recycle <= RECYCLE_LONGEST_WAIT {
                    pool_recycle
                } else {
                    notices.note(&format!(
                        "recycle: pool_recycle {} is shortened to {RECYCLE_TEST_SECONDS} s for the test (the rule is the same at any age)",
                        if pool_recycle > 0.0 { format!("{pool_recycle} s") } else { "(never)".into() }
                    ));
                    RECYCLE_TEST_SECONDS
                };
                (ScenarioSpec::Recycle { recycle }, recycle * 1.1 + 5.0)
            }
        };
        if length > request.max_duration {
            return Err(usage(format!(
                "the {} scenario would take about {:.0} s, longer than --max-duration {:.0} s; shorten it (--duration, --pool-timeout, --statement-timeout) or raise --max-duration",
                spec.name(),
                length,
                request.max_duration
            )));
        }
        scenarios.push(spec);
    }
    if request.duration <= 0.0 {
        return Err(usage("--duration must be longer than zero".into()));
    }
    let tested = Tested {
        service: service.and_then(|i| settings.map(|s| s.services[i].name.clone())),
        sizes_from,
        pool_size: size.pool_size,
        max_overflow: size.max_overflow,
        pool_timeout_seconds: pool_timeout,
        pool_recycle_seconds: config.recycle,
        pre_ping,
        statement_timeout_seconds: statement_timeout,
        hold: hold_text,
        workload: match (&request.workload, &workload) {
            (Some(path), Some(statements)) => {
                format!("{} ({} read-only statement(s))", path.display(), statements.len())
            }
            _ => "the default: one sleep statement per checkout (pg_sleep / SLEEP) for the hold".into(),
        },
        users: request.users,
        long_transactions,
        rate: request.rate,
        duration_seconds: request.duration,
        seed: request.seed,
    };
    Ok(Prepared {
        spec: LoadTestSpec {
            url: request.url.clone(),
            pool: config,
            statement_timeout,
            hold,
            workload,
            seed: request.seed,
            scenarios,
        },
        tested,
        month,
    })
}

fn bounded(flag: &str, value: u32, max: u32) -> anyhow::Result<()> {
    if value == 0 || value > max {
        return Err(usage(format!("{flag} {value}: from 1 to {max}")));
    }
    Ok(())
}

fn service_index(settings: &Settings, name: &str) -> anyhow::Result<usize> {
    settings.services.iter().position(|s| s.name == name).ok_or_else(|| {
        let known: Vec<&str> = settings.services.iter().map(|s| s.name.as_str()).collect();
        usage(format!(
            "--service {name:?}: the config defines no such service (it has: {})",
            known.join(", ")
        ))
    })
}

/// The holds, for the report.
pub fn describe_hold(hold: &HoldTime) -> String {
    match hold {
        HoldTime::Fixed(s) => format!("fixed {:.0} ms", s * 1000.0),
        HoldTime::Exponential(s) => format!("exponential, mean {:.0} ms", s * 1000.0),
        HoldTime::Lognormal { mean, sigma } => format!("lognormal, mean {:.0} ms, σ {sigma}", mean * 1000.0),
        HoldTime::Empirical(q) => format!("measured ({} quantiles), mean {:.0} ms", q.len(), hold.mean() * 1000.0),
    }
}

/// Reads the user's workload: statements separated by `;` (a `--` comment
/// runs to the end of its line). It runs in a read-only transaction.
pub fn read_workload(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the workload: {e}", path.display()))?;
    let without_comments: String = text
        .lines()
        .map(|l| l.split_once("--").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    let statements: Vec<String> = without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if statements.is_empty() {
        return Err(anyhow::anyhow!(
            "{}: no statement in the workload; write read-only SQL statements separated by ;",
            path.display()
        ));
    }
    Ok(statements)
}

/// How a control ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It held.
    Passed,
    /// It did not.
    Failed,
    /// It could not be checked (the reason is in `measured`).
    NotRun,
}

/// One control of the card, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Control {
    /// What the card asks.
    pub control: String,
    /// The outcome.
    pub status: Status,
    /// What was expected, with the numbers.
    pub expected: String,
    /// What was measured.
    pub measured: String,
}

fn control(name: &str, ok: bool, expected: String, measured: String) -> Control {
    Control {
        control: name.into(),
        status: if ok { Status::Passed } else { Status::Failed },
        expected,
        measured,
    }
}

/// Waits (or response times) in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Millis {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Millis {
    fn of(seconds: &[f64]) -> Millis {
        let ms = |q| quantile(seconds, q) * 1000.0;
        Millis {
            p50: ms(0.5),
            p95: ms(0.95),
            p99: ms(0.99),
            max: ms(1.0),
        }
    }
}

/// The simulator's prediction of a scenario beside the measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Checkouts the simulator ran.
    pub checkouts: u64,
    /// Of which timed out.
    pub timeouts: u64,
    /// Share timed out.
    pub timeout_share: f64,
    /// The waits it predicts, ms.
    pub wait_ms: Millis,
    /// Share timed out in the test.
    pub measured_timeout_share: f64,
    /// Whether they agree within [`AGREEMENT`].
    pub agrees: bool,
}

/// The tolerance of the simulator's agreement, as the report states it.
pub const AGREEMENT: &str =
    "checkouts within 25 %; timeout share within 5 percentage points; wait p50 and p95 within 25 % + 20 ms";

fn agrees(predicted: &Outcome, waits: &Millis, measured: &Tally, measured_waits: &Millis, measured_share: f64) -> bool {
    let near = |a: f64, b: f64| (a - b).abs() <= 0.25 * a.max(b) + 20.0;
    let (p, m) = (predicted.counts.checkouts as f64, measured.checkouts as f64);
    (p - m).abs() <= 0.25 * p.max(m)
        && (predicted.p_timeout() - measured_share).abs() <= 0.05
        && near(waits.p50, measured_waits.p50)
        && near(waits.p95, measured_waits.p95)
}

/// Counts of a scenario's checkouts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Checkouts asked.
    pub checkouts: u64,
    /// Served.
    pub served: u64,
    /// Timed out.
    pub timed_out: u64,
    /// Failed otherwise.
    pub errors: u64,
}

/// One scenario's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioReport {
    /// `load`, `exhaustion`, `stress` or `recycle`.
    pub scenario: &'static str,
    /// Whether every control passed.
    pub passed: bool,
    /// Each control.
    pub controls: Vec<Control>,
    /// Checkouts.
    pub tally: Tally,
    /// Checkout waits of the requests, ms.
    pub wait_ms: Millis,
    /// Response times (wait + statement) of the requests, ms.
    pub response_ms: Millis,
    /// The pool's counters.
    pub pool: loadtest::PoolCounts,
    /// Most sessions of the test the server listed at once.
    pub peak_server_sessions: i64,
    /// Seconds it ran.
    pub elapsed_seconds: f64,
    /// Stress: seconds from the last arrival to the last return.
    pub drain_seconds: Option<f64>,
    /// Distinct errors seen.
    pub errors: Vec<ErrorSeen>,
    /// Exhaustion: the statement-timeout check.
    pub statement_timeout: Option<StatementTimeoutSeen>,
    /// Recycle: the sessions seen.
    pub recycle: Option<RecycleSeen>,
    /// Load and stress: the simulator's prediction.
    pub simulator: Option<Prediction>,
    /// Samples of the pool and the server's sessions (at most 600, evenly thinned).
    pub samples: Vec<Sample>,
    /// Whether it was stopped before its end.
    pub interrupted: bool,
}

/// The report of a run: the evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadTestReport {
    /// poolcap's version.
    pub poolcap_version: &'static str,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// The month the sizes were recommended for, when they were.
    pub month: Option<String>,
    /// The configuration tested.
    pub tested: Tested,
    /// The server.
    pub server: ServerSeen,
    /// Whether every control of every scenario passed.
    pub passed: bool,
    /// Whether the run was stopped (Ctrl-C) before its end.
    pub interrupted: bool,
    /// The simulator's tolerance.
    pub agreement_tolerance: &'static str,
    /// Each scenario.
    pub scenarios: Vec<ScenarioReport>,
}

/// Runs the prepared test (synchronously; Ctrl-C stops it with a partial
/// report) and judges it.
pub fn run(prepared: &Prepared, notices: &mut dyn Notices) -> anyhow::Result<LoadTestReport> {
    let started_at = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string();
    let mut progress = |name: &str| notices.note(&format!("running the {name} scenario"));
    let run = loadtest::run(&prepared.spec, &mut progress)?;
    Ok(judge(prepared, &run, started_at))
}

/// Judges a run's measurements against the card's controls.
pub fn judge(prepared: &Prepared, run: &LoadTestRun, started_at: String) -> LoadTestReport {
    let scenarios: Vec<ScenarioReport> = run
        .scenarios
        .iter()
        .zip(&prepared.spec.scenarios)
        .map(|(measured, spec)| judge_scenario(&prepared.spec, spec, measured))
        .collect();
    LoadTestReport {
        poolcap_version: env!("CARGO_PKG_VERSION"),
        started_at,
        month: prepared.month.clone(),
        tested: prepared.tested.clone(),
        server: run.server.clone(),
        passed: !run.interrupted
            && scenarios.len() == prepared.spec.scenarios.len()
            && scenarios.iter().all(|s| s.passed),
        interrupted: run.interrupted,
        agreement_tolerance: AGREEMENT,
        scenarios,
    }
}

fn of_phase(run: &ScenarioRun, phase: Phase) -> impl Iterator<Item = &loadtest::CheckoutRecord> {
    run.checkouts.iter().filter(move |c| c.phase == phase)
}

fn tally<'a>(records: impl Iterator<Item = &'a loadtest::CheckoutRecord>) -> Tally {
    let mut t = Tally::default();
    for c in records {
        t.checkouts += 1;
        match c.ended {
            Ended::Served => t.served += 1,
            Ended::TimedOut => t.timed_out += 1,
            Ended::Error => t.errors += 1,
            Ended::Stopped => {}
        }
    }
    t
}

fn thin(samples: &[Sample]) -> Vec<Sample> {
    let step = samples.len().div_ceil(600).max(1);
    samples.iter().step_by(step).copied().collect()
}

fn judge_scenario(spec: &LoadTestSpec, scenario: &ScenarioSpec, run: &ScenarioRun) -> ScenarioReport {
    let pool = run.pool;
    let capacity = pool.capacity();
    let requests: Vec<&loadtest::CheckoutRecord> = run
        .checkouts
        .iter()
        .filter(|c| c.phase == Phase::Request && c.ended != Ended::Stopped)
        .collect();
    let waits: Vec<f64> = requests.iter().map(|c| c.wait).collect();
    let responses: Vec<f64> = requests.iter().map(|c| c.wait + c.held).collect();
    let wait_ms = Millis::of(&waits);
    let response_ms = Millis::of(&responses);
    // The statement-timeout check fails on purpose; it is reported on its own.
    let all = tally(run.checkouts.iter().filter(|c| c.phase != Phase::StatementTimeout));
    let mut controls = Vec::new();
    let sessions_control = || {
        control(
            "server sessions never exceed pool_size + max_overflow",
            run.peak_server_sessions <= capacity as i64,
            format!("at most {capacity}"),
            format!("peak {} (sampled every 100 ms)", run.peak_server_sessions),
        )
    };
    let mut simulator = None;
    match scenario {
        ScenarioSpec::Load { users, duration } => {
            let t = tally(requests.iter().copied());
            controls.push(control(
                "no connection pool exhausted errors",
                t.timed_out == 0,
                "0 checkouts time out".into(),
                format!("{} of {} timed out", t.timed_out, t.checkouts),
            ));
            controls.push(control(
                "every request completes",
                t.errors == 0 && t.checkouts > 0,
                "no request fails".into(),
                format!("{} failed of {}", t.errors, t.checkouts),
            ));
            controls.push(control(
                "every request completes within 5 seconds",
                response_ms.max <= RESPONSE_LIMIT_SECONDS * 1000.0 && t.timed_out == 0,
                format!("response (wait + statement) at most {RESPONSE_LIMIT_SECONDS} s"),
                format!("p99 {:.0} ms, max {:.0} ms", response_ms.p99, response_ms.max),
            ));
            controls.push(control(
                "checked-out connections never exceed pool_size + max_overflow",
                run.counts.peak_checked_out <= capacity,
                format!("at most {capacity}"),
                format!("peak {}", run.counts.peak_checked_out),
            ));
            controls.push(sessions_control());
            let predicted = closed_loop(pool, *users, &spec.hold, *duration, spec.seed);
            simulator = Some(prediction(&predicted, &t, &wait_ms));
        }
        ScenarioSpec::Stress { arrivals, .. } => {
            let t = tally(requests.iter().copied());
            controls.push(control(
                "no request times out",
                t.timed_out == 0,
                "0 checkouts time out".into(),
                format!("{} of {} timed out", t.timed_out, t.checkouts),
            ));
            controls.push(control(
                "every request completes",
                t.errors == 0 && t.checkouts > 0,
                "no request fails".into(),
                format!("{} failed of {}", t.errors, t.checkouts),
            ));
            let usage: Vec<f64> = run
                .samples
                .iter()
                .map(|s| s.checked_out as f64 / capacity.max(1) as f64)
                .collect();
            let p99 = quantile(&usage, 0.99);
            controls.push(control(
                "pool usage stays below 80 %",
                p99 < STRESS_USAGE_LIMIT,
                "99th percentile of checked out ÷ (pool_size + max_overflow), sampled every 100 ms, below 80 %".into(),
                format!("{:.0} %", p99 * 100.0),
            ));
            controls.push(control(
                "max_overflow not needed",
                run.counts.peak_open <= u64::from(pool.pool_size),
                format!("at most pool_size ({}) connections open", pool.pool_size),
                format!("peak {} open", run.counts.peak_open),
            ));
            controls.push(sessions_control());
            let predicted = simulator::simulate(pool, arrivals.iter().copied());
            simulator = Some(prediction(&predicted, &t, &wait_ms));
        }
        ScenarioSpec::Exhaustion { long_transactions, .. } => {
            controls.extend(exhaustion_controls(spec, run, *long_transactions));
            controls.push(sessions_control());
        }
        ScenarioSpec::Recycle { recycle } => {
            controls.extend(recycle_controls(run, *recycle));
        }
    }
    let passed = !run.interrupted && controls.iter().all(|c| c.status != Status::Failed);
    ScenarioReport {
        scenario: run.scenario,
        passed,
        controls,
        tally: all,
        wait_ms,
        response_ms,
        pool: run.counts,
        peak_server_sessions: run.peak_server_sessions,
        elapsed_seconds: run.elapsed_seconds,
        drain_seconds: run.drain_seconds,
        errors: run.errors.clone(),
        statement_timeout: run.statement_timeout.clone(),
        recycle: run.recycle.clone(),
        simulator,
        samples: thin(&run.samples),
        interrupted: run.interrupted,
    }
}

fn prediction(predicted: &Outcome, measured: &Tally, measured_waits: &Millis) -> Prediction {
    let waits = predicted.wait_quantiles(&[0.5, 0.95, 0.99, 1.0]);
    let wait_ms = Millis {
        p50: waits[0] * 1000.0,
        p95: waits[1] * 1000.0,
        p99: waits[2] * 1000.0,
        max: waits[3] * 1000.0,
    };
    let share = predicted.p_timeout();
    let measured_share = if measured.checkouts == 0 {
        0.0
    } else {
        measured.timed_out as f64 / measured.checkouts as f64
    };
    Prediction {
        checkouts: predicted.counts.checkouts,
        timeouts: predicted.counts.timeouts,
        timeout_share: share,
        agrees: agrees(predicted, &wait_ms, measured, measured_waits, measured_share),
        wait_ms,
        measured_timeout_share: measured_share,
    }
}

fn exhaustion_controls(spec: &LoadTestSpec, run: &ScenarioRun, long_transactions: u32) -> Vec<Control> {
    let pool = run.pool;
    let capacity = pool.capacity();
    let timeout = pool.timeout;
    let text = timeout_message(pool.pool_size, capacity, timeout);
    let long = tally(of_phase(run, Phase::Long));
    let during = tally(of_phase(run, Phase::During));
    let after = tally(of_phase(run, Phase::After));
    let mut out = Vec::new();
    let expected_timeouts = u64::from(long_transactions).saturating_sub(capacity);
    if expected_timeouts == 0 {
        out.push(Control {
            control: "the pool runs out".into(),
            status: Status::Failed,
            expected: format!("more long transactions than pool_size + max_overflow ({capacity})"),
            measured: format!("{long_transactions} long transactions; raise --long-transactions above {capacity}"),
        });
    } else {
        out.push(control(
            "the pool runs out: the transactions beyond pool_size + max_overflow wait, then time out",
            long.served == capacity.min(u64::from(long_transactions)) && long.timed_out == expected_timeouts,
            format!("{capacity} served, {expected_timeouts} time out"),
            format!(
                "{} served, {} timed out, {} failed",
                long.served, long.timed_out, long.errors
            ),
        ));
    }
    let timed_out: Vec<f64> = run
        .checkouts
        .iter()
        .filter(|c| c.ended == Ended::TimedOut)
        .map(|c| c.wait)
        .collect();
    let within = timed_out.iter().all(|w| (w - timeout).abs() <= 0.1 * timeout);
    let mut texts: Vec<&str> = run
        .errors
        .iter()
        .filter(|e| matches!(e.phase, Phase::Long | Phase::During))
        .map(|e| e.text.as_str())
        .collect();
    texts.sort_unstable();
    texts.dedup();
    let right_text = !texts.is_empty() && texts.iter().all(|t| *t == text);
    out.push(control(
        "a checkout times out after pool_timeout with QueuePool's error",
        !timed_out.is_empty() && within && right_text,
        format!("after {timeout} s ± 10 %: \"{text}\""),
        if timed_out.is_empty() {
            "no checkout timed out".into()
        } else {
            format!(
                "after {:.3}–{:.3} s: {}",
                timed_out.iter().copied().fold(f64::INFINITY, f64::min),
                timed_out.iter().copied().fold(0.0, f64::max),
                texts.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join("; ")
            )
        },
    ));
    out.push(control(
        "ordinary checkouts fail while the pool is exhausted",
        during.checkouts > 0 && during.timed_out == during.checkouts,
        format!("{} of {} time out", during.checkouts, during.checkouts),
        format!("{} of {} timed out", during.timed_out, during.checkouts),
    ));
    out.push(control(
        "the pool serves again once the long transactions end",
        after.checkouts == capacity && after.served == capacity,
        format!("{capacity} of {capacity} served"),
        format!("{} of {} served", after.served, after.checkouts),
    ));
    out.push(statement_timeout_control(spec, run.statement_timeout.as_ref()));
    out
}

/// The codes a server gives a statement cancelled by its timeout.
fn cancelled_codes(url: &str) -> &'static [&'static str] {
    if url.starts_with("postgres") {
        &["57014"]
    } else {
        // MariaDB's max_statement_time; MySQL's max_execution_time.
        &["1969", "3024"]
    }
}

fn statement_timeout_control(spec: &LoadTestSpec, seen: Option<&StatementTimeoutSeen>) -> Control {
    let name = "the server cancels a statement longer than the statement timeout";
    let limit = spec.statement_timeout;
    let codes = cancelled_codes(&spec.url);
    let Some(seen) = seen else {
        return Control {
            control: name.into(),
            status: Status::NotRun,
            expected: format!("cancelled after {limit} s (code {})", codes.join(" or ")),
            measured: if limit <= 0.0 {
                "no statement timeout is set (--statement-timeout 0): nothing cancels a runaway statement".into()
            } else {
                "not reached (the run stopped)".into()
            },
        };
    };
    let ok = !seen.completed
        && seen.code.as_deref().is_some_and(|c| codes.contains(&c))
        && seen.elapsed_seconds <= limit * 1.1 + 0.5;
    control(
        name,
        ok,
        format!("cancelled after {limit} s (code {})", codes.join(" or ")),
        if seen.completed {
            format!("a {:.1} s statement ran to its end", seen.asked_seconds)
        } else {
            format!(
                "after {:.3} s: code {}, \"{}\"",
                seen.elapsed_seconds,
                seen.code.as_deref().unwrap_or("none"),
                seen.message.as_deref().unwrap_or("")
            )
        },
    )
}

fn recycle_controls(run: &ScenarioRun, recycle: f64) -> Vec<Control> {
    let seen = run.recycle.clone().unwrap_or_default();
    let id = |v: Option<i64>| v.map_or("none".to_string(), |v| v.to_string());
    vec![
        control(
            "a returned connection is reused (its open transaction rolled back)",
            seen.first.is_some() && seen.first == seen.reused,
            "the same session".into(),
            format!("session {} then {}", id(seen.first), id(seen.reused)),
        ),
        control(
            "a connection older than pool_recycle is replaced at checkout",
            seen.after_recycle.is_some() && seen.after_recycle != seen.first && run.counts.recycled >= 1,
            format!("a new session after {recycle} s"),
            format!(
                "session {} after {recycle} s ({} recycled)",
                id(seen.after_recycle),
                run.counts.recycled
            ),
        ),
        control(
            "the old connection is closed on the server",
            seen.first_closed == Some(true),
            format!("session {} gone", id(seen.first)),
            match seen.first_closed {
                Some(true) => "gone".into(),
                Some(false) => "still listed".into(),
                None => "not checked".into(),
            },
        ),
        control(
            "pre-ping replaces a session the server ended, with no error reaching the workload",
            seen.terminated.is_some()
                && seen.after_terminate.is_some()
                && seen.after_terminate != seen.terminated
                && seen.error_after_terminate.is_none(),
            "a new session, no error".into(),
            format!(
                "session {} ended; next checkout: session {}{}",
                id(seen.terminated),
                id(seen.after_terminate),
                seen.error_after_terminate
                    .as_ref()
                    .map_or(String::new(), |e| format!(", error \"{e}\""))
            ),
        ),
    ]
}

/// The month a report counts for: the one whose recommendation it tested,
/// else the month it ran in (UTC).
pub fn report_month(report: &LoadTestReport) -> String {
    report
        .month
        .clone()
        .unwrap_or_else(|| report.started_at.chars().take(7).collect())
}

/// Records the report in the history store at `location`, for the review
/// of its service and month.
pub fn record(location: &str, service: &str, report: &LoadTestReport) -> anyhow::Result<()> {
    let store = crate::store::Store::open(location)?;
    let id = format!("{}-{}-{}", report.started_at, service, report.server.application_name);
    store.record_loadtest(&id, service, &report_month(report), &serde_json::to_value(report)?)?;
    Ok(())
}
