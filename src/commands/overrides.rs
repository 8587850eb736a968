//! `poolcap override SERVICE --bump | --to N`: the incident path
//! ([`crate::ops::overrides`]); it prints exactly what to deploy.

use crate::cli::{Format, GlobalArgs, OverrideArgs};
use crate::config;
use crate::exit::ExitStatus;
use crate::ops::change;
use crate::ops::overrides::{OverrideRequest, prepare, record_out_file};
use crate::render::{self, Printer};

use super::UsageError;

/// Runs `poolcap override`.
pub fn run(global: &GlobalArgs, args: &OverrideArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let settings = config::load(&global.config)?;
    // A fleet left to the data: the services and pools the store saw in the
    // last 31 days. An incident override never fails for want of them.
    let settings = if crate::ops::fleet::needed(&settings) {
        let now = crate::support::clock::now().as_second();
        let window = crate::model::window::Window {
            start: now - 31 * 86_400,
            end: now + 1,
        };
        let store = super::ingest::store_location(global);
        match crate::ops::fleet::resolve(
            settings.clone(),
            &Default::default(),
            Some(&store),
            (window, "the last 31 days"),
            printer,
        ) {
            Ok(resolved) => resolved,
            Err(e) => {
                printer.warn(&format!(
                    "the services and replicas left to the data could not be read ({e:#}); the budget counts the [[services]] of {} only, with replicas = 1 where they are \"seen\"",
                    settings.path.display()
                ));
                settings
            }
        }
    } else {
        settings
    };
    let req = OverrideRequest {
        service: args.service.clone(),
        to: args.to,
        reason: args.reason.clone(),
        incident: args.incident.clone(),
        out: args.out.clone(),
        accept_drift: args.accept_drift,
        allow_over_budget: args.change.allow_over_budget,
        author: args.change.author.clone(),
        ticket: args.change.ticket.clone(),
    };
    crate::ops::overrides::service_index(&settings, &req.service)?;
    if req.reason.trim().is_empty() {
        return Err(UsageError("--reason must say why (it goes in the change log)".into()).into());
    }
    let _lock = if args.change.dry_run {
        None
    } else {
        Some(change::lock(&settings, &args.change.lock_timeout, printer)?)
    };
    let o = match prepare(&settings, &req)? {
        Ok(o) => o,
        Err(refused) => {
            for message in &refused.0 {
                printer.error_line(message);
            }
            return Ok(ExitStatus::Blocked);
        }
    };
    let service = &settings.services[o.service];
    let deploy = render::overrides::deploy(&settings, &o, args.out.is_some());
    let (current, new, files, budget, headroom) = (o.current, o.new, &o.files, &o.budget, o.headroom);
    let json = serde_json::json!({
        "dry_run": args.change.dry_run, "service": service.name, "current": current, "new": new,
        "files": files.iter().map(|f| &f.shown).collect::<Vec<_>>(), "budget_ok": budget.ok,
        "headroom": headroom,
    });
    if args.change.dry_run {
        if global.format == Format::Table {
            printer.out(&change::diff(files, o.log_count))?;
        }
        printer.note(&format!(
            "dry run: {} file(s) would change; nothing written",
            files.len()
        ));
    } else if files.is_empty() {
        printer.note("nothing to change: the files already hold these values");
    } else {
        change::write_all(&settings, files, args.change.force, printer)?;
        if let Some(out) = &args.out {
            record_out_file(&settings, &service.name, out, printer)?;
        }
        if let Some(store) = super::ingest::store_in_use(global) {
            change::record(&store, &o.entries, printer);
        }
    }
    match global.format {
        Format::Json => printer.json(&json)?,
        Format::Table | Format::Csv => printer.out(&deploy)?,
    }
    Ok(ExitStatus::Ok)
}
