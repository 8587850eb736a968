//! Demand per pool and minute, from the measured month (DESIGN §1.1; issue
//! 16): what the simulator is fed.
//!
//! - [`MinuteRecorder`] follows, per instance and minute of one window, what
//!   the analyzer saw: connections in use and callers waiting (time-weighted),
//!   covered and saturated seconds, timeouts, the pool as deployed, and the
//!   minute's first sample (for the calibration, which samples the simulated
//!   pool at the same instants). The analyzer gives it an instance's segments
//!   in time order, so it closes each hour as the instance passes it: it
//!   ranks the hour, adds its minutes to the dispersion's sums, and keeps the
//!   hour's minutes only while it is among the instance's busiest N (N the
//!   hours simulated per service: an hour that N hours of its own instance
//!   beat can never be among its service's N). Memory is about 43 KB per
//!   instance for `busiest:24`, whatever the length of the window (issue 19:
//!   a month of every minute was 1.25 MB).
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

/// Minutes kept either side of a kept hour: the smoothing's reach
/// ([`SMOOTH_HALF_WIDTH`]), so that a kept hour's smoothed loads are those of
/// the whole window.
pub const MARGIN: usize = SMOOTH_HALF_WIDTH;

/// One hour of one instance, kept for the simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptHour {
    /// Hour of the window (0 = its first).
    pub hour: usize,
    /// Its busiest minute's load, connections.
    pub peak: f64,
    /// Its mean load over covered minutes.
    pub mean: f64,
    /// [`MARGIN`] minutes before the hour, its own, and [`MARGIN`] after
    /// (uncovered where the window has none).
    pub minutes: Vec<MinuteObs>,
    /// Its own minutes (60, fewer in a window's last partial hour).
    pub len: usize,
}

impl KeptHour {
    /// The hour's own minutes.
    pub fn own(&self) -> &[MinuteObs] {
        &self.minutes[MARGIN..MARGIN + self.len]
    }

    /// Whether `self` ranks before `other` (busiest minute, then mean, then earlier).
    fn beats(&self, other: &KeptHour) -> bool {
        self.peak
            .total_cmp(&other.peak)
            .then(self.mean.total_cmp(&other.mean))
            .then(other.hour.cmp(&self.hour))
            .is_gt()
    }
}

/// The running sums of [`dispersion`], fed one minute at a time in order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DispersionSums {
    sum_sq: f64,
    sum_load: f64,
    n: u64,
    /// The two previous minutes' uncensored loads.
    before: [Option<f64>; 2],
}

impl DispersionSums {
    /// Adds the next minute.
    pub fn push(&mut self, m: &MinuteObs) {
        let load = if m.censored() { None } else { minute_load(m) };
        if let [Some(a), Some(b)] = self.before
            && let Some(c) = load
        {
            let d = b - (a + c) / 2.0;
            self.sum_sq += d * d;
            self.sum_load += b;
            self.n += 1;
        }
        self.before = [self.before[1], load];
    }

    /// The dispersion of the minutes pushed (see [`dispersion`]).
    pub fn value(&self) -> Option<f64> {
        if self.n < 30 || self.sum_load <= 0.0 {
            return None;
        }
        let variance = self.sum_sq / self.n as f64 / 1.5;
        Some(variance / (self.sum_load / self.n as f64))
    }
}

/// Per-minute observations of one instance over one window, reduced as the
/// instance passes them to its busiest hours and the dispersion's sums.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteRecorder {
    start: i64,
    /// Minutes in the window.
    len: usize,
    /// Hours kept (`None`: all).
    keep: Option<usize>,
    /// The minutes not yet dropped, from `live_from` on.
    live: std::collections::VecDeque<MinuteObs>,
    live_from: usize,
    /// Minutes before this one are final (the instance has passed them).
    final_before: usize,
    /// Hours before this one are closed.
    next_hour: usize,
    /// Minutes before this one are in `dispersion`.
    dispersion_next: usize,
    dispersion: DispersionSums,
    /// The busiest hours closed so far, in no order.
    kept: Vec<KeptHour>,
    /// The busiest minute's load of the covered hours closed and not kept.
    dropped_peak: Option<f64>,
    covered: bool,
}

impl MinuteRecorder {
    /// An empty record of `window`'s minutes that keeps the busiest `hours`.
    pub fn new(window: Window, hours: Hours) -> Self {
        let len = usize::try_from((window.seconds() + 59) / 60).unwrap_or(0);
        MinuteRecorder {
            start: window.start,
            len,
            keep: match hours {
                Hours::Busiest(n) => Some(n),
                Hours::All => None,
            },
            live: std::collections::VecDeque::new(),
            live_from: 0,
            final_before: 0,
            next_hour: 0,
            dispersion_next: 0,
            dispersion: DispersionSums::default(),
            kept: Vec::new(),
            dropped_peak: None,
            covered: false,
        }
    }

    fn index(&self, t: i64) -> Option<usize> {
        let i = (t - self.start).div_euclid(60);
        usize::try_from(i).ok().filter(|&i| i < self.len)
    }

    /// Minute `i`, to write: `None` when it is already final (a write
    /// out of time order, which the analyzer never makes).
    fn minute_mut(&mut self, i: usize) -> Option<&mut MinuteObs> {
        if i < self.final_before {
            debug_assert!(false, "minute {i} written after it was final");
            return None;
        }
        let k = i - self.live_from;
        if self.live.len() <= k {
            self.live.resize(k + 1, MinuteObs::default());
        }
        self.live.get_mut(k)
    }

    fn live_minute(&self, i: usize) -> MinuteObs {
        i.checked_sub(self.live_from)
            .and_then(|k| self.live.get(k))
            .copied()
            .unwrap_or_default()
    }

    /// Notes that nothing before minute `i` will change: closes the hours
    /// that are whole (with their margin after) and drops what no open hour needs.
    fn pass(&mut self, i: usize) {
        let i = i.min(self.len);
        if i <= self.final_before {
            return;
        }
        self.final_before = i;
        while self.dispersion_next < i {
            let m = self.live_minute(self.dispersion_next);
            self.dispersion.push(&m);
            self.dispersion_next += 1;
        }
        while self.next_hour * 60 < self.len && ((self.next_hour + 1) * 60 + MARGIN).min(self.len) <= i {
            self.close_hour(self.next_hour);
            self.next_hour += 1;
        }
        let needed = (self.next_hour * 60).saturating_sub(MARGIN).min(self.dispersion_next);
        while self.live_from < needed {
            self.live.pop_front();
            self.live_from += 1;
        }
    }

    fn close_hour(&mut self, hour: usize) {
        let from = hour * 60;
        let len = 60.min(self.len - from);
        let own: Vec<MinuteObs> = (from..from + len).map(|i| self.live_minute(i)).collect();
        let loads: Vec<f64> = own.iter().filter_map(minute_load).collect();
        if loads.is_empty() {
            return;
        }
        self.covered = true;
        let candidate = KeptHour {
            hour,
            peak: loads.iter().copied().fold(f64::MIN, f64::max),
            mean: loads.iter().sum::<f64>() / loads.len() as f64,
            minutes: Vec::new(),
            len,
        };
        let drop = |peak: f64, dropped: &mut Option<f64>| *dropped = Some(dropped.map_or(peak, |d: f64| d.max(peak)));
        let slot = match self.keep {
            None => None,
            Some(n) if self.kept.len() < n => None,
            Some(0) => {
                drop(candidate.peak, &mut self.dropped_peak);
                return;
            }
            Some(_) => {
                // The kept hour every other kept hour beats.
                let worst = (1..self.kept.len()).fold(0, |w, k| if self.kept[w].beats(&self.kept[k]) { k } else { w });
                if !candidate.beats(&self.kept[worst]) {
                    drop(candidate.peak, &mut self.dropped_peak);
                    return;
                }
                drop(self.kept[worst].peak, &mut self.dropped_peak);
                Some(worst)
            }
        };
        let minutes = (from as i64 - MARGIN as i64..(from + len + MARGIN) as i64)
            .map(|i| {
                usize::try_from(i)
                    .ok()
                    .filter(|&i| i < self.len)
                    .map(|i| self.live_minute(i))
                    .unwrap_or_default()
            })
            .collect();
        let hour = KeptHour { minutes, ..candidate };
        match slot {
            Some(k) => self.kept[k] = hour,
            None => self.kept.push(hour),
        }
    }

    /// Accounts `[from, to)` with these values (clipped to the window).
    pub fn segment(&mut self, from: i64, to: i64, checked_out: u32, waiting: u32, pool: (u32, u32)) {
        let end = self.start + self.len as i64 * 60;
        let (mut a, b) = (from.max(self.start), to.min(end));
        if a >= b {
            return;
        }
        if let Some(i) = self.index(a) {
            self.pass(i);
        }
        let saturated = checked_out >= pool.1;
        while a < b {
            let Some(i) = self.index(a) else { break };
            let minute_end = self.start + (i as i64 + 1) * 60;
            let seconds = (b.min(minute_end) - a) as u8;
            if let Some(m) = self.minute_mut(i) {
                m.in_use += f32::from(seconds) * checked_out as f32;
                m.waiting += f32::from(seconds) * waiting as f32;
                m.covered = m.covered.saturating_add(seconds).min(60);
                if saturated {
                    m.saturated = m.saturated.saturating_add(seconds).min(60);
                }
                m.pool_size = pool.0;
                m.capacity = pool.1;
            }
            a = minute_end;
        }
    }

    /// Notes a sample at `t` and the timeouts counted since the previous one.
    pub fn sample(&mut self, t: i64, checked_out: u32, timeouts: u64) {
        if let Some(i) = self.index(t) {
            self.pass(i);
            let offset = (t - self.start).rem_euclid(60) as u8;
            if let Some(m) = self.minute_mut(i) {
                if m.sample_offset == NO_SAMPLE {
                    m.sample_offset = offset;
                    m.sample_checked_out = checked_out;
                }
                m.timeouts = m.timeouts.saturating_add(u32::try_from(timeouts).unwrap_or(u32::MAX));
            }
        }
    }

    /// Ends the record: closes every hour.
    pub fn finish(&mut self) {
        self.pass(self.len);
    }

    /// Whether any minute was covered ([`finish`](Self::finish) first).
    pub fn covered(&self) -> bool {
        self.covered
    }

    /// The busiest hours kept, earliest first ([`finish`](Self::finish) first).
    pub fn kept(&self) -> Vec<&KeptHour> {
        let mut kept: Vec<&KeptHour> = self.kept.iter().collect();
        kept.sort_by_key(|h| h.hour);
        kept
    }

    /// The busiest minute's load of the covered hours not kept.
    pub fn dropped_peak(&self) -> Option<f64> {
        self.dropped_peak
    }

    /// The instance's fitted dispersion ([`dispersion`] of all its minutes).
    pub fn dispersion(&self) -> Option<f64> {
        self.dispersion.value()
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
    let mut sums = DispersionSums::default();
    for m in minutes {
        sums.push(m);
    }
    sums.value()
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

/// The hours `instances` kept ([`MinuteRecorder::kept`]), ranked by their
/// busiest minute's load, then their mean (busiest first).
pub fn rank_hours(instances: &[&MinuteRecorder]) -> Vec<HourRank> {
    let mut ranked: Vec<HourRank> = instances
        .iter()
        .enumerate()
        .flat_map(|(k, r)| {
            r.kept().into_iter().map(move |h| HourRank {
                instance: k,
                hour: h.hour,
                peak: h.peak,
                mean: h.mean,
            })
        })
        .collect();
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
        let mut r = MinuteRecorder::new(w, Hours::All);
        // 10 in use from 630 to 700 (30 s of minute 0, 40 s of minute 1), then
        // 30 (the cap) from 700 to 720 with 4 waiting.
        // In the analyzer's order: a sample, then the segment it holds over.
        r.sample(630, 10, 0);
        r.segment(630, 700, 10, 0, (20, 30));
        r.sample(700, 30, 2);
        r.sample(710, 30, 1);
        r.segment(700, 720, 30, 4, (20, 30));
        // Outside the window: nothing.
        r.sample(10_000, 1, 5);
        r.finish();
        let m = r.kept()[0].own().to_vec();
        assert_eq!(m.len(), 3);
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

    /// A recorder fed these minutes, in order, as the analyzer would.
    pub(crate) fn recorded(minutes: &[MinuteObs], hours: Hours) -> MinuteRecorder {
        let window = Window {
            start: 0,
            end: minutes.len() as i64 * 60,
        };
        let mut r = MinuteRecorder::new(window, hours);
        for (i, m) in minutes.iter().enumerate() {
            r.pass(i);
            *r.minute_mut(i).expect("in order") = *m;
        }
        r.finish();
        r
    }

    #[test]
    fn keeping_the_busiest_hours_loses_nothing_the_simulation_reads() {
        let mut rng = crate::support::rng::Rng::new(11);
        // 30 hours and a partial one; loads with a daily-like swing, a few censored minutes.
        let minutes: Vec<MinuteObs> = (0..30 * 60 + 17)
            .map(|i| {
                let base = 10.0 + 8.0 * ((i as f64) / 200.0).sin();
                let m = minute(base + rng.uniform() * 4.0, 0.0, 30, 0);
                match i % 97 {
                    0 => minute(30.0, 2.0, 30, 3),
                    1 => MinuteObs::default(),
                    _ => m,
                }
            })
            .collect();
        let all = recorded(&minutes, Hours::All);
        assert_eq!(all.kept().len(), 31);
        assert_eq!(all.dispersion(), dispersion(&minutes));
        assert_eq!(all.dropped_peak(), None);
        // Each kept hour holds its own minutes and MARGIN either side, as in the window.
        for h in all.kept() {
            for (k, m) in h.minutes.iter().enumerate() {
                let i = (h.hour * 60 + k) as i64 - MARGIN as i64;
                let truth = usize::try_from(i)
                    .ok()
                    .and_then(|i| minutes.get(i))
                    .copied()
                    .unwrap_or_default();
                assert_eq!(*m, truth, "hour {} minute {k}", h.hour);
            }
        }
        let busiest = recorded(&minutes, Hours::Busiest(4));
        let ranked_all = rank_hours(&[&all]);
        let ranked = rank_hours(&[&busiest]);
        assert_eq!(ranked, ranked_all[..4].to_vec());
        let rest = ranked_all[4..].iter().map(|h| h.peak).fold(f64::MIN, f64::max);
        assert_eq!(busiest.dropped_peak(), Some(rest));
        assert_eq!(busiest.dispersion(), all.dispersion());
        assert!(busiest.covered());
        let none = recorded(&minutes, Hours::Busiest(0));
        assert!(none.kept().is_empty() && none.covered());
        assert_eq!(none.dropped_peak(), Some(ranked_all[0].peak));
    }

    #[test]
    fn the_busiest_hours_are_ranked_by_their_peak_minute() {
        let quiet = vec![minute(5.0, 0.0, 30, 0); 120];
        let mut busy = vec![minute(10.0, 0.0, 30, 0); 180];
        busy[150] = minute(30.0, 5.0, 30, 1);
        busy[30] = minute(20.0, 0.0, 30, 0);
        let (quiet, busy) = (recorded(&quiet, Hours::All), recorded(&busy, Hours::All));
        let ranked = rank_hours(&[&quiet, &busy]);
        let picked = select_hours(&ranked, Hours::Busiest(2));
        let ids: Vec<(usize, usize)> = picked.iter().map(|r| (r.instance, r.hour)).collect();
        assert_eq!(ids, vec![(1, 0), (1, 2)]);
        assert_eq!(picked[1].peak, 35.0);
        assert_eq!(select_hours(&ranked, Hours::All).len(), 5);
    }
}
