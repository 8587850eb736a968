//! `poolcap review`: the monthly review folder — `report.html` (self-contained,
//! charts inline), `report.md` (charts as PNG files), `plan.json` (the same JSON
//! as `plan`), and `charts/*.png|svg`. Everything is written into a temporary
//! folder beside the target and renamed into place at the end, so a failed run
//! leaves no half-written review.
//!
//! The folder is poolcap's only if poolcap made it: `--out` may name a new
//! folder, an empty one, or one holding [`MARKER`] from an earlier review
//! (replaced whole); any other folder or file is refused, never moved or
//! deleted, and so is the current folder or one above it. A symlink is
//! followed: the link stays, the folder it names is written.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{GlobalArgs, ReviewArgs};
use crate::config;
use crate::exit::ExitStatus;
use crate::render::{self, Printer};

use super::plan::{self, ComputeOptions};

/// Months of history the trend chart shows (besides the reviewed one).
pub const TREND_MONTHS: usize = 11;

/// Runs `poolcap review`.
pub fn run(global: &GlobalArgs, args: &ReviewArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let settings = config::load(&global.config)?;
    let options = ComputeOptions {
        history_months: TREND_MONTHS,
        detail_columns: Some(render::charts::PLOT_COLUMNS),
        store: Some(super::ingest::store_location(global)),
    };
    let out = match &args.out {
        Some(out) => Some(output_folder(out)?),
        None => None,
    };
    let outcome = plan::compute_with(&settings, &args.inputs, &options, printer)?;
    let out = match out {
        Some(out) => out,
        None => output_folder(&PathBuf::from(format!("review-{}", outcome.month)))?,
    };
    let staging = staging_dir(&out)?;
    std::fs::write(staging.join(MARKER), MARKER_TEXT)
        .with_context(|| format!("{}: cannot write", staging.join(MARKER).display()))?;
    let result = render::review::write(
        &settings,
        &outcome,
        &staging,
        args.templates.as_deref(),
        args.show_samples,
    );
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    // Replace an earlier review of the same folder only now that everything is
    // written (an empty folder is replaced by the rename itself).
    if out.join(MARKER).exists() {
        let old = out.with_file_name(format!(
            ".{}.old-{}",
            out.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        std::fs::rename(&out, &old).with_context(|| format!("{}: cannot replace", out.display()))?;
        std::fs::rename(&staging, &out).with_context(|| format!("{}: cannot write", out.display()))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&staging, &out).with_context(|| format!("{}: cannot write", out.display()))?;
    }
    printer.note(&format!(
        "wrote {}/report.html, report.md, plan.json and charts/",
        out.display()
    ));
    if let Some(store) = super::ingest::store_in_use(global) {
        record_decisions(&store, &settings, &outcome, printer);
    }
    Ok(ExitStatus::Ok)
}

/// The file that marks a folder as a review poolcap wrote.
pub const MARKER: &str = ".poolcap-review";

const MARKER_TEXT: &str =
    "This folder was written by `poolcap review`; the next review with the same --out replaces it whole.\n";

/// The folder a review may be written to, as a path to write (a symlink
/// resolved), or an error saying why not — checked before any work starts.
fn output_folder(out: &Path) -> anyhow::Result<PathBuf> {
    let refuse = |why: &str| anyhow::anyhow!("--out {}: {why}; name a new folder", out.display());
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if out.file_name().is_none() {
                return Err(refuse("is not a folder name"));
            }
            return Ok(out.to_path_buf());
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("{}: cannot read", out.display()))),
    };
    let real = if meta.file_type().is_symlink() {
        std::fs::canonicalize(out).map_err(|_| refuse("is a symlink to nothing"))?
    } else {
        out.to_path_buf()
    };
    if !real.is_dir() {
        return Err(refuse("exists and is not a folder (poolcap never moves or deletes it)"));
    }
    let canonical = std::fs::canonicalize(&real).with_context(|| format!("{}: cannot read", real.display()))?;
    if let Ok(cwd) = std::env::current_dir().and_then(std::fs::canonicalize)
        && cwd.starts_with(&canonical)
    {
        return Err(refuse(
            "is the current folder or one above it, which a review cannot replace",
        ));
    }
    if real.join(MARKER).exists() {
        return Ok(real);
    }
    let empty = std::fs::read_dir(&real)
        .with_context(|| format!("{}: cannot read", real.display()))?
        .next()
        .is_none();
    if empty {
        return Ok(real);
    }
    Err(refuse(&format!(
        "exists and holds files poolcap did not write (no {MARKER} marker from an earlier review); poolcap never moves or deletes them"
    )))
}

fn staging_dir(out: &Path) -> anyhow::Result<PathBuf> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("{}: cannot create", parent.display()))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "review".into());
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| {
            format!(
                "{}: cannot remove the unfinished folder of an earlier run",
                staging.display()
            )
        })?;
    }
    std::fs::create_dir_all(staging.join("charts")).with_context(|| format!("{}: cannot create", staging.display()))?;
    Ok(staging)
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
