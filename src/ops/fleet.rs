//! The fleet a run plans when the config leaves part of it to the data:
//! `[discovery] from = "metrics"` adds every service present in the period's
//! metrics (made from `[defaults]`), and `replicas = "seen"` takes a
//! service's replicas from the pools seen reporting at once.
//!
//! One pass before the analysis lists the services and their pools (files:
//! a parse that keeps each instance's first and last sample; the store: one
//! SQL query; Prometheus: one instant query); the run then plans the
//! resolved [`Settings`] as if every service had been written out.

use std::collections::BTreeMap;

use crate::config::{Discovery, Settings};
use crate::ingest::{self, Diagnostics, ReadOptions, SeriesTable};
use crate::model::window::Window;
use crate::support::notice::Notices;

use super::metrics::MetricFiles;

/// Whether the run must look at the data before it knows its services.
pub fn needed(settings: &Settings) -> bool {
    settings.discovery == Discovery::Metrics || settings.services.iter().any(|s| s.replicas_seen)
}

/// The most instances reporting at once, per service, from each instance's
/// first and last sample in the window (an instance reports from its first
/// to its last sample; one ending as another starts is not both at once).
pub fn peak_from_spans<'a>(spans: impl Iterator<Item = (&'a str, i64, i64)>) -> BTreeMap<String, u32> {
    let mut events: BTreeMap<&str, Vec<(i64, i32)>> = BTreeMap::new();
    for (service, first, last) in spans {
        let e = events.entry(service).or_default();
        e.push((first, 1));
        e.push((last, -1));
    }
    events
        .into_iter()
        .map(|(service, mut e)| {
            // At one instant an ending comes before a start (-1 sorts first),
            // but an instance with a single sample still counts once.
            e.sort_unstable();
            let (mut now, mut peak) = (0i64, 0i64);
            for (_, d) in e {
                now += i64::from(d);
                peak = peak.max(now);
            }
            (service.to_string(), u32::try_from(peak.max(1)).unwrap_or(u32::MAX))
        })
        .collect()
}

/// The pools seen per service in `window`, from wherever the run reads its
/// samples: the files, a Prometheus server, or the history store at `store`.
pub fn pools_seen(
    metrics: &MetricFiles,
    settings: &Settings,
    store: Option<&str>,
    window: Window,
) -> anyhow::Result<BTreeMap<String, u32>> {
    if let Some(source) = &metrics.prometheus {
        return super::prometheus::pools_seen(source, settings, metrics.service.as_deref(), window);
    }
    if metrics.files.is_empty() {
        let Some(location) = store else {
            anyhow::bail!("the services are discovered in the metrics, and none were given; name them with --metrics");
        };
        let store = crate::store::history::Store::open_existing(location)?;
        let spans = store.instance_spans(window.start, window.end)?;
        return Ok(peak_from_spans(spans.iter().map(|(s, _, a, b)| (s.as_str(), *a, *b))));
    }
    let files = ingest::expand_folders(&metrics.files)?;
    let opts = ReadOptions::new(settings, metrics.service.clone(), metrics.format);
    let mut series = SeriesTable::with_limit(metrics.max_series);
    // Bad rows are the analysis's to report: this pass only lists.
    let mut diags = Diagnostics::default();
    let mut spans: Vec<Option<(i64, i64)>> = Vec::new();
    for (i, path) in files.iter().enumerate() {
        ingest::read_metrics(
            ingest::open(path)?,
            ingest::ReadContext {
                path,
                file: i as u32,
                opts: &opts,
                series: &mut series,
                diags: &mut diags,
                sink: &mut |_, s| {
                    if !window.contains(s.ts) {
                        return;
                    }
                    let id = s.series as usize;
                    if spans.len() <= id {
                        spans.resize(id + 1, None);
                    }
                    let span = &mut spans[id];
                    *span = Some(span.map_or((s.ts, s.ts), |(a, b)| (a.min(s.ts), b.max(s.ts))));
                },
            },
        )?;
    }
    let names: Vec<String> = (0..spans.len())
        .map(|id| series.key(id as u32).service.to_string())
        .collect();
    Ok(peak_from_spans(
        spans
            .iter()
            .zip(&names)
            .filter_map(|(span, name)| span.map(|(a, b)| (name.as_str(), a, b))),
    ))
}

/// `settings` with its fleet resolved for `window`: each `replicas = "seen"`
/// set to ⌈pools seen ÷ processes per replica⌉, and with discovery, every
/// service of the data that `[[services]]` does not name appended (by
/// name) from `[defaults]`. Settings that need neither come back as they are.
pub fn resolve(
    mut settings: Settings,
    metrics: &MetricFiles,
    store: Option<&str>,
    (window, period): (Window, &str),
    printer: &mut dyn Notices,
) -> anyhow::Result<Settings> {
    if !needed(&settings) {
        return Ok(settings);
    }
    let seen = pools_seen(metrics, &settings, store, window)?;
    let replicas_for = |pools: u32, processes: u32| pools.div_ceil(processes.max(1)).max(1);
    let mut unseen = Vec::new();
    for service in settings.services.iter_mut().filter(|s| s.replicas_seen) {
        match seen.get(&service.name) {
            Some(&pools) => service.replicas = replicas_for(pools, service.processes_per_replica),
            None => unseen.push(service.name.clone()),
        }
    }
    if !unseen.is_empty() {
        printer.warn(&format!(
            "no pool of {} reported in {}: replicas taken as 1; write `replicas = N` for them in {}",
            unseen.join(", "),
            period,
            settings.path.display()
        ));
    }
    if settings.discovery == Discovery::Metrics {
        let defaults = settings
            .defaults
            .clone()
            .expect("the config checks that discovery has [defaults]");
        let found: Vec<(&String, &u32)> = seen
            .iter()
            .filter(|(name, _)| !settings.services.iter().any(|s| &s.name == *name))
            .collect();
        let added: Vec<_> = found
            .into_iter()
            .map(|(name, &pools)| defaults.service(name, replicas_for(pools, defaults.processes_per_replica)))
            .collect();
        printer.note(&format!(
            "{} service(s) found in the metrics of {} besides the {} in {}",
            added.len(),
            period,
            settings.services.len(),
            settings.path.display()
        ));
        // One sentence for every discovered service without its file, not
        // one run each.
        let missing: Vec<String> = added
            .iter()
            .flat_map(|s| {
                s.targets
                    .iter()
                    .filter(|t| !t.create && !t.path.exists())
                    .map(move |t| format!("{:?} ({})", s.name, t.shown))
            })
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "{} service(s) found in the metrics have no target file: {}; create the files, set `create = true` on [defaults.targets] in {}, or write these services out in [[services]] with their `current`",
                missing.len(),
                crate::ingest::clip(&missing.join(", ")),
                settings.path.display()
            );
        }
        settings.services.extend(added);
        if settings.services.is_empty() {
            anyhow::bail!(
                "no service has metrics in {}, and {} names none; check the metrics' period and service column",
                period,
                settings.path.display()
            );
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_counts_instances_reporting_at_once() {
        let spans = [
            ("a", 0, 100),
            ("a", 50, 150),
            // Replaces the first at the instant it stops: not three at once.
            ("a", 100, 200),
            ("b", 10, 10),
            ("c", 0, 10),
            ("c", 20, 30),
        ];
        let peak = peak_from_spans(spans.iter().copied());
        assert_eq!(peak["a"], 2);
        assert_eq!(peak["b"], 1);
        assert_eq!(peak["c"], 1);
    }
}
