//! Command-line definitions (clap derive). No logic lives here: each subcommand's
//! arguments are plain data handed to `crate::commands`, and the argument
//! groups the operations share become their request structs here
//! ([`MetricsArgs::files`], [`SlowlogInputs::options`], [`PlanInputs::request`]).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ingest::MetricFormat;

/// Connection-pool capacity planning for SQLAlchemy QueuePool backends on PostgreSQL.
///
/// poolcap reads what the pools did, applies the capacity policy of the
/// hazard card "Database connection pool exhaustion", and explains its decision.
#[derive(Debug, Parser)]
#[command(name = "poolcap", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The config file.
    #[arg(
        long,
        global = true,
        env = "POOLCAP_CONFIG",
        default_value = "poolcap.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// Output format on stdout.
    #[arg(long, global = true, env = "POOLCAP_FORMAT", value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// When to use colour on a terminal (NO_COLOR is respected under `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// More detail on stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// History store: a postgres:// URL or a SQLite file (default: poolcap.db beside the config).
    #[arg(
        long,
        global = true,
        env = "POOLCAP_STORE",
        value_name = "URL|FILE",
        hide_env_values = true
    )]
    pub store: Option<String>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// JSON for machines (schema pinned by tests).
    Json,
    /// CSV rows (`slowlog` only).
    Csv,
}

pub use crate::render::ColorChoice;

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decide each service's pool size for a month from its metrics.
    Plan(PlanArgs),
    /// The monthly review: a report folder with charts, HTML, Markdown and plan.json.
    Review(ReviewArgs),
    /// Write the month's decision into the services' target files and change log.
    Apply(ApplyArgs),
    /// Incident path: resize one service's pool now, without metrics.
    Override(OverrideArgs),
    /// Replay the alert rules over metric history: every episode, per rule and instance.
    Alerts(AlertsArgs),
    /// Files for the monitoring stack: Prometheus alert rules, a Grafana dashboard.
    Export(ExportArgs),
    /// Digest PostgreSQL or MySQL/MariaDB slow-query logs by query fingerprint.
    Slowlog(SlowlogArgs),
    /// Read a live database's connection limits and what is connected now.
    Probe(ProbeArgs),
    /// Simulate SQLAlchemy's QueuePool on the measured month (--month) or a synthetic workload: timeouts, waits, connections per pool size.
    Simulate(SimulateArgs),
    /// Run the hazard card's testing controls (load, exhaustion, stress, recycle) against a staging database.
    Loadtest(LoadtestArgs),
    /// Store metrics in the history store (idempotent, one transaction per file).
    Ingest(IngestArgs),
    /// List the decisions and applied changes recorded in the history store, newest first.
    History(HistoryArgs),
    /// Write the sample deployment or large benchmark inputs.
    Generate(GenerateArgs),
    /// Write a commented poolcap.toml from the target files a service already has.
    Init(InitArgs),
    /// Check a deployment: config, target files, metric names, store; one line per check.
    Doctor(DoctorArgs),
    /// Check a recorded decision (review folder, plan.json, change-log entry): its inputs' digests, then the decision recomputed.
    Verify(VerifyArgs),
    /// Write the evidence of each hazard-card control for a month or quarter: evidence.md, evidence.json, index.html and the files they cite, each with its digest and status.
    Evidence(EvidenceArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Write man pages: poolcap.1 and one per subcommand (poolcap-plan.1, …).
    Man(ManArgs),
}

/// `poolcap init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the config.
    #[arg(long, value_name = "FILE", default_value = "poolcap.toml")]
    pub out: PathBuf,
    /// A dotenv target file (keys DB_POOL_SIZE, DB_MAX_OVERFLOW, …); `SERVICE=FILE`
    /// gives it to that --service (default: the first service).
    #[arg(long = "env", value_name = "FILE")]
    pub env: Vec<String>,
    /// A TOML target file and the dotted table holding pool_size, max_overflow, …
    /// (`deploy/worker.toml:database.pool`); `SERVICE=FILE[:PREFIX]` as for --env.
    #[arg(long = "toml", value_name = "FILE[:PREFIX]")]
    pub toml: Vec<String>,
    /// A YAML target file (ConfigMap, Helm values) and the dotted mapping holding
    /// DB_POOL_SIZE, … (`deploy/values.yaml:backend.env`); `SERVICE=FILE:PREFIX` as for --env.
    #[arg(long = "yaml", value_name = "FILE:PREFIX")]
    pub yaml: Vec<String>,
    /// A service to define, in order (default: one named after the first file's stem).
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// Take [database] max_connections and the reserved connections from this
    /// live server (postgres:// or mysql://) instead of PostgreSQL's defaults.
    #[arg(long, env = "POOLCAP_PROBE_URL", value_name = "URL", hide_env_values = true)]
    pub probe: Option<String>,
    /// Replace the file when it exists.
    #[arg(long)]
    pub force: bool,
}

/// `poolcap verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A review folder, a plan.json, or (with --entry) a change log.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// The change-log entry to verify: its id (the `poolcap:id` comment above
    /// it) or the start of one.
    #[arg(long, value_name = "ID")]
    pub entry: Option<String>,
    /// The live server a decision made with --probe took its budget from.
    #[arg(long, env = "POOLCAP_PROBE_URL", value_name = "URL", hide_env_values = true)]
    pub probe: Option<String>,
}

/// `poolcap evidence` (docs/evidence.md).
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// The month the pack covers, YYYY-MM.
    #[arg(
        long,
        value_name = "YYYY-MM",
        required_unless_present = "quarter",
        conflicts_with = "quarter"
    )]
    pub month: Option<String>,
    /// The quarter the pack covers, YYYY-Qn.
    #[arg(long, value_name = "YYYY-Qn")]
    pub quarter: Option<String>,
    /// Output folder (default: evidence-PERIOD).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Metric files (none: the history store).
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// Slow-query logs covering the period's quarter (none: the store's digests).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub slowlog: Vec<PathBuf>,
    /// Format, prefix, zone of the slow logs.
    #[command(flatten)]
    pub slowlog_inputs: SlowlogInputs,
}

/// `poolcap doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The month whose samples are checked, YYYY-MM or `last`.
    #[arg(long, value_name = "YYYY-MM", default_value = "last")]
    pub month: String,
    /// Metric files to check against the config (default: the history store, when there is one).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub metrics: Vec<PathBuf>,
}

/// `poolcap completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `poolcap man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Folder to write the pages to (made when missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
}

/// `poolcap alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Metric inputs (without them: the history store).
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// Only episodes still running at or after this instant (RFC 3339, or YYYY-MM-DD in policy.timezone).
    #[arg(long, value_name = "WHEN")]
    pub from: Option<String>,
    /// Only episodes that started before this instant (default: all the data).
    #[arg(long, value_name = "WHEN")]
    pub to: Option<String>,
}

/// Where metrics come from.
#[derive(Debug, Args, Clone)]
pub struct MetricsArgs {
    /// Metric files: CSV, JSON lines of /api/metrics bodies, Prometheus
    /// query_range results or pool.status() logs, plain or gzip, told apart by
    /// content (see docs/inputs.md); without them, samples come from the
    /// history store (--store).
    #[arg(long, num_args = 1.., value_name = "FILE", conflicts_with = "prometheus")]
    pub metrics: Vec<PathBuf>,
    /// Read every metrics file in this format instead of telling it by content.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = MetricFormat::Auto)]
    pub metrics_format: MetricFormat,
    /// Service name for inputs that do not name one.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Skip bad rows (counted and reported) instead of failing the run.
    #[arg(long)]
    pub lenient: bool,
    /// The most distinct service/instance pairs to read (each costs about
    /// 2.3 KB of memory); more fails the run before memory runs out.
    #[arg(long, value_name = "N", env = "POOLCAP_MAX_SERIES", default_value_t = crate::ingest::DEFAULT_MAX_SERIES)]
    pub max_series: usize,
    /// Where to read the pool metrics from instead.
    #[command(flatten)]
    pub prometheus: PrometheusArgs,
}

/// A Prometheus server as the metrics source (docs/prometheus.md).
#[derive(Debug, Args, Clone)]
pub struct PrometheusArgs {
    /// Read the pool metrics from this Prometheus server (or Thanos, Mimir,
    /// VictoriaMetrics) instead of files: http(s)://[user:password@]host[:port][/prefix].
    /// Default: POOLCAP_PROMETHEUS_URL when no metric file is given. A bearer
    /// token is read from POOLCAP_PROMETHEUS_TOKEN.
    #[arg(help_heading = "Prometheus", long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Seconds between the points read (Prometheus' query step), e.g. 15s or 1m.
    #[arg(help_heading = "Prometheus", long, value_name = "DURATION", default_value = "60s", value_parser = parse_step, requires = "prometheus")]
    pub step: i64,
    /// A file holding the bearer token (instead of POOLCAP_PROMETHEUS_TOKEN).
    #[arg(help_heading = "Prometheus", long, value_name = "FILE", requires = "prometheus")]
    pub prometheus_token_file: Option<PathBuf>,
    /// A PEM file of the CA(s) that signed the server's certificate.
    #[arg(help_heading = "Prometheus", long, value_name = "FILE", requires = "prometheus")]
    pub prometheus_ca: Option<PathBuf>,
    /// An extra header for every request, e.g. "X-Scope-OrgID: clinical" (repeatable).
    #[arg(
        help_heading = "Prometheus",
        long = "prometheus-header",
        value_name = "NAME: VALUE",
        requires = "prometheus"
    )]
    pub prometheus_headers: Vec<String>,
    /// Queries in flight at once.
    #[arg(help_heading = "Prometheus", long, value_name = "N", default_value_t = crate::ops::prometheus::DEFAULT_CONCURRENCY, value_parser = parse_concurrency)]
    pub prometheus_concurrency: usize,
    /// The most points one query may return (all its series together).
    #[arg(help_heading = "Prometheus", long, value_name = "N", default_value_t = crate::ops::prometheus::DEFAULT_POINTS, value_parser = clap::value_parser!(i64).range(1..))]
    pub prometheus_points: i64,
    /// The longest one request may take, e.g. 2m.
    #[arg(help_heading = "Prometheus", long, value_name = "DURATION", default_value = "2m", value_parser = parse_step)]
    pub prometheus_timeout: i64,
}

/// Queries in flight: 1 to 64.
fn parse_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 1 to 64".into()),
    }
}

/// A positive duration in whole seconds ("15s", "1m").
fn parse_step(text: &str) -> Result<i64, String> {
    match crate::model::parse_duration(text)? {
        0 => Err("must be at least 1s".into()),
        s => Ok(s),
    }
}

impl PrometheusArgs {
    /// The server as the operations take it, when one is given:
    /// `--prometheus`, else POOLCAP_PROMETHEUS_URL unless metric files are
    /// (`files_given`), which then win over the environment.
    pub fn source(&self, files_given: bool) -> Option<crate::ops::prometheus::Source> {
        let from_env = || {
            std::env::var("POOLCAP_PROMETHEUS_URL")
                .ok()
                .filter(|u| !u.is_empty() && !files_given)
        };
        let url = self.prometheus.clone().or_else(from_env)?;
        Some(crate::ops::prometheus::Source {
            client: crate::ingest::prometheus_api::ClientOptions {
                url,
                token: std::env::var("POOLCAP_PROMETHEUS_TOKEN").ok().filter(|t| !t.is_empty()),
                token_file: self.prometheus_token_file.clone(),
                ca_file: self.prometheus_ca.clone(),
                headers: self.prometheus_headers.clone(),
                timeout: std::time::Duration::from_secs(self.prometheus_timeout as u64),
                retries: 3,
            },
            step: self.step,
            concurrency: self.prometheus_concurrency,
            points: self.prometheus_points,
        })
    }
}

/// `poolcap plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Metrics and month.
    #[command(flatten)]
    pub inputs: PlanInputs,
    /// Exit 3 when a target file (or, without targets, a recommendation) would
    /// change, 4 when a guard blocks, 5 when the month's data is too thin to
    /// decide on.
    #[arg(long)]
    pub check: bool,
    /// With --check: do not fail (exit 5) on services without samples, below
    /// min_coverage, or metrics of services the config does not define.
    #[arg(long, requires = "check")]
    pub allow_missing_data: bool,
    /// Append a short Markdown summary (the month, each service's decision, the
    /// budget and the gate's outcome) to FILE, e.g. "$GITHUB_STEP_SUMMARY" or a
    /// file a merge-request comment is made from.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Print every service's row, findings and outlook; without it a fleet of
    /// more than 20 services prints a summary, then only the services with
    /// something to say (a change, a finding, too little data).
    #[arg(long)]
    pub all: bool,
}

/// What a plan is computed from.
#[derive(Debug, Args, Clone)]
pub struct PlanInputs {
    /// Metric inputs.
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// The month to review, YYYY-MM, in the configured time zone, or `last`
    /// for the previous calendar month there.
    #[arg(long, value_name = "YYYY-MM")]
    pub month: String,
    /// Database slow-query logs of the month (PostgreSQL or MySQL/MariaDB), for
    /// the `slow-queries` finding.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub slowlog: Vec<PathBuf>,
    /// How to read the slow logs.
    #[command(flatten)]
    pub slowlog_inputs: SlowlogInputs,
    /// Take the budget's limits from this live database (postgres:// or mysql://).
    #[arg(long, env = "POOLCAP_PROBE_URL", value_name = "URL", hide_env_values = true)]
    pub probe: Option<String>,
    /// Take PgBouncer's limits from its live admin console
    /// (postgres://USER@HOST:6432/pgbouncer) instead of [pgbouncer], and
    /// report its server pools where clients wait.
    #[arg(long, env = "POOLCAP_PGBOUNCER_URL", value_name = "URL", hide_env_values = true)]
    pub probe_pgbouncer: Option<String>,
    /// PgBouncer's SHOW POOLS snapshots of the month (CSV or JSON lines, as
    /// `probe --pgbouncer URL --record FILE` writes them): each server pool's
    /// busy share and waiting clients, and its pool_size under the policy.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub pgbouncer_pools: Vec<PathBuf>,
    /// Let a fixed setting that differs tenfold or more from the config be
    /// rewritten (a `setting-drift` of that size blocks the plan otherwise:
    /// it is a unit mismatch far more often than a decision).
    #[arg(long)]
    pub accept_drift: bool,
}

/// Who and why, for change-log entries.
#[derive(Debug, Args, Clone)]
pub struct ChangeArgs {
    /// Author of the change-log entry (default: `git config user.name`, else $USER).
    #[arg(long, env = "POOLCAP_AUTHOR", value_name = "NAME")]
    pub author: Option<String>,
    /// Ticket id recorded in the entry.
    #[arg(long, value_name = "ID")]
    pub ticket: Option<String>,
    /// Write even though the plan breaks the connection budget (needs --reason).
    #[arg(long, requires = "reason")]
    pub allow_over_budget: bool,
    /// Show a unified diff of every file that would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for another poolcap run holding the lock.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub lock_timeout: String,
    /// Write target files even when their mode makes them read-only.
    #[arg(long)]
    pub force: bool,
}

/// `poolcap apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Metrics and month.
    #[command(flatten)]
    pub inputs: PlanInputs,
    /// Who, ticket, dry run, budget override.
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Why the budget guard is overridden (with --allow-over-budget).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// `poolcap override`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("size").required(true).args(["bump", "to"])))]
pub struct OverrideArgs {
    /// The service to resize.
    pub service: String,
    /// Add one escalation step (policy.escalate_step) to the current pool_size.
    #[arg(long)]
    pub bump: bool,
    /// Set pool_size to N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub to: Option<u32>,
    /// Why (recorded in the change log).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Incident id (recorded in the change log and its entry id).
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,
    /// Write a separate env override file instead of the service's targets.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Let a fixed setting that differs tenfold or more from the config be
    /// rewritten (see `plan --accept-drift`).
    #[arg(long)]
    pub accept_drift: bool,
    /// Who, ticket, dry run, budget override.
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// `poolcap export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to write.
    #[command(subcommand)]
    pub what: ExportWhat,
}

/// What `export` writes.
// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// A Prometheus rules file for the configured alert rules (`promtool check rules` clean).
    PrometheusRules {
        /// Write here (atomically) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A Grafana dashboard (JSON, schemaVersion 39) for the pool metrics and alerts.
    Grafana {
        /// Write here (atomically) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A `promtool test rules` file: input series from metric history, expected
    /// alerts from poolcap's replay of it (see docs/monitoring.md).
    PromtoolTests {
        /// Metric inputs (required here).
        #[command(flatten)]
        metrics: MetricsArgs,
        /// One test per instance covering this span, checked every minute
        /// (RFC 3339, or YYYY-MM-DD in policy.timezone); without --from/--to,
        /// tests around every fired episode and the closest misses.
        #[arg(long, value_name = "WHEN", requires = "to")]
        from: Option<String>,
        /// End of the span (see --from).
        #[arg(long, value_name = "WHEN", requires = "from")]
        to: Option<String>,
        /// The rules file the tests load, relative to the test file.
        #[arg(long, value_name = "PATH", default_value = "poolcap-rules.yml")]
        rules: String,
        /// Write here (atomically) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `poolcap generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to write.
    #[command(subcommand)]
    pub what: GenerateWhat,
}

/// What `generate` writes.
#[derive(Debug, Subcommand)]
pub enum GenerateWhat {
    /// The sample deployment of `data/`: config and three months of metrics.
    Sample {
        /// Output directory.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// A slow-query log of the sample workload (benchmark inputs: --size 1G).
    Slowlog {
        /// Output file (`.gz` suffix: gzip).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Which database's log to write.
        #[arg(long, value_enum, default_value_t = GeneratedLog::Postgres)]
        dialect: GeneratedLog,
        /// Approximate size (uncompressed): 200K, 50M, 1G.
        #[arg(long, default_value = "50M")]
        size: String,
        /// Random seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// A large single-month CSV for benchmarks.
    Bench {
        /// Output file (`.gz` suffix: gzip).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Number of instances (one service, `backend`).
        #[arg(long, default_value_t = 50)]
        instances: u32,
        /// Sample interval.
        #[arg(long, default_value = "15s")]
        interval: String,
        /// Month to cover, YYYY-MM (UTC).
        #[arg(long, default_value = "2026-10")]
        month: String,
        /// Timestamp style of the `ts` column.
        #[arg(long, value_enum, default_value_t = TimestampStyle::Rfc3339)]
        timestamps: TimestampStyle,
        /// Random seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

/// Which slow-log format `generate slowlog` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GeneratedLog {
    /// PostgreSQL stderr, log_line_prefix '%m [%p] %q%u@%d '.
    Postgres,
    /// MariaDB slow query log.
    Mariadb,
}

/// How generated files write `ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimestampStyle {
    /// `2026-10-01T08:00:02Z`.
    Rfc3339,
    /// `1790841602`.
    Unix,
}

/// Slow-log inputs (shared by `slowlog` and `plan`).
#[derive(Debug, Args, Clone, Default)]
pub struct SlowlogInputs {
    /// `log_line_prefix` of PostgreSQL stderr logs (default: detected from the log).
    #[arg(long, value_name = "PREFIX")]
    pub log_line_prefix: Option<String>,
    /// Log format (default: detected from the content).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<LogFormat>,
    /// Zone for log timestamps with abbreviated zone names (default: policy.timezone).
    #[arg(long, value_name = "ZONE")]
    pub log_timezone: Option<String>,
}

pub use crate::ingest::slowlog::reader::LogFormat;

/// `poolcap slowlog`.
#[derive(Debug, Args)]
pub struct SlowlogArgs {
    /// Log files, plain or gzip (with --quarter, none: the history store's digests).
    #[arg(required_unless_present = "quarter", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The quarterly slow-query review of YYYY-Qn: shapes over the threshold by month, the connections they held, what is new since the quarter before (docs/slowlogs.md).
    #[arg(long, value_name = "YYYY-Qn", conflicts_with_all = ["since", "until", "show_samples"])]
    pub quarter: Option<String>,
    /// Format, prefix, zone.
    #[command(flatten)]
    pub inputs: SlowlogInputs,
    /// Slow-review threshold in seconds (default: policy.slow_query_seconds, 5).
    #[arg(long, value_name = "SECONDS")]
    pub threshold: Option<f64>,
    /// Only statements ending at or after this instant (RFC 3339, or YYYY-MM-DD in policy.timezone).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only statements ending before this instant.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Fingerprints to list (by total time).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// Show the slowest raw statement and its parameters per fingerprint (may hold patient data).
    #[arg(long)]
    pub show_samples: bool,
    /// Threads (default: the machine's cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// `poolcap review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Metrics, month and slow logs.
    #[command(flatten)]
    pub inputs: PlanInputs,
    /// Output folder (default: review-YYYY-MM).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A site's own template folder (report.html.j2, report.md.j2).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Show the slowest raw statement per fingerprint (may hold patient data).
    #[arg(long)]
    pub show_samples: bool,
}

/// `poolcap probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The database (postgres://user@host/db or mysql://user@host/db); the password is never printed.
    #[arg(
        long,
        env = "POOLCAP_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true,
        required_unless_present = "pgbouncer"
    )]
    pub database_url: Option<String>,
    /// PgBouncer's admin console (postgres://USER@HOST:6432/pgbouncer; USER in
    /// its admin_users or stats_users): its limits, and each server pool's
    /// clients, waiting clients and server connections.
    #[arg(long, env = "POOLCAP_PGBOUNCER_URL", value_name = "URL", hide_env_values = true)]
    pub pgbouncer: Option<String>,
    /// With --pgbouncer: append a SHOW POOLS snapshot to FILE (CSV, the
    /// input of `plan --pgbouncer-pools`) every --every, until --count
    /// snapshots or Ctrl-C; each snapshot is written whole.
    #[arg(long, value_name = "FILE", requires = "pgbouncer")]
    pub record: Option<PathBuf>,
    /// With --record: the time between snapshots.
    #[arg(long, value_name = "DURATION", default_value = "10s", requires = "record")]
    pub every: String,
    /// With --record: stop after this many snapshots (default: until Ctrl-C).
    #[arg(long, value_name = "N", requires = "record")]
    pub count: Option<u64>,
    /// Report sessions idle in a transaction at least this long.
    #[arg(long, default_value = "1m", value_name = "DURATION")]
    pub idle_threshold: String,
}

/// `poolcap loadtest` (docs/loadtest.md).
#[derive(Debug, Args)]
pub struct LoadtestArgs {
    /// The staging database (postgres://user@host/DB or mysql://user@host/DB, the database named); the password is never printed.
    #[arg(long, env = "POOLCAP_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: String,
    /// The service whose pool to test (with the config): its recommendation for --month, or its deployed size with --current.
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// With --service: the month whose recommendation is tested, YYYY-MM or `last`.
    #[arg(long, value_name = "YYYY-MM", default_value = "last")]
    pub month: String,
    /// With --service: test the deployed size instead of the recommendation.
    #[arg(long, requires = "service")]
    pub current: bool,
    /// The pool_size to test (instead of a service's).
    #[arg(long, value_name = "N", conflicts_with_all = ["service", "current"])]
    pub pool_size: Option<u32>,
    /// The max_overflow to test, with --pool-size.
    #[arg(long, value_name = "N", requires = "pool_size")]
    pub max_overflow: Option<u32>,
    /// pool_timeout, e.g. 30s or 1.5s (default: the service's, else 30s).
    #[arg(long, value_name = "DURATION")]
    pub pool_timeout: Option<String>,
    /// pool_recycle, e.g. 1h or 5s (default: the service's, else 1h); the recycle scenario shortens one above 60 s to 5 s.
    #[arg(long, value_name = "DURATION")]
    pub pool_recycle: Option<String>,
    /// Statement timeout set on every connection, e.g. 30s; 0s for none (default: the service's, else 30s).
    #[arg(long, value_name = "DURATION")]
    pub statement_timeout: Option<String>,
    /// pool_pre_ping on or off (default: the service's, else off as in SQLAlchemy; the recycle scenario always pings).
    #[arg(long, value_name = "BOOL")]
    pub pre_ping: Option<bool>,
    /// Which scenario.
    #[arg(long, value_enum, default_value_t = LoadtestScenario::All)]
    pub scenario: LoadtestScenario,
    /// Load: concurrent users (closed loop).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub users: u32,
    /// Exhaustion: long transactions held past pool_timeout (default: pool_size + max_overflow + 5, the card's 35 for 20 + 10).
    #[arg(long, value_name = "N")]
    pub long_transactions: Option<u32>,
    /// Stress: arrivals per second (Poisson).
    #[arg(long, value_name = "PER_SECOND", default_value_t = 100.0)]
    pub rate: f64,
    /// Load and stress: how long, e.g. 60s or 10m.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub duration: String,
    /// The longest any scenario may take.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub max_duration: String,
    /// Hold per checkout: a duration (fixed, e.g. 50ms) or exp:SECONDS, fixed:SECONDS, lognormal:SECONDS:SIGMA.
    #[arg(
        long,
        value_name = "HOLD",
        default_value = "50ms",
        conflicts_with = "hold_from_slowlog"
    )]
    pub hold: String,
    /// Holds drawn from the statement times of these slow-query logs.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub hold_from_slowlog: Vec<PathBuf>,
    /// How to read the slow logs.
    #[command(flatten)]
    pub slowlog_inputs: SlowlogInputs,
    /// Run these read-only statements (a file, separated by ;) in each checkout instead of the sleep.
    #[arg(long, value_name = "FILE.sql")]
    pub workload: Option<PathBuf>,
    /// Write the report (JSON and Markdown) into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of the holds and arrivals.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
}

/// The scenarios of `poolcap loadtest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoadtestScenario {
    /// --users workers, each checkout → statement → return, for --duration.
    Load,
    /// --long-transactions held past pool_timeout, checkouts while exhausted, then after; a statement past the statement timeout.
    Exhaustion,
    /// Poisson arrivals at --rate for --duration.
    Stress,
    /// pool_recycle and pre-ping: reused, recycled, and a session the server ended.
    Recycle,
    /// All four, in that order.
    All,
}

/// `poolcap simulate` (synthetic mode; docs/simulate.md).
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// From data: the month whose busiest hours are replayed, YYYY-MM (or `last`).
    #[arg(long, value_name = "YYYY-MM", conflicts_with_all = ["arrivals", "hold"])]
    pub month: Option<String>,
    /// From data: metric inputs (without --metrics: the history store).
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// From data: slow-query logs of the month, whose statement times become the hold times.
    #[arg(long, num_args = 1.., value_name = "FILE", requires = "month")]
    pub slowlog: Vec<PathBuf>,
    /// How to read the slow logs.
    #[command(flatten)]
    pub slowlog_inputs: SlowlogInputs,
    /// From data: pool sizes to try: FROM..TO (in steps of policy.escalate_step), FROM..TO:STEP or a list N,M,…; current and recommended are always tried.
    #[arg(long, value_name = "SIZES", requires = "month")]
    pub pool_sizes: Option<String>,
    /// From data: which instance-hours: busiest:N (of each service) or all (default: policy.simulate_hours, busiest:24).
    #[arg(long, value_name = "busiest:N|all", requires = "month")]
    pub hours: Option<String>,
    /// Synthetic: arrivals, poisson:RATE (RATE checkouts per second).
    #[arg(long, value_name = "poisson:RATE", required_unless_present = "month", requires_all = ["hold", "pool_size"])]
    pub arrivals: Option<String>,
    /// Synthetic: hold time of each checkout: exp:SECONDS, fixed:SECONDS or lognormal:SECONDS:SIGMA (mean; σ of its log).
    #[arg(long, value_name = "DIST", requires = "arrivals")]
    pub hold: Option<String>,
    /// Synthetic: QueuePool pool_size.
    #[arg(long, value_name = "N", requires = "arrivals")]
    pub pool_size: Option<u32>,
    /// Synthetic: QueuePool max_overflow.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "arrivals")]
    pub max_overflow: u32,
    /// Synthetic: QueuePool pool_timeout, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, requires = "arrivals")]
    pub pool_timeout: f64,
    /// Synthetic: time to open a new connection, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0.0, requires = "arrivals")]
    pub connect_ms: f64,
    /// Synthetic: QueuePool pool_recycle, seconds (default: never).
    #[arg(long, value_name = "SECONDS", requires = "arrivals")]
    pub pool_recycle: Option<f64>,
    /// Synthetic: seconds to simulate.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600.0, requires = "arrivals")]
    pub duration: f64,
    /// Random seed: the same seed gives the same result on every machine
    /// (default: 1; from data: policy.simulation_seed).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// `poolcap history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this service.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Only from this month on: decisions for it, changes dated in it or later.
    #[arg(long, value_name = "YYYY-MM")]
    pub since: Option<String>,
    /// Only up to this month, inclusive.
    #[arg(long, value_name = "YYYY-MM")]
    pub until: Option<String>,
    /// What to list.
    #[arg(long, value_enum, default_value_t = HistoryKind::All)]
    pub kind: HistoryKind,
}

/// What `history` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryKind {
    /// The monthly decisions `review` recorded.
    Decisions,
    /// The changes `apply` and `override` wrote.
    Changes,
    /// Both.
    All,
}

/// `poolcap ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// What to store.
    #[command(subcommand)]
    pub what: IngestWhat,
}

/// What `ingest` stores.
#[derive(Debug, Subcommand)]
pub enum IngestWhat {
    /// Pool metrics (any metrics input, plain or gzip; names and zones from --config when it exists).
    Metrics {
        /// Metric files.
        #[arg(conflicts_with = "prometheus", value_name = "FILE")]
        files: Vec<PathBuf>,
        /// With --prometheus: the month to read, YYYY-MM in the policy's time
        /// zone, or `last` for the previous calendar month.
        #[arg(long, value_name = "YYYY-MM", requires = "prometheus")]
        month: Option<String>,
        /// Read the samples from a Prometheus server.
        #[command(flatten)]
        prometheus: PrometheusArgs,
        /// Read every file in this format instead of telling it by content.
        #[arg(long, value_enum, value_name = "FORMAT", default_value_t = MetricFormat::Auto)]
        input_format: MetricFormat,
        /// Service name for inputs that do not name one.
        #[arg(long, value_name = "NAME")]
        service: Option<String>,
        /// Skip bad rows (counted and reported) instead of storing nothing of the file.
        #[arg(long)]
        lenient: bool,
        /// The most distinct service/instance pairs one file may bring.
        #[arg(long, value_name = "N", env = "POOLCAP_MAX_SERIES", default_value_t = crate::ingest::DEFAULT_MAX_SERIES)]
        max_series: usize,
    },
    /// Slow-query logs: one digest per file and calendar month of its statements.
    Slowlog {
        /// Log files (PostgreSQL or MySQL/MariaDB, plain or gzip).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Format, prefix, zone.
        #[command(flatten)]
        inputs: SlowlogInputs,
    },
}

impl MetricsArgs {
    /// The metric files as the operations take them.
    pub fn files(&self) -> crate::ops::metrics::MetricFiles {
        crate::ops::metrics::MetricFiles {
            files: self.metrics.clone(),
            format: self.metrics_format,
            service: self.service.clone(),
            lenient: self.lenient,
            max_series: self.max_series,
            prometheus: self.prometheus.source(!self.metrics.is_empty()),
        }
    }
}

impl SlowlogInputs {
    /// How to read the slow logs, as the operations take it.
    pub fn options(&self) -> crate::ops::slowlog::LogOptions {
        crate::ops::slowlog::LogOptions {
            log_line_prefix: self.log_line_prefix.clone(),
            format: self.input_format,
            log_timezone: self.log_timezone.clone(),
        }
    }
}

impl PlanInputs {
    /// The plan's inputs as the operations take them.
    pub fn request(&self) -> crate::ops::plan::PlanInputs {
        crate::ops::plan::PlanInputs {
            month: self.month.clone(),
            metrics: self.metrics.files(),
            slowlog: self.slowlog.clone(),
            slowlog_options: self.slowlog_inputs.options(),
            probe: self.probe.clone(),
            probe_pgbouncer: self.probe_pgbouncer.clone(),
            pgbouncer_pools: self.pgbouncer_pools.clone(),
            accept_drift: self.accept_drift,
        }
    }
}
