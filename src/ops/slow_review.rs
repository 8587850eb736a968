//! Monthly slow-log digests for the quarterly review and for `plan` without
//! `--slowlog`: made from log files now, or read back from the history
//! store's mergeable forms (what `ingest slowlog` stored). Both paths go
//! through the same stored form — the file's month digest is written to text
//! and read back, exactly as the store gives it — so files and store give
//! the same digest byte for byte.

use std::path::PathBuf;

use anyhow::bail;

use crate::analyze::digest::{Digest, DigestSettings, StoredDigest};
use crate::analyze::slow_review::{MonthInput, QuarterReview, SourceRecord, review};
use crate::config::Settings;
use crate::model::window::{Month, Quarter};
use crate::store::Store;
use crate::support::digest::sha256_hex;
use crate::support::redact_urls;

use super::slowlog::LogOptions;

/// One month's digest of one source, in stored form, before merging.
struct Part {
    month: Month,
    source: String,
    text: String,
}

/// Merges the parts into one [`MonthInput`] per month of `months`, parts in
/// order of month then source byte by byte (the store's order).
fn months_of(
    mut parts: Vec<Part>,
    months: &[Month],
    base: &DigestSettings,
    whence: impl Fn(&Part) -> String,
) -> anyhow::Result<Vec<MonthInput>> {
    parts.sort_by(|a, b| (a.month, a.source.as_bytes()).cmp(&(b.month, b.source.as_bytes())));
    let mut out: Vec<MonthInput> = months
        .iter()
        .map(|&month| MonthInput {
            month,
            sources: Vec::new(),
            digest: None,
        })
        .collect();
    for part in parts {
        let Some(slot) = out.iter_mut().find(|m| m.month == part.month) else {
            continue;
        };
        let stored: StoredDigest = serde_json::from_str(&part.text)
            .map_err(|e| anyhow::anyhow!("{}: the stored digest is damaged ({e})", whence(&part)))?;
        let digest = Digest::from_stored(&stored, base).map_err(|e| anyhow::anyhow!("{}: {e}", whence(&part)))?;
        slot.sources.push(SourceRecord {
            source: part.source.clone(),
            sha256: sha256_hex(part.text.as_bytes()),
            statements: digest.statements,
        });
        match &mut slot.digest {
            Some(d) => d.merge(digest),
            None => slot.digest = Some(digest),
        }
    }
    Ok(out)
}

/// The months' digests made from log files (each file's statements by the
/// month they ended in, in the policy's zone).
pub fn from_files(
    files: &[PathBuf],
    options: &LogOptions,
    settings: &Settings,
    base: &DigestSettings,
    months: &[Month],
) -> anyhow::Result<Vec<MonthInput>> {
    let mut parts = Vec::new();
    for (month, file, digested) in super::ingest::monthly_digests(files, options, settings, base)? {
        if months.contains(&month) {
            parts.push(Part {
                month,
                source: file.display().to_string(),
                text: serde_json::to_string(&digested.digest.to_stored())?,
            });
        }
    }
    months_of(parts, months, base, |p| format!("{} ({})", p.source, p.month))
}

/// The months' digests as the store at `location` holds them.
pub fn from_store(
    store: &Store,
    location: &str,
    base: &DigestSettings,
    months: &[Month],
) -> anyhow::Result<Vec<MonthInput>> {
    let (Some(first), Some(last)) = (months.iter().min(), months.iter().max()) else {
        return Ok(Vec::new());
    };
    let shown = redact_urls(location);
    let mut parts = Vec::new();
    for (period, source, mergeable) in store.slowlog_digests(&first.to_string(), &last.to_string())? {
        let Ok(month) = period.parse::<Month>() else {
            continue;
        };
        let Some(text) = mergeable else {
            bail!(
                "{shown}: the slow-log digest of {period} from {source} was stored by an older poolcap without its mergeable form; run `poolcap ingest slowlog {source}` again"
            );
        };
        parts.push(Part { month, source, text });
    }
    months_of(parts, months, base, |p| {
        format!("{shown}: the slow-log digest of {} from {}", p.month, p.source)
    })
}

/// The quarterly review of `quarter` from `files`, or with none from the
/// store at `store`; an error when the quarter holds no statement.
pub fn quarter_review(
    quarter: Quarter,
    files: &[PathBuf],
    store: Option<&str>,
    options: &LogOptions,
    settings: &Settings,
    base: &DigestSettings,
) -> anyhow::Result<QuarterReview> {
    let previous = quarter.previous().months();
    let this = quarter.months();
    let all: Vec<Month> = previous.iter().chain(&this).copied().collect();
    let (months, from) = match store {
        Some(location) => {
            let store = Store::open_existing_or(
                location,
                "there is no history store here; give the logs as files, or store their digests first with `poolcap ingest slowlog FILE…`",
            )?;
            let months = from_store(&store, location, base, &all)?;
            store.close();
            (months, format!("the store {}", redact_urls(location)))
        }
        None => (from_files(files, options, settings, base, &all)?, "files".to_string()),
    };
    let (before, now) = months.split_at(3);
    match review(quarter, &from, before, now) {
        Some(r) => Ok(r),
        None if store.is_some() => bail!(
            "{from}: no slow-log digest is stored for {} to {}; store the quarter's logs with `poolcap ingest slowlog FILE…`",
            this[0],
            this[2]
        ),
        None => bail!(
            "{}: no statement in the logs ended in {quarter} ({} to {}); give the quarter's logs",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            this[0],
            this[2]
        ),
    }
}
