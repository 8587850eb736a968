//! Alert replay over one instance's covered segments, with Prometheus `for:`
//! semantics (DESIGN §1.3), and the "sustained high" episodes of the policy.
//!
//! An episode starts when the condition `u > threshold` first holds, lasts while
//! it holds over contiguous covered time, and ends when it fails or at a gap
//! (a sample held for `max_gap` without a successor). An alert fires at
//! `start + for` when the episode lasts *longer* than `for`; a sustained episode
//! (policy rule 3) counts when it lasts *at least* `for`.
//!
//! Each episode also carries its **sustained level**: the largest number of
//! connections that stayed checked out through a whole window of length `for`
//! inside it (max over windows of the min). Sizing from that level, rather than
//! from the peak, keeps one spike from driving the policy.

use std::collections::VecDeque;

/// A stretch of time over which one instance's sample holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// First second covered.
    pub start: i64,
    /// First second after (≤ start + max_gap).
    pub end: i64,
    /// Connections in use.
    pub checked_out: u32,
    /// Pool size.
    pub pool_size: u32,
}

impl Segment {
    /// `checked_out / pool_size > threshold`, divided as Prometheus' rule
    /// expression does, so that both agree on every value.
    fn above(&self, threshold: f64) -> bool {
        f64::from(self.checked_out) / f64::from(self.pool_size) > threshold
    }
}

/// One episode of the condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Episode {
    /// When the condition first held.
    pub start: i64,
    /// When the alert fired (`start + for`).
    pub fired_at: i64,
    /// When the condition stopped holding (or coverage ended).
    pub end: i64,
    /// Highest utilization during the episode.
    pub peak_utilization: f64,
    /// Connections held through the best `for`-long window (see module docs).
    pub sustained_checked_out: u32,
    /// Pool size at the start of the episode.
    pub pool_size: u32,
}

impl Episode {
    /// Length in seconds.
    pub fn duration(&self) -> i64 {
        self.end - self.start
    }
}

/// Whether an episode must last longer than `for` (alerts) or at least `for` (policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualify {
    /// `duration > for` (Prometheus `for:`).
    LongerThan,
    /// `duration ≥ for` (the policy's "held for at least").
    AtLeast,
}

#[derive(Debug)]
struct Open {
    start: i64,
    end: i64,
    peak: (u32, u32),
    pool_size: u32,
    level: u32,
    /// (segment end, checked_out), increasing checked_out: sliding-window minimum.
    window: VecDeque<(i64, u32)>,
}

/// Streams one instance's segments (in time order) and collects qualifying episodes.
#[derive(Debug)]
pub struct EpisodeTracker {
    threshold: f64,
    for_seconds: i64,
    qualify: Qualify,
    open: Option<Open>,
    done: Vec<Episode>,
}

impl EpisodeTracker {
    /// A tracker for `u > threshold` held for `for_seconds`.
    pub fn new(threshold: f64, for_seconds: i64, qualify: Qualify) -> Self {
        EpisodeTracker {
            threshold,
            for_seconds,
            qualify,
            open: None,
            done: Vec::new(),
        }
    }

    /// Feeds the next segment; segments must come in time order.
    pub fn push(&mut self, seg: Segment) {
        if !seg.above(self.threshold) {
            self.close();
            return;
        }
        if self.open.as_ref().is_some_and(|o| o.end != seg.start) {
            self.close();
        }
        let open = self.open.get_or_insert_with(|| Open {
            start: seg.start,
            end: seg.start,
            peak: (seg.checked_out, seg.pool_size),
            pool_size: seg.pool_size,
            level: 0,
            window: VecDeque::new(),
        });
        open.end = seg.end;
        if u64::from(seg.checked_out) * u64::from(open.peak.1) > u64::from(open.peak.0) * u64::from(seg.pool_size) {
            open.peak = (seg.checked_out, seg.pool_size);
        }
        while open.window.back().is_some_and(|&(_, c)| c >= seg.checked_out) {
            open.window.pop_back();
        }
        open.window.push_back((seg.end, seg.checked_out));
        let window_start = seg.end - self.for_seconds;
        while open.window.front().is_some_and(|&(end, _)| end <= window_start) {
            open.window.pop_front();
        }
        if window_start >= open.start
            && let Some(&(_, min)) = open.window.front()
        {
            open.level = open.level.max(min);
        }
    }

    /// Ends the open episode (call at a gap or at the end of the data).
    pub fn close(&mut self) {
        if let Some(open) = self.open.take() {
            let duration = open.end - open.start;
            let qualifies = match self.qualify {
                Qualify::LongerThan => duration > self.for_seconds,
                Qualify::AtLeast => duration >= self.for_seconds,
            };
            if qualifies {
                self.done.push(Episode {
                    start: open.start,
                    fired_at: open.start + self.for_seconds,
                    end: open.end,
                    peak_utilization: f64::from(open.peak.0) / f64::from(open.peak.1),
                    sustained_checked_out: open.level,
                    pool_size: open.pool_size,
                });
            }
        }
    }

    /// The qualifying episodes so far (call [`close`](Self::close) first at the end).
    pub fn episodes(&self) -> &[Episode] {
        &self.done
    }

    /// Takes the collected episodes.
    pub fn take(&mut self) -> Vec<Episode> {
        std::mem::take(&mut self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: i64, end: i64, checked_out: u32) -> Segment {
        Segment {
            start,
            end,
            checked_out,
            pool_size: 10,
        }
    }

    #[test]
    fn fires_only_when_longer_than_for() {
        let mut t = EpisodeTracker::new(0.8, 300, Qualify::LongerThan);
        for i in 0..5 {
            t.push(seg(i * 60, i * 60 + 60, 9)); // exactly 300 s above
        }
        t.push(seg(300, 360, 5));
        for i in 10..16 {
            t.push(seg(i * 60, i * 60 + 60, 9)); // 360 s above
        }
        t.close();
        let eps = t.episodes();
        assert_eq!(eps.len(), 1);
        assert_eq!((eps[0].start, eps[0].fired_at, eps[0].end), (600, 900, 960));
    }

    #[test]
    fn at_least_counts_exact_duration() {
        let mut t = EpisodeTracker::new(0.8, 300, Qualify::AtLeast);
        for i in 0..5 {
            t.push(seg(i * 60, i * 60 + 60, 9));
        }
        t.close();
        assert_eq!(t.episodes().len(), 1);
        assert_eq!(t.episodes()[0].sustained_checked_out, 9);
    }

    #[test]
    fn a_gap_breaks_the_episode() {
        let mut t = EpisodeTracker::new(0.8, 300, Qualify::LongerThan);
        for i in 0..4 {
            t.push(seg(i * 60, i * 60 + 60, 9));
        }
        // Coverage stops at 240 (sample held for max_gap), resumes at 400.
        for i in 0..4 {
            t.push(seg(400 + i * 60, 460 + i * 60, 9));
        }
        t.close();
        assert!(t.episodes().is_empty());
    }

    #[test]
    fn sustained_level_ignores_a_single_spike() {
        let mut t = EpisodeTracker::new(0.5, 180, Qualify::AtLeast);
        let levels = [6, 7, 10, 7, 6, 6];
        for (i, c) in levels.iter().enumerate() {
            t.push(seg(i as i64 * 60, i as i64 * 60 + 60, *c));
        }
        t.close();
        let e = t.episodes()[0];
        assert_eq!(e.peak_utilization, 1.0);
        // Best 3-minute window is [60,240): min(7,10,7) = 7.
        assert_eq!(e.sustained_checked_out, 7);
    }
}
