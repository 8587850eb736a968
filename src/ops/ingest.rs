//! Into the history store: a metric file parsed on a thread and streamed
//! into one transaction, and slow logs digested per calendar month.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::Context as _;

use crate::analyze::digest::DigestSettings;
use crate::config::Settings;
use crate::ingest::{self, Diagnostics, ReadOptions, SeriesTable};
use crate::model::window::Month;
use crate::store::history::{Batch, IngestCounts, Store};
use crate::support::notice::Notices;

use super::slowlog::{Digested, FileDigests, LogOptions, digest_files};

/// Rows per batch sent from the parser to the store.
const BATCH: usize = 50_000;

/// Parses one file on a thread and streams its batches into one transaction
/// of `store`: what was stored (`None`: the file's bad rows stored nothing),
/// the rows rejected, and the services the file names. A parser that fails or
/// panics stores nothing of the file.
pub fn store_metric_file(
    store: &Store,
    path: &Path,
    opts: &ReadOptions,
    lenient: bool,
    max_series: usize,
    printer: &mut dyn Notices,
) -> anyhow::Result<(Option<IngestCounts>, u64, BTreeSet<String>)> {
    let path_owned = path.to_path_buf();
    let opts = opts.clone();
    store_samples(store, path, lenient, max_series, printer, move |series, diags, sink| {
        let input = ingest::open(&path_owned)?;
        ingest::read_metrics(
            input,
            ingest::ReadContext {
                path: &path_owned,
                file: 0,
                opts: &opts,
                series,
                diags,
                sink: &mut |table, sample| {
                    sink(table, sample);
                },
            },
        )?;
        Ok(())
    })
}

/// Reads the range queries of `fetch` on a thread and streams their samples
/// into one transaction of `store`, as [`store_metric_file`] does a file.
pub fn store_prometheus(
    store: &Store,
    fetch: super::prometheus::Fetch,
    opts: &ReadOptions,
    lenient: bool,
    max_series: usize,
    printer: &mut dyn Notices,
) -> anyhow::Result<(Option<IngestCounts>, u64, BTreeSet<String>)> {
    let name = PathBuf::from(fetch.server.clone());
    let opts = opts.clone();
    let progress = printer.progress(0, "reading Prometheus");
    let started = std::time::Instant::now();
    let (tx, rx) = mpsc::channel::<(u64, usize)>();
    let outcome = store_samples(
        store,
        &name,
        lenient,
        max_series,
        printer,
        move |series, diags, sink| {
            let fetched = fetch.read(&opts, series, diags, &progress, &mut |table, sample| {
                sink(table, sample);
                true
            });
            let rows = fetched.files.iter().map(|(_, f)| f.rows).sum();
            let _ = tx.send((rows, series.len()));
            fetched.result?;
            Ok(())
        },
    );
    if let Ok((rows, series)) = rx.try_recv() {
        printer.note(&format!(
            "read {rows} point(s) of {series} pool(s) from Prometheus in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
    }
    outcome
}

/// Runs `produce` on a thread with the sink of a store transaction: its
/// samples go in batches into one transaction of `store`, kept only when
/// `produce` succeeds and (unless `lenient`) rejected nothing.
fn store_samples<F>(
    store: &Store,
    name: &Path,
    lenient: bool,
    max_series: usize,
    printer: &mut dyn Notices,
    produce: F,
) -> anyhow::Result<(Option<IngestCounts>, u64, BTreeSet<String>)>
where
    F: FnOnce(&mut SeriesTable, &mut Diagnostics, &mut dyn FnMut(&SeriesTable, ingest::Sample)) -> anyhow::Result<()>
        + Send
        + 'static,
{
    let (tx, rx) = mpsc::sync_channel::<Batch>(4);
    let parser = std::thread::spawn(move || -> anyhow::Result<Diagnostics> {
        let mut series = SeriesTable::with_limit(max_series);
        let mut diags = Diagnostics::default();
        let mut batch = Batch::default();
        let mut announced = 0usize;
        produce(&mut series, &mut diags, &mut |table, sample| {
            while announced < table.len() {
                let key = table.key(announced as u32);
                batch
                    .new_series
                    .push((announced as u32, key.service.clone(), key.instance.clone()));
                announced += 1;
            }
            batch.samples.push(sample);
            if batch.samples.len() >= BATCH {
                let _ = tx.send(std::mem::take(&mut batch));
            }
        })?;
        if !batch.samples.is_empty() {
            let _ = tx.send(batch);
        }
        Ok(diags)
    });
    // The services the input names, to compare with the config afterwards.
    let mut services: BTreeSet<String> = BTreeSet::new();
    let mut batches = rx.into_iter().inspect(|b| {
        for (_, service, _) in &b.new_series {
            services.insert(service.clone());
        }
    });
    let mut outcome: Option<anyhow::Result<Diagnostics>> = None;
    let mut parser = Some(parser);
    let mut keep = || {
        let result = parser.take().map(|p| {
            // A parser that panicked stores nothing, like one that failed.
            p.join().unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "{}: reading stopped unexpectedly; nothing of it was stored",
                    name.display()
                ))
            })
        });
        let ok = match &result {
            Some(Ok(d)) => lenient || d.rejected() == 0,
            _ => false,
        };
        outcome = result;
        ok
    };
    let counts = store
        .ingest(&mut batches, &mut keep)
        .with_context(|| format!("{}: storing its samples (nothing of it was stored)", name.display()))?;
    let diags = match outcome {
        Some(Ok(d)) => d,
        Some(Err(e)) => return Err(e),
        None => Diagnostics::default(),
    };
    for d in diags.shown() {
        if lenient {
            printer.warn(&d.to_string());
        } else {
            printer.note(&format!("error: {d}"));
        }
    }
    drop(batches);
    Ok((counts, diags.rejected(), services))
}

/// Each file's digest per calendar month (in the policy's zone) of its
/// statements: (month, file, digest), months with statements only.
pub fn monthly_digests(
    files: &[PathBuf],
    options: &LogOptions,
    settings: &Settings,
    base: &DigestSettings,
) -> anyhow::Result<Vec<(Month, PathBuf, Digested)>> {
    let tz = &settings.policy.timezone;
    let threads = super::slowlog::threads(None);
    let mut stored = Vec::new();
    for file in files {
        // First pass: the file's span; then one digest per month it touches.
        let whole = digest_files(
            std::slice::from_ref(file),
            options,
            settings,
            base,
            threads,
            FileDigests::Take,
        )?;
        let Some((first, last)) = whole.digest.span else {
            continue;
        };
        let first_month = Month::containing_millis(first, tz);
        let last_month = Month::containing_millis(last - 1, tz);
        let mut month = first_month;
        loop {
            let window = month.window(tz);
            let monthly = if first_month == last_month {
                whole.digest.clone()
            } else {
                let settings_m = DigestSettings {
                    since_ms: Some(window.start * 1000),
                    until_ms: Some(window.end * 1000),
                    ..base.clone()
                };
                digest_files(
                    std::slice::from_ref(file),
                    options,
                    settings,
                    &settings_m,
                    threads,
                    FileDigests::Skip,
                )?
                .digest
            };
            if monthly.statements > 0 {
                let digested = Digested {
                    digest: monthly,
                    files: whole.files.clone(),
                    provenance: whole.provenance.clone(),
                };
                stored.push((month, file.clone(), digested));
            }
            if month == last_month {
                break;
            }
            month = month.next();
        }
    }
    Ok(stored)
}
