//! `poolcap alerts`: the configured alert rules replayed over metric history
//! (DESIGN §1.3) — every episode that fired, per rule and instance, with the
//! same Prometheus `for:` semantics the plan and the review use.

use crate::cli::{AlertsArgs, Format, GlobalArgs};
use crate::commands::UsageError;
use crate::config;
use crate::exit::ExitStatus;
use crate::model::window::Window;
use crate::ops::alerts::{ALL_TIME, replay_settings};
use crate::ops::metrics;
use crate::ops::slowlog::parse_when;
use crate::render::{self, Printer};

/// Runs `poolcap alerts`.
pub fn run(global: &GlobalArgs, args: &AlertsArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let settings = config::load(&global.config)?;
    let tz = &settings.policy.timezone;
    let parse = |text: &Option<String>, flag: &str| -> Result<Option<i64>, UsageError> {
        text.as_deref()
            .map(|t| parse_when(t, tz, flag).map(|ms| ms / 1000))
            .transpose()
    };
    let window = Window {
        start: parse(&args.from, "--from")?.unwrap_or(ALL_TIME.start),
        end: parse(&args.to, "--to")?.unwrap_or(ALL_TIME.end),
    };
    if window.end <= window.start {
        return Err(UsageError("--to must be after --from".into()).into());
    }
    let analyzer = replay_settings(&settings, window);
    let loaded = if args.metrics.metrics.is_empty() {
        let store = super::ingest::store_location(global);
        metrics::load_from_store(&store, &settings, analyzer, printer)?
    } else {
        metrics::load(&args.metrics.files(), &settings, analyzer, printer)?
    };
    let report =
        render::alerts::AlertsReport::new(&settings, &loaded.analysis, &loaded.series, window, window != ALL_TIME);
    match global.format {
        Format::Json => printer.json(&report)?,
        Format::Csv => printer.out(&render::alerts::csv(&report)?)?,
        Format::Table => printer.out(&render::alerts::table(&report))?,
    }
    Ok(ExitStatus::Ok)
}
