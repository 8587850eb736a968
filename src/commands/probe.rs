//! `poolcap probe`: a live database's connection limits and connections, and
//! the limits `plan --probe` puts into the connection budget; with
//! `--pgbouncer`, PgBouncer's limits and server pools (`plan --probe-pgbouncer`).

use crate::cli::{Format, GlobalArgs, ProbeArgs};
use crate::exit::ExitStatus;
use crate::model::parse_duration;
use crate::ops::probe::{probe_pgbouncer, probe_url};
use crate::render::{self, Printer};

use super::UsageError;

/// Runs `poolcap probe`.
pub fn run(global: &GlobalArgs, args: &ProbeArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let idle = parse_duration(&args.idle_threshold).map_err(|m| UsageError(format!("--idle-threshold: {m}")))?;
    if let (Some(url), Some(file)) = (&args.pgbouncer, &args.record) {
        let every = parse_duration(&args.every).map_err(|m| UsageError(format!("--every: {m}")))?;
        if every < 1 {
            return Err(UsageError("--every: at least 1s between snapshots".into()).into());
        }
        let n = crate::ops::probe::record_pgbouncer(
            url,
            file,
            std::time::Duration::from_secs(every as u64),
            args.count,
            printer,
        )?;
        printer.note(&format!("recorded {n} snapshot(s) in {}", file.display()));
        return Ok(ExitStatus::Ok);
    }
    let database = args
        .database_url
        .as_deref()
        .map(|url| probe_url(url, idle as f64))
        .transpose()?;
    let pgbouncer = args.pgbouncer.as_deref().map(probe_pgbouncer).transpose()?;
    match (global.format, &database, &pgbouncer) {
        (Format::Json, Some(d), None) => printer.json(d)?,
        (Format::Json, None, Some(b)) => printer.json(b)?,
        (Format::Json, _, _) => printer.json(&serde_json::json!({ "database": database, "pgbouncer": pgbouncer }))?,
        _ => {
            let mut text = database.as_ref().map(render::probe::table).unwrap_or_default();
            if let Some(b) = &pgbouncer {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&render::probe::pgbouncer_table(b));
            }
            printer.out(&text)?
        }
    }
    Ok(ExitStatus::Ok)
}
