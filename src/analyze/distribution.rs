//! Exact time-weighted distribution of utilization over a window.
//!
//! Utilization is a ratio of small integers (`checked_out / pool_size`), so the
//! distribution is kept exactly as seconds per distinct (checked_out, pool_size,
//! saturated) triple, in a sorted map so sums run in one order and results are
//! bit-for-bit repeatable: memory grows with the number of distinct states a pool was
//! in, never with the number of samples, and percentiles carry no binning error.
//!
//! Percentiles are time-weighted nearest-rank: the smallest utilization `u` such
//! that the time spent at or below `u` is at least `p` of the covered time.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// One state of a pool (or of a service's pools summed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct State {
    checked_out: u64,
    pool_size: u64,
    saturated: bool,
}

/// Seconds spent in each state.
#[derive(Debug, Clone, Default)]
pub struct Distribution {
    seconds: BTreeMap<State, i64>,
}

fn ratio_cmp(a: (u64, u64), b: (u64, u64)) -> Ordering {
    (u128::from(a.0) * u128::from(b.1)).cmp(&(u128::from(b.0) * u128::from(a.1)))
}

impl Distribution {
    /// Adds `seconds` spent with `checked_out` of `pool_size` in use (`u64`: a
    /// service's pools summed over many instances can pass `u32`).
    pub fn add(&mut self, checked_out: u64, pool_size: u64, saturated: bool, seconds: i64) {
        if seconds <= 0 || pool_size == 0 {
            return;
        }
        *self
            .seconds
            .entry(State {
                checked_out,
                pool_size,
                saturated,
            })
            .or_default() += seconds;
    }

    /// Adds everything of another distribution.
    pub fn merge(&mut self, other: &Distribution) {
        for (state, s) in &other.seconds {
            *self.seconds.entry(*state).or_default() += s;
        }
    }

    /// Covered seconds.
    pub fn covered(&self) -> i64 {
        self.seconds.values().sum()
    }

    /// Time-weighted mean utilization; 0 when nothing is covered.
    pub fn mean(&self) -> f64 {
        let covered = self.covered();
        if covered == 0 {
            return 0.0;
        }
        let weighted: f64 = self
            .seconds
            .iter()
            .map(|(st, s)| st.checked_out as f64 / st.pool_size as f64 * *s as f64)
            .sum();
        weighted / covered as f64
    }

    /// Time-weighted mean of `checked_out` (connections in use).
    pub fn mean_checked_out(&self) -> f64 {
        let covered = self.covered();
        if covered == 0 {
            return 0.0;
        }
        let weighted: f64 = self
            .seconds
            .iter()
            .map(|(st, s)| st.checked_out as f64 * *s as f64)
            .sum();
        weighted / covered as f64
    }

    /// States sorted by utilization, with their seconds.
    fn sorted(&self) -> Vec<(u64, u64, i64)> {
        let mut by_ratio: BTreeMap<(u64, u64), i64> = BTreeMap::new();
        for (st, s) in &self.seconds {
            *by_ratio.entry((st.checked_out, st.pool_size)).or_default() += s;
        }
        let mut v: Vec<(u64, u64, i64)> = by_ratio.into_iter().map(|((c, p), s)| (c, p, s)).collect();
        v.sort_by(|a, b| ratio_cmp((a.0, a.1), (b.0, b.1)).then(a.1.cmp(&b.1)));
        v
    }

    /// Time-weighted percentiles for each `p` in `ps` (each in 0..=1); 0 when empty.
    pub fn percentiles(&self, ps: &[f64]) -> Vec<f64> {
        let sorted = self.sorted();
        let covered: i64 = sorted.iter().map(|x| x.2).sum();
        ps.iter()
            .map(|&p| {
                if covered == 0 {
                    return 0.0;
                }
                let need = (p * covered as f64).ceil().max(1.0) as i64;
                let mut acc = 0;
                for &(c, pool, s) in &sorted {
                    acc += s;
                    if acc >= need {
                        return c as f64 / pool as f64;
                    }
                }
                sorted.last().map_or(0.0, |&(c, pool, _)| c as f64 / pool as f64)
            })
            .collect()
    }

    /// Highest utilization held for any time; 0 when empty.
    pub fn max(&self) -> f64 {
        self.seconds
            .keys()
            .map(|st| (st.checked_out, st.pool_size))
            .max_by(|a, b| ratio_cmp(*a, *b))
            .map_or(0.0, |(c, p)| c as f64 / p as f64)
    }

    /// Seconds with utilization strictly above `threshold`.
    pub fn seconds_above(&self, threshold: f64) -> i64 {
        self.seconds
            .iter()
            .filter(|(st, _)| st.checked_out as f64 > threshold * st.pool_size as f64)
            .map(|(_, s)| s)
            .sum()
    }

    /// Seconds spent saturated.
    pub fn saturated_seconds(&self) -> i64 {
        self.seconds.iter().filter(|(st, _)| st.saturated).map(|(_, s)| s).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_weighted_mean_and_percentiles() {
        let mut d = Distribution::default();
        d.add(2, 10, false, 90); // 0.2 for 90 s
        d.add(9, 10, false, 10); // 0.9 for 10 s
        assert_eq!(d.covered(), 100);
        assert!((d.mean() - 0.27).abs() < 1e-12);
        assert_eq!(d.percentiles(&[0.5, 0.9, 0.91, 1.0]), vec![0.2, 0.2, 0.9, 0.9]);
        assert_eq!(d.max(), 0.9);
        assert_eq!(d.seconds_above(0.8), 10);
        assert_eq!(d.seconds_above(0.9), 0);
    }

    #[test]
    fn equal_ratios_of_different_pools_merge() {
        let mut d = Distribution::default();
        d.add(1, 2, false, 50);
        d.add(10, 20, false, 50);
        d.add(30, 20, true, 1);
        assert_eq!(d.percentiles(&[0.99]), vec![0.5]);
        assert_eq!(d.max(), 1.5);
        assert_eq!(d.saturated_seconds(), 1);
    }

    #[test]
    fn empty_is_zero() {
        let d = Distribution::default();
        assert_eq!((d.covered(), d.mean(), d.max()), (0, 0.0, 0.0));
        assert_eq!(d.percentiles(&[0.95]), vec![0.0]);
    }
}
