//! `apply`'s change set: the month's decision as the files to write — every
//! service's target files and change-log entries — and the refusals that
//! stop it (blocking findings, the connection budget).

use crate::config::Settings;
use crate::policy::Code;
use crate::support::notice::Notices;
use crate::write::changelog::{self, Entry};

use super::change::ChangeLogs;
use super::plan::PlanOutcome;
use super::targets::{self, PendingFile};

/// Why a plan may not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Findings no flag overrides (shared files asked for two pools, tenfold
    /// setting drift): their messages.
    Blocking(Vec<String>),
    /// Over the connection budget without `--allow-over-budget`: the finding's message.
    OverBudget(String),
}

/// The refusal of `outcome`, if any.
pub fn refusal(outcome: &PlanOutcome, allow_over_budget: bool) -> Option<Refusal> {
    let mut blocking: Vec<String> = outcome.plan.blocking_findings().map(|f| f.message.clone()).collect();
    blocking.dedup();
    if !blocking.is_empty() {
        return Some(Refusal::Blocking(blocking));
    }
    if outcome.plan.blocked() && !allow_over_budget {
        let why = outcome
            .plan
            .decisions
            .iter()
            .flat_map(|d| &d.findings)
            .chain(outcome.plan.pgbouncer_pools.iter().flat_map(|p| &p.findings))
            .find(|f| f.code == Code::BudgetExceeded)
            .map_or_else(String::new, |f| f.message.clone());
        return Some(Refusal::OverBudget(why));
    }
    None
}

/// The files a decision writes and the records of it.
#[derive(Debug, Default)]
pub struct ChangeSet {
    /// Target files, then change logs.
    pub files: Vec<PendingFile>,
    /// How many of them are change logs.
    pub log_count: usize,
    /// One line per changed service (`backend: pool 20 + 10 → 25 + 13`).
    pub summary: Vec<String>,
    /// The change-log entries (recorded in the store too).
    pub entries: Vec<Entry>,
}

/// Who asks, and why (`--author`, `--ticket`, `--reason`).
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// `--author`.
    pub author: Option<&'a str>,
    /// `--ticket`.
    pub ticket: Option<&'a str>,
    /// `--reason` (recorded when the plan is over budget).
    pub over_budget_reason: Option<&'a str>,
    /// SHA-256 of the plan report the change carries out (the bytes of
    /// `plan --format json` on the same inputs), for the entries' evidence.
    pub plan_sha256: Option<String>,
}

/// The change set of `outcome`: each service with targets whose files must
/// change, its entry in its change log. A service without targets whose pool
/// should change is a warning.
pub fn change_set(
    settings: &Settings,
    outcome: &PlanOutcome,
    request: Request<'_>,
    notices: &mut dyn Notices,
) -> anyhow::Result<ChangeSet> {
    let Request {
        author,
        ticket,
        over_budget_reason,
        plan_sha256,
    } = request;
    let evidence = plan_sha256.map(|plan_sha256| changelog::Evidence {
        plan_sha256,
        provenance: outcome.provenance.clone(),
    });
    let pending = outcome.pending_files(settings)?;
    let author = super::change::author(author);
    let date = super::change::today(settings);
    let budget = super::change::budget_row(&outcome.plan.budget);
    let month = outcome.month.to_string();
    let over_budget_reason = outcome
        .plan
        .blocked()
        .then(|| over_budget_reason.map(str::to_string))
        .flatten();
    // A review entry of the month: a service's pool, or a PgBouncer server pool.
    let review_entry = |name: String,
                        before: changelog::Sizes,
                        after: changelog::Sizes,
                        settings: Vec<changelog::SettingRow>,
                        findings: &[crate::policy::Finding]| Entry {
        id: changelog::entry_id(&name, &month, before, after, &settings),
        kind: "review",
        date: date.clone(),
        service: name,
        month: Some(month.clone()),
        incident: None,
        ticket: ticket.map(str::to_string),
        reason: None,
        over_budget_reason: over_budget_reason.clone(),
        author: author.clone(),
        before,
        after,
        settings,
        findings: super::change::finding_rows(findings),
        budget: budget.clone(),
        evidence: evidence.clone(),
    };
    let mut files = Vec::new();
    let mut logs = ChangeLogs::default();
    let mut summary = Vec::new();
    let mut entries = Vec::new();
    for (((service, decision), deployed), service_files) in settings
        .services
        .iter()
        .zip(&outcome.plan.decisions)
        .zip(&outcome.deployed)
        .zip(pending)
    {
        if service.targets.is_empty() {
            if decision.changes() {
                notices.warn(&format!(
                    "{}: recommended {} + {} but the service has no [services.targets]; nothing written for it",
                    service.name, decision.recommended.pool_size, decision.recommended.max_overflow
                ));
            }
            continue;
        }
        if service_files.is_empty() {
            continue;
        }
        summary.push(format!(
            "{}: pool {} + {} → {} + {}",
            service.name,
            decision.current.pool_size,
            decision.current.max_overflow,
            decision.recommended.pool_size,
            decision.recommended.max_overflow
        ));
        files.extend(service_files);
        {
            let after = targets::desired(decision.recommended, &service.pool);
            let settings_rows = super::change::setting_rows(deployed, &after);
            let (before, after) = (
                super::change::sizes(decision.current),
                super::change::sizes(decision.recommended),
            );
            let entry = review_entry(service.name.clone(), before, after, settings_rows, &decision.findings);
            if let Some(log) = &service.changelog {
                logs.add(settings, log, &entry)?;
            }
            entries.push(entry);
        }
    }
    // PgBouncer's server pools, when its file is a target.
    if let Some(ini) = settings.pgbouncer_ini.as_ref().filter(|i| i.write)
        && outcome.plan.pgbouncer_pools.iter().any(|p| p.changes())
    {
        let before = std::fs::read_to_string(&ini.path).map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot read PgBouncer's config: {}",
                ini.shown,
                crate::support::io_text(&e)
            )
        })?;
        let edits = super::pgbouncer::ini_edits(&before, &outcome.plan.pgbouncer_pools)
            .map_err(|e| anyhow::anyhow!("{}: {e}", ini.shown))?;
        let (edits, said): (Vec<_>, Vec<_>) = edits.into_iter().unzip();
        let after = crate::write::ini::edit(&before, &edits).map_err(|e| anyhow::anyhow!("{}: {e}", ini.shown))?;
        if after != before {
            summary.push(format!("PgBouncer ({}): {}", ini.shown, said.join(", ")));
            // One change-log entry per server pool grown: "pool 25 + 5 → 30 + 5" is pool_size + reserve.
            for p in outcome.plan.pgbouncer_pools.iter().filter(|p| p.changes()) {
                let own_entry = edits.iter().any(|e| {
                    matches!(e, crate::write::ini::IniEdit::DatabaseParam { database, .. } if *database == p.database)
                });
                let settings_rows = vec![changelog::SettingRow {
                    key: if own_entry {
                        format!("[databases] {} pool_size", p.database)
                    } else {
                        "default_pool_size".to_string()
                    },
                    before: p.current.to_string(),
                    after: p.recommended.to_string(),
                    changed: true,
                }];
                let (before, after) = (
                    changelog::Sizes {
                        pool_size: p.current,
                        max_overflow: p.reserve,
                    },
                    changelog::Sizes {
                        pool_size: p.recommended,
                        max_overflow: p.reserve,
                    },
                );
                let name = format!("PgBouncer {}/{}", p.database, p.user);
                let entry = review_entry(name, before, after, settings_rows, &p.findings);
                match &ini.changelog {
                    Some(log) => {
                        logs.add(settings, log, &entry)?;
                    }
                    None => notices.warn(&format!(
                        "{}: the change to {} is in no change log; name one with [pgbouncer] changelog",
                        entry.service, ini.shown
                    )),
                }
                entries.push(entry);
            }
            files.push(PendingFile {
                path: ini.path.clone(),
                shown: ini.shown.clone(),
                before: Some(before),
                after,
                managed_keys: vec!["pool_size".into(), "default_pool_size".into()],
                prefix: Vec::new(),
                kind: crate::config::TargetKind::PgbouncerIni,
            });
        }
    }
    let log_files = logs.into_pending(settings);
    let log_count = log_files.len();
    files.extend(log_files);
    Ok(ChangeSet {
        files,
        log_count,
        summary,
        entries,
    })
}

/// Every target, override files recorded by `override --out` included, now
/// holds the plan: the record has done its work and is emptied.
pub fn fold_overrides(settings: &Settings, notices: &mut dyn Notices) -> anyhow::Result<()> {
    let overrides = targets::read_overrides(settings)?;
    if !overrides.is_empty() {
        targets::write_overrides(settings, &Default::default())?;
        notices.note(&format!(
            "override file(s) {} now agree with the targets and are no longer read first",
            overrides.values().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}
