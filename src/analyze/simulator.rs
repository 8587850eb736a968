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
use std::collections::BinaryHeap;

use crate::model::queuepool::{Connection, Grant, QueuePool, Return, Step};
use crate::support::rng::Rng;

pub use crate::model::queuepool::{Checkout, PoolConfig};
pub use crate::model::simulation::HoldTime;

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

/// The pool while it runs: SQLAlchemy's rules ([`QueuePool`]) on the
/// simulation's clock, each connection in use returning at a known instant.
pub(crate) struct Pool<R: Recorder> {
    config: PoolConfig,
    /// The rules' state: idle connections (when each was opened), what is
    /// open, who waits.
    rules: QueuePool<(), Waiter>,
    /// When each connection in use returns, and when it was opened.
    returns: BinaryHeap<Reverse<(At, At)>>,
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
            rules: QueuePool::new(config),
            returns: BinaryHeap::new(),
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
        pool.rules.set_capacity(capacity);
        pool.returns = returns.map(|r| Reverse((At(r), At(t)))).collect();
        pool.rules.assume_in_use(pool.returns.len() as u64);
        pool.counts.peak_in_use = pool.rules.open();
        pool.clock = t;
        pool
    }

    pub(crate) fn in_use(&self) -> u64 {
        self.returns.len() as u64
    }

    pub(crate) fn nobody_waits(&self) -> bool {
        self.rules.waiting() == 0
    }

    /// Advances the integrals to `t`.
    pub(crate) fn advance(&mut self, t: f64) {
        if t > self.clock {
            let dt = t - self.clock;
            let in_use = self.in_use();
            self.counts.busy_seconds += dt * in_use as f64;
            if in_use >= self.rules.capacity() {
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
        self.rules.set_capacity(capacity);
        while let Some(w) = self.rules.waiter_with_room() {
            self.open_for(w, t);
            self.note_waited(w, t);
        }
    }

    /// Hands `connection` to waiter or checkout `w` at `t`: reopened first
    /// when it is older than `pool_recycle` (a ping costs nothing here).
    fn give(&mut self, w: Waiter, t: f64, connection: &Connection<()>, recycle: bool) {
        let mut ready = t;
        let mut opened = connection.opened;
        if recycle {
            opened = t;
            ready += self.config.connect;
            self.counts.opened += 1;
        }
        self.rec.served(w.id, ready - w.at);
        self.returns.push(Reverse((At(ready + w.hold), At(opened))));
        self.counts.peak_in_use = self.counts.peak_in_use.max(self.in_use());
    }

    /// Opens a new connection (the rules counted it) for `w` at `t`.
    fn open_for(&mut self, w: Waiter, t: f64) {
        self.counts.opened += 1;
        // Opening it is part of the checkout.
        let ready = t + self.config.connect;
        self.rec.served(w.id, (t - w.at) + self.config.connect);
        self.returns.push(Reverse((At(ready + w.hold), At(t))));
        self.counts.peak_in_use = self.counts.peak_in_use.max(self.in_use());
    }

    /// Moves the horizon past waiter `w`, served at `t`.
    fn note_waited(&mut self, w: Waiter, t: f64) {
        self.horizon = self.horizon.max(w.at + w.hold).max(t + self.config.connect + w.hold);
    }

    pub(crate) fn arrive(&mut self, c: Checkout) {
        self.advance(c.at);
        self.counts.checkouts += 1;
        let id = self.rec.arrive();
        let w = Waiter {
            id,
            at: c.at,
            hold: c.hold,
        };
        match self.rules.checkout(c.at, || w) {
            Step::Go(Grant::Reuse(h)) => self.give(w, c.at, &h.conn, h.recycle),
            Step::Go(Grant::Open) => self.open_for(w, c.at),
            Step::Wait => self.counts.waited += 1,
        }
    }

    /// The connection in use that returns first comes back at `t`.
    fn give_back(&mut self, t: f64) {
        self.advance(t);
        let Some(Reverse((_, At(opened)))) = self.returns.pop() else {
            return;
        };
        if let Return::Handoff(w, h) = self.rules.give_back(Connection { conn: (), opened }, t) {
            self.give(w, t, &h.conn, h.recycle);
            self.note_waited(w, t);
        }
    }

    /// The longest waiter gives up at `t`.
    fn time_out(&mut self, t: f64) {
        self.advance(t);
        match self.rules.time_out_first() {
            Some((w, None)) => {
                self.counts.timeouts += 1;
                self.rec.failed(w.id, self.config.timeout);
                self.horizon = self.horizon.max(w.at + w.hold).max(t);
            }
            // Room appeared (never here: the simulator's connections do not fail).
            Some((w, Some(_))) => {
                self.open_for(w, t);
                self.note_waited(w, t);
            }
            None => {}
        }
    }

    fn next_return(&self) -> Option<f64> {
        self.returns.peek().map(|Reverse((At(t), _))| *t)
    }

    fn next_deadline(&self) -> Option<f64> {
        // Every waiter has the same timeout: the first in line gives up first.
        self.rules.first_waiter().map(|w| w.at + self.config.timeout)
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

/// Records each checkout's wait and, for a closed loop, when its worker asks again.
struct ClosedLoop {
    per: PerCheckout,
    /// Per checkout: its worker, when it asked, its hold.
    asks: Vec<(u32, f64, f64)>,
    /// Workers ready to ask again, and when.
    ready: Vec<(u32, f64)>,
}

impl Recorder for ClosedLoop {
    fn arrive(&mut self) -> usize {
        self.per.arrive()
    }

    fn served(&mut self, id: usize, wait: f64) {
        self.per.served(id, wait);
        let (worker, asked, hold) = self.asks[id];
        self.ready.push((worker, asked + wait + hold));
    }

    fn failed(&mut self, id: usize, wait: f64) {
        self.per.failed(id, wait);
        let (worker, asked, _) = self.asks[id];
        // A worker whose checkout failed asks again at once.
        self.ready.push((worker, asked + wait));
    }
}

/// A closed loop, as the load test runs it: `users` workers, each asking for
/// a connection, holding it for a draw of `hold` (worker `u` draws from
/// [`crate::model::simulation::worker_seed`]`(seed, u)`), returning it and
/// asking again at once (at once after a timeout too), until `duration`.
pub fn closed_loop(config: PoolConfig, users: u32, hold: &HoldTime, duration: f64, seed: u64) -> Outcome {
    let rec = ClosedLoop {
        per: PerCheckout::default(),
        asks: Vec::new(),
        ready: Vec::new(),
    };
    let mut pool = Pool::new(config, rec);
    pool.clock = 0.0;
    let mut rngs: Vec<Rng> = (0..users)
        .map(|u| Rng::new(crate::model::simulation::worker_seed(seed, u)))
        .collect();
    let mut asks: BinaryHeap<Reverse<(At, u32)>> = (0..users).map(|u| Reverse((At(0.0), u))).collect();
    loop {
        // Events due before the next ask may make a worker ask earlier.
        let next_ask = asks.peek().map_or(f64::INFINITY, |Reverse((At(t), _))| *t);
        let next_event = pool
            .next_deadline()
            .into_iter()
            .chain(pool.next_return())
            .fold(f64::INFINITY, f64::min);
        if next_event <= next_ask && next_event.is_finite() {
            pool.run_until(next_event);
        } else if let Some(Reverse((At(t), u))) = asks.pop() {
            if t < duration {
                let hold = hold.draw(&mut rngs[u as usize]);
                pool.rec.asks.push((u, t, hold));
                pool.arrive(Checkout { at: t, hold });
            }
        } else {
            break;
        }
        for (u, t) in pool.rec.ready.drain(..) {
            asks.push(Reverse((At(t), u)));
        }
    }
    Outcome {
        counts: pool.counts,
        span_seconds: pool.clock.max(0.0),
        waits: pool.rec.per.waits,
        timed_out: pool.rec.per.timed_out,
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
