//! The promtool test file of `poolcap export promtool-tests`: proves that the exported alert rules and
//! poolcap's own replay agree. The input series of each test are real metric
//! history; the alerts expected firing at each evaluation are decided by
//! poolcap's replay of that history, not by re-implementing the rules:
//!
//! 1. The replay runs with every configured rule plus a copy of it with
//!    `for: 0`, whose episodes are the spans where the condition holds. A
//!    sample's value is held for Prometheus' lookback (5 min, the sample at
//!    exactly T − 5m still counting in promtool 2.42), not for `max_gap`.
//! 2. Prometheus only looks at the condition at its evaluation times (every
//!    minute from the test's start): an alert is pending from the first
//!    evaluation where the condition holds and fires at the first evaluation
//!    at least `for` later, while it still holds. Applied to the replay's
//!    condition spans, that gives the firing alerts at every evaluation. When
//!    every sample and every start and end of the condition lie on the
//!    evaluation grid, these are exactly the replay's fired episodes
//!    (`fired_at ≤ T < end`), and the command checks that they are. Otherwise
//!    Prometheus cannot see what happens between two evaluations (a dip, the
//!    end of a sample's lookback): its alert then follows the condition at the
//!    evaluation times, which is what the tests expect.
//! 3. Cases: with `--from/--to`, one per instance covering the span, checked
//!    every minute; otherwise one around every fired episode (merged per
//!    instance) and around each rule's two longest near misses (the condition
//!    held, not longer than `for`), checked at every change of state and every
//!    10 minutes.

use std::collections::BTreeMap;

use super::UsageError;
use super::alerts::{ALL_TIME, replay_settings};
use super::metrics::MetricFiles;
use super::slowlog::parse_when;
use crate::config::{AlertRule, Settings};
use crate::ingest::{self, Diagnostics, ReadOptions, SeriesKey, SeriesTable};
use crate::model::window::{Window, format_instant};
use crate::policy::alert_rules::{alert_name, annotation_templates, check_alert_name, expand_annotation};
use crate::support::notice::Notices;
use file::{
    AlertCheck, ExpectedAlert, InputSeries, TestFile, TestGroup, expanding_notation, series_selector, test_duration,
};

mod file;

/// Prometheus' default lookback: a sample answers queries for 5 minutes.
pub use crate::ingest::prometheus::LOOKBACK_SECONDS as LOOKBACK;
/// The evaluation interval the tests use (Prometheus' default).
pub const EVALUATION_INTERVAL: i64 = 60;
/// Context before a fired episode / after it ends, in an automatic case.
const LEAD: i64 = 15 * 60;
const TAIL: i64 = 10 * 60;
/// How many near misses of each rule become cases.
const NEAR_MISSES_PER_RULE: usize = 2;
/// Checks between state changes in an automatic case.
const CHECK_EVERY: i64 = 10 * 60;

/// What the command wrote, for its note and for tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Test groups.
    pub cases: usize,
    /// Checks expecting at least one firing alert.
    pub firing_checks: usize,
    /// Checks expecting none.
    pub quiet_checks: usize,
}

/// One test: an instance over a span of time.
#[derive(Debug, Clone)]
struct Case {
    key: SeriesKey,
    start: i64,
    end: i64,
    why: String,
}

/// What the replay says about one instance.
#[derive(Debug, Default)]
struct Replay {
    /// Per rule: spans where the condition holds (the `for: 0` copy's episodes).
    holds: Vec<Vec<(i64, i64)>>,
    /// Per rule: fired episodes (start, fired_at, end).
    fired: Vec<Vec<(i64, i64, i64)>>,
}

/// Builds the test file (YAML) from the metric files of `args`: with
/// `span`, one case per instance checked every minute of it; without, cases
/// around every fired episode and the longest near misses — of the episodes
/// in `within` when given (the evidence pack's period), else of all the data.
pub fn promtool_tests(
    settings: &Settings,
    metrics: &MetricFiles,
    span: Option<Window>,
    within: Option<Window>,
    rules_path: &str,
    printer: &mut dyn Notices,
) -> anyhow::Result<(String, Counts)> {
    if metrics.from_store() {
        return Err(UsageError("export promtool-tests needs --metrics FILE… or --prometheus URL".into()).into());
    }
    let rules = &settings.alerts;
    for rule in rules {
        check_alert_name(&alert_name(rule))?;
    }
    let window = span.or(within).unwrap_or(ALL_TIME);
    let resolved;
    let settings = if super::fleet::needed(settings) {
        resolved = super::fleet::resolve(settings.clone(), metrics, None, (window, "the tested span"), printer)?;
        &resolved
    } else {
        settings
    };
    // The last evaluation is at the span's end: the replay must report what starts there.
    let mut analyzer = replay_settings(
        settings,
        Window {
            start: window.start,
            end: window.end + EVALUATION_INTERVAL,
        },
    );
    analyzer.max_gap = Some(LOOKBACK + 1);
    analyzer.alerts.extend(rules.iter().map(|r| AlertRule {
        name: r.name.clone(),
        above: r.above,
        for_seconds: 0,
    }));
    let loaded = super::metrics::load(metrics, settings, analyzer, printer)?;

    let mut replays: BTreeMap<SeriesKey, Replay> = BTreeMap::new();
    for instance in &loaded.analysis.instances {
        let replay = replays
            .entry(loaded.series.key(instance.series).clone())
            .or_insert_with(|| Replay {
                holds: vec![Vec::new(); rules.len()],
                fired: vec![Vec::new(); rules.len()],
            });
        for a in &instance.alerts {
            let e = &a.episode;
            if a.rule < rules.len() {
                replay.fired[a.rule].push((e.start, e.fired_at, e.end));
            } else {
                replay.holds[a.rule - rules.len()].push((e.start, e.end));
            }
        }
    }
    for replay in replays.values_mut() {
        replay.holds.iter_mut().for_each(|h| h.sort_unstable());
        replay.fired.iter_mut().for_each(|f| f.sort_unstable());
    }

    let cases = match span {
        Some(w) => replays
            .keys()
            .map(|key| Case {
                key: key.clone(),
                start: floor_minute(w.start),
                end: floor_minute(w.end),
                why: "every minute of the span".into(),
            })
            .collect(),
        None => automatic_cases(&replays, rules),
    };
    if cases.is_empty() {
        return Err(UsageError(
            "no alert fired and the condition never held in the history: nothing to test; give --from/--to to test a span"
                .into(),
        )
        .into());
    }
    let samples = case_samples(metrics, settings, &cases)?;

    let mut counts = Counts::default();
    let mut groups = Vec::new();
    let tz = &settings.policy.timezone;
    for (case, samples) in cases.iter().zip(&samples) {
        if samples.is_empty() {
            continue;
        }
        let replay = &replays[&case.key];
        let group = test_group(settings, case, samples, replay, span.is_some(), &mut counts)?;
        groups.push(TestGroup {
            name: format!(
                "{}/{} {} – {}: {}",
                case.key.service,
                case.key.instance,
                format_instant(case.start, tz),
                format_instant(case.end, tz),
                case.why
            ),
            ..group
        });
    }
    counts.cases = groups.len();
    let file = TestFile {
        rule_files: vec![rules_path.to_string()],
        evaluation_interval: test_duration(EVALUATION_INTERVAL),
        tests: groups,
    };
    let inputs = match &metrics.prometheus {
        Some(p) => format!(
            "Prometheus at {}",
            crate::ingest::prometheus_api::shown_url(&p.client.url)
        ),
        None => metrics
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let source = format!("{} ({inputs})", settings.path.display());
    Ok((file::to_yaml(&file, &source)?, counts))
}

/// The span of `--from/--to`, when given.
pub fn span(settings: &Settings, from: &Option<String>, to: &Option<String>) -> Result<Option<Window>, UsageError> {
    let tz = &settings.policy.timezone;
    match (from, to) {
        (Some(from), Some(to)) => {
            let w = Window {
                start: parse_when(from, tz, "--from")? / 1000,
                end: parse_when(to, tz, "--to")? / 1000,
            };
            if w.end - w.start < EVALUATION_INTERVAL {
                return Err(UsageError("--to must be at least a minute after --from".into()));
            }
            Ok(Some(w))
        }
        _ => Ok(None),
    }
}

fn floor_minute(ts: i64) -> i64 {
    ts.div_euclid(EVALUATION_INTERVAL) * EVALUATION_INTERVAL
}

fn ceil_minute(ts: i64) -> i64 {
    floor_minute(ts + EVALUATION_INTERVAL - 1)
}

/// Cases around every fired episode and the longest near misses, merged
/// where they overlap on one instance.
fn automatic_cases(replays: &BTreeMap<SeriesKey, Replay>, rules: &[AlertRule]) -> Vec<Case> {
    let mut wanted: Vec<Case> = Vec::new();
    // Per rule: (how long the condition held, the case around it).
    let mut misses: Vec<Vec<(i64, Case)>> = vec![Vec::new(); rules.len()];
    for (key, replay) in replays {
        for (r, fired) in replay.fired.iter().enumerate() {
            for &(start, _, end) in fired {
                wanted.push(Case {
                    key: key.clone(),
                    start: floor_minute(start) - LEAD,
                    end: ceil_minute(end) + TAIL,
                    why: format!("{} fired", rules[r].name),
                });
            }
        }
        for (r, holds) in replay.holds.iter().enumerate() {
            for &(start, end) in holds {
                let inside_fired = replay.fired[r].iter().any(|&(s, _, e)| s <= start && end <= e);
                if !inside_fired {
                    misses[r].push((
                        end - start,
                        Case {
                            key: key.clone(),
                            start: floor_minute(start) - TAIL,
                            end: ceil_minute(end) + TAIL,
                            why: format!(
                                "{} held {}, not longer than {}: must not fire",
                                rules[r].name,
                                test_duration(end - start),
                                test_duration(rules[r].for_seconds)
                            ),
                        },
                    ));
                }
            }
        }
    }
    for mut rule_misses in misses {
        rule_misses.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.start.cmp(&b.1.start)));
        wanted.extend(rule_misses.into_iter().take(NEAR_MISSES_PER_RULE).map(|(_, c)| c));
    }
    wanted.sort_by(|a, b| (&a.key, a.start).cmp(&(&b.key, b.start)));
    let mut merged: Vec<Case> = Vec::new();
    for case in wanted {
        match merged.last_mut() {
            Some(last) if last.key == case.key && case.start <= last.end => {
                last.end = last.end.max(case.end);
                if !last.why.contains(&case.why) {
                    last.why = format!("{}; {}", last.why, case.why);
                }
            }
            _ => merged.push(case),
        }
    }
    merged
}

/// The samples (time, checked out, pool size) of every case, read again from
/// the files: only the cases' spans are kept.
fn case_samples(
    metrics: &MetricFiles,
    settings: &Settings,
    cases: &[Case],
) -> anyhow::Result<Vec<Vec<(i64, u32, u32)>>> {
    let opts = ReadOptions::new(settings, metrics.service.clone(), metrics.format);
    let mut by_key: BTreeMap<&SeriesKey, Vec<usize>> = BTreeMap::new();
    for (k, case) in cases.iter().enumerate() {
        by_key.entry(&case.key).or_default().push(k);
    }
    let mut out: Vec<Vec<(i64, u32, u32)>> = vec![Vec::new(); cases.len()];
    let mut series = SeriesTable::with_limit(metrics.max_series);
    let mut case_of_series: Vec<Vec<usize>> = Vec::new();
    // Bad rows were reported (or let through under --lenient) by the replay's read.
    let mut diags = Diagnostics::default();
    let mut sink = |table: &SeriesTable, s: ingest::Sample| {
        while case_of_series.len() < table.len() {
            let key = table.key(case_of_series.len() as u32);
            case_of_series.push(by_key.get(key).cloned().unwrap_or_default());
        }
        for &k in &case_of_series[s.series as usize] {
            if cases[k].start <= s.ts && s.ts <= cases[k].end {
                out[k].push((s.ts, s.checked_out, s.pool_size));
            }
        }
    };
    if let Some(source) = &metrics.prometheus {
        // The cases' span read from the server again, as the replay read it.
        let from = cases.iter().map(|c| c.start).min().unwrap_or(0);
        let to = cases.iter().map(|c| c.end).max().unwrap_or(0) + 1;
        let fetch = super::prometheus::prepare(
            source,
            settings,
            metrics.service.as_deref(),
            (from, to),
            &mut crate::support::notice::Silent,
        )?;
        let opts = ReadOptions {
            format: ingest::MetricFormat::Prometheus,
            ..opts.clone()
        };
        let fetched = fetch.read(
            &opts,
            &mut series,
            &mut diags,
            &indicatif::ProgressBar::hidden(),
            &mut |t, s| {
                sink(t, s);
                true
            },
        );
        fetched.result?;
    }
    for (file, path) in metrics.files.iter().enumerate() {
        let input = ingest::open(path)?;
        ingest::read_metrics(
            input,
            ingest::ReadContext {
                path,
                file: file as u32,
                opts: &opts,
                series: &mut series,
                diags: &mut diags,
                sink: &mut sink,
            },
        )?;
    }
    for samples in &mut out {
        // In time order; of two samples in one second the later read wins.
        samples.reverse();
        samples.sort_by_key(|s| s.0);
        samples.dedup_by_key(|s| s.0);
    }
    Ok(out)
}

/// The input series and checks of one case.
fn test_group(
    settings: &Settings,
    case: &Case,
    samples: &[(i64, u32, u32)],
    replay: &Replay,
    every_minute: bool,
    counts: &mut Counts,
) -> anyhow::Result<TestGroup> {
    let p = &settings.prometheus;
    let rules = &settings.alerts;
    let labels = BTreeMap::from([
        (p.service_label.clone(), case.key.service.clone()),
        (p.instance_label.clone(), case.key.instance.clone()),
    ]);

    // Input series: one slot per interval from the case's start.
    let interval = samples
        .iter()
        .fold(EVALUATION_INTERVAL, |g, s| gcd(g, s.0 - case.start))
        .max(1);
    let slots = ((case.end - case.start) / interval + 1) as usize;
    let mut checked_out = vec![None; slots];
    let mut pool_size = vec![None; slots];
    for &(ts, co, ps) in samples {
        let k = ((ts - case.start) / interval) as usize;
        checked_out[k] = Some(u64::from(co));
        pool_size[k] = Some(u64::from(ps));
    }
    let input_series = vec![
        InputSeries {
            series: series_selector(&p.checked_out_metric, &labels),
            values: expanding_notation(&checked_out),
        },
        InputSeries {
            series: series_selector(&p.pool_size_metric, &labels),
            values: expanding_notation(&pool_size),
        },
    ];

    // Prometheus' view at each evaluation: the latest sample within the lookback.
    let first = samples[0].0;
    let grid: Vec<i64> = (0..)
        .map(|k| case.start + k * EVALUATION_INTERVAL)
        .take_while(|t| *t <= case.end)
        .collect();
    let value_at = |t: i64| -> Option<f64> {
        let i = samples.partition_point(|s| s.0 <= t);
        let &(ts, co, ps) = samples.get(i.checked_sub(1)?)?;
        (t - ts <= LOOKBACK).then(|| f64::from(co) / f64::from(ps))
    };
    // firing[r][g]: rule r fires at grid[g], from the replay's condition spans.
    let on_grid = |t: i64| (t - case.start) % EVALUATION_INTERVAL == 0;
    let samples_on_grid = samples.iter().all(|s| on_grid(s.0));
    let mut firing: Vec<Vec<bool>> = Vec::new();
    for (r, rule) in rules.iter().enumerate() {
        let holds = &replay.holds[r];
        let aligned = samples_on_grid
            && holds
                .iter()
                .filter(|h| h.1 > case.start && h.0 <= case.end)
                .all(|h| on_grid(h.0) && on_grid(h.1));
        let mut active_since: Option<i64> = None;
        // Whether the condition's current span began before the case's data
        // (Prometheus only sees it from the first sample on).
        let mut clipped = false;
        let mut row = Vec::with_capacity(grid.len());
        for &t in &grid {
            let i = holds.partition_point(|h| h.0 <= t);
            let held = t >= first && i > 0 && t < holds[i - 1].1;
            if held != value_at(t).is_some_and(|u| u > rule.above) {
                anyhow::bail!(
                    "internal: the replay and the samples disagree about {} at {t} for {}/{}",
                    rule.name,
                    case.key.service,
                    case.key.instance
                );
            }
            if held && active_since.is_none() {
                clipped = holds[i - 1].0 < first;
            }
            active_since = if held { active_since.or(Some(t)) } else { None };
            let fires = active_since.is_some_and(|since| t - since >= rule.for_seconds);
            // On the evaluation grid, the firing evaluations are exactly those
            // inside a fired episode (fired_at ≤ t < end).
            if aligned && !clipped {
                let in_fired = replay.fired[r]
                    .iter()
                    .any(|&(start, fired_at, end)| start >= first && fired_at <= t && t < end);
                if fires != in_fired {
                    anyhow::bail!(
                        "internal: {} at {t} for {}/{}: the evaluations say {fires}, the fired episodes {in_fired}",
                        rule.name,
                        case.key.service,
                        case.key.instance
                    );
                }
            }
            row.push(fires);
        }
        firing.push(row);
    }

    // Which evaluations to check.
    let checked: Vec<usize> = (0..grid.len())
        .filter(|&g| {
            every_minute
                || g + 1 == grid.len()
                || (grid[g] - case.start) % CHECK_EVERY == 0
                || firing.iter().any(|row| {
                    let changes_here = g > 0 && row[g] != row[g - 1];
                    let changes_next = g + 1 < grid.len() && row[g] != row[g + 1];
                    changes_here || changes_next
                })
        })
        .collect();
    let mut alert_rule_test = Vec::new();
    for &g in &checked {
        let t = grid[g];
        for (r, rule) in rules.iter().enumerate() {
            let exp_alerts = if firing[r][g] {
                counts.firing_checks += 1;
                let value = value_at(t).expect("a firing alert has a value");
                let mut exp_labels = labels.clone();
                exp_labels.insert("severity".into(), rule.name.clone());
                let exp_annotations = annotation_templates(settings, rule)
                    .into_iter()
                    .map(|(k, v)| (k, expand_annotation(&v, &labels, value)))
                    .collect();
                vec![ExpectedAlert {
                    exp_labels,
                    exp_annotations,
                }]
            } else {
                counts.quiet_checks += 1;
                Vec::new()
            };
            alert_rule_test.push(AlertCheck {
                eval_time: test_duration(t - case.start),
                alertname: alert_name(rule),
                exp_alerts,
            });
        }
    }
    Ok(TestGroup {
        name: String::new(),
        interval: test_duration(interval),
        input_series,
        alert_rule_test,
    })
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

/// Runs `export promtool-tests`: the file's text and what it holds.
pub fn run(
    settings: &Settings,
    metrics: &MetricFiles,
    from: &Option<String>,
    to: &Option<String>,
    rules_path: &str,
    printer: &mut dyn Notices,
) -> anyhow::Result<String> {
    let span = span(settings, from, to)?;
    let (text, counts) = promtool_tests(settings, metrics, span, None, rules_path, printer)?;
    printer.note(&format!(
        "{} test case(s): {} check(s) of firing alerts, {} of none firing",
        counts.cases, counts.firing_checks, counts.quiet_checks
    ));
    Ok(text)
}
