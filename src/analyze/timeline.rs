//! A service's pools summed second by second over one window, so that service
//! utilization at an instant is Σ checked_out / Σ pool_size over the instances
//! reporting then (DESIGN §1.2), whatever order the instances arrive in.
//!
//! Each instance segment is added in O(1) to difference arrays (one value at its
//! start, its negation at its end); one sweep at the end turns them into the
//! service's distribution. Memory is 12 bytes per second of the window, allocated
//! a day at a time and only for days that have data: bounded by the window, not
//! by the number of samples.

use super::distribution::Distribution;
use super::window::Window;

const CHUNK: i64 = 86_400;

#[derive(Clone)]
struct Chunk {
    checked_out: Vec<i32>,
    pool_size: Vec<i32>,
    saturated: Vec<i32>,
}

impl Chunk {
    fn new() -> Self {
        Chunk {
            checked_out: vec![0; CHUNK as usize],
            pool_size: vec![0; CHUNK as usize],
            saturated: vec![0; CHUNK as usize],
        }
    }
}

/// Difference arrays for one service over one window.
pub struct Timeline {
    window: Window,
    chunks: Vec<Option<Box<Chunk>>>,
}

impl Timeline {
    /// An empty timeline over `window`.
    pub fn new(window: Window) -> Self {
        let days = (window.seconds() + CHUNK - 1) / CHUNK;
        Timeline {
            window,
            chunks: (0..days).map(|_| None).collect(),
        }
    }

    fn bump(&mut self, t: i64, checked_out: i32, pool_size: i32, saturated: i32) {
        if t >= self.window.end {
            return;
        }
        let offset = t - self.window.start;
        let chunk = self.chunks[(offset / CHUNK) as usize].get_or_insert_with(|| Box::new(Chunk::new()));
        let i = (offset % CHUNK) as usize;
        chunk.checked_out[i] += checked_out;
        chunk.pool_size[i] += pool_size;
        chunk.saturated[i] += saturated;
    }

    /// Adds one instance holding `checked_out` of `pool_size` over `[a, b)`.
    pub fn add(&mut self, a: i64, b: i64, checked_out: u32, pool_size: u32, saturated: bool) {
        let Some((a, b)) = self.window.clip(a, b) else {
            return;
        };
        let (c, p, s) = (checked_out as i32, pool_size as i32, i32::from(saturated));
        self.bump(a, c, p, s);
        self.bump(b, -c, -p, -s);
    }

    /// Sweeps the window: the service's distribution (covered where Σ pool_size > 0;
    /// saturated where any instance is).
    pub fn distribution(&self) -> Distribution {
        let mut dist = Distribution::default();
        let (mut c, mut p, mut s) = (0i64, 0i64, 0i64);
        // Current run of identical state.
        let mut run: (i64, i64, bool) = (0, 0, false);
        let mut run_len = 0i64;
        let total = self.window.seconds();
        let flush = |run: (i64, i64, bool), len: i64, dist: &mut Distribution| {
            if run.1 > 0 && len > 0 {
                dist.add(run.0 as u32, run.1 as u32, run.2, len);
            }
        };
        let mut t = 0i64;
        for (day, chunk) in self.chunks.iter().enumerate() {
            let day_len = CHUNK.min(total - day as i64 * CHUNK);
            match chunk {
                None => {
                    // No change anywhere in this day: the state holds throughout.
                    run_len += day_len;
                    t += day_len;
                }
                Some(chunk) => {
                    for i in 0..day_len as usize {
                        let (dc, dp, ds) = (chunk.checked_out[i], chunk.pool_size[i], chunk.saturated[i]);
                        if dc != 0 || dp != 0 || ds != 0 {
                            c += i64::from(dc);
                            p += i64::from(dp);
                            s += i64::from(ds);
                            let state = (c, p, s > 0);
                            if state != run {
                                flush(run, run_len, &mut dist);
                                run = state;
                                run_len = 0;
                            }
                        }
                        run_len += 1;
                        t += 1;
                    }
                }
            }
        }
        debug_assert_eq!(t, total);
        flush(run, run_len, &mut dist);
        dist
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_instances_and_counts_coverage() {
        let w = Window {
            start: 1000,
            end: 1000 + 3 * 86_400,
        };
        let mut t = Timeline::new(w);
        // Instance A: 5 of 10 for the first day; instance B: 10 of 10 for 12 h in it.
        t.add(1000, 1000 + 86_400, 5, 10, false);
        t.add(1000, 1000 + 43_200, 10, 10, true);
        // Data before the window is clipped away.
        t.add(0, 1000, 10, 10, true);
        let d = t.distribution();
        assert_eq!(d.covered(), 86_400);
        // 12 h at 15/20, 12 h at 5/10.
        assert!((d.mean() - 0.625).abs() < 1e-12);
        assert_eq!(d.saturated_seconds(), 43_200);
    }

    #[test]
    fn segments_spanning_empty_days_hold_their_value() {
        let w = Window {
            start: 0,
            end: 3 * 86_400,
        };
        let mut t = Timeline::new(w);
        t.add(100, 2 * 86_400 + 100, 1, 4, false);
        let d = t.distribution();
        assert_eq!(d.covered(), 2 * 86_400);
        assert_eq!(d.mean(), 0.25);
    }
}
