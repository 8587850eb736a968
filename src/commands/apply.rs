//! `poolcap apply`: the month's decision written into every service's target
//! files and change log, all or nothing, under a lock; `--dry-run` shows the
//! diff instead ([`crate::ops::apply`] builds the change set).

use crate::cli::{ApplyArgs, Format, GlobalArgs};
use crate::exit::ExitStatus;
use crate::ops::apply::{Refusal, Request, change_set, fold_overrides, refusal};
use crate::ops::{change, plan};
use crate::render::{self, Printer};

/// Runs `poolcap apply`.
pub fn run(global: &GlobalArgs, args: &ApplyArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let settings = super::planned_settings(global, &args.inputs.request(), printer)?;
    let _lock = if args.change.dry_run {
        None
    } else {
        Some(change::lock(&settings, &args.change.lock_timeout, printer)?)
    };
    let outcome = plan::compute(
        &settings,
        &args.inputs.request(),
        super::ingest::store_location(global),
        // The queueing check is advisory and never changes what apply writes;
        // it runs so that the plan apply carries out is `plan`'s, byte for
        // byte, and its digest in the change log names that plan.json.
        true,
        printer,
    )?;
    let plan_sha256 = render::plan::PlanReport::for_plan(&settings, &outcome).sha256()?;
    match refusal(&outcome, args.change.allow_over_budget) {
        Some(Refusal::Blocking(messages)) => {
            for message in messages {
                printer.error_line(&format!("{message}. Nothing was written."));
            }
            return Ok(ExitStatus::Blocked);
        }
        Some(Refusal::OverBudget(why)) => {
            printer.warn(&format!(
                "the plan is blocked by the connection budget: {why}. Nothing was written. To write it anyway: --allow-over-budget --reason \"…\""
            ));
            return Ok(ExitStatus::Blocked);
        }
        None => {}
    }
    let request = Request {
        author: args.change.author.as_deref(),
        ticket: args.change.ticket.as_deref(),
        over_budget_reason: args.reason.as_deref(),
        plan_sha256: Some(plan_sha256),
    };
    let set = change_set(&settings, &outcome, request, printer)?;
    let files = &set.files;
    let json = serde_json::json!({
        "dry_run": args.change.dry_run,
        "files": files.iter().map(|f| &f.shown).collect::<Vec<_>>(),
        "services": set.summary,
    });
    if files.is_empty() {
        printer.note("nothing to change: every target file already matches the plan");
        if !args.change.dry_run {
            fold_overrides(&settings, printer)?;
        }
    } else if args.change.dry_run {
        if global.format != Format::Json {
            printer.out(&change::diff(files, set.log_count))?;
        }
        printer.note(&format!(
            "dry run: {} file(s) would change; nothing written",
            files.len()
        ));
    } else {
        change::write_all(&settings, files, args.change.force, printer)?;
        fold_overrides(&settings, printer)?;
        if let Some(store) = super::ingest::store_in_use(global) {
            change::record(&store, &set.entries, printer);
        }
        if global.format != Format::Json {
            printer.out(&(set.summary.join("\n") + "\n"))?;
        }
    }
    if global.format == Format::Json {
        printer.json(&json)?;
    }
    Ok(ExitStatus::Ok)
}
