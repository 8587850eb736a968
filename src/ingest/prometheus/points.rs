//! Points: a value as read (Prometheus' float text, or other text), checked
//! against its field (whole numbers ≥ 0; `NaN`, `±Inf`, fractions and text
//! are rejected with their codes), and a series' points floored to whole
//! seconds, sorted, a second point in one second rejected. A rejected point
//! stays as a hole the lookback does not reach past.

use std::collections::BTreeMap;

use super::State;
use super::join::Kept;
use super::series::{Field, series_text};
use crate::ingest::{RowError, check_pool_size, quote, row_error};

/// The last second of year 9999: later numeric times are not Unix seconds.
pub(super) const LAST_UNIX_SECOND: f64 = 253_402_300_799.0;

/// Largest counter value a float64 holds exactly.
pub(super) const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// A point's value as read: a float (Prometheus' text of one) or other text.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Number(f64),
    Text(Box<str>),
}

/// A point as read, before it is checked.
#[derive(Debug, Clone)]
pub(super) struct RawPoint {
    pub(super) ts: f64,
    pub(super) value: Value,
}

/// A checked point: whole seconds and the value, or `None` for a rejected
/// point (a hole the lookback does not reach past).
#[derive(Debug, Clone, Copy)]
pub(super) struct Point {
    pub(super) ts: i64,
    pub(super) value: Option<u64>,
}

pub(super) fn time_text(ts: i64) -> String {
    jiff::Timestamp::from_second(ts).map_or_else(|_| ts.to_string(), |t| t.to_string())
}

/// Checks one value of `field`.
pub(super) fn check_value(field: Field, value: &Value) -> Result<u64, RowError> {
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
pub(super) fn number_text(v: f64) -> String {
    if v.abs() >= 1e16 || (v != 0.0 && v.abs() < 1e-6) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// Parses a value's text the way Prometheus writes floats (`14`, `0.5`,
/// `1e+308`, `NaN`, `+Inf`, `-Inf`).
pub(super) fn parse_value(text: &str) -> Value {
    match text.parse::<f64>() {
        Ok(v) => Value::Number(v),
        Err(_) => Value::Text(text.chars().take(40).collect::<String>().into_boxed_str()),
    }
}

impl State<'_> {
    /// Checks and keeps the points of an accepted series of `field`.
    pub(super) fn entry(
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
