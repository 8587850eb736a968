//! `poolcap simulate`: SQLAlchemy's QueuePool on the measured month
//! (`--month`: [`crate::ops::queueing`] through the plan) or on a synthetic
//! workload ([`crate::ops::simulate`]), as a table or JSON.

use crate::analyze::simulator::PoolConfig;
use crate::cli::{Format, GlobalArgs, SimulateArgs};
use crate::exit::ExitStatus;
use crate::model::simulation::Hours;
use crate::ops::plan::{self, ComputeOptions, QueueingSizes};
use crate::ops::queueing::CheckRequest;
use crate::ops::simulate::{Scenario, month_report, parse_arrivals, parse_hold, parse_pool_sizes};
use crate::render::{self, Printer};

use super::UsageError;

/// Runs `poolcap simulate`.
pub fn run(global: &GlobalArgs, args: &SimulateArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    match &args.month {
        Some(month) => from_data(global, args, month, printer),
        None => synthetic(global, args, printer),
    }
}

/// `simulate --month`: the plan's queueing check at the sizes asked.
fn from_data(
    global: &GlobalArgs,
    args: &SimulateArgs,
    month: &str,
    printer: &mut Printer,
) -> anyhow::Result<ExitStatus> {
    let inputs = plan::PlanInputs {
        month: month.to_string(),
        metrics: args.metrics.files(),
        slowlog: args.slowlog.clone(),
        slowlog_options: args.slowlog_inputs.options(),
        ..plan::PlanInputs::default()
    };
    let settings = super::planned_settings(global, &inputs, printer)?;
    let hours = match &args.hours {
        Some(text) => Hours::parse(text).map_err(|m| UsageError(format!("--hours {m}")))?,
        None => settings.policy.simulate_hours,
    };
    let seed = args.seed.unwrap_or(settings.policy.simulation_seed);
    let sizes = match &args.pool_sizes {
        Some(text) => QueueingSizes::Given(parse_pool_sizes(text, settings.policy.escalate_step)?),
        None => QueueingSizes::Chart,
    };
    let options = ComputeOptions {
        store: Some(super::ingest::store_location(global)),
        queueing_sizes: sizes,
        queueing_request: Some(CheckRequest {
            hours,
            seed,
            ..CheckRequest::from_settings(&settings)
        }),
        ..ComputeOptions::default()
    };
    let outcome = plan::compute_with(&settings, &inputs, &options, printer)?;
    let report = month_report(&settings, &outcome, hours, seed, args.metrics.service.as_deref());
    if report.services.is_empty() {
        return Err(UsageError(format!(
            "no service has samples in {}: nothing to simulate (check --month and the metric files)",
            report.month
        ))
        .into());
    }
    match global.format {
        Format::Json => printer.json(&report)?,
        _ => printer.out(&render::simulate::month_table(&report))?,
    }
    Ok(ExitStatus::Ok)
}

/// `simulate --arrivals …`: one synthetic scenario.
fn synthetic(global: &GlobalArgs, args: &SimulateArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let missing = |flag: &str| UsageError(format!("{flag} is required without --month (a synthetic run)"));
    let recycle = match args.pool_recycle {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            return Err(UsageError(format!("--pool-recycle {s}: a positive number of seconds")).into());
        }
        other => other,
    };
    let scenario = Scenario {
        rate: parse_arrivals(args.arrivals.as_deref().ok_or_else(|| missing("--arrivals"))?)?,
        hold: parse_hold(args.hold.as_deref().ok_or_else(|| missing("--hold"))?)?,
        pool: PoolConfig {
            pool_size: args.pool_size.ok_or_else(|| missing("--pool-size"))?,
            max_overflow: args.max_overflow,
            timeout: args.pool_timeout,
            connect: args.connect_ms / 1000.0,
            recycle,
            pre_ping: false,
        },
        duration: args.duration,
        seed: args.seed.unwrap_or(1),
    };
    let report = crate::ops::simulate::run(&scenario)?;
    match global.format {
        Format::Json => printer.json(&report)?,
        _ => printer.out(&render::simulate::table(&report))?,
    }
    Ok(ExitStatus::Ok)
}
