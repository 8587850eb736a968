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

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufReader, Read};
use std::path::Path;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{
    Diagnostic, Diagnostics, FileSummary, IngestError, ReadContext, ReadOptions, RowError, Sample, SeriesTable,
    check_capacity, check_pool_size, clip, finish, quote, row_error, take_row,
};
use crate::config::PrometheusSettings;

/// Prometheus' default lookback: a value holds five minutes after its point.
const LOOKBACK_SECONDS: i64 = 300;

/// The last second of year 9999: later numeric times are not Unix seconds.
const LAST_UNIX_SECOND: f64 = 253_402_300_799.0;

/// Largest counter value a float64 holds exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// The sample field a recognised series feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Field {
    CheckedOut,
    CheckedIn,
    PoolSize,
    MaxOverflow,
    /// `pool_size + max_overflow` (OpenTelemetry's `…_max`).
    MaxConnections,
    Waiting,
    Timeouts,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::CheckedOut => "checked_out",
            Field::CheckedIn => "checked_in",
            Field::PoolSize => "pool_size",
            Field::MaxOverflow => "max_overflow",
            Field::MaxConnections => "max connections",
            Field::Waiting => "waiting",
            Field::Timeouts => "timeouts",
        }
    }

    /// Largest value the field takes.
    fn limit(self) -> f64 {
        match self {
            Field::Timeouts => MAX_EXACT,
            _ => f64::from(u32::MAX),
        }
    }
}

/// What a series' name and labels make of it.
enum Class {
    Field(Field),
    /// Known and deliberately skipped (`overflow_metric`).
    Skipped,
    /// Not a pool metric poolcap reads.
    Unknown,
}

fn label<'a>(labels: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    labels.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

fn classify(labels: &BTreeMap<String, String>, p: &PrometheusSettings) -> Class {
    let Some(name) = label(labels, "__name__") else {
        return Class::Unknown;
    };
    let configured = [
        (&p.checked_out_metric, Field::CheckedOut),
        (&p.pool_size_metric, Field::PoolSize),
        (&p.max_overflow_metric, Field::MaxOverflow),
        (&p.waiting_metric, Field::Waiting),
        (&p.timeouts_metric, Field::Timeouts),
        (&p.checked_in_metric, Field::CheckedIn),
    ];
    if let Some((_, field)) = configured.iter().find(|(n, _)| n.as_str() == name) {
        return Class::Field(*field);
    }
    if name == p.overflow_metric {
        return Class::Skipped;
    }
    let field = match name {
        "db_client_connection_count" | "db_client_connections_usage" => {
            match label(labels, "db_client_connection_state").or_else(|| label(labels, "state")) {
                Some("used") => Field::CheckedOut,
                Some("idle") => Field::CheckedIn,
                _ => return Class::Unknown,
            }
        }
        "db_client_connection_idle_max" | "db_client_connections_idle_max" => Field::PoolSize,
        "db_client_connection_max" | "db_client_connections_max" => Field::MaxConnections,
        "db_client_connection_pending_requests" | "db_client_connections_pending_requests" => Field::Waiting,
        "db_client_connection_timeouts"
        | "db_client_connection_timeouts_total"
        | "db_client_connections_timeouts"
        | "db_client_connections_timeouts_total" => Field::Timeouts,
        _ => return Class::Unknown,
    };
    Class::Field(field)
}

/// `name{a="x",b="y"}`, as Prometheus writes a series.
struct Series<'a>(&'a BTreeMap<String, String>);

impl fmt::Display for Series<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{{", self.0.get("__name__").map_or("", String::as_str))?;
        let mut first = true;
        for (k, v) in self.0.iter().filter(|(k, _)| k.as_str() != "__name__") {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// A series as errors show it: [`Series`], cut like [`clip`].
fn series_text(labels: &BTreeMap<String, String>) -> String {
    clip(&Series(labels).to_string()).into_owned()
}

/// A point's value as read: a float (Prometheus' text of one) or other text.
#[derive(Debug, Clone)]
enum Value {
    Number(f64),
    Text(Box<str>),
}

/// A point as read, before it is checked.
#[derive(Debug, Clone)]
struct RawPoint {
    ts: f64,
    value: Value,
}

/// A checked point: whole seconds and the value, or `None` for a rejected
/// point (a hole the lookback does not reach past).
#[derive(Debug, Clone, Copy)]
struct Point {
    ts: i64,
    value: Option<u64>,
}

/// A recognised, accepted series, kept until the join.
#[derive(Debug)]
struct Kept {
    line: u64,
    labels: String,
    points: Vec<Point>,
}

/// The fields of one service/instance.
#[derive(Debug, Default)]
struct Group {
    fields: BTreeMap<Field, Kept>,
}

fn time_text(ts: i64) -> String {
    jiff::Timestamp::from_second(ts).map_or_else(|_| ts.to_string(), |t| t.to_string())
}

/// Checks one value of `field`.
fn check_value(field: Field, value: &Value) -> Result<u64, RowError> {
    let name = field.name();
    let v = match value {
        Value::Text(text) => {
            return Err(row_error(
                "bad-number",
                format!("{name} {} is not a number", quote(text.as_bytes())),
            ));
        }
        Value::Number(v) => *v,
    };
    if v.is_nan() {
        return Err(row_error(
            "not-a-number",
            format!("{name} is NaN (no value, or a stale marker: the series had ended)"),
        ));
    }
    if v.is_infinite() {
        let sign = if v > 0.0 { '+' } else { '-' };
        return Err(row_error("infinite", format!("{name} is {sign}Inf")));
    }
    if v < 0.0 || v.fract() != 0.0 {
        return Err(row_error(
            "bad-number",
            format!("{name} {} is not a whole number ≥ 0", number_text(v)),
        ));
    }
    if v > field.limit() {
        return Err(row_error("bad-number", format!("{name} {v:e} is out of range")));
    }
    if field == Field::PoolSize {
        check_pool_size(v as u64, "pool_size")?;
    }
    Ok(v as u64)
}

/// A float as a person reads it: `1.5`, `-3`, `1e308`.
fn number_text(v: f64) -> String {
    if v.abs() >= 1e16 || (v != 0.0 && v.abs() < 1e-6) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// Parses a value's text the way Prometheus writes floats (`14`, `0.5`,
/// `1e+308`, `NaN`, `+Inf`, `-Inf`).
fn parse_value(text: &str) -> Value {
    match text.parse::<f64>() {
        Ok(v) => Value::Number(v),
        Err(_) => Value::Text(text.chars().take(40).collect::<String>().into_boxed_str()),
    }
}

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
    fn reject_point(&mut self, line: u64, error: RowError) {
        // Rejections come before any series is interned (that happens in
        // `join`), so the series limit cannot be what fails here.
        let _ = take_row(
            Err(error),
            self.path,
            line,
            &mut self.summary,
            self.diags,
            self.series,
            &mut |_, _| {},
        );
    }

    /// Rejects a whole series of `points` points with one diagnostic.
    fn reject_series(&mut self, line: u64, code: &'static str, message: String, points: u64) {
        let diagnostic = Diagnostic {
            path: self.path.to_path_buf(),
            line: Some(line),
            code,
            message,
        };
        if points == 0 {
            self.diags.notice(diagnostic);
            return;
        }
        self.summary.rejected += points;
        self.diags.reject(diagnostic);
        self.diags.count(code, points - 1);
    }

    /// Checks and keeps the points of an accepted series of `field`.
    fn entry(
        &mut self,
        line: u64,
        labels: &BTreeMap<String, String>,
        field: Field,
        key: (String, String),
        raw: Vec<RawPoint>,
    ) {
        let shown = series_text(labels);
        let mut points: Vec<Point> = Vec::with_capacity(raw.len());
        for p in raw {
            if !(0.0..=LAST_UNIX_SECOND).contains(&p.ts) {
                self.reject_point(
                    line,
                    row_error(
                        "bad-timestamp",
                        format!("{shown}: time {} is not a Unix time in seconds", p.ts),
                    ),
                );
                continue;
            }
            let ts = p.ts.floor() as i64;
            let value = match check_value(field, &p.value) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.reject_point(
                        line,
                        row_error(e.code, format!("{shown} at {}: {}", time_text(ts), e.message)),
                    );
                    None
                }
            };
            points.push(Point { ts, value });
        }
        points.sort_by_key(|p| p.ts);
        let mut kept: Vec<Point> = Vec::with_capacity(points.len());
        for p in points {
            if kept.last().is_some_and(|last| last.ts == p.ts) {
                self.reject_point(
                    line,
                    row_error(
                        "duplicate-time",
                        format!("{shown} at {}: a second point in the same second", time_text(p.ts)),
                    ),
                );
                continue;
            }
            kept.push(p);
        }
        self.groups.entry(key).or_default().fields.insert(
            field,
            Kept {
                line,
                labels: shown,
                points: kept,
            },
        );
    }
}

/// What becomes of a series entry, decided from its labels before its points
/// are read (Prometheus writes `metric` first).
enum Verdict {
    /// Kept for the join: field and (service, instance).
    Keep(Field, (String, String)),
    /// Rejected whole: code and what is wrong (the point count is added).
    Reject(&'static str, String),
    /// A series poolcap does not read, named in the notice.
    Unknown(String),
    /// Known and skipped.
    Skip,
}

impl State<'_> {
    /// Decides what becomes of the series with `labels`.
    fn verdict(&self, labels: &BTreeMap<String, String>) -> Verdict {
        let field = match classify(labels, &self.opts.prometheus) {
            Class::Field(f) => f,
            Class::Skipped => return Verdict::Skip,
            Class::Unknown => {
                return Verdict::Unknown(clip(label(labels, "__name__").unwrap_or("(no __name__)")).into_owned());
            }
        };
        let p = &self.opts.prometheus;
        let service = label(labels, &p.service_label)
            .or_else(|| label(labels, "job"))
            .or(self.opts.service.as_deref())
            .map(str::to_string);
        let Some(service) = service else {
            return Verdict::Reject(
                "missing-label",
                format!(
                    "{}: no {:?} or \"job\" label names the service (give --service)",
                    series_text(labels),
                    p.service_label
                ),
            );
        };
        let instance = label(labels, &p.instance_label)
            .or_else(|| label(labels, "db_client_connection_pool_name"))
            .or_else(|| label(labels, "pool_name"))
            .unwrap_or("default")
            .to_string();
        let key = (service, instance);
        if let Some(first) = self.groups.get(&key).and_then(|g| g.fields.get(&field)) {
            return Verdict::Reject(
                "duplicate-series",
                format!(
                    "{} is a second {} series of service {} instance {}; the first, {} at line {}, is kept",
                    series_text(labels),
                    field.name(),
                    quote(key.0.as_bytes()),
                    quote(key.1.as_bytes()),
                    first.labels,
                    first.line
                ),
            );
        }
        Verdict::Keep(field, key)
    }

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

    /// Joins the kept series into samples, passed on in (time, series) order
    /// by merging the series as they are (each is in time order), so no
    /// second copy of the points is made.
    fn join(&mut self, file: u32, sink: &mut dyn FnMut(&SeriesTable, Sample)) -> Result<(), IngestError> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let groups = std::mem::take(&mut self.groups);
        let mut joined: Vec<(u32, &Group, &Kept)> = Vec::new();
        for ((service, instance), group) in &groups {
            if let Some(out) = group.fields.get(&Field::CheckedOut) {
                joined.push((self.series.intern(service.as_bytes(), instance.as_bytes()), group, out));
            }
        }
        // (time, series, index in `joined`, index of the point).
        let mut next: BinaryHeap<Reverse<(i64, u32, usize, usize)>> = joined
            .iter()
            .enumerate()
            .filter_map(|(j, (id, _, out))| out.points.first().map(|p| Reverse((p.ts, *id, j, 0))))
            .collect();
        while let Some(Reverse((_, id, j, k))) = next.pop() {
            let (_, group, out) = joined[j];
            if let Some(p) = out.points.get(k + 1) {
                next.push(Reverse((p.ts, id, j, k + 1)));
            }
            let point = out.points[k];
            let Some(checked_out) = point.value else {
                continue; // rejected when read
            };
            match joined_sample(group, out, point.ts, checked_out, id, file) {
                Ok(sample) => take_row(
                    Ok(sample),
                    self.path,
                    sample.line,
                    &mut self.summary,
                    self.diags,
                    self.series,
                    sink,
                )?,
                Err(e) => self.reject_point(out.line, e),
            }
        }
        Ok(())
    }
}

/// The sample of the checked-out point at `ts` of `group` (series `out`),
/// with the other fields at that time or within the lookback before it.
fn joined_sample(group: &Group, out: &Kept, ts: i64, checked_out: u64, id: u32, file: u32) -> Result<Sample, RowError> {
    let at = |field: Field| group.fields.get(&field).and_then(|k| lookup(&k.points, ts));
    let when = || format!("{} at {}", out.labels, time_text(ts));
    let checked_out = u32::try_from(checked_out).unwrap_or(u32::MAX);
    let Some(pool_size) = at(Field::PoolSize) else {
        return Err(row_error(
            "no-pool-size",
            format!(
                "{}: no pool size at that time or in the {LOOKBACK_SECONDS} s before",
                when()
            ),
        ));
    };
    let pool_size = u32::try_from(pool_size).unwrap_or(u32::MAX);
    let max_overflow = match at(Field::MaxOverflow) {
        Some(v) => Some(u32::try_from(v).unwrap_or(u32::MAX)),
        None => match at(Field::MaxConnections) {
            Some(max) if max < u64::from(pool_size) => {
                return Err(row_error(
                    "bad-number",
                    format!("{}: max connections {max} is below pool_size {pool_size}", when()),
                ));
            }
            Some(max) => Some(u32::try_from(max - u64::from(pool_size)).unwrap_or(u32::MAX)),
            None => None,
        },
    };
    check_capacity(checked_out, pool_size, max_overflow)
        .map_err(|e| row_error(e.code, format!("{}: {}", when(), e.message)))?;
    Ok(Sample {
        series: id,
        ts,
        pool_size,
        checked_out,
        max_overflow,
        waiting: at(Field::Waiting).map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
        timeouts: at(Field::Timeouts),
        line: out.line,
        file,
    })
}

/// The value at `ts`: the point at that second or the latest earlier one
/// within the lookback; `None` when there is none or it was rejected.
fn lookup(points: &[Point], ts: i64) -> Option<u64> {
    let i = points.partition_point(|p| p.ts <= ts);
    let p = points.get(i.checked_sub(1)?)?;
    if p.ts < ts - LOOKBACK_SECONDS {
        return None;
    }
    p.value
}

/// The top-level object: the API envelope or the bare `data` object.
struct Document<'s, 'a>(&'s mut State<'a>);

impl<'de> DeserializeSeed<'de> for Document<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Prometheus API response object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "status" => self.0.status = Some(map.next_value()?),
                "errorType" => self.0.error_type = map.next_value()?,
                "error" => self.0.error = map.next_value()?,
                "data" => map.next_value_seed(Data(&mut *self.0))?,
                "resultType" | "result" => data_field(&mut *self.0, &key, &mut map)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads the value of `resultType` or `result` from `map`.
fn data_field<'de, A: MapAccess<'de>>(state: &mut State<'_>, key: &str, map: &mut A) -> Result<(), A::Error> {
    if key == "resultType" {
        let t: String = map.next_value()?;
        check_result_type::<A::Error>(&t)?;
        state.result_type = Some(t);
    } else {
        state.saw_result = true;
        map.next_value_seed(Results(state))?;
    }
    Ok(())
}

fn check_result_type<E: de::Error>(t: &str) -> Result<(), E> {
    match t {
        "matrix" | "vector" => Ok(()),
        other => Err(E::custom(format_args!(
            "resultType {} holds no series: poolcap reads \"matrix\" (query_range) or \"vector\" (query) results",
            quote(other.as_bytes())
        ))),
    }
}

/// The `data` object.
struct Data<'s, 'a>(&'s mut State<'a>);

impl<'de> DeserializeSeed<'de> for Data<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Data<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a data object with resultType and result")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "resultType" | "result" => data_field(&mut *self.0, &key, &mut map)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `result` array of series entries.
struct Results<'s, 'a>(&'s mut State<'a>);

impl<'de> DeserializeSeed<'de> for Results<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Results<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of series")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Entry(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One series entry: `{"metric": {…}, "values": [[t, "v"], …]}` (or `"value"`).
struct Entry<'s, 'a>(&'s mut State<'a>);

impl<'de> DeserializeSeed<'de> for Entry<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Entry<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a series object with metric and values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        let line = state.newlines.get() + 1;
        let mut labels: Option<BTreeMap<String, String>> = None;
        let mut verdict: Option<Verdict> = None;
        let mut raw: Vec<RawPoint> = Vec::new();
        let mut count = 0u64;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "metric" => {
                    if labels.is_some() {
                        return Err(de::Error::duplicate_field("metric"));
                    }
                    let l = map.next_value()?;
                    verdict = Some(state.verdict(&l));
                    labels = Some(l);
                }
                "values" | "value" => {
                    // Points before the labels are kept until the labels tell.
                    let keep = verdict.as_ref().is_none_or(|v| matches!(v, Verdict::Keep(..)));
                    let points = Points {
                        keep: keep.then_some(&mut raw),
                        count: &mut count,
                    };
                    if key == "values" {
                        map.next_value_seed(points)?;
                    } else {
                        map.next_value_seed(OnePoint(points))?;
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(labels), Some(verdict)) = (labels, verdict) else {
            return Err(de::Error::missing_field("metric"));
        };
        state.file_entry(line, &labels, verdict, count, raw);
        Ok(())
    }
}

/// Where the points of a series go: kept, or only counted.
struct Points<'p> {
    keep: Option<&'p mut Vec<RawPoint>>,
    count: &'p mut u64,
}

impl<'de> DeserializeSeed<'de> for Points<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Points<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of [time, \"value\"] points")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(point) = seq.next_element_seed(PointSeed)? {
            *self.count += 1;
            if let Some(keep) = self.keep.as_deref_mut() {
                keep.push(point);
            }
        }
        Ok(())
    }
}

/// The single point of a `vector` result.
struct OnePoint<'p>(Points<'p>);

impl<'de> DeserializeSeed<'de> for OnePoint<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(mut self, d: D) -> Result<(), D::Error> {
        let point = PointSeed.deserialize(d)?;
        *self.0.count += 1;
        if let Some(keep) = self.0.keep.as_deref_mut() {
            keep.push(point);
        }
        Ok(())
    }
}

/// `[1790841600.5, "14"]`.
struct PointSeed;

impl<'de> DeserializeSeed<'de> for PointSeed {
    type Value = RawPoint;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawPoint, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PointSeed {
    type Value = RawPoint;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a point [time, \"value\"]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawPoint, A::Error> {
        let ts: f64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let value = seq
            .next_element_seed(ValueSeed)?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Ok(RawPoint { ts, value })
    }
}

/// A point's value: Prometheus writes a string; a bare JSON number is taken too.
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value string such as \"14\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(parse_value(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v))
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

/// A parse error as the file's error at the line serde_json names.
fn parse_error(path: &Path, e: serde_json::Error) -> IngestError {
    if e.is_io() {
        return IngestError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        };
    }
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    IngestError::Header {
        path: path.to_path_buf(),
        line: e.line().max(1) as u64,
        message: format!(
            "not a Prometheus query result: {} (column {})",
            clip(message),
            e.column()
        ),
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
    if !state.unknown.is_empty() {
        let total: u64 = state.unknown.values().sum();
        const NAMED: usize = 20;
        let mut names: Vec<String> = state
            .unknown
            .iter()
            .take(NAMED)
            .map(|(n, c)| if *c == 1 { n.clone() } else { format!("{n} (×{c})") })
            .collect();
        if state.unknown.len() > NAMED {
            names.push(format!("and {} other names", state.unknown.len() - NAMED));
        }
        state.diags.notice(Diagnostic {
            path: path.to_path_buf(),
            line: None,
            code: "unknown-metric",
            message: format!(
                "ignored {total} series of metrics poolcap does not read: {}",
                names.join(", ")
            ),
        });
    }
    let mut summary = state.summary;
    summary.bytes = reader.bytes;
    finish(path, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::PathBuf;

    /// (service, instance, ts, pool_size, checked_out, max_overflow, waiting, timeouts).
    type Row = (String, String, i64, u32, u32, Option<u32>, Option<u32>, Option<u64>);

    struct Run {
        result: Result<FileSummary, IngestError>,
        samples: Vec<Sample>,
        diags: Diagnostics,
        series: SeriesTable,
    }

    impl Run {
        /// (code, line, message) of every shown diagnostic.
        fn shown(&self) -> Vec<(&'static str, u64, String)> {
            self.diags
                .shown()
                .iter()
                .map(|d| (d.code, d.line.unwrap(), d.message.clone()))
                .collect()
        }

        fn codes(&self) -> Vec<&'static str> {
            self.diags.shown().iter().map(|d| d.code).collect()
        }

        fn rows(&self) -> Vec<Row> {
            self.samples
                .iter()
                .map(|s| {
                    let k = self.series.key(s.series);
                    (
                        k.service.clone(),
                        k.instance.clone(),
                        s.ts,
                        s.pool_size,
                        s.checked_out,
                        s.max_overflow,
                        s.waiting,
                        s.timeouts,
                    )
                })
                .collect()
        }
    }

    fn run_with(text: &[u8], service: Option<&str>, format: crate::ingest::MetricFormat) -> Run {
        let mut series = SeriesTable::default();
        let mut diags = Diagnostics::default();
        let mut samples = Vec::new();
        let opts = ReadOptions {
            service: service.map(str::to_string),
            format,
            ..ReadOptions::default()
        };
        let result = crate::ingest::read_metrics(
            text,
            ReadContext {
                path: &PathBuf::from("q.json"),
                file: 3,
                opts: &opts,
                series: &mut series,
                diags: &mut diags,
                sink: &mut |_, s| samples.push(s),
            },
        );
        Run {
            result,
            samples,
            diags,
            series,
        }
    }

    fn run(text: &str, service: Option<&str>) -> Run {
        run_with(text.as_bytes(), service, crate::ingest::MetricFormat::Auto)
    }

    /// A query_range envelope around series entries `(labels, values)`.
    fn matrix(entries: &[(&str, &str)]) -> String {
        let result: Vec<String> = entries
            .iter()
            .map(|(labels, values)| format!("{{\"metric\":{{{labels}}},\"values\":[{values}]}}"))
            .collect();
        format!(
            "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{}]}}}}",
            result.join(",")
        )
    }

    const T0: i64 = 1_790_841_600; // 2026-10-01T08:00:00Z

    fn s(service: &str, instance: &str, ts: i64, pool: u32, out: u32) -> Row {
        (service.into(), instance.into(), ts, pool, out, None, None, None)
    }

    #[test]
    fn sqlalchemy_gauges_are_joined_per_instance_in_time_order() {
        let text = matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"backend","instance":"web-2""#,
                r#"[1790841600,"3"],[1790841660,"4"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"backend","instance":"web-1""#,
                r#"[1790841600,"14"],[1790841660.5,"15"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"backend","instance":"web-1""#,
                r#"[1790841600,"20"],[1790841660,"20"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"backend","instance":"web-2""#,
                r#"[1790841600,"10"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_max_overflow","service":"backend","instance":"web-1""#,
                r#"[1790841600,"10"],[1790841660,"10"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_waiting","service":"backend","instance":"web-1""#,
                r#"[1790841660,"2"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_timeouts_total","service":"backend","instance":"web-1""#,
                r#"[1790841600,"7"],[1790841660,"9"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_checked_in","service":"backend","instance":"web-1""#,
                r#"[1790841600,"6"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_overflow","service":"backend","instance":"web-1""#,
                r#"[1790841600,"-6"]"#,
            ),
        ]);
        let r = run(&text, None);
        let summary = r.result.as_ref().unwrap();
        assert_eq!(
            r.rows(),
            vec![
                ("backend".into(), "web-1".into(), T0, 20, 14, Some(10), None, Some(7)),
                s("backend", "web-2", T0, 10, 3),
                (
                    "backend".into(),
                    "web-1".into(),
                    T0 + 60,
                    20,
                    15,
                    Some(10),
                    Some(2),
                    Some(9)
                ),
                s("backend", "web-2", T0 + 60, 10, 4),
            ]
        );
        // Points of recognised series (the overflow gauge is skipped): 4 + 3 + 2 + 1 + 2 + 1.
        assert_eq!((summary.rows, summary.accepted, summary.rejected), (13, 4, 0));
        assert_eq!(summary.bytes, text.len() as u64);
        assert!(r.diags.notices().is_empty(), "{:?}", r.diags.notices());
        assert!(r.samples.iter().all(|s| s.file == 3 && s.line == 1));
    }

    #[test]
    fn fractional_timestamps_are_floored() {
        let text = matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
                r#"[1790841600.999,"1"],[1790841660.5,"2"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"b""#,
                r#"[1790841600.2,"5"]"#,
            ),
        ]);
        let r = run(&text, None);
        assert_eq!(
            r.rows(),
            vec![s("b", "default", T0, 5, 1), s("b", "default", T0 + 60, 5, 2)]
        );
    }

    #[test]
    fn pool_size_holds_for_five_minutes_of_lookback_and_no_longer() {
        let text = matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b","instance":"i""#,
                r#"[1790841590,"1"],[1790841600,"2"],[1790841900,"3"],[1790841901,"4"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"b","instance":"i""#,
                r#"[1790841600,"5"]"#,
            ),
        ]);
        let r = run(&text, None);
        assert_eq!(r.rows(), vec![s("b", "i", T0, 5, 2), s("b", "i", T0 + 300, 5, 3)]);
        let shown = r.shown();
        assert_eq!(shown.len(), 2);
        assert!(
            shown
                .iter()
                .all(|(code, line, _)| *code == "no-pool-size" && *line == 1)
        );
        assert!(shown[0].2.contains("2026-10-01T07:59:50Z"), "{}", shown[0].2);
        assert!(shown[1].2.contains("2026-10-01T08:05:01Z"), "{}", shown[1].2);
        assert!(
            shown[0]
                .2
                .contains(r#"sqlalchemy_pool_checked_out{instance="i",service="b"}"#),
            "{}",
            shown[0].2
        );
        let summary = r.result.unwrap();
        assert_eq!((summary.rows, summary.accepted, summary.rejected), (5, 2, 2));
    }

    #[test]
    fn hostile_values_are_rejected_with_code_line_labels_and_time() {
        let text = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[\n{\"metric\":{\"__name__\":\"sqlalchemy_pool_size\",\"service\":\"b\"},\"values\":[[1790841600,\"20\"]]},\n{\"metric\":{\"__name__\":\"sqlalchemy_pool_checked_out\",\"service\":\"b\"},\"values\":[[1790841600,\"NaN\"],[1790841601,\"+Inf\"],[1790841602,\"-Inf\"],[1790841603,\"-1\"],[1790841604,\"1.5\"],[1790841605,\"4294967296\"],[1790841606,\"many\"],[1790841607,\"31\"],[1790841608,\"1e308\"],[1790841609,\"7\"]]},\n{\"metric\":{\"__name__\":\"sqlalchemy_pool_max_overflow\",\"service\":\"b\"},\"values\":[[1790841600,\"10\"]]}\n]}}\n";
        let r = run(text, None);
        assert_eq!(
            r.rows(),
            vec![("b".into(), "default".into(), T0 + 9, 20, 7, Some(10), None, None)]
        );
        assert_eq!(
            r.codes(),
            vec![
                "not-a-number",
                "infinite",
                "infinite",
                "bad-number",
                "bad-number",
                "bad-number",
                "bad-number",
                "bad-number",
                "over-capacity",
            ]
        );
        let shown = r.shown();
        assert!(shown.iter().all(|(_, line, _)| *line == 3), "{shown:?}");
        assert!(shown[0].2.contains("stale marker"), "{}", shown[0].2);
        assert!(
            shown[0]
                .2
                .starts_with(r#"sqlalchemy_pool_checked_out{service="b"} at 2026-10-01T08:00:00Z"#),
            "{}",
            shown[0].2
        );
        assert!(shown[1].2.ends_with("08:00:01Z: checked_out is +Inf"), "{}", shown[1].2);
        assert!(shown[2].2.ends_with("08:00:02Z: checked_out is -Inf"), "{}", shown[2].2);
        assert!(
            shown[3].2.ends_with("checked_out -1 is not a whole number ≥ 0"),
            "{}",
            shown[3].2
        );
        assert!(
            shown[4].2.ends_with("checked_out 1.5 is not a whole number ≥ 0"),
            "{}",
            shown[4].2
        );
        assert!(
            shown[5].2.ends_with("checked_out 4.294967296e9 is out of range"),
            "{}",
            shown[5].2
        );
        assert!(shown[6].2.contains("\"many\" is not a number"), "{}", shown[6].2);
        assert!(shown[7].2.contains("1e308 is out of range"), "{}", shown[7].2);
        assert!(
            shown[8]
                .2
                .contains("at 2026-10-01T08:00:07Z: checked_out 31 exceeds pool_size 20 + max_overflow 10"),
            "{}",
            shown[8].2
        );
        let summary = r.result.unwrap();
        assert_eq!((summary.rows, summary.accepted, summary.rejected), (12, 1, 9));
    }

    #[test]
    fn a_bad_pool_size_point_is_a_hole_the_lookback_does_not_cross() {
        let text = matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
                r#"[1790841600,"1"],[1790841660,"2"],[1790841720,"3"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"b""#,
                r#"[1790841600,"5"],[1790841660,"NaN"],[1790841720,"0"]"#,
            ),
        ]);
        let r = run(&text, None);
        assert_eq!(r.rows(), vec![s("b", "default", T0, 5, 1)]);
        assert_eq!(
            r.codes(),
            vec!["not-a-number", "bad-number", "no-pool-size", "no-pool-size"]
        );
        assert!(r.shown()[1].2.contains("pool_size is 0"), "{:?}", r.shown());
    }

    #[test]
    fn stale_marker_ends_optional_fields_too() {
        let text = matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
                r#"[1790841600,"1"],[1790841660,"2"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"b""#,
                r#"[1790841600,"5"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_waiting","service":"b""#,
                r#"[1790841600,"3"],[1790841630,"NaN"]"#,
            ),
        ]);
        let r = run(&text, None);
        assert_eq!(
            r.samples.iter().map(|s| s.waiting).collect::<Vec<_>>(),
            vec![Some(3), None]
        );
        assert_eq!(r.codes(), vec!["not-a-number"]);
        assert!(r.shown()[0].2.contains("waiting is NaN"), "{:?}", r.shown());
        assert!(r.shown()[0].2.contains("08:00:30Z"), "{:?}", r.shown());
    }

    #[test]
    fn bad_timestamps_are_rejected() {
        let text = matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
                r#"[-1,"1"],[1e308,"1"],[253402300800,"1"],[1790841600,"2"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"b""#,
                r#"[1790841600,"5"]"#,
            ),
        ]);
        let r = run(&text, None);
        assert_eq!(r.rows(), vec![s("b", "default", T0, 5, 2)]);
        assert_eq!(r.codes(), vec!["bad-timestamp"; 3]);
    }

    #[test]
    fn duplicate_seconds_within_a_series_keep_the_first() {
        let text = matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
                r#"[1790841600.0,"1"],[1790841600.5,"2"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"b""#,
                r#"[1790841600,"5"]"#,
            ),
        ]);
        let r = run(&text, None);
        assert_eq!(r.rows(), vec![s("b", "default", T0, 5, 1)]);
        assert_eq!(r.codes(), vec!["duplicate-time"]);
    }

    #[test]
    fn missing_service_label_rejects_the_series_unless_service_is_given() {
        let entries = [
            (
                r#""__name__":"sqlalchemy_pool_checked_out","instance":"i""#,
                r#"[1790841600,"1"],[1790841660,"2"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","instance":"i","service":"""#,
                r#"[1790841600,"5"]"#,
            ),
        ];
        let text = matrix(&entries);
        let r = run(&text, None);
        assert!(
            matches!(
                r.result,
                Err(IngestError::NoSamples {
                    rows: 3,
                    rejected: 3,
                    ..
                })
            ),
            "{:?}",
            r.result
        );
        let shown = r.shown();
        assert_eq!(shown.len(), 2, "one diagnostic per series: {shown:?}");
        assert_eq!(shown[0].0, "missing-label");
        assert!(shown[0].2.contains("give --service"), "{}", shown[0].2);
        assert!(shown[0].2.contains("its 2 points are skipped"), "{}", shown[0].2);
        assert_eq!(r.diags.by_code()["missing-label"], 3);

        let r = run(&text, Some("cli"));
        assert_eq!(r.rows(), vec![s("cli", "i", T0, 5, 1), s("cli", "i", T0 + 60, 5, 2)]);
        assert_eq!(r.diags.rejected(), 0);
    }

    #[test]
    fn job_names_the_service_when_the_service_label_is_absent() {
        let text = matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","job":"api","instance":"i""#,
                r#"[1790841600,"1"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","job":"api","instance":"i""#,
                r#"[1790841600,"5"]"#,
            ),
        ]);
        assert_eq!(run(&text, Some("cli")).rows(), vec![s("api", "i", T0, 5, 1)]);
    }

    #[test]
    fn a_second_series_for_the_same_pool_is_rejected_whole() {
        let text = matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b","instance":"i","job":"a""#,
                r#"[1790841600,"1"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"b","instance":"i","job":"a""#,
                r#"[1790841600,"5"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b","instance":"i","job":"b""#,
                r#"[1790841600,"2"],[1790841660,"3"],[1790841720,"4"]"#,
            ),
        ]);
        let r = run(&text, None);
        assert_eq!(r.rows(), vec![s("b", "i", T0, 5, 1)]);
        let shown = r.shown();
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].0, "duplicate-series");
        assert!(
            shown[0]
                .2
                .contains(r#"sqlalchemy_pool_checked_out{instance="i",job="b",service="b"}"#)
                && shown[0]
                    .2
                    .contains(r#"sqlalchemy_pool_checked_out{instance="i",job="a",service="b"}"#),
            "{}",
            shown[0].2
        );
        assert_eq!(r.diags.by_code()["duplicate-series"], 3);
        let summary = r.result.unwrap();
        assert_eq!((summary.rows, summary.accepted, summary.rejected), (5, 1, 3));
    }

    #[test]
    fn other_metrics_are_one_notice() {
        let text = matrix(&[
            (r#""__name__":"up","job":"a""#, r#"[1790841600,"1"]"#),
            (r#""__name__":"up","job":"b""#, r#"[1790841600,"1"]"#),
            (r#""job":"a""#, r#"[1790841600,"0.5"]"#),
            (
                r#""__name__":"db_client_connection_count","state":"other","service":"b""#,
                r#"[1790841600,"1"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
                r#"[1790841600,"1"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"b""#,
                r#"[1790841600,"5"]"#,
            ),
        ]);
        let r = run(&text, None);
        assert_eq!(r.samples.len(), 1);
        assert_eq!(r.diags.rejected(), 0);
        let notices = r.diags.notices();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].code, "unknown-metric");
        assert_eq!(
            notices[0].message,
            "ignored 4 series of metrics poolcap does not read: (no __name__), db_client_connection_count, up (×2)"
        );
        assert_eq!(r.result.unwrap().rows, 2);
    }

    #[test]
    fn timeouts_counter_resets_pass_through_raw() {
        let text = matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
                r#"[1790841600,"1"],[1790841660,"1"],[1790841720,"1"],[1790841780,"1"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"b""#,
                r#"[1790841600,"5"]"#,
            ),
            (
                r#""__name__":"sqlalchemy_pool_timeouts_total","service":"b""#,
                r#"[1790841600,"3"],[1790841660,"5"],[1790841720,"1"],[1790841780,"2"]"#,
            ),
        ]);
        let r = run(&text, None);
        assert_eq!(
            r.samples.iter().map(|s| s.timeouts).collect::<Vec<_>>(),
            vec![Some(3), Some(5), Some(1), Some(2)]
        );
    }

    #[test]
    fn opentelemetry_names_of_both_generations() {
        // Current semantic conventions: db.client.connection.*, state label
        // db.client.connection.state, service in `job`, pool in pool_name.
        let current = matrix(&[
            (
                r#""__name__":"db_client_connection_count","db_client_connection_state":"used","job":"api","db_client_connection_pool_name":"main""#,
                r#"[1790841600,"12"]"#,
            ),
            (
                r#""__name__":"db_client_connection_count","db_client_connection_state":"idle","job":"api","db_client_connection_pool_name":"main""#,
                r#"[1790841600,"8"]"#,
            ),
            (
                r#""__name__":"db_client_connection_idle_max","job":"api","db_client_connection_pool_name":"main""#,
                r#"[1790841600,"20"]"#,
            ),
            (
                r#""__name__":"db_client_connection_max","job":"api","db_client_connection_pool_name":"main""#,
                r#"[1790841600,"30"]"#,
            ),
            (
                r#""__name__":"db_client_connection_pending_requests","job":"api","db_client_connection_pool_name":"main""#,
                r#"[1790841600,"2"]"#,
            ),
            (
                r#""__name__":"db_client_connection_timeouts_total","job":"api","db_client_connection_pool_name":"main""#,
                r#"[1790841600,"4"]"#,
            ),
        ]);
        let r = run(&current, None);
        assert_eq!(
            r.rows(),
            vec![("api".into(), "main".into(), T0, 20, 12, Some(10), Some(2), Some(4))]
        );
        assert_eq!(r.result.unwrap().rows, 6);
        // The older db.client.connections.* names, label `state`, pool_name.
        let older = matrix(&[
            (
                r#""__name__":"db_client_connections_usage","state":"used","pool_name":"p""#,
                r#"[1790841600,"12"]"#,
            ),
            (
                r#""__name__":"db_client_connections_usage","state":"idle","pool_name":"p""#,
                r#"[1790841600,"8"]"#,
            ),
            (
                r#""__name__":"db_client_connections_idle_max","pool_name":"p""#,
                r#"[1790841600,"20"]"#,
            ),
            (
                r#""__name__":"db_client_connections_max","pool_name":"p""#,
                r#"[1790841600,"25"]"#,
            ),
            (
                r#""__name__":"db_client_connections_pending_requests","pool_name":"p""#,
                r#"[1790841600,"0"]"#,
            ),
            (
                r#""__name__":"db_client_connections_timeouts","pool_name":"p""#,
                r#"[1790841600,"1"]"#,
            ),
        ]);
        let r = run(&older, Some("svc"));
        assert_eq!(
            r.rows(),
            vec![("svc".into(), "p".into(), T0, 20, 12, Some(5), Some(0), Some(1))]
        );
        // A maximum below the pool size is rejected.
        let bad = matrix(&[
            (
                r#""__name__":"db_client_connections_usage","state":"used""#,
                r#"[1790841600,"1"]"#,
            ),
            (r#""__name__":"db_client_connections_idle_max""#, r#"[1790841600,"20"]"#),
            (r#""__name__":"db_client_connections_max""#, r#"[1790841600,"10"]"#),
        ]);
        let r = run(&bad, Some("svc"));
        assert_eq!(r.codes(), vec!["bad-number"]);
        assert!(r.shown()[0].2.contains("max connections 10 is below pool_size 20"));
    }

    #[test]
    fn configured_names_and_labels_are_used() {
        let text = matrix(&[
            (
                r#""__name__":"inuse","svc":"b","pod":"p1","instance":"x""#,
                r#"[1790841600,"1"]"#,
            ),
            (r#""__name__":"size","svc":"b","pod":"p1""#, r#"[1790841600,"5"]"#),
        ]);
        let mut series = SeriesTable::default();
        let mut diags = Diagnostics::default();
        let mut samples = Vec::new();
        let mut opts = ReadOptions::default();
        opts.prometheus.checked_out_metric = "inuse".into();
        opts.prometheus.pool_size_metric = "size".into();
        opts.prometheus.service_label = "svc".into();
        opts.prometheus.instance_label = "pod".into();
        read(
            text.as_bytes(),
            ReadContext {
                path: Path::new("q.json"),
                file: 0,
                opts: &opts,
                series: &mut series,
                diags: &mut diags,
                sink: &mut |_, s| samples.push(s),
            },
        )
        .unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!(
            series.key(samples[0].series),
            &crate::ingest::SeriesKey {
                service: "b".into(),
                instance: "p1".into()
            }
        );
    }

    #[test]
    fn vector_results_and_the_bare_data_object() {
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"sqlalchemy_pool_checked_out","service":"b"},"value":[1790841600.25,"4"]},{"metric":{"__name__":"sqlalchemy_pool_size","service":"b"},"value":[1790841600.25,"5"]}]}}"#;
        assert_eq!(run(vector, None).rows(), vec![s("b", "default", T0, 5, 4)]);
        let bare = r#"  {"resultType":"matrix","result":[{"values":[[1790841600,"4"]],"metric":{"__name__":"sqlalchemy_pool_checked_out","service":"b"}},{"metric":{"__name__":"sqlalchemy_pool_size","service":"b"},"values":[[1790841600,"5"]]}]}"#;
        assert_eq!(run(bare, None).rows(), vec![s("b", "default", T0, 5, 4)]);
    }

    /// `--metrics-format prometheus`: the reader takes any file it is given.
    fn forced(text: &str) -> Run {
        run_with(text.as_bytes(), None, crate::ingest::MetricFormat::Prometheus)
    }

    fn header_error(r: &Run) -> (u64, String) {
        match &r.result {
            Err(IngestError::Header { line, message, .. }) => (*line, message.clone()),
            other => panic!("not a header error: {other:?}"),
        }
    }

    #[test]
    fn an_error_response_names_its_error_type_and_message() {
        let text =
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:1: parse error"}"#;
        assert_eq!(
            crate::ingest::detect(text.as_bytes()),
            crate::ingest::MetricFormat::Prometheus
        );
        let (line, message) = header_error(&forced(text));
        assert_eq!(line, 1);
        assert_eq!(
            message,
            r#"Prometheus answered status "error" (bad_data): invalid parameter "query": 1:1: parse error"#
        );
    }

    #[test]
    fn scalar_and_string_results_are_errors() {
        for t in ["scalar", "string"] {
            let text =
                format!("{{\"status\":\"success\",\"data\":{{\"resultType\":\"{t}\",\"result\":[1790841600,\"1\"]}}}}");
            let (_, message) = header_error(&run(&text, None));
            assert!(
                message.contains(&format!("resultType \"{t}\" holds no series")),
                "{message}"
            );
        }
        let (_, message) = header_error(&forced(r#"{"status":"success","data":{}}"#));
        assert!(message.contains("no data.resultType"), "{message}");
    }

    #[test]
    fn truncated_or_malformed_json_is_an_error_at_its_line() {
        let text = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[\n{\"metric\":{\"__name__\":\"sqlalchemy_pool_size\",\"service\":\"b\"},\"values\":[[1790841600,\"20\"]]},\n{\"metric\":{\"__name__\":\"sqlalchemy_pool_checked_out\"},\"values\":[[17908";
        let r = run(text, None);
        let (line, message) = header_error(&r);
        assert_eq!(line, 3);
        assert!(
            message.starts_with("not a Prometheus query result: EOF while parsing"),
            "{message}"
        );
        assert!(
            r.to_string_error()
                .starts_with("q.json:3: not a Prometheus query result")
        );
        let (line, message) = header_error(&run(
            "{\"resultType\":\"matrix\",\n\"result\":[{\"metric\":{},\"values\":[[1,2,3]]}]}",
            None,
        ));
        assert_eq!(line, 2);
        assert!(message.contains("column"), "{message}");
        let (_, message) = header_error(&run("{\"resultType\":\"matrix\",\"result\":[]} trailing", None));
        assert!(message.contains("trailing characters"), "{message}");
    }

    #[test]
    fn an_empty_result_is_no_samples() {
        let r = run(&matrix(&[]), None);
        assert!(matches!(
            r.result,
            Err(IngestError::NoSamples {
                rows: 0,
                rejected: 0,
                ..
            })
        ));
    }

    #[test]
    fn the_format_can_be_forced() {
        let text = format!(
            "\n\n{}",
            matrix(&[
                (
                    r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
                    r#"[1790841600,"1"]"#
                ),
                (
                    r#""__name__":"sqlalchemy_pool_size","service":"b""#,
                    r#"[1790841600,"5"]"#
                ),
            ])
        );
        let r = run_with(text.as_bytes(), None, crate::ingest::MetricFormat::Prometheus);
        assert_eq!(r.samples.len(), 1);
        assert_eq!(r.samples[0].line, 3);
    }

    impl Run {
        fn to_string_error(&self) -> String {
            self.result.as_ref().unwrap_err().to_string()
        }
    }

    fn label_map() -> impl Strategy<Value = Vec<(String, String)>> {
        let names = prop_oneof![
            Just("__name__".to_string()),
            Just("service".to_string()),
            Just("instance".to_string()),
            Just("job".to_string()),
            Just("state".to_string()),
            Just("pool_name".to_string()),
            "[a-z_]{1,8}",
        ];
        let values = prop_oneof![
            Just("sqlalchemy_pool_checked_out".to_string()),
            Just("sqlalchemy_pool_size".to_string()),
            Just("sqlalchemy_pool_max_overflow".to_string()),
            Just("sqlalchemy_pool_timeouts_total".to_string()),
            Just("db_client_connection_max".to_string()),
            Just("db_client_connections_usage".to_string()),
            Just("used".to_string()),
            Just("b".to_string()),
            Just(String::new()),
            ".{0,12}",
        ];
        proptest::collection::vec((names, values), 0..5)
    }

    fn time_text_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            (1_790_841_600i64..1_790_842_600).prop_map(|t| t.to_string()),
            any::<i64>().prop_map(|t| t.to_string()),
            Just("1e308".to_string()),
            Just("-1e308".to_string()),
            Just("253402300799.9".to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:e}")),
        ]
    }

    fn value_text_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u64..40).prop_map(|v| v.to_string()),
            Just("NaN".to_string()),
            Just("+Inf".to_string()),
            Just("-Inf".to_string()),
            Just("1e308".to_string()),
            Just("-0".to_string()),
            Just("18446744073709551616".to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            ".{0,10}",
        ]
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut text = b"{\"resultType\"".to_vec();
            text.extend_from_slice(&bytes);
            let _ = run_with(&text, None, crate::ingest::MetricFormat::Auto);
            let _ = run_with(&bytes, Some("s"), crate::ingest::MetricFormat::Prometheus);
        }

        #[test]
        fn never_panics_on_valid_documents_with_arbitrary_labels_and_values(
            entries in proptest::collection::vec(
                (label_map(), proptest::collection::vec((time_text_strategy(), value_text_strategy()), 0..6)),
                0..8,
            ),
            service in proptest::option::of(Just("cli")),
        ) {
            let result: Vec<String> = entries
                .iter()
                .map(|(labels, points)| {
                    let labels: serde_json::Map<String, serde_json::Value> = labels
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                        .collect();
                    let points: Vec<String> = points
                        .iter()
                        .map(|(t, v)| format!("[{t},{}]", serde_json::Value::String(v.clone())))
                        .collect();
                    format!(
                        "{{\"metric\":{},\"values\":[{}]}}",
                        serde_json::Value::Object(labels),
                        points.join(",")
                    )
                })
                .collect();
            let text = format!(
                "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{}]}}}}",
                result.join(",\n")
            );
            let r = run(&text, service);
            match &r.result {
                Ok(summary) => {
                    prop_assert!(summary.accepted + summary.rejected <= summary.rows);
                    prop_assert_eq!(summary.accepted, r.samples.len() as u64);
                    prop_assert!(r.samples.windows(2).all(|w| (w[0].ts, w[0].series) < (w[1].ts, w[1].series)));
                }
                Err(IngestError::NoSamples { .. }) => prop_assert!(r.samples.is_empty()),
                Err(e) => {
                    // Only numbers serde_json cannot hold (e.g. 1e400) end the file.
                    prop_assert!(e.to_string().contains("number out of range"), "{}", e);
                }
            }
        }
    }
}
