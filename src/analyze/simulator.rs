//! A discrete-event simulator of SQLAlchemy's `QueuePool` (1.4/2.0,
//! `sqlalchemy/pool/impl.py`): given checkouts (arrival time, hold time) it
//! replays what the pool does with them, deterministically. Pure: no clock,
//! no I/O; the same checkouts give the same outcome on every machine.
//!
//! The pool as SQLAlchemy runs it (docs/simulate.md has the details):
//! - connections are opened on demand, the first `pool_size` too (QueuePool
//!   does not open any ahead), up to `pool_size + max_overflow` at once; a new
//!   connection costs the caller `connect` seconds;
//! - a returned connection goes back to the idle queue while it holds fewer
//!   than `pool_size`, else it is closed (an overflow connection dies on return);
//! - a checkout finding no idle connection and no room to open one waits, first
//!   come first served, for a returned one; after `pool_timeout` seconds it
//!   fails with `QueuePool limit of size N overflow M reached, connection timed
//!   out, timeout T` (a timeout);
//! - idle connections are reused oldest first (`use_lifo=False`); one older
//!   than `pool_recycle` is closed and reopened at checkout (`connect` again).
//!
//! Where it differs from Erlang C (M/M/c, [`super::queueing`]): waiting is
//! finite (a caller gives up after `pool_timeout`, so the queue cannot grow
//! without bound and a timed-out caller's load leaves the system); the
//! servers are not fixed (overflow connections come and go, each opening costs
//! `connect`); arrivals and holds are whatever the caller gives (bursts and
//! heavy tails included), not Poisson and exponential. With Poisson arrivals,
//! exponential holds, `max_overflow = 0`, no connect time and a timeout far
//! longer than any wait, it is M/M/c, and the tests hold it to Erlang C.
//!
//! Simplifications, stated: events at the same instant are taken in the order
//! timeout, return, arrival (a caller whose deadline is the instant a
//! connection returns has already given up); a returned connection goes
//! straight to the longest waiter (CPython's `Condition.notify` wakes waiters
//! in order; a newcomer that "barges" between the wake-up and the waiter's
//! re-acquiring the lock is not modelled).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::support::rng::Rng;

/// The pool's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolConfig {
    /// `pool_size`: connections kept open when idle.
    pub pool_size: u32,
    /// `max_overflow`: connections opened beyond `pool_size` on demand.
    pub max_overflow: u32,
    /// `pool_timeout`, seconds a checkout waits before failing.
    pub timeout: f64,
    /// Seconds to open a new connection (0: instant).
    pub connect: f64,
    /// `pool_recycle`, seconds (`None`: never).
    pub recycle: Option<f64>,
}

impl PoolConfig {
    /// Connections the pool may hold open at once.
    pub fn capacity(&self) -> u64 {
        u64::from(self.pool_size) + u64::from(self.max_overflow)
    }
}

/// One checkout: when it asks for a connection and how long it holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checkout {
    /// Seconds from the start.
    pub at: f64,
    /// Seconds it holds the connection once it has one.
    pub hold: f64,
}

/// The counters of a run (what [`Outcome`] reports beyond the waits).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Checkouts asked for.
    pub checkouts: u64,
    /// Checkouts that failed after `pool_timeout`.
    pub timeouts: u64,
    /// Checkouts that had to wait for a returned connection (timed out or not).
    pub waited: u64,
    /// Connections opened (the first `pool_size` included).
    pub opened: u64,
    /// Most connections in use at once.
    pub peak_in_use: u64,
    /// Seconds with every connection the pool may open in use.
    pub saturated_seconds: f64,
    /// ∫ connections in use dt, for the mean in use.
    pub busy_seconds: f64,
}

impl Counts {
    /// Adds `other`'s counters to these (the peak is the larger one).
    pub fn absorb(&mut self, other: &Counts) {
        self.checkouts += other.checkouts;
        self.timeouts += other.timeouts;
        self.waited += other.waited;
        self.opened += other.opened;
        self.peak_in_use = self.peak_in_use.max(other.peak_in_use);
        self.saturated_seconds += other.saturated_seconds;
        self.busy_seconds += other.busy_seconds;
    }
}

/// Where a pool reports each checkout's wait: every checkout gets exactly one
/// call, [`Recorder::served`] or [`Recorder::failed`], with its id from
/// [`Recorder::arrive`].
pub trait Recorder {
    /// A new checkout; returns its id.
    fn arrive(&mut self) -> usize;
    /// Checkout `id` had its connection after `wait` seconds.
    fn served(&mut self, id: usize, wait: f64);
    /// Checkout `id` failed after `wait` seconds (`pool_timeout`).
    fn failed(&mut self, id: usize, wait: f64);
}

/// Every checkout's wait and outcome, in order (for exact percentiles and
/// comparisons checkout by checkout).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerCheckout {
    /// Each checkout's wait, seconds.
    pub waits: Vec<f64>,
    /// Whether each checkout failed.
    pub timed_out: Vec<bool>,
}

impl Recorder for PerCheckout {
    fn arrive(&mut self) -> usize {
        self.waits.push(0.0);
        self.timed_out.push(false);
        self.waits.len() - 1
    }

    fn served(&mut self, id: usize, wait: f64) {
        self.waits[id] = wait;
    }

    fn failed(&mut self, id: usize, wait: f64) {
        self.waits[id] = wait;
        self.timed_out[id] = true;
    }
}

/// What the pool did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The counters.
    pub counts: Counts,
    /// From the first checkout to the last event.
    pub span_seconds: f64,
    /// Each checkout's wait, seconds, in the order of the checkouts: until it
    /// had its connection (a new connection's opening included), or
    /// `pool_timeout` when it failed.
    pub waits: Vec<f64>,
    /// Whether each checkout failed, in the order of the checkouts.
    pub timed_out: Vec<bool>,
}

impl Outcome {
    /// Share of checkouts that waited for a returned connection.
    pub fn p_wait(&self) -> f64 {
        ratio(self.counts.waited, self.counts.checkouts)
    }

    /// Share of checkouts that failed.
    pub fn p_timeout(&self) -> f64 {
        ratio(self.counts.timeouts, self.counts.checkouts)
    }

    /// Mean connections in use over the span.
    pub fn mean_in_use(&self) -> f64 {
        if self.span_seconds > 0.0 {
            self.counts.busy_seconds / self.span_seconds
        } else {
            0.0
        }
    }

    /// The `q` quantile (0–1) of the waits, seconds (nearest rank; 0 without checkouts).
    pub fn wait_quantile(&self, q: f64) -> f64 {
        quantile(&self.waits, q)
    }

    /// Several quantiles of the waits at once (one sort).
    pub fn wait_quantiles(&self, qs: &[f64]) -> Vec<f64> {
        let mut sorted = self.waits.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        qs.iter().map(|&q| nearest_rank(&sorted, q)).collect()
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The `q` quantile of `values` by nearest rank (sorting a copy).
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    nearest_rank(&sorted, q)
}

/// The `q` quantile of sorted, non-empty `sorted` by nearest rank.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

/// A checkout waiting for a connection.
#[derive(Debug, Clone, Copy)]
struct Waiter {
    id: usize,
    at: f64,
    hold: f64,
}

/// Time-ordered f64 for the heap of returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct At(pub(crate) f64);

impl Eq for At {}

impl PartialOrd for At {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for At {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The pool while it runs.
pub(crate) struct Pool<R: Recorder> {
    config: PoolConfig,
    /// Connections the pool may hold open (`pool_size + max_overflow`; may
    /// change while it runs, see [`Pool::set_capacity`]).
    capacity: u64,
    /// Idle connections, oldest first: when each was opened.
    idle: VecDeque<f64>,
    /// Connections open (idle, in use or opening).
    open: u64,
    /// When each connection in use returns, and when it was opened.
    returns: BinaryHeap<Reverse<(At, At)>>,
    waiting: VecDeque<Waiter>,
    /// The last instant the in-use count changed, for the integrals.
    clock: f64,
    /// The latest instant at which a checkout that waited (or timed out)
    /// would have returned its connection had it not waited, or returns it
    /// after waiting: past it, and with nobody waiting, the connections in
    /// use are exactly those of the checkouts that never waited.
    pub(crate) horizon: f64,
    pub(crate) counts: Counts,
    pub(crate) rec: R,
}

impl<R: Recorder> Pool<R> {
    pub(crate) fn new(config: PoolConfig, rec: R) -> Self {
        Pool {
            config,
            capacity: config.capacity(),
            idle: VecDeque::new(),
            open: 0,
            returns: BinaryHeap::new(),
            waiting: VecDeque::new(),
            clock: f64::NAN,
            horizon: f64::NEG_INFINITY,
            counts: Counts::default(),
            rec,
        }
    }

    /// A pool at `t` whose connections in use return at `returns` (all of
    /// its open connections: none idle) — the state of an unlimited pool
    /// handed over when a smaller one starts to differ from it.
    pub(crate) fn in_flight(
        config: PoolConfig,
        capacity: u64,
        t: f64,
        returns: impl Iterator<Item = f64>,
        rec: R,
    ) -> Self {
        let mut pool = Pool::new(config, rec);
        pool.capacity = capacity;
        pool.returns = returns.map(|r| Reverse((At(r), At(t)))).collect();
        pool.open = pool.returns.len() as u64;
        pool.counts.peak_in_use = pool.open;
        pool.clock = t;
        pool
    }

    pub(crate) fn in_use(&self) -> u64 {
        self.returns.len() as u64
    }

    pub(crate) fn nobody_waits(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Advances the integrals to `t`.
    pub(crate) fn advance(&mut self, t: f64) {
        if t > self.clock {
            let dt = t - self.clock;
            let in_use = self.in_use();
            self.counts.busy_seconds += dt * in_use as f64;
            if in_use >= self.capacity {
                self.counts.saturated_seconds += dt;
            }
            self.clock = t;
        }
    }

    /// Changes the connections the pool may open at `t` (a deploy); waiters
    /// get the new room at once.
    pub(crate) fn set_capacity(&mut self, t: f64, capacity: u64) {
        self.run_until(t);
        self.advance(t);
        self.capacity = capacity;
        while self.open < self.capacity {
            let Some(w) = self.waiting.pop_front() else { break };
            self.open_for(w.id, w.at, t, w.hold);
            self.horizon = self.horizon.max(w.at + w.hold).max(t + self.config.connect + w.hold);
        }
    }

    /// Hands a connection opened at `opened` to a checkout asked at `asked`,
    /// given at `t`, held `hold`.
    fn give(&mut self, id: usize, asked: f64, t: f64, hold: f64, mut opened: f64) {
        let mut ready = t;
        if let Some(recycle) = self.config.recycle
            && t - opened >= recycle
        {
            opened = t;
            ready += self.config.connect;
            self.counts.opened += 1;
        }
        self.rec.served(id, ready - asked);
        self.returns.push(Reverse((At(ready + hold), At(opened))));
        self.counts.peak_in_use = self.counts.peak_in_use.max(self.in_use());
    }

    /// Opens a new connection for checkout `id` (asked at `asked`) at `t`.
    fn open_for(&mut self, id: usize, asked: f64, t: f64, hold: f64) {
        self.open += 1;
        self.counts.opened += 1;
        // Opening it is part of the checkout.
        let ready = t + self.config.connect;
        self.rec.served(id, (t - asked) + self.config.connect);
        self.returns.push(Reverse((At(ready + hold), At(t))));
        self.counts.peak_in_use = self.counts.peak_in_use.max(self.in_use());
    }

    pub(crate) fn arrive(&mut self, c: Checkout) {
        self.advance(c.at);
        self.counts.checkouts += 1;
        let id = self.rec.arrive();
        if let Some(opened) = self.idle.pop_front() {
            self.give(id, c.at, c.at, c.hold, opened);
        } else if self.open < self.capacity {
            self.open_for(id, c.at, c.at, c.hold);
        } else {
            self.counts.waited += 1;
            self.waiting.push_back(Waiter {
                id,
                at: c.at,
                hold: c.hold,
            });
        }
    }

    /// The connection in use that returns first comes back at `t`.
    fn give_back(&mut self, t: f64) {
        self.advance(t);
        let Some(Reverse((_, At(opened)))) = self.returns.pop() else {
            return;
        };
        if self.open > self.capacity {
            // Capacity was lowered: the connection is closed.
            self.open -= 1;
        } else if let Some(w) = self.waiting.pop_front() {
            self.give(w.id, w.at, t, w.hold, opened);
            self.horizon = self.horizon.max(w.at + w.hold).max(t + self.config.connect + w.hold);
        } else if (self.idle.len() as u64) < u64::from(self.config.pool_size) {
            self.idle.push_back(opened);
        } else {
            // The idle queue is full: an overflow connection is closed.
            self.open -= 1;
        }
    }

    /// The longest waiter gives up at `t`.
    fn time_out(&mut self, t: f64) {
        self.advance(t);
        if let Some(w) = self.waiting.pop_front() {
            self.counts.timeouts += 1;
            self.rec.failed(w.id, self.config.timeout);
            self.horizon = self.horizon.max(w.at + w.hold).max(t);
        }
    }

    fn next_return(&self) -> Option<f64> {
        self.returns.peek().map(|Reverse((At(t), _))| *t)
    }

    fn next_deadline(&self) -> Option<f64> {
        // Every waiter has the same timeout: the first in line gives up first.
        self.waiting.front().map(|w| w.at + self.config.timeout)
    }

    /// Processes every timeout and return due at or before `t`.
    pub(crate) fn run_until(&mut self, t: f64) {
        loop {
            let deadline = self.next_deadline().filter(|&d| d <= t);
            let back = self.next_return().filter(|&r| r <= t);
            match (deadline, back) {
                (Some(d), Some(r)) if d <= r => self.time_out(d),
                (_, Some(r)) => self.give_back(r),
                (Some(d), None) => self.time_out(d),
                (None, None) => break,
            }
        }
    }
}

/// Runs `checkouts` (in order of `at`) through a pool configured as `config`.
pub fn simulate(config: PoolConfig, checkouts: impl IntoIterator<Item = Checkout>) -> Outcome {
    let mut pool = Pool::new(config, PerCheckout::default());
    let mut first = None;
    for c in checkouts {
        if first.is_none() {
            first = Some(c.at);
            pool.clock = c.at;
        }
        pool.run_until(c.at);
        pool.arrive(c);
    }
    pool.run_until(f64::INFINITY);
    Outcome {
        counts: pool.counts,
        span_seconds: first.map_or(0.0, |f| (pool.clock - f).max(0.0)),
        waits: pool.rec.waits,
        timed_out: pool.rec.timed_out,
    }
}

/// How long a checkout holds its connection.
#[derive(Debug, Clone, PartialEq)]
pub enum HoldTime {
    /// Always the same, seconds.
    Fixed(f64),
    /// Exponential with this mean, seconds.
    Exponential(f64),
    /// Lognormal with this mean (seconds) and the log's standard deviation.
    Lognormal {
        /// Mean, seconds.
        mean: f64,
        /// σ of ln(hold): 0 is fixed, 1 a heavy tail (p99 ≈ 4.5 × the median).
        sigma: f64,
    },
    /// Measured: equally likely quantiles, seconds, ascending (a draw picks
    /// one at random), e.g. from a slow log's duration histogram.
    Empirical(std::sync::Arc<[f64]>),
}

impl HoldTime {
    /// The mean hold, seconds.
    pub fn mean(&self) -> f64 {
        match self {
            HoldTime::Fixed(s) | HoldTime::Exponential(s) => *s,
            HoldTime::Lognormal { mean, .. } => *mean,
            HoldTime::Empirical(q) => q.iter().sum::<f64>() / q.len().max(1) as f64,
        }
    }

    /// One hold drawn from `rng`.
    pub fn draw(&self, rng: &mut Rng) -> f64 {
        match self {
            HoldTime::Fixed(s) => *s,
            HoldTime::Exponential(mean) => -mean * (1.0 - rng.uniform()).ln(),
            HoldTime::Lognormal { mean, sigma } => {
                // E[e^X] = e^(μ + σ²/2) = mean.
                let mu = mean.ln() - sigma * sigma / 2.0;
                (mu + sigma * rng.normal()).exp()
            }
            HoldTime::Empirical(q) => q[rng.below(q.len() as u64) as usize],
        }
    }

    /// `quantiles` equally likely holds scaled so that their mean is `mean`
    /// (the measured mean: the histogram's quantiles cut off its far tail).
    pub fn empirical(quantiles: Vec<f64>, mean: f64) -> Option<HoldTime> {
        let n = quantiles.len() as f64;
        let m = quantiles.iter().sum::<f64>() / n;
        if quantiles.is_empty() || !(m > 0.0 && m.is_finite() && mean > 0.0 && mean.is_finite()) {
            return None;
        }
        let scale = mean / m;
        Some(HoldTime::Empirical(quantiles.iter().map(|q| q * scale).collect()))
    }
}

/// Poisson arrivals of `rate` per second for `duration` seconds, each holding
/// for a draw of `hold`; seeded, so the same arguments give the same checkouts.
pub fn poisson_checkouts(rate: f64, hold: HoldTime, duration: f64, seed: u64) -> impl Iterator<Item = Checkout> {
    let mut rng = Rng::new(seed);
    let mut t = 0.0;
    std::iter::from_fn(move || {
        if rate <= 0.0 {
            return None;
        }
        t += -(1.0 - rng.uniform()).ln() / rate;
        (t < duration).then(|| Checkout {
            at: t,
            hold: hold.draw(&mut rng),
        })
    })
}

#[cfg(test)]
mod tests;
