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

use super::slowlog::{Digested, LogOptions, digest_files};

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
    let (tx, rx) = mpsc::sync_channel::<Batch>(4);
    let path_owned = path.to_path_buf();
    let opts = opts.clone();
    let parser = std::thread::spawn(move || -> Result<Diagnostics, ingest::IngestError> {
        let input = ingest::open(&path_owned)?;
        let mut series = SeriesTable::with_limit(max_series);
        let mut diags = Diagnostics::default();
        let mut batch = Batch::default();
        let mut announced = 0usize;
        ingest::read_metrics(
            input,
            ingest::ReadContext {
                path: &path_owned,
                file: 0,
                opts: &opts,
                series: &mut series,
                diags: &mut diags,
                sink: &mut |table, sample| {
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
                },
            },
        )?;
        if !batch.samples.is_empty() {
            let _ = tx.send(batch);
        }
        Ok(diags)
    });
    // The services the file names, to compare with the config afterwards.
    let mut services: BTreeSet<String> = BTreeSet::new();
    let mut batches = rx.into_iter().inspect(|b| {
        for (_, service, _) in &b.new_series {
            services.insert(service.clone());
        }
    });
    let mut outcome: Option<Result<Diagnostics, ingest::IngestError>> = None;
    let mut parser = Some(parser);
    let mut keep = || {
        let result = parser.take().map(|p| {
            // A parser that panicked stores nothing, like one that failed.
            p.join().unwrap_or_else(|_| {
                Err(ingest::IngestError::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::other("reading the file stopped unexpectedly; nothing of it was stored"),
                })
            })
        });
        let ok = match &result {
            Some(Ok(d)) => lenient || d.rejected() == 0,
            _ => false,
        };
        outcome = result;
        ok
    };
    let counts = store.ingest(&mut batches, &mut keep).with_context(|| {
        format!(
            "{}: storing its samples (nothing of the file was stored)",
            path.display()
        )
    })?;
    let diags = match outcome {
        Some(Ok(d)) => d,
        Some(Err(e)) => return Err(e.into()),
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
        let whole = digest_files(std::slice::from_ref(file), options, settings, base, threads)?;
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
                digest_files(std::slice::from_ref(file), options, settings, &settings_m, threads)?.digest
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
