//! `poolcap doctor`: is this deployment ready to plan? One line per check
//! ([`crate::ops::doctor`]); exit 0 unless a check is an error.

use crate::cli::{DoctorArgs, Format, GlobalArgs};
use crate::exit::ExitStatus;
use crate::ops::doctor::{DoctorRequest, Status, diagnose};
use crate::render::Printer;

/// Runs `poolcap doctor`.
pub fn run(global: &GlobalArgs, args: &DoctorArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let checks = diagnose(&DoctorRequest {
        config: &global.config,
        store: super::ingest::store_in_use(global),
        month: args.month.clone(),
        metrics: args.metrics.clone(),
    });
    let failed = checks.iter().any(|c| c.status == Status::Error);
    match global.format {
        Format::Json => printer.json(&serde_json::json!({ "ok": !failed, "checks": checks }))?,
        _ => {
            let text = crate::render::doctor::table(&checks, printer);
            printer.out(&text)?;
        }
    }
    Ok(if failed { ExitStatus::Error } else { ExitStatus::Ok })
}
