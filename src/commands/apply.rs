//! `poolcap apply`: the month's decision written into every service's target
//! files and change log, all or nothing, under a lock; `--dry-run` shows the
//! diff instead.

use crate::cli::{ApplyArgs, Format, GlobalArgs};
use crate::config;
use crate::exit::ExitStatus;
use crate::policy::Code;
use crate::render::Printer;
use crate::write::changelog::{self, Entry};

use crate::ops::change::{self, ChangeLogs};
use crate::ops::plan;
use crate::ops::targets;

/// Runs `poolcap apply`.
pub fn run(global: &GlobalArgs, args: &ApplyArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let settings = config::load(&global.config)?;
    let _lock = if args.change.dry_run {
        None
    } else {
        Some(change::lock(&settings, &args.change.lock_timeout, printer)?)
    };
    let outcome = plan::compute(
        &settings,
        &args.inputs.request(),
        super::ingest::store_location(global),
        printer,
    )?;

    // Shared files asked for two pools, tenfold setting drift: no budget flag
    // overrides these.
    let mut refusals: Vec<&str> = outcome.plan.blocking_findings().map(|f| f.message.as_str()).collect();
    refusals.dedup();
    if !refusals.is_empty() {
        for message in refusals {
            printer.error_line(&format!("{message}. Nothing was written."));
        }
        return Ok(ExitStatus::Blocked);
    }
    if outcome.plan.blocked() && !args.change.allow_over_budget {
        let why = outcome
            .plan
            .decisions
            .iter()
            .flat_map(|d| &d.findings)
            .find(|f| f.code == Code::BudgetExceeded)
            .map_or_else(String::new, |f| f.message.clone());
        printer.warn(&format!(
            "the plan is blocked by the connection budget: {why}. Nothing was written. To write it anyway: --allow-over-budget --reason \"…\""
        ));
        return Ok(ExitStatus::Blocked);
    }

    let pending = outcome.pending_files(&settings)?;
    let author = change::author(args.change.author.as_deref());
    let date = change::today(&settings);
    let budget = change::budget_row(&outcome.plan.budget);
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
                printer.warn(&format!(
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
            let settings_rows = change::setting_rows(deployed, &after);
            let (before, after) = (change::sizes(decision.current), change::sizes(decision.recommended));
            let month = outcome.month.to_string();
            let entry = Entry {
                id: changelog::entry_id(&service.name, &month, before, after, &settings_rows),
                kind: "review",
                date: date.clone(),
                service: service.name.clone(),
                month: Some(month),
                incident: None,
                ticket: args.change.ticket.clone(),
                reason: None,
                over_budget_reason: outcome.plan.blocked().then(|| args.reason.clone()).flatten(),
                author: author.clone(),
                before,
                after,
                settings: settings_rows,
                findings: change::finding_rows(&decision.findings),
                budget: budget.clone(),
            };
            if let Some(log) = &service.changelog {
                logs.add(&settings, log, &entry)?;
            }
            entries.push(entry);
        }
    }
    let log_files = logs.into_pending(&settings);
    let log_count = log_files.len();
    files.extend(log_files);

    let json = serde_json::json!({
        "dry_run": args.change.dry_run,
        "files": files.iter().map(|f| &f.shown).collect::<Vec<_>>(),
        "services": summary,
    });
    // Every target, override files recorded by `override --out` included,
    // now holds the plan: the record has done its work.
    let fold_overrides = |printer: &mut Printer| -> anyhow::Result<()> {
        let overrides = targets::read_overrides(&settings)?;
        if !overrides.is_empty() {
            targets::write_overrides(&settings, &Default::default())?;
            printer.note(&format!(
                "override file(s) {} now agree with the targets and are no longer read first",
                overrides.values().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(())
    };
    if files.is_empty() {
        printer.note("nothing to change: every target file already matches the plan");
        if !args.change.dry_run {
            fold_overrides(printer)?;
        }
    } else if args.change.dry_run {
        if global.format != Format::Json {
            printer.out(&change::diff(&files, log_count))?;
        }
        printer.note(&format!(
            "dry run: {} file(s) would change; nothing written",
            files.len()
        ));
    } else {
        change::write_all(&settings, &files, args.change.force, printer)?;
        fold_overrides(printer)?;
        if let Some(store) = super::ingest::store_in_use(global) {
            change::record(&store, &entries, printer);
        }
        if global.format != Format::Json {
            printer.out(&(summary.join("\n") + "\n"))?;
        }
    }
    if global.format == Format::Json {
        printer.json(&json)?;
    }
    Ok(ExitStatus::Ok)
}
