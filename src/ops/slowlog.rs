//! Slow-query logs → one digest by fingerprint, for `slowlog`, `plan
//! --slowlog`, `review` and `ingest`. Files run in parallel across cores; one
//! large plain stderr or jsonlog file is itself split across cores.

use std::path::PathBuf;

use crate::analyze::digest::{Digest, DigestSettings};
use crate::analyze::fingerprint::Dialect;
use crate::config::Settings;
use crate::ingest::slowlog::postgres::Prefix;
pub use crate::ingest::slowlog::reader::FileDigests;
use crate::ingest::slowlog::reader::{self, FileReport, LogFormat, ReadSettings};
use crate::model::provenance::{InputRecord, rfc3339};
use crate::support::notice::Notices;

use super::UsageError;

/// The digest of several files and what each file gave.
pub struct Digested {
    /// All files merged.
    pub digest: Digest,
    /// Per file.
    pub files: Vec<FileReport>,
    /// Per file: digest, statements read / in the window / rejected, span.
    pub provenance: Vec<InputRecord>,
}

/// How to read the slow logs of a run (`--log-line-prefix`, `--input-format`,
/// `--log-timezone`).
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// PostgreSQL's `log_line_prefix`, when not the default.
    pub log_line_prefix: Option<String>,
    /// The logs' format, or `None` to tell each file's by its head.
    pub format: Option<LogFormat>,
    /// The zone of timestamps without one (default: the policy's).
    pub log_timezone: Option<String>,
}

fn read_settings(
    inputs: &LogOptions,
    settings: &Settings,
    threads: usize,
    file_digests: FileDigests,
) -> anyhow::Result<ReadSettings> {
    let prefix = match &inputs.log_line_prefix {
        Some(p) => Some(Prefix::compile(p).map_err(|m| UsageError(format!("--log-line-prefix: {m}")))?),
        None => None,
    };
    let log_timezone = match &inputs.log_timezone {
        Some(z) => {
            jiff::tz::TimeZone::get(z).map_err(|_| UsageError(format!("--log-timezone: unknown time zone {z:?}")))?
        }
        None => settings.policy.timezone.clone(),
    };
    Ok(ReadSettings {
        format: inputs.format,
        prefix,
        log_timezone,
        threads,
        block: reader::BLOCK,
        file_digests,
    })
}

/// Reads and digests `files` with `threads` threads in all (the readers'
/// thread pool, [`reader::read_files`]); each file's dialect follows its
/// format. With [`FileDigests::Skip`] the provenance records carry no SHA-256.
pub fn digest_files(
    files: &[PathBuf],
    inputs: &LogOptions,
    settings: &Settings,
    base: &DigestSettings,
    threads: usize,
    file_digests: FileDigests,
) -> anyhow::Result<Digested> {
    let read = read_settings(inputs, settings, threads.max(1), file_digests)?;
    let per_file = reader::read_files(files, &read, threads, |format| {
        Digest::new(DigestSettings {
            dialect: if format == LogFormat::Mysql {
                Dialect::MySql
            } else {
                Dialect::Postgres
            },
            ..base.clone()
        })
    })?;
    let mut digest = Digest::new(base.clone());
    let mut reports = Vec::with_capacity(per_file.len());
    let mut provenance = Vec::with_capacity(per_file.len());
    for (digests, report) in per_file {
        let mut used = 0;
        let mut span: Option<(i64, i64)> = None;
        for d in digests {
            used += d.statements;
            if let Some((a, b)) = d.span {
                span = Some(span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            }
            digest.merge(d);
        }
        let file = report.digest.clone().unwrap_or(crate::support::digest::FileDigest {
            sha256: String::new(),
            bytes: 0,
        });
        provenance.push(InputRecord {
            kind: "slowlog".into(),
            path: report.path.display().to_string(),
            sha256: file.sha256,
            bytes: file.bytes,
            rows: report.stats.entries,
            used,
            rejected: report.stats.rejected,
            first: span.and_then(|(a, _)| rfc3339(a, true)),
            last: span.and_then(|(_, b)| rfc3339(b, true)),
        });
        reports.push(report);
    }
    Ok(Digested {
        digest,
        files: reports,
        provenance,
    })
}

/// Parses `--since`/`--until`: RFC 3339, or a date (midnight in `tz`).
pub fn parse_when(text: &str, tz: &jiff::tz::TimeZone, flag: &str) -> Result<i64, UsageError> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>()
        && let Ok(z) = date.to_zoned_datetime(tz.clone())
    {
        return Ok(z.timestamp().as_millisecond());
    }
    Err(UsageError(format!(
        "{flag}: {text:?} is not RFC 3339 (2026-10-01T00:00:00Z) or a date (2026-10-01)"
    )))
}

/// The number of threads to use.
pub fn threads(requested: Option<usize>) -> usize {
    requested
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// Tells the user what each file skipped: bad records (with the first few),
/// unrecognized lines (where, with `-v`; never their text, which may hold a
/// query), and fingerprints beyond the digest's limit.
pub fn tell_skipped(digested: &Digested, notices: &mut dyn Notices) {
    for f in &digested.files {
        if f.stats.rejected > 0 {
            notices.warn(&format!(
                "{}: {} bad record(s) skipped",
                f.path.display(),
                f.stats.rejected
            ));
            for bad in &f.stats.first_rejected {
                let diagnostic = crate::ingest::Diagnostic {
                    path: f.path.clone(),
                    line: Some(bad.line),
                    code: bad.code,
                    message: bad.message.clone(),
                };
                notices.note(&format!("  {diagnostic}"));
            }
        }
        if f.stats.unrecognized > 0 {
            let hint = if notices.verbose() { "" } else { " (-v shows where)" };
            notices.note(&format!(
                "{}: {} unrecognized line(s) skipped{hint}",
                f.path.display(),
                f.stats.unrecognized,
            ));
            // Line numbers and lengths only: a log line may hold query text.
            for (line, len) in &f.stats.first_unrecognized {
                let what = if *len == 0 {
                    "not readable as CSV".to_string()
                } else {
                    format!("{len} bytes")
                };
                notices.detail(&format!("  {}:{line}: unrecognized line ({what})", f.path.display()));
            }
        }
    }
    if digested.digest.overflowed > 0 {
        notices.warn(&format!(
            "more than {} distinct fingerprints: {} statement(s) of later shapes are counted as {:?}",
            crate::analyze::digest::MAX_FINGERPRINTS,
            digested.digest.overflowed,
            crate::analyze::digest::OTHER
        ));
    }
}
