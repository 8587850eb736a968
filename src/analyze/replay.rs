//! The measured month replayed through the QueuePool simulator
//! ([`super::simulator`]) at several pool sizes at once.
//!
//! A *block* is a stretch of one pool's minutes (one instance), each with an
//! arrival rate (from [`super::demand`]); arrivals are Poisson within a minute
//! (with the minute's rate, optionally scaled by a gamma-distributed factor
//! for over-dispersion), holds are drawn from a [`HoldTime`]. Every *lane* (a
//! candidate size, or the sizes as deployed minute by minute) sees the same
//! checkouts.
//!
//! Exact coupling makes the lanes cheap. An unlimited pool (no waiting) runs
//! alongside. A lane that has never had to make anybody wait is in exactly the
//! unlimited pool's state, so it needs no work of its own: it only counts the
//! checkout. When a checkout would bring the unlimited pool to a lane's
//! capacity, the lane takes a copy of the connections in use and runs the full
//! simulation; once nobody waits in it and every checkout that waited (or
//! timed out) has returned in both pools, its connections in use are again
//! exactly the unlimited pool's, and it goes back to counting. The result is
//! the same, checkout for checkout, as simulating every lane on its own (a
//! test holds it to that), at a cost of one unlimited pool plus the stretches
//! where each lane is at its limit.
//!
//! Assumed in this mode (docs/simulate.md): opening a connection takes no
//! time and `pool_recycle` is not modelled (both change which connection a
//! checkout gets, not whether it gets one); each block starts with no
//! connection in use (the pool fills within seconds at the measured rates).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::simulator::{Checkout, Counts, HoldTime, Pool, PoolConfig, Recorder};
use crate::support::rng::Rng;

/// Waits of many checkouts, kept as a count of those that did not wait and
/// a log-scale histogram of the rest (2 % buckets), so that memory does not
/// grow with the checkouts.
#[derive(Debug, Clone, Default)]
pub struct WaitHistogram {
    /// Checkouts that had their connection at once.
    pub zero: u64,
    /// Waits above zero, ms.
    waits: super::digest::Histogram,
    /// Checkouts that waited.
    pub nonzero: u64,
    /// The longest wait, seconds.
    max: f64,
}

impl WaitHistogram {
    /// Adds one wait, seconds.
    pub fn add(&mut self, seconds: f64) {
        if seconds > 0.0 {
            self.waits.add(seconds * 1000.0);
            self.nonzero += 1;
            self.max = self.max.max(seconds);
        } else {
            self.zero += 1;
        }
    }

    /// Adds `other`'s waits.
    pub fn merge(&mut self, other: &WaitHistogram) {
        self.zero += other.zero;
        self.nonzero += other.nonzero;
        self.max = self.max.max(other.max);
        self.waits.merge(&other.waits);
    }

    /// Waits counted.
    pub fn count(&self) -> u64 {
        self.zero + self.nonzero
    }

    /// The `p` quantile of all waits, seconds (nearest rank; within 1 % above
    /// zero, never above the longest wait).
    pub fn quantile(&self, p: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        let rank = ((p.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        if rank <= self.zero {
            return 0.0;
        }
        // The rank among the nonzero waits, as a share of them.
        let within = (rank - self.zero) as f64 / self.nonzero as f64;
        (self.waits.quantile(within.min(1.0)) / 1000.0).min(self.max)
    }
}

impl Recorder for WaitHistogram {
    fn arrive(&mut self) -> usize {
        0
    }

    fn served(&mut self, _id: usize, wait: f64) {
        self.add(wait);
    }

    fn failed(&mut self, _id: usize, wait: f64) {
        self.add(wait);
    }
}

/// One minute of a block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockMinute {
    /// Checkouts per second.
    pub rate: f64,
    /// Shape of the gamma factor the rate is scaled by (`None`: no factor,
    /// plain Poisson).
    pub burst_shape: Option<f64>,
    /// `pool_size` and `pool_size + max_overflow` as deployed.
    pub deployed: (u32, u32),
    /// Seconds into the minute at which the deployed lane's connections in
    /// use are sampled (as the metrics were), if they were.
    pub sample_at: Option<f64>,
}

/// A stretch of one pool's minutes, simulated as one run.
#[derive(Debug, Clone)]
pub struct Block {
    /// Its minutes, in order.
    pub minutes: Vec<BlockMinute>,
    /// Seed of its random stream.
    pub seed: u64,
}

/// What a lane's pool looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LaneSize {
    /// A fixed `pool_size` and `max_overflow`.
    Fixed {
        /// `pool_size`.
        pool_size: u32,
        /// `max_overflow`.
        max_overflow: u32,
    },
    /// Minute by minute as deployed (the calibration run).
    Deployed,
}

impl LaneSize {
    fn at(self, m: &BlockMinute) -> (u32, u64) {
        match self {
            LaneSize::Fixed {
                pool_size,
                max_overflow,
            } => (pool_size, u64::from(pool_size) + u64::from(max_overflow)),
            LaneSize::Deployed => (m.deployed.0, u64::from(m.deployed.1)),
        }
    }
}

/// What one lane did over one block (or, merged, over many).
#[derive(Debug, Clone, Default)]
pub struct LaneResult {
    /// Counters (`opened` is not meaningful here: it is not modelled).
    pub counts: Counts,
    /// Every checkout's wait.
    pub waits: WaitHistogram,
    /// Connections in use at each sampled instant (the deployed lane only).
    pub sampled: Vec<u32>,
}

impl LaneResult {
    /// Adds `other` (another block) to this one.
    pub fn merge(&mut self, other: &LaneResult) {
        self.counts.absorb(&other.counts);
        self.waits.merge(&other.waits);
        self.sampled.extend_from_slice(&other.sampled);
    }
}

/// An instant of the simulation (never negative) as a heap key: the bits of
/// a non-negative `f64` order as the number does, and integers compare
/// faster than `total_cmp` in the heap that takes most of the unlimited
/// pool's time. Adding `0.0` turns a `-0.0` (a hold of `-mean × ln 1`) into `+0.0`.
fn due(t: f64) -> u64 {
    debug_assert!(t >= 0.0, "instants are never negative: {t}");
    (t + 0.0).to_bits()
}

/// The unlimited pool: every checkout is served at once.
struct Unlimited {
    /// When each connection in use returns ([`due`]).
    returns: BinaryHeap<Reverse<u64>>,
    clock: f64,
    busy: f64,
    /// Checkouts so far (every lane sees them all).
    arrivals: u64,
    /// Most connections in use at once.
    peak: u64,
}

impl Unlimited {
    fn run_until(&mut self, t: f64) {
        while let Some(&Reverse(bits)) = self.returns.peek() {
            let r = f64::from_bits(bits);
            if r > t {
                break;
            }
            self.advance(r);
            self.returns.pop();
        }
        self.advance(t);
    }

    fn advance(&mut self, t: f64) {
        if t > self.clock {
            self.busy += (t - self.clock) * self.returns.len() as f64;
            self.clock = t;
        }
    }

    fn in_use(&self) -> u64 {
        self.returns.len() as u64
    }
}

/// One lane while a block runs.
struct Lane {
    size: LaneSize,
    pool_size: u32,
    capacity: u64,
    /// `Some` while it differs from the unlimited pool.
    pool: Option<Pool<WaitHistogram>>,
    /// Whether it ever differed.
    ever_diverged: bool,
    /// The unlimited pool's busy integral when the lane last went back to it.
    coupled_since: f64,
    result: LaneResult,
}

impl Lane {
    fn config(&self, timeout: f64) -> PoolConfig {
        PoolConfig {
            pool_size: self.pool_size,
            max_overflow: u32::try_from(self.capacity.saturating_sub(u64::from(self.pool_size))).unwrap_or(u32::MAX),
            timeout,
            connect: 0.0,
            recycle: None,
            pre_ping: false,
        }
    }

    /// Folds a finished stretch of full simulation into the result.
    fn absorb(&mut self, pool: Pool<WaitHistogram>) {
        self.result.counts.absorb(&pool.counts);
        self.result.waits.merge(&pool.rec);
    }

    fn in_use(&self, unlimited: &Unlimited) -> u64 {
        self.pool.as_ref().map_or_else(|| unlimited.in_use(), Pool::in_use)
    }
}

/// What happens in a block, in time order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// Minute `i` starts (at `i × 60` s).
    Minute(usize),
    /// The metrics sampled the pool at this instant.
    Sample(f64),
    /// A checkout.
    Arrival(Checkout),
}

/// The events of `block` (seeded: the same block gives the same events).
pub fn events<'a>(block: &'a Block, hold: &'a HoldTime) -> Events<'a> {
    Events {
        block,
        hold,
        rng: Rng::new(block.seed),
        minute: 0,
        begun: false,
        rate: 0.0,
        next: f64::INFINITY,
        sample: None,
    }
}

/// The iterator of [`events`].
pub struct Events<'a> {
    block: &'a Block,
    hold: &'a HoldTime,
    rng: Rng,
    /// The current minute.
    minute: usize,
    /// Whether its `Minute` event has been given.
    begun: bool,
    /// Its arrival rate (after the burst factor).
    rate: f64,
    /// The next arrival's instant (may lie beyond the minute: then unused).
    next: f64,
    /// Its sample instant, until given.
    sample: Option<f64>,
}

impl Events<'_> {
    /// The instant after `t` of the next Poisson arrival at the current rate.
    fn after(&mut self, t: f64) -> f64 {
        if self.rate > 0.0 {
            t - (1.0 - self.rng.uniform()).ln() / self.rate
        } else {
            f64::INFINITY
        }
    }
}

impl Iterator for Events<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            let m = *self.block.minutes.get(self.minute)?;
            let start = self.minute as f64 * 60.0;
            let end = start + 60.0;
            if !self.begun {
                self.begun = true;
                let factor = match m.burst_shape {
                    Some(k) if k.is_finite() && k > 0.0 => self.rng.gamma(k) / k,
                    _ => 1.0,
                };
                self.rate = m.rate * factor;
                self.sample = m.sample_at.map(|s| start + s.clamp(0.0, 59.999));
                // Poisson arrivals forget the past: each minute starts afresh.
                self.next = self.after(start);
                return Some(Event::Minute(self.minute));
            }
            if let Some(s) = self.sample
                && s <= self.next.min(end)
            {
                self.sample = None;
                return Some(Event::Sample(s));
            }
            if self.next < end {
                let at = self.next;
                self.next = self.after(at);
                let hold = self.hold.draw(&mut self.rng);
                return Some(Event::Arrival(Checkout { at, hold }));
            }
            self.minute += 1;
            self.begun = false;
        }
    }
}

/// Runs `block` through every lane of `sizes`; results in the order of `sizes`.
pub fn run_block(block: &Block, sizes: &[LaneSize], hold: &HoldTime, timeout: f64) -> Vec<LaneResult> {
    let mut unlimited = Unlimited {
        returns: BinaryHeap::new(),
        clock: 0.0,
        busy: 0.0,
        arrivals: 0,
        peak: 0,
    };
    let mut lanes: Vec<Lane> = sizes
        .iter()
        .map(|&size| Lane {
            size,
            pool_size: 0,
            capacity: 0,
            pool: None,
            ever_diverged: false,
            coupled_since: 0.0,
            result: LaneResult::default(),
        })
        .collect();
    let mut watch = Watch::default();
    for event in events(block, hold) {
        match event {
            Event::Minute(i) => {
                let minute = &block.minutes[i];
                let start = i as f64 * 60.0;
                for lane in &mut lanes {
                    let (pool_size, capacity) = lane.size.at(minute);
                    lane.pool_size = pool_size;
                    if capacity != lane.capacity {
                        lane.capacity = capacity;
                        if let Some(pool) = &mut lane.pool {
                            pool.set_capacity(start, capacity);
                        }
                    }
                }
                watch = Watch::of(&lanes);
            }
            Event::Sample(s) => take_sample(s, &mut unlimited, &mut lanes),
            Event::Arrival(c) => {
                if arrive(c, &mut unlimited, &mut lanes, &watch, timeout) {
                    watch = Watch::of(&lanes);
                }
            }
        }
    }
    let end = block.minutes.len() as f64 * 60.0;
    unlimited.run_until(end);
    lanes
        .into_iter()
        .map(|mut lane| {
            if let Some(mut pool) = lane.pool.take() {
                // The integrals stop at the block's end; the callers still
                // waiting then are served or time out after it.
                pool.run_until(end);
                pool.advance(end);
                let (busy, saturated) = (pool.counts.busy_seconds, pool.counts.saturated_seconds);
                pool.run_until(f64::INFINITY);
                pool.counts.busy_seconds = busy;
                pool.counts.saturated_seconds = saturated;
                lane.absorb(pool);
            } else {
                lane.result.counts.busy_seconds += unlimited.busy - lane.coupled_since;
            }
            // Every lane saw every checkout; those it handled while coupled
            // had their connection at once.
            let r = &mut lane.result;
            r.counts.checkouts = unlimited.arrivals;
            r.waits.zero = unlimited.arrivals - r.waits.nonzero;
            // Coupled, a lane is below its capacity, which it reaches when it
            // first diverges: a lane that never did peaked with the unlimited pool.
            if !lane.ever_diverged {
                r.counts.peak_in_use = unlimited.peak;
            }
            lane.result
        })
        .collect()
}

/// Records the deployed lane's connections in use at `t`.
fn take_sample(t: f64, unlimited: &mut Unlimited, lanes: &mut [Lane]) {
    unlimited.run_until(t);
    for lane in lanes.iter_mut().filter(|l| l.size == LaneSize::Deployed) {
        if let Some(pool) = &mut lane.pool {
            pool.run_until(t);
        }
        let in_use = lane.in_use(unlimited);
        lane.result.sampled.push(u32::try_from(in_use).unwrap_or(u32::MAX));
    }
}

/// What an arrival must look at the lanes for.
#[derive(Debug, Clone, Copy, Default)]
struct Watch {
    /// Whether some lane runs on its own.
    diverged: bool,
    /// The smallest capacity of the lanes that follow the unlimited pool.
    min_coupled_capacity: u64,
}

impl Watch {
    fn of(lanes: &[Lane]) -> Self {
        Watch {
            diverged: lanes.iter().any(|l| l.pool.is_some()),
            min_coupled_capacity: lanes
                .iter()
                .filter(|l| l.pool.is_none())
                .map(|l| l.capacity)
                .min()
                .unwrap_or(u64::MAX),
        }
    }
}

/// One checkout, through the unlimited pool and every lane; whether a lane
/// went its own way or came back (so the [`Watch`] must be renewed).
fn arrive(c: Checkout, unlimited: &mut Unlimited, lanes: &mut [Lane], watch: &Watch, timeout: f64) -> bool {
    unlimited.run_until(c.at);
    // Connections in use in the unlimited pool once this checkout has one.
    let in_use = unlimited.in_use() + 1;
    unlimited.arrivals += 1;
    unlimited.peak = unlimited.peak.max(in_use);
    let mut changed = false;
    // The common case: every lane follows the unlimited pool, far from its limit.
    if watch.diverged || in_use >= watch.min_coupled_capacity {
        for lane in lanes.iter_mut() {
            if let Some(pool) = &mut lane.pool {
                pool.run_until(c.at);
                if pool.nobody_waits() && pool.horizon <= c.at {
                    // Back in the unlimited pool's state (before this checkout).
                    pool.advance(c.at);
                    let pool = lane.pool.take().expect("checked above");
                    lane.absorb(pool);
                    lane.coupled_since = unlimited.busy;
                    changed = true;
                }
            }
            if let Some(pool) = &mut lane.pool {
                pool.arrive(c);
            } else if in_use >= lane.capacity {
                // At its limit: from here on the lane runs on its own, from a
                // copy of the connections in use.
                lane.result.counts.busy_seconds += unlimited.busy - lane.coupled_since;
                let returns = unlimited.returns.iter().map(|Reverse(bits)| f64::from_bits(*bits));
                let mut pool = Pool::in_flight(
                    lane.config(timeout),
                    lane.capacity,
                    c.at,
                    returns,
                    WaitHistogram::default(),
                );
                pool.arrive(c);
                lane.pool = Some(pool);
                lane.ever_diverged = true;
                changed = true;
            }
        }
    }
    unlimited.returns.push(Reverse(due(c.at + c.hold)));
    changed
}

#[cfg(test)]
mod tests;
