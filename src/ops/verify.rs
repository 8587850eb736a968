//! `poolcap verify`: does a recorded decision still follow from its inputs?
//! Reads the record (a review folder's `plan.json`, a `plan.json`, or a
//! change-log entry), checks each recorded input's digest, then recomputes
//! the decision from the same request with `plan::compute` (docs/verify.md).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::config::{self, Settings};
use crate::ingest::MetricFormat;
use crate::ingest::slowlog::reader::LogFormat;
use crate::model::provenance::{FileRecord, Provenance, TargetRecord};
use crate::support::digest::FileDigest;

use super::UsageError;
use super::metrics::MetricFiles;
use super::plan::PlanInputs;
use super::slowlog::LogOptions;

/// A decision as recorded.
pub struct Recorded {
    /// The file it was read from.
    pub source: PathBuf,
    /// The plan report (`plan.json`'s JSON), when the record holds it whole.
    pub plan: Option<Value>,
    /// The SHA-256 of the plan report's bytes, when the record names it (a change-log entry).
    pub plan_sha256: Option<String>,
    /// What it was made from.
    pub provenance: Provenance,
}

/// Reads the record at `path`: a folder (a review: its `plan.json`), a
/// `plan.json`, or with `entry` a change log's entry of that id.
pub fn read_recorded(path: &Path, entry: Option<&str>) -> anyhow::Result<Recorded> {
    if let Some(id) = entry {
        return super::change::read_entry_record(path, id);
    }
    let file = if path.is_dir() {
        path.join("plan.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).with_context(|| {
        if path.is_dir() {
            format!("{}: not a review folder (it has no readable plan.json)", path.display())
        } else {
            format!("{}: cannot read the plan", file.display())
        }
    })?;
    let plan: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}: not a plan.json ({e}); give a review folder, a plan.json, or a change log with --entry ID",
            file.display(),
            e.line()
        )
    })?;
    let Some(p) = plan.get("provenance") else {
        bail!(
            "{}: the plan records no provenance (it was written by a poolcap before 0.2); rerun `poolcap review` or `plan --format json` to make one that can be verified",
            file.display()
        );
    };
    let provenance: Provenance = serde_json::from_value(p.clone())
        .map_err(|e| anyhow::anyhow!("{}: its provenance is not poolcap's ({e})", file.display()))?;
    Ok(Recorded {
        source: file,
        plan: Some(plan),
        plan_sha256: None,
        provenance,
    })
}

/// What became of one recorded file.
#[derive(Debug, Clone, PartialEq)]
pub enum FileCheck {
    /// It is gone.
    Missing,
    /// Its bytes differ: the digest now, and its size.
    Changed(FileDigest),
    /// A target recorded as absent (to be created) now exists.
    Appeared,
    /// A target's managed settings differ: (key, then, now).
    Settings(Vec<(String, Option<String>, Option<String>)>),
}

/// A recorded file that is not as it was.
#[derive(Debug, Clone, PartialEq)]
pub struct InputProblem {
    /// `metrics`, `slowlog`, `target (backend)`.
    pub kind: String,
    /// The file as recorded.
    pub record: FileRecord,
    /// What it is now.
    pub check: FileCheck,
}

fn check_file(record: &FileRecord) -> Option<FileCheck> {
    let path = Path::new(&record.path);
    match (&record.sha256, FileDigest::of_file(path)) {
        (None, Err(_)) => None,
        (None, Ok(_)) => Some(FileCheck::Appeared),
        (Some(_), Err(_)) => Some(FileCheck::Missing),
        (Some(sha), Ok(now)) if *sha == now.sha256 => None,
        (Some(_), Ok(now)) => Some(FileCheck::Changed(now)),
    }
}

/// Every recorded input file whose bytes are not the recorded ones, and
/// every target whose managed settings are not (read with `settings`' targets).
pub fn check_inputs(p: &Provenance, settings: &Settings) -> anyhow::Result<Vec<InputProblem>> {
    let mut problems: Vec<InputProblem> = p
        .inputs
        .iter()
        .filter_map(|i| {
            let record = FileRecord {
                path: i.path.clone(),
                sha256: Some(i.sha256.clone()),
                bytes: i.bytes,
            };
            check_file(&record).map(|check| InputProblem {
                kind: i.kind.clone(),
                record,
                check,
            })
        })
        .collect();
    if p.targets.is_empty() {
        return Ok(problems);
    }
    let deployed = super::targets::read_all(settings)?;
    let now: Vec<TargetRecord> = settings
        .services
        .iter()
        .zip(&deployed)
        .flat_map(|(service, d)| {
            d.files
                .iter()
                .map(|f| super::provenance::target_record(&service.name, f))
        })
        .chain(super::pgbouncer::ini_record(settings))
        .collect();
    for then in &p.targets {
        let record = FileRecord {
            path: then.path.clone(),
            sha256: None,
            bytes: 0,
        };
        let kind = format!("{}'s target", then.service);
        let current = now.iter().find(|t| t.service == then.service && t.path == then.path);
        let check = match current {
            None if Path::new(&then.path).exists() || !then.exists => None,
            None => Some(FileCheck::Missing),
            Some(t) if t.exists && !then.exists => Some(FileCheck::Appeared),
            Some(t) if !t.exists && then.exists => Some(FileCheck::Missing),
            Some(t) => {
                let keys: std::collections::BTreeSet<&String> = then.values.keys().chain(t.values.keys()).collect();
                let changed: Vec<_> = keys
                    .into_iter()
                    .filter(|k| then.values.get(*k) != t.values.get(*k))
                    .map(|k| ((*k).clone(), then.values.get(k).cloned(), t.values.get(k).cloned()))
                    .collect();
                (!changed.is_empty()).then_some(FileCheck::Settings(changed))
            }
        };
        if let Some(check) = check {
            problems.push(InputProblem { kind, record, check });
        }
    }
    Ok(problems)
}

/// The config as it is now, and whether its digest is the recorded one.
pub fn load_config(p: &Provenance) -> anyhow::Result<(Settings, bool)> {
    let path = Path::new(&p.config.path);
    if !path.exists() {
        bail!(
            "{}: the config the decision was made with is gone; verify from the folder the decision was made in",
            path.display()
        );
    }
    let settings = config::load(path)?;
    let same = p.config.sha256.as_deref() == Some(settings.sha256.as_str());
    Ok((settings, same))
}

/// The request again, as `plan` would take it.
pub fn plan_inputs(p: &Provenance, probe: Option<String>) -> anyhow::Result<PlanInputs> {
    let r = &p.request;
    let format = <MetricFormat as clap::ValueEnum>::from_str(&r.metrics_format, false)
        .map_err(|_| anyhow::anyhow!("the recorded metrics format {:?} is unknown", r.metrics_format))?;
    let log_format = match &r.input_format {
        Some(f) => Some(
            <LogFormat as clap::ValueEnum>::from_str(f, false)
                .map_err(|_| anyhow::anyhow!("the recorded slow-log format {f:?} is unknown"))?,
        ),
        None => None,
    };
    if r.probe.is_some() && probe.is_none() {
        return Err(UsageError(format!(
            "the decision took its budget from a live server ({}); give --probe URL to verify it against that server",
            r.probe.as_deref().unwrap_or_default()
        ))
        .into());
    }
    if let Some(console) = &r.probe_pgbouncer {
        return Err(UsageError(format!(
            "the decision took PgBouncer's limits and waiting clients from its live console ({console}), which change by the second; verify cannot replay that part: plan again, or describe PgBouncer in [pgbouncer] (ini = \"…/pgbouncer.ini\") and plan from the file"
        ))
        .into());
    }
    if let Some(server) = &r.prometheus {
        return Err(UsageError(format!(
            "the decision read its samples from Prometheus at {server}, whose data changes as retention drops old blocks; verify re-reads files and stores only: save the answers (or ingest them: poolcap ingest metrics --prometheus URL) and plan from those"
        ))
        .into());
    }
    Ok(PlanInputs {
        month: r.month.clone(),
        metrics: MetricFiles {
            files: r.metrics.iter().map(PathBuf::from).collect(),
            format,
            service: r.service.clone(),
            lenient: r.lenient,
            max_series: r.max_series,
            prometheus: None,
        },
        slowlog: r.slowlog.iter().map(PathBuf::from).collect(),
        slowlog_options: LogOptions {
            log_line_prefix: r.log_line_prefix.clone(),
            format: log_format,
            log_timezone: r.log_timezone.clone(),
        },
        probe: if r.probe.is_some() { probe } else { None },
        probe_pgbouncer: None,
        pgbouncer_pools: r.pgbouncer_pools.iter().map(PathBuf::from).collect(),
        accept_drift: r.accept_drift,
    })
}
