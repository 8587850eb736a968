//! PgBouncer's server pools over a window, from `SHOW POOLS` snapshots: how
//! busy each pool's server connections were (time-weighted), and when
//! clients waited for one (`cl_waiting > 0`) — the first sign of exhaustion
//! behind a bouncer.
//!
//! Each snapshot holds until the next one of its pool, at most `max_gap`
//! (a longer silence is not covered), clipped to the window. A pool's
//! snapshots must come in time order (a recorder appends them so); an
//! earlier one after a later one is an error naming its line.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ingest::pgbouncer_pools::PoolRow;
use crate::model::window::Window;

/// The longest stretch in which clients kept waiting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingEpisode {
    /// Unix seconds of its first snapshot.
    pub start: i64,
    /// Seconds it lasted.
    pub seconds: i64,
    /// Most clients waiting at once.
    pub peak_waiting: u64,
    /// Most server connections wanted at once: busy + waiting.
    pub peak_demand: u64,
}

/// One server pool's month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolStats {
    /// The database, as clients name it.
    pub database: String,
    /// The user.
    pub user: String,
    /// Snapshots in the window.
    pub samples: u64,
    /// Seconds the snapshots cover.
    pub covered_seconds: i64,
    /// Covered share of the window.
    pub coverage: f64,
    /// Time-weighted mean of busy server connections (`sv_active`).
    pub mean_sv_active: f64,
    /// Most busy server connections at once.
    pub max_sv_active: u64,
    /// Most server connections wanted at once (`sv_active + cl_waiting`).
    pub peak_demand: u64,
    /// Seconds with a client waiting.
    pub waiting_seconds: i64,
    /// Most clients waiting at once.
    pub max_cl_waiting: u64,
    /// The longest wait of a client seen (`maxwait`), seconds.
    pub max_wait_seconds: f64,
    /// The longest stretch with clients waiting.
    pub longest_waiting: Option<WaitingEpisode>,
    /// The pool's `pool_size` in the last snapshot of the window that
    /// recorded it (the pool the month measured).
    pub observed_pool_size: Option<u32>,
}

#[derive(Default)]
struct Acc {
    last: Option<(i64, u64, u64, u64)>,
    samples: u64,
    covered: i64,
    busy_seconds: f64,
    max_sv_active: u64,
    peak_demand: u64,
    waiting_seconds: i64,
    max_cl_waiting: u64,
    max_wait: f64,
    current: Option<WaitingEpisode>,
    longest: Option<WaitingEpisode>,
    pool_size: Option<u32>,
}

impl Acc {
    fn close_episode(&mut self) {
        if let Some(e) = self.current.take()
            && self.longest.as_ref().is_none_or(|l| e.seconds > l.seconds)
        {
            self.longest = Some(e);
        }
    }
}

/// Folds snapshots into each pool's [`PoolStats`].
pub struct PoolAnalyzer {
    window: Window,
    max_gap: i64,
    pools: BTreeMap<(String, String), Acc>,
}

impl PoolAnalyzer {
    /// For `window`, a snapshot holding at most `max_gap` seconds.
    pub fn new(window: Window, max_gap: i64) -> PoolAnalyzer {
        PoolAnalyzer {
            window,
            max_gap,
            pools: BTreeMap::new(),
        }
    }

    /// Takes one snapshot; `Err` when it is earlier than its pool's last.
    pub fn push(&mut self, row: &PoolRow) -> Result<(), String> {
        let s = &row.snapshot;
        let acc = self.pools.entry((s.database.clone(), s.user.clone())).or_default();
        if let Some((last_ts, sv_active, cl_waiting, demand)) = acc.last {
            if row.ts < last_ts {
                return Err(format!(
                    "the snapshot of {}/{} at {} is earlier than the one before it; a pool's snapshots must be in time order (sort the file by ts)",
                    s.database, s.user, row.ts
                ));
            }
            let gap = row.ts - last_ts;
            let from = last_ts.max(self.window.start);
            let to = row.ts.min(self.window.end);
            if gap <= self.max_gap && to > from {
                let dt = to - from;
                acc.covered += dt;
                acc.busy_seconds += sv_active as f64 * dt as f64;
                if cl_waiting > 0 {
                    acc.waiting_seconds += dt;
                    let e = acc.current.get_or_insert(WaitingEpisode {
                        start: from,
                        seconds: 0,
                        peak_waiting: 0,
                        peak_demand: 0,
                    });
                    e.seconds += dt;
                    e.peak_waiting = e.peak_waiting.max(cl_waiting);
                    e.peak_demand = e.peak_demand.max(demand);
                }
            }
            if cl_waiting == 0 || gap > self.max_gap {
                acc.close_episode();
            }
        }
        if self.window.contains(row.ts) {
            acc.samples += 1;
            acc.max_sv_active = acc.max_sv_active.max(s.sv_active);
            let demand = s.sv_active.saturating_add(s.cl_waiting);
            acc.peak_demand = acc.peak_demand.max(demand);
            acc.max_cl_waiting = acc.max_cl_waiting.max(s.cl_waiting);
            acc.max_wait = acc.max_wait.max(s.maxwait_seconds);
            if row.pool_size.is_some() {
                acc.pool_size = row.pool_size;
            }
        }
        acc.last = Some((
            row.ts,
            s.sv_active,
            s.cl_waiting,
            s.sv_active.saturating_add(s.cl_waiting),
        ));
        Ok(())
    }

    /// Each pool seen in the window, by (database, user).
    pub fn finish(self) -> Vec<PoolStats> {
        let length = (self.window.end - self.window.start).max(1);
        self.pools
            .into_iter()
            .filter(|(_, acc)| acc.samples > 0)
            .map(|((database, user), mut acc)| {
                acc.close_episode();
                PoolStats {
                    database,
                    user,
                    samples: acc.samples,
                    covered_seconds: acc.covered,
                    coverage: acc.covered as f64 / length as f64,
                    mean_sv_active: if acc.covered > 0 {
                        acc.busy_seconds / acc.covered as f64
                    } else {
                        0.0
                    },
                    max_sv_active: acc.max_sv_active,
                    peak_demand: acc.peak_demand,
                    waiting_seconds: acc.waiting_seconds,
                    max_cl_waiting: acc.max_cl_waiting,
                    max_wait_seconds: acc.max_wait,
                    longest_waiting: acc.longest,
                    observed_pool_size: acc.pool_size,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bouncer::PoolSnapshot;

    fn row(ts: i64, sv_active: u64, cl_waiting: u64) -> PoolRow {
        PoolRow {
            ts,
            snapshot: PoolSnapshot {
                database: "app".into(),
                user: "web".into(),
                cl_active: sv_active,
                cl_waiting,
                sv_active,
                sv_idle: 0,
                sv_used: 0,
                sv_tested: 0,
                sv_login: 0,
                maxwait_seconds: if cl_waiting > 0 { 2.0 } else { 0.0 },
                pool_mode: "transaction".into(),
            },
            line: 0,
            pool_size: Some(4),
        }
    }

    /// Worked by hand: a 1000 s window, snapshots every 100 s. Busy 2 for
    /// 500 s, then 4 with 3 waiting for 300 s, then 1 for 200 s:
    /// mean (2·500 + 4·300 + 1·200) / 1000 = 2.4; waiting 300 s in one
    /// episode from 500 with demand 7.
    #[test]
    fn time_weighted_busy_and_waiting() {
        let mut a = PoolAnalyzer::new(Window { start: 0, end: 1000 }, 150);
        for t in 0..=10 {
            let ts = t * 100;
            let (busy, waiting) = match t {
                0..=4 => (2, 0),
                5..=7 => (4, 3),
                _ => (1, 0),
            };
            a.push(&row(ts, busy, waiting)).unwrap();
        }
        let s = &a.finish()[0];
        assert_eq!(
            (s.covered_seconds, s.samples, s.observed_pool_size),
            (1000, 10, Some(4))
        );
        assert!((s.mean_sv_active - 2.4).abs() < 1e-9, "{}", s.mean_sv_active);
        assert_eq!((s.waiting_seconds, s.max_cl_waiting, s.peak_demand), (300, 3, 7));
        assert_eq!(
            s.longest_waiting,
            Some(WaitingEpisode {
                start: 500,
                seconds: 300,
                peak_waiting: 3,
                peak_demand: 7
            })
        );
    }

    #[test]
    fn gaps_are_not_covered_and_order_is_checked() {
        let mut a = PoolAnalyzer::new(Window { start: 0, end: 1000 }, 150);
        a.push(&row(0, 2, 1)).unwrap();
        a.push(&row(500, 2, 1)).unwrap(); // 500 s silence: not covered, the episode ends
        a.push(&row(600, 2, 0)).unwrap();
        let err = a.push(&row(550, 2, 0)).unwrap_err();
        assert!(err.contains("time order"), "{err}");
        let s = &a.finish()[0];
        assert_eq!((s.covered_seconds, s.waiting_seconds), (100, 100));
        assert_eq!(
            s.longest_waiting.as_ref().map(|e| (e.start, e.seconds)),
            Some((500, 100))
        );
    }
}
