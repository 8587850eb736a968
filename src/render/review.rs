//! The monthly review: chart data from the analysis, the charts, and the
//! report rendered from `templates/` (minijinja; a site may pass its own folder).

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::analyze::study::QueueingStudy;
use crate::config::Settings;
use crate::config::names::file_stem;
use crate::ops::plan::PlanOutcome;
use crate::policy::Effect;

use super::charts::{self, HeatmapChart, QueueingChart, SlowQueryChart, TrendChart, UtilizationChart};
use super::plan::PlanReport;

/// The shipped templates.
pub const HTML_TEMPLATE: &str = include_str!("../../templates/report.html.j2");
/// The shipped Markdown template.
pub const MD_TEMPLATE: &str = include_str!("../../templates/report.md.j2");

/// The utilization chart's data for service `k`.
pub fn utilization_chart(settings: &Settings, outcome: &PlanOutcome, k: usize) -> UtilizationChart {
    let tz = &settings.policy.timezone;
    let window = outcome.month.window(tz);
    let days = window.seconds() as f64 / 86_400.0;
    let day_of = |ts: i64| ((ts - window.start) as f64 / 86_400.0).clamp(0.0, days);
    let columns = outcome.analysis.services[k].detail.as_ref().map_or_else(Vec::new, |d| {
        let n = d.columns.len() as f64;
        d.columns
            .iter()
            .enumerate()
            .map(|(i, c)| c.mean().map(|mean| (i as f64 * days / n, c.min, mean, c.max)))
            .collect()
    });
    let instances = outcome.instances_of(k);
    let mut alerts: Vec<(String, f64, f64)> = instances
        .iter()
        .flat_map(|i| i.alerts.iter())
        .map(|a| {
            (
                settings.alerts[a.rule].name.clone(),
                day_of(a.episode.start),
                day_of(a.episode.end),
            )
        })
        .collect();
    // Warnings first, so critical episodes are drawn over them.
    alerts.sort_by(|a, b| {
        (a.0 == "critical", a.1)
            .partial_cmp(&(b.0 == "critical", b.1))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    // Pool size: the largest any instance had, at each change inside the month.
    let mut changes: Vec<i64> = instances
        .iter()
        .flat_map(|i| i.pool_size_changes.iter().map(|c| c.0))
        .collect();
    changes.push(window.start);
    changes.sort_unstable();
    changes.dedup();
    let size_at = |t: i64| {
        instances
            .iter()
            .filter_map(|i| i.pool_size_changes.iter().rev().find(|c| c.0 <= t).map(|c| c.1))
            .max()
    };
    let mut pool_sizes: Vec<(f64, u32)> = Vec::new();
    for t in changes.into_iter().filter(|t| *t >= window.start && *t < window.end) {
        if let Some(size) = size_at(t)
            && pool_sizes.last().is_none_or(|p| p.1 != size)
        {
            pool_sizes.push((day_of(t), size));
        }
    }
    let day_labels = (0..=days.ceil() as i64)
        .map(|d| {
            let ts = window.start + d * 86_400 + 43_200;
            let label = jiff::Timestamp::from_second(ts)
                .map(|t| t.to_zoned_datetime(tz.clone()).strftime("%-d %b").to_string())
                .unwrap_or_default();
            (d as f64, label)
        })
        .collect();
    UtilizationChart {
        service: settings.services[k].name.clone(),
        month: format!("{} ({})", outcome.month, settings.policy.timezone_name),
        days,
        columns,
        alerts,
        pool_sizes,
        day_labels,
    }
}

/// Heat map data for service `k`.
pub fn heatmap_chart(settings: &Settings, outcome: &PlanOutcome, k: usize) -> HeatmapChart {
    let grid = |p95: bool| -> Vec<Vec<Option<f64>>> {
        (0..7)
            .map(|day| {
                (0..24)
                    .map(|hour| {
                        let d = outcome.analysis.services[k]
                            .detail
                            .as_ref()?
                            .heat
                            .get(day * 24 + hour)?;
                        (d.covered() > 0).then(|| if p95 { d.percentiles(&[0.95])[0] } else { d.mean() })
                    })
                    .collect()
            })
            .collect()
    };
    HeatmapChart {
        service: settings.services[k].name.clone(),
        month: format!("{} ({})", outcome.month, settings.policy.timezone_name),
        mean: grid(false),
        p95: grid(true),
    }
}

/// Trend data for service `k`: every analysed month with data, oldest first,
/// and the outlook's projection after them.
pub fn trend_chart(settings: &Settings, outcome: &PlanOutcome, k: usize) -> TrendChart {
    let windows = &outcome.analysis.services[k].windows;
    let mut months: Vec<(String, f64, f64)> = outcome
        .earlier
        .iter()
        .zip(&windows[1..])
        .filter(|(_, w)| w.covered_seconds > 0)
        .map(|(m, w)| (m.to_string(), w.mean_utilization, w.p95_utilization))
        .collect();
    months.reverse();
    months.push((
        outcome.month.to_string(),
        windows[0].mean_utilization,
        windows[0].p95_utilization,
    ));
    let projection = outcome.outlook[k].outlook.as_ref().map_or_else(Vec::new, |o| {
        o.mean
            .projection
            .iter()
            .zip(&o.p95.projection)
            .map(|(m, p)| (m.month.clone(), (m.value, m.low, m.high), (p.value, p.low, p.high)))
            .collect()
    });
    TrendChart {
        service: settings.services[k].name.clone(),
        months,
        projection,
        escalate: settings.policy.escalate_mean_utilization,
        warning: crate::policy::outlook::warning_threshold(&settings.alerts).map(|w| w.0),
        // No pool is used beyond pool_size + max_overflow.
        ceiling: 1.0 + settings.policy.overflow_factor,
    }
}

/// The queueing check of service `k` ([`crate::ops::plan::PlanOutcome::queueing`])
/// and its chart: simulated P(timeout) and wait p99 against `pool_size`.
pub fn queueing(settings: &Settings, outcome: &PlanOutcome, k: usize) -> Option<(QueueingStudy, QueueingChart)> {
    let q = outcome.queueing.get(k)?.clone()?;
    let decision = &outcome.plan.decisions[k];
    let checkouts = q.candidates.iter().map(|c| c.checkouts).max().unwrap_or(0).max(1);
    let chart = QueueingChart {
        service: settings.services[k].name.clone(),
        points: q
            .candidates
            .iter()
            .map(|c| (f64::from(c.pool_size), c.p_timeout, c.wait_p99_ms))
            .collect(),
        current: f64::from(decision.current.pool_size),
        recommended: f64::from(decision.recommended.pool_size),
        target: q.target,
        floor: 1.0 / checkouts as f64,
        note: format!(
            "{} instance-hours, holds mean {:.0} ms",
            q.instance_hours,
            q.hold_seconds * 1000.0
        ),
        calibration: q.calibration.short(),
    };
    Some((q, chart))
}

/// Slow-query chart data (None without slow logs).
pub fn slow_query_chart(outcome: &PlanOutcome) -> Option<SlowQueryChart> {
    let digest = &outcome.slow.as_ref()?.digest;
    let mut ranked: Vec<_> = digest.fingerprints().filter(|(_, s)| s.count > 0).collect();
    ranked.sort_by(|a, b| b.1.total_ms.total_cmp(&a.1.total_ms).then_with(|| a.0.cmp(b.0)));
    let top = ranked
        .iter()
        .take(10)
        .map(|(fp, s)| {
            let short: String = fp.chars().take(60).collect();
            let short = if fp.chars().count() > 60 { short + "…" } else { short };
            (short, s.total_ms / 1000.0, s.over_threshold)
        })
        .collect();
    // All durations, in bins 25% wide (from the digest's 2% buckets).
    let mut all = crate::analyze::digest::Histogram::default();
    for (_, s) in &ranked {
        all.merge(&s.histogram);
    }
    let mut bins: std::collections::BTreeMap<i64, (f64, f64, u64)> = std::collections::BTreeMap::new();
    for (lo, hi, count) in all.buckets() {
        let mid = ((lo.max(1e-3) * hi).sqrt()).max(1e-3);
        let k = (mid.ln() / 1.25f64.ln()).floor() as i64;
        let entry = bins
            .entry(k)
            .or_insert((1.25f64.powi(k as i32), 1.25f64.powi(k as i32 + 1), 0));
        entry.2 += u64::from(count);
    }
    Some(SlowQueryChart {
        top,
        histogram: bins.into_values().collect(),
        threshold_ms: digest.settings().threshold_ms,
    })
}

#[derive(Serialize)]
struct ChartRef {
    name: String,
    title: String,
    svg: String,
}

#[derive(Serialize)]
struct ServiceSection {
    name: String,
    decision: String,
    budget_ok: bool,
    charts: Vec<ChartRef>,
    queueing: Option<QueueingStudy>,
    outlook: String,
    /// The load tests recorded for the service and month.
    loadtests: Vec<LoadTestLine>,
}

/// One recorded load test, as the review lists it.
#[derive(Serialize)]
struct LoadTestLine {
    started_at: String,
    result: &'static str,
    pool: String,
    server: String,
    scenarios: String,
}

impl LoadTestLine {
    /// The line of a stored report (`ops::loadtest::LoadTestReport` as JSON).
    fn of(report: &serde_json::Value) -> LoadTestLine {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
        let result = if report["interrupted"] == true {
            "interrupted"
        } else if report["passed"] == true {
            "passed"
        } else {
            "FAILED"
        };
        let scenarios = report["scenarios"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|s| {
                        let ok = if s["passed"] == true { "passed" } else { "failed" };
                        format!("{} {ok}", text(&s["scenario"]))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        LoadTestLine {
            started_at: text(&report["started_at"]),
            result,
            pool: format!(
                "{} + {}",
                report["tested"]["pool_size"], report["tested"]["max_overflow"]
            ),
            server: text(&report["server"]["kind"]),
            scenarios,
        }
    }
}

/// Template work one report may take (minijinja's fuel); the built-in
/// templates need a small fraction of it on a year of a large deployment.
pub const REPORT_FUEL: u64 = 200_000_000;

/// A report template that does not parse, fails or runs out of fuel (a
/// configuration error: exit 2).
#[derive(Debug, thiserror::Error)]
#[error("report template {0}; fix the template (or drop --templates to use the built-in ones)")]
pub struct ReportTemplateError(String);

/// Renders everything into `dir` (which has a `charts/` folder).
pub fn write(
    settings: &Settings,
    outcome: &PlanOutcome,
    dir: &Path,
    templates: Option<&Path>,
    samples: bool,
    loadtests: &std::collections::BTreeMap<String, Vec<serde_json::Value>>,
) -> anyhow::Result<()> {
    let charts_dir = dir.join("charts");
    check_file_stems(settings)?;
    let plan = PlanReport::new(settings, outcome);
    let mut plan_json = serde_json::to_string_pretty(&plan)?;
    plan_json.push('\n');
    write_file(&dir.join("plan.json"), plan_json)?;

    let mut sections = Vec::new();
    for (k, service) in settings.services.iter().enumerate() {
        let decision = &outcome.plan.decisions[k];
        let mut charts = Vec::new();
        let utilization = utilization_chart(settings, outcome, k);
        charts.push(ChartRef {
            name: utilization_name(&utilization),
            title: "Utilization over the month".into(),
            svg: charts::render(&utilization, &charts_dir)?,
        });
        let heat = heatmap_chart(settings, outcome, k);
        charts.push(ChartRef {
            name: charts::Chart::name(&heat),
            title: "Hour of day × weekday".into(),
            svg: charts::render(&heat, &charts_dir)?,
        });
        let trend = trend_chart(settings, outcome, k);
        charts.push(ChartRef {
            name: charts::Chart::name(&trend),
            title: "Monthly trend".into(),
            svg: charts::render(&trend, &charts_dir)?,
        });
        let queue = queueing(settings, outcome, k);
        if let Some((_, chart)) = &queue {
            charts.push(ChartRef {
                name: charts::Chart::name(chart),
                title: "Queueing check".into(),
                svg: charts::render(chart, &charts_dir)?,
            });
        }
        let deciding = decision
            .deciding
            .and_then(|code| decision.findings.iter().find(|f| f.code == code))
            .map(|f| f.message.clone());
        let sentence = match (decision.changes(), deciding) {
            (true, Some(why)) => format!("{}: {}", decision.deciding.map_or("", |c| c.as_str()), why),
            (true, None) => "increase".to_string(),
            (false, _) if decision.findings.iter().any(|f| f.effect == Effect::Advisory) => {
                "keep (see the advisories below)".to_string()
            }
            (false, _) => "keep: no rule asks for a change".to_string(),
        };
        sections.push(ServiceSection {
            name: service.name.clone(),
            decision: sentence,
            budget_ok: outcome.plan.budget.ok,
            charts,
            queueing: queue.map(|q| q.0),
            outlook: super::plan::outlook_line(&outcome.outlook[k]),
            loadtests: loadtests
                .get(&service.name)
                .map(|runs| runs.iter().map(LoadTestLine::of).collect())
                .unwrap_or_default(),
        });
    }
    let slow_chart = match slow_query_chart(outcome) {
        Some(chart) => Some(ChartRef {
            name: charts::Chart::name(&chart),
            title: "Slow queries".into(),
            svg: charts::render(&chart, &charts_dir)?,
        }),
        None => None,
    };
    let slow = outcome.slow.as_ref().map(|d| {
        let tz = &settings.policy.timezone;
        super::slowlog::SlowlogReport::new(d, tz, 10, samples)
    });
    let data_quality = outcome
        .summary
        .files
        .iter()
        .map(|(p, f)| serde_json::json!({"file": p.display().to_string(), "rows": f.rows, "accepted": f.accepted, "rejected": f.rejected}))
        .collect::<Vec<_>>();
    let context = serde_json::json!({
        "plan": plan,
        "services": sections,
        "slow": slow,
        "slow_chart": slow_chart,
        "budget_arithmetic": outcome.plan.budget.arithmetic(),
        "pgbouncer_clients": outcome.plan.budget.client_sentence(),
        "data_quality": data_quality,
        "rejected": outcome.summary.diagnostics.rejected(),
        "version": env!("CARGO_PKG_VERSION"),
        "generated": crate::support::clock::now().to_zoned_datetime(settings.policy.timezone.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string(),
    });
    let (html_t, md_t) = match templates {
        Some(dir) => (
            std::fs::read_to_string(dir.join("report.html.j2"))
                .with_context(|| format!("{}/report.html.j2", dir.display()))?,
            std::fs::read_to_string(dir.join("report.md.j2"))
                .with_context(|| format!("{}/report.md.j2", dir.display()))?,
        ),
        None => (HTML_TEMPLATE.to_string(), MD_TEMPLATE.to_string()),
    };
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    crate::support::markdown::register(&mut env);
    env.add_filter("pct", |v: f64| format!("{:.1}%", v * 100.0));
    env.add_filter("dur", |s: i64| crate::model::format_duration(s));
    // A figure that has no value (an unstable queue's mean wait) prints as "—".
    env.add_filter("sci", |v: Option<f64>| match v {
        Some(v) if v.is_finite() => crate::model::stats::probability_text(v),
        _ => "—".to_string(),
    });
    // A site's templates are configuration: their errors are config errors
    // (exit 2) naming the file, and their work is bounded by fuel.
    env.set_fuel(Some(REPORT_FUEL));
    let source = |name: &str| match templates {
        Some(d) => d.join(format!("{name}.j2")).display().to_string(),
        None => format!("the built-in {name} template"),
    };
    let template_error = |name: &str, e: minijinja::Error| ReportTemplateError(format!("{}: {e}", source(name)));
    env.add_template_owned("report.html".to_string(), html_t)
        .map_err(|e| template_error("report.html", e))?;
    env.add_template_owned("report.md".to_string(), md_t)
        .map_err(|e| template_error("report.md", e))?;
    let ctx = minijinja::Value::from(minijinja::value::Serde(&context));
    let render = |name: &str| {
        env.get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| template_error(name, e))
    };
    let html = render("report.html")?;
    let md = render("report.md")?;
    write_file(&dir.join("report.html"), html)?;
    write_file(&dir.join("report.md"), md)?;
    Ok(())
}

fn write_file(path: &Path, text: String) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Two services whose names give one file stem would overwrite each other's
/// charts: refused, naming both (only names built to collide, or a 1 in 16
/// million hash collision, get here).
fn check_file_stems(settings: &Settings) -> anyhow::Result<()> {
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for service in &settings.services {
        let stem = file_stem(&service.name);
        if let Some(other) = seen.insert(stem.clone(), &service.name) {
            anyhow::bail!(
                "services {other:?} and {:?} would both write their charts as charts/*-{stem}.png; rename one of them in {}",
                service.name,
                settings.path.display()
            );
        }
    }
    Ok(())
}

fn utilization_name(c: &UtilizationChart) -> String {
    charts::Chart::name(c)
}
