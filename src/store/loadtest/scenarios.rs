//! The four scenarios of the hazard card's testing controls, run against
//! the pool and measured: every checkout's wait and outcome, the distinct
//! errors, the pool's and the server's sessions every 100 ms. Concurrency is
//! futures polled together on the run's one thread (no task outlives its
//! scenario); every loop ends at a deadline or on the stop signal.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::join_all;
use futures_util::stream::FuturesUnordered;
use tokio::sync::watch;

use super::conn::{DbConn, Monitor, Target, error_code};
use super::pool::{CheckoutError, RealPool};
use super::{
    CheckoutRecord, Ended, ErrorSeen, LoadTestSpec, Phase, RecycleSeen, Sample, ScenarioRun, ScenarioSpec,
    StatementTimeoutSeen, error_text, scrub,
};
use crate::model::queuepool::PoolConfig;
use crate::model::simulation::worker_seed;
use crate::support::rng::Rng;

/// What a scenario runs with.
pub(super) struct Context<'a> {
    pub(super) spec: &'a LoadTestSpec,
    pub(super) target: Target,
    pub(super) epoch: Instant,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) url: &'a str,
}

impl Context<'_> {
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps until `until` or the stop signal; `false` when stopped.
    async fn sleep_until(&self, until: Instant) -> bool {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => true,
            _ = stop.wait_for(|s| *s) => false,
        }
    }

    fn pool(&self, config: PoolConfig) -> std::sync::Arc<RealPool> {
        RealPool::new(
            config,
            self.target.clone(),
            self.spec.statement_timeout,
            self.epoch,
            self.stop.clone(),
        )
    }
}

/// What a checkout does with its connection.
#[derive(Clone, Copy)]
enum Work {
    /// The default statement for `hold` seconds, or the user's workload.
    Statement(f64),
    /// `SELECT 1`-sized: the user's workload or a zero sleep.
    Quick,
    /// Opens a transaction and sits idle in it until the instant.
    IdleInTransactionUntil(Instant),
    /// A zero sleep, whatever the workload (the recycle scenario's probe).
    Sleep0,
}

/// The scenario's log: checkouts and distinct errors.
#[derive(Default)]
struct Log {
    checkouts: Vec<CheckoutRecord>,
    errors: BTreeMap<(Phase, String, Option<String>), u64>,
}

impl Log {
    fn error(&mut self, phase: Phase, text: String, code: Option<String>) {
        *self.errors.entry((phase, text, code)).or_default() += 1;
    }
}

/// Whether the error means the connection is gone (not just the statement).
fn broken(e: &sqlx::Error) -> bool {
    !matches!(e, sqlx::Error::Database(_))
}

struct Runner<'a> {
    ctx: &'a Context<'a>,
    pool: std::sync::Arc<RealPool>,
    log: Mutex<Log>,
    done: AtomicBool,
}

impl Runner<'_> {
    fn record(&self, phase: Phase, asked: f64, wait: f64, held: f64, ended: Ended) {
        let mut log = self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        log.checkouts.push(CheckoutRecord {
            phase,
            asked,
            wait,
            held,
            ended,
        });
    }

    fn error(&self, phase: Phase, text: String, code: Option<String>) {
        let mut log = self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        log.error(phase, text, code);
    }

    /// One checkout → work → return, recorded: how it ended, and the
    /// session it had when it was served.
    async fn checkout(&self, phase: Phase, work: Work) -> (Ended, Option<i64>) {
        let asked = self.ctx.now();
        let started = Instant::now();
        let checked = match self.pool.checkout().await {
            Ok(c) => c,
            Err(e) => {
                let wait = started.elapsed().as_secs_f64();
                let ended = match e {
                    CheckoutError::TimedOut(text) => {
                        self.error(phase, text, None);
                        Ended::TimedOut
                    }
                    CheckoutError::Connect(text) => {
                        self.error(phase, scrub(&text, self.ctx.url), None);
                        Ended::Error
                    }
                    CheckoutError::Stopped => Ended::Stopped,
                };
                self.record(phase, asked, wait, 0.0, ended);
                return (ended, None);
            }
        };
        let mut conn = checked.conn;
        let backend = conn.conn.backend;
        let began = Instant::now();
        let result = self.work(&mut conn.conn, work).await;
        let held = began.elapsed().as_secs_f64();
        let ended = match &result {
            Ok(()) => Ended::Served,
            Err(e) => {
                self.error(phase, scrub(&error_text(e), self.ctx.url), error_code(e));
                Ended::Error
            }
        };
        let is_broken = result.as_ref().err().is_some_and(broken);
        self.pool.give_back(conn, is_broken).await;
        self.record(phase, asked, checked.wait, held, ended);
        (ended, (ended == Ended::Served).then_some(backend))
    }

    async fn work(&self, conn: &mut DbConn, work: Work) -> Result<(), sqlx::Error> {
        match (work, &self.ctx.spec.workload) {
            (Work::IdleInTransactionUntil(until), _) => {
                conn.begin().await?;
                self.ctx.sleep_until(until).await;
                Ok(())
            }
            (Work::Statement(_) | Work::Quick, Some(statements)) => conn.workload(statements).await,
            (Work::Statement(hold), None) => conn.sleep(hold).await,
            (Work::Quick, None) | (Work::Sleep0, _) => conn.sleep(0.0).await,
        }
    }

    /// Samples the pool and the server every 100 ms until `done`.
    async fn sample(&self, monitor: &mut Monitor) -> Vec<Sample> {
        let mut samples = Vec::new();
        let mut next = Instant::now();
        while !self.done.load(Ordering::Relaxed) {
            let state = self.pool.state();
            let server_sessions = monitor.test_sessions(&self.pool.backends()).await.unwrap_or(-1);
            samples.push(Sample {
                t: self.ctx.now(),
                checked_out: state.checked_out,
                open: state.open,
                waiting: state.waiting,
                server_sessions,
            });
            next += Duration::from_millis(100);
            let mut stop = self.ctx.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            // The last sample comes after the work ends, never mid-query.
            if self.ctx.stopped() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        samples
    }

    /// Runs `work` with the sampler beside it.
    async fn sampled(&self, monitor: &mut Monitor, work: impl std::future::Future<Output = ()>) -> Vec<Sample> {
        let work = async {
            work.await;
            self.done.store(true, Ordering::Relaxed);
        };
        let (_, samples) = tokio::join!(work, self.sample(monitor));
        samples
    }

    async fn finish(self, scenario: &ScenarioSpec, samples: Vec<Sample>) -> ScenarioRun {
        self.pool.close().await;
        let log = self.log.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let errors = log
            .errors
            .into_iter()
            .map(|((phase, text, code), count)| ErrorSeen {
                phase,
                text,
                code,
                count,
            })
            .collect();
        ScenarioRun {
            scenario: scenario.name(),
            pool: *self.pool.config(),
            elapsed_seconds: self.ctx.now(),
            drain_seconds: None,
            peak_server_sessions: samples.iter().map(|s| s.server_sessions).max().unwrap_or(0).max(0),
            checkouts: log.checkouts,
            samples,
            counts: self.pool.counts(),
            errors,
            statement_timeout: None,
            recycle: None,
            interrupted: self.ctx.stopped(),
        }
    }
}

/// Runs one scenario.
pub(super) async fn run(ctx: &Context<'_>, scenario: &ScenarioSpec, monitor: &mut Monitor) -> ScenarioRun {
    let mut config = ctx.spec.pool;
    if let ScenarioSpec::Recycle { recycle } = scenario {
        config.recycle = Some(*recycle);
        config.pre_ping = true;
    }
    let runner = Runner {
        ctx,
        pool: ctx.pool(config),
        log: Mutex::new(Log::default()),
        done: AtomicBool::new(false),
    };
    match scenario {
        ScenarioSpec::Load { users, duration } => {
            let deadline = ctx.epoch + Duration::from_secs_f64(*duration);
            let runner_ref = &runner;
            let workers = (0..*users).map(|u| async move {
                let mut rng = Rng::new(worker_seed(ctx.spec.seed, u));
                while Instant::now() < deadline && !ctx.stopped() {
                    let hold = ctx.spec.hold.draw(&mut rng);
                    runner_ref.checkout(Phase::Request, Work::Statement(hold)).await;
                }
            });
            let samples = runner
                .sampled(monitor, async {
                    join_all(workers).await;
                })
                .await;
            runner.finish(scenario, samples).await
        }
        ScenarioSpec::Stress { arrivals, .. } => {
            let runner_ref = &runner;
            let mut last_arrival = 0.0;
            let work = async {
                let mut inflight = FuturesUnordered::new();
                for c in arrivals {
                    let due = ctx.epoch + Duration::from_secs_f64(c.at);
                    let mut stop = ctx.stop.clone();
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep_until(due.into()) => break,
                            Some(_) = inflight.next(), if !inflight.is_empty() => {}
                            _ = stop.wait_for(|s| *s) => break,
                        }
                    }
                    if ctx.stopped() {
                        break;
                    }
                    last_arrival = ctx.now();
                    inflight.push(runner_ref.checkout(Phase::Request, Work::Statement(c.hold)));
                }
                while inflight.next().await.is_some() {}
            };
            let samples = runner.sampled(monitor, work).await;
            let drain = ctx.now() - last_arrival;
            let mut run = runner.finish(scenario, samples).await;
            run.drain_seconds = Some(drain);
            run
        }
        ScenarioSpec::Exhaustion {
            long_transactions,
            during,
        } => {
            let timeout = config.timeout;
            let runner_ref = &runner;
            let long_until = ctx.epoch + Duration::from_secs_f64(2.0 * timeout);
            let work = async {
                let longs = join_all(
                    (0..*long_transactions)
                        .map(|_| runner_ref.checkout(Phase::Long, Work::IdleInTransactionUntil(long_until))),
                );
                let during = async {
                    if ctx
                        .sleep_until(ctx.epoch + Duration::from_secs_f64(timeout / 2.0))
                        .await
                    {
                        join_all((0..*during).map(|_| runner_ref.checkout(Phase::During, Work::Quick))).await;
                    }
                };
                tokio::join!(longs, during);
                if !ctx.stopped() {
                    let after = config.capacity().min(10_000);
                    join_all((0..after).map(|_| runner_ref.checkout(Phase::After, Work::Quick))).await;
                }
            };
            let samples = runner.sampled(monitor, work).await;
            let statement = if ctx.stopped() || ctx.spec.statement_timeout <= 0.0 {
                None
            } else {
                Some(statement_timeout(&runner).await)
            };
            let mut run = runner.finish(scenario, samples).await;
            run.statement_timeout = statement;
            run
        }
        ScenarioSpec::Recycle { recycle } => {
            let seen = recycle_steps(&runner, *recycle, monitor).await;
            let mut run = runner.finish(scenario, Vec::new()).await;
            run.recycle = Some(seen);
            run
        }
    }
}

/// A statement longer than the statement timeout: the server should cancel it.
async fn statement_timeout(runner: &Runner<'_>) -> StatementTimeoutSeen {
    let limit = runner.ctx.spec.statement_timeout;
    let asked = limit + (limit / 2.0).min(5.0);
    let asked_at = runner.ctx.now();
    let mut seen = StatementTimeoutSeen {
        asked_seconds: asked,
        elapsed_seconds: 0.0,
        completed: false,
        code: None,
        message: None,
    };
    match runner.pool.checkout().await {
        Ok(checked) => {
            let mut conn = checked.conn;
            let began = Instant::now();
            let result = conn.conn.sleep(asked).await;
            seen.elapsed_seconds = began.elapsed().as_secs_f64();
            let is_broken = result.as_ref().err().is_some_and(broken);
            match result {
                Ok(()) => seen.completed = true,
                Err(e) => {
                    seen.code = error_code(&e);
                    seen.message = Some(scrub(&error_text(&e), runner.ctx.url));
                }
            }
            runner.pool.give_back(conn, is_broken).await;
            runner.record(
                Phase::StatementTimeout,
                asked_at,
                checked.wait,
                seen.elapsed_seconds,
                if seen.completed { Ended::Served } else { Ended::Error },
            );
        }
        Err(CheckoutError::TimedOut(text) | CheckoutError::Connect(text)) => {
            seen.message = Some(scrub(&text, runner.ctx.url));
        }
        Err(CheckoutError::Stopped) => {}
    }
    seen
}

/// The recycle scenario's steps (one connection at a time).
async fn recycle_steps(runner: &Runner<'_>, recycle: f64, monitor: &mut Monitor) -> RecycleSeen {
    let ctx = runner.ctx;
    let mut seen = RecycleSeen::default();
    // 1. A session left with a transaction open, returned (the pool rolls back).
    let Some(first) = session(runner, Work::IdleInTransactionUntil(Instant::now())).await else {
        return seen;
    };
    seen.first = Some(first);
    // 2. Checked out again at once: the same session.
    seen.reused = session(runner, Work::Sleep0).await;
    // 3. After pool_recycle: a new session, the old one closed.
    let wait = Duration::from_secs_f64(recycle * 1.1 + 0.2);
    if !ctx.sleep_until(Instant::now() + wait).await {
        return seen;
    }
    seen.after_recycle = session(runner, Work::Sleep0).await;
    let mut closed = None;
    for _ in 0..20 {
        match monitor.exists(first).await {
            Ok(false) => {
                closed = Some(true);
                break;
            }
            Ok(true) => closed = Some(false),
            Err(_) => break,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen.first_closed = closed;
    // 4. The idle session ended by the server: pre-ping replaces it unseen.
    let Some(victim) = seen.after_recycle else { return seen };
    if monitor.terminate(victim).await.is_err() {
        return seen;
    }
    seen.terminated = Some(victim);
    for _ in 0..20 {
        if !matches!(monitor.exists(victim).await, Ok(true)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = runner.log.lock().map(|l| l.errors.len()).unwrap_or(0);
    seen.after_terminate = session(runner, Work::Sleep0).await;
    let log = runner.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if log.errors.len() > before || seen.after_terminate.is_none() {
        seen.error_after_terminate = log.errors.keys().last().map(|(_, text, _)| text.clone());
    }
    seen
}

/// One checkout of the recycle scenario: the session it had.
async fn session(runner: &Runner<'_>, work: Work) -> Option<i64> {
    runner.checkout(Phase::Recycle, work).await.1
}
