//! Output of `poolcap alerts`: replayed alert episodes as a table, JSON or CSV.

use serde::Serialize;

use crate::analyze::{AlertEpisode, Analysis};
use crate::config::Settings;
use crate::ingest::{SeriesKey, SeriesTable};
use crate::model::window::{Window, format_instant};

/// The replay's result.
#[derive(Debug, Serialize)]
pub struct AlertsReport {
    /// The span replayed (`null` ends: all the data).
    pub from: Option<String>,
    /// End of the span.
    pub to: Option<String>,
    /// The rules, with how often each fired and for how long in all.
    pub rules: Vec<RuleSummary>,
    /// Every episode that fired, by start time.
    pub episodes: Vec<EpisodeRow>,
}

/// One rule's totals.
#[derive(Debug, Serialize)]
pub struct RuleSummary {
    /// Rule name (the Prometheus severity).
    pub rule: String,
    /// Threshold on checked_out / pool_size.
    pub above: f64,
    /// `for:` in seconds.
    pub for_seconds: i64,
    /// Episodes that fired.
    pub episodes: usize,
    /// Seconds firing (from fire time to end), summed.
    pub firing_seconds: i64,
}

/// One replayed alert episode: the one schema of `alerts --format json` and
/// of each service's `alerts` in `plan.json`.
#[derive(Debug, Serialize)]
pub struct EpisodeRow {
    /// Rule name.
    pub rule: String,
    /// Service.
    pub service: String,
    /// Instance.
    pub instance: String,
    /// When the condition first held.
    pub start: String,
    /// When the alert fired (start + for).
    pub fired_at: String,
    /// When the condition stopped holding, or the data stopped: a gap longer
    /// than `max_gap`, or the end of the replayed span.
    pub end: String,
    /// Seconds from start to end.
    pub duration_seconds: i64,
    /// Highest utilization in the episode (6 decimals).
    pub peak_utilization: f64,
    /// Unix seconds of `start` (for sorting and machines).
    #[serde(skip)]
    pub start_ts: i64,
}

impl EpisodeRow {
    /// The alert `a` of the series `key`, instants in `tz`.
    pub fn new(settings: &Settings, key: &SeriesKey, a: &AlertEpisode, tz: &jiff::tz::TimeZone) -> Self {
        EpisodeRow {
            rule: settings.alerts[a.rule].name.clone(),
            service: key.service.clone(),
            instance: key.instance.clone(),
            start: format_instant(a.episode.start, tz),
            fired_at: format_instant(a.episode.fired_at, tz),
            end: format_instant(a.episode.end, tz),
            duration_seconds: a.episode.duration(),
            peak_utilization: (a.episode.peak_utilization * 1e6).round() / 1e6,
            start_ts: a.episode.start,
        }
    }

    /// Episodes in time order (then service, instance, rule).
    pub fn sort(episodes: &mut [EpisodeRow]) {
        episodes.sort_by(|a, b| {
            (a.start_ts, &a.service, &a.instance, &a.rule).cmp(&(b.start_ts, &b.service, &b.instance, &b.rule))
        });
    }
}

impl AlertsReport {
    /// Collects the analysis' alert episodes; `bounded` says whether the span
    /// was given (else it is reported as all the data).
    pub fn new(settings: &Settings, analysis: &Analysis, series: &SeriesTable, window: Window, bounded: bool) -> Self {
        let tz = &settings.policy.timezone;
        let mut episodes: Vec<EpisodeRow> = analysis
            .instances
            .iter()
            .flat_map(|i| {
                let key = series.key(i.series);
                i.alerts.iter().map(move |a| EpisodeRow::new(settings, key, a, tz))
            })
            .collect();
        EpisodeRow::sort(&mut episodes);
        let rules = settings
            .alerts
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let fired: Vec<_> = analysis
                    .instances
                    .iter()
                    .flat_map(|i| i.alerts.iter())
                    .filter(|a| a.rule == k)
                    .collect();
                RuleSummary {
                    rule: r.name.clone(),
                    above: r.above,
                    for_seconds: r.for_seconds,
                    episodes: fired.len(),
                    firing_seconds: fired.iter().map(|a| a.episode.end - a.episode.fired_at).sum(),
                }
            })
            .collect();
        AlertsReport {
            from: bounded.then(|| format_instant(window.start, tz)),
            to: bounded.then(|| format_instant(window.end, tz)),
            rules,
            episodes,
        }
    }
}

/// The episodes as CSV (one row each, header first).
pub fn csv(report: &AlertsReport) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in &report.episodes {
        w.serialize(row)?;
    }
    if report.episodes.is_empty() {
        w.write_record([
            "rule",
            "service",
            "instance",
            "start",
            "fired_at",
            "end",
            "duration_seconds",
            "peak_utilization",
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// The rules' totals, then the episodes.
pub fn table(report: &AlertsReport) -> String {
    let mut out = String::new();
    let span = match (&report.from, &report.to) {
        (Some(a), Some(b)) => format!("from {a} to {b}"),
        _ => "over all the data".to_string(),
    };
    out.push_str(&format!("Alert rules replayed {span}:\n"));
    for r in &report.rules {
        out.push_str(&format!(
            "  {:<10} u > {:.0}% for {}: {} episode(s), firing {} in all\n",
            r.rule,
            r.above * 100.0,
            crate::model::format_duration(r.for_seconds),
            r.episodes,
            crate::model::format_duration(r.firing_seconds),
        ));
    }
    if report.episodes.is_empty() {
        out.push_str("\nNo alert fired.\n");
        return out;
    }
    let widths = [
        report.episodes.iter().map(|e| e.rule.len()).max().unwrap_or(0).max(4),
        report
            .episodes
            .iter()
            .map(|e| e.service.len())
            .max()
            .unwrap_or(0)
            .max(7),
        report
            .episodes
            .iter()
            .map(|e| e.instance.len())
            .max()
            .unwrap_or(0)
            .max(8),
    ];
    out.push_str(&format!(
        "\n{:<w0$}  {:<w1$}  {:<w2$}  {:<25}  {:<25}  {:<25}  {:>9}  {:>5}\n",
        "rule",
        "service",
        "instance",
        "start",
        "fired",
        "end",
        "duration",
        "peak",
        w0 = widths[0],
        w1 = widths[1],
        w2 = widths[2],
    ));
    for e in &report.episodes {
        out.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<25}  {:<25}  {:<25}  {:>9}  {:>4.0}%\n",
            e.rule,
            e.service,
            e.instance,
            e.start,
            e.fired_at,
            e.end,
            crate::model::format_duration(e.duration_seconds),
            e.peak_utilization * 100.0,
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        ));
    }
    out
}
