//! `poolcap review`: the monthly review folder ([`crate::ops::review`] says
//! which folder may be written and how it is replaced).

use std::path::PathBuf;

use crate::cli::{GlobalArgs, ReviewArgs};
use crate::config;
use crate::exit::ExitStatus;
use crate::render::{self, Printer};

use crate::ops::plan::{self, ComputeOptions};
use crate::ops::review::{output_folder, publish, staging_dir};

/// Months of history the trend chart shows (besides the reviewed one).
pub const TREND_MONTHS: usize = 11;

/// Runs `poolcap review`.
pub fn run(global: &GlobalArgs, args: &ReviewArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let settings = super::planned_settings(global, &args.inputs.request(), printer)?;
    let options = ComputeOptions {
        history_months: TREND_MONTHS,
        detail_columns: Some(render::charts::PLOT_COLUMNS),
        store: Some(super::ingest::store_location(global)),
        ..ComputeOptions::default()
    };
    let out = match &args.out {
        Some(out) => Some(output_folder(out)?),
        None => None,
    };
    let outcome = plan::compute_with(&settings, &args.inputs.request(), &options, printer)?;
    let out = match out {
        Some(out) => out,
        None => output_folder(&PathBuf::from(format!("review-{}", outcome.month)))?,
    };
    let loadtests = match super::ingest::store_in_use(global) {
        Some(store) => recorded_loadtests(&store, &settings, &outcome.month.to_string(), printer),
        None => Default::default(),
    };
    let staging = staging_dir(&out)?;
    let result = render::review::write(
        &settings,
        &outcome,
        &staging,
        args.templates.as_deref(),
        args.show_samples,
        &loadtests,
    );
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    publish(&staging, &out)?;
    printer.note(&format!(
        "wrote {}/report.html, report.md, plan.json and charts/",
        out.display()
    ));
    if let Some(store) = super::ingest::store_in_use(global) {
        record_decisions(&store, &settings, &outcome, printer);
    }
    Ok(ExitStatus::Ok)
}

/// The load tests the history store holds for each service and `month`
/// (a store that cannot be read is a warning: the review goes on without them).
fn recorded_loadtests(
    store: &str,
    settings: &config::Settings,
    month: &str,
    printer: &mut Printer,
) -> std::collections::BTreeMap<String, Vec<serde_json::Value>> {
    let read = || {
        let store = crate::store::history::Store::open(store)?;
        let mut runs = std::collections::BTreeMap::new();
        for service in &settings.services {
            let found = store.loadtest_runs(&service.name, month)?;
            if !found.is_empty() {
                runs.insert(service.name.clone(), found);
            }
        }
        store.close();
        Ok::<_, crate::store::history::StoreError>(runs)
    };
    read().unwrap_or_else(|e| {
        printer.warn(&format!(
            "the load tests recorded in the history store could not be read: {e}"
        ));
        Default::default()
    })
}

/// Stores each service's decision for the month (its part of plan.json).
fn record_decisions(
    store: &str,
    settings: &crate::config::Settings,
    outcome: &plan::PlanOutcome,
    printer: &mut Printer,
) {
    let report = render::plan::PlanReport::new(settings, outcome);
    let result = (|| {
        let store = crate::store::history::Store::open(store)?;
        for service in &report.services {
            let json = serde_json::to_value(service).unwrap_or_default();
            store.record_decision(&service.service, &report.month, &json)?;
        }
        store.close();
        Ok::<(), crate::store::history::StoreError>(())
    })();
    if let Err(e) = result {
        printer.warn(&format!(
            "the review was written but its decisions were not recorded in the history store: {e}"
        ));
    }
}
