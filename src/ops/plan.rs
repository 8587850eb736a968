//! The month's plan, shared by `plan`, `review` and `apply`: the deployed
//! state, metrics (files or the store) → analysis → evidence → policy, the
//! budget's limits (config or live probe), the slow-query finding, and the
//! data gate that refuses to decide on thin data.

use crate::analyze::study::QueueingStudy;
use crate::analyze::{Analysis, AnalyzerSettings};
use crate::config::{self, Settings};
use crate::ingest::SeriesTable;
use crate::model::window::Month;
use crate::policy::outlook::{self, OUTLOOK_MONTHS, OutlookInputs, ServiceOutlook};
use crate::policy::{self, Plan};
use crate::support::notice::Notices;

use super::UsageError;
use super::metrics;
use super::slowlog;
use super::targets::{self, Deployed, PendingFile};
use crate::analyze::digest::DigestSettings;
use crate::analyze::fingerprint::Dialect;

/// What a plan is asked for (`--month`, `--metrics…`, `--slowlog…`, `--probe`,
/// `--accept-drift`).
#[derive(Debug, Clone, Default)]
pub struct PlanInputs {
    /// `YYYY-MM`, or `last` for the previous month in the policy's zone.
    pub month: String,
    /// The metric files (none: the history store).
    pub metrics: metrics::MetricFiles,
    /// Slow-query logs of the month.
    pub slowlog: Vec<std::path::PathBuf>,
    /// How to read them.
    pub slowlog_options: slowlog::LogOptions,
    /// A database URL whose live limits replace the configured budget.
    pub probe: Option<String>,
    /// PgBouncer's admin console, whose live limits replace `[pgbouncer]`'s.
    pub probe_pgbouncer: Option<String>,
    /// PgBouncer's `SHOW POOLS` snapshots of the month, for its server pools' decisions.
    pub pgbouncer_pools: Vec<std::path::PathBuf>,
    /// Take drifted fixed settings as intended.
    pub accept_drift: bool,
}

/// Everything a plan needs, for `plan` and (later) `review` and `apply`.
pub struct PlanOutcome {
    /// The reviewed month.
    pub month: Month,
    /// Months before it that were analysed, most recent first.
    pub earlier: Vec<Month>,
    /// How many of them the policy looks at (the plan's `history`).
    pub policy_months: usize,
    /// The decisions and budget.
    pub plan: Plan,
    /// The analysis behind them (window 0 is the reviewed month).
    pub analysis: Analysis,
    /// Series names.
    pub series: SeriesTable,
    /// Input counts.
    pub summary: metrics::InputSummary,
    /// Each service as deployed (from its targets or the config).
    pub deployed: Vec<Deployed>,
    /// The month's slow-query digest, when slow logs were given.
    pub slow: Option<slowlog::Digested>,
    /// Where the budget's limits came from (the config, or a live probe).
    pub budget_source: String,
    /// The budget's limits the plan used.
    pub database: crate::model::DatabaseBudget,
    /// Each service's queueing check, simulated (`None` without minutes of the month).
    pub queueing: Vec<Option<QueueingStudy>>,
    /// Each service's outlook: trends, crossings, the budget's steps.
    pub outlook: Vec<ServiceOutlook>,
    /// What the decision was made from (`plan.json`'s `provenance`).
    pub provenance: crate::model::provenance::Provenance,
}

impl PlanOutcome {
    /// The instances of service `k`, by name.
    pub fn instances_of(&self, k: usize) -> Vec<&crate::analyze::InstanceResult> {
        let mut instances: Vec<_> = self.analysis.instances.iter().filter(|i| i.service == k).collect();
        instances.sort_by(|a, b| {
            self.series
                .key(a.series)
                .instance
                .cmp(&self.series.key(b.series).instance)
        });
        instances
    }

    /// Every target file that must change for the recommendation, per service.
    pub fn pending_files(&self, settings: &Settings) -> anyhow::Result<Vec<Vec<PendingFile>>> {
        self.deployed
            .iter()
            .zip(&self.plan.decisions)
            .zip(&settings.services)
            .map(|((d, decision), service)| targets::pending_files(d, decision.recommended, &service.pool))
            .collect()
    }
}

/// Why the month's data cannot carry a decision, one sentence each: a
/// selected service without samples or below `min_coverage`, metrics of a
/// service the config does not define (with the nearest configured name).
pub fn data_gaps(settings: &Settings, outcome: &PlanOutcome, selected: &dyn Fn(&str) -> bool) -> Vec<String> {
    let month = outcome.month;
    let unknown = &outcome.summary.unknown_services;
    let mut gaps = Vec::new();
    for (k, service) in settings.services.iter().enumerate() {
        if !selected(&service.name) {
            continue;
        }
        let Some(stats) = outcome.analysis.services.get(k).and_then(|s| s.windows.first()) else {
            continue;
        };
        if stats.samples == 0 {
            let hint = match similar_name(&service.name, unknown.keys().map(String::as_str)) {
                Some(other) => format!("; the metrics have {other:?} — a misspelt service column?"),
                None => String::new(),
            };
            gaps.push(format!("service {:?} has no samples in {month}{hint}", service.name));
        } else if stats.coverage < settings.policy.min_coverage {
            gaps.push(format!(
                "service {:?} covers {:.1}% of {month}, below min_coverage {:.1}%",
                service.name,
                stats.coverage * 100.0,
                settings.policy.min_coverage * 100.0
            ));
        }
    }
    for (name, n) in unknown {
        let hint = match similar_name(name, settings.services.iter().map(|s| s.name.as_str())) {
            Some(other) => format!(" — did you mean {other:?}?"),
            None => String::new(),
        };
        gaps.push(format!(
            "{n} sample(s) of service {name:?}, which {} does not define{hint}",
            settings.path.display()
        ));
    }
    gaps
}

/// The name among `names` that equals `name` up to case and `-`/`_`.
pub fn similar_name<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let fold = |n: &str| n.to_lowercase().replace(['_', '-'], "");
    names.into_iter().find(|n| *n != name && fold(n) == fold(name))
}

/// `name` is a configured service, or a usage error listing them (with the
/// nearest spelling first when one differs only by case, `-` or `_`).
pub fn known_service(settings: &Settings, name: &str) -> Result<(), UsageError> {
    match unknown_service(settings, name) {
        Some(why) => Err(UsageError(format!("--service {why}"))),
        None => Ok(()),
    }
}

/// `None` when `name` is a configured service; else why not, as the end of a
/// sentence: `"x" is not a service of poolcap.toml; did you mean …? it defines …`.
pub fn unknown_service(settings: &Settings, name: &str) -> Option<String> {
    if settings.services.iter().any(|s| s.name == name) {
        return None;
    }
    let names: Vec<&str> = settings.services.iter().map(|s| s.name.as_str()).collect();
    let hint = match similar_name(name, names.iter().copied()) {
        Some(n) => format!("did you mean {n:?}? "),
        None => String::new(),
    };
    Some(format!(
        "{name:?} is not a service of {}; {hint}it defines {}",
        settings.path.display(),
        names.join(", ")
    ))
}

/// Parses `--month`.
pub fn parse_month(text: &str) -> Result<Month, UsageError> {
    text.parse::<Month>()
        .map_err(|m| UsageError(format!("--month: {m}, or `last` for the previous month")))
}

/// Parses `--month` where `last` may stand for the previous calendar month in
/// the configured zone (the month a monthly review is about).
pub fn parse_month_in(text: &str, tz: &jiff::tz::TimeZone) -> Result<Month, UsageError> {
    if text.eq_ignore_ascii_case("last") {
        let now = crate::support::clock::now().to_zoned_datetime(tz.clone());
        let this = Month {
            year: now.year(),
            month: now.month(),
        };
        return Ok(this.previous());
    }
    parse_month(text)
}

/// The month's slow-log digests as the store holds them (what `ingest
/// slowlog` stored), merged, for a plan read from the store without
/// `--slowlog`; recorded in the provenance's store record. `None` when none
/// are stored.
fn stored_slowlog(
    location: &str,
    month: Month,
    base: &DigestSettings,
    summary: &mut metrics::InputSummary,
    printer: &mut dyn Notices,
) -> anyhow::Result<Option<slowlog::Digested>> {
    let store = crate::store::Store::open_existing(location)?;
    let months = super::slow_review::from_store(&store, location, base, &[month])?;
    store.close();
    let Some(input) = months.into_iter().next().filter(|m| m.digest.is_some()) else {
        printer.detail(&format!(
            "no slow-log digest is stored for {month}: the plan has no slow-query finding (store one with `poolcap ingest slowlog FILE…`)"
        ));
        return Ok(None);
    };
    if let Some(record) = &mut summary.store {
        record.slowlog_digests = input
            .sources
            .iter()
            .map(|s| crate::model::provenance::StoredDigestRecord {
                period: month.to_string(),
                source: s.source.clone(),
                sha256: s.sha256.clone(),
                statements: s.statements,
            })
            .collect();
    }
    printer.note(&format!(
        "slow queries from the store's digests of {month} ({})",
        input
            .sources
            .iter()
            .map(|s| s.source.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(input.digest.map(|digest| slowlog::Digested {
        digest,
        files: Vec::new(),
        provenance: Vec::new(),
    }))
}

/// Loads config-driven inputs and decides (no output), with the queueing
/// check (`queueing`: `false` skips it).
pub fn compute(
    settings: &Settings,
    args: &PlanInputs,
    store: String,
    queueing: bool,
    printer: &mut dyn Notices,
) -> anyhow::Result<PlanOutcome> {
    let options = ComputeOptions {
        store: Some(store),
        queueing_sizes: if queueing {
            QueueingSizes::Chart
        } else {
            QueueingSizes::Skip
        },
        ..ComputeOptions::default()
    };
    compute_with(settings, args, &options, printer)
}

/// What a review needs beyond a plan.
#[derive(Debug, Clone, Default)]
pub struct ComputeOptions {
    /// Months before the reviewed one to analyse (at least the policy's).
    pub history_months: usize,
    /// Pixel columns of the reviewed month's utilization series, for charts.
    pub detail_columns: Option<usize>,
    /// The history store to read samples from when no metric file is given.
    pub store: Option<String>,
    /// The sizes the queueing check simulates.
    pub queueing_sizes: QueueingSizes,
    /// How it runs (`None`: the config's hours and seed).
    pub queueing_request: Option<super::queueing::CheckRequest>,
}

/// The sizes the queueing check simulates, besides current and recommended.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum QueueingSizes {
    /// The review chart's range ([`super::queueing::chart_sizes`]): `plan`
    /// and `review` simulate the same sizes, so their `plan.json` agree.
    #[default]
    Chart,
    /// No queueing check at all (`apply`, `doctor`: it never changes a
    /// recommendation, and costs a simulation).
    Skip,
    /// These pool_sizes (max_overflow by the policy's factor).
    Given(Vec<u32>),
}

/// [`compute`] with more history and chart detail.
pub fn compute_with(
    settings: &Settings,
    args: &PlanInputs,
    options: &ComputeOptions,
    printer: &mut dyn Notices,
) -> anyhow::Result<PlanOutcome> {
    let month = parse_month_in(&args.month, &settings.policy.timezone)?;
    if let Some(name) = &args.metrics.service {
        known_service(settings, name)?;
    }
    // Read the deployed state first: a bad target file fails before any metric is read.
    let mut deployed = targets::read_all(settings)?;
    if args.accept_drift {
        for d in &mut deployed {
            targets::accept_drift(&mut d.findings);
        }
    }
    let tz = &settings.policy.timezone;
    let policy_months = settings.policy.overprovisioned_months.saturating_sub(1) as usize;
    // The outlook fits the reviewed month and OUTLOOK_MONTHS − 1 before it, in
    // `plan` as in `review` (which analyses more for its trend chart).
    let months_back = policy_months.max(OUTLOOK_MONTHS - 1).max(options.history_months);
    let mut earlier = Vec::with_capacity(months_back);
    let mut m = month;
    for _ in 0..months_back {
        m = m.previous();
        earlier.push(m);
    }
    let mut windows = vec![month.window(tz)];
    windows.extend(earlier.iter().map(|m| m.window(tz)));
    let request = options
        .queueing_request
        .clone()
        .unwrap_or_else(|| super::queueing::CheckRequest::from_settings(settings));
    let analyzer = AnalyzerSettings {
        episode_window: windows[0],
        windows,
        alerts: settings.alerts.clone(),
        sustained_utilization: settings.policy.sustained_utilization,
        sustained_for: settings.policy.sustained_for,
        max_gap: settings.policy.max_gap,
        reorder_window: settings.policy.reorder_window,
        service_pools: deployed.iter().map(|d| d.current).collect(),
        overflow_factor: settings.policy.overflow_factor,
        // The reviewed month's minutes feed the queueing check's simulation.
        minutes: (options.queueing_sizes != QueueingSizes::Skip).then(|| (month.window(tz), request.hours)),
        // Chart detail for the review only.
        detail: options
            .detail_columns
            .map(|columns| crate::analyze::DetailSettings::new(columns, month.window(tz), tz)),
    };
    let loaded = if args.metrics.from_store() {
        let Some(store) = &options.store else {
            return Err(UsageError("give metric files with --metrics, or a history store with --store".into()).into());
        };
        metrics::load_from_store(store, settings, analyzer, printer)?
    } else {
        metrics::load(&args.metrics, settings, analyzer, printer)?
    };
    let current: Vec<_> = deployed.iter().map(|d| d.current).collect();
    let evidence = policy::evidence::evidence(settings, &current, &loaded.analysis, &loaded.series);
    let pools: Vec<_> = settings
        .services
        .iter()
        .map(config::ServiceSettings::budget_pools)
        .collect();
    // The budget's limits: the live server's when --probe is given, else the config's.
    let (mut database, mut budget_source) = match &args.probe {
        Some(url) => {
            let live = super::probe::probe_url(url, 60.0)?;
            let db = super::probe::budget_from(&live, &settings.database);
            let source = format!("probe of {}", crate::support::redact_urls(url));
            printer.note(&format!(
                "budget limits from the live server ({source}): max_connections {}, superuser_reserved {}, reserved {}",
                db.max_connections, db.superuser_reserved_connections, db.reserved_connections
            ));
            (db, source)
        }
        None => (
            settings.database.clone(),
            format!("{} [database]", settings.path.display()),
        ),
    };
    // PgBouncer's limits: its live console's with --probe-pgbouncer.
    let live_bouncer = match (&args.probe_pgbouncer, &settings.database.bouncer) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(UsageError(format!(
                "--probe-pgbouncer: {} has no [pgbouncer] table, so no service goes through PgBouncer; add one (an empty [pgbouncer] will do: every service then goes through it unless it says via = \"direct\")",
                settings.path.display()
            ))
            .into());
        }
        (Some(url), Some(configured)) => {
            let live = super::probe::probe_pgbouncer(url)?;
            let source = format!("probe of {}", crate::support::redact_urls(url));
            let bouncer = super::probe::bouncer_from(&live, configured, &source);
            printer.note(&format!(
                "PgBouncer limits from its console ({source}): pool_mode {}, max_client_conn {}, default_pool_size {}, reserve_pool_size {}",
                bouncer.pool_mode.name(),
                bouncer.max_client_conn,
                bouncer.default_pool_size,
                bouncer.reserve_pool_size
            ));
            budget_source = format!("{budget_source}; PgBouncer: {source}");
            database.bouncer = Some(bouncer);
            Some((live, source))
        }
    };
    let shared = targets::shared_targets(settings);
    let mut plan = policy::plan(&evidence, &pools, &settings.policy, &database, &shared);
    if let Some((live, source)) = &live_bouncer {
        for (service, finding) in policy::waiting_findings(&plan.budget, &live.pools, source) {
            if let Some(d) = plan.decisions.iter_mut().find(|d| d.service == service) {
                d.findings.push(finding);
            }
        }
    }
    if !args.pgbouncer_pools.is_empty() {
        if database.bouncer.is_none() {
            return Err(UsageError(format!(
                "--pgbouncer-pools: {} has no [pgbouncer] table to size the server pools against; add one (ini = \"…/pgbouncer.ini\", or its limits)",
                settings.path.display()
            ))
            .into());
        }
        let stats = super::pgbouncer::pool_stats(&args.pgbouncer_pools, month.window(tz), &settings.policy)?;
        plan.pgbouncer_pools = policy::pool_decisions(stats, &database, &pools, &plan.decisions, &settings.policy);
    }
    for (decision, d) in plan.decisions.iter_mut().zip(&deployed) {
        decision.findings.extend(d.findings.iter().cloned());
    }
    let month_window = month.window(tz);
    let base = DigestSettings {
        dialect: Dialect::Postgres,
        threshold_ms: settings.policy.slow_query_seconds * 1000.0,
        timezone: tz.clone(),
        since_ms: Some(month_window.start * 1000),
        until_ms: Some(month_window.end * 1000),
        keep_samples: false,
    };
    let mut loaded = loaded;
    let slow = if !args.slowlog.is_empty() {
        Some(slowlog::digest_files(
            &args.slowlog,
            &args.slowlog_options,
            settings,
            &base,
            slowlog::threads(None),
            slowlog::FileDigests::Take,
        )?)
    } else if let (true, Some(location)) = (args.metrics.from_store(), &options.store) {
        stored_slowlog(location, month, &base, &mut loaded.summary, printer)?
    } else {
        None
    };
    let slow = if let Some(digested) = slow {
        if let Some(finding) = policy::evidence::slow_query_finding(&digested.digest, &settings.policy) {
            for decision in &mut plan.decisions {
                decision.findings.push(finding.clone());
            }
        }
        Some(digested)
    } else {
        None
    };
    let hold = super::queueing::hold_time(slow.as_ref().map(|d| &d.digest), settings);
    let mut asks = Vec::with_capacity(plan.decisions.len());
    for (k, decision) in plan.decisions.iter().enumerate() {
        let (current, recommended) = (decision.current, decision.recommended);
        let mut sizes = match &options.queueing_sizes {
            QueueingSizes::Skip => continue,
            QueueingSizes::Chart => super::queueing::chart_sizes(settings, current, recommended),
            QueueingSizes::Given(list) => list
                .iter()
                .map(|&pool_size| crate::model::PoolSize {
                    pool_size,
                    max_overflow: crate::model::ceil_times(pool_size, settings.policy.overflow_factor),
                })
                .collect(),
        };
        sizes.extend([current, recommended]);
        sizes.sort_by_key(|s| (s.pool_size, s.max_overflow));
        sizes.dedup();
        asks.push(super::queueing::CheckAsk {
            service: k,
            current,
            recommended,
            sizes,
        });
    }
    // Every service's simulation at once: a fleet's blocks share the cores.
    let checks = super::queueing::check_services(settings, &loaded.analysis, &loaded.series, &hold, &request, &asks);
    let mut queueing: Vec<Option<QueueingStudy>> = vec![None; plan.decisions.len()];
    for (ask, check) in asks.iter().zip(checks) {
        let decision = &mut plan.decisions[ask.service];
        queueing[ask.service] = check.map(|mut q| {
            q.disagreement = policy::evidence::queueing_disagreement(&q, decision);
            decision.findings.push(policy::evidence::queueing_finding(&q));
            q
        });
    }
    let outlook = (0..plan.decisions.len())
        .map(|k| {
            let inputs = OutlookInputs {
                month,
                windows: &loaded.analysis.services[k].windows,
                recommended: plan.decisions[k].recommended.pool_size,
                measured_pool_size: evidence[k].observed_pool_size,
                headroom: policy::headroom(
                    &database,
                    &pools,
                    &plan.decisions,
                    k,
                    settings.policy.overflow_factor,
                    settings.services[k].max_pool_size,
                ),
            };
            outlook::outlook(&inputs, &settings.policy, &settings.alerts)
        })
        .collect();
    let provenance = super::provenance::provenance(
        settings,
        super::provenance::request(args, &month.to_string()),
        &loaded.summary,
        slow.as_ref(),
        &deployed,
    );
    Ok(PlanOutcome {
        provenance,
        queueing,
        outlook,
        month,
        earlier,
        policy_months,
        plan,
        analysis: loaded.analysis,
        series: loaded.series,
        summary: loaded.summary,
        deployed,
        slow,
        budget_source,
        database,
    })
}
