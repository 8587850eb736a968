//! `poolcap evidence`: one row per control of the hazard card
//! (`../shared/seed/hazard-db-pool-exhaustion.md`, docs/evidence.md) for a
//! month or a quarter, each with a status — met, not met, missing — a
//! sentence with the numbers behind it, and the names of the evidence files
//! the command writes beside it. This module gathers what the rows stand on
//! (the months' decisions, the quarterly slow-query review, the load tests
//! the store holds, the change-log entries, the promtool run) and judges
//! each row; the files themselves are rendered and digested by the command.
//! A control poolcap cannot see is a row with status `missing` and what to
//! attach, never left out.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::analyze::slow_review::QuarterReview;
use crate::config::{Setting, Settings};
use crate::model::window::{Month, Quarter};
use crate::policy::Code;
use crate::write::changelog;

use super::plan::PlanOutcome;
use super::targets::Deployed;

/// The period a pack covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One month.
    Month(Month),
    /// One quarter.
    Quarter(Quarter),
}

impl Period {
    /// Its months, in order.
    pub fn months(self) -> Vec<Month> {
        match self {
            Period::Month(m) => vec![m],
            Period::Quarter(q) => q.months().to_vec(),
        }
    }

    /// The quarter it falls in (the slow-query review's).
    pub fn quarter(self) -> Quarter {
        match self {
            Period::Month(m) => Quarter::of(m),
            Period::Quarter(q) => q,
        }
    }

    /// From the start of its first month to the end of its last, in `tz`.
    pub fn window(self, tz: &jiff::tz::TimeZone) -> crate::model::window::Window {
        match self {
            Period::Month(m) => m.window(tz),
            Period::Quarter(q) => q.window(tz),
        }
    }

    /// `YYYY-MM` or `YYYY-Qn`.
    pub fn label(self) -> String {
        match self {
            Period::Month(m) => m.to_string(),
            Period::Quarter(q) => q.to_string(),
        }
    }

    /// Whether the date `YYYY-MM-DD…` falls in the period.
    pub fn holds_date(self, date: &str) -> bool {
        date.get(..7)
            .and_then(|m| m.parse::<Month>().ok())
            .is_some_and(|m| self.months().contains(&m))
    }
}

/// A row's status, in order from best to worst (a row is the worst of its
/// parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The evidence shows the control in place and working.
    Met,
    /// There is no evidence (poolcap cannot see it, or none was recorded).
    Missing,
    /// Evidence is there and shows the control not met.
    NotMet,
}

impl Status {
    /// As written in the pack.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "not met",
            Status::Missing => "missing",
        }
    }

    /// The worse of two: not met, then missing, then met.
    fn worst(self, other: Status) -> Status {
        self.max(other)
    }
}

/// An evidence file of a row: its path in the pack, and once written, its
/// digest and size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceFile {
    /// Relative to the pack's folder.
    pub path: String,
    /// SHA-256 of its bytes (filled in when written).
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
}

/// One control of the hazard card.
#[derive(Debug, Clone, Serialize)]
pub struct ControlRow {
    /// Stable id.
    pub id: &'static str,
    /// The card's heading: design, testing, training, business process.
    pub group: &'static str,
    /// The control, in the card's words (shortened).
    pub control: &'static str,
    /// Met, not met or missing.
    pub status: Status,
    /// Why, with the numbers.
    pub summary: String,
    /// Per month, service or record.
    pub details: Vec<String>,
    /// The files it stands on.
    pub evidence: Vec<EvidenceFile>,
    /// The date of the evidence, YYYY-MM-DD: the newest record it names, or
    /// the pack's date for evidence computed now.
    pub date: String,
}

/// A change-log entry in the period.
#[derive(Debug, Clone)]
pub struct LoggedChange {
    /// The change log.
    pub log: String,
    /// The entry.
    pub entry: changelog::LoggedEntry,
}

/// A load test the store holds for a service and month of the period.
#[derive(Debug, Clone)]
pub struct StoredLoadtest {
    /// The service.
    pub service: String,
    /// The month it was recorded for.
    pub month: String,
    /// Its report (`loadtest --format json`).
    pub report: serde_json::Value,
    /// Its file in the pack.
    pub file: String,
}

/// What `promtool test rules` said of the exported rules and test cases.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum PromtoolRun {
    /// Exit 0.
    Passed {
        /// Its output.
        output: String,
    },
    /// Any other exit.
    Failed {
        /// Its output.
        output: String,
    },
    /// Not run, and why (not installed; no metric files for test cases).
    NotRun {
        /// Why.
        why: String,
    },
}

/// Everything the rows are judged on.
pub struct Gathered<'a> {
    /// The config.
    pub settings: &'a Settings,
    /// The period.
    pub period: Period,
    /// The pack's date, YYYY-MM-DD.
    pub today: String,
    /// Each month's decision, or why there is none.
    pub plans: Vec<(Month, Result<PlanOutcome, String>)>,
    /// The services as deployed now.
    pub deployed: Vec<Deployed>,
    /// The slow-query review of the period's quarter, or why there is none.
    pub slow: Result<QuarterReview, String>,
    /// The load tests in the period.
    pub loadtests: Vec<StoredLoadtest>,
    /// Why load tests could not be read (no store), if so.
    pub loadtests_unread: Option<String>,
    /// Change-log entries dated in the period, per service that keeps a log;
    /// services without one are listed in `no_changelog`.
    pub changes: Vec<LoggedChange>,
    /// Services that keep no change log.
    pub no_changelog: Vec<String>,
    /// The promtool run.
    pub promtool: PromtoolRun,
}

/// The evidence file names the rows refer to (the command writes them).
pub mod files {
    /// The deployed settings of every service.
    pub const DEPLOYED: &str = "configuration/deployed.json";
    /// The folder of the alerting evidence.
    pub const ALERTING: &str = "alerting";
    /// The exported rules' file name (the test cases load it by this name).
    pub const RULES_NAME: &str = "poolcap-rules.yml";
    /// The test cases' file name.
    pub const PROMTOOL_TESTS_NAME: &str = "promtool-tests.yml";
    /// The exported alert rules.
    pub const RULES: &str = "alerting/poolcap-rules.yml";
    /// The promtool test cases replayed from the metrics.
    pub const PROMTOOL_TESTS: &str = "alerting/promtool-tests.yml";
    /// What promtool printed.
    pub const PROMTOOL_OUTPUT: &str = "alerting/promtool-test-rules.txt";
    /// The period's review entries.
    pub const REVIEW_ENTRIES: &str = "capacity/change-log-entries.md";
    /// The period's override entries.
    pub const OVERRIDE_ENTRIES: &str = "incident-response/override-entries.md";
    /// The slow-query review.
    pub const SLOW_MD: &str = "slow-queries/review.md";
    /// The slow-query review's JSON.
    pub const SLOW_JSON: &str = "slow-queries/review.json";

    /// A month's plan.
    pub fn plan(month: &str) -> String {
        format!("capacity/{month}/plan.json")
    }
}

fn file(path: impl Into<String>) -> EvidenceFile {
    EvidenceFile {
        path: path.into(),
        sha256: String::new(),
        bytes: 0,
    }
}

fn row(id: &'static str, group: &'static str, control: &'static str, today: &str) -> ControlRow {
    ControlRow {
        id,
        group,
        control,
        status: Status::Met,
        summary: String::new(),
        details: Vec::new(),
        evidence: Vec::new(),
        date: today.to_string(),
    }
}

fn missing(mut r: ControlRow, why: &str) -> ControlRow {
    r.status = Status::Missing;
    r.summary = why.to_string();
    r
}

fn plan_files(g: &Gathered<'_>) -> Vec<EvidenceFile> {
    g.plans
        .iter()
        .filter(|(_, p)| p.is_ok())
        .map(|(m, _)| file(files::plan(&m.to_string())))
        .collect()
}

fn number(values: &BTreeMap<Setting, String>, s: Setting) -> Option<f64> {
    values
        .get(&s)
        .and_then(|v| v.trim().trim_matches(['"', '\'']).parse::<f64>().ok())
}

fn truthy(values: &BTreeMap<Setting, String>, s: Setting) -> Option<bool> {
    values.get(&s).map(|v| {
        matches!(
            v.trim().trim_matches(['"', '\'']).to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on"
        )
    })
}

/// A design control judged per service on its deployed settings: `check`
/// gives `Ok(line)` when met, `Err(line)` when not.
fn per_service(
    g: &Gathered<'_>,
    mut r: ControlRow,
    met: &str,
    check: impl Fn(&BTreeMap<Setting, String>) -> Result<String, String>,
) -> ControlRow {
    r.evidence.push(file(files::DEPLOYED));
    let mut failed = 0;
    for (service, d) in g.settings.services.iter().zip(&g.deployed) {
        let line = match check(&d.values) {
            Ok(line) => line,
            Err(line) => {
                failed += 1;
                line
            }
        };
        let source = if d.files.is_empty() {
            "no target file: the config's [services.pool]".to_string()
        } else {
            d.files
                .iter()
                .map(|f| f.target.path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        r.details.push(format!("{}: {line} ({source})", service.name));
    }
    if failed > 0 {
        r.status = Status::NotMet;
        r.summary = format!("{failed} of {} service(s) do not deploy it", g.deployed.len());
    } else {
        r.summary = met.to_string();
    }
    r
}

fn pool_configuration(g: &Gathered<'_>) -> ControlRow {
    let r = row(
        "pool-configuration",
        "design",
        "Configure the pool with production limits (pool_size, max_overflow, pool_timeout, pool_recycle)",
        &g.today,
    );
    per_service(g, r, "every service deploys explicit pool limits", |v| {
        let keys = [
            Setting::PoolSize,
            Setting::MaxOverflow,
            Setting::PoolTimeout,
            Setting::PoolRecycle,
        ];
        let shown: Vec<String> = keys
            .iter()
            .map(|k| format!("{} = {}", k.name(), v.get(k).map_or("not set", String::as_str)))
            .collect();
        let absent: Vec<&str> = keys.iter().filter(|k| !v.contains_key(k)).map(|k| k.name()).collect();
        if absent.is_empty() {
            Ok(shown.join(", "))
        } else {
            Err(format!(
                "{} not set in a deployed file ({})",
                absent.join(", "),
                shown.join(", ")
            ))
        }
    })
}

fn connection_cleanup(g: &Gathered<'_>) -> ControlRow {
    let r = row(
        "connection-cleanup",
        "design",
        "Automatic connection cleanup: pool_pre_ping = True, pool_recycle = 3600",
        &g.today,
    );
    per_service(
        g,
        r,
        "every service pings before use and recycles within an hour",
        |v| {
            let ping = truthy(v, Setting::PoolPrePing);
            let recycle = number(v, Setting::PoolRecycle);
            let line = format!(
                "pool_pre_ping = {}, pool_recycle = {}",
                v.get(&Setting::PoolPrePing).map_or("not set", String::as_str),
                v.get(&Setting::PoolRecycle).map_or("not set", String::as_str)
            );
            if ping == Some(true) && recycle.is_some_and(|r| r > 0.0 && r <= 3600.0) {
                Ok(line)
            } else {
                Err(format!(
                    "{line}: the card asks for pre-ping on and a recycle of at most 3600 s"
                ))
            }
        },
    )
}

fn transaction_timeout(g: &Gathered<'_>) -> ControlRow {
    let r = row(
        "transaction-timeout",
        "design",
        "Transaction timeout: statement_timeout = 30 s at session start",
        &g.today,
    );
    per_service(g, r, "every service sets a statement timeout of at most 30 s", |v| {
        let line = format!(
            "statement_timeout = {} ms",
            v.get(&Setting::StatementTimeout).map_or("not set", String::as_str)
        );
        match number(v, Setting::StatementTimeout) {
            Some(ms) if ms > 0.0 && ms <= 30_000.0 => Ok(line),
            _ => Err(format!("{line}: the card asks for a timeout of at most 30 000 ms")),
        }
    })
}

/// Service `k`'s samples in the decided month.
fn samples(p: &PlanOutcome, k: usize) -> u64 {
    p.instances_of(k)
        .iter()
        .filter_map(|i| i.windows.first())
        .map(|w| w.samples)
        .sum()
}

fn pool_monitoring(g: &Gathered<'_>) -> ControlRow {
    let mut r = row(
        "pool-monitoring",
        "design",
        "Pool monitoring: checked_out, checked_in and pool_size exposed as metrics",
        &g.today,
    );
    r.evidence = plan_files(g);
    let mut status = Status::Met;
    for (month, plan) in &g.plans {
        match plan {
            Err(why) => {
                status = status.worst(Status::Missing);
                r.details.push(format!("{month}: no metrics ({why})"));
            }
            Ok(p) => {
                for (k, d) in p.plan.decisions.iter().enumerate() {
                    let samples = samples(p, k);
                    let thin = d.findings.iter().find(|f| f.code == Code::InsufficientData);
                    let line = if samples == 0 {
                        status = status.worst(Status::Missing);
                        "no samples in the month".to_string()
                    } else if let Some(f) = thin {
                        status = status.worst(Status::NotMet);
                        format!("{samples} samples, too few to decide on: {}", f.message)
                    } else {
                        format!("{samples} samples, enough to decide on")
                    };
                    r.details.push(format!("{month}: {}: {line}", d.service));
                }
            }
        }
    }
    r.status = status;
    r.summary = match status {
        Status::Met => "every month of the period has the pool's metrics for every service".into(),
        Status::NotMet => "a month's metrics are too thin to decide on".into(),
        Status::Missing => "a month of the period has no samples for a service".into(),
    };
    r
}

fn circuit_breaker(g: &Gathered<'_>) -> ControlRow {
    missing(
        row(
            "circuit-breaker",
            "design",
            "Circuit breaker: after 5 connection failures, stop for 30 s and show the banner",
            &g.today,
        ),
        "poolcap cannot see the application's circuit breaker: attach its test results",
    )
}

/// The card's testing controls and the load-test scenario that evidences each.
const TESTING: [(&str, &str, &str); 4] = [
    (
        "load-test",
        "load",
        "Load test: 50 concurrent requests complete within 5 s, no pool exhausted errors",
    ),
    (
        "pool-exhaustion-test",
        "exhaustion",
        "Pool exhaustion test: the request past pool_size + max_overflow times out after pool_timeout",
    ),
    (
        "stress-test",
        "stress",
        "Stress test: 100 requests/s for 10 minutes, pool usage < 80 %, no timeouts",
    ),
    (
        "connection-cleanup-test",
        "recycle",
        "Connection cleanup test: a connection left open is recycled after pool_recycle",
    ),
];

fn testing(g: &Gathered<'_>, id: &'static str, scenario: &str, control: &'static str) -> ControlRow {
    let mut r = row(id, "testing", control, &g.today);
    if let Some(why) = &g.loadtests_unread {
        return missing(r, &format!("no load test could be read: {why}"));
    }
    let mut status = Status::Met;
    let mut newest = String::new();
    for service in &g.settings.services {
        // The service's runs of this scenario in the period, the latest last.
        let runs: Vec<(&StoredLoadtest, &serde_json::Value)> = g
            .loadtests
            .iter()
            .filter(|t| t.service == service.name)
            .filter_map(|t| {
                t.report["scenarios"]
                    .as_array()?
                    .iter()
                    .find(|s| s["scenario"] == scenario)
                    .map(|s| (t, s))
            })
            .collect();
        match runs.last() {
            None => {
                status = status.worst(Status::Missing);
                r.details
                    .push(format!("{}: no {scenario} run recorded in the period", service.name));
            }
            Some((t, s)) => {
                let passed = s["passed"].as_bool() == Some(true);
                if !passed {
                    status = status.worst(Status::NotMet);
                }
                let started = t.report["started_at"].as_str().unwrap_or("").to_string();
                let tested = &t.report["tested"];
                r.details.push(format!(
                    "{}: {} on {} ({} + {}), {} run(s) in the period, the latest {}",
                    service.name,
                    if passed { "passed" } else { "failed" },
                    started.get(..10).unwrap_or("?"),
                    tested["pool_size"],
                    tested["max_overflow"],
                    runs.len(),
                    t.month
                ));
                for (t, _) in &runs {
                    if !r.evidence.iter().any(|e| e.path == t.file) {
                        r.evidence.push(file(t.file.clone()));
                    }
                }
                newest = newest.max(started.get(..10).unwrap_or("").to_string());
            }
        }
    }
    if !newest.is_empty() {
        r.date = newest;
    }
    r.status = status;
    r.summary = match status {
        Status::Met => format!("the latest {scenario} run of every service passed (`poolcap loadtest`)"),
        Status::NotMet => format!("a service's latest {scenario} run failed"),
        Status::Missing => format!(
            "a service has no {scenario} run in the period: run `poolcap loadtest --service NAME --month M` against staging with a history store"
        ),
    };
    r
}

fn training(g: &Gathered<'_>) -> [ControlRow; 2] {
    [
        missing(
            row(
                "monitoring-training",
                "training",
                "Train operations on pool monitoring: daily checks, > 80 % utilization, escalation",
                &g.today,
            ),
            "training records are outside poolcap: attach them",
        ),
        missing(
            row(
                "capacity-guidelines",
                "training",
                "Document capacity planning: pool_size = concurrent users × 1.5, max_overflow = pool_size × 0.5",
                &g.today,
            ),
            "poolcap applies the formula (policy.users_factor, policy.overflow_factor; docs/policy.md) but cannot see the team's guideline: attach it",
        ),
    ]
}

fn entries_of<'a>(g: &'a Gathered<'_>, kind: &'a str) -> impl Iterator<Item = &'a LoggedChange> + 'a {
    g.changes.iter().filter(move |c| c.entry.kind == kind)
}

fn capacity_review(g: &Gathered<'_>) -> ControlRow {
    let mut r = row(
        "capacity-review",
        "business process",
        "Monthly capacity review: > 60 % for a month → pool_size + 5; sustained > 80 % → at once; changes in the change log",
        &g.today,
    );
    r.evidence = plan_files(g);
    let mut status = Status::Met;
    for (month, plan) in &g.plans {
        let Ok(p) = plan else {
            status = status.worst(Status::Missing);
            r.details.push(format!("{month}: no decision (no metrics)"));
            continue;
        };
        for (k, d) in p.plan.decisions.iter().enumerate() {
            let (c, rec) = (d.current, d.recommended);
            let line = if samples(p, k) == 0 {
                status = status.worst(Status::Missing);
                "no samples in the month: nothing was decided".to_string()
            } else if !d.changes() {
                format!("no change needed ({} + {})", c.pool_size, c.max_overflow)
            } else if let Some(e) =
                entries_of(g, "review").find(|e| e.entry.service == d.service && e.entry.context == month.to_string())
            {
                format!(
                    "{} + {} → {} + {} applied on {} (change-log entry {})",
                    c.pool_size, c.max_overflow, rec.pool_size, rec.max_overflow, e.entry.date, e.entry.id
                )
            } else if g.no_changelog.contains(&d.service) {
                status = status.worst(Status::Missing);
                format!(
                    "{} + {} → {} + {} recommended; the service keeps no change log (set `changelog` for it)",
                    c.pool_size, c.max_overflow, rec.pool_size, rec.max_overflow
                )
            } else {
                status = status.worst(Status::NotMet);
                let why = if p.plan.budget.ok {
                    "no change-log entry records it".to_string()
                } else {
                    format!(
                        "blocked by the connection budget ({} of {})",
                        p.plan.budget.required, p.plan.budget.limit
                    )
                };
                format!(
                    "{} + {} → {} + {} recommended, {why}",
                    c.pool_size, c.max_overflow, rec.pool_size, rec.max_overflow
                )
            };
            r.details.push(format!("{month}: {}: {line}", d.service));
        }
    }
    if entries_of(g, "review").next().is_some() {
        r.evidence.push(file(files::REVIEW_ENTRIES));
        if let Some(newest) = entries_of(g, "review").map(|e| e.entry.date.clone()).max() {
            r.date = newest;
        }
    }
    r.status = status;
    r.summary = match status {
        Status::Met => "every month was decided, and every change it called for is in the change log".into(),
        Status::NotMet => "a change the policy called for was not made (see the months below)".into(),
        Status::Missing => "a month has no decision, or a change has no change log to record it".into(),
    };
    r
}

fn monitoring_alerting(g: &Gathered<'_>) -> ControlRow {
    let mut r = row(
        "monitoring-alerting",
        "business process",
        "Alerting: > 80 % for 5 min (warning), > 90 % for 2 min (critical), paging on-call",
        &g.today,
    );
    r.evidence = vec![file(files::RULES)];
    for a in &g.settings.alerts {
        r.details.push(format!(
            "rule {}: utilization > {} for {} s",
            a.name, a.above, a.for_seconds
        ));
    }
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for (_, plan) in &g.plans {
        if let Ok(p) = plan {
            for i in &p.analysis.instances {
                for a in &i.alerts {
                    if let Some(rule) = g.settings.alerts.get(a.rule) {
                        *fired.entry(rule.name.clone()).or_default() += 1;
                    }
                }
            }
        }
    }
    r.details.push(if fired.is_empty() {
        "replayed over the period's metrics: no rule fired".to_string()
    } else {
        format!(
            "replayed over the period's metrics: {}",
            fired
                .iter()
                .map(|(rule, n)| format!("{rule} fired {n} time(s)"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    let (status, summary) = match &g.promtool {
        PromtoolRun::Passed { .. } => {
            r.evidence.push(file(files::PROMTOOL_TESTS));
            r.evidence.push(file(files::PROMTOOL_OUTPUT));
            (
                Status::Met,
                "the rules are exported and `promtool test rules` passes on cases replayed from the period's metrics"
                    .to_string(),
            )
        }
        PromtoolRun::Failed { .. } => {
            r.evidence.push(file(files::PROMTOOL_TESTS));
            r.evidence.push(file(files::PROMTOOL_OUTPUT));
            (
                Status::NotMet,
                "`promtool test rules` fails on the exported rules (see its output)".to_string(),
            )
        }
        PromtoolRun::NotRun { why } => (
            Status::Met,
            format!(
                "the rules are exported and replayed over the period's metrics; promtool did not check them ({why})"
            ),
        ),
    };
    r.details
        .push("paging (PagerDuty) is outside poolcap: attach the routing's test".into());
    r.status = status;
    r.summary = summary;
    r
}

fn incident_response(g: &Gathered<'_>) -> ControlRow {
    let mut r = row(
        "incident-response",
        "business process",
        "Incident response: raise pool_size and max_overflow by environment variable, restart, document",
        &g.today,
    );
    let mut incidents = Vec::new();
    let critical = g
        .settings
        .alerts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.above.total_cmp(&b.1.above))
        .map(|(k, _)| k);
    for (month, plan) in &g.plans {
        if let Ok(p) = plan {
            for d in &p.plan.decisions {
                if d.findings.iter().any(|f| f.code == Code::Saturation) {
                    incidents.push(format!(
                        "{month}: {}: saturation (callers waited or timed out)",
                        d.service
                    ));
                }
            }
            let episodes = p
                .analysis
                .instances
                .iter()
                .flat_map(|i| &i.alerts)
                .filter(|a| Some(a.rule) == critical)
                .count();
            if episodes > 0 {
                incidents.push(format!(
                    "{month}: the {} alert fired {episodes} time(s) in the replay",
                    critical.map_or("critical", |k| g.settings.alerts[k].name.as_str())
                ));
            }
        }
    }
    let overrides: Vec<&LoggedChange> = entries_of(g, "override").collect();
    r.details.extend(incidents.iter().cloned());
    for o in &overrides {
        r.details.push(format!(
            "override on {} for {} ({}), in {}",
            o.entry.date, o.entry.service, o.entry.id, o.log
        ));
    }
    if !overrides.is_empty() {
        r.evidence.push(file(files::OVERRIDE_ENTRIES));
        if let Some(newest) = overrides.iter().map(|o| o.entry.date.clone()).max() {
            r.date = newest;
        }
    }
    r.evidence.extend(plan_files(g));
    let (status, summary) = if incidents.is_empty() {
        (
            Status::Met,
            format!(
                "no incident in the period's metrics; {} override(s) recorded",
                overrides.len()
            ),
        )
    } else if !overrides.is_empty() {
        (
            Status::Met,
            format!(
                "{} incident sign(s) in the period and {} override(s) recorded in the change log",
                incidents.len(),
                overrides.len()
            ),
        )
    } else if !g.no_changelog.is_empty() && g.changes.is_empty() {
        (
            Status::Missing,
            format!(
                "{} incident sign(s), and no change log to hold an override (set `changelog` for {})",
                incidents.len(),
                g.no_changelog.join(", ")
            ),
        )
    } else {
        (
            Status::NotMet,
            format!(
                "{} incident sign(s) in the period and no override in the change log (`poolcap override`)",
                incidents.len()
            ),
        )
    };
    r.details.push("the post-mortem is outside poolcap: attach it".into());
    r.status = status;
    r.summary = summary;
    r
}

fn query_optimisation(g: &Gathered<'_>) -> ControlRow {
    let mut r = row(
        "query-optimisation",
        "business process",
        "Quarterly review of slow query logs (queries over 5 s)",
        &g.today,
    );
    let review = match &g.slow {
        Err(why) => return missing(r, why),
        Ok(review) => review,
    };
    r.evidence = vec![file(files::SLOW_MD), file(files::SLOW_JSON)];
    let wanted: Vec<String> = g.period.months().iter().map(ToString::to_string).collect();
    let without: Vec<&str> = review
        .months
        .iter()
        .filter(|m| wanted.contains(&m.month) && m.statements.is_none())
        .map(|m| m.month.as_str())
        .collect();
    for m in &review.months {
        r.details.push(match m.statements {
            None => format!("{}: no logs", m.month),
            Some(n) => format!(
                "{}: {n} statement(s), {} over {} s",
                m.month,
                m.over_threshold.unwrap_or(0),
                review.threshold_seconds
            ),
        });
    }
    let new = review.slow.iter().filter(|s| s.new == Some(true)).count();
    for s in review.slow.iter().take(5) {
        r.details.push(format!(
            "{} over {} s ({}): {}",
            s.over_threshold,
            review.threshold_seconds,
            match s.new {
                Some(true) => "new",
                Some(false) => "recurring",
                None => "no quarter before to compare",
            },
            s.fingerprint.chars().take(100).collect::<String>()
        ));
    }
    if without.is_empty() {
        r.summary = format!(
            "{} reviewed: {} statement(s) over {} s in {} shape(s), {new} new since {}",
            review.quarter,
            review.over_threshold,
            review.threshold_seconds,
            review.slow.len(),
            review.previous.quarter
        );
    } else {
        r.status = Status::NotMet;
        r.summary = format!("the review lacks the logs of {}", without.join(", "));
    }
    r
}

fn connection_budget(g: &Gathered<'_>) -> ControlRow {
    let mut r = row(
        "connection-budget",
        "design",
        "Every pool at its maximum fits the database's max_connections (the budget guard)",
        &g.today,
    );
    r.evidence = plan_files(g);
    let mut status = Status::Met;
    for (month, plan) in &g.plans {
        match plan {
            Err(_) => {
                status = status.worst(Status::Missing);
                r.details.push(format!("{month}: no decision"));
            }
            Ok(p) => {
                let b = &p.plan.budget;
                let deployed_ok = b.current_required <= u64::from(b.limit);
                if !deployed_ok {
                    status = status.worst(Status::NotMet);
                }
                r.details.push(format!(
                    "{month}: deployed pools need {} of {} ({}); the recommendation needs {}{}",
                    b.current_required,
                    b.limit,
                    if deployed_ok { "within" } else { "OVER" },
                    b.required,
                    if b.ok {
                        ""
                    } else {
                        ", over the budget: the guard blocks it"
                    }
                ));
            }
        }
    }
    r.status = status;
    r.summary = match status {
        Status::Met => {
            "the deployed pools fit the budget every month; the guard blocks any recommendation that would not".into()
        }
        Status::NotMet => "the deployed pools exceed the budget in a month".into(),
        Status::Missing => "a month has no decision to check".into(),
    };
    r
}

/// Every row, in the card's order, judged on `g`.
pub fn rows(g: &Gathered<'_>) -> Vec<ControlRow> {
    let mut rows = vec![
        pool_configuration(g),
        pool_monitoring(g),
        connection_cleanup(g),
        transaction_timeout(g),
        circuit_breaker(g),
        connection_budget(g),
    ];
    rows.extend(
        TESTING
            .iter()
            .map(|(id, scenario, control)| testing(g, id, scenario, control)),
    );
    rows.extend(training(g));
    rows.extend([
        capacity_review(g),
        monitoring_alerting(g),
        incident_response(g),
        query_optimisation(g),
    ]);
    rows
}

/// The change-log entries dated in `period` of every service's change log
/// (each log read once), and the services that keep none.
pub fn changes_in(settings: &Settings, period: Period) -> anyhow::Result<(Vec<LoggedChange>, Vec<String>)> {
    let mut logs: BTreeMap<&Path, Vec<&str>> = BTreeMap::new();
    let mut none = Vec::new();
    for s in &settings.services {
        match &s.changelog {
            Some(path) => logs.entry(path.as_path()).or_default().push(&s.name),
            None => none.push(s.name.clone()),
        }
    }
    let mut changes = Vec::new();
    for (path, services) in logs {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(anyhow::anyhow!("{}: cannot read the change log: {e}", path.display()));
            }
        };
        for entry in changelog::entries(&text, &services) {
            // A review entry belongs to the month it reviewed (often applied
            // the month after); an override to the day it was made.
            let in_period = match entry.kind {
                "review" => period.holds_date(&entry.context),
                _ => period.holds_date(&entry.date),
            };
            if in_period {
                changes.push(LoggedChange {
                    log: path.display().to_string(),
                    entry,
                });
            }
        }
    }
    Ok((changes, none))
}

/// Runs `promtool test rules TESTS` in `dir` (where the rules file is).
pub fn run_promtool(dir: &Path, tests: &str) -> PromtoolRun {
    let out = std::process::Command::new("promtool")
        .args(["test", "rules", tests])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => PromtoolRun::NotRun {
            why: "promtool is not installed".into(),
        },
        Err(e) => PromtoolRun::NotRun {
            why: format!("promtool could not be started: {e}"),
        },
        Ok(o) => {
            let output = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            if o.status.success() {
                PromtoolRun::Passed { output }
            } else {
                PromtoolRun::Failed { output }
            }
        }
    }
}
