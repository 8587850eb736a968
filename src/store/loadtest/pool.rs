//! A `QueuePool` over real connections: the rules of
//! [`crate::model::queuepool`] (the simulator's own) on the clock, with the
//! waiting done by tasks. A checkout asks the rules under a lock; when it
//! must wait, it waits on a one-shot channel for a returned connection until
//! `pool_timeout`, then asks the rules again (it may have been handed one in
//! the meantime). Opening, recycling and pinging happen in the checking-out
//! task, as in SQLAlchemy. A return rolls back a transaction left open (`reset_on_return`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, oneshot, watch};

use super::conn::{DbConn, Target};
use crate::model::queuepool::{Connection, Grant, PoolConfig, QueuePool, Return, Step, timeout_message};

/// A checkout waiting for a returned connection.
pub(super) struct Waiter {
    id: u64,
    tx: oneshot::Sender<Grant<DbConn>>,
}

/// Why a checkout has no connection.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum CheckoutError {
    /// `pool_timeout` ran out: SQLAlchemy's text.
    TimedOut(String),
    /// Opening a connection failed: the server's or driver's text.
    Connect(String),
    /// The run was stopped (Ctrl-C) while it waited.
    Stopped,
}

/// What the pool did, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct PoolCounts {
    /// Connections opened (recycled and re-pinged ones included).
    pub opened: u64,
    /// Connections closed and reopened at checkout for being older than `pool_recycle`.
    pub recycled: u64,
    /// Reused connections that failed `pool_pre_ping` and were reopened.
    pub ping_failed: u64,
    /// Most connections checked out at once.
    pub peak_checked_out: u64,
    /// Most connections open at once.
    pub peak_open: u64,
}

/// The pool's state at one instant, for the samples.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PoolState {
    pub(super) checked_out: u64,
    pub(super) open: u64,
    pub(super) waiting: u64,
}

/// The pool.
pub(super) struct RealPool {
    rules: Mutex<QueuePool<DbConn, Waiter>>,
    config: PoolConfig,
    target: Target,
    statement_timeout: f64,
    /// One permit per connection the pool may have open: held by each
    /// connection until it is closed.
    permits: Arc<Semaphore>,
    epoch: Instant,
    next_id: AtomicU64,
    checked_out: AtomicU64,
    counts: Mutex<PoolCounts>,
    /// The session ids of every connection opened (MySQL's monitor counts them).
    backends: Mutex<Vec<i64>>,
    stop: watch::Receiver<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A checked-out connection.
pub(super) struct Checked {
    pub(super) conn: Connection<DbConn>,
    /// From asking to having it, seconds.
    pub(super) wait: f64,
}

impl RealPool {
    pub(super) fn new(
        config: PoolConfig,
        target: Target,
        statement_timeout: f64,
        epoch: Instant,
        stop: watch::Receiver<bool>,
    ) -> Arc<RealPool> {
        let capacity = usize::try_from(config.capacity())
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Arc::new(RealPool {
            rules: Mutex::new(QueuePool::new(config)),
            config,
            target,
            statement_timeout,
            permits: Arc::new(Semaphore::new(capacity)),
            epoch,
            next_id: AtomicU64::new(0),
            checked_out: AtomicU64::new(0),
            counts: Mutex::new(PoolCounts::default()),
            backends: Mutex::new(Vec::new()),
            stop,
        })
    }

    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    pub(super) fn config(&self) -> &PoolConfig {
        &self.config
    }

    pub(super) fn counts(&self) -> PoolCounts {
        *lock(&self.counts)
    }

    pub(super) fn backends(&self) -> Vec<i64> {
        lock(&self.backends).clone()
    }

    pub(super) fn state(&self) -> PoolState {
        let rules = lock(&self.rules);
        PoolState {
            checked_out: self.checked_out.load(Ordering::Relaxed),
            open: rules.open(),
            waiting: rules.waiting() as u64,
        }
    }

    /// Checks a connection out: SQLAlchemy's `pool.connect()`.
    pub(super) async fn checkout(&self) -> Result<Checked, CheckoutError> {
        let asked = Instant::now();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = oneshot::channel();
        let step = lock(&self.rules).checkout(self.now(), || Waiter { id, tx });
        let grant = match step {
            Step::Go(grant) => grant,
            Step::Wait => {
                let timeout = Duration::from_secs_f64(self.config.timeout.max(0.0));
                let mut stop = self.stop.clone();
                tokio::select! {
                    got = tokio::time::timeout(timeout, &mut rx) => match got {
                        Ok(Ok(grant)) => grant,
                        Ok(Err(_)) => return Err(CheckoutError::Stopped),
                        Err(_) => self.give_up(id, &mut rx, false)?,
                    },
                    _ = stop.wait_for(|s| *s) => self.give_up(id, &mut rx, true)?,
                }
            }
        };
        let conn = self.realize(grant).await?;
        let out = self.checked_out.fetch_add(1, Ordering::Relaxed) + 1;
        let open = lock(&self.rules).open();
        {
            let mut counts = lock(&self.counts);
            counts.peak_checked_out = counts.peak_checked_out.max(out);
            counts.peak_open = counts.peak_open.max(open);
        }
        Ok(Checked {
            conn,
            wait: asked.elapsed().as_secs_f64(),
        })
    }

    /// The waiter `id` stops waiting: its timeout ran out (or the run stops).
    fn give_up(
        &self,
        id: u64,
        rx: &mut oneshot::Receiver<Grant<DbConn>>,
        stopping: bool,
    ) -> Result<Grant<DbConn>, CheckoutError> {
        let mut rules = lock(&self.rules);
        match rules.time_out(|w| w.id == id) {
            Some(Some(grant)) if !stopping => Ok(grant),
            Some(Some(_)) => {
                rules.discard();
                Err(CheckoutError::Stopped)
            }
            Some(None) if stopping => Err(CheckoutError::Stopped),
            Some(None) => Err(CheckoutError::TimedOut(timeout_message(
                self.config.pool_size,
                rules.open(),
                self.config.timeout,
            ))),
            // Handed a connection just now: it is in the channel.
            None => match rx.try_recv() {
                Ok(grant) => Ok(grant),
                Err(_) => Err(CheckoutError::Stopped),
            },
        }
    }

    /// Opens a connection in a place the rules counted.
    async fn open_new(&self) -> Result<Connection<DbConn>, CheckoutError> {
        // A permit is free once a closed connection has finished closing.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| CheckoutError::Stopped)?;
        match DbConn::open(&self.target, self.statement_timeout, permit).await {
            Ok(conn) => {
                lock(&self.counts).opened += 1;
                lock(&self.backends).push(conn.backend);
                Ok(Connection {
                    conn,
                    opened: self.now(),
                })
            }
            Err(e) => {
                lock(&self.rules).discard();
                Err(CheckoutError::Connect(super::error_text(&e)))
            }
        }
    }

    /// Turns a grant into a usable connection: open, recycle or ping.
    async fn realize(&self, grant: Grant<DbConn>) -> Result<Connection<DbConn>, CheckoutError> {
        match grant {
            Grant::Open => self.open_new().await,
            Grant::Reuse(h) if h.recycle => {
                h.conn.conn.close().await;
                lock(&self.counts).recycled += 1;
                self.open_new().await
            }
            Grant::Reuse(mut h) if h.ping => {
                if h.conn.conn.ping().await {
                    Ok(h.conn)
                } else {
                    h.conn.conn.close().await;
                    lock(&self.counts).ping_failed += 1;
                    self.open_new().await
                }
            }
            Grant::Reuse(h) => Ok(h.conn),
        }
    }

    /// Returns a connection; `broken` when it failed in use (it is closed
    /// and frees its place).
    pub(super) async fn give_back(&self, mut conn: Connection<DbConn>, broken: bool) {
        self.checked_out.fetch_sub(1, Ordering::Relaxed);
        if broken || conn.conn.reset().await.is_err() {
            lock(&self.rules).discard();
            conn.conn.close().await;
            return;
        }
        loop {
            let step = lock(&self.rules).give_back(conn, self.now());
            match step {
                Return::Idle => return,
                Return::Close(c) => {
                    c.conn.close().await;
                    return;
                }
                Return::Handoff(w, h) => match w.tx.send(Grant::Reuse(h)) {
                    Ok(()) => return,
                    // The waiter is gone (stopped): the next one, or idle.
                    Err(Grant::Reuse(h)) => conn = h.conn,
                    Err(Grant::Open) => return,
                },
            }
        }
    }

    /// Closes every idle connection (the end of a scenario).
    pub(super) async fn close(&self) {
        let idle = lock(&self.rules).drain_idle();
        for c in idle {
            c.conn.close().await;
        }
    }
}
