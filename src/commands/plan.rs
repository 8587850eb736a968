//! `poolcap plan`: the month's decisions ([`crate::ops::plan`]) as a table or
//! JSON, with `--check` exit codes for CI.

use crate::cli::{Format, GlobalArgs, PlanArgs};
use crate::exit::ExitStatus;
use crate::ops::change;
use crate::ops::plan::{compute, data_gaps};
use crate::render::{self, Printer};

/// Runs `poolcap plan`.
pub fn run(global: &GlobalArgs, args: &PlanArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let (report, status) = decide(global, args, printer)?;
    if let Some(path) = &args.summary {
        let outcome = match (args.check, status) {
            (false, _) => "report only (no `--check`)".to_string(),
            (true, ExitStatus::Ok) => "nothing to change (exit 0)".to_string(),
            (true, ExitStatus::Changes) => "changes to make (exit 3)".to_string(),
            (true, ExitStatus::Blocked) => "blocked by a guard (exit 4)".to_string(),
            (true, ExitStatus::InsufficientData) => "too little data to decide (exit 5)".to_string(),
            (true, other) => format!("exit {}", other.code()),
        };
        let text = render::plan::summary(&report, &outcome);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot write the summary: {e}", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: cannot write the summary: {e}", path.display()))?;
    }
    Ok(status)
}

/// The plan's report and the exit status `--check` gives it (0 without it).
fn decide(
    global: &GlobalArgs,
    args: &PlanArgs,
    printer: &mut Printer,
) -> anyhow::Result<(render::plan::PlanReport, ExitStatus)> {
    let settings = super::planned_settings(global, &args.inputs.request(), printer)?;
    // A killed apply's files are finished first, so the plan reads what is deployed.
    let _lock = if crate::write::atomic::interrupted(&change::journal_dir(&settings)) {
        Some(change::lock(&settings, "10s", printer)?)
    } else {
        None
    };
    let outcome = compute(
        &settings,
        &args.inputs.request(),
        super::ingest::store_location(global),
        true,
        printer,
    )?;
    // `--service` names the service of inputs that lack one, and plans only it
    // (the budget still counts every service).
    let report = render::plan::PlanReport::for_plan(&settings, &outcome);
    let selected = |name: &str| args.inputs.metrics.service.as_deref().is_none_or(|s| s == name);
    match global.format {
        Format::Json => printer.json(&report)?,
        Format::Table | Format::Csv => {
            let text = render::plan::table(&report, printer, args.all);
            printer.out(&text)?;
        }
    }
    if !args.check {
        return Ok((report, ExitStatus::Ok));
    }
    if !args.allow_missing_data {
        let gaps = data_gaps(&settings, &outcome, &selected);
        if !gaps.is_empty() {
            for gap in &gaps {
                printer.error_line(gap);
            }
            printer.note("the gate fails on thin data (exit 5) so that a broken metrics export cannot pass as \"nothing to change\"; to decide anyway: --allow-missing-data");
            return Ok((report, ExitStatus::InsufficientData));
        }
    }
    if outcome.plan.blocked() {
        return Ok((report, ExitStatus::Blocked));
    }
    // With targets, the files are what CI checks: any byte that would change
    // (a new size, or a drifted fixed setting) is a change.
    let pending = outcome.pending_files(&settings)?;
    let mut changes = false;
    for ((service, decision), files) in settings.services.iter().zip(&outcome.plan.decisions).zip(&pending) {
        if !selected(&service.name) {
            continue;
        }
        if service.targets.is_empty() {
            changes |= decision.changes();
        } else {
            for f in files {
                printer.note(&format!("would change: {} ({})", f.shown, service.name));
            }
            changes |= !files.is_empty();
        }
    }
    // A PgBouncer server pool to grow is a change too (pgbouncer.ini is edited by hand, or by its own target).
    changes |= outcome.plan.pgbouncer_pools.iter().any(|p| p.changes());
    Ok((report, if changes { ExitStatus::Changes } else { ExitStatus::Ok }))
}
