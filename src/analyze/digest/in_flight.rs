//! Concurrency: milliseconds in flight per second, kept per day only for the
//! days statements start or end in (or that a statement of at most a day runs
//! through); a longer statement's whole seconds are one range, so memory grows
//! with the statements, never with a duration.

use std::collections::BTreeMap;

/// [`InFlight`] as stored ([`InFlight::to_stored`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredInFlight {
    /// Per day (Unix days): its seconds, compressed.
    pub days: Vec<StoredDay>,
    /// Long statements: (second, change in statements in flight).
    pub long: Vec<(i64, i64)>,
}

/// One day of [`StoredInFlight`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredDay {
    /// Unix day number.
    pub day: i64,
    /// Base64 of the zlib-compressed little-endian `u32` milliseconds in
    /// flight of each of the day's 86 400 seconds.
    pub seconds: String,
}

/// Statements whose whole seconds number more than this are kept as a range
/// in [`InFlight`] rather than second by second.
const LONG_SECONDS: i64 = 86_400;

/// Milliseconds in flight per second, for concurrency.
///
/// Memory is per statement, never per second of a statement's duration: a
/// statement touches the per-second arrays (4 bytes a second, allocated a day
/// at a time) only in the days it runs through when it is at most a day long,
/// and only in its first and last second when it is longer; the whole seconds
/// between those are one range (two map entries). So a statement costs at most
/// two days of arrays (691 KiB) however long it ran, and a log costs one array
/// a day in which statements start or end.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    /// Day number (Unix days) → milliseconds in flight per second of that day.
    days: BTreeMap<i64, Vec<u32>>,
    /// Whole seconds of long statements: second → change, from that second
    /// on, in how many such statements are in flight (each adds 1000 ms to
    /// every second it covers).
    long: BTreeMap<i64, i64>,
}

impl InFlight {
    /// Adds a statement running over `[start_ms, end_ms)`.
    pub fn add(&mut self, start_ms: i64, end_ms: i64) {
        if end_ms <= start_ms {
            return;
        }
        let first = start_ms.div_euclid(1000);
        let last = (end_ms - 1).div_euclid(1000);
        if last - first > LONG_SECONDS {
            // first < last, so neither product overflows.
            self.add_dense(start_ms, (first + 1) * 1000);
            self.add_dense(last * 1000, end_ms);
            for (second, delta) in [(first + 1, 1), (last, -1)] {
                let change = self.long.entry(second).or_default();
                *change += delta;
                if *change == 0 {
                    self.long.remove(&second);
                }
            }
        } else {
            self.add_dense(start_ms, end_ms);
        }
    }

    fn add_dense(&mut self, start_ms: i64, end_ms: i64) {
        let mut t = start_ms;
        while t < end_ms {
            let second = t.div_euclid(1000);
            let next = (second + 1).saturating_mul(1000).min(end_ms);
            let day = second.div_euclid(86_400);
            let slot = self.days.entry(day).or_insert_with(|| vec![0; 86_400]);
            let ms = &mut slot[second.rem_euclid(86_400) as usize];
            *ms = ms.saturating_add(u32::try_from(next - t).unwrap_or(u32::MAX));
            t = next;
        }
    }

    /// Adds another.
    pub fn merge(&mut self, other: InFlight) {
        for (day, values) in other.days {
            match self.days.get_mut(&day) {
                Some(mine) => mine.iter_mut().zip(values).for_each(|(a, b)| *a = a.saturating_add(b)),
                None => {
                    self.days.insert(day, values);
                }
            }
        }
        for (second, delta) in other.long {
            let change = self.long.entry(second).or_default();
            *change += delta;
            if *change == 0 {
                self.long.remove(&second);
            }
        }
    }

    /// The stored form: each day's per-second milliseconds as base64 of the
    /// zlib-compressed little-endian `u32`s (a quiet day is a few hundred
    /// bytes, a day busy every second a few hundred KB), and the long
    /// statements' range boundaries as they are.
    pub fn to_stored(&self) -> StoredInFlight {
        use base64::Engine as _;
        use std::io::Write as _;
        let days = self
            .days
            .iter()
            .map(|(day, values)| {
                let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                // Writing to a Vec cannot fail.
                let _ = z.write_all(&raw);
                let bytes = z.finish().unwrap_or_default();
                StoredDay {
                    day: *day,
                    seconds: base64::engine::general_purpose::STANDARD.encode(bytes),
                }
            })
            .collect();
        StoredInFlight {
            days,
            long: self.long.iter().map(|(s, d)| (*s, *d)).collect(),
        }
    }

    /// The in-flight time of [`InFlight::to_stored`], or what is wrong with it.
    pub fn from_stored(stored: &StoredInFlight) -> Result<InFlight, String> {
        use base64::Engine as _;
        use std::io::Read as _;
        let mut days = BTreeMap::new();
        for d in &stored.days {
            let bad = || format!("the seconds of day {} are damaged", d.day);
            let z = base64::engine::general_purpose::STANDARD
                .decode(&d.seconds)
                .map_err(|_| bad())?;
            let mut raw = Vec::with_capacity(86_400 * 4);
            flate2::read::ZlibDecoder::new(&z[..])
                .take(86_400 * 4 + 1)
                .read_to_end(&mut raw)
                .map_err(|_| bad())?;
            if raw.len() != 86_400 * 4 || days.contains_key(&d.day) {
                return Err(bad());
            }
            let values = raw
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            days.insert(d.day, values);
        }
        let mut long = BTreeMap::new();
        for &(second, delta) in &stored.long {
            if delta == 0 || long.insert(second, delta).is_some() {
                return Err(format!("the long statements' boundary at second {second} is damaged"));
            }
        }
        Ok(InFlight { days, long })
    }

    /// What is kept: (days of per-second arrays, range boundaries of long statements).
    pub fn footprint(&self) -> (usize, usize) {
        (self.days.len(), self.long.len())
    }

    /// The second with most statements in flight on average: (Unix second,
    /// mean in flight); the earliest such second.
    pub fn peak(&self) -> Option<(i64, f64)> {
        let mut best: Option<(i64, u64)> = None;
        let mut consider = |second: i64, ms: u64| {
            if best.is_none_or(|(_, b)| ms > b) {
                best = Some((second, ms));
            }
        };
        let bounds: Vec<(i64, i64)> = self.long.iter().map(|(k, d)| (*k, *d)).collect();
        let mut next = 0;
        let mut covering = 0i64;
        let mut after_day: Option<i64> = None;
        for (day, values) in &self.days {
            let day_start = day * 86_400;
            gap(&bounds, &mut next, &mut covering, after_day, day_start, &mut consider);
            for (i, &ms) in values.iter().enumerate() {
                let second = day_start + i as i64;
                while next < bounds.len() && bounds[next].0 <= second {
                    covering += bounds[next].1;
                    next += 1;
                }
                consider(second, u64::from(ms) + 1000 * covering.max(0) as u64);
            }
            after_day = Some(day_start + 86_400);
        }
        gap(&bounds, &mut next, &mut covering, after_day, i64::MAX, &mut consider);
        best.map(|(s, ms)| (s, ms as f64 / 1000.0))
    }
}

/// The seconds `[from, to)` outside the per-second arrays, where only long
/// statements are in flight: the count is constant between range boundaries,
/// so each run's first second stands for the run. `from` is `None` before the
/// first array (the run then starts at a boundary).
fn gap(
    bounds: &[(i64, i64)],
    next: &mut usize,
    covering: &mut i64,
    from: Option<i64>,
    to: i64,
    consider: &mut impl FnMut(i64, u64),
) {
    if let Some(from) = from {
        while *next < bounds.len() && bounds[*next].0 <= from {
            *covering += bounds[*next].1;
            *next += 1;
        }
        if *covering > 0 && from < to {
            consider(from, 1000 * *covering as u64);
        }
    }
    while *next < bounds.len() && bounds[*next].0 < to {
        *covering += bounds[*next].1;
        *next += 1;
        if *covering > 0 {
            consider(bounds[*next - 1].0, 1000 * *covering as u64);
        }
    }
}
