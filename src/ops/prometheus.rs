//! Pool samples read straight from a Prometheus server (`--prometheus URL`)
//! for the analysed window, the way a metric file is read: which series
//! the server holds (one `/api/v1/series` call), the services they belong
//! to (the config's only), range queries in batches of whole services and
//! chunks of at most 11 000 points a series and `--prometheus-points`
//! points a query, fetched on a few threads and read in order by the same
//! parser as a saved `query_range` answer, into the same analysis.
//!
//! The samples are the server's answers on the step grid (multiples of
//! `--step` seconds), each the series' latest value at most five minutes
//! old (Prometheus' lookback); docs/prometheus.md says how that compares
//! with the raw samples.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::bail;

use super::UsageError;
use super::metrics::{Feed, Loaded, MetricFiles, Read, canonical_row, conclude};
use crate::analyze::{AnalyzerSettings, WindowStats};
use crate::config::Settings;
use crate::ingest::prometheus_api::{Client, ClientOptions, MAX_POINTS_PER_SERIES, RangeQuery, range_chunks};
use crate::ingest::{self, Diagnostics, IngestError, MetricFormat, ReadOptions, SeriesTable};
use crate::model::promql::{MatchOp, Matcher, Selector};
use crate::model::provenance::{PrometheusRecord, rfc3339};
use crate::support::digest::SetDigest;
use crate::support::notice::Notices;

/// The default `--step`: one point a minute.
pub const DEFAULT_STEP: i64 = 60;
/// The default `--prometheus-points`: points one query may return.
pub const DEFAULT_POINTS: i64 = 1_000_000;
/// A history query may evaluate this many times `--prometheus-points`
/// samples (a subquery holds its series at every step of the month).
pub const HISTORY_POINTS_FACTOR: u64 = 4;
/// The longest window read from a server (a review's trend of 13 months fits).
pub const MAX_DAYS: i64 = 731;
/// Steps one discovery query spans (a day at the default 60 s step).
const DISCOVERY_STEPS: i64 = 1440;

/// The default `--prometheus-concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// A Prometheus server as a metrics source, as the command line gives it.
#[derive(Debug, Clone)]
pub struct Source {
    /// How to reach it.
    pub client: ClientOptions,
    /// Seconds between points (`--step`).
    pub step: i64,
    /// Queries in flight at once.
    pub concurrency: usize,
    /// Points one query may return, all series together.
    pub points: i64,
}

/// How the series of one service are picked out.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Named {
    /// By the `service_label` label.
    Label(String),
    /// By `job`, the service label being absent.
    Job(String),
    /// By neither: the `--service` of the run.
    Default,
}

/// Services whose series one range query fetches.
struct Batch {
    matchers: Vec<Matcher>,
    series: u64,
}

/// The range queries that read a window from a server, and the client
/// that sends them.
pub struct Fetch {
    /// The connection.
    pub client: Client,
    /// The server, without credentials.
    pub server: String,
    /// The listing's selector: the user's matchers and the metric names.
    selector: Selector,
    queries: Vec<RangeQuery>,
    /// Each query's answer as diagnostics name it.
    pub names: Vec<PathBuf>,
    from: i64,
    to: i64,
    step: i64,
    concurrency: usize,
    /// Whether every service read is named by `service_label` (the
    /// server-side history groups by it).
    pub named_by_label: bool,
    /// Per service: its checked-out and pool-size series (the history's).
    utilization_series: BTreeMap<String, u64>,
    /// `--prometheus-points`.
    points: i64,
}

/// What reading a [`Fetch`] gave.
pub struct Fetched {
    /// Each answer with its counts.
    pub files: Vec<(PathBuf, ingest::FileSummary)>,
    /// Order-independent digest of the samples read.
    pub digest: SetDigest,
    /// How reading ended.
    pub result: anyhow::Result<()>,
}

/// Plans the queries for `[from, to)`: lists the series the server holds
/// (one request), keeps the configured services' (every service when the
/// config names none), and cuts them into batches and chunks.
pub fn prepare(
    source: &Source,
    settings: &Settings,
    service: Option<&str>,
    (from, to): (i64, i64),
    printer: &mut dyn Notices,
) -> anyhow::Result<Fetch> {
    let client = Client::new(&source.client)?;
    let server = client.url().to_string();
    let p = &settings.prometheus;
    let names = ingest::prometheus::metric_names(p);
    // The user's matchers first, so that a message quoting a long query
    // shows them; the metric names last.
    let name = Matcher {
        label: "__name__".into(),
        op: MatchOp::Regex,
        value: names.join("|"),
    };
    let selector = p.selector.with([name.clone()]);
    let window = window_text(from, to);

    // Which services the server holds, and how many series each.
    let listed = client.series(&selector.to_string(), from, to - 1)?;
    let mut services: BTreeMap<Named, u64> = BTreeMap::new();
    // Per service label value: its checked-out and pool-size series.
    let mut utilization_series: BTreeMap<String, u64> = BTreeMap::new();
    for labels in &listed {
        let name = labels.get("__name__").map(String::as_str);
        if let Some(service) = labels.get(&p.service_label).filter(|v| !v.is_empty())
            && (name == Some(p.checked_out_metric.as_str()) || name == Some(p.pool_size_metric.as_str()))
        {
            *utilization_series.entry(service.clone()).or_default() += 1;
        }
        let get = |k: &str| labels.get(k).filter(|v| !v.is_empty());
        let named = match (get(&p.service_label), get("job")) {
            (Some(s), _) => Named::Label(s.clone()),
            (None, Some(j)) => Named::Job(j.clone()),
            (None, None) => Named::Default,
        };
        *services.entry(named).or_default() += 1;
    }
    let service_of = |n: &Named| match n {
        Named::Label(s) | Named::Job(s) => Some(s.clone()),
        Named::Default => service.map(str::to_string),
    };
    let configured: BTreeSet<&str> = settings.services.iter().map(|s| s.name.as_str()).collect();
    let (wanted, others): (Vec<_>, Vec<_>) = services
        .iter()
        .partition(|(n, _)| service_of(n).is_some_and(|s| configured.is_empty() || configured.contains(s.as_str())));
    if wanted.is_empty() {
        let held: BTreeSet<String> = services.keys().filter_map(service_of).collect();
        bail!(
            "Prometheus at {server} has no series of {} matching {} from {window}{}; check [prometheus] (metric names, service_label, selector) in {}",
            if configured.is_empty() {
                "any service".to_string()
            } else {
                format!(
                    "the configured service(s) {}",
                    configured.iter().copied().collect::<Vec<_>>().join(", ")
                )
            },
            crate::ingest::clip(&selector.to_string()),
            if held.is_empty() {
                String::new()
            } else {
                format!(" (it holds series of {})", shortlist(&held))
            },
            settings.path.display()
        );
    }
    let named_by_label = wanted.iter().all(|(n, _)| matches!(n, Named::Label(_)));
    let other_names: BTreeSet<String> = others.iter().filter_map(|(n, _)| service_of(n)).collect();
    if !other_names.is_empty() {
        printer.note(&format!(
            "Prometheus also holds series of {} service(s) not in {}, not read: {}",
            other_names.len(),
            settings.path.display(),
            shortlist(&other_names)
        ));
    }

    // Whole services per query, as many as fit full-length chunks.
    let mut queries = Vec::new();
    for batch in batches(&wanted, p, source.points) {
        let per_series = (source.points / batch.series.max(1) as i64).clamp(1, MAX_POINTS_PER_SERIES);
        let query = p.selector.with(batch.matchers).with([name.clone()]).to_string();
        for (start, end) in range_chunks(from, to, source.step, per_series) {
            queries.push(RangeQuery {
                query: query.clone(),
                start,
                end,
                step: source.step,
            });
        }
    }
    if queries.is_empty() {
        bail!(
            "no point of the {} s step grid falls from {window}; lower --step",
            source.step
        );
    }
    check_step(&client, source.step, p, from, to, printer)?;
    let names = queries
        .iter()
        .map(|q| PathBuf::from(format!("{server}/api/v1/query_range [{}]", window_text(q.start, q.end))))
        .collect();
    Ok(Fetch {
        client,
        server,
        selector,
        queries,
        names,
        from,
        to,
        step: source.step,
        concurrency: source.concurrency,
        named_by_label,
        utilization_series,
        points: source.points,
    })
}

impl Fetch {
    /// Sends the queries and reads each answer, in order, as a `query_range`
    /// document into `sink`; a query whose answer holds no usable point
    /// counts its points and goes on (the run as a whole decides).
    pub fn read(
        &self,
        opts: &ReadOptions,
        series: &mut SeriesTable,
        diags: &mut Diagnostics,
        progress: &indicatif::ProgressBar,
        sink: &mut dyn FnMut(&SeriesTable, ingest::Sample) -> bool,
    ) -> Fetched {
        progress.set_length(self.queries.len() as u64);
        progress.set_style(
            indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} queries ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let mut files = Vec::new();
        let mut digest = SetDigest::default();
        let result =
            self.client
                .query_ranges_in_order(&self.queries, self.concurrency, |i, body| -> anyhow::Result<()> {
                    let mut going = true;
                    let result = ingest::read_metrics(
                        body.as_slice(),
                        ingest::ReadContext {
                            path: &self.names[i],
                            file: i as u32,
                            opts,
                            series: &mut *series,
                            diags: &mut *diags,
                            sink: &mut |table, s| {
                                let key = table.key(s.series);
                                digest.add(canonical_row(&key.service, &key.instance, &s).as_bytes());
                                going &= sink(table, s);
                            },
                        },
                    );
                    progress.inc(1);
                    if !going {
                        bail!("the samples' reader stopped early");
                    }
                    let summary = match result {
                        Ok(summary) => summary,
                        Err(IngestError::NoSamples { rows, rejected, .. }) => ingest::FileSummary {
                            rows,
                            rejected,
                            accepted: 0,
                            bytes: body.len() as u64,
                        },
                        Err(e) => return Err(e.into()),
                    };
                    files.push((self.names[i].clone(), summary));
                    Ok(())
                });
        progress.finish_and_clear();
        Fetched { files, digest, result }
    }

    /// `services` in batches whose history queries each evaluate at most
    /// [`HISTORY_POINTS_FACTOR`] × `--prometheus-points` samples (their
    /// checked-out and pool-size series at every step of the longest of
    /// `windows`); a service over that is a batch of its own.
    pub fn history_batches(&self, services: &[String], windows: &[crate::model::window::Window]) -> Vec<Vec<String>> {
        let steps = windows
            .iter()
            .map(|w| (w.end - w.start) / self.step)
            .max()
            .unwrap_or(1)
            .max(1) as u64;
        let budget = (self.points as u64).saturating_mul(HISTORY_POINTS_FACTOR);
        let mut out: Vec<Vec<String>> = Vec::new();
        let mut load = 0u64;
        for name in services {
            let cost = self
                .utilization_series
                .get(name)
                .copied()
                .unwrap_or(0)
                .saturating_mul(steps);
            match out.last_mut() {
                Some(batch) if load.saturating_add(cost) <= budget => {
                    batch.push(name.clone());
                    load += cost;
                }
                _ => {
                    out.push(vec![name.clone()]);
                    load = cost;
                }
            }
        }
        out
    }

    /// Queries to send.
    pub fn queries(&self) -> usize {
        self.queries.len()
    }

    /// Bytes received so far (compressed, as transferred).
    pub fn bytes(&self) -> u64 {
        self.client.traffic.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notes what was read, and any retries.
    pub fn report(&self, rows: u64, series: usize, took: std::time::Duration, printer: &mut dyn Notices) {
        printer.note(&format!(
            "read {rows} point(s) of {series} pool(s) from Prometheus at {} in {} queries ({:.1} MB transferred, {:.1} s)",
            self.server,
            self.queries.len(),
            self.bytes() as f64 / 1e6,
            took.as_secs_f64()
        ));
        let retries = self.client.traffic.retries.load(std::sync::atomic::Ordering::Relaxed);
        if retries > 0 {
            printer.warn(&format!(
                "{retries} request(s) to {} failed and were tried again",
                self.server
            ));
        }
    }

    /// The record of this read for a decision's provenance.
    pub fn record(&self, rows: u64, series: usize, used: u64, digest: &SetDigest) -> PrometheusRecord {
        PrometheusRecord {
            server: self.server.clone(),
            selector: self.selector.to_string(),
            step_seconds: self.step,
            from: rfc3339(self.from, false).unwrap_or_default(),
            to: rfc3339(self.to, false).unwrap_or_default(),
            queries: self.queries.len() as u64,
            requests: self.client.traffic.requests.load(std::sync::atomic::Ordering::Relaxed),
            bytes: self.bytes(),
            series: series as u64,
            rows,
            used,
            rows_digest: digest.hex(),
            aggregated_in_server: Vec::new(),
        }
    }
}

/// Reads the analysed windows' samples from the server of `source`: the
/// reviewed window (and the episode window) as samples; the earlier months,
/// when the services are named by `service_label`, as statistics the server
/// computes ([`history_in_server`]), so history never crosses the network.
pub fn load(
    source: &Source,
    args: &MetricFiles,
    settings: &Settings,
    mut analyzer: AnalyzerSettings,
    printer: &mut dyn Notices,
) -> anyhow::Result<Loaded> {
    // The months before the reviewed one are aggregated in the server,
    // when its series name their service by the service label.
    let mut earlier = if analyzer.windows.len() > 1 {
        analyzer.windows.split_off(1)
    } else {
        Vec::new()
    };
    let mut fetch = prepare(source, settings, args.service.as_deref(), span(&analyzer)?, printer)?;
    if !earlier.is_empty() && !fetch.named_by_label {
        analyzer.windows.append(&mut earlier);
        fetch = prepare(source, settings, args.service.as_deref(), span(&analyzer)?, printer)?;
    }
    let opts = ReadOptions::new(settings, args.service.clone(), MetricFormat::Prometheus);
    let service_names: Vec<String> = settings.services.iter().map(|s| s.name.clone()).collect();
    let mut feed = Feed::start(analyzer, &service_names);
    let mut series = SeriesTable::with_limit(args.max_series);
    let mut diags = Diagnostics::default();
    let progress = printer.progress(0, "reading Prometheus");
    let started = std::time::Instant::now();
    let fetched = fetch.read(&opts, &mut series, &mut diags, &progress, &mut |table, s| {
        feed.push(table, s);
        !feed.stopped()
    });
    let analysed = feed.finish()?;
    let rows: u64 = fetched.files.iter().map(|(_, f)| f.rows).sum();
    let read = Read {
        names: &fetch.names,
        files: fetched.files,
        series,
        diags,
        result: fetched.result,
        what: format!(
            "the {} answer(s) of Prometheus at {} from {}",
            fetch.queries(),
            fetch.server,
            window_text(fetch.from, fetch.to)
        ),
    };
    let (analysed, series, mut summary) = conclude(analysed, read, args.lenient, settings, printer)?;
    // One input, the server, as a store is one.
    let total = summary
        .files
        .iter()
        .fold(ingest::FileSummary::default(), |a, (_, f)| ingest::FileSummary {
            rows: a.rows + f.rows,
            accepted: a.accepted + f.accepted,
            rejected: a.rejected + f.rejected,
            bytes: a.bytes + f.bytes,
        });
    summary.files = vec![(PathBuf::from(format!("Prometheus at {}", fetch.server)), total)];
    fetch.report(rows, series.len(), started.elapsed(), printer);
    let mut analysis = analysed.analysis;
    if !earlier.is_empty() {
        let started = std::time::Instant::now();
        let names: Vec<String> = settings.services.iter().map(|s| s.name.clone()).collect();
        let mut stats = BTreeMap::new();
        for batch in fetch.history_batches(&names, &earlier) {
            stats.extend(history_in_server(
                &fetch.client,
                settings,
                &batch,
                &earlier,
                source.step,
                source.concurrency,
            )?);
        }
        for (service, name) in analysis.services.iter_mut().zip(&names) {
            service.windows.extend(
                stats
                    .remove(name)
                    .unwrap_or_else(|| earlier.iter().map(|w| WindowStats::empty(*w)).collect()),
            );
        }
        printer.note(&format!(
            "the {} earlier month(s) aggregated in Prometheus in {:.2} s",
            earlier.len(),
            started.elapsed().as_secs_f64()
        ));
    }
    // Recorded once every request is answered, the history's included.
    let mut record = fetch.record(rows, series.len(), analysed.used, &fetched.digest);
    record.aggregated_in_server = earlier
        .iter()
        .map(|w| rfc3339(w.start, false).unwrap_or_default())
        .collect();
    summary.prometheus = Some(record);
    Ok(Loaded {
        analysis,
        series,
        summary,
    })
}

/// The time-weighted statistics of each service in each of `windows`,
/// computed by the server on the step grid: the service's utilization at a
/// step is Σ checked out / Σ pool size over its pools (as the analysis
/// takes it), and each statistic is one instant query at the window's last
/// second over a subquery of the window at the step — `avg_over_time`,
/// `quantile_over_time` (which interpolates where the analysis takes the
/// nearest rank), `max_over_time`, and `count_over_time` of the steps with a
/// value (coverage) and of those above each reported threshold. Only the
/// utilization figures, as a PostgreSQL store's SQL gives them: saturation,
/// timeouts and waiting are the reviewed month's concern.
pub fn history_in_server(
    client: &Client,
    settings: &Settings,
    services: &[String],
    windows: &[crate::model::window::Window],
    step: i64,
    concurrency: usize,
) -> anyhow::Result<BTreeMap<String, Vec<WindowStats>>> {
    let p = &settings.prometheus;
    let label = &p.service_label;
    let filter = p
        .selector
        .with([Matcher::any_of(label, services.iter().map(String::as_str))]);
    let metric = |name: &str| filter.with([Matcher::equal("__name__", name)]).to_string();
    let checked_out = format!("sum by ({label}) ({})", metric(&p.checked_out_metric));
    let utilization = format!("{checked_out} / sum by ({label}) ({})", metric(&p.pool_size_metric));
    // Eleven instant queries a window, all sent at once (a few at a time).
    let thresholds = crate::model::stats::REPORTED_THRESHOLDS;
    let mut asked = Vec::new();
    for window in windows {
        let range = format!("[{}s:{step}s]", window.end - window.start);
        let at = window.end - 1;
        let over = |f: &str| format!("{f}(({utilization}){range})");
        asked.push((over("count_over_time"), at));
        asked.push((over("avg_over_time"), at));
        for q in [0.5, 0.95, 0.99] {
            asked.push((format!("quantile_over_time({q}, ({utilization}){range})"), at));
        }
        asked.push((over("max_over_time"), at));
        asked.push((format!("avg_over_time(({checked_out}){range})"), at));
        for t in thresholds {
            asked.push((format!("count_over_time((({utilization}) > {t}){range})"), at));
        }
        asked.push((
            format!(
                "sum by ({label}) (count_over_time(({}){range}))",
                metric(&p.checked_out_metric)
            ),
            at,
        ));
    }
    const PER_WINDOW: usize = 11;
    let answers = client.queries(&asked, concurrency)?;
    // Per answer: service → value.
    let values: Vec<BTreeMap<String, f64>> = answers
        .iter()
        .map(|data| {
            let mut values = BTreeMap::new();
            for item in data["result"].as_array().map(Vec::as_slice).unwrap_or_default() {
                let name = item["metric"][label.as_str()].as_str().unwrap_or_default();
                let value = item["value"][1].as_str().and_then(|v| v.parse::<f64>().ok());
                if let Some(v) = value.filter(|v| v.is_finite()) {
                    values.insert(name.to_string(), v);
                }
            }
            values
        })
        .collect();
    let mut out: BTreeMap<String, Vec<WindowStats>> = BTreeMap::new();
    for name in services {
        let mut months = Vec::with_capacity(windows.len());
        for (window, v) in windows.iter().zip(values.chunks(PER_WINDOW)) {
            let mut w = WindowStats::empty(*window);
            let get = |k: usize| v[k].get(name).copied().unwrap_or(0.0);
            if v[0].contains_key(name) {
                w.set_covered(get(0) as i64 * step);
                w.mean_utilization = get(1);
                w.p50_utilization = get(2);
                w.p95_utilization = get(3);
                w.p99_utilization = get(4);
                w.max_utilization = get(5);
                w.mean_checked_out = get(6);
                w.seconds_above = [get(7), get(8), get(9)].map(|c| c as i64 * step);
                w.samples = get(10) as u64;
            }
            months.push(w);
        }
        out.insert(name.clone(), months);
    }
    Ok(out)
}

/// `A to B`, RFC 3339 UTC.
/// Per service present in `window`: the most pools (pool-size series)
/// reporting at once on the step grid — one instant query,
/// `max_over_time(count by (service, job) (pool_size)[window:step])`.
/// Series are named as the range reader names them: by `service_label`,
/// else `job`, else `service` (the run's `--service`).
pub fn pools_seen(
    source: &Source,
    settings: &Settings,
    service: Option<&str>,
    window: crate::model::window::Window,
) -> anyhow::Result<BTreeMap<String, u32>> {
    let client = Client::new(&source.client)?;
    let p = &settings.prometheus;
    let label = &p.service_label;
    let series = p.selector.with([Matcher::equal("__name__", &p.pool_size_metric)]);
    // One instant query a day of steps: a month at once would load more
    // samples than a server's --query.max-samples allows for a large fleet
    // (1 000 pools at 60 s did). The pieces' subqueries together evaluate
    // the step instants the whole window's would.
    let queries: Vec<(String, i64)> = discovery_pieces(window, source.step)
        .into_iter()
        .map(|(range, at)| {
            (
                format!(
                    "max_over_time(count by ({label}, job) ({series})[{range}s:{}s])",
                    source.step
                ),
                at,
            )
        })
        .collect();
    let answers = client.queries(&queries, source.concurrency)?;
    // The most pools each (service, job) had at once in any piece …
    let mut peaks: BTreeMap<(String, String), f64> = BTreeMap::new();
    for data in &answers {
        for item in data["result"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let get = |k: &str| item["metric"][k].as_str().filter(|v| !v.is_empty());
            let Some(name) = get(label).or_else(|| get("job")).or(service) else {
                continue;
            };
            let job = get("job").unwrap_or_default().to_string();
            let pools = item["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            let peak = peaks.entry((name.to_string(), job)).or_insert(0.0);
            *peak = peak.max(pools);
        }
    }
    // … and two jobs that carry one service's pools add up.
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for ((name, _), pools) in peaks {
        let entry = seen.entry(name).or_default();
        *entry = entry.saturating_add(pools.clamp(0.0, f64::from(u32::MAX)) as u32);
    }
    Ok(seen)
}

/// The (range, evaluation instant) of each discovery query: pieces of at
/// most [`DISCOVERY_STEPS`] steps that tile `window`, each evaluated at its
/// last second, so that their subqueries' step instants are the whole
/// window's.
fn discovery_pieces(window: crate::model::window::Window, step: i64) -> Vec<(i64, i64)> {
    let piece = DISCOVERY_STEPS * step.max(1);
    let mut pieces = Vec::new();
    let mut at = window.start;
    while at < window.end {
        let end = (at + piece).min(window.end);
        pieces.push((end - at, end - 1));
        at = end;
    }
    pieces
}

fn window_text(from: i64, to: i64) -> String {
    format!(
        "{} to {}",
        rfc3339(from, false).unwrap_or_default(),
        rfc3339(to, false).unwrap_or_default()
    )
}

/// The window to read: every analysed window, up to now.
fn span(analyzer: &AnalyzerSettings) -> anyhow::Result<(i64, i64)> {
    let windows = analyzer.windows.iter().chain(std::iter::once(&analyzer.episode_window));
    let from = windows.clone().map(|w| w.start).min().unwrap_or(0);
    let to = windows.map(|w| w.end).max().unwrap_or(0);
    let now = crate::support::clock::now().as_second();
    if from < ingest::EARLIEST_TS {
        return Err(
            UsageError("with --prometheus give the window to read (--from, and --to unless it is now)".into()).into(),
        );
    }
    let to = to.min(now + 1);
    if to - from > MAX_DAYS * 86_400 {
        return Err(UsageError(format!(
            "that asks Prometheus for {} days from {}; give a window of at most {MAX_DAYS} days (--from and --to)",
            (to - from) / 86_400,
            rfc3339(from, false).unwrap_or_default()
        ))
        .into());
    }
    if to <= from {
        bail!(
            "nothing to read from Prometheus: the window starts {}, after now",
            rfc3339(from, false).unwrap_or_default()
        );
    }
    Ok((from, to))
}

/// Groups whole services into queries of at most `points` points a step
/// chunk of full length (11 000 points a series) can fill; a service with
/// more series than that is a query of its own, in shorter chunks.
fn batches(wanted: &[(&Named, &u64)], p: &crate::config::PrometheusSettings, points: i64) -> Vec<Batch> {
    let capacity = (points / MAX_POINTS_PER_SERIES).max(1) as u64;
    // One group per way of naming: label values, job values, or neither.
    let mut out: Vec<Batch> = Vec::new();
    let mut current: Vec<(&Named, u64)> = Vec::new();
    let flush = |current: &mut Vec<(&Named, u64)>, out: &mut Vec<Batch>| {
        if current.is_empty() {
            return;
        }
        let series = current.iter().map(|(_, n)| n).sum();
        let values = || {
            current.iter().filter_map(|(n, _)| match n {
                Named::Label(s) | Named::Job(s) => Some(s.as_str()),
                Named::Default => None,
            })
        };
        let one_of = |label: &str| match current.len() {
            1 => Matcher::equal(label, values().next().unwrap_or_default()),
            _ => Matcher::any_of(label, values()),
        };
        let matchers = match current[0].0 {
            Named::Label(_) => vec![one_of(&p.service_label)],
            Named::Job(_) => vec![Matcher::equal(&p.service_label, ""), one_of("job")],
            Named::Default => vec![Matcher::equal(&p.service_label, ""), Matcher::equal("job", "")],
        };
        out.push(Batch { matchers, series });
        current.clear();
    };
    for &(named, &n) in wanted {
        let same_kind = current
            .first()
            .is_some_and(|(first, _)| std::mem::discriminant(*first) == std::mem::discriminant(named));
        let total: u64 = current.iter().map(|(_, n)| n).sum();
        if !same_kind || total + n > capacity {
            flush(&mut current, &mut out);
        }
        current.push((named, n));
    }
    flush(&mut current, &mut out);
    out
}

/// Warns when `step` is longer than the interval the pools are scraped at
/// (points in between are not seen), measured as the median series' samples
/// over the last day of the window.
fn check_step(
    client: &Client,
    step: i64,
    p: &crate::config::PrometheusSettings,
    from: i64,
    to: i64,
    printer: &mut dyn Notices,
) -> anyhow::Result<()> {
    let range = (to - from).min(86_400);
    let query = format!(
        "quantile(0.5, count_over_time({}[{range}s]))",
        p.selector.with([Matcher::equal("__name__", &p.checked_out_metric)])
    );
    let data = client.query(&query, to - 1)?;
    let count = data["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|c| c.is_finite() && *c >= 2.0);
    if let Some(count) = count {
        let interval = range as f64 / count;
        if step as f64 > interval * 1.5 {
            printer.warn(&format!(
                "--step {step}s is longer than the interval the pools are scraped at (about {:.0} s): poolcap sees one sample in {:.0}, and bursts between them are missed; pass --step {:.0}s to read them all",
                interval,
                step as f64 / interval,
                interval.round().max(1.0)
            ));
        }
    }
    Ok(())
}

/// Up to ten names, then how many more.
fn shortlist(names: &BTreeSet<String>) -> String {
    let mut text = names.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 10 {
        text.push_str(&format!(" and {} more", names.len() - 10));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::window::Window;

    #[test]
    fn discovery_pieces_tile_the_window_a_day_of_steps_at_a_time() {
        // October 2026 in London: 31 days and an hour (the clocks go back).
        let window = Window {
            start: 1_790_809_200,
            end: 1_790_809_200 + 31 * 86_400 + 3_600,
        };
        for step in [15, 60, 300] {
            let pieces = discovery_pieces(window, step);
            let mut covered = window.start;
            for &(range, at) in &pieces {
                // Each piece (at − range, at] ends a second before the next begins.
                assert_eq!(at + 1 - range, covered, "step {step}");
                assert!(range > 0 && range <= DISCOVERY_STEPS * step, "step {step}: {range}");
                covered = at + 1;
            }
            assert_eq!(covered, window.end, "step {step}");
            let expected = (window.seconds() + DISCOVERY_STEPS * step - 1) / (DISCOVERY_STEPS * step);
            assert_eq!(pieces.len() as i64, expected, "step {step}");
        }
        // 60 s: one query a day, and one for the extra hour.
        assert_eq!(discovery_pieces(window, 60).len(), 32);
    }
}
