//! Demand per pool and minute, from the measured month (DESIGN §1.1; issue
//! 16): what the simulator is fed.
//!
//! - [`MinuteRecorder`] keeps, per instance and minute of one window, what the
//!   analyzer saw: connections in use and callers waiting (time-weighted),
//!   covered and saturated seconds, timeouts, the pool as deployed, and the
//!   minute's first sample (for the calibration, which samples the simulated
//!   pool at the same instants).
//! - [`minute_load`] turns a minute into offered load `L` (connections that
//!   would be in use with no limit): the mean in use, or — when the pool was
//!   saturated or callers waited, so demand is censored — in use + waiting.
//! - [`rates`] smooths the loads (a centred 5-minute mean: one sample per
//!   minute carries the pool's own Poisson noise, which the simulation adds
//!   again) and divides by the mean hold (Little's law, λ = L / h), with a
//!   floor in minutes with timeouts: the pool served `capacity / h` per second
//!   and still turned callers away.
//! - [`dispersion`] compares the loads' minute-to-minute variance with the
//!   Poisson variance (= the mean, for a pool that never limits): above 1, the
//!   demand comes in bursts, and each minute's rate is scaled by a gamma factor
//!   that adds the excess ([`burst_shape`]); at or below 1, plain Poisson —
//!   never less bursty than Poisson.
//! - [`rank_hours`] and [`select_hours`] pick the instance-hours to simulate: the busiest N of
//!   each service (by their busiest minute, then their mean), or all.

pub use crate::model::simulation::Hours;
use crate::model::window::Window;

/// What the metrics say about one pool in one minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinuteObs {
    /// ∫ checked_out dt over the covered seconds (connection-seconds).
    pub in_use: f32,
    /// ∫ waiting dt.
    pub waiting: f32,
    /// Covered seconds (0–60).
    pub covered: u8,
    /// Seconds at `pool_size + max_overflow`.
    pub saturated: u8,
    /// Seconds into the minute of its first sample (`NO_SAMPLE`: none).
    pub sample_offset: u8,
    /// Timeouts counted in the minute (the counter's increase).
    pub timeouts: u32,
    /// `pool_size` in force (the minute's last segment).
    pub pool_size: u32,
    /// `pool_size + max_overflow` in force.
    pub capacity: u32,
    /// `checked_out` at the first sample.
    pub sample_checked_out: u32,
}

/// [`MinuteObs::sample_offset`] of a minute without a sample.
pub const NO_SAMPLE: u8 = u8::MAX;

impl Default for MinuteObs {
    fn default() -> Self {
        MinuteObs {
            in_use: 0.0,
            waiting: 0.0,
            covered: 0,
            saturated: 0,
            sample_offset: NO_SAMPLE,
            timeouts: 0,
            pool_size: 0,
            capacity: 0,
            sample_checked_out: 0,
        }
    }
}

impl MinuteObs {
    /// Mean connections in use over the covered seconds.
    pub fn mean_in_use(&self) -> f64 {
        if self.covered == 0 {
            0.0
        } else {
            f64::from(self.in_use) / f64::from(self.covered)
        }
    }

    /// Whether demand was censored: the pool at its cap, callers waiting, or timeouts.
    pub fn censored(&self) -> bool {
        self.saturated > 0 || self.waiting > 0.0 || self.timeouts > 0
    }
}

/// Per-minute observations of one instance over one window.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteRecorder {
    start: i64,
    /// One per minute of the window.
    pub minutes: Vec<MinuteObs>,
}

impl MinuteRecorder {
    /// An empty record of `window`'s minutes.
    pub fn new(window: Window) -> Self {
        let n = usize::try_from((window.seconds() + 59) / 60).unwrap_or(0);
        MinuteRecorder {
            start: window.start,
            minutes: vec![MinuteObs::default(); n],
        }
    }

    fn index(&self, t: i64) -> Option<usize> {
        let i = (t - self.start).div_euclid(60);
        usize::try_from(i).ok().filter(|&i| i < self.minutes.len())
    }

    /// Accounts `[from, to)` with these values (clipped to the window).
    pub fn segment(&mut self, from: i64, to: i64, checked_out: u32, waiting: u32, pool: (u32, u32)) {
        let end = self.start + self.minutes.len() as i64 * 60;
        let (mut a, b) = (from.max(self.start), to.min(end));
        let saturated = checked_out >= pool.1;
        while a < b {
            let Some(i) = self.index(a) else { break };
            let minute_end = self.start + (i as i64 + 1) * 60;
            let seconds = (b.min(minute_end) - a) as u8;
            let m = &mut self.minutes[i];
            m.in_use += f32::from(seconds) * checked_out as f32;
            m.waiting += f32::from(seconds) * waiting as f32;
            m.covered = m.covered.saturating_add(seconds).min(60);
            if saturated {
                m.saturated = m.saturated.saturating_add(seconds).min(60);
            }
            m.pool_size = pool.0;
            m.capacity = pool.1;
            a = minute_end;
        }
    }

    /// Notes a sample at `t` and the timeouts counted since the previous one.
    pub fn sample(&mut self, t: i64, checked_out: u32, timeouts: u64) {
        if let Some(i) = self.index(t) {
            let m = &mut self.minutes[i];
            if m.sample_offset == NO_SAMPLE {
                m.sample_offset = (t - self.start).rem_euclid(60) as u8;
                m.sample_checked_out = checked_out;
            }
            m.timeouts = m.timeouts.saturating_add(u32::try_from(timeouts).unwrap_or(u32::MAX));
        }
    }
}

/// The offered load of a minute, connections (`None` when not covered).
pub fn minute_load(m: &MinuteObs) -> Option<f64> {
    if m.covered == 0 {
        return None;
    }
    let covered = f64::from(m.covered);
    let in_use = f64::from(m.in_use) / covered;
    Some(if m.censored() {
        in_use + f64::from(m.waiting) / covered
    } else {
        in_use
    })
}

/// Minutes either side in the smoothing of [`rates`].
pub const SMOOTH_HALF_WIDTH: usize = 2;

/// Each minute's loads smoothed: the mean of the covered minutes within
/// [`SMOOTH_HALF_WIDTH`] either side (censored minutes are kept as measured:
/// the cap is a wall, not noise).
pub fn smoothed_loads(minutes: &[MinuteObs]) -> Vec<Option<f64>> {
    let loads: Vec<Option<f64>> = minutes.iter().map(minute_load).collect();
    (0..minutes.len())
        .map(|i| {
            let here = loads[i]?;
            if minutes[i].censored() {
                return Some(here);
            }
            let from = i.saturating_sub(SMOOTH_HALF_WIDTH);
            let to = (i + SMOOTH_HALF_WIDTH + 1).min(loads.len());
            let near: Vec<f64> = (from..to)
                .filter(|&j| !minutes[j].censored())
                .filter_map(|j| loads[j])
                .collect();
            Some(near.iter().sum::<f64>() / near.len() as f64)
        })
        .collect()
}

/// Checkouts per second in each minute (`None` when not covered): the
/// smoothed load ([`smoothed_loads`] of `minutes`) over the mean hold, at
/// least `capacity / hold` plus the minute's timeouts per second when there
/// were any.
pub fn rates(minutes: &[MinuteObs], smoothed: &[Option<f64>], hold_mean: f64) -> Vec<Option<f64>> {
    smoothed
        .iter()
        .zip(minutes)
        .map(|(load, m)| {
            let rate = (*load)? / hold_mean;
            Some(if m.timeouts > 0 {
                rate.max(f64::from(m.capacity) / hold_mean + f64::from(m.timeouts) / 60.0)
            } else {
                rate
            })
        })
        .collect()
}

/// The minute-to-minute variance of the loads over their Poisson variance
/// (the mean), over uncensored minutes with both neighbours covered; `None`
/// with fewer than 30 such minutes. Estimated from second differences,
/// `Var(L_i − (L_{i−1} + L_{i+1}) / 2) = 1.5 σ²`, which a slow trend (the
/// daily shape) barely touches.
pub fn dispersion(minutes: &[MinuteObs]) -> Option<f64> {
    let loads: Vec<Option<f64>> = minutes
        .iter()
        .map(|m| if m.censored() { None } else { minute_load(m) })
        .collect();
    let (mut sum_sq, mut sum_load, mut n) = (0.0, 0.0, 0u64);
    for w in loads.windows(3) {
        if let [Some(a), Some(b), Some(c)] = *w {
            let d = b - (a + c) / 2.0;
            sum_sq += d * d;
            sum_load += b;
            n += 1;
        }
    }
    if n < 30 || sum_load <= 0.0 {
        return None;
    }
    let variance = sum_sq / n as f64 / 1.5;
    Some(variance / (sum_load / n as f64))
}

/// The gamma shape that scales a minute of load `load` so that its variance
/// is `dispersion × load` (Poisson's plus the excess): `load / (D − 1)`;
/// `None` (plain Poisson) when `D ≤ 1`.
pub fn burst_shape(load: f64, dispersion: f64) -> Option<f64> {
    (dispersion > 1.0 && load > 0.0).then(|| load / (dispersion - 1.0))
}

/// One hour of one instance, ranked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourRank {
    /// Index of the instance (in the caller's list).
    pub instance: usize,
    /// Hour of the window (0 = its first).
    pub hour: usize,
    /// Its busiest minute's load, connections.
    pub peak: f64,
    /// Its mean load over covered minutes.
    pub mean: f64,
}

/// Every covered hour of `instances` (each one's minutes), ranked by its
/// busiest minute's load, then its mean (busiest first).
pub fn rank_hours(instances: &[&[MinuteObs]]) -> Vec<HourRank> {
    let mut ranked = Vec::new();
    for (k, minutes) in instances.iter().enumerate() {
        for (h, chunk) in minutes.chunks(60).enumerate() {
            let loads: Vec<f64> = chunk.iter().filter_map(minute_load).collect();
            if loads.is_empty() {
                continue;
            }
            ranked.push(HourRank {
                instance: k,
                hour: h,
                peak: loads.iter().copied().fold(f64::MIN, f64::max),
                mean: loads.iter().sum::<f64>() / loads.len() as f64,
            });
        }
    }
    ranked.sort_by(|a, b| {
        b.peak
            .total_cmp(&a.peak)
            .then(b.mean.total_cmp(&a.mean))
            .then(a.instance.cmp(&b.instance))
            .then(a.hour.cmp(&b.hour))
    });
    ranked
}

/// The hours to simulate from `ranked` ([`rank_hours`]): the first `n` for
/// [`Hours::Busiest`], all for [`Hours::All`]; in (instance, hour) order.
pub fn select_hours(ranked: &[HourRank], hours: Hours) -> Vec<HourRank> {
    let n = match hours {
        Hours::Busiest(n) => n,
        Hours::All => ranked.len(),
    };
    let mut selected = ranked[..n.min(ranked.len())].to_vec();
    selected.sort_by_key(|r| (r.instance, r.hour));
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(in_use: f64, waiting: f64, capacity: u32, timeouts: u32) -> MinuteObs {
        MinuteObs {
            in_use: (in_use * 60.0) as f32,
            waiting: (waiting * 60.0) as f32,
            covered: 60,
            saturated: if in_use >= f64::from(capacity) { 60 } else { 0 },
            timeouts,
            pool_size: 20,
            capacity,
            ..MinuteObs::default()
        }
    }

    #[test]
    fn a_segment_is_split_over_the_minutes_it_covers() {
        let w = Window {
            start: 600,
            end: 600 + 180,
        };
        let mut r = MinuteRecorder::new(w);
        assert_eq!(r.minutes.len(), 3);
        // 10 in use from 630 to 700 (30 s of minute 0, 40 s of minute 1), then
        // 30 (the cap) from 700 to 720 with 4 waiting.
        r.segment(630, 700, 10, 0, (20, 30));
        r.segment(700, 720, 30, 4, (20, 30));
        r.sample(630, 10, 0);
        r.sample(700, 30, 2);
        r.sample(710, 30, 1);
        let m = &r.minutes;
        assert_eq!((m[0].covered, m[1].covered, m[2].covered), (30, 60, 0));
        assert_eq!(m[0].in_use, 300.0);
        assert_eq!(m[1].in_use, 40.0 * 10.0 + 20.0 * 30.0);
        assert_eq!((m[1].saturated, m[1].waiting), (20, 80.0));
        assert_eq!(
            (m[0].sample_offset, m[1].sample_offset, m[2].sample_offset),
            (30, 40, NO_SAMPLE)
        );
        assert_eq!((m[1].sample_checked_out, m[1].timeouts), (30, 3));
        // Minute 1 is censored: its load counts the waiting callers.
        assert!((minute_load(&m[1]).unwrap() - (1000.0 + 80.0) / 60.0).abs() < 1e-9);
        assert_eq!(minute_load(&m[2]), None);
        // Outside the window: nothing.
        r.segment(0, 600, 5, 0, (20, 30));
        r.sample(10_000, 1, 5);
        assert_eq!(r.minutes[0].covered, 30);
    }

    #[test]
    fn rates_follow_littles_law_with_a_floor_from_timeouts() {
        let minutes = vec![minute(10.0, 0.0, 30, 0); 5];
        let r = rates(&minutes, &smoothed_loads(&minutes), 0.05);
        assert!(r.iter().all(|x| (x.unwrap() - 200.0).abs() < 1e-9), "{r:?}");
        // Saturated with 3 waiting and 6 timeouts in the minute: at least the
        // pool's service rate (30 / 0.05 = 600/s) plus 0.1/s turned away, and
        // the censored load (33) gives 660/s.
        let mut minutes = vec![minute(10.0, 0.0, 30, 0); 5];
        minutes[2] = minute(30.0, 3.0, 30, 6);
        let r = rates(&minutes, &smoothed_loads(&minutes), 0.05);
        assert!((r[2].unwrap() - 660.0).abs() < 1e-6, "{r:?}");
        // The censored minute is not smoothed into its neighbours.
        assert!((r[1].unwrap() - 200.0).abs() < 1e-9, "{r:?}");
        // A floor above the load: 0 waiting but 60 timeouts.
        minutes[2] = minute(30.0, 0.0, 30, 60);
        let r = rates(&minutes, &smoothed_loads(&minutes), 0.05);
        assert!((r[2].unwrap() - 601.0).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn dispersion_is_one_for_poisson_loads_and_more_for_bursts() {
        let mut rng = crate::support::rng::Rng::new(3);
        // Poisson(20) counts, by inversion.
        let poisson = |rng: &mut crate::support::rng::Rng, mean: f64| {
            let (mut k, mut p, u) = (0u32, (-mean).exp(), rng.uniform());
            let mut cdf = p;
            while u > cdf {
                k += 1;
                p *= mean / f64::from(k);
                cdf += p;
            }
            f64::from(k)
        };
        let plain: Vec<MinuteObs> = (0..5000)
            .map(|_| minute(poisson(&mut rng, 20.0), 0.0, 100, 0))
            .collect();
        let d = dispersion(&plain).unwrap();
        assert!((d - 1.0).abs() < 0.1, "{d}");
        // Each minute's mean scaled by a gamma factor of variance 0.05: D = 1 + 20 × 0.05 = 2.
        let bursty: Vec<MinuteObs> = (0..5000)
            .map(|_| {
                let g = rng.gamma(20.0) / 20.0;
                minute(poisson(&mut rng, 20.0 * g), 0.0, 100, 0)
            })
            .collect();
        let d = dispersion(&bursty).unwrap();
        assert!((d - 2.0).abs() < 0.2, "{d}");
        assert_eq!(
            burst_shape(20.0, d).map(|k| (k * (d - 1.0) - 20.0).abs() < 1e-9),
            Some(true)
        );
        assert_eq!(burst_shape(20.0, 0.5), None);
        // Smooth loads (less than Poisson) stay Poisson.
        let smooth: Vec<MinuteObs> = (0..100).map(|i| minute(20.0 + f64::from(i % 2), 0.0, 100, 0)).collect();
        assert!(dispersion(&smooth).unwrap() < 1.0);
        assert_eq!(dispersion(&smooth[..20]), None);
    }

    #[test]
    fn the_busiest_hours_are_ranked_by_their_peak_minute() {
        let quiet = vec![minute(5.0, 0.0, 30, 0); 120];
        let mut busy = vec![minute(10.0, 0.0, 30, 0); 180];
        busy[150] = minute(30.0, 5.0, 30, 1);
        busy[30] = minute(20.0, 0.0, 30, 0);
        let ranked = rank_hours(&[&quiet, &busy]);
        let picked = select_hours(&ranked, Hours::Busiest(2));
        let ids: Vec<(usize, usize)> = picked.iter().map(|r| (r.instance, r.hour)).collect();
        assert_eq!(ids, vec![(1, 0), (1, 2)]);
        assert_eq!(picked[1].peak, 35.0);
        assert_eq!(select_hours(&ranked, Hours::All).len(), 5);
    }
}
