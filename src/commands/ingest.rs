//! `poolcap ingest metrics FILE…`: metric files into the history store, one
//! transaction per file (a file with bad rows stores nothing unless
//! `--lenient`), idempotent (a sample already stored is counted, not doubled;
//! a different value for a stored key is reported as a conflict).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::mpsc;

use anyhow::{Context as _, bail};

use crate::cli::{Format, GlobalArgs, IngestArgs, IngestWhat};
use crate::exit::ExitStatus;
use crate::ingest::{self, Diagnostics, ReadOptions, SeriesTable};
use crate::render::Printer;
use crate::store::history::{Batch, IngestCounts, Store, default_location};

/// Rows per batch sent from the parser to the store.
const BATCH: usize = 50_000;

/// The store a run uses: `--store`/`POOLCAP_STORE`, else `poolcap.db` beside the config.
pub fn store_location(global: &GlobalArgs) -> String {
    global.store.clone().unwrap_or_else(|| default_location(&global.config))
}

/// The store to record decisions and changes in: the one named with
/// `--store`/`POOLCAP_STORE`, or the default SQLite file when it exists —
/// recording never creates a store nobody asked for.
pub fn store_in_use(global: &GlobalArgs) -> Option<String> {
    match &global.store {
        Some(s) => Some(s.clone()),
        None => {
            let default = default_location(&global.config);
            Path::new(&default).exists().then_some(default)
        }
    }
}

/// Runs `poolcap ingest`.
pub fn run(global: &GlobalArgs, args: &IngestArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let (files, service, input_format, lenient, max_series) = match &args.what {
        IngestWhat::Metrics {
            files,
            service,
            input_format,
            lenient,
            max_series,
        } => (files, service, *input_format, lenient, *max_series),
        IngestWhat::Slowlog { files, inputs } => return ingest_slowlogs(global, files, inputs, printer),
    };
    let location = store_location(global);
    // Names ([prometheus]) and zones ([pool_status]) from the config when it exists.
    let default_config = global.config == Path::new("poolcap.toml");
    let settings = crate::config::load_optional(&global.config, default_config)?;
    let opts = ReadOptions::new(&settings, service.clone(), input_format);
    let results = (|| {
        let store = Store::open(&location)?;
        let mut results = Vec::new();
        for path in &ingest::expand_folders(files)? {
            let (counts, rejected, services) = ingest_file(&store, path, &opts, *lenient, max_series, printer)?;
            // Stored all the same (the store keeps history for any service),
            // but a name the config does not know is usually a misspelling.
            if !settings.services.is_empty() {
                for name in &services {
                    if let Some(why) = crate::ops::plan::unknown_service(&settings, name) {
                        printer.warn(&format!("{}: service {why}", path.display()));
                    }
                }
            }
            results.push((path.display().to_string(), (counts, rejected)));
        }
        store.close();
        Ok::<_, anyhow::Error>(results)
    })()?;
    let mut failed = false;
    for (path, (counts, rejected)) in &results {
        match counts {
            Some(c) => {
                if global.format != Format::Json {
                    printer.out(&format!(
                        "{path}: {} rows: {} stored, {} already present, {} conflicting, {} rejected\n",
                        c.rows, c.stored, c.already_present, c.conflicts, rejected
                    ))?;
                }
                if c.conflicts > 0 {
                    printer.warn(&format!(
                        "{path}: {} sample(s) differ from what is stored for the same service, instance and time; kept the stored ones",
                        c.conflicts
                    ));
                }
            }
            None => failed = true,
        }
    }
    if global.format == Format::Json {
        let json: Vec<_> = results
            .iter()
            .map(|(path, (c, rejected))| serde_json::json!({"file": path, "counts": c, "rejected": rejected}))
            .collect();
        printer.json(&serde_json::json!({"store": crate::support::redact_urls(&location), "files": json}))?;
    }
    if failed {
        bail!("bad rows: the file(s) above stored nothing; fix them, or pass --lenient to skip the bad rows");
    }
    Ok(ExitStatus::Ok)
}

/// Parses one file on a thread and streams its batches into one transaction.
fn ingest_file(
    store: &Store,
    path: &Path,
    opts: &ReadOptions,
    lenient: bool,
    max_series: usize,
    printer: &mut Printer,
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

/// `ingest slowlog`: each file's digest per calendar month (policy zone) of its
/// statements, stored as the same JSON `slowlog --format json` prints.
fn ingest_slowlogs(
    global: &GlobalArgs,
    files: &[std::path::PathBuf],
    inputs: &crate::cli::SlowlogInputs,
    printer: &mut Printer,
) -> anyhow::Result<ExitStatus> {
    use crate::analyze::digest::DigestSettings;
    use crate::analyze::fingerprint::Dialect;
    let default_config = global.config == Path::new("poolcap.toml");
    let settings = crate::config::load_optional(&global.config, default_config)?;
    let tz = settings.policy.timezone.clone();
    let base = DigestSettings {
        dialect: Dialect::Postgres,
        threshold_ms: settings.policy.slow_query_seconds * 1000.0,
        timezone: tz.clone(),
        since_ms: None,
        until_ms: None,
        keep_samples: false,
    };
    let threads = crate::ops::slowlog::threads(None);
    let mut stored = Vec::new();
    for file in files {
        // First pass: the file's span; then one digest per month it touches.
        let whole = crate::ops::slowlog::digest_files(
            std::slice::from_ref(file),
            &inputs.options(),
            &settings,
            &base,
            threads,
        )?;
        let Some((first, last)) = whole.digest.span else {
            continue;
        };
        let first_month = month_of(first, &tz);
        let last_month = month_of(last - 1, &tz);
        let mut month = first_month;
        loop {
            let window = month.window(&tz);
            let monthly = if first_month == last_month {
                whole.digest.clone()
            } else {
                let settings_m = DigestSettings {
                    since_ms: Some(window.start * 1000),
                    until_ms: Some(window.end * 1000),
                    ..base.clone()
                };
                crate::ops::slowlog::digest_files(
                    std::slice::from_ref(file),
                    &inputs.options(),
                    &settings,
                    &settings_m,
                    threads,
                )?
                .digest
            };
            if monthly.statements > 0 {
                let digested = crate::ops::slowlog::Digested {
                    digest: monthly,
                    files: whole.files.clone(),
                };
                let report = crate::render::slowlog::SlowlogReport::new(&digested, &tz, 100, false);
                stored.push((
                    month.to_string(),
                    file.display().to_string(),
                    serde_json::to_value(&report)?,
                    report.statements,
                ));
            }
            if month == last_month {
                break;
            }
            month = month.next();
        }
    }
    let location = store_location(global);
    let store = Store::open(&location)?;
    for (period, source, json, _) in &stored {
        store.record_digest(period, source, json)?;
    }
    store.close();
    for (period, source, _, statements) in &stored {
        printer.out(&format!(
            "{source}: {period}: digest of {statements} statement(s) stored\n"
        ))?;
    }
    Ok(ExitStatus::Ok)
}

fn month_of(ms: i64, tz: &jiff::tz::TimeZone) -> crate::model::window::Month {
    let z = jiff::Timestamp::from_millisecond(ms)
        .unwrap_or_default()
        .to_zoned_datetime(tz.clone());
    crate::model::window::Month {
        year: z.year(),
        month: z.month(),
    }
}
