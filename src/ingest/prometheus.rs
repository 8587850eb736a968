//! Pool metrics as a Prometheus HTTP API query result: the JSON body of
//! `/api/v1/query_range` (`resultType` `matrix`) or `/api/v1/query`
//! (`vector`), e.g. `{"status":"success","data":{"resultType":"matrix",
//! "result":[{"metric":{"__name__":"sqlalchemy_pool_checked_out",
//! "service":"backend","instance":"web-1"},"values":[[1790841600,"14"]]}]}}`.
//! The bare `data` object (`{"resultType":…,"result":[…]}`) is read too;
//! `status: "error"` and the `scalar`/`string` result types are errors.
//!
//! This module owns the mapping from series to [`Sample`] fields. A series is
//! recognised by its `__name__`, first against the names of `[prometheus]`
//! (`checked_out_metric`, `pool_size_metric`, `max_overflow_metric`,
//! `waiting_metric`, `timeouts_metric`, `checked_in_metric`), then against
//! the OpenTelemetry database-client metrics in their Prometheus spelling,
//! both semantic-convention generations:
//!
//! | field | OpenTelemetry names |
//! |---|---|
//! | checked_out | `db_client_connection_count` / `db_client_connections_usage` with `db_client_connection_state` or `state` = `used` |
//! | checked_in | the same with `idle` (read and checked, not kept: a [`Sample`] has no such field) |
//! | pool_size | `db_client_connection_idle_max` / `db_client_connections_idle_max` |
//! | max_overflow | `db_client_connection_max` / `db_client_connections_max` minus pool_size at that time (when there is no `max_overflow_metric` series) |
//! | waiting | `db_client_connection_pending_requests` / `db_client_connections_pending_requests` |
//! | timeouts | `db_client_connection_timeouts[_total]` / `db_client_connections_timeouts[_total]` |
//!
//! `overflow_metric` is recognised and skipped (its points are not rows).
//! A document is told apart by its `"resultType"`, an error answer by its
//! `"errorType"` ([`super::detect`]); `--metrics-format prometheus`
//! (`--input-format` of `ingest metrics`) forces it.
//! Series of any other name are ignored and named in one notice per file.
//! The service is the `service_label` label, else `job` (where OpenTelemetry
//! puts `service.name`), else `--service`, else the whole series is rejected
//! (`missing-label`); the instance is the `instance_label` label, else
//! `db_client_connection_pool_name` or `pool_name`, else `default`. An empty
//! label is an absent one, as in Prometheus. A second series for the same
//! field, service and instance (the same pool scraped by two jobs) is rejected
//! whole (`duplicate-series`), the first one kept.
//!
//! Join: within the file, one sample per point of a checked-out series. The
//! other fields are taken at that time, or from their latest earlier point
//! within five minutes (Prometheus' lookback); a checked-out point without a
//! pool size is rejected (`no-pool-size`), the optional fields are then
//! absent. Times are float seconds, floored to whole seconds (poolcap's
//! unit; two points of one series in one second: the later is rejected,
//! `duplicate-time`). Values must be whole numbers ≥ 0: `NaN` (also how a
//! stale marker, the end of a series, would show) is `not-a-number`, `±Inf`
//! is `infinite`, fractions, negatives, numbers past `u32` (`2^53` for the
//! timeouts counter) and text are `bad-number`, as is a pool size of 0. A bad
//! point leaves a hole: the lookback does not reach past it. The timeouts
//! counter is passed through raw; its resets are the analyzer's to handle.
//!
//! Summary: `rows` counts the points of recognised series (also those of
//! rejected series), `accepted` the samples, `rejected` the rejected points;
//! good points of the fields other than checked_out are rows that are neither,
//! so `accepted + rejected ≤ rows`. Samples are passed on sorted by time, then
//! series.
//!
//! Streaming: the document is deserialized with serde visitors, one series
//! entry at a time, never as a whole `Value`; only the compact points of
//! recognised series are kept until the join, so memory is bounded by the
//! points joined within one file. Query results are usually one line, so a
//! diagnostic's line is the line where its series entry starts and its
//! message names the series' labels and the point's time.

mod diagnostics;
mod document;
mod join;
mod points;
mod series;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::Path;

use serde::de::DeserializeSeed;

use super::{Diagnostics, FileSummary, IngestError, ReadContext, ReadOptions, SeriesTable, clip, finish, quote};
use diagnostics::parse_error;
use document::Document;
use join::Group;
use points::RawPoint;
use series::Verdict;
pub use series::metric_names;

/// Prometheus' default lookback: a value holds five minutes after its point.
pub const LOOKBACK_SECONDS: i64 = 300;

/// Everything one file's reading gathers.
struct State<'a> {
    path: &'a Path,
    opts: &'a ReadOptions,
    /// Newlines delivered to the parser so far.
    newlines: &'a Cell<u64>,
    diags: &'a mut Diagnostics,
    summary: FileSummary,
    series: &'a mut SeriesTable,
    /// (service, instance) → its recognised series.
    groups: BTreeMap<(String, String), Group>,
    /// Series of names poolcap does not read: name → count.
    unknown: BTreeMap<String, u64>,
    status: Option<String>,
    error_type: Option<String>,
    error: Option<String>,
    result_type: Option<String>,
    saw_result: bool,
}

impl State<'_> {
    /// Files one series entry read whole: its verdict and, when kept, its points.
    fn file_entry(
        &mut self,
        line: u64,
        labels: &BTreeMap<String, String>,
        verdict: Verdict,
        points: u64,
        raw: Vec<RawPoint>,
    ) {
        match verdict {
            Verdict::Skip => {}
            Verdict::Unknown(name) => *self.unknown.entry(name).or_default() += 1,
            Verdict::Reject(code, message) => {
                self.summary.rows += points;
                self.reject_series(
                    line,
                    code,
                    format!("{message}; its {points} points are skipped"),
                    points,
                );
            }
            Verdict::Keep(field, key) => {
                self.summary.rows += points;
                self.entry(line, labels, field, key, raw);
            }
        }
    }
}

/// Counts the newlines and bytes the JSON parser has taken.
struct LineCounter<'c, R> {
    inner: R,
    newlines: &'c Cell<u64>,
    bytes: u64,
}

impl<R: Read> Read for LineCounter<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let lines = memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        self.newlines.set(self.newlines.get() + lines);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Streams one query result, calling `sink` with every valid sample.
pub fn read(input: impl Read, cx: ReadContext<'_>) -> Result<FileSummary, IngestError> {
    let ReadContext {
        path,
        file,
        opts,
        series,
        diags,
        sink,
    } = cx;
    let newlines = Cell::new(0u64);
    let mut reader = LineCounter {
        inner: BufReader::with_capacity(1 << 16, input),
        newlines: &newlines,
        bytes: 0,
    };
    let mut state = State {
        path,
        opts,
        newlines: &newlines,
        diags,
        summary: FileSummary::default(),
        series,
        groups: BTreeMap::new(),
        unknown: BTreeMap::new(),
        status: None,
        error_type: None,
        error: None,
        result_type: None,
        saw_result: false,
    };
    let mut de = serde_json::Deserializer::from_reader(&mut reader);
    Document(&mut state)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| parse_error(path, e))?;
    let header = |message: String| IngestError::Header {
        path: path.to_path_buf(),
        line: 1,
        message,
    };
    match state.status.as_deref() {
        None | Some("success") => {}
        Some(status) => {
            return Err(header(format!(
                "Prometheus answered status {} ({}): {}",
                quote(status.as_bytes()),
                clip(state.error_type.as_deref().unwrap_or("no errorType")),
                clip(state.error.as_deref().unwrap_or("no error message"))
            )));
        }
    }
    if state.result_type.is_none() || !state.saw_result {
        return Err(header(
            "not a Prometheus query result: no data.resultType and data.result".into(),
        ));
    }
    state.join(file, sink)?;
    state.notice_unknown();
    let mut summary = state.summary;
    summary.bytes = reader.bytes;
    finish(path, summary)
}

#[cfg(test)]
mod tests;
