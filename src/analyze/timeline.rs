//! A service's pools summed second by second over one window, so that service
//! utilization at an instant is Σ checked_out / Σ pool_size over the instances
//! reporting then (DESIGN §1.2), whatever order the instances arrive in.
//!
//! Each instance segment is added in O(1) to difference arrays (one value at its
//! start, its negation at its end); one sweep at the end turns them into the
//! service's distribution. Each day of the window starts as a sparse list of
//! changes and turns into dense per-second arrays (20 bytes per second: sums
//! over instances are `i64`, so no number of pools can wrap them) once the
//! list passes an eighth of that ([`SPARSE_MAX`]): days without data cost
//! nothing, quiet days a few bytes per change, and no day more than 1.7 MiB,
//! however many samples it has.
//!
//! The sparse list is what a fleet's memory goes to (issue 19), so it is kept
//! small: changes at the same second as the previous one are merged (an
//! instance's segment ends where its next begins, so a steadily sampled pool
//! makes one change per sample, not two), and each change is stored as four
//! variable-length integers — the step from the previous change's second and
//! the three deltas — about 4 bytes for a minute-sampled pool instead of 32.

use super::distribution::Distribution;
use crate::model::window::Window;

const CHUNK: i64 = 86_400;

#[derive(Clone)]
struct Chunk {
    checked_out: Vec<i64>,
    pool_size: Vec<i64>,
    saturated: Vec<i32>,
}

impl Chunk {
    fn new() -> Self {
        Chunk {
            checked_out: vec![0; CHUNK as usize],
            pool_size: vec![0; CHUNK as usize],
            saturated: vec![0; CHUNK as usize],
        }
    }
}

/// One day of changes.
#[derive(Clone)]
enum Day {
    /// Changes in arrival order ([`SparseDay`]).
    Sparse(SparseDay),
    /// Per-second difference arrays.
    Dense(Box<Chunk>),
}

/// One change: (second of the day, Δchecked_out, Δpool_size, Δsaturated).
type Change = (u32, i64, i64, i64);

/// A day's changes, encoded: each as the zigzag varints of its second minus
/// the previous change's second, and of its three deltas. The newest change
/// stays unencoded in `open`, so that a change at the same second adds to it.
#[derive(Clone, Default)]
struct SparseDay {
    bytes: Vec<u8>,
    /// The second of the last encoded change (the base of the next step).
    last_at: u32,
    open: Option<Change>,
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(bytes: &mut Vec<u8>, v: i64) {
    let mut v = zigzag(v);
    while v >= 0x80 {
        bytes.push((v as u8) | 0x80);
        v >>= 7;
    }
    bytes.push(v as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> i64 {
    let (mut v, mut shift) = (0u64, 0u32);
    while let Some(&b) = bytes.get(*at) {
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    unzigzag(v)
}

impl SparseDay {
    fn push(&mut self, change: Change) {
        match &mut self.open {
            Some(open) if open.0 == change.0 => {
                open.1 += change.1;
                open.2 += change.2;
                open.3 += change.3;
            }
            _ => {
                self.close();
                self.open = Some(change);
            }
        }
    }

    /// Encodes the open change (a change that came to nothing is dropped).
    fn close(&mut self) {
        if let Some((at, c, p, s)) = self.open.take()
            && (c, p, s) != (0, 0, 0)
        {
            put_varint(&mut self.bytes, i64::from(at) - i64::from(self.last_at));
            put_varint(&mut self.bytes, c);
            put_varint(&mut self.bytes, p);
            put_varint(&mut self.bytes, s);
            self.last_at = at;
        }
    }

    /// Memory held, bytes.
    fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Every change, in arrival order.
    fn changes(&self) -> Vec<Change> {
        let mut out = Vec::new();
        let (mut i, mut at) = (0usize, 0i64);
        while i < self.bytes.len() {
            at += get_varint(&self.bytes, &mut i);
            let c = get_varint(&self.bytes, &mut i);
            let p = get_varint(&self.bytes, &mut i);
            let s = get_varint(&self.bytes, &mut i);
            out.push((u32::try_from(at).unwrap_or(0), c, p, s));
        }
        out.extend(self.open);
        out
    }
}

/// A dense day's size, bytes.
const DENSE_SIZE: usize = CHUNK as usize * 20;

/// Bytes a sparse day holds before it turns dense: an eighth of the dense
/// size. A day that busy (a service of a dozen or more pools sampled every
/// 15 s) spends more time encoding, decoding and sorting its list than the
/// dense arrays cost in memory: `plan` on 50 pools × 15 s for a month took
/// 0.6 s less CPU and 22 MiB less peak memory than when a day waited until
/// its list was as large as the dense day (docs/benchmarks.md). A fleet's
/// small services (a few pools each) stay sparse.
const SPARSE_MAX: usize = DENSE_SIZE / 8;

/// Difference arrays for one service over one window.
pub struct Timeline {
    window: Window,
    chunks: Vec<Option<Day>>,
}

impl Timeline {
    /// An empty timeline over `window`.
    pub fn new(window: Window) -> Self {
        let days = (window.seconds() + CHUNK - 1) / CHUNK;
        Timeline {
            window,
            chunks: (0..days).map(|_| None).collect(),
        }
    }

    fn bump(&mut self, t: i64, checked_out: i32, pool_size: i32, saturated: i32) {
        if t >= self.window.end {
            return;
        }
        let offset = t - self.window.start;
        let day = self.chunks[(offset / CHUNK) as usize].get_or_insert_with(|| Day::Sparse(SparseDay::default()));
        let i = (offset % CHUNK) as usize;
        match day {
            Day::Sparse(sparse) => {
                sparse.push((
                    i as u32,
                    i64::from(checked_out),
                    i64::from(pool_size),
                    i64::from(saturated),
                ));
                if sparse.size() > SPARSE_MAX {
                    let mut chunk = Box::new(Chunk::new());
                    for (at, c, p, s) in sparse.changes() {
                        chunk.checked_out[at as usize] += c;
                        chunk.pool_size[at as usize] += p;
                        chunk.saturated[at as usize] += s as i32;
                    }
                    *day = Day::Dense(chunk);
                }
            }
            Day::Dense(chunk) => {
                chunk.checked_out[i] += i64::from(checked_out);
                chunk.pool_size[i] += i64::from(pool_size);
                chunk.saturated[i] += saturated;
            }
        }
    }

    /// Adds one instance holding `checked_out` of `pool_size` over `[a, b)`.
    /// Values beyond [`crate::model::limits::MAX_CONNECTIONS`] are rejected
    /// by the readers; here they would saturate, never wrap.
    pub fn add(&mut self, a: i64, b: i64, checked_out: u32, pool_size: u32, saturated: bool) {
        let Some((a, b)) = self.window.clip(a, b) else {
            return;
        };
        let narrow = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        let (c, p, s) = (narrow(checked_out), narrow(pool_size), i32::from(saturated));
        self.bump(a, c, p, s);
        self.bump(b, -c, -p, -s);
    }

    /// Calls `f(offset, len, (checked_out, pool_size, saturated))` for each
    /// maximal run of constant state, in time order (offsets from the window start).
    fn for_each_run(&self, mut f: impl FnMut(i64, i64, (i64, i64, bool))) {
        let (mut c, mut p, mut s) = (0i64, 0i64, 0i64);
        let mut run: (i64, i64, bool) = (0, 0, false);
        let mut run_start = 0i64;
        let total = self.window.seconds();
        let mut t = 0i64;
        let mut apply = |at: i64, dc: i64, dp: i64, ds: i64, run: &mut (i64, i64, bool), run_start: &mut i64| {
            c += dc;
            p += dp;
            s += ds;
            let state = (c, p, s > 0);
            if state != *run {
                if at > *run_start {
                    f(*run_start, at - *run_start, *run);
                }
                *run = state;
                *run_start = at;
            }
        };
        for (day, chunk) in self.chunks.iter().enumerate() {
            let base = day as i64 * CHUNK;
            let day_len = CHUNK.min(total - base);
            match chunk {
                // No change anywhere in this day: the state holds throughout.
                None => {}
                Some(Day::Sparse(sparse)) => {
                    let mut sorted = sparse.changes();
                    sorted.sort_unstable_by_key(|c| c.0);
                    let mut k = 0;
                    while k < sorted.len() {
                        let at = sorted[k].0;
                        let (mut dc, mut dp, mut ds) = (0i64, 0i64, 0i64);
                        while k < sorted.len() && sorted[k].0 == at {
                            dc += sorted[k].1;
                            dp += sorted[k].2;
                            ds += sorted[k].3;
                            k += 1;
                        }
                        if dc != 0 || dp != 0 || ds != 0 {
                            apply(base + i64::from(at), dc, dp, ds, &mut run, &mut run_start);
                        }
                    }
                }
                Some(Day::Dense(chunk)) => {
                    for i in 0..day_len as usize {
                        let (dc, dp, ds) = (chunk.checked_out[i], chunk.pool_size[i], i64::from(chunk.saturated[i]));
                        if dc != 0 || dp != 0 || ds != 0 {
                            apply(base + i as i64, dc, dp, ds, &mut run, &mut run_start);
                        }
                    }
                }
            }
            t += day_len;
        }
        debug_assert_eq!(t, total);
        if t > run_start {
            f(run_start, t - run_start, run);
        }
    }

    /// Sweeps the window: the service's distribution (covered where Σ pool_size > 0;
    /// saturated where any instance is).
    pub fn distribution(&self) -> Distribution {
        let mut dist = Distribution::default();
        self.for_each_run(|_, len, (c, p, sat)| {
            if p > 0 {
                dist.add(c.unsigned_abs(), p.unsigned_abs(), sat, len);
            }
        });
        dist
    }

    /// The distribution, plus utilization reduced to `columns` equal slices of the
    /// window (min, max and mean of each, so a chart never drops a spike), plus
    /// one distribution per local (weekday, hour) slot: `slot_of_quarter[q]` is
    /// the slot (weekday × 24 + hour, 0–167) of quarter-hour `q` of the window.
    pub fn detail(&self, columns: usize, slot_of_quarter: &[u8]) -> Detail {
        let total = self.window.seconds();
        let columns = columns.max(1);
        let col_start = |k: usize| (k as i64 * total) / columns as i64;
        let mut detail = Detail {
            distribution: Distribution::default(),
            columns: vec![Column::default(); columns],
            heat: vec![Distribution::default(); 168],
            hours: vec![Column::default(); ((total + 3599) / 3600) as usize],
        };
        let mut col = 0usize;
        self.for_each_run(|start, len, (c, p, sat)| {
            if p <= 0 {
                return;
            }
            detail.distribution.add(c.unsigned_abs(), p.unsigned_abs(), sat, len);
            let u = c as f64 / p as f64;
            let end = start + len;
            // Columns.
            while col + 1 < columns && col_start(col + 1) <= start {
                col += 1;
            }
            let mut k = col;
            let mut a = start;
            while a < end && k < columns {
                let b = end.min(col_start(k + 1));
                if b > a {
                    detail.columns[k].add(u, b - a);
                }
                a = b;
                k += 1;
            }
            // Heat map slots, split at quarter hours.
            let mut a = start;
            while a < end {
                let q = (a / 900) as usize;
                let b = end.min((q as i64 + 1) * 900);
                if let Some(&slot) = slot_of_quarter.get(q) {
                    detail.heat[slot as usize].add(c.unsigned_abs(), p.unsigned_abs(), sat, b - a);
                }
                if let Some(hour) = detail.hours.get_mut(q / 4) {
                    hour.add(u, b - a);
                }
                a = b;
            }
        });
        detail
    }
}

/// Utilization over one slice of the window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Column {
    /// Lowest utilization held in the slice.
    pub min: f64,
    /// Highest.
    pub max: f64,
    /// Σ u·seconds (for the mean).
    pub weighted: f64,
    /// Covered seconds.
    pub covered: i64,
}

impl Column {
    fn add(&mut self, u: f64, seconds: i64) {
        if self.covered == 0 {
            self.min = u;
            self.max = u;
        } else {
            self.min = self.min.min(u);
            self.max = self.max.max(u);
        }
        self.weighted += u * seconds as f64;
        self.covered += seconds;
    }

    /// Time-weighted mean, when covered.
    pub fn mean(&self) -> Option<f64> {
        (self.covered > 0).then(|| self.weighted / self.covered as f64)
    }
}

/// What a detailed sweep gives.
#[derive(Debug, Clone)]
pub struct Detail {
    /// As [`Timeline::distribution`].
    pub distribution: Distribution,
    /// Per slice of the window.
    pub columns: Vec<Column>,
    /// Per local (weekday × 24 + hour) slot, Monday 00:00 first.
    pub heat: Vec<Distribution>,
    /// Per hour of the window (the busiest one gives the queueing check its load).
    pub hours: Vec<Column>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_instances_and_counts_coverage() {
        let w = Window {
            start: 1000,
            end: 1000 + 3 * 86_400,
        };
        let mut t = Timeline::new(w);
        // Instance A: 5 of 10 for the first day; instance B: 10 of 10 for 12 h in it.
        t.add(1000, 1000 + 86_400, 5, 10, false);
        t.add(1000, 1000 + 43_200, 10, 10, true);
        // Data before the window is clipped away.
        t.add(0, 1000, 10, 10, true);
        let d = t.distribution();
        assert_eq!(d.covered(), 86_400);
        // 12 h at 15/20, 12 h at 5/10.
        assert!((d.mean() - 0.625).abs() < 1e-12);
        assert_eq!(d.saturated_seconds(), 43_200);
    }

    #[test]
    fn columns_keep_every_spike_and_the_mean() {
        let w = Window { start: 0, end: 1000 };
        let mut t = Timeline::new(w);
        // 10 % everywhere, one 3-second spike to 90 % inside column 2 of 10.
        t.add(0, 1000, 1, 10, false);
        t.add(250, 253, 8, 0, false);
        let quarters = vec![0u8; 2];
        let d = t.detail(10, &quarters);
        // Brute force: the max of every second in each column.
        for (k, col) in d.columns.iter().enumerate() {
            let seconds = (k as i64 * 100)..((k as i64 + 1) * 100);
            let truth = seconds
                .clone()
                .map(|s| if (250..253).contains(&s) { 0.9 } else { 0.1 })
                .fold(0.0, f64::max);
            assert_eq!(col.max, truth, "column {k}");
            assert_eq!(col.covered, 100);
        }
        assert!((d.columns[2].mean().unwrap() - (97.0 * 0.1 + 3.0 * 0.9) / 100.0).abs() < 1e-12);
        assert_eq!(d.heat[0].covered(), 1000);
        assert_eq!(d.distribution.covered(), t.distribution().covered());
    }

    #[test]
    fn a_busy_day_turns_dense_and_gives_the_same_answer() {
        let w = Window {
            start: 0,
            end: 2 * 86_400,
        };
        let mut sparse = Timeline::new(w);
        let mut busy = Timeline::new(w);
        // Day 0: 12 pools sampled every second, one after the other: 12 ×
        // 86 400 changes of about 4 bytes (only an instance's own end and
        // next start merge) are more than SPARSE_MAX, so the day turns dense.
        let value = |k: i64, i: i64| ((i * 7 + k) % 11) as u32;
        for k in 0..12 {
            for i in 0..86_400 {
                busy.add(i, i + 1, value(k, i), 10, false);
            }
        }
        for i in 0..4 {
            sparse.add(i * 2, i * 2 + 1, (i % 7) as u32, 10, false);
        }
        assert!(matches!(busy.chunks[0], Some(Day::Dense(_))));
        assert!(matches!(sparse.chunks[0], Some(Day::Sparse(_))));
        let d = busy.distribution();
        assert_eq!(d.covered(), 86_400);
        let expected: f64 = (0..86_400)
            .map(|i| (0..12).map(|k| f64::from(value(k, i))).sum::<f64>() / 120.0)
            .sum::<f64>()
            / 86_400.0;
        assert!((d.mean() - expected).abs() < 1e-12);
        assert_eq!(sparse.distribution().covered(), 4);
    }

    #[test]
    fn a_minute_sampled_pool_costs_about_four_bytes_a_sample() {
        let w = Window { start: 0, end: 86_400 };
        let mut t = Timeline::new(w);
        // Five pools, one sample a minute, each holding until the next.
        for k in 0..5u32 {
            for m in 0..1440i64 {
                t.add(m * 60, m * 60 + 60, (m as u32 * 3 + k) % 17, 20, false);
            }
        }
        let Some(Day::Sparse(day)) = &t.chunks[0] else {
            panic!("a minute-sampled day stays sparse")
        };
        // Four bytes a sample, and a few more where one pool ends and the next begins.
        assert!(day.size() <= 5 * 1440 * 4 + 5 * 8, "{} bytes", day.size());
        // The same answer as the segments summed by brute force.
        let d = t.distribution();
        assert_eq!(d.covered(), 86_400);
        let expected: f64 = (0..1440u32)
            .map(|m| (0..5).map(|k| f64::from((m * 3 + k) % 17)).sum::<f64>() / 100.0)
            .sum::<f64>()
            / 1440.0;
        assert!((d.mean() - expected).abs() < 1e-12);
    }

    #[test]
    fn changes_survive_their_encoding() {
        let mut day = SparseDay::default();
        let changes: Vec<Change> = vec![
            (86_399, i64::from(i32::MAX), -i64::from(i32::MAX), 1),
            (0, -1, 0, -1),
            (5, 0, 0, 0),
            (5, 3, 1, 0),
            (40_000, i64::from(i32::MIN), 7, 0),
        ];
        for &c in &changes {
            day.push(c);
        }
        // The two changes at second 5 merge; the one that came to nothing, kept open, merges too.
        let expected: Vec<Change> = vec![
            (86_399, i64::from(i32::MAX), -i64::from(i32::MAX), 1),
            (0, -1, 0, -1),
            (5, 3, 1, 0),
            (40_000, i64::from(i32::MIN), 7, 0),
        ];
        assert_eq!(day.changes(), expected);
        for v in [0, 1, -1, 63, -64, 64, i64::from(i32::MAX), i64::MIN / 4, i64::MAX / 4] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn segments_spanning_empty_days_hold_their_value() {
        let w = Window {
            start: 0,
            end: 3 * 86_400,
        };
        let mut t = Timeline::new(w);
        t.add(100, 2 * 86_400 + 100, 1, 4, false);
        let d = t.distribution();
        assert_eq!(d.covered(), 2 * 86_400);
        assert_eq!(d.mean(), 0.25);
    }
}
