//! Is this deployment ready to plan (`poolcap doctor`)? One check per line,
//! each `ok`, `warning` or `error`.
//!
//! Checks, in order: the config loads; each service's target files exist
//! (a missing one is an error unless its table says `create = true`), parse,
//! hold the pool settings and agree; each service has samples in the month
//! (from `--metrics` or the store) and the metrics name no service the config
//! lacks (with a did-you-mean for case, `-` and `_` differences); the store
//! opens, when one is named or `poolcap.db` exists beside the config.

use std::path::Path;

use serde::Serialize;

use super::metrics::MetricFiles;
use crate::config::{self, Settings};

use super::plan::{ComputeOptions, PlanInputs, compute_with, similar_name};
use super::targets;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but worth a look.
    Warning,
    /// Must be fixed before planning.
    Error,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked (stable, kebab-case).
    pub check: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What was found, as a sentence.
    pub message: String,
}

struct Checks(Vec<Check>);

impl Checks {
    fn push(&mut self, check: &'static str, status: Status, message: impl Into<String>) {
        self.0.push(Check {
            check,
            status,
            message: message.into(),
        });
    }
}

/// The error text of `err` with its causes, on one line.
fn sentence(err: &anyhow::Error) -> String {
    err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

/// What `doctor` checks: the config, the store (`--store`, or `poolcap.db`
/// beside the config when it exists) and the month's samples.
#[derive(Debug, Clone)]
pub struct DoctorRequest<'a> {
    /// The config file.
    pub config: &'a Path,
    /// The store to check and read, if any.
    pub store: Option<String>,
    /// The month whose samples are checked.
    pub month: String,
    /// Metric files (none: the store).
    pub metrics: Vec<std::path::PathBuf>,
}

/// Every check, in order.
pub fn diagnose(req: &DoctorRequest<'_>) -> Vec<Check> {
    let mut checks = Checks(Vec::new());
    match config::load(req.config) {
        Err(e) => checks.push("config", Status::Error, e.to_string()),
        Ok(settings) => {
            checks.push(
                "config",
                Status::Ok,
                format!(
                    "{} loads ({} service{})",
                    req.config.display(),
                    settings.services.len(),
                    if settings.services.len() == 1 { "" } else { "s" }
                ),
            );
            let targets_ok = check_targets(&settings, &mut checks);
            check_samples(req, &settings, targets_ok, &mut checks);
            check_store(req.store.as_deref(), &mut checks);
        }
    }
    checks.0
}

/// Target files: exist, parse, hold the settings, agree. True when every
/// service's deployed state could be read.
fn check_targets(settings: &Settings, checks: &mut Checks) -> bool {
    let mut all_read = true;
    for service in &settings.services {
        let mut missing = false;
        for t in &service.targets {
            if t.path.exists() {
                continue;
            }
            if t.create {
                checks.push(
                    "target-exists",
                    Status::Warning,
                    format!(
                        "service {:?}: {} does not exist yet; apply will make it (`create = true`)",
                        service.name, t.shown
                    ),
                );
            } else {
                missing = true;
                checks.push(
                    "target-exists",
                    Status::Error,
                    format!(
                        "service {:?}: target file {} does not exist ({}); correct the path{}",
                        service.name,
                        t.shown,
                        t.path.display(),
                        if t.kind == config::TargetKind::Yaml {
                            ""
                        } else {
                            ", or set `create = true` on the target if apply should make it"
                        }
                    ),
                );
            }
        }
        if missing {
            all_read = false;
            continue;
        }
        match targets::read_deployed(service) {
            Err(e) => {
                all_read = false;
                checks.push(
                    "target-settings",
                    Status::Error,
                    format!("service {:?}: {}", service.name, sentence(&e)),
                );
            }
            Ok(d) => {
                let files: Vec<&str> = service.targets.iter().map(|t| t.shown.as_str()).collect();
                let from = if files.is_empty() {
                    "the config's `current`".to_string()
                } else {
                    files.join(", ")
                };
                checks.push(
                    "target-settings",
                    Status::Ok,
                    format!(
                        "service {:?}: pool_size {}, max_overflow {} ({from})",
                        service.name, d.current.pool_size, d.current.max_overflow
                    ),
                );
                for f in &d.findings {
                    let status = if f.effect == crate::policy::Effect::Block {
                        Status::Error
                    } else {
                        Status::Warning
                    };
                    checks.push(
                        "target-settings",
                        status,
                        format!("service {:?}: {} [{}]", service.name, f.message, f.code.as_str()),
                    );
                }
            }
        }
    }
    all_read
}

fn check_samples(args: &DoctorRequest<'_>, settings: &Settings, targets_ok: bool, checks: &mut Checks) {
    let store = args.store.clone();
    if args.metrics.is_empty() && store.is_none() {
        checks.push(
            "samples",
            Status::Warning,
            "no metrics to check: give --metrics FILE… or --store (or ingest into poolcap.db beside the config)",
        );
        return;
    }
    if !targets_ok {
        checks.push(
            "samples",
            Status::Warning,
            "samples not checked until the target files read",
        );
        return;
    }
    let inputs = PlanInputs {
        metrics: MetricFiles {
            files: args.metrics.clone(),
            max_series: crate::ingest::DEFAULT_MAX_SERIES,
            ..MetricFiles::default()
        },
        month: args.month.clone(),
        accept_drift: true,
        ..PlanInputs::default()
    };
    let options = ComputeOptions {
        store,
        queueing_sizes: super::plan::QueueingSizes::Skip,
        ..ComputeOptions::default()
    };
    let outcome = match compute_with(settings, &inputs, &options, &mut crate::support::notice::Silent) {
        Ok(o) => o,
        Err(e) => {
            checks.push(
                "samples",
                Status::Error,
                format!("cannot read the metrics: {}", sentence(&e)),
            );
            return;
        }
    };
    let names: Vec<&str> = settings.services.iter().map(|s| s.name.as_str()).collect();
    for (service, n) in &outcome.summary.unknown_services {
        let hint = match similar_name(service, names.iter().copied()) {
            Some(near) => format!("; did you mean {near:?}? Service names must match exactly"),
            None => format!("; the config defines {}", names.join(", ")),
        };
        checks.push(
            "metric-services",
            Status::Warning,
            format!("the metrics name service {service:?} ({n} samples), which the config does not define{hint}"),
        );
    }
    for (k, service) in settings.services.iter().enumerate() {
        let Some(stats) = outcome.analysis.services.get(k).and_then(|s| s.windows.first()) else {
            continue;
        };
        if stats.samples == 0 {
            let near = outcome
                .summary
                .unknown_services
                .keys()
                .find(|u| similar_name(&service.name, std::iter::once(u.as_str())).is_some());
            let hint = match near {
                Some(u) => format!("; the metrics have {u:?} — did you mean it? Rename one to match"),
                None => String::new(),
            };
            checks.push(
                "samples",
                Status::Error,
                format!("service {:?}: no samples in {}{hint}", service.name, outcome.month),
            );
        } else {
            let status = if stats.coverage < settings.policy.min_coverage {
                Status::Warning
            } else {
                Status::Ok
            };
            checks.push(
                "samples",
                status,
                format!(
                    "service {:?}: {} samples in {}, coverage {:.0}% (min_coverage {:.0}%)",
                    service.name,
                    stats.samples,
                    outcome.month,
                    stats.coverage * 100.0,
                    settings.policy.min_coverage * 100.0
                ),
            );
        }
    }
}

fn check_store(store: Option<&str>, checks: &mut Checks) {
    let Some(location) = store else {
        checks.push(
            "store",
            Status::Ok,
            "no history store named and no poolcap.db beside the config (metric files only)",
        );
        return;
    };
    match crate::store::history::Store::open_existing(location) {
        Ok(store) => checks.push("store", Status::Ok, format!("history store {} opens", store.shown())),
        Err(e) => checks.push("store", Status::Error, e.to_string()),
    }
}
