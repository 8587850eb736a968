//! The checks every reader's rows share, whatever the format: values within
//! [`crate::model::limits`], a plausible time, printable names, a pool size
//! ≥ 1, checked-out within capacity; and counting a row as accepted or
//! rejected (and a file with no accepted row as an error).

use std::path::Path;

use super::{Diagnostic, Diagnostics, FileSummary, IngestError, Sample, SeriesTable};

/// Why one row (CSV) or line (JSON lines) was rejected: a stable code and a message.
pub(crate) struct RowError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

pub(crate) fn row_error(code: &'static str, message: String) -> RowError {
    RowError { code, message }
}

/// The earliest sample time poolcap believes: 2000-01-01T00:00:00Z.
pub const EARLIEST_TS: i64 = 946_684_800;

/// Samples later than this (now + 1 day) are implausible. Taken from the
/// clock once per run.
fn latest_ts() -> i64 {
    static LATEST: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *LATEST.get_or_init(|| jiff::Timestamp::now().as_second() + 86_400)
}

/// The checks every reader's samples share, whatever the format: values
/// within [`crate::model::limits`], a plausible time, printable names.
fn check_sample(s: &Sample, series: &SeriesTable) -> Result<(), RowError> {
    let limit = crate::model::limits::MAX_CONNECTIONS;
    let fields = [
        ("pool_size", Some(s.pool_size)),
        ("checked_out", Some(s.checked_out)),
        ("max_overflow", s.max_overflow),
        ("waiting", s.waiting),
    ];
    for (name, value) in fields {
        if let Some(v) = value
            && v > limit
        {
            return Err(row_error(
                "beyond-limit",
                format!("{name} {v} is beyond poolcap's limit of {limit} connections"),
            ));
        }
    }
    if let Some(t) = s.timeouts
        && t > MAX_TIMEOUTS
    {
        return Err(row_error(
            "beyond-limit",
            format!("timeouts {t} is beyond poolcap's limit of {MAX_TIMEOUTS}"),
        ));
    }
    if s.ts < EARLIEST_TS {
        return Err(row_error(
            "implausible-time",
            format!(
                "the time {} is before 2000; check the timestamp column (seconds, not milliseconds?)",
                show_time(s.ts)
            ),
        ));
    }
    if s.ts > latest_ts() {
        return Err(row_error(
            "implausible-time",
            format!(
                "the time {} is more than a day in the future; check the timestamp column (milliseconds instead of seconds?) and the clock",
                show_time(s.ts)
            ),
        ));
    }
    if series.bad_name[s.series as usize] {
        let key = series.key(s.series);
        return Err(row_error(
            "bad-name",
            format!(
                "the service or instance name {:?} / {:?} holds a control character (newline, tab, …)",
                excerpt(&key.service),
                excerpt(&key.instance)
            ),
        ));
    }
    Ok(())
}

/// RFC 3339 in UTC, or the raw seconds when out of range.
fn show_time(ts: i64) -> String {
    jiff::Timestamp::from_second(ts).map_or_else(|_| format!("{ts} s"), |t| t.to_string())
}

/// Cumulative timeouts above this are not a count (2⁵³: where a float
/// counter such as Prometheus' stops counting by ones).
pub const MAX_TIMEOUTS: u64 = 1 << 53;

/// At most 64 characters of a name, for messages.
fn excerpt(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &name[..i]),
        None => name.to_string(),
    }
}

/// Counts one parsed row of `path`: passes the sample on, or records why the
/// row at `line` was rejected. Fails the run when the file brings more
/// service/instance pairs than the table's limit.
pub(crate) fn take_row(
    parsed: Result<Sample, RowError>,
    path: &Path,
    line: u64,
    summary: &mut FileSummary,
    diags: &mut Diagnostics,
    series: &SeriesTable,
    sink: &mut dyn FnMut(&SeriesTable, Sample),
) -> Result<(), IngestError> {
    if series.len() > series.limit {
        return Err(IngestError::TooManySeries {
            path: path.to_path_buf(),
            line,
            limit: series.limit,
        });
    }
    let parsed = parsed.and_then(|s| check_sample(&s, series).map(|()| s));
    match parsed {
        Ok(sample) => {
            summary.accepted += 1;
            sink(series, sample);
        }
        Err(e) => {
            summary.rejected += 1;
            diags.reject(Diagnostic {
                path: path.to_path_buf(),
                line: Some(line),
                code: e.code,
                message: e.message,
            });
        }
    }
    Ok(())
}

/// A pool size of 0 (`name` as the input spells it) is no QueuePool.
pub(crate) fn check_pool_size(pool_size: u64, name: &str) -> Result<(), RowError> {
    if pool_size == 0 {
        return Err(row_error(
            "bad-number",
            format!("{name} is 0; a QueuePool has at least one connection"),
        ));
    }
    Ok(())
}

/// Connections checked out fit in `pool_size + max_overflow`, when the
/// overflow limit is known (`over-capacity` otherwise).
pub(crate) fn check_capacity(checked_out: u32, pool_size: u32, max_overflow: Option<u32>) -> Result<(), RowError> {
    match max_overflow {
        Some(mo) if u64::from(checked_out) > u64::from(pool_size) + u64::from(mo) => Err(row_error(
            "over-capacity",
            format!("checked_out {checked_out} exceeds pool_size {pool_size} + max_overflow {mo}"),
        )),
        _ => Ok(()),
    }
}

/// A file's summary, or [`IngestError::NoSamples`] when no row was accepted.
pub(crate) fn finish(path: &Path, summary: FileSummary) -> Result<FileSummary, IngestError> {
    if summary.accepted == 0 {
        return Err(IngestError::NoSamples {
            path: path.to_path_buf(),
            rows: summary.rows,
            rejected: summary.rejected,
        });
    }
    Ok(summary)
}
