//! `poolcap probe`: a live database's connection limits and connections, and
//! the limits `plan --probe` puts into the connection budget.

use crate::cli::{Format, GlobalArgs, ProbeArgs};
use crate::exit::ExitStatus;
use crate::model::parse_duration;
use crate::ops::probe::probe_url;
use crate::render::{self, Printer};

use super::UsageError;

/// Runs `poolcap probe`.
pub fn run(global: &GlobalArgs, args: &ProbeArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let idle = parse_duration(&args.idle_threshold).map_err(|m| UsageError(format!("--idle-threshold: {m}")))?;
    let result = probe_url(&args.database_url, idle as f64)?;
    match global.format {
        Format::Json => printer.json(&result)?,
        _ => printer.out(&render::probe::table(&result))?,
    }
    Ok(ExitStatus::Ok)
}
