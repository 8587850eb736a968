//! The incident path of the hazard card ("immediately increase pool_size and
//! max_overflow via environment variable update"), for `poolcap override`:
//! no metrics — the current pool comes from the targets, the new one is
//! checked against the hard limit and the connection budget, and the files
//! to write carry an incident change-log entry.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::bail;

use crate::config::{self, Setting, Settings, Target, TargetKind};
use crate::model::{PoolSize, ceil_times};
use crate::policy::{self, Budget, Decision};
use crate::support::notice::Notices;
use crate::write::Value;
use crate::write::changelog::{self, BudgetRow, Entry};

use super::UsageError;
use super::change::{self, ChangeLogs};
use super::targets::{self, PendingFile, TargetState};

/// What `override` is asked (its flags).
#[derive(Debug, Clone, Default)]
pub struct OverrideRequest {
    /// The service.
    pub service: String,
    /// `--to N`; `None` is `--bump` (one escalation step).
    pub to: Option<u32>,
    /// `--reason`.
    pub reason: String,
    /// `--incident ID`.
    pub incident: Option<String>,
    /// `--out FILE`: write a separate env file instead of the targets.
    pub out: Option<PathBuf>,
    /// `--accept-drift`.
    pub accept_drift: bool,
    /// `--allow-over-budget`.
    pub allow_over_budget: bool,
    /// `--author`.
    pub author: Option<String>,
    /// `--ticket`.
    pub ticket: Option<String>,
}

/// Why the override may not be written: one sentence each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub Vec<String>);

/// The override, ready to write.
#[derive(Debug)]
pub struct Override {
    /// The service's index in the config.
    pub service: usize,
    /// As deployed.
    pub current: PoolSize,
    /// As overridden.
    pub new: PoolSize,
    /// The budget with this service at its new size, the others as deployed.
    pub budget: Budget,
    /// The budget as the change log writes it.
    pub budget_row: BudgetRow,
    /// The largest pool_size that fits the budget.
    pub headroom: Option<u32>,
    /// Every managed setting's new value.
    pub values: BTreeMap<Setting, Value>,
    /// Files to write: targets (or the `--out` file), then change logs.
    pub files: Vec<PendingFile>,
    /// How many of them are change logs.
    pub log_count: usize,
    /// The change-log entries (none when the files already hold the values).
    pub entries: Vec<Entry>,
}

/// The service `name`'s index, or a usage error listing the services.
pub fn service_index(settings: &Settings, name: &str) -> Result<usize, UsageError> {
    settings.services.iter().position(|s| s.name == name).ok_or_else(|| {
        UsageError(format!(
            "unknown service {:?}; {} defines {}",
            name,
            settings.path.display(),
            settings
                .services
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Checks `req` and builds the override (the caller holds the lock).
pub fn prepare(settings: &Settings, req: &OverrideRequest) -> anyhow::Result<Result<Override, Refused>> {
    let k = service_index(settings, &req.service)?;
    if req.reason.trim().is_empty() {
        return Err(UsageError("--reason must say why (it goes in the change log)".into()).into());
    }
    let service = &settings.services[k];
    if service.targets.is_empty() && req.out.is_none() {
        bail!(
            "service {:?} has no [services.targets] to write; name a file for the override with --out FILE",
            service.name
        );
    }
    let mut deployed = targets::read_all(settings)?;
    if req.accept_drift {
        targets::accept_drift(&mut deployed[k].findings);
    }
    let drifted: Vec<&str> = deployed[k]
        .findings
        .iter()
        .filter(|f| f.code == policy::Code::SettingDrift && f.effect == policy::Effect::Block)
        .map(|f| f.message.as_str())
        .collect();
    if !drifted.is_empty() && req.out.is_none() {
        return Ok(Err(Refused(
            drifted.iter().map(|m| format!("{m}. Nothing was written.")).collect(),
        )));
    }
    let current = deployed[k].current;
    let pool_size = match req.to {
        Some(n) if n == 0 || n > crate::model::limits::MAX_CONNECTIONS => {
            return Err(UsageError(format!(
                "--to {n}: a pool_size must be from 1 to {} (poolcap's limit)",
                crate::model::limits::MAX_CONNECTIONS
            ))
            .into());
        }
        Some(n) => n,
        // Both terms are bounded (targets and config are checked), so this
        // cannot wrap; saturating says so.
        None => current.pool_size.saturating_add(settings.policy.escalate_step),
    };
    let new = PoolSize {
        pool_size,
        max_overflow: ceil_times(pool_size, settings.policy.overflow_factor),
    };
    if let Some(limit) = service.max_pool_size
        && pool_size > limit
    {
        return Ok(Err(Refused(vec![format!(
            "pool_size {pool_size} is above {}'s max_pool_size {limit}; raise max_pool_size in {} if that is intended, or use --to {limit}. Nothing was written.",
            service.name,
            settings.path.display()
        )])));
    }

    // The budget with this service at its new size and every other at its current one.
    let decisions: Vec<Decision> = settings
        .services
        .iter()
        .zip(&deployed)
        .enumerate()
        .map(|(i, (s, d))| Decision {
            service: s.name.clone(),
            current: d.current,
            recommended: if i == k { new } else { d.current },
            deciding: None,
            findings: Vec::new(),
        })
        .collect();
    let pools: Vec<_> = settings
        .services
        .iter()
        .map(config::ServiceSettings::budget_pools)
        .collect();
    let budget = policy::check_budget(&settings.database, &pools, &decisions);
    let budget_row = change::budget_row(&budget);
    let headroom = policy::headroom(
        &settings.database,
        &pools,
        &decisions,
        k,
        settings.policy.overflow_factor,
        service.max_pool_size,
    );
    if !budget.ok && !req.allow_over_budget {
        let fits = match headroom {
            Some(p) if p > current.pool_size => format!(
                "The largest pool_size that fits is {p} (+ {}): --to {p}.",
                ceil_times(p, settings.policy.overflow_factor)
            ),
            Some(p) => format!("Only {p} fits, no more than deployed now ({}).", current.pool_size),
            None => "Not even a pool of 1 fits beside the other services.".to_string(),
        };
        // Behind PgBouncer the side that breaks says its own arithmetic and ways out.
        let why = if budget.pgbouncer.is_some() {
            let breaches: Vec<String> = budget.breaches().into_iter().map(|b| b.message).collect();
            format!("{}. {fits}", breaches.join("; and "))
        } else {
            format!(
                "{} = {} of {}. {fits} Ways out: fewer processes per replica, PgBouncer, a larger max_connections (needs a restart)",
                budget_row.arithmetic, budget.required, budget.limit
            )
        };
        return Ok(Err(Refused(vec![format!(
            "{} + {} for {} breaks the connection budget: {why}. Nothing was written; to write it anyway: --allow-over-budget",
            new.pool_size, new.max_overflow, service.name
        )])));
    }

    let values = targets::desired(new, &service.pool);
    let mut files = match &req.out {
        None => targets::pending_files(&deployed[k], new, &service.pool)?,
        Some(out) => {
            // A separate env file with the service's env key names and units (defaults otherwise).
            let env = service.targets.iter().find(|t| t.kind == TargetKind::Env);
            let keys = env
                .map(|t| t.keys.clone())
                .unwrap_or_else(|| Setting::ALL.into_iter().map(|s| (s, s.env_key().to_string())).collect());
            let target = Target {
                kind: TargetKind::Env,
                shown: out.display().to_string(),
                path: out.clone(),
                prefix: Vec::new(),
                keys,
                units: env.map(|t| t.units).unwrap_or_default(),
                create: true,
            };
            let text = match std::fs::read_to_string(out) {
                Ok(t) => Some(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(anyhow::Error::new(e).context(format!("{}: cannot read", out.display()))),
            };
            let state = TargetState {
                target,
                text,
                values: Default::default(),
            };
            let after = targets::render(&state, &values)?;
            if state.text.as_deref() == Some(after.as_str()) {
                Vec::new()
            } else {
                vec![targets::PendingFile {
                    path: out.clone(),
                    shown: out.display().to_string(),
                    before: state.text.clone(),
                    after,
                    managed_keys: state.target.keys.iter().map(|(_, k)| k.clone()).collect(),
                    prefix: Vec::new(),
                    kind: TargetKind::Env,
                }]
            }
        }
    };

    let mut logs = ChangeLogs::default();
    // An entry records a change: none when the files already hold these values.
    let mut entries = Vec::new();
    if !files.is_empty() {
        let rows = change::setting_rows(&deployed[k], &values);
        let (before, after) = (change::sizes(current), change::sizes(new));
        let date = change::today(settings);
        let context = match &req.incident {
            Some(id) => format!("incident-{id}"),
            None => format!("override-{date}"),
        };
        let findings = deployed[k].findings.clone();
        let entry = Entry {
            id: changelog::entry_id(&service.name, &context, before, after, &rows),
            kind: "override",
            date,
            service: service.name.clone(),
            month: None,
            incident: req.incident.clone(),
            ticket: req.ticket.clone(),
            reason: Some(req.reason.clone()),
            over_budget_reason: (!budget.ok).then(|| req.reason.clone()),
            author: change::author(req.author.as_deref()),
            before,
            after,
            settings: rows,
            findings: change::finding_rows(&findings),
            budget: budget_row.clone(),
            evidence: None,
        };
        if let Some(log) = &service.changelog {
            logs.add(settings, log, &entry)?;
        }
        entries.push(entry);
    }
    let log_files = logs.into_pending(settings);
    let log_count = log_files.len();
    files.extend(log_files);
    Ok(Ok(Override {
        service: k,
        current,
        new,
        budget,
        budget_row,
        headroom,
        values,
        files,
        log_count,
        entries,
    }))
}

/// Records `out` as the service's deployed pool: later plans and overrides
/// read it first, until `apply` writes the targets.
pub fn record_out_file(
    settings: &Settings,
    service: &str,
    out: &std::path::Path,
    notices: &mut dyn Notices,
) -> anyhow::Result<()> {
    let mut overrides = targets::read_overrides(settings)?;
    let absolute = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    overrides.insert(service.to_string(), absolute.display().to_string());
    targets::write_overrides(settings, &overrides)?;
    notices.note(&format!(
        "{} is recorded as {service}'s deployed pool until the next apply writes it with the other targets",
        out.display(),
    ));
    Ok(())
}
