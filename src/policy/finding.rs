//! What the policy says about a service besides its size: a [`Finding`] —
//! a stable [`Code`], the [`Effect`] it has on the decision, one sentence with
//! the numbers, the rule as written, and its [`FindingEvidence`], one typed
//! shape per code (serialized as the plain object `plan.json` shows).

use serde::Serialize;

use crate::model::PoolSize;

/// Stable finding codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// Rule 1.
    SizingFormula,
    /// Rule 2.
    MonthlyEscalation,
    /// Rule 3.
    SustainedHigh,
    /// Rule 4.
    Saturation,
    /// Rule 6 (advisory).
    Overprovisioned,
    /// Rule 7.
    InsufficientData,
    /// Guard: connection budget.
    BudgetExceeded,
    /// Guard: hard limit.
    MaxPoolSize,
    /// Target files (or the config) disagree on a current value.
    TargetsDisagree,
    /// A managed key is set more than once in an env file.
    DuplicateKey,
    /// Slow queries in the database's log held connections (advisory).
    SlowQueries,
    /// Services share a target file (the same keys): the file holds one pool for all.
    SharedTarget,
    /// A fixed setting in a target file differs from the config.
    SettingDrift,
    /// The simulated queueing check of the busiest instance-hours (advisory
    /// when the recommended pool misses `queue_target`, else information).
    Queueing,
    /// A PgBouncer server pool its clients outgrow: session mode with more
    /// client connections than server ones, or clients seen waiting
    /// (`cl_waiting`) by a probe (advisory).
    PgbouncerPool,
}

impl Code {
    /// The kebab-case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::SizingFormula => "sizing-formula",
            Code::MonthlyEscalation => "monthly-escalation",
            Code::SustainedHigh => "sustained-high",
            Code::Saturation => "saturation",
            Code::Overprovisioned => "overprovisioned",
            Code::InsufficientData => "insufficient-data",
            Code::BudgetExceeded => "budget-exceeded",
            Code::MaxPoolSize => "max-pool-size",
            Code::Queueing => "queueing",
            Code::PgbouncerPool => "pgbouncer-pool",
            Code::TargetsDisagree => "targets-disagree",
            Code::DuplicateKey => "duplicate-key",
            Code::SlowQueries => "slow-queries",
            Code::SharedTarget => "shared-target",
            Code::SettingDrift => "setting-drift",
        }
    }

    /// The rule as written in the policy (hazard card wording where it has one).
    pub fn rule_text(self) -> &'static str {
        match self {
            Code::SizingFormula => {
                "pool_size = ceil(concurrent_users × users_factor); the result is a floor for the recommendation."
            }
            Code::MonthlyEscalation => {
                "If average pool utilization > escalate_mean_utilization for one month, increase pool_size by escalate_step."
            }
            Code::SustainedHigh => {
                "If utilization stays > sustained_utilization for sustained_for, increase immediately: +escalate_step until the episode's level would be at or below the threshold."
            }
            Code::Saturation => {
                "Samples at pool_size + max_overflow, or any pool timeout, are censored demand: increase by at least escalate_step."
            }
            Code::Overprovisioned => {
                "A service below overprovisioned_utilization for overprovisioned_months months is reported; poolcap never shrinks a pool by itself."
            }
            Code::InsufficientData => "A month with coverage below min_coverage gives no mean-based decision.",
            Code::BudgetExceeded => {
                "Σ replicas × processes × (pool_size + max_overflow) + other_clients must stay ≤ max_connections − superuser_reserved − reserved − headroom. Behind PgBouncer the routed pools count against max_client_conn − its headroom, and its server pools (pool + reserve, within max_db_connections and max_user_connections) against the database."
            }
            Code::MaxPoolSize => "pool_size never exceeds the service's max_pool_size.",
            Code::TargetsDisagree => {
                "The first target file is the source of truth for the current pool; the others must agree with it."
            }
            Code::DuplicateKey => "A managed key is set once per env file; applications read the last occurrence.",
            Code::SettingDrift => {
                "The card's fixed settings (pool_timeout, pool_recycle, pool_pre_ping, statement_timeout) are written as configured; a file that holds another value is reported, and a change of ten times or more either way is blocked unless accepted (--accept-drift): it is a unit mismatch far more often than a decision."
            }
            Code::SharedTarget => {
                "Services whose targets are one file with the same keys run with the one pool the file holds: the budget counts it for each of them, and they must not ask for different sizes."
            }
            Code::Queueing => {
                "Queueing check (advisory): the month's busiest instance-hours replayed through a simulation of SQLAlchemy's QueuePool at the current and recommended sizes; P(timeout) per checkout should stay under queue_target. It informs the review; the sizing rules decide."
            }
            Code::PgbouncerPool => {
                "Behind PgBouncer, clients wait for a server connection when its server pool (pool_size + reserve) is busy: in session mode each client connection holds one for its life, so the pool must cover every client connection; in transaction mode clients waiting (cl_waiting > 0, maxwait) mean the server pool is too small for the load."
            }
            Code::SlowQueries => {
                "Quarterly review of slow query logs (queries taking > slow_query_seconds): slow queries hold connections and starve the pool; optimise them before growing it."
            }
        }
    }
}

/// What a finding does to the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Its candidate is above the current size.
    Raise,
    /// Evaluated; asks for no change.
    Info,
    /// For people to consider; changes nothing.
    Advisory,
    /// A guard limited the recommendation.
    Limit,
    /// A guard blocks the plan.
    Block,
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable code.
    pub code: Code,
    /// What it does to the decision.
    pub effect: Effect,
    /// The rule's candidate `pool_size`, for rules that propose one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_pool_size: Option<u32>,
    /// One sentence with the numbers.
    pub message: String,
    /// The rule as written.
    pub rule: &'static str,
    /// The numbers behind it.
    pub evidence: FindingEvidence,
}

/// The numbers behind a finding, one shape per code. Serialized as a plain
/// object (its fields in alphabetical order), as `plan.json` has always shown
/// them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FindingEvidence {
    /// `sizing-formula`.
    SizingFormula {
        /// Peak concurrent users per process.
        concurrent_users: u32,
        /// The formula's pool size.
        pool_size: u32,
        /// Its factor.
        users_factor: f64,
    },
    /// `insufficient-data`.
    InsufficientData {
        /// The month's coverage.
        coverage: f64,
        /// The gate.
        min_coverage: f64,
    },
    /// `monthly-escalation`.
    MonthlyEscalation {
        /// The month's mean utilization.
        mean_utilization: f64,
        /// Connections added.
        step: u32,
        /// The threshold it passed.
        threshold: f64,
    },
    /// `sustained-high`.
    SustainedHigh {
        /// How long the episode lasted, seconds.
        duration_seconds: i64,
        /// `sustained_for`, seconds.
        for_seconds: i64,
        /// The instance.
        instance: String,
        /// Pool size during the episode.
        pool_size: u32,
        /// When it started.
        start: String,
        /// Connections held through its best window.
        sustained_checked_out: u32,
        /// `sustained_utilization`.
        threshold: f64,
    },
    /// `saturation`.
    Saturation {
        /// Seconds at capacity.
        saturated_seconds: i64,
        /// Connections added.
        step: u32,
        /// Pool timeouts.
        timeouts: u64,
    },
    /// `overprovisioned`.
    Overprovisioned {
        /// Each month's mean, the reviewed month first.
        monthly_means: Vec<f64>,
        /// `overprovisioned_utilization`.
        threshold: f64,
    },
    /// `max-pool-size`.
    MaxPoolSize {
        /// The limit.
        max_pool_size: u32,
        /// What the rules asked for.
        requested: u32,
    },
    /// `shared-target`.
    SharedTarget {
        /// The pool the budget counts for each service.
        budgeted: PoolSize,
        /// The shared file.
        file: String,
        /// The services reading it.
        services: Vec<String>,
    },
    /// `budget-exceeded`.
    BudgetExceeded {
        /// Connections the deployed pools need.
        current_required: u64,
        /// The budget.
        limit: u32,
        /// Connections the plan needs.
        required: u64,
        /// The side over its limit: the database (left out of the JSON), or
        /// PgBouncer's clients.
        #[serde(skip_serializing_if = "crate::policy::BudgetSide::is_database")]
        side: crate::policy::BudgetSide,
    },
    /// A PgBouncer server pool's rule (escalation, sustained waiting,
    /// waiting, budget), from its `SHOW POOLS` snapshots.
    PgbouncerServerPool {
        /// The pool's database.
        database: String,
        /// The pool's user.
        user: String,
        /// Its `pool_size` now.
        pool_size: u32,
        /// Time-weighted mean of busy server connections.
        mean_sv_active: f64,
        /// Most server connections wanted at once (busy + waiting).
        peak_demand: u64,
        /// Seconds with a client waiting.
        waiting_seconds: i64,
        /// Most clients waiting at once.
        max_cl_waiting: u64,
    },
    /// `pgbouncer-pool`.
    PgbouncerPool {
        /// The pool's database.
        database: String,
        /// The pool's user.
        user: String,
        /// Its mode.
        pool_mode: crate::model::bouncer::PoolMode,
        /// pool_size + reserve.
        server_capacity: u64,
        /// Client connections the routed services' pools may hold.
        clients: u64,
        /// Clients waiting for a server connection, when probed.
        #[serde(skip_serializing_if = "Option::is_none")]
        cl_waiting: Option<u64>,
        /// The oldest client's wait, seconds, when probed.
        #[serde(skip_serializing_if = "Option::is_none")]
        maxwait_seconds: Option<f64>,
    },
    /// `duplicate-key`.
    DuplicateKey {
        /// The env file.
        file: String,
        /// The key.
        key: String,
        /// The lines setting it.
        lines: Vec<usize>,
    },
    /// `targets-disagree`.
    TargetsDisagree {
        /// The setting.
        setting: &'static str,
        /// Each target's value, the source of truth first.
        values: Vec<SourceValue>,
    },
    /// `setting-drift`.
    SettingDrift {
        /// How many times the value changes (`null` when one side is 0).
        factor: Option<f64>,
        /// The target file.
        file: String,
        /// The value in the file, if any.
        in_file: Option<String>,
        /// The key.
        key: String,
        /// The value poolcap writes.
        to_write: String,
    },
    /// `slow-queries`.
    SlowQueries {
        /// The costliest slow shapes (at most 10).
        fingerprints: Vec<SlowShape>,
        /// Mean connections logged statements held.
        mean_concurrency: f64,
        /// Statements over the threshold.
        over_threshold: u64,
        /// Most held at once.
        peak_concurrency: f64,
        /// `slow_query_seconds`.
        threshold_seconds: f64,
    },
    /// `queueing`.
    Queueing(Box<crate::analyze::study::QueueingStudy>),
}

/// One target's value of a setting (evidence of `targets-disagree`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceValue {
    /// The target file.
    pub source: String,
    /// Its value.
    pub value: u32,
}

/// One slow query shape (evidence of `slow-queries`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowShape {
    /// Statements of the shape.
    pub count: u64,
    /// The shape.
    pub fingerprint: String,
    /// The slowest, ms.
    pub max_ms: f64,
    /// Connections the shape held on average.
    pub mean_connections: f64,
    /// Statements over the threshold.
    pub over_threshold: u64,
    /// Time of all its statements, ms.
    pub total_ms: f64,
}
