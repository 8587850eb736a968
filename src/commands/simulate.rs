//! `poolcap simulate`: SQLAlchemy's QueuePool on a synthetic workload
//! ([`crate::ops::simulate`]), as a table or JSON.

use crate::analyze::simulator::PoolConfig;
use crate::cli::{Format, GlobalArgs, SimulateArgs};
use crate::exit::ExitStatus;
use crate::ops::simulate::{Scenario, parse_arrivals, parse_hold};
use crate::render::{self, Printer};

use super::UsageError;

/// Runs `poolcap simulate`.
pub fn run(global: &GlobalArgs, args: &SimulateArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let recycle = match args.pool_recycle {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            return Err(UsageError(format!("--pool-recycle {s}: a positive number of seconds")).into());
        }
        other => other,
    };
    let scenario = Scenario {
        rate: parse_arrivals(&args.arrivals)?,
        hold: parse_hold(&args.hold)?,
        pool: PoolConfig {
            pool_size: args.pool_size,
            max_overflow: args.max_overflow,
            timeout: args.pool_timeout,
            connect: args.connect_ms / 1000.0,
            recycle,
        },
        duration: args.duration,
        seed: args.seed,
    };
    let report = crate::ops::simulate::run(&scenario)?;
    match global.format {
        Format::Json => printer.json(&report)?,
        _ => printer.out(&render::simulate::table(&report))?,
    }
    Ok(ExitStatus::Ok)
}
