//! Reading metric files into the analyzer, shared by every command that takes
//! `--metrics`: streaming, diagnostics with `path:line`, strict by default.
//!
//! Parsing and analysis run on two threads joined by a bounded channel of
//! sample batches, so a run uses both cores and memory stays bounded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;

use anyhow::{Context as _, bail};

use crate::analyze::{Analysis, Analyzer, AnalyzerSettings, Observation, Rejected};
use crate::config::Settings;
use crate::ingest::{self, Diagnostic, Diagnostics, FileSummary, ReadOptions, Sample, SeriesTable};
use crate::model::provenance::{InputRecord, PrometheusRecord, StoreRecord, rfc3339};
use crate::model::window::Window;
use crate::support::digest::{SetDigest, Tally};
use crate::support::notice::Notices;

/// The metric files of a run, as the command line names them (`--metrics`,
/// `--metrics-format`, `--service`, `--lenient`, `--max-series`).
#[derive(Debug, Clone, Default)]
pub struct MetricFiles {
    /// Files and folders (a folder stands for the metric files in it).
    pub files: Vec<PathBuf>,
    /// Their format, or `Auto` to tell each file's by its content.
    pub format: ingest::MetricFormat,
    /// The service of rows that name none.
    pub service: Option<String>,
    /// Skip bad rows instead of failing.
    pub lenient: bool,
    /// How many service/instance pairs a run may hold.
    pub max_series: usize,
    /// Read the samples from this Prometheus server instead of files.
    pub prometheus: Option<super::prometheus::Source>,
}

impl MetricFiles {
    /// Whether the samples come from the history store: no file and no server given.
    pub fn from_store(&self) -> bool {
        self.files.is_empty() && self.prometheus.is_none()
    }
}

/// What the inputs gave, for summaries and reports.
#[derive(Debug, Default)]
pub struct InputSummary {
    /// Each file with its counts.
    pub files: Vec<(PathBuf, FileSummary)>,
    /// Samples the analysis used.
    pub samples: u64,
    /// Samples of services not in the config, by service.
    pub unknown_services: BTreeMap<String, u64>,
    /// Rows and samples rejected (parser and analyzer), with the first few in full.
    pub diagnostics: Diagnostics,
    /// Each file's digest, counts and span, in the order read.
    pub provenance: Vec<InputRecord>,
    /// The history store the samples came from instead, with a digest of them.
    pub store: Option<StoreRecord>,
    /// The Prometheus server they came from instead, with a digest of them.
    pub prometheus: Option<PrometheusRecord>,
}

impl InputSummary {
    /// Data rows read in all files.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|(_, f)| f.rows).sum()
    }

    /// Bytes read (uncompressed).
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|(_, f)| f.bytes).sum()
    }
}

/// The analysis of all inputs, with the series they named.
pub struct Loaded {
    /// Statistics and episodes.
    pub analysis: Analysis,
    /// Service/instance names by series id.
    pub series: SeriesTable,
    /// Counts and diagnostics.
    pub summary: InputSummary,
}

const BATCH: usize = 8192;

/// Samples for the analysis thread, with the series first seen since the last batch
/// (id and index of its service, `None` for a service not in the config).
#[derive(Default)]
pub(super) struct Batch {
    new_series: Vec<(u32, Option<usize>)>,
    samples: Vec<Sample>,
}

/// What the analysis thread hands back.
pub(super) struct Analysed {
    pub analysis: Analysis,
    rejected: Vec<(Sample, Rejected)>,
    rejected_by_code: BTreeMap<&'static str, u64>,
    pub used: u64,
    unknown: BTreeMap<u32, u64>,
    /// Per file: samples used, samples rejected, span of the used ones.
    pub per_file: Vec<FileUse>,
}

/// What the analysis made of one file's samples.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FileUse {
    pub used: u64,
    pub rejected: u64,
    pub span: Option<(i64, i64)>,
}

impl FileUse {
    fn of(per_file: &mut Vec<FileUse>, file: u32) -> &mut FileUse {
        let i = file as usize;
        if per_file.len() <= i {
            per_file.resize(i + 1, FileUse::default());
        }
        &mut per_file[i]
    }
}

fn analyse(rx: mpsc::Receiver<Batch>, recycle: mpsc::Sender<Vec<Sample>>, settings: AnalyzerSettings) -> Analysed {
    let mut analyzer = Analyzer::new(settings);
    let mut service_of: Vec<Option<usize>> = Vec::new();
    let mut out = Analysed {
        analysis: Analysis {
            instances: Vec::new(),
            services: Vec::new(),
        },
        rejected: Vec::new(),
        rejected_by_code: BTreeMap::new(),
        used: 0,
        unknown: BTreeMap::new(),
        per_file: Vec::new(),
    };
    while let Ok(batch) = rx.recv() {
        for (id, service) in batch.new_series {
            if service_of.len() <= id as usize {
                service_of.resize(id as usize + 1, None);
            }
            service_of[id as usize] = service;
        }
        let mut samples = batch.samples;
        for s in samples.drain(..) {
            let Some(service) = service_of.get(s.series as usize).copied().flatten() else {
                *out.unknown.entry(s.series).or_default() += 1;
                continue;
            };
            let obs = Observation {
                series: s.series,
                service,
                ts: s.ts,
                checked_out: s.checked_out,
                pool_size: s.pool_size,
                max_overflow: s.max_overflow,
                waiting: s.waiting,
                timeouts: s.timeouts,
            };
            let (file, ts) = (s.file, s.ts);
            match analyzer.push(obs) {
                Ok(()) => {
                    out.used += 1;
                    let f = FileUse::of(&mut out.per_file, file);
                    f.used += 1;
                    f.span = Some(f.span.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
                }
                Err(r) => {
                    FileUse::of(&mut out.per_file, file).rejected += 1;
                    *out.rejected_by_code.entry(r.code).or_default() += 1;
                    if out.rejected.len() < Diagnostics::SHOWN {
                        out.rejected.push((s, r));
                    }
                }
            }
        }
        // Hand the allocation back to the reader: no allocator churn per batch.
        let _ = recycle.send(samples);
    }
    out.analysis = analyzer.finish();
    out
}

/// The reading side of a run: the analysis thread and the batches of samples
/// sent to it, with the series each batch is the first to name.
pub(super) struct Feed<'a> {
    tx: Option<mpsc::SyncSender<Batch>>,
    recycle: mpsc::Receiver<Vec<Sample>>,
    batch: Batch,
    announced: usize,
    service_names: &'a [String],
    disconnected: bool,
    worker: Option<std::thread::JoinHandle<Analysed>>,
}

impl<'a> Feed<'a> {
    /// Starts the analysis thread.
    pub(super) fn start(analyzer: AnalyzerSettings, service_names: &'a [String]) -> Feed<'a> {
        let (tx, rx) = mpsc::sync_channel::<Batch>(8);
        let (recycle_tx, recycle) = mpsc::channel::<Vec<Sample>>();
        let worker = std::thread::spawn(move || analyse(rx, recycle_tx, analyzer));
        Feed {
            tx: Some(tx),
            recycle,
            batch: Batch {
                new_series: Vec::new(),
                samples: Vec::with_capacity(BATCH),
            },
            announced: 0,
            service_names,
            disconnected: false,
            worker: Some(worker),
        }
    }

    /// Passes one sample on (`table`: the run's series, to announce new ones).
    pub(super) fn push(&mut self, table: &SeriesTable, s: Sample) {
        while self.announced < table.len() {
            let key = table.key(self.announced as u32);
            let slot = self.service_names.iter().position(|n| *n == key.service);
            self.batch.new_series.push((self.announced as u32, slot));
            self.announced += 1;
        }
        self.batch.samples.push(s);
        if self.batch.samples.len() == BATCH {
            let empty = self.recycle.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH));
            let full = std::mem::replace(
                &mut self.batch,
                Batch {
                    new_series: Vec::new(),
                    samples: empty,
                },
            );
            if let Some(tx) = &self.tx {
                self.disconnected |= tx.send(full).is_err();
            }
        }
    }

    /// Whether the analysis thread stopped taking samples.
    pub(super) fn stopped(&self) -> bool {
        self.disconnected
    }

    /// Sends what is left and waits for the analysis.
    pub(super) fn finish(mut self) -> anyhow::Result<Analysed> {
        // Taking the sender closes the channel once the last batch is sent.
        if let Some(tx) = self.tx.take()
            && !self.batch.samples.is_empty()
        {
            let _ = tx.send(std::mem::take(&mut self.batch));
        }
        self.worker
            .take()
            .expect("a feed finishes once")
            .join()
            .map_err(|_| anyhow::anyhow!("the analysis thread panicked"))
    }
}

/// Reads every file of `args` and analyses it. Bad rows fail the run (listing
/// the first ones and the count) unless `--lenient`.
pub fn load(
    args: &MetricFiles,
    settings: &Settings,
    analyzer: AnalyzerSettings,
    printer: &mut dyn Notices,
) -> anyhow::Result<Loaded> {
    if let Some(source) = &args.prometheus {
        return super::prometheus::load(source, args, settings, analyzer, printer);
    }
    let args = &MetricFiles {
        files: ingest::expand_folders(&args.files)?,
        ..args.clone()
    };
    let opts = ReadOptions::new(settings, args.service.clone(), args.format);
    let service_names: Vec<String> = settings.services.iter().map(|s| s.name.clone()).collect();
    let mut feed = Feed::start(analyzer, &service_names);
    let mut series = SeriesTable::with_limit(args.max_series);
    let mut diags = Diagnostics::default();
    let mut files = Vec::new();
    let mut read_result: anyhow::Result<()> = Ok(());
    let total: u64 = args
        .files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = printer.progress(total, "reading metrics");
    let read_bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut digests = Vec::with_capacity(args.files.len());
    for (file_index, path) in args.files.iter().enumerate() {
        let tally = Tally::default();
        let input = match ingest::open_counted(path, read_bytes.clone(), &tally) {
            Ok(i) => i,
            Err(e) => {
                read_result = Err(e.into());
                break;
            }
        };
        let result = ingest::read_metrics(
            input,
            ingest::ReadContext {
                path,
                file: file_index as u32,
                opts: &opts,
                series: &mut series,
                diags: &mut diags,
                sink: &mut |table, s| feed.push(table, s),
            },
        );
        if feed.stopped() {
            read_result = Err(anyhow::anyhow!("the analysis thread stopped early"));
            break;
        }
        match result.map_err(anyhow::Error::from).and_then(|summary| {
            let digest = tally
                .finish_file(path)
                .with_context(|| format!("{}: cannot read the file to digest it", path.display()))?;
            Ok((summary, digest))
        }) {
            Ok((summary, digest)) => {
                files.push((path.clone(), summary));
                digests.push(digest);
            }
            Err(e) => {
                read_result = Err(e);
                break;
            }
        }
    }
    progress.finish_and_clear();
    let analysed = feed.finish()?;
    let read = Read {
        names: &args.files,
        files,
        series,
        diags,
        result: read_result,
        what: format!("{} file(s)", args.files.len()),
    };
    let (analysed, series, summary) = conclude(analysed, read, args.lenient, settings, printer)?;
    let provenance = summary
        .files
        .iter()
        .zip(digests)
        .enumerate()
        .map(|(i, ((path, file), digest))| {
            let used = analysed.per_file.get(i).copied().unwrap_or_default();
            InputRecord {
                kind: "metrics".into(),
                path: path.display().to_string(),
                sha256: digest.sha256,
                bytes: digest.bytes,
                rows: file.rows,
                used: used.used,
                rejected: file.rejected + used.rejected,
                first: used.span.and_then(|(a, _)| rfc3339(a, false)),
                last: used.span.and_then(|(_, b)| rfc3339(b, false)),
            }
        })
        .collect();
    Ok(Loaded {
        analysis: analysed.analysis,
        series,
        summary: InputSummary { provenance, ..summary },
    })
}

/// What the reading side of a run gathered.
pub(super) struct Read<'a> {
    /// The name of each input by its index ([`Sample::file`]).
    pub names: &'a [PathBuf],
    /// Each input read whole, with its counts.
    pub files: Vec<(PathBuf, FileSummary)>,
    /// The series seen.
    pub series: SeriesTable,
    /// The rows the parsers rejected.
    pub diags: Diagnostics,
    /// How reading ended.
    pub result: anyhow::Result<()>,
    /// What was read, for the message when nothing was usable ("3 file(s)").
    pub what: String,
}

/// Turns what was read and analysed into the run's outcome: reading errors
/// with the rows that explain them, the analyzer's rejections as
/// diagnostics, warnings for unknown services, the strict or lenient verdict
/// on bad rows, and the error when no sample was usable.
pub(super) fn conclude(
    analysed: Analysed,
    read: Read<'_>,
    lenient: bool,
    settings: &Settings,
    printer: &mut dyn Notices,
) -> anyhow::Result<(Analysed, SeriesTable, InputSummary)> {
    let Read {
        names,
        files,
        series,
        mut diags,
        result,
        what,
    } = read;
    let mut analysed = analysed;
    if let Err(e) = result {
        // A file with no valid sample: say why its rows were rejected.
        return Err(match rejection_report(&diags) {
            Some(r) => anyhow::anyhow!("{}\n{e}: {}{}", r.listing, r.counts, r.fixes),
            None => e,
        });
    }
    let service_names: Vec<String> = settings.services.iter().map(|s| s.name.clone()).collect();
    let rejected = std::mem::take(&mut analysed.rejected);
    let shown = rejected.len() as u64;
    for (s, r) in rejected {
        diags.reject(Diagnostic {
            path: names[s.file as usize].clone(),
            line: Some(s.line),
            code: r.code,
            message: r.message,
        });
    }
    let mut unshown = analysed.rejected_by_code.values().sum::<u64>() - shown;
    for (code, n) in &analysed.rejected_by_code {
        let take = unshown.min(*n);
        diags.count(code, take);
        unshown -= take;
    }
    let mut unknown_services: BTreeMap<String, u64> = BTreeMap::new();
    for (id, n) in &analysed.unknown {
        *unknown_services.entry(series.key(*id).service.clone()).or_default() += n;
    }
    for d in diags.notices() {
        printer.note(&format!("note: {d}"));
    }
    for (service, n) in &unknown_services {
        printer.warn(&format!(
            "{n} sample(s) of service {service:?} ignored: it is not in {}",
            settings.path.display()
        ));
    }
    if let Some(r) = rejection_report(&diags) {
        if !lenient {
            bail!(
                "{}\n{} bad row(s) ({}); fix them, or pass --lenient to skip them{}",
                r.listing,
                diags.rejected(),
                r.counts,
                r.fixes
            );
        }
        printer.warn(&r.listing);
        printer.warn(&format!(
            "skipped {} bad row(s) ({}) under --lenient",
            diags.rejected(),
            r.counts
        ));
    }
    if analysed.used == 0 {
        bail!(
            "no samples of the configured service(s) {} in {what}; the metrics name {}",
            service_names.join(", "),
            if unknown_services.is_empty() {
                "no service".to_string()
            } else {
                unknown_services.keys().cloned().collect::<Vec<_>>().join(", ")
            }
        );
    }
    let samples = analysed.used;
    Ok((
        analysed,
        series,
        InputSummary {
            files,
            samples,
            unknown_services,
            diagnostics: diags,
            provenance: Vec::new(),
            store: None,
            prometheus: None,
        },
    ))
}

/// Rejected rows, worded for a person.
struct Rejections {
    /// The first rows in full, one a line.
    listing: String,
    /// `N code, …`.
    counts: String,
    /// One line per code with a known fix, each starting with a newline.
    fixes: String,
}

/// The rejected rows for a person: the first ones in full (file:line, reason,
/// code), "… and N more", and the counts by code. `None` when none was rejected.
fn rejection_report(diags: &Diagnostics) -> Option<Rejections> {
    if diags.rejected() == 0 {
        return None;
    }
    let mut listing = diags
        .shown()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let more = diags.rejected() - diags.shown().len() as u64;
    if more > 0 {
        listing.push_str(&format!("\n… and {more} more"));
    }
    let counts = diags
        .by_code()
        .iter()
        .map(|(code, n)| format!("{n} {code}"))
        .collect::<Vec<_>>()
        .join(", ");
    let fixes: Vec<String> = diags
        .by_code()
        .keys()
        .filter_map(|code| ingest::fix_for(code).map(|fix| format!("  to fix {code}: {fix}")))
        .collect();
    Some(Rejections {
        listing,
        counts,
        fixes: fixes.iter().map(|f| format!("\n{f}")).collect(),
    })
}

/// Reads the analysed months' samples from the history store at `location`.
///
/// A PostgreSQL store streams only the reviewed month (window 0) and computes
/// the earlier months' statistics where the data lives
/// ([`crate::store::history::Store::service_stats_sql`]), so history of any
/// length never crosses the network; a SQLite store streams every month.
pub fn load_from_store(
    location: &str,
    settings: &Settings,
    mut analyzer_settings: AnalyzerSettings,
    printer: &mut dyn Notices,
) -> anyhow::Result<Loaded> {
    let history_from = analyzer_settings.windows.iter().map(|w| w.start).min().unwrap_or(0) - 86_400;
    let to = analyzer_settings.windows.iter().map(|w| w.end).max().unwrap_or(0);
    let service_names: Vec<String> = settings.services.iter().map(|s| s.name.clone()).collect();
    let mut series = SeriesTable::default();
    let mut service_of: Vec<Option<usize>> = Vec::new();
    let mut used = 0u64;
    let mut unknown: BTreeMap<String, u64> = BTreeMap::new();
    let mut diags = Diagnostics::default();
    let mut rows_digest = SetDigest::default();
    // One connection to the store for the whole read.
    let rules = crate::store::history::Aggregation {
        fallback_max_gap: crate::analyze::FALLBACK_MAX_GAP,
        thresholds: crate::analyze::REPORTED_THRESHOLDS,
    };
    let (rows, analyzer, earlier, in_sql, from) = (|| {
        let store = crate::store::history::Store::open_existing(location)?;
        let earlier: Vec<Window> = if store.is_postgres() && analyzer_settings.windows.len() > 1 {
            analyzer_settings.windows.split_off(1)
        } else {
            Vec::new()
        };
        // max_gap is estimated over the whole history read, as if every month
        // were streamed: fetched from the database when only one month is.
        let fixed_gaps: BTreeMap<(String, String), i64> = if !earlier.is_empty() && settings.policy.max_gap.is_none() {
            store
                .series_max_gaps(history_from, to, &rules)?
                .into_iter()
                .map(|(service, instance, gap)| ((service, instance), gap))
                .collect()
        } else {
            BTreeMap::new()
        };
        let from = analyzer_settings.windows.iter().map(|w| w.start).min().unwrap_or(0) - 86_400;
        let mut analyzer = Analyzer::new(analyzer_settings);
        let rows = store
            .samples(from, to, &mut |service, instance, s| {
                let id = series.intern(service.as_bytes(), instance.as_bytes());
                if service_of.len() <= id as usize {
                    service_of.push(service_names.iter().position(|n| n == service));
                    if let Some(gap) = fixed_gaps.get(&(service.to_string(), instance.to_string())) {
                        analyzer.fix_max_gap(id, *gap);
                    }
                }
                let Some(slot) = service_of[id as usize] else {
                    *unknown.entry(service.to_string()).or_default() += 1;
                    return;
                };
                // Stored values are checked back, never clamped: a negative
                // count (a hand-edited store) is a rejected row.
                let count = |v: i32| u32::try_from(v).ok();
                let obs = (|| {
                    Some(Observation {
                        series: id,
                        service: slot,
                        ts: s.ts,
                        checked_out: count(s.checked_out)?,
                        pool_size: count(s.pool_size).filter(|p| *p > 0)?,
                        max_overflow: s.max_overflow.map(count).map_or(Some(None), |v| v.map(Some))?,
                        waiting: s.waiting.map(count).map_or(Some(None), |v| v.map(Some))?,
                        timeouts: s.timeouts.map(|v| u64::try_from(v).ok()).map_or(Some(None), |v| v.map(Some))?,
                    })
                })();
                let Some(obs) = obs else {
                    diags.reject(Diagnostic {
                        path: PathBuf::from(location),
                        line: None,
                        code: "bad-stored-value",
                        message: format!(
                            "a stored sample of {service}/{instance} at {} holds a negative count or a pool size of 0; the store was changed by hand",
                            s.ts
                        ),
                    });
                    return;
                };
                match analyzer.push(obs) {
                    Ok(()) => {
                        used += 1;
                        rows_digest.add(canonical_row(service, instance, &obs).as_bytes());
                    }
                    Err(r) => diags.reject(Diagnostic {
                        path: PathBuf::from(location),
                        line: None,
                        code: r.code,
                        message: r.message,
                    }),
                }
            })?;
        // The earlier months where the data lives, per service.
        let mut in_sql = None;
        if !earlier.is_empty() && used > 0 {
            let spans: Vec<(i64, i64)> = earlier.iter().map(|w| (w.start, w.end)).collect();
            let started = std::time::Instant::now();
            let mut all = Vec::new();
            for name in &service_names {
                let stats = store
                    .service_stats_sql(name, (history_from, to), &spans, settings.policy.max_gap, &rules)?
                    .unwrap_or_default();
                all.push(stats);
            }
            in_sql = Some((all, started.elapsed()));
        }
        store.close();
        Ok::<_, anyhow::Error>((rows, analyzer, earlier, in_sql, from))
    })()?;
    for (service, n) in &unknown {
        printer.warn(&format!(
            "{n} stored sample(s) of service {service:?} ignored: it is not in {}",
            settings.path.display()
        ));
    }
    if used == 0 {
        bail!(
            "the history store {} has no samples of {} between the analysed months; ingest metrics first (poolcap ingest metrics FILE…)",
            crate::support::redact_urls(location),
            service_names.join(", ")
        );
    }
    printer.note(&format!(
        "read {rows} stored sample(s) from {}",
        crate::support::redact_urls(location)
    ));
    let mut analysis = analyzer.finish();
    if let Some((per_service, took)) = in_sql {
        for (service, stats) in analysis.services.iter_mut().zip(per_service) {
            service.windows.extend(stats);
        }
        printer.note(&format!(
            "the {} earlier month(s) aggregated in the database in {:.2} s",
            earlier.len(),
            took.as_secs_f64()
        ));
    }
    Ok(Loaded {
        analysis,
        series,
        summary: InputSummary {
            files: vec![(
                PathBuf::from(crate::support::redact_urls(location)),
                FileSummary {
                    rows,
                    accepted: used,
                    rejected: diags.rejected(),
                    bytes: 0,
                },
            )],
            samples: used,
            unknown_services: unknown,
            diagnostics: diags,
            provenance: Vec::new(),
            store: Some(StoreRecord {
                store: crate::support::redact_urls(location),
                from: rfc3339(from, false).unwrap_or_default(),
                to: rfc3339(to, false).unwrap_or_default(),
                rows,
                used,
                rows_digest: rows_digest.hex(),
                aggregated_in_database: earlier
                    .iter()
                    .map(|w| rfc3339(w.start, false).unwrap_or_default())
                    .collect(),
                slowlog_digests: Vec::new(),
            }),
            prometheus: None,
        },
    })
}

/// A sample's values as the row digest reads them.
pub(super) struct RowValues {
    ts: i64,
    checked_out: u32,
    pool_size: u32,
    max_overflow: Option<u32>,
    waiting: Option<u32>,
    timeouts: Option<u64>,
}

impl From<&Observation> for RowValues {
    fn from(o: &Observation) -> Self {
        RowValues {
            ts: o.ts,
            checked_out: o.checked_out,
            pool_size: o.pool_size,
            max_overflow: o.max_overflow,
            waiting: o.waiting,
            timeouts: o.timeouts,
        }
    }
}

impl From<&Sample> for RowValues {
    fn from(s: &Sample) -> Self {
        RowValues {
            ts: s.ts,
            checked_out: s.checked_out,
            pool_size: s.pool_size,
            max_overflow: s.max_overflow,
            waiting: s.waiting,
            timeouts: s.timeouts,
        }
    }
}

/// A sample as the row digest of a store or a server reads it: service,
/// instance, Unix seconds, checked out, pool size, max_overflow, waiting,
/// timeouts (empty when absent), tab-separated.
pub(super) fn canonical_row(service: &str, instance: &str, o: impl Into<RowValues>) -> String {
    let o: RowValues = o.into();
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    format!(
        "{service}\t{instance}\t{}\t{}\t{}\t{}\t{}\t{}",
        o.ts,
        o.checked_out,
        o.pool_size,
        opt(o.max_overflow.map(u64::from)),
        opt(o.waiting.map(u64::from)),
        opt(o.timeouts)
    )
}
