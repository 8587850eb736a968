//! `poolcap override SERVICE --bump | --to N`: the incident path of the hazard
//! card ("immediately increase pool_size and max_overflow via environment
//! variable update"). No metrics: the current pool comes from the targets, the
//! new one is checked against the hard limit and the connection budget, and
//! the result is written with an incident change-log entry. It prints exactly
//! what to deploy.

use std::fmt::Write as _;

use anyhow::bail;

use crate::cli::{Format, GlobalArgs, OverrideArgs};
use crate::config::{self, Setting, Target, TargetKind};
use crate::exit::ExitStatus;
use crate::model::PoolSize;
use crate::model::ceil_times;
use crate::policy::{self, Decision};
use crate::render::Printer;
use crate::write::changelog::{self, Entry};

use super::UsageError;
use crate::ops::change::{self, ChangeLogs};
use crate::ops::targets::{self, TargetState};

/// Runs `poolcap override`.
pub fn run(global: &GlobalArgs, args: &OverrideArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let settings = config::load(&global.config)?;
    let Some(k) = settings.services.iter().position(|s| s.name == args.service) else {
        return Err(UsageError(format!(
            "unknown service {:?}; {} defines {}",
            args.service,
            settings.path.display(),
            settings
                .services
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    };
    if args.reason.trim().is_empty() {
        return Err(UsageError("--reason must say why (it goes in the change log)".into()).into());
    }
    let service = &settings.services[k];
    if service.targets.is_empty() && args.out.is_none() {
        bail!(
            "service {:?} has no [services.targets] to write; name a file for the override with --out FILE",
            service.name
        );
    }
    let _lock = if args.change.dry_run {
        None
    } else {
        Some(change::lock(&settings, &args.change.lock_timeout, printer)?)
    };
    let mut deployed = targets::read_all(&settings)?;
    if args.accept_drift {
        targets::accept_drift(&mut deployed[k].findings);
    }
    let drifted: Vec<&str> = deployed[k]
        .findings
        .iter()
        .filter(|f| f.code == policy::Code::SettingDrift && f.effect == policy::Effect::Block)
        .map(|f| f.message.as_str())
        .collect();
    if !drifted.is_empty() && args.out.is_none() {
        for message in drifted {
            printer.error_line(&format!("{message}. Nothing was written."));
        }
        return Ok(ExitStatus::Blocked);
    }
    let current = deployed[k].current;
    let pool_size = match args.to {
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
        printer.error_line(&format!(
            "pool_size {pool_size} is above {}'s max_pool_size {limit}; raise max_pool_size in {} if that is intended, or use --to {limit}. Nothing was written.",
            service.name,
            settings.path.display()
        ));
        return Ok(ExitStatus::Blocked);
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
    let pools: Vec<u64> = settings.services.iter().map(config::ServiceSettings::pools).collect();
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
    if !budget.ok && !args.change.allow_over_budget {
        let fits = match headroom {
            Some(p) if p > current.pool_size => format!(
                "The largest pool_size that fits is {p} (+ {}): --to {p}.",
                ceil_times(p, settings.policy.overflow_factor)
            ),
            Some(p) => format!("Only {p} fits, no more than deployed now ({}).", current.pool_size),
            None => "Not even a pool of 1 fits beside the other services.".to_string(),
        };
        printer.error_line(&format!(
            "{} + {} for {} breaks the connection budget: {} = {} of {}. {fits} Ways out: fewer processes per replica, PgBouncer, a larger max_connections (needs a restart). Nothing was written; to write it anyway: --allow-over-budget",
            new.pool_size, new.max_overflow, service.name, budget_row.arithmetic, budget.required, budget.limit
        ));
        return Ok(ExitStatus::Blocked);
    }

    let values = targets::desired(new, &service.pool);
    let mut files = match &args.out {
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
        let date = change::today(&settings);
        let context = match &args.incident {
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
            incident: args.incident.clone(),
            ticket: args.change.ticket.clone(),
            reason: Some(args.reason.clone()),
            over_budget_reason: (!budget.ok).then(|| args.reason.clone()),
            author: change::author(args.change.author.as_deref()),
            before,
            after,
            settings: rows,
            findings: change::finding_rows(&findings),
            budget: budget_row.clone(),
        };
        if let Some(log) = &service.changelog {
            logs.add(&settings, log, &entry)?;
        }
        entries.push(entry);
    }
    let log_files = logs.into_pending(&settings);
    let log_count = log_files.len();
    files.extend(log_files);

    // What to deploy: in the service's env key names when it has an env
    // target (or with --out, which writes one), else in the keys of the file
    // it does have (a TOML-only service has no environment variables).
    let env_target = service.targets.iter().find(|t| t.kind == TargetKind::Env);
    let file_target = service
        .targets
        .first()
        .filter(|_| env_target.is_none() && args.out.is_none());
    let mut deploy = String::new();
    let _ = writeln!(
        deploy,
        "{}: pool {} + {} → {} + {} (budget {} = {} of {}{})",
        service.name,
        current.pool_size,
        current.max_overflow,
        new.pool_size,
        new.max_overflow,
        budget_row.arithmetic,
        budget.required,
        budget.limit,
        if budget.ok { ", ok" } else { ", OVER BUDGET" }
    );
    match file_target {
        Some(t) => {
            let at = if t.prefix.is_empty() {
                String::new()
            } else {
                format!(" under {}", t.prefix.join("."))
            };
            let _ = writeln!(deploy, "Deploy {} with these settings{at}:", t.shown);
            for (setting, key) in &t.keys {
                if let Some(v) = values.get(setting) {
                    let _ = writeln!(deploy, "  {key} = {v}");
                }
            }
        }
        None => {
            let env_keys: Vec<(Setting, String)> = env_target
                .map(|t| t.keys.clone())
                .unwrap_or_else(|| Setting::ALL.into_iter().map(|s| (s, s.env_key().to_string())).collect());
            let _ = writeln!(
                deploy,
                "Deploy these environment variables to every {} container:",
                service.name
            );
            for (setting, key) in &env_keys {
                if let Some(v) = values.get(setting) {
                    let _ = writeln!(deploy, "  {key}={v}");
                }
            }
        }
    }
    let _ = writeln!(
        deploy,
        "then restart the {} containers ({} replica(s) × {} process(es)) and investigate the cause: slow queries, database performance, an unexpected load spike.",
        service.name, service.replicas, service.processes_per_replica
    );
    if let Some(p) = headroom {
        let _ = writeln!(
            deploy,
            "headroom: {} can take up to pool_size {p} within the budget, the other services as deployed.",
            service.name
        );
    }

    let json = serde_json::json!({
        "dry_run": args.change.dry_run, "service": service.name, "current": current, "new": new,
        "files": files.iter().map(|f| &f.shown).collect::<Vec<_>>(), "budget_ok": budget.ok,
        "headroom": headroom,
    });
    if args.change.dry_run {
        if global.format == Format::Table {
            printer.out(&change::diff(&files, log_count))?;
        }
        printer.note(&format!(
            "dry run: {} file(s) would change; nothing written",
            files.len()
        ));
    } else if files.is_empty() {
        printer.note("nothing to change: the files already hold these values");
    } else {
        change::write_all(&settings, &files, args.change.force, printer)?;
        if let Some(out) = &args.out {
            // The override file is now what is deployed for this service:
            // later plans and overrides read it first, until `apply`.
            let mut overrides = targets::read_overrides(&settings)?;
            let absolute = std::path::absolute(out).unwrap_or_else(|_| out.clone());
            overrides.insert(service.name.clone(), absolute.display().to_string());
            targets::write_overrides(&settings, &overrides)?;
            printer.note(&format!(
                "{} is recorded as {}'s deployed pool until the next apply writes it with the other targets",
                out.display(),
                service.name
            ));
        }
        if let Some(store) = super::ingest::store_in_use(global) {
            change::record(&store, &entries, printer);
        }
    }
    match global.format {
        Format::Json => printer.json(&json)?,
        Format::Table | Format::Csv => printer.out(&deploy)?,
    }
    Ok(ExitStatus::Ok)
}
