//! The rules of SQLAlchemy's `QueuePool` (1.4/2.0, `sqlalchemy/pool/impl.py`
//! and `pool/base.py`): one definition of `pool_size`, `max_overflow`, the
//! first-come-first-served wait, `pool_timeout`, `pool_recycle` and
//! `pool_pre_ping`, shared by the simulator (`analyze::simulator`, where time
//! is a number) and the load test's pool over real connections
//! (`store::loadtest`, where time is the clock). Neither decides anything
//! about a checkout or a return itself: both ask [`QueuePool`].
//!
//! The rules, as SQLAlchemy runs them:
//! - a checkout takes the idle connection returned longest ago
//!   (`use_lifo=False`); with none idle it opens a new one while fewer than
//!   `pool_size + max_overflow` are open (the first `pool_size` too: nothing is
//!   opened ahead); else it waits in line;
//! - a connection handed out from the pool (idle or to a waiter) that is older
//!   than `pool_recycle` is closed and reopened in its place first; with
//!   `pool_pre_ping` a reused connection is pinged first and, if the ping
//!   fails, reopened in its place (a freshly opened one is not pinged);
//! - a returned connection goes to the longest waiter; with nobody waiting it
//!   stays idle while fewer than `pool_size` are idle, else it is closed (an
//!   overflow connection dies on return), and it is closed when more are open
//!   than the pool may hold (the capacity was lowered);
//! - a waiter whose `pool_timeout` runs out opens a connection if there is room
//!   by then (a connection failed and was discarded meanwhile), else fails with
//!   [`timeout_message`];
//! - a connection that fails (to open, or in use) is discarded: it frees its
//!   place, and waiters keep waiting for a return or their timeout (SQLAlchemy
//!   does not wake them).

use std::collections::VecDeque;

/// The pool's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolConfig {
    /// `pool_size`: connections kept open when idle.
    pub pool_size: u32,
    /// `max_overflow`: connections opened beyond `pool_size` on demand.
    pub max_overflow: u32,
    /// `pool_timeout`, seconds a checkout waits before failing.
    pub timeout: f64,
    /// Seconds to open a new connection (0: instant). The simulator charges
    /// it; a real pool takes what the server takes.
    pub connect: f64,
    /// `pool_recycle`, seconds (`None`: never).
    pub recycle: Option<f64>,
    /// `pool_pre_ping`: ping a reused connection before handing it out. The
    /// simulator's connections never fail, so there it changes nothing.
    pub pre_ping: bool,
}

impl PoolConfig {
    /// A pool of `pool_size + max_overflow` waiting `timeout` seconds, with
    /// instant connections, no recycling and no pre-ping.
    pub fn new(pool_size: u32, max_overflow: u32, timeout: f64) -> PoolConfig {
        PoolConfig {
            pool_size,
            max_overflow,
            timeout,
            connect: 0.0,
            recycle: None,
            pre_ping: false,
        }
    }

    /// Connections the pool may hold open at once.
    pub fn capacity(&self) -> u64 {
        u64::from(self.pool_size) + u64::from(self.max_overflow)
    }
}

/// SQLAlchemy's text for a checkout that waited `timeout` seconds in vain,
/// with `open` connections open (`overflow` is what is open beyond
/// `pool_size`, as `QueuePool.overflow()` reports it).
pub fn timeout_message(pool_size: u32, open: u64, timeout: f64) -> String {
    let overflow = open.saturating_sub(u64::from(pool_size));
    format!(
        "QueuePool limit of size {pool_size} overflow {overflow} reached, connection timed out, timeout {timeout:.2}"
    )
}

/// One checkout: when it asks for a connection and how long it holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checkout {
    /// Seconds from the start.
    pub at: f64,
    /// Seconds it holds the connection once it has one.
    pub hold: f64,
}

/// An open connection `C` with the instant it was opened (seconds on the
/// pool's clock), which `pool_recycle` is measured from.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection<C> {
    /// The connection.
    pub conn: C,
    /// When it was opened.
    pub opened: f64,
}

/// What to do with a connection the pool hands out.
#[derive(Debug, Clone, PartialEq)]
pub struct Handout<C> {
    /// The connection.
    pub conn: Connection<C>,
    /// It is older than `pool_recycle`: close it and open a new one in its
    /// place before use.
    pub recycle: bool,
    /// Ping it before use (`pool_pre_ping`; not when it is recycled anyway).
    pub ping: bool,
}

/// What a checkout gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Grant<C> {
    /// A connection from the pool.
    Reuse(Handout<C>),
    /// Room to open a new connection (already counted as open).
    Open,
}

/// What a checkout does now.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<C> {
    /// It has a connection or room for one.
    Go(Grant<C>),
    /// It waits in line (the waiter is queued).
    Wait,
}

/// What becomes of a returned connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Return<C, W> {
    /// It goes to the longest waiter.
    Handoff(W, Handout<C>),
    /// It stays idle in the pool.
    Idle,
    /// It is closed (the pool holds `pool_size` idle already, or more are
    /// open than the pool may hold).
    Close(Connection<C>),
}

/// The pool's state under SQLAlchemy's rules: idle connections `C`, waiters `W`.
#[derive(Debug, Clone)]
pub struct QueuePool<C, W> {
    config: PoolConfig,
    /// Connections the pool may hold open (`pool_size + max_overflow`; may
    /// change while it runs, see [`QueuePool::set_capacity`]).
    capacity: u64,
    /// Idle connections, returned longest ago first.
    idle: VecDeque<Connection<C>>,
    /// Connections open (idle, in use or opening).
    open: u64,
    /// Checkouts waiting, first come first.
    waiting: VecDeque<W>,
}

impl<C, W> QueuePool<C, W> {
    /// An empty pool (nothing open).
    pub fn new(config: PoolConfig) -> Self {
        QueuePool {
            config,
            capacity: config.capacity(),
            idle: VecDeque::new(),
            open: 0,
            waiting: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Connections the pool may hold open now.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Connections open (idle, in use or opening).
    pub fn open(&self) -> u64 {
        self.open
    }

    /// Idle connections.
    pub fn idle(&self) -> usize {
        self.idle.len()
    }

    /// Checkouts waiting.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// The longest waiter.
    pub fn first_waiter(&self) -> Option<&W> {
        self.waiting.front()
    }

    /// Counts `n` connections as open and in use (a pool that starts with
    /// connections in flight).
    pub fn assume_in_use(&mut self, n: u64) {
        self.open += n;
    }

    /// Sets the capacity (a deploy changes the pool's size mid-run).
    pub fn set_capacity(&mut self, capacity: u64) {
        self.capacity = capacity;
    }

    /// The longest waiter, when there is room to open a connection for it
    /// (counted as open): after the capacity was raised.
    pub fn waiter_with_room(&mut self) -> Option<W> {
        if self.open < self.capacity {
            let w = self.waiting.pop_front()?;
            self.open += 1;
            Some(w)
        } else {
            None
        }
    }

    fn hand_out(&self, conn: Connection<C>, now: f64) -> Handout<C> {
        let recycle = self.config.recycle.is_some_and(|r| now - conn.opened >= r);
        Handout {
            conn,
            recycle,
            ping: self.config.pre_ping && !recycle,
        }
    }

    /// A checkout at `now`: an idle connection, room to open one, or a place
    /// in line for `waiter`.
    pub fn checkout(&mut self, now: f64, waiter: impl FnOnce() -> W) -> Step<C> {
        if let Some(conn) = self.idle.pop_front() {
            Step::Go(Grant::Reuse(self.hand_out(conn, now)))
        } else if self.open < self.capacity {
            self.open += 1;
            Step::Go(Grant::Open)
        } else {
            self.waiting.push_back(waiter());
            Step::Wait
        }
    }

    /// A connection comes back at `now`.
    pub fn give_back(&mut self, conn: Connection<C>, now: f64) -> Return<C, W> {
        if self.open > self.capacity {
            self.open -= 1;
            Return::Close(conn)
        } else if let Some(w) = self.waiting.pop_front() {
            let handout = self.hand_out(conn, now);
            Return::Handoff(w, handout)
        } else if (self.idle.len() as u64) < u64::from(self.config.pool_size) {
            self.idle.push_back(conn);
            Return::Idle
        } else {
            self.open -= 1;
            Return::Close(conn)
        }
    }

    /// The waiter `is_it` matches gives up (its `pool_timeout` ran out):
    /// `None` when it is no longer waiting (it was handed a connection
    /// meanwhile); `Some(Some(Grant::Open))` when there is room to open one by
    /// now; `Some(None)` when it fails with [`timeout_message`].
    pub fn time_out(&mut self, is_it: impl Fn(&W) -> bool) -> Option<Option<Grant<C>>> {
        let i = self.waiting.iter().position(is_it)?;
        self.waiting.remove(i);
        if self.open < self.capacity {
            self.open += 1;
            Some(Some(Grant::Open))
        } else {
            Some(None)
        }
    }

    /// The longest waiter gives up: the simulator's timeout, where every
    /// waiter has the same `pool_timeout` and the first in line goes first.
    pub fn time_out_first(&mut self) -> Option<(W, Option<Grant<C>>)> {
        let w = self.waiting.pop_front()?;
        if self.open < self.capacity {
            self.open += 1;
            Some((w, Some(Grant::Open)))
        } else {
            Some((w, None))
        }
    }

    /// A connection that failed (to open, or in use) is gone: it frees its place.
    pub fn discard(&mut self) {
        self.open = self.open.saturating_sub(1);
    }

    /// Takes every idle connection out (to close them at the end of a run).
    pub fn drain_idle(&mut self) -> Vec<Connection<C>> {
        let n = self.idle.len() as u64;
        self.open -= n;
        self.idle.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(size: u32, overflow: u32) -> QueuePool<u32, &'static str> {
        QueuePool::new(PoolConfig::new(size, overflow, 1.0))
    }

    fn conn(c: u32, opened: f64) -> Connection<u32> {
        Connection { conn: c, opened }
    }

    #[test]
    fn opens_up_to_size_plus_overflow_then_queues_first_come_first() {
        let mut p = pool(1, 1);
        assert_eq!(p.checkout(0.0, || "a"), Step::Go(Grant::Open));
        assert_eq!(p.checkout(0.0, || "b"), Step::Go(Grant::Open));
        assert_eq!(p.checkout(0.0, || "c"), Step::Wait);
        assert_eq!(p.checkout(0.0, || "d"), Step::Wait);
        assert_eq!((p.open(), p.waiting()), (2, 2));
        match p.give_back(conn(1, 0.0), 1.0) {
            Return::Handoff(w, h) => assert_eq!((w, h.conn.conn, h.recycle), ("c", 1, false)),
            other => panic!("expected a handoff, got {other:?}"),
        }
        assert_eq!(p.first_waiter(), Some(&"d"));
    }

    #[test]
    fn an_overflow_connection_is_closed_on_return_and_pool_size_stay_idle() {
        let mut p = pool(1, 2);
        for _ in 0..3 {
            p.checkout(0.0, || "x");
        }
        assert_eq!(p.give_back(conn(1, 0.0), 1.0), Return::Idle);
        assert_eq!(p.give_back(conn(2, 0.0), 1.0), Return::Close(conn(2, 0.0)));
        assert_eq!(p.give_back(conn(3, 0.0), 1.0), Return::Close(conn(3, 0.0)));
        assert_eq!((p.open(), p.idle()), (1, 1));
    }

    #[test]
    fn idle_connections_are_reused_oldest_returned_first_and_recycled_when_old() {
        let mut p: QueuePool<u32, ()> = QueuePool::new(PoolConfig {
            recycle: Some(10.0),
            pre_ping: true,
            ..PoolConfig::new(2, 0, 1.0)
        });
        p.checkout(0.0, || ());
        p.checkout(0.0, || ());
        p.give_back(conn(1, 0.0), 1.0);
        p.give_back(conn(2, 5.0), 2.0);
        let Step::Go(Grant::Reuse(h)) = p.checkout(12.0, || ()) else {
            panic!("expected a reuse")
        };
        assert_eq!((h.conn.conn, h.recycle, h.ping), (1, true, false));
        let Step::Go(Grant::Reuse(h)) = p.checkout(12.0, || ()) else {
            panic!("expected a reuse")
        };
        assert_eq!((h.conn.conn, h.recycle, h.ping), (2, false, true));
    }

    #[test]
    fn a_waiter_that_times_out_opens_when_a_failed_connection_freed_room() {
        let mut p = pool(1, 0);
        p.checkout(0.0, || "a");
        p.checkout(0.0, || "b");
        p.checkout(0.0, || "c");
        assert_eq!(p.time_out(|w| *w == "c"), Some(None));
        p.discard();
        assert_eq!(p.time_out(|w| *w == "b"), Some(Some(Grant::Open)));
        assert_eq!(p.time_out(|w| *w == "b"), None);
        assert_eq!(p.open(), 1);
    }

    #[test]
    fn a_lowered_capacity_closes_returns_and_a_raised_one_lets_waiters_open() {
        let mut p = pool(2, 0);
        p.checkout(0.0, || "a");
        p.checkout(0.0, || "b");
        p.set_capacity(1);
        assert!(matches!(p.give_back(conn(1, 0.0), 1.0), Return::Close(_)));
        p.checkout(1.0, || "c");
        assert_eq!(p.waiter_with_room(), None);
        p.set_capacity(3);
        assert_eq!(p.waiter_with_room(), Some("c"));
        assert_eq!(p.open(), 2);
    }

    #[test]
    fn the_timeout_text_is_sqlalchemys() {
        assert_eq!(
            timeout_message(20, 30, 30.0),
            "QueuePool limit of size 20 overflow 10 reached, connection timed out, timeout 30.00"
        );
    }
}
