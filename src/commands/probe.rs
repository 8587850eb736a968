//! `poolcap probe`: a live database's connection limits and connections, and
//! the limits `plan --probe` puts into the connection budget.

use crate::cli::{Format, GlobalArgs, ProbeArgs};
use crate::config::{DatabaseBudget, parse_duration};
use crate::exit::ExitStatus;
use crate::render::{self, Printer};
use crate::store::probe::{self, Probe};

use super::UsageError;

/// Probes `url`.
pub fn probe_url(url: &str, idle_threshold_seconds: f64) -> anyhow::Result<Probe> {
    Ok(probe::probe(url, idle_threshold_seconds)?)
}

/// The budget with the live server's limits in place of the configured ones.
pub fn budget_from(probe: &Probe, configured: &DatabaseBudget) -> DatabaseBudget {
    match probe {
        Probe::Postgres(p) => DatabaseBudget {
            max_connections: p.max_connections,
            superuser_reserved_connections: p.superuser_reserved_connections,
            reserved_connections: p.reserved_connections.unwrap_or(0),
            ..configured.clone()
        },
        Probe::Mysql(m) => DatabaseBudget {
            max_connections: m.max_connections,
            // MySQL keeps one extra connection for a SUPER user, not a setting.
            superuser_reserved_connections: 1,
            reserved_connections: 0,
            ..configured.clone()
        },
    }
}

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
