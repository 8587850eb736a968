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
    let tz = &settings.policy.timezone.clone();
    let parse = |text: &Option<String>, flag: &str| -> Result<Option<i64>, UsageError> {
        text.as_deref()
            .map(|t| parse_when(t, tz, flag).map(|ms| ms / 1000))
            .transpose()
    };
    let files = args.metrics.files();
    let mut window = Window {
        start: parse(&args.from, "--from")?.unwrap_or(ALL_TIME.start),
        end: parse(&args.to, "--to")?.unwrap_or(ALL_TIME.end),
    };
    // From a server without --from: the last 30 days (of --to, or of now).
    if files.prometheus.is_some() && args.from.is_none() {
        if args.to.is_none() {
            window.end = crate::support::clock::now().as_second();
        }
        window.start = window.end - 30 * 86_400;
        printer.note("replaying the last 30 days (give --from and --to for another span)");
    }
    if window.end <= window.start {
        return Err(UsageError("--to must be after --from".into()).into());
    }
    let store = super::ingest::store_location(global);
    let settings = crate::ops::fleet::resolve(settings, &files, Some(&store), (window, "the replayed span"), printer)?;
    let analyzer = replay_settings(&settings, window);
    let loaded = if files.from_store() {
        metrics::load_from_store(&store, &settings, analyzer, printer)?
    } else {
        metrics::load(&files, &settings, analyzer, printer)?
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
