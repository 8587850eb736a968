//! The load test against a real server (`poolcap loadtest`): the hazard
//! card's testing controls run with a `QueuePool` over real connections
//! ([`pool`], whose rules are the simulator's, `model::queuepool`). This
//! module runs the scenarios and measures; `ops::loadtest` judges the
//! controls and compares with the simulator.
//!
//! Safe by construction: the pool never has more connections to the server
//! than `pool_size + max_overflow` (a semaphore permit per connection, held
//! until it is closed), plus one monitoring connection; every loop ends at
//! its deadline; the stop signal (Ctrl-C) ends waits and sleeps at once and
//! the run returns what it measured so far. [`run`] is synchronous: it runs
//! on a runtime of its own.
//!
//! Invariant: no password leaves this module (errors are scrubbed of the URL's).

mod conn;
mod pool;
mod scenarios;

use std::time::Instant;

use serde::Serialize;
use tokio::sync::watch;

use crate::model::queuepool::{Checkout, PoolConfig};
use crate::model::simulation::HoldTime;
use crate::support::redact_urls;

pub use pool::PoolCounts;

use super::error_text;
use super::probe::scrub;

/// A scenario to run, with its numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioSpec {
    /// `users` closed-loop workers for `duration` seconds.
    Load {
        /// Workers.
        users: u32,
        /// Seconds.
        duration: f64,
    },
    /// `long_transactions` transactions held until twice `pool_timeout`,
    /// `during` ordinary checkouts while they hold, ordinary checkouts once
    /// they end, and a statement longer than the statement timeout.
    Exhaustion {
        /// Long transactions.
        long_transactions: u32,
        /// Ordinary checkouts while the pool is exhausted.
        during: u32,
    },
    /// Open-loop arrivals (Poisson, drawn by the caller).
    Stress {
        /// Arrivals at `rate` per second.
        rate: f64,
        /// Seconds of arrivals.
        duration: f64,
        /// The checkouts: when each arrives and how long it holds.
        arrivals: Vec<Checkout>,
    },
    /// Recycling and pre-ping, with `pool_recycle` of `recycle` seconds.
    Recycle {
        /// Seconds.
        recycle: f64,
    },
}

impl ScenarioSpec {
    /// The scenario's name.
    pub fn name(&self) -> &'static str {
        match self {
            ScenarioSpec::Load { .. } => "load",
            ScenarioSpec::Exhaustion { .. } => "exhaustion",
            ScenarioSpec::Stress { .. } => "stress",
            ScenarioSpec::Recycle { .. } => "recycle",
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadTestSpec {
    /// The server (`postgres://…/db` or `mysql://…/db`).
    pub url: String,
    /// The pool under test.
    pub pool: PoolConfig,
    /// Seconds after which the server cancels a statement.
    pub statement_timeout: f64,
    /// Holds of the default workload (`pg_sleep` / `SLEEP`).
    pub hold: HoldTime,
    /// The user's read-only statements instead of the sleep.
    pub workload: Option<Vec<String>>,
    /// Seed of the holds' draws.
    pub seed: u64,
    /// The scenarios, in order.
    pub scenarios: Vec<ScenarioSpec>,
}

/// Which part of a scenario a checkout belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// An ordinary request (load, stress).
    Request,
    /// A long transaction (exhaustion).
    Long,
    /// An ordinary checkout while the pool is exhausted.
    During,
    /// An ordinary checkout after the long transactions ended.
    After,
    /// The statement-timeout check.
    StatementTimeout,
    /// A checkout of the recycle scenario.
    Recycle,
}

/// How a checkout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// It had a connection and its statement ran.
    Served,
    /// `pool_timeout` ran out.
    TimedOut,
    /// Opening the connection or the statement failed.
    Error,
    /// The run stopped while it waited.
    Stopped,
}

/// One checkout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CheckoutRecord {
    /// Its phase.
    pub phase: Phase,
    /// When it asked, seconds from the scenario's start.
    pub asked: f64,
    /// Seconds until it had a connection (or gave up).
    pub wait: f64,
    /// Seconds its statement took (0 when it had no connection).
    pub held: f64,
    /// How it ended.
    pub ended: Ended,
}

/// One sample of the pool and the server, every 100 ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds from the scenario's start.
    pub t: f64,
    /// Connections checked out.
    pub checked_out: u64,
    /// Connections the pool has open.
    pub open: u64,
    /// Checkouts waiting.
    pub waiting: u64,
    /// Sessions of the test the server lists (`pg_stat_activity` by
    /// `application_name`; MySQL's process list by connection id).
    pub server_sessions: i64,
}

/// An error text seen, with how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorSeen {
    /// Where: the phase.
    pub phase: Phase,
    /// The text (SQLAlchemy's for a timeout, the server's otherwise; no password).
    pub text: String,
    /// The server's code (SQLSTATE on PostgreSQL, the error number on MySQL).
    pub code: Option<String>,
    /// How many times.
    pub count: u64,
}

/// The statement-timeout check: what the server did with a statement longer
/// than the statement timeout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementTimeoutSeen {
    /// The statement's length asked, seconds.
    pub asked_seconds: f64,
    /// Seconds until it ended.
    pub elapsed_seconds: f64,
    /// Whether it ran to its end (not cancelled).
    pub completed: bool,
    /// The server's code, when it failed.
    pub code: Option<String>,
    /// The server's message, when it failed.
    pub message: Option<String>,
}

/// What the recycle scenario saw, by session id.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecycleSeen {
    /// The first connection's session.
    pub first: Option<i64>,
    /// The session of the checkout right after it was returned (with a
    /// transaction left open): the same one, reused.
    pub reused: Option<i64>,
    /// The session after `pool_recycle` had passed: a new one.
    pub after_recycle: Option<i64>,
    /// Whether the first session was gone from the server after the recycle.
    pub first_closed: Option<bool>,
    /// The session ended from the server's side for the pre-ping check.
    pub terminated: Option<i64>,
    /// The session of the checkout after that: a new one, opened by pre-ping.
    pub after_terminate: Option<i64>,
    /// The error the workload saw after the session was ended (none expected).
    pub error_after_terminate: Option<String>,
}

/// One scenario's measurements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioRun {
    /// `load`, `exhaustion`, `stress` or `recycle`.
    pub scenario: &'static str,
    /// The pool it ran with (the recycle scenario shortens `pool_recycle`
    /// and turns pre-ping on).
    #[serde(skip)]
    pub pool: PoolConfig,
    /// Seconds from the scenario's start to its end.
    pub elapsed_seconds: f64,
    /// Seconds from the last arrival to the last return (stress).
    pub drain_seconds: Option<f64>,
    /// Every checkout, in the order they ended.
    #[serde(skip)]
    pub checkouts: Vec<CheckoutRecord>,
    /// The pool's and the server's samples.
    #[serde(skip)]
    pub samples: Vec<Sample>,
    /// The pool's counters.
    pub counts: PoolCounts,
    /// Most sessions of the test the server listed at once.
    pub peak_server_sessions: i64,
    /// Distinct error texts, by phase.
    pub errors: Vec<ErrorSeen>,
    /// The statement-timeout check (exhaustion).
    pub statement_timeout: Option<StatementTimeoutSeen>,
    /// The recycle scenario's sessions.
    pub recycle: Option<RecycleSeen>,
    /// Whether it was stopped before its end (Ctrl-C).
    pub interrupted: bool,
}

/// The server the test ran against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerSeen {
    /// `postgresql` or `mysql`.
    pub kind: &'static str,
    /// Its version string.
    pub version: String,
    /// Its `max_connections`.
    pub max_connections: i64,
    /// The URL, password replaced.
    pub url: String,
    /// The test's `application_name` (PostgreSQL).
    pub application_name: String,
}

/// The whole run's measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadTestRun {
    /// The server.
    pub server: ServerSeen,
    /// The scenarios run, in order (fewer than asked when interrupted).
    pub scenarios: Vec<ScenarioRun>,
    /// Whether the run was stopped (Ctrl-C).
    pub interrupted: bool,
}

/// A load test that could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadTestError {
    /// The URL is not one the test can use.
    #[error("{url}: {reason}")]
    Url {
        /// The URL, password replaced.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The server could not be reached or refused the monitoring connection.
    #[error("{url}: {reason}")]
    Connect {
        /// The URL, password replaced.
        url: String,
        /// What the server or driver said.
        reason: String,
    },
    /// The runtime could not start.
    #[error("starting the database client: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Checks `url` without connecting: a postgres:// or mysql:// URL naming
/// its database.
pub fn check_url(url: &str) -> Result<(), LoadTestError> {
    conn::Target::parse(url, "poolcap-loadtest", 1.0)
        .map(drop)
        .map_err(|reason| LoadTestError::Url {
            url: redact_urls(url),
            reason,
        })
}

/// Runs `spec`; `progress` hears each scenario's start. Ctrl-C stops the
/// run: the scenarios so far are returned, the current one marked interrupted.
pub fn run(spec: &LoadTestSpec, progress: &mut dyn FnMut(&str)) -> Result<LoadTestRun, LoadTestError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run_async(spec, progress))
}

async fn run_async(spec: &LoadTestSpec, progress: &mut dyn FnMut(&str)) -> Result<LoadTestRun, LoadTestError> {
    let application = format!("poolcap-loadtest-{}", std::process::id());
    let url_shown = redact_urls(&spec.url);
    let mut target =
        conn::Target::parse(&spec.url, &application, spec.statement_timeout).map_err(|reason| LoadTestError::Url {
            url: url_shown.clone(),
            reason,
        })?;
    let connect_error = |e: sqlx::Error| LoadTestError::Connect {
        url: url_shown.clone(),
        reason: scrub(&error_text(&e), &spec.url),
    };
    let mut monitor = conn::Monitor::connect(&mut target, &application)
        .await
        .map_err(connect_error)?;
    let (version, max_connections) = monitor.server().await.map_err(connect_error)?;
    let server = ServerSeen {
        kind: target.server_kind(),
        version,
        max_connections,
        url: url_shown.clone(),
        application_name: application.clone(),
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
    });
    let mut scenarios = Vec::new();
    for scenario in &spec.scenarios {
        if *stop_rx.borrow() {
            break;
        }
        progress(scenario.name());
        let ctx = scenarios::Context {
            spec,
            target: target.clone(),
            epoch: Instant::now(),
            stop: stop_rx.clone(),
            url: &spec.url,
        };
        scenarios.push(scenarios::run(&ctx, scenario, &mut monitor).await);
    }
    ctrl_c.abort();
    monitor.close().await;
    let interrupted = *stop_rx.borrow();
    Ok(LoadTestRun {
        server,
        scenarios,
        interrupted,
    })
}
