//! The lookback join: one sample per point of a checked-out series, the other
//! fields taken at that time or from their latest earlier point within
//! [`LOOKBACK_SECONDS`](super::LOOKBACK_SECONDS); samples are passed on in (time, series) order.

use std::collections::BTreeMap;

use super::points::{Point, time_text};
use super::series::Field;
use super::{LOOKBACK_SECONDS, State};
use crate::ingest::{IngestError, RowError, Sample, SeriesTable, check_capacity, row_error, take_row};

/// A recognised, accepted series, kept until the join.
#[derive(Debug)]
pub(super) struct Kept {
    pub(super) line: u64,
    pub(super) labels: String,
    pub(super) points: Vec<Point>,
}

/// The fields of one service/instance.
#[derive(Debug, Default)]
pub(super) struct Group {
    pub(super) fields: BTreeMap<Field, Kept>,
}

impl State<'_> {
    /// Joins the kept series into samples, passed on in (time, series) order
    /// by merging the series as they are (each is in time order), so no
    /// second copy of the points is made.
    pub(super) fn join(&mut self, file: u32, sink: &mut dyn FnMut(&SeriesTable, Sample)) -> Result<(), IngestError> {
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
pub(super) fn joined_sample(
    group: &Group,
    out: &Kept,
    ts: i64,
    checked_out: u64,
    id: u32,
    file: u32,
) -> Result<Sample, RowError> {
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
pub(super) fn lookup(points: &[Point], ts: i64) -> Option<u64> {
    let i = points.partition_point(|p| p.ts <= ts);
    let p = points.get(i.checked_sub(1)?)?;
    if p.ts < ts - LOOKBACK_SECONDS {
        return None;
    }
    p.value
}
