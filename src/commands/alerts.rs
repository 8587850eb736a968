//! `poolcap alerts`: the configured alert rules replayed over metric history
//! (DESIGN §1.3) — every episode that fired, per rule and instance, with the
//! same Prometheus `for:` semantics the plan and the review use.

use crate::analyze::AnalyzerSettings;
use crate::analyze::window::Window;
use crate::cli::{AlertsArgs, Format, GlobalArgs};
use crate::commands::UsageError;
use crate::commands::slowlog::parse_when;
use crate::config::{self, PoolSize};
use crate::exit::ExitStatus;
use crate::render::{self, Printer};

/// The replay's span when neither `--from` nor `--to` is given: all the data.
pub const ALL_TIME: Window = Window {
    start: 946_684_800, // 2000-01-01T00:00:00Z
    end: 4_102_444_800, // 2100-01-01T00:00:00Z
};

/// The analysis that replays the alert rules over `window` (statistics for
/// that window only; no chart detail).
pub fn replay_settings(settings: &config::Settings, window: Window) -> AnalyzerSettings {
    // Capacity (for saturation) needs each service's overflow: the configured
    // pool; samples that carry max_overflow use their own.
    let service_pools: Vec<PoolSize> = settings
        .services
        .iter()
        .map(|s| {
            s.current.unwrap_or(PoolSize {
                pool_size: 0,
                max_overflow: 0,
            })
        })
        .collect();
    AnalyzerSettings {
        episode_window: window,
        windows: vec![window],
        alerts: settings.alerts.clone(),
        sustained_utilization: settings.policy.sustained_utilization,
        sustained_for: settings.policy.sustained_for,
        max_gap: settings.policy.max_gap,
        reorder_window: settings.policy.reorder_window,
        service_pools,
        overflow_factor: settings.policy.overflow_factor,
        detail: None,
    }
}

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
        super::metrics::load_from_store(&store, &settings, analyzer, printer)?
    } else {
        super::metrics::load(&args.metrics, &settings, analyzer, printer)?
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
