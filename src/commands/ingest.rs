//! `poolcap ingest metrics FILE…`: metric files into the history store, one
//! transaction per file (a file with bad rows stores nothing unless
//! `--lenient`), idempotent (a sample already stored is counted, not doubled;
//! a different value for a stored key is reported as a conflict).

use std::path::Path;

use anyhow::bail;

use crate::cli::{Format, GlobalArgs, IngestArgs, IngestWhat};
use crate::exit::ExitStatus;
use crate::ingest::{self, ReadOptions};
use crate::ops::UsageError;
use crate::ops::ingest::{monthly_digests, store_metric_file, store_prometheus};
use crate::ops::prometheus::prepare;
use crate::render::Printer;
use crate::store::history::{Store, default_location};

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
    let (files, service, input_format, lenient, max_series, month, prometheus) = match &args.what {
        IngestWhat::Metrics {
            files,
            service,
            input_format,
            lenient,
            max_series,
            month,
            prometheus,
        } => (
            files,
            service,
            *input_format,
            lenient,
            *max_series,
            month,
            prometheus.source(!files.is_empty()),
        ),
        IngestWhat::Slowlog { files, inputs } => return ingest_slowlogs(global, files, inputs, printer),
    };
    let location = store_location(global);
    // Names ([prometheus]) and zones ([pool_status]) from the config when it exists.
    let default_config = global.config == Path::new("poolcap.toml");
    let settings = crate::config::load_optional(&global.config, default_config)?;
    if files.is_empty() && prometheus.is_none() {
        return Err(UsageError(
            "give the metric files to store, or --prometheus URL and --month YYYY-MM to read them from a server".into(),
        )
        .into());
    }
    let opts = ReadOptions::new(&settings, service.clone(), input_format);
    // From a server: the month's window, planned before the store is opened.
    let fetch = match &prometheus {
        Some(source) => {
            let Some(month) = month else {
                return Err(UsageError("with --prometheus give the month to read: --month YYYY-MM".into()).into());
            };
            let month = crate::ops::plan::parse_month_in(month, &settings.policy.timezone)?;
            let window = month.window(&settings.policy.timezone);
            let now = crate::support::clock::now().as_second();
            let to = window.end.min(now + 1);
            if to <= window.start {
                return Err(UsageError(format!("{month} has not begun yet; nothing to read")).into());
            }
            Some(prepare(
                source,
                &settings,
                service.as_deref(),
                (window.start, to),
                printer,
            )?)
        }
        None => None,
    };
    let results = (|| {
        let store = Store::open(&location)?;
        let mut results = Vec::new();
        if let Some(fetch) = fetch {
            let name = fetch.server.clone();
            let opts = ReadOptions {
                format: crate::ingest::MetricFormat::Prometheus,
                ..opts.clone()
            };
            let (counts, rejected, _) = store_prometheus(&store, fetch, &opts, *lenient, max_series, printer)?;
            results.push((name, (counts, rejected)));
        }
        for path in &ingest::expand_folders(files)? {
            let (counts, rejected, services) = store_metric_file(&store, path, &opts, *lenient, max_series, printer)?;
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

/// `ingest slowlog`: each file's digest per calendar month (policy zone) of its
/// statements, stored as the same JSON `slowlog --format json` prints and in
/// its mergeable form (months merge into quarters, docs/slowlogs.md).
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
    let mut stored = Vec::new();
    for (month, file, digested) in monthly_digests(files, &inputs.options(), &settings, &base)? {
        let report = crate::render::slowlog::SlowlogReport::new(&digested, &tz, 100, false);
        stored.push((
            month.to_string(),
            file.display().to_string(),
            serde_json::to_value(&report)?,
            serde_json::to_string(&digested.digest.to_stored())?,
            report.statements,
        ));
    }
    let location = store_location(global);
    let store = Store::open(&location)?;
    for (period, source, json, mergeable, _) in &stored {
        store.record_digest(period, source, json, mergeable)?;
    }
    store.close();
    for (period, source, _, _, statements) in &stored {
        printer.out(&format!(
            "{source}: {period}: digest of {statements} statement(s) stored\n"
        ))?;
    }
    Ok(ExitStatus::Ok)
}
