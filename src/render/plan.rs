//! The plan as JSON (a schema pinned by tests) and as a table for people.
//!
//! Instants are RFC 3339 in the configured time zone; ratios are rounded to six
//! decimals so that output is byte-stable.

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::Settings;
use crate::model::PoolSize;
use crate::model::format_duration;
use crate::model::stats::{WindowStats, round6};
use crate::model::window::{Window, format_instant};
use crate::ops::plan::PlanOutcome;
use crate::policy::outlook::{Outlook, ServiceOutlook, Trend};
use crate::policy::{Budget, Code, Effect, Finding};

use super::Printer;

/// `plan --format json`.
#[derive(Debug, Serialize)]
pub struct PlanReport {
    /// `YYYY-MM`.
    pub month: String,
    /// IANA zone months are taken in.
    pub timezone: String,
    /// The month as instants.
    pub window: WindowJson,
    /// Input counts.
    pub inputs: InputsJson,
    /// One per configured service.
    pub services: Vec<ServiceJson>,
    /// The connection budget on the recommendation.
    pub budget: Budget,
    /// Where the budget's limits came from: the config or a live probe.
    pub budget_source: String,
    /// PgBouncer's server pools decided from their snapshots (left out without them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pgbouncer_pools: Vec<crate::policy::PoolDecision>,
    /// Whether a guard blocks the plan.
    pub blocked: bool,
    /// What the decision was made from: version, config, policy, alert
    /// rules, each input with its digest (docs/verify.md).
    pub provenance: crate::model::provenance::Provenance,
}

/// A window as instants.
#[derive(Debug, Serialize)]
pub struct WindowJson {
    /// First instant inside.
    pub start: String,
    /// First instant after.
    pub end: String,
}

/// Input counts.
#[derive(Debug, Serialize)]
pub struct InputsJson {
    /// Files read.
    pub files: Vec<String>,
    /// Data rows read.
    pub rows: u64,
    /// Samples used.
    pub samples: u64,
    /// Rows rejected (only non-zero under `--lenient`).
    pub rejected: u64,
}

/// One instance of a service.
#[derive(Debug, Serialize)]
pub struct InstanceJson {
    /// Instance name.
    pub instance: String,
    /// `max_gap` used, seconds.
    pub max_gap_seconds: i64,
    /// Its statistics for the month.
    pub stats: WindowStats,
}

/// An earlier month's headline numbers.
#[derive(Debug, Serialize)]
pub struct HistoryJson {
    /// `YYYY-MM`.
    pub month: String,
    /// Mean utilization.
    pub mean_utilization: f64,
    /// p95.
    pub p95_utilization: f64,
    /// Coverage.
    pub coverage: f64,
}

/// One service's decision and evidence.
#[derive(Debug, Serialize)]
pub struct ServiceJson {
    /// Name.
    pub service: String,
    /// As deployed.
    pub current: PoolSize,
    /// As recommended.
    pub recommended: PoolSize,
    /// Whether the recommendation differs.
    pub changes: bool,
    /// The finding that set the recommendation.
    pub deciding: Option<Code>,
    /// Service-level statistics for the month.
    pub stats: WindowStats,
    /// Per instance.
    pub instances: Vec<InstanceJson>,
    /// Earlier months seen by the policy, most recent first.
    pub history: Vec<HistoryJson>,
    /// Findings in rule order.
    pub findings: Vec<Finding>,
    /// Fired alert episodes overlapping the month.
    pub alerts: Vec<super::alerts::EpisodeRow>,
    /// The largest `pool_size` this service can take within the connection
    /// budget, every other service at its recommended size (and its own
    /// `max_pool_size`); `null` when not even 1 fits.
    pub headroom: Option<u32>,
    /// Trends of mean and p95 with their crossings and the budget's steps
    /// (`null` with fewer than three months of data: see `outlook_reason`).
    pub outlook: Option<Outlook>,
    /// Why there is no outlook (`null` when there is one).
    pub outlook_reason: Option<String>,
    /// What the data decided about the service itself (absent when the
    /// config wrote it all out): found in the metrics, replicas counted there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_data: Option<FromDataJson>,
}

/// A service the metrics had a say in (`[discovery]`, `replicas = "seen"`).
#[derive(Debug, Serialize)]
pub struct FromDataJson {
    /// Found in the metrics and made from `[defaults]`.
    pub discovered: bool,
    /// Its replicas, when counted from the pools seen reporting at once.
    pub replicas_seen: Option<u32>,
}

impl PlanReport {
    /// The report `plan` prints: with `--service`, only that service (the
    /// budget still counts every one).
    pub fn for_plan(settings: &Settings, outcome: &PlanOutcome) -> Self {
        let mut report = PlanReport::new(settings, outcome);
        if let Some(only) = &outcome.provenance.request.service {
            report.services.retain(|s| s.service == *only);
        }
        report
    }

    /// Its text as `plan --format json` prints it and a review writes it
    /// (`plan.json`).
    pub fn to_json(&self) -> anyhow::Result<String> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }

    /// SHA-256 of [`PlanReport::to_json`]: the plan's digest a change-log entry names.
    pub fn sha256(&self) -> anyhow::Result<String> {
        Ok(crate::support::digest::sha256_hex(self.to_json()?.as_bytes()))
    }

    /// Assembles the report.
    pub fn new(settings: &Settings, outcome: &PlanOutcome) -> Self {
        let tz = &settings.policy.timezone;
        let window: Window = outcome.month.window(tz);
        let db = &outcome.database;
        let pools: Vec<_> = settings
            .services
            .iter()
            .map(crate::config::ServiceSettings::budget_pools)
            .collect();
        let services = settings
            .services
            .iter()
            .enumerate()
            .map(|(k, service)| {
                let decision = &outcome.plan.decisions[k];
                let headroom = crate::policy::headroom(
                    db,
                    &pools,
                    &outcome.plan.decisions,
                    k,
                    settings.policy.overflow_factor,
                    service.max_pool_size,
                );
                let windows = &outcome.analysis.services[k].windows;
                let instances = outcome.instances_of(k);
                let mut alerts: Vec<super::alerts::EpisodeRow> = instances
                    .iter()
                    .flat_map(|i| {
                        let key = outcome.series.key(i.series);
                        i.alerts
                            .iter()
                            .map(move |a| super::alerts::EpisodeRow::new(settings, key, a, tz))
                    })
                    .collect();
                super::alerts::EpisodeRow::sort(&mut alerts);
                ServiceJson {
                    service: service.name.clone(),
                    current: decision.current,
                    recommended: decision.recommended,
                    changes: decision.changes(),
                    deciding: decision.deciding,
                    stats: windows[0].clone(),
                    instances: instances
                        .iter()
                        .map(|i| InstanceJson {
                            instance: outcome.series.key(i.series).instance.clone(),
                            max_gap_seconds: i.max_gap,
                            stats: i.windows[0].clone(),
                        })
                        .collect(),
                    history: outcome
                        .earlier
                        .iter()
                        .take(outcome.policy_months)
                        .zip(&windows[1..])
                        .map(|(m, w)| HistoryJson {
                            month: m.to_string(),
                            mean_utilization: round6(w.mean_utilization),
                            p95_utilization: round6(w.p95_utilization),
                            coverage: round6(w.coverage),
                        })
                        .collect(),
                    findings: decision.findings.clone(),
                    alerts,
                    headroom,
                    outlook: outcome.outlook[k].outlook.clone(),
                    outlook_reason: outcome.outlook[k].reason.clone(),
                    from_data: (service.discovered || service.replicas_seen).then(|| FromDataJson {
                        discovered: service.discovered,
                        replicas_seen: service.replicas_seen.then_some(service.replicas),
                    }),
                }
            })
            .collect();
        PlanReport {
            month: outcome.month.to_string(),
            timezone: settings.policy.timezone_name.clone(),
            window: WindowJson {
                start: format_instant(window.start, tz),
                end: format_instant(window.end, tz),
            },
            inputs: InputsJson {
                files: outcome
                    .summary
                    .files
                    .iter()
                    .map(|(p, _)| p.display().to_string())
                    .collect(),
                rows: outcome.summary.rows(),
                samples: outcome.summary.samples,
                rejected: outcome.summary.diagnostics.rejected(),
            },
            services,
            budget: outcome.plan.budget.clone(),
            budget_source: outcome.budget_source.clone(),
            pgbouncer_pools: outcome.plan.pgbouncer_pools.clone(),
            blocked: outcome.plan.blocked(),
            provenance: outcome.provenance.clone(),
        }
    }
}

/// A finding's effect as one mark in the text table.
fn mark(effect: Effect) -> &'static str {
    match effect {
        Effect::Raise => "↑",
        Effect::Block => "✗",
        Effect::Limit => "⊤",
        Effect::Advisory => "!",
        Effect::Info => "·",
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// One trend in words: `mean +10.9 pts/month, crosses 60.0% in 2027-01`.
fn trend_words(name: &str, t: &Trend, last: &str) -> String {
    let slope = format!("{name} {:+.1} pts/month", t.slope_per_month * 100.0);
    let Some(threshold) = t.threshold else {
        return format!("{slope} (no threshold: {})", t.threshold_source);
    };
    let label = if name == "p95" {
        format!("{} (warning)", pct(threshold))
    } else {
        pct(threshold)
    };
    match (&t.crosses, t.above_now) {
        (_, true) => format!("{slope}, already above {label}"),
        (Some(m), false) => format!("{slope}, crosses {label} in {m}"),
        (None, false) => format!("{slope}, stays at or under {label} through {last}"),
    }
}

/// A service's outlook in one line (the plan table, the review's reports):
/// `mean +10.9 pts/month, already above 60.0%; p95 …; budget takes 1 more
/// step of 5 (to 30); exhausted by the step due in 2027-01`.
pub fn outlook_line(o: &ServiceOutlook) -> String {
    let Some(o) = &o.outlook else {
        return format!("no outlook: {}", o.reason.as_deref().unwrap_or("no data"));
    };
    let last = o.mean.projection.last().map_or("", |p| p.month.as_str());
    let b = &o.budget;
    let steps = match b.steps_left {
        0 => "budget takes no more step".to_string(),
        n => format!(
            "budget takes {n} more step{} of {} (to {})",
            if n == 1 { "" } else { "s" },
            b.step,
            b.pool_size.saturating_add(n.saturating_mul(b.step))
        ),
    };
    let due = match (&b.exhausted, b.step_months.len()) {
        (Some(m), _) => format!("; exhausted by the step due in {m}"),
        (None, 0) => format!("; none due through {last}"),
        (None, n) => format!(", enough for the {n} due through {last}"),
    };
    format!(
        "{}; {}; {steps}{due}",
        trend_words("mean", &o.mean, last),
        trend_words("p95", &o.p95, last)
    )
}

/// Rows as columns two spaces apart, each as wide as its widest cell.
pub(crate) fn pad(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// More services than this make a fleet: the table starts with a summary
/// and shows only the services with something to say (`plan --all`: every one).
pub const FLEET_ROWS: usize = 20;

/// Whether a service has something to say beyond "keep": a change, a finding
/// that is more than information, or too little data.
fn noteworthy(s: &ServiceJson) -> bool {
    s.changes || s.stats.samples == 0 || s.findings.iter().any(|f| f.effect != Effect::Info)
}

/// The budget's sum: every service's pools × size for a few services; a
/// fleet's would fill the screen, so its pools and services are counted instead.
fn budget_sum(report: &PlanReport, fleet: bool) -> String {
    let b = &report.budget;
    if !fleet {
        return b.arithmetic();
    }
    let direct: Vec<_> = b
        .services
        .iter()
        .filter(|l| l.route == crate::model::bouncer::Route::Direct)
        .collect();
    let pools: u64 = direct.iter().map(|l| l.pools).sum();
    let other = if b.database.other_clients > 0 {
        format!(" + {} other clients", b.database.other_clients)
    } else {
        String::new()
    };
    let server = b.pgbouncer.as_ref().map_or_else(String::new, |p| {
        format!(" + {} PgBouncer server connections", p.server_connections)
    });
    format!("{pools} pools of {} services{server}{other}", direct.len())
}

/// The plan for people. With more than [`FLEET_ROWS`] services and not
/// `all`: a summary line, then only the [`noteworthy`] services.
pub fn table(report: &PlanReport, printer: &Printer, all: bool) -> String {
    let mut out = String::new();
    let fleet = !all && report.services.len() > FLEET_ROWS;
    let shown: Vec<&ServiceJson> = report.services.iter().filter(|s| !fleet || noteworthy(s)).collect();
    let source = match &report.provenance.prometheus {
        Some(p) => format!("Prometheus at {}", p.server),
        None => format!("{} file(s)", report.inputs.files.len()),
    };
    let _ = writeln!(
        out,
        "poolcap plan — {} ({}), {} sample(s) from {source}\n",
        report.month, report.timezone, report.inputs.samples,
    );
    if fleet {
        let count = |f: &dyn Fn(&ServiceJson) -> bool| report.services.iter().filter(|s| f(s)).count();
        let changes = count(&|s| s.changes);
        let thin = count(&|s| s.stats.samples == 0 || s.findings.iter().any(|f| f.code == Code::InsufficientData));
        let blocked = count(&|s| s.findings.iter().any(|f| f.effect == Effect::Block));
        let _ = writeln!(
            out,
            "{} services: {changes} to change, {blocked} blocked, {thin} with insufficient data, {} with nothing to report (listed with --all); budget {}\n",
            report.services.len(),
            report.services.len() - shown.len(),
            if report.budget.ok {
                printer.paint("ok", "32")
            } else {
                printer.paint("BLOCKED", "31;1")
            },
        );
    }
    let mut rows = vec![
        [
            "SERVICE",
            "CURRENT",
            "RECOMMENDED",
            "MEAN",
            "P95",
            "MAX",
            "COVERAGE",
            "DECISION",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for s in &shown {
        let drifted = s.findings.iter().any(|f| f.code == Code::SettingDrift);
        let decision = match (s.changes, s.deciding) {
            (true, Some(code)) => printer.paint(&format!("increase ({})", code.as_str()), "33;1"),
            (true, None) => printer.paint("increase", "33;1"),
            (false, _) if drifted => printer.paint("update settings", "33"),
            (false, _) => "keep".to_string(),
        };
        // A month without a sample has no mean: say so rather than print 0.0 %.
        let stat = |v: f64| {
            if s.stats.samples == 0 {
                "no data".to_string()
            } else {
                pct(v)
            }
        };
        rows.push(vec![
            s.service.clone(),
            format!("{} + {}", s.current.pool_size, s.current.max_overflow),
            format!("{} + {}", s.recommended.pool_size, s.recommended.max_overflow),
            stat(s.stats.mean_utilization),
            stat(s.stats.p95_utilization),
            stat(s.stats.max_utilization),
            pct(s.stats.coverage),
            decision,
        ]);
    }
    if rows.len() > 1 {
        out.push_str(&pad(&rows));
    }
    for s in &shown {
        if s.findings.is_empty() && s.alerts.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}", s.service);
        for f in &s.findings {
            let _ = writeln!(out, "  {} {:<19} {}", mark(f.effect), f.code.as_str(), f.message);
        }
        if !s.alerts.is_empty() {
            let mut counts = std::collections::BTreeMap::<&str, usize>::new();
            for a in &s.alerts {
                *counts.entry(a.rule.as_str()).or_default() += 1;
            }
            let summary: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
            let longest = s.alerts.iter().max_by_key(|a| a.duration_seconds).expect("non-empty");
            let _ = writeln!(
                out,
                "  alerts replayed: {} (longest: {} episode on {} from {}, {}, peak {})",
                summary.join(", "),
                longest.rule,
                longest.instance,
                longest.start,
                format_duration(longest.duration_seconds),
                pct(longest.peak_utilization)
            );
        }
    }
    let b = &report.budget;

    if !report.pgbouncer_pools.is_empty() {
        let _ = writeln!(out, "\nPgBouncer server pools (SHOW POOLS snapshots):");
        let _ = writeln!(
            out,
            "{:<28} {:>9} {:>11} {:>6} {:>7} {:>9} {:>9}  DECISION",
            "POOL", "POOL_SIZE", "RECOMMENDED", "MEAN", "PEAK", "WAITING", "COVERAGE"
        );
        for p in &report.pgbouncer_pools {
            let _ = writeln!(
                out,
                "{:<28} {:>9} {:>11} {:>6} {:>7} {:>8}s {:>9}  {}",
                format!("{}/{}", p.database, p.user),
                format!("{} + {}", p.current, p.reserve),
                p.recommended,
                pct(p.mean_utilization),
                p.stats.peak_demand,
                p.stats.waiting_seconds,
                pct(p.stats.coverage),
                if p.findings.iter().any(|f| f.effect == Effect::Block) {
                    "blocked"
                } else if p.changes() {
                    "increase"
                } else {
                    "keep"
                }
            );
            for f in &p.findings {
                let _ = writeln!(out, "  {} {:<19} {}", mark(f.effect), f.code.as_str(), f.message);
            }
        }
    }
    let verdict = |ok: bool| {
        if ok {
            printer.paint("ok", "32")
        } else {
            printer.paint("BLOCKED", "31;1")
        }
    };
    let arithmetic = budget_sum(report, fleet);
    let _ = writeln!(
        out,
        "\nbudget: {} = {} of {} connections ({} max − {} superuser − {} reserved − {} headroom): {verdict}",
        arithmetic,
        b.required,
        b.limit,
        b.database.max_connections,
        b.database.superuser_reserved_connections,
        b.database.reserved_connections,
        b.database.headroom,
        verdict = verdict(b.database_ok()),
    );
    if let (Some(p), Some(sentence)) = (&b.pgbouncer, b.client_sentence()) {
        let _ = writeln!(out, "PgBouncer clients: {sentence}: {}", verdict(p.clients_ok));
        if p.pool_mode != crate::model::bouncer::PoolMode::Session {
            let _ = writeln!(
                out,
                "  behind PgBouncer in {} mode a pool's utilization counts client slots at PgBouncer; PostgreSQL sees the server pools",
                p.pool_mode.name()
            );
        }
    }
    let room: Vec<String> = shown
        .iter()
        .map(|s| match s.headroom {
            Some(p) => format!("{} {p}", s.service),
            None => format!("{} none", s.service),
        })
        .collect();
    if shown.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "headroom: the largest pool_size within the budget, the others as recommended: {}",
        room.join(", ")
    );
    let _ = writeln!(
        out,
        "\noutlook: least-squares trend of the covered months among the last {}, 80% prediction intervals in plan.json",
        crate::policy::outlook::OUTLOOK_MONTHS
    );
    let mut rows: Vec<Vec<String>> = Vec::new();
    for s in &shown {
        let o = ServiceOutlook {
            outlook: s.outlook.clone(),
            reason: s.outlook_reason.clone(),
        };
        let fitted = s
            .outlook
            .as_ref()
            .map_or(String::new(), |o| format!("({} months)", o.months.len()));
        rows.push(vec![format!("  {}", s.service), fitted, outlook_line(&o)]);
    }
    if !rows.is_empty() {
        out.push_str(&pad(&rows));
    }
    out
}

/// A short Markdown summary of the plan for a CI job summary or a
/// merge-request comment: the month, each service's decision, the budget and
/// what the gate (`--check`) made of it, `outcome` (e.g. "changes to make (exit 3)").
pub fn summary(report: &PlanReport, outcome: &str) -> String {
    use crate::support::markdown::text_escape;
    let mut out = String::new();
    let _ = writeln!(out, "### poolcap plan {}: {outcome}\n", report.month);
    // A fleet's summary lists the services with something to say, as the table does.
    let fleet = report.services.len() > FLEET_ROWS;
    let shown: Vec<&ServiceJson> = report.services.iter().filter(|s| !fleet || noteworthy(s)).collect();
    if fleet {
        let _ = writeln!(
            out,
            "{} services, {} listed (a change, a finding or too little data); the others keep their pools.\n",
            report.services.len(),
            shown.len()
        );
    }
    let _ = writeln!(out, "| service | current | recommended | decision |");
    let _ = writeln!(out, "|---|---|---|---|");
    for s in shown {
        let decision = match (s.changes, s.deciding) {
            (true, Some(code)) => format!("change ({})", code.as_str()),
            (true, None) => "change".to_string(),
            (false, _) => "keep".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} + {} | {} + {} | {} |",
            text_escape(&s.service),
            s.current.pool_size,
            s.current.max_overflow,
            s.recommended.pool_size,
            s.recommended.max_overflow,
            decision
        );
    }
    let _ = writeln!(
        out,
        "\nConnection budget ({}): {} = {} of {} connections — {}.\n",
        text_escape(&report.budget_source),
        text_escape(&budget_sum(report, fleet)),
        report.budget.required,
        report.budget.limit,
        if report.budget.database_ok() {
            "ok"
        } else {
            "**over the budget**"
        }
    );
    if let (Some(p), Some(sentence)) = (&report.budget.pgbouncer, report.budget.client_sentence()) {
        let _ = writeln!(
            out,
            "PgBouncer clients: {} — {}.\n",
            text_escape(&sentence),
            if p.clients_ok { "ok" } else { "**over the limit**" }
        );
    }
    out
}
