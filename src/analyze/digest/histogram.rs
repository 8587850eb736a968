//! Durations as a log-scale histogram: buckets 2% wide, so every percentile
//! is within 1% of the true value (a bucket's geometric midpoint, clamped to
//! the exact min and max); mergeable.

const BUCKET_BASE_MS: f64 = 0.001;
const GROWTH: f64 = 1.02;

/// Above the bucket of `f64::MAX` (36 194): infinite durations land here.
const LAST_BUCKET: f64 = 40_000.0;

fn bucket(ms: f64) -> i32 {
    if ms.is_nan() || ms <= BUCKET_BASE_MS {
        return 0;
    }
    ((ms / BUCKET_BASE_MS).ln() / GROWTH.ln()).floor().min(LAST_BUCKET) as i32 + 1
}

fn bucket_value(b: i32) -> f64 {
    if b == 0 {
        return BUCKET_BASE_MS;
    }
    // Geometric midpoint of [base·g^(b−1), base·g^b).
    BUCKET_BASE_MS * GROWTH.powf(f64::from(b) - 0.5)
}

/// A log-scale histogram of durations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    first: i32,
    counts: Vec<u32>,
}

impl Histogram {
    /// Counts one duration.
    pub fn add(&mut self, ms: f64) {
        let b = bucket(ms);
        if self.counts.is_empty() {
            self.first = b;
            self.counts.push(0);
        }
        if b < self.first {
            let grow = (self.first - b) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.first = b;
        }
        let i = (b - self.first) as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
    }

    /// Adds another histogram.
    pub fn merge(&mut self, other: &Histogram) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            *self = other.clone();
            return;
        }
        let last = |h: &Histogram| h.first + h.counts.len() as i32 - 1;
        let first = self.first.min(other.first);
        let mut counts = vec![0u32; (last(self).max(last(other)) - first + 1) as usize];
        for h in [&*self, other] {
            for (i, &c) in h.counts.iter().enumerate() {
                counts[(h.first - first) as usize + i] += c;
            }
        }
        self.first = first;
        self.counts = counts;
    }

    /// The counted buckets by number: (bucket, count), for the stored form
    /// ([`super::stored`]).
    pub fn to_pairs(&self) -> Vec<(i32, u32)> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, &c)| (self.first + i as i32, c))
            .collect()
    }

    /// The histogram of [`Histogram::to_pairs`]; `None` when a bucket number
    /// is out of range or repeated, or the pairs are not in order.
    pub fn from_pairs(pairs: &[(i32, u32)]) -> Option<Histogram> {
        let (Some(first), Some(last)) = (pairs.first(), pairs.last()) else {
            return Some(Histogram::default());
        };
        let in_range = |b: i32| (0..=LAST_BUCKET as i32 + 1).contains(&b);
        if !in_range(first.0) || !in_range(last.0) || pairs.windows(2).any(|w| w[0].0 >= w[1].0) {
            return None;
        }
        let mut counts = vec![0u32; (last.0 - first.0 + 1) as usize];
        for &(b, c) in pairs {
            counts[(b - first.0) as usize] = c;
        }
        Some(Histogram { first: first.0, counts })
    }

    /// The buckets: (lower ms, upper ms, count), only those counted.
    pub fn buckets(&self) -> Vec<(f64, f64, u32)> {
        let bound = |b: i32| if b <= 0 { 0.0 } else { BUCKET_BASE_MS * GROWTH.powi(b) };
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, &c)| {
                let b = self.first + i as i32;
                (bound(b - 1), bound(b), c)
            })
            .collect()
    }

    /// The `p` quantile (0..=1), within 1%.
    pub fn quantile(&self, p: f64) -> f64 {
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return 0.0;
        }
        let need = ((p * total as f64).ceil() as u64).max(1);
        let mut acc = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            acc += u64::from(c);
            if acc >= need {
                return bucket_value(self.first + i as i32);
            }
        }
        bucket_value(self.first + self.counts.len() as i32 - 1)
    }
}
