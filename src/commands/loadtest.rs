//! `poolcap loadtest`: the hazard card's testing controls against a staging
//! database ([`crate::ops::loadtest`]); the report as Markdown or JSON, into
//! `--out` and the history store; exit 0 when every control passed, 3 when
//! one failed, 1 when the test could not run (or was stopped).

use std::path::Path;

use crate::cli::{Format, GlobalArgs, LoadtestArgs, LoadtestScenario};
use crate::config;
use crate::exit::ExitStatus;
use crate::model::{PoolSize, parse_seconds};
use crate::ops::loadtest::{self, HoldChoice, LoadTestReport, LoadTestRequest, PoolChoice, ScenarioKind};
use crate::render::{self, Printer};

use super::UsageError;

fn seconds(flag: &str, text: &str) -> Result<f64, UsageError> {
    parse_seconds(text).map_err(|m| UsageError(format!("{flag}: {m}")))
}

fn optional(flag: &str, text: Option<&String>) -> Result<Option<f64>, UsageError> {
    text.map(|t| seconds(flag, t)).transpose()
}

/// The request the flags make.
fn request(args: &LoadtestArgs) -> anyhow::Result<LoadTestRequest> {
    let pool = match (args.pool_size, &args.metrics.service) {
        (Some(pool_size), _) => PoolChoice::Given(PoolSize {
            pool_size,
            max_overflow: args.max_overflow.unwrap_or(0),
        }),
        (None, Some(name)) if args.current => PoolChoice::Current(name.clone()),
        (None, Some(name)) => PoolChoice::Recommended(
            name.clone(),
            Box::new(crate::ops::plan::PlanInputs {
                month: args.month.clone(),
                metrics: args.metrics.files(),
                slowlog: Vec::new(),
                slowlog_options: args.slowlog_inputs.options(),
                probe: None,
                probe_pgbouncer: None,
                pgbouncer_pools: Vec::new(),
                accept_drift: false,
            }),
        ),
        (None, None) => {
            return Err(UsageError(
                "say which pool to test: --service NAME (its recommendation, or --current) or --pool-size N --max-overflow M".into(),
            )
            .into());
        }
    };
    let hold = if args.hold_from_slowlog.is_empty() {
        match parse_seconds(&args.hold) {
            Ok(s) if s > 0.0 && s <= 3600.0 => HoldChoice::Given(crate::model::simulation::HoldTime::Fixed(s)),
            Ok(_) => return Err(UsageError(format!("--hold {}: from above 0 to 1h", args.hold)).into()),
            Err(_) => HoldChoice::Given(crate::ops::simulate::parse_hold(&args.hold)?),
        }
    } else {
        HoldChoice::Slowlog(args.hold_from_slowlog.clone(), args.slowlog_inputs.options())
    };
    let scenarios = match args.scenario {
        LoadtestScenario::Load => vec![ScenarioKind::Load],
        LoadtestScenario::Exhaustion => vec![ScenarioKind::Exhaustion],
        LoadtestScenario::Stress => vec![ScenarioKind::Stress],
        LoadtestScenario::Recycle => vec![ScenarioKind::Recycle],
        LoadtestScenario::All => vec![
            ScenarioKind::Load,
            ScenarioKind::Exhaustion,
            ScenarioKind::Stress,
            ScenarioKind::Recycle,
        ],
    };
    Ok(LoadTestRequest {
        url: args.database_url.clone(),
        pool,
        pool_timeout: optional("--pool-timeout", args.pool_timeout.as_ref())?,
        pool_recycle: optional("--pool-recycle", args.pool_recycle.as_ref())?,
        pre_ping: args.pre_ping,
        statement_timeout: optional("--statement-timeout", args.statement_timeout.as_ref())?,
        scenarios,
        users: args.users,
        long_transactions: args.long_transactions,
        rate: args.rate,
        duration: seconds("--duration", &args.duration)?,
        max_duration: seconds("--max-duration", &args.max_duration)?,
        hold,
        workload: args.workload.clone(),
        seed: args.seed,
    })
}

/// Runs `poolcap loadtest`.
pub fn run(global: &GlobalArgs, args: &LoadtestArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let request = request(args)?;
    let needs_config = !matches!(request.pool, PoolChoice::Given(_)) || matches!(request.hold, HoldChoice::Slowlog(..));
    let settings = if needs_config || global.config.exists() {
        Some(config::load(&global.config)?)
    } else {
        None
    };
    let prepared = loadtest::prepare(
        &request,
        settings.as_ref(),
        super::ingest::store_location(global),
        printer,
    )?;
    if let Some(dir) = &args.out {
        prepare_out(dir)?;
    }
    let report = loadtest::run(&prepared, printer)?;
    let markdown = render::loadtest::markdown(&report)?;
    if let Some(dir) = &args.out {
        let written = write_report(dir, &report, &markdown)?;
        printer.note(&format!("report written: {written}"));
    }
    if let (Some(store), Some(service)) = (super::ingest::store_in_use(global), &report.tested.service) {
        crate::ops::loadtest::record(&store, service, &report)?;
    }
    match global.format {
        Format::Json => printer.json(&report)?,
        _ => printer.out(&markdown)?,
    }
    Ok(if report.interrupted {
        printer.error_line("stopped before the end (Ctrl-C): the report holds what was measured so far");
        ExitStatus::Error
    } else if report.passed {
        ExitStatus::Ok
    } else {
        ExitStatus::Changes
    })
}

/// Makes `dir` (a new folder or an existing one): checked before the test
/// runs, so a run does not end with nowhere to write.
fn prepare_out(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(UsageError(format!("--out {}: a file, not a folder", dir.display())).into());
    }
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: cannot create the folder: {e}", dir.display()))?;
    Ok(())
}

/// Writes `loadtest-<start>.json` and `.md` into `dir` (each through a
/// temporary file renamed into place; an earlier run's files are kept).
fn write_report(dir: &Path, report: &LoadTestReport, markdown: &str) -> anyhow::Result<String> {
    let stem = format!("loadtest-{}", report.started_at.replace([':', '-'], ""));
    let json = serde_json::to_string_pretty(report)? + "\n";
    let mut names = Vec::new();
    for (ext, body) in [("json", json.as_str()), ("md", markdown)] {
        let path = dir.join(format!("{stem}.{ext}"));
        let tmp = dir.join(format!(".{stem}.{ext}.tmp"));
        std::fs::write(&tmp, body).map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
        names.push(path.display().to_string());
    }
    Ok(names.join(", "))
}
