//! A decision's provenance (`model::provenance::Provenance`) from the
//! settings, the request and what the inputs gave: the record `plan.json`,
//! the review and the change log carry and `verify` checks.

use crate::config::Settings;
use crate::model::provenance::{AlertRecord, FileRecord, PolicyRecord, Provenance, Request, TargetRecord};
use crate::support::redact_urls;

use super::metrics::InputSummary;
use super::plan::PlanInputs;
use super::slowlog::Digested;
use super::targets::Deployed;

/// poolcap's version, as every record names it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The request as recorded: paths as given, `month` resolved.
pub fn request(args: &PlanInputs, month: &str) -> Request {
    let shown = |p: &std::path::PathBuf| p.display().to_string();
    Request {
        month: month.to_string(),
        metrics: args.metrics.files.iter().map(shown).collect(),
        metrics_format: args.metrics.format.name().to_string(),
        service: args.metrics.service.clone(),
        lenient: args.metrics.lenient,
        max_series: args.metrics.max_series,
        slowlog: args.slowlog.iter().map(shown).collect(),
        log_line_prefix: args.slowlog_options.log_line_prefix.clone(),
        input_format: args.slowlog_options.format.map(|f| f.name().to_string()),
        log_timezone: args.slowlog_options.log_timezone.clone(),
        probe: args.probe.as_deref().map(redact_urls),
        probe_pgbouncer: args.probe_pgbouncer.as_deref().map(redact_urls),
        pgbouncer_pools: args.pgbouncer_pools.iter().map(shown).collect(),
        accept_drift: args.accept_drift,
        prometheus: args
            .metrics
            .prometheus
            .as_ref()
            .map(|p| crate::ingest::prometheus_api::shown_url(&p.client.url)),
    }
}

/// The provenance of a decision on `settings` for `request`.
pub fn provenance(
    settings: &Settings,
    request: Request,
    summary: &InputSummary,
    slow: Option<&Digested>,
    deployed: &[Deployed],
) -> Provenance {
    let p = &settings.policy;
    let mut inputs = summary.provenance.clone();
    if let Some(slow) = slow {
        inputs.extend(slow.provenance.iter().cloned());
    }
    let config_bytes = std::fs::metadata(&settings.path).map_or(0, |m| m.len());
    Provenance {
        poolcap: VERSION.to_string(),
        request,
        config: FileRecord {
            path: settings.path.display().to_string(),
            sha256: Some(settings.sha256.clone()),
            bytes: config_bytes,
        },
        policy: PolicyRecord {
            timezone: p.timezone_name.clone(),
            escalate_mean_utilization: p.escalate_mean_utilization,
            escalate_step: p.escalate_step,
            sustained_utilization: p.sustained_utilization,
            sustained_for_seconds: p.sustained_for,
            min_coverage: p.min_coverage,
            users_factor: p.users_factor,
            overflow_factor: p.overflow_factor,
            overprovisioned_utilization: p.overprovisioned_utilization,
            overprovisioned_months: p.overprovisioned_months,
            max_gap_seconds: p.max_gap,
            reorder_window_seconds: p.reorder_window,
            slow_query_seconds: p.slow_query_seconds,
            hold_time_seconds: p.hold_time_seconds,
            queue_target: p.queue_target,
            simulate_hours: p.simulate_hours.to_string(),
            hold_distribution: p.hold_distribution.to_string(),
            simulation_seed: p.simulation_seed,
        },
        alerts: settings
            .alerts
            .iter()
            .map(|a| AlertRecord {
                name: a.name.clone(),
                above: a.above,
                for_seconds: a.for_seconds,
            })
            .collect(),
        inputs,
        store: summary.store.clone(),
        prometheus: summary.prometheus.clone(),
        targets: settings
            .services
            .iter()
            .zip(deployed)
            .flat_map(|(service, d)| d.files.iter().map(|f| target_record(&service.name, f)))
            .chain(super::pgbouncer::ini_record(settings))
            .collect(),
    }
}

/// A target file as the provenance records it: its managed values by key.
pub fn target_record(service: &str, state: &super::targets::TargetState) -> TargetRecord {
    TargetRecord {
        service: service.to_string(),
        path: state.target.path.display().to_string(),
        exists: state.text.is_some(),
        values: state
            .target
            .keys
            .iter()
            .filter_map(|(setting, key)| state.values.get(setting).map(|v| (key.clone(), v.clone())))
            .collect(),
    }
}
