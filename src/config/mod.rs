//! `poolcap.toml`: what the user wrote ([`raw`]) and the validated settings the
//! rest of poolcap works from ([`Settings`]).
//!
//! Invariants: a [`Settings`] value exists only after every key was checked; every
//! error names the file, the line and the key; defaults are those of DESIGN §1.3–1.5
//! and are written down once, here ([`PolicySettings::default`] for the policy).
//! The keys, as a user sees them: docs/config.md.

pub mod names;
pub mod pgbouncer_ini;
mod raw;

use crate::model::bouncer::{Route, ServicePools};
use crate::model::{DatabaseBudget, PoolSize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file the settings were read from.
    pub path: PathBuf,
    /// SHA-256 of its text (of no text when the file is absent and optional).
    pub sha256: String,
    /// Policy thresholds and factors.
    pub policy: PolicySettings,
    /// Alert rules replayed over history (default: warning and critical of DESIGN §1.3).
    pub alerts: Vec<AlertRule>,
    /// The database's connection budget.
    pub database: DatabaseBudget,
    /// The services whose pools poolcap sizes, in the order of the file.
    pub services: Vec<ServiceSettings>,
    /// The card's fixed pool settings, written with every change (`[pool]`).
    pub pool: PoolDefaults,
    /// A site's own change-log entry template (`[changelog] template`).
    pub changelog_template: Option<PathBuf>,
    /// Names in the monitoring stack, for the exported rules and for reading
    /// Prometheus query results (`[prometheus]`).
    pub prometheus: PrometheusSettings,
    /// How log lines carrying SQLAlchemy's `pool.status()` are read (`[pool_status]`).
    pub pool_status: PoolStatusSettings,
    /// What a service takes for the keys it leaves out, and what a discovered
    /// service is made of (`[defaults]`).
    pub defaults: Option<ServiceDefaults>,
    /// Where services besides `[[services]]` come from (`[discovery]`).
    pub discovery: Discovery,
    /// `[pgbouncer] ini`, when PgBouncer's limits are read from its file.
    pub pgbouncer_ini: Option<PgbouncerIni>,
}

/// PgBouncer's own config file (`[pgbouncer] ini`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgbouncerIni {
    /// The file, resolved against the config's folder.
    pub path: PathBuf,
    /// As written in the config.
    pub shown: String,
    /// `[pgbouncer] write = true`: `apply` writes the server pools' sizes into it.
    pub write: bool,
    /// `[pgbouncer] changelog`: where those changes are recorded.
    pub changelog: Option<PathBuf>,
}

/// Where the services poolcap plans come from (`[discovery] from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Discovery {
    /// Only the `[[services]]` of the config (the default).
    #[default]
    Config,
    /// Also every service present in the metrics of the period, made from `[defaults]`.
    Metrics,
}

/// `[defaults]`: the keys of a service that leaves them out, and of every
/// discovered service. Target paths hold `{service}`, replaced by the
/// service's name as a file stem ([`names::file_stem`]).
#[derive(Debug, Clone)]
pub struct ServiceDefaults {
    /// Replicas; `None`: from the pools seen in the metrics (`"seen"`, the default here).
    pub replicas: Option<u32>,
    /// Processes per replica.
    pub processes_per_replica: u32,
    /// Peak concurrent users, for the sizing formula.
    pub concurrent_users: Option<u32>,
    /// Hard upper limit on `pool_size`.
    pub max_pool_size: Option<u32>,
    /// The pool as configured, when the services have no target files.
    pub current: Option<PoolSize>,
    /// Target files, their paths patterns with `{service}`.
    pub targets: Vec<Target>,
    /// The change log's path pattern (`{service}` optional: one log may serve all).
    pub changelog: Option<String>,
    /// `[pool]` with `[defaults.pool]` over it.
    pub pool: PoolDefaults,
    /// The config file, to resolve the paths made from the patterns.
    pub config: PathBuf,
    /// The route: through `[pgbouncer]` or direct.
    pub route: RouteSpec,
}

/// A service's route as written: through `[pgbouncer]` or straight to the
/// database, and the server pool it lands in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteSpec {
    /// Through PgBouncer (the default when there is a `[pgbouncer]`).
    pub via_pgbouncer: bool,
    /// `pgbouncer_database`; unset: PgBouncer's only database, else the
    /// service's name.
    pub database: Option<String>,
    /// `pgbouncer_user`; unset: the service's name.
    pub user: Option<String>,
}

impl RouteSpec {
    /// The route of `service`.
    pub fn route(&self, service: &str) -> Route {
        if !self.via_pgbouncer {
            return Route::Direct;
        }
        Route::Pgbouncer {
            database: self.database.clone().unwrap_or_else(|| service.to_string()),
            user: self.user.clone().unwrap_or_else(|| service.to_string()),
        }
    }
}

impl ServiceDefaults {
    /// The placeholder target paths hold.
    pub const PLACEHOLDER: &str = "{service}";

    /// `pattern` with the placeholder replaced by `service` as a file stem.
    pub fn path_for(pattern: &str, service: &str) -> String {
        pattern.replace(Self::PLACEHOLDER, &names::file_stem(service))
    }

    /// The target files of `service`.
    pub fn targets_for(&self, service: &str) -> Vec<Target> {
        self.targets
            .iter()
            .map(|t| {
                let shown = Self::path_for(&t.shown, service);
                Target {
                    path: raw::resolve(&self.config, &shown),
                    shown,
                    ..t.clone()
                }
            })
            .collect()
    }

    /// The change log of `service`.
    pub fn changelog_for(&self, service: &str) -> Option<PathBuf> {
        self.changelog
            .as_deref()
            .map(|c| raw::resolve(&self.config, &Self::path_for(c, service)))
    }

    /// A service found in the metrics, made of these defaults with
    /// `replicas` (for `"seen"`: the pools seen ÷ processes, by the caller).
    pub fn service(&self, name: &str, replicas: u32) -> ServiceSettings {
        ServiceSettings {
            name: name.to_string(),
            replicas: self.replicas.unwrap_or(replicas),
            replicas_seen: self.replicas.is_none(),
            processes_per_replica: self.processes_per_replica,
            concurrent_users: self.concurrent_users,
            max_pool_size: self.max_pool_size,
            current: self.current,
            targets: self.targets_for(name),
            changelog: self.changelog_for(name),
            pool: self.pool,
            discovered: true,
            route: self.route.route(name),
        }
    }
}

/// Reading log lines that carry SQLAlchemy's `pool.status()` text (`[pool_status]`).
#[derive(Debug, Clone)]
pub struct PoolStatusSettings {
    /// Matched at the start of each line; its named group `ts` is the time,
    /// optional groups `service` and `instance` name the pool.
    pub prefix: regex::Regex,
    /// Zone of timestamps written without an offset (Python's `asctime`).
    pub timezone: jiff::tz::TimeZone,
}

impl PoolStatusSettings {
    /// The default prefix: an ISO-like date and time at the start of the line
    /// (`2026-11-27 12:26:08,305`, `2026-11-27T12:26:08.305Z`, `… +01:00`).
    pub const DEFAULT_PREFIX: &str =
        r"^\[?(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)";
}

impl Default for PoolStatusSettings {
    fn default() -> Self {
        PoolStatusSettings {
            prefix: regex::Regex::new(Self::DEFAULT_PREFIX).expect("the default prefix is a valid regex"),
            timezone: jiff::tz::TimeZone::UTC,
        }
    }
}

/// How the pool metrics are named in Prometheus (`[prometheus]`): the exported
/// alert rules and dashboards are built from these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusSettings {
    /// Gauge of connections checked out, per pool.
    pub checked_out_metric: String,
    /// Gauge of the pool's `pool_size`.
    pub pool_size_metric: String,
    /// Gauge of the pool's current overflow (`pool.overflow()`, negative
    /// while the pool is not full).
    pub overflow_metric: String,
    /// Counter of checkouts that timed out (QueuePool limit reached).
    pub timeouts_metric: String,
    /// Gauge of idle connections in the pool (read from query results only).
    pub checked_in_metric: String,
    /// Gauge of the pool's `max_overflow` (read from query results only).
    pub max_overflow_metric: String,
    /// Gauge of callers waiting for a connection (read from query results only).
    pub waiting_metric: String,
    /// Label holding the service name.
    pub service_label: String,
    /// Label holding the instance (one pool).
    pub instance_label: String,
    /// Where the alert's runbook lives (the incident procedure).
    pub runbook_url: String,
    /// Matchers every series read from a Prometheus server must also meet
    /// (`selector = '{namespace="clinical"}'`); empty: none.
    pub selector: crate::model::promql::Selector,
}

impl Default for PrometheusSettings {
    fn default() -> Self {
        PrometheusSettings {
            checked_out_metric: "sqlalchemy_pool_checked_out".into(),
            pool_size_metric: "sqlalchemy_pool_size".into(),
            overflow_metric: "sqlalchemy_pool_overflow".into(),
            timeouts_metric: "sqlalchemy_pool_timeouts_total".into(),
            checked_in_metric: "sqlalchemy_pool_checked_in".into(),
            max_overflow_metric: "sqlalchemy_pool_max_overflow".into(),
            waiting_metric: "sqlalchemy_pool_waiting".into(),
            service_label: "service".into(),
            instance_label: "instance".into(),
            runbook_url: "README.md#incident-procedure-pool-exhausted-now".into(),
            selector: crate::model::promql::Selector::default(),
        }
    }
}

impl Settings {
    /// The directory relative paths in the config are taken from.
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }
}

/// The card's fixed design settings (DESIGN §1.4), written beside the sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolDefaults {
    /// `pool_timeout`, seconds (card: 30).
    pub pool_timeout: i64,
    /// `pool_recycle`, seconds (card: 3600).
    pub pool_recycle: i64,
    /// `pool_pre_ping` (card: true).
    pub pool_pre_ping: bool,
    /// `statement_timeout`, milliseconds (card: 30 s).
    pub statement_timeout_ms: i64,
}

impl Default for PoolDefaults {
    fn default() -> Self {
        PoolDefaults {
            pool_timeout: 30,
            pool_recycle: 3600,
            pool_pre_ping: true,
            statement_timeout_ms: 30_000,
        }
    }
}

/// A setting poolcap manages in target files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Setting {
    /// QueuePool `pool_size`.
    PoolSize,
    /// QueuePool `max_overflow`.
    MaxOverflow,
    /// `pool_timeout`, seconds.
    PoolTimeout,
    /// `pool_recycle`, seconds.
    PoolRecycle,
    /// `pool_pre_ping`.
    PoolPrePing,
    /// PostgreSQL `statement_timeout`, milliseconds.
    StatementTimeout,
}

impl Setting {
    /// Every setting, in the order they are written.
    pub const ALL: [Setting; 6] = [
        Setting::PoolSize,
        Setting::MaxOverflow,
        Setting::PoolTimeout,
        Setting::PoolRecycle,
        Setting::PoolPrePing,
        Setting::StatementTimeout,
    ];

    /// The setting's name (also its default TOML key).
    pub fn name(self) -> &'static str {
        match self {
            Setting::PoolSize => "pool_size",
            Setting::MaxOverflow => "max_overflow",
            Setting::PoolTimeout => "pool_timeout",
            Setting::PoolRecycle => "pool_recycle",
            Setting::PoolPrePing => "pool_pre_ping",
            Setting::StatementTimeout => "statement_timeout",
        }
    }

    /// Its default environment variable (also the default YAML key).
    pub fn env_key(self) -> &'static str {
        match self {
            Setting::PoolSize => "DB_POOL_SIZE",
            Setting::MaxOverflow => "DB_MAX_OVERFLOW",
            Setting::PoolTimeout => "DB_POOL_TIMEOUT",
            Setting::PoolRecycle => "DB_POOL_RECYCLE",
            Setting::PoolPrePing => "DB_POOL_PRE_PING",
            Setting::StatementTimeout => "DB_STATEMENT_TIMEOUT",
        }
    }

    /// The setting called `name`.
    pub fn from_name(name: &str) -> Option<Setting> {
        Setting::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The format of a target file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A dotenv file.
    Env,
    /// A TOML file, edited with toml_edit.
    Toml,
    /// A YAML file (ConfigMap, Helm values).
    Yaml,
    /// PgBouncer's `pgbouncer.ini` (`[pgbouncer] write = true`): the server
    /// pools' sizes, never a service's pool.
    PgbouncerIni,
}

impl TargetKind {
    /// Lower-case name, as in the config.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Env => "env",
            TargetKind::Toml => "toml",
            TargetKind::Yaml => "yaml",
            TargetKind::PgbouncerIni => "pgbouncer.ini",
        }
    }
}

/// A file a service's pool settings are written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its format.
    pub kind: TargetKind,
    /// The path as written in the config (for messages).
    pub shown: String,
    /// The path, resolved against the config's directory.
    pub path: PathBuf,
    /// Keys leading to the settings' table or map (TOML, YAML).
    pub prefix: Vec<String>,
    /// The settings managed in this file and their key names.
    pub keys: Vec<(Setting, String)>,
    /// The unit each duration setting is written in, in this file.
    pub units: Units,
    /// The file may be missing and is then made by `apply` (`create = true`);
    /// without it a missing target is an error (a typo must not plan a new file).
    pub create: bool,
}

/// A unit a target file writes a duration in (`units = { … = "s" }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
    /// Minutes.
    Min,
}

impl Unit {
    /// Milliseconds in one unit.
    pub fn millis(self) -> i64 {
        match self {
            Unit::Ms => 1,
            Unit::S => 1000,
            Unit::Min => 60_000,
        }
    }

    /// As written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::S => "s",
            Unit::Min => "min",
        }
    }

    /// The unit called `name`.
    pub fn from_name(name: &str) -> Option<Unit> {
        [Unit::Ms, Unit::S, Unit::Min].into_iter().find(|u| u.name() == name)
    }
}

/// The unit of each duration setting in one target file. Defaults are those
/// of SQLAlchemy and PostgreSQL: seconds for `pool_timeout` and
/// `pool_recycle`, milliseconds for `statement_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    /// `pool_timeout`.
    pub pool_timeout: Unit,
    /// `pool_recycle`.
    pub pool_recycle: Unit,
    /// `statement_timeout`.
    pub statement_timeout: Unit,
}

impl Default for Units {
    fn default() -> Self {
        Units {
            pool_timeout: Unit::S,
            pool_recycle: Unit::S,
            statement_timeout: Unit::Ms,
        }
    }
}

impl Units {
    /// The unit of `setting`, when it is a duration.
    pub fn of(&self, setting: Setting) -> Option<Unit> {
        match setting {
            Setting::PoolTimeout => Some(self.pool_timeout),
            Setting::PoolRecycle => Some(self.pool_recycle),
            Setting::StatementTimeout => Some(self.statement_timeout),
            _ => None,
        }
    }

    /// Sets the unit of a duration setting (others are ignored).
    pub fn set(&mut self, setting: Setting, unit: Unit) {
        match setting {
            Setting::PoolTimeout => self.pool_timeout = unit,
            Setting::PoolRecycle => self.pool_recycle = unit,
            Setting::StatementTimeout => self.statement_timeout = unit,
            _ => {}
        }
    }
}

/// The capacity policy's numbers (DESIGN §1.4).
#[derive(Debug, Clone)]
pub struct PolicySettings {
    /// Time zone in which calendar months and hours are taken.
    pub timezone: jiff::tz::TimeZone,
    /// Its IANA name, as written.
    pub timezone_name: String,
    /// Monthly escalation: a month mean above this grows the pool.
    pub escalate_mean_utilization: f64,
    /// Connections added by one escalation step.
    pub escalate_step: u32,
    /// Sustained-high threshold.
    pub sustained_utilization: f64,
    /// How long, in seconds, utilization must stay above the threshold.
    pub sustained_for: i64,
    /// Data gate: the least service coverage of a month that allows a mean-based decision.
    pub min_coverage: f64,
    /// `pool_size = ceil(concurrent_users × users_factor)`.
    pub users_factor: f64,
    /// `max_overflow = ceil(pool_size × overflow_factor)`.
    pub overflow_factor: f64,
    /// Advisory "overprovisioned" when the mean stays below this…
    pub overprovisioned_utilization: f64,
    /// …for this many consecutive months (the reviewed month included).
    pub overprovisioned_months: u32,
    /// Fixed `max_gap` in seconds; `None` means 3 × each instance's median interval.
    pub max_gap: Option<i64>,
    /// How far back in time, per instance, a row may arrive out of order.
    pub reorder_window: i64,
    /// Slow-query review threshold, seconds (card: 5).
    pub slow_query_seconds: f64,
    /// Mean connection hold time for the queueing check when no slow log is given, seconds.
    pub hold_time_seconds: f64,
    /// The queueing check flags a pool whose P(wait > pool_timeout) stays above this.
    pub queue_target: f64,
    /// The instance-hours of the month the pool simulation runs.
    pub simulate_hours: crate::model::simulation::Hours,
    /// The shape of the hold times without a slow log.
    pub hold_distribution: crate::model::simulation::HoldShape,
    /// The simulation's random seed.
    pub simulation_seed: u64,
}

impl Default for PolicySettings {
    /// The hazard card's defaults — what `[policy]` means when it leaves a key
    /// out (the config reader takes its defaults from here).
    fn default() -> Self {
        PolicySettings {
            timezone: jiff::tz::TimeZone::UTC,
            timezone_name: "UTC".to_string(),
            escalate_mean_utilization: 0.60,
            escalate_step: 5,
            sustained_utilization: 0.80,
            sustained_for: 300,
            min_coverage: 0.8,
            users_factor: 1.5,
            overflow_factor: 0.5,
            overprovisioned_utilization: 0.20,
            overprovisioned_months: 3,
            max_gap: None,
            reorder_window: 3600,
            slow_query_seconds: 5.0,
            hold_time_seconds: 0.1,
            queue_target: 1e-4,
            simulate_hours: crate::model::simulation::Hours::Busiest(24),
            hold_distribution: crate::model::simulation::HoldShape::Exponential,
            simulation_seed: 1,
        }
    }
}

/// One alert rule: utilization above `above` for more than `for_seconds`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Rule name (also the Prometheus severity label).
    pub name: String,
    /// Threshold on `checked_out / pool_size`.
    pub above: f64,
    /// The `for:` duration in seconds.
    pub for_seconds: i64,
}

/// One deployable service and its pools.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Service name, as in the metrics' `service` column.
    pub name: String,
    /// Replicas (pods, containers) of the service.
    pub replicas: u32,
    /// `replicas = "seen"`: `replicas` is a placeholder until the metrics
    /// are read (`ops::fleet` sets it from the pools seen reporting at once).
    pub replicas_seen: bool,
    /// Found in the metrics (`[discovery]`), not written in `[[services]]`.
    pub discovered: bool,
    /// Processes per replica, each with its own pool (gunicorn/uvicorn workers).
    pub processes_per_replica: u32,
    /// Peak concurrent users, for the sizing formula.
    pub concurrent_users: Option<u32>,
    /// Hard upper limit on `pool_size`.
    pub max_pool_size: Option<u32>,
    /// The pool as configured (`current`); with targets, the files are the truth
    /// and this is only the fallback for values they lack.
    pub current: Option<PoolSize>,
    /// Files the settings are written to, in the order of the config (the first
    /// is the source of truth).
    pub targets: Vec<Target>,
    /// The service's change log, when it keeps one.
    pub changelog: Option<PathBuf>,
    /// The fixed pool settings written for it: `[pool]`, with the keys its
    /// own `[services.pool]` gives replaced.
    pub pool: PoolDefaults,
    /// How its connections reach the database.
    pub route: Route,
}

impl ServiceSettings {
    /// Pools of this service open at once: replicas × processes per replica
    /// (each at most [`limits::MAX_PROCESSES`], so the product fits easily).
    pub fn pools(&self) -> u64 {
        u64::from(self.replicas) * u64::from(self.processes_per_replica)
    }

    /// Its pools as the connection budget counts them.
    pub fn budget_pools(&self) -> ServicePools {
        ServicePools {
            count: self.pools(),
            route: self.route.clone(),
        }
    }
}

/// What can go wrong reading `poolcap.toml`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read config: {source}", path = .path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A syntax error, an unknown key, or a value of the wrong type.
    #[error("{}: {message}", Location { path, line: *line, column: *column })]
    Parse {
        /// The config file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A key whose value is well-typed but not allowed.
    #[error("{}: {key}: {message}", Location { path, line: *line, column: *column })]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// The key, as a path such as `services[1].replicas`.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

struct Location<'a> {
    path: &'a Path,
    line: Option<usize>,
    column: Option<usize>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Validates config text; `path` is used in messages only.
pub fn parse(path: &Path, text: &str) -> Result<Settings, ConfigError> {
    raw::parse(path, text, true)
}

/// A path from the config (or made from a `[defaults]` pattern), relative to
/// the config's folder.
pub fn resolve_path(config: &Path, path: &str) -> PathBuf {
    raw::resolve(config, path)
}

/// Settings for commands that need no services (`slowlog`): the file when it
/// exists; when it does not and `optional` is set (the default path was not
/// changed), every default.
pub fn load_optional(path: &Path, optional: bool) -> Result<Settings, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => raw::parse(path, &text, false),
        Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => raw::parse(path, "", false),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// 1-based (line, column) of a byte offset in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
