//! Time-weighted analysis of pool samples (DESIGN §1.2, §1.3): per-instance and
//! per-service statistics over calendar-month windows, and alert and
//! sustained-high episodes. Pure: no file or clock is read here.
//!
//! Samples may arrive in any order across instances and slightly out of order
//! within one: each instance has a reorder buffer holding `reorder_window` of
//! its newest samples; a sample older than what has already left the buffer is
//! rejected (like Prometheus' out-of-order window), never silently misplaced.
//! A sample's value holds until the next sample of its instance, but never longer
//! than `max_gap`; unless configured, `max_gap` is 3 × the median of the
//! instance's first 10 intervals (in time order), fixed from then on so that
//! the analysis streams.

pub mod bouncer;
pub mod demand;
pub mod digest;
pub mod distribution;
pub mod episodes;
pub mod fingerprint;
pub mod forecast;
pub mod queueing;
pub mod replay;
pub mod simulator;
pub mod slow_review;
pub mod study;
pub mod timeline;

use std::collections::HashMap;
use std::collections::VecDeque;

use crate::config::AlertRule;
use crate::model::PoolSize;
use crate::model::simulation::Hours;
use crate::model::window::Window;
use distribution::Distribution;
use episodes::{Episode, EpisodeTracker, Qualify, Segment};
use timeline::Timeline;

pub use crate::model::stats::{REPORTED_THRESHOLDS, WindowStats};

/// Minutes kept for the simulation, over all instances (the first ones seen
/// keep theirs): 28 bytes each, so about 320 MB however many series a run
/// reads. That is 256 instances of a month of every minute (`simulate_hours
/// = "all"`), or 7 440 of `busiest:24` (each keeps 24 hours of 64 minutes).
pub const MAX_KEPT_MINUTES: usize = 256 * 44_640;

/// Instances whose minutes may be kept under [`MAX_KEPT_MINUTES`].
pub fn max_minute_instances(window: Window, hours: Hours) -> usize {
    let month = usize::try_from((window.seconds() + 59) / 60)
        .unwrap_or(usize::MAX)
        .max(1);
    let per_instance = match hours {
        Hours::Busiest(n) => month.min(n.saturating_mul(60 + 2 * demand::MARGIN)).max(1),
        Hours::All => month,
    };
    (MAX_KEPT_MINUTES / per_instance).max(1)
}

/// `max_gap` for an instance with fewer than two samples.
pub const FALLBACK_MAX_GAP: i64 = 180;

/// What the analysis needs to know.
#[derive(Debug, Clone)]
pub struct AnalyzerSettings {
    /// The windows statistics are computed for.
    pub windows: Vec<Window>,
    /// Episodes (alerts, sustained) are kept when they overlap this window.
    pub episode_window: Window,
    /// Alert rules to replay.
    pub alerts: Vec<AlertRule>,
    /// Policy rule 3 threshold.
    pub sustained_utilization: f64,
    /// Policy rule 3 duration, seconds.
    pub sustained_for: i64,
    /// Fixed `max_gap`, or `None` for 3 × median interval.
    pub max_gap: Option<i64>,
    /// Per-instance out-of-order tolerance, seconds.
    pub reorder_window: i64,
    /// Each service's current pool, for samples without `max_overflow`.
    pub service_pools: Vec<PoolSize>,
    /// Overflow factor, for samples whose pool size is not the current one.
    pub overflow_factor: f64,
    /// Keep each instance's minutes of this window, reduced to its busiest
    /// hours (for the simulation).
    pub minutes: Option<(Window, Hours)>,
    /// For charts: the first window reduced to this many slices, and the local
    /// (weekday × 24 + hour) slot of each of its quarter hours.
    pub detail: Option<DetailSettings>,
}

/// What the chart-level detail of the first window needs.
#[derive(Debug, Clone)]
pub struct DetailSettings {
    /// Slices (pixel columns) of the window.
    pub columns: usize,
    /// Local slot (weekday × 24 + hour, Monday first) of each quarter hour.
    pub slot_of_quarter: Vec<u8>,
}

impl DetailSettings {
    /// Slots of `window`'s quarter hours in `tz`.
    pub fn new(columns: usize, window: Window, tz: &jiff::tz::TimeZone) -> Self {
        let quarters = (window.seconds() + 899) / 900;
        let slot_of_quarter = (0..quarters)
            .map(|q| {
                let ts = jiff::Timestamp::from_second(window.start + q * 900).expect("in range");
                let local = ts.to_zoned_datetime(tz.clone());
                let weekday = local.weekday().to_monday_zero_offset() as u8;
                weekday * 24 + local.hour() as u8
            })
            .collect();
        DetailSettings {
            columns,
            slot_of_quarter,
        }
    }
}

/// A window's statistics from its distribution (the counters — timeouts,
/// waiting, samples — are filled in by the caller).
fn stats_from_distribution(window: Window, dist: &Distribution) -> WindowStats {
    let covered = dist.covered();
    let ps = dist.percentiles(&[0.50, 0.95, 0.99]);
    WindowStats {
        window,
        covered_seconds: covered,
        coverage: if window.seconds() > 0 {
            covered as f64 / window.seconds() as f64
        } else {
            0.0
        },
        mean_utilization: dist.mean(),
        p50_utilization: ps[0],
        p95_utilization: ps[1],
        p99_utilization: ps[2],
        max_utilization: dist.max(),
        mean_checked_out: dist.mean_checked_out(),
        seconds_above: REPORTED_THRESHOLDS.map(|t| dist.seconds_above(t)),
        saturated_seconds: dist.saturated_seconds(),
        timeouts: 0,
        waiting_seconds: 0,
        max_waiting: 0,
        samples: 0,
    }
}

/// An alert episode of one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEpisode {
    /// Index of the rule in [`AnalyzerSettings::alerts`].
    pub rule: usize,
    /// The episode.
    pub episode: Episode,
}

/// Results for one instance.
#[derive(Debug, Clone)]
pub struct InstanceResult {
    /// The series id given to [`Analyzer::push`].
    pub series: u32,
    /// Index of its service.
    pub service: usize,
    /// The `max_gap` used, seconds.
    pub max_gap: i64,
    /// Statistics per window, in the order of the settings.
    pub windows: Vec<WindowStats>,
    /// Fired alert episodes overlapping the episode window.
    pub alerts: Vec<AlertEpisode>,
    /// Sustained-high episodes overlapping the episode window.
    pub sustained: Vec<Episode>,
    /// Pool sizes seen, with the first instant each took effect (changes only).
    pub pool_size_changes: Vec<(i64, u32)>,
    /// Its minutes of [`AnalyzerSettings::minutes`], when asked for.
    pub minutes: Option<demand::MinuteRecorder>,
}

/// Results for one service.
#[derive(Debug, Clone)]
pub struct ServiceResult {
    /// Statistics per window (Σ checked_out / Σ pool_size), in settings order.
    pub windows: Vec<WindowStats>,
    /// Chart detail of the first window, when asked for.
    pub detail: Option<timeline::Detail>,
}

/// The whole analysis.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Per instance, in order of first appearance.
    pub instances: Vec<InstanceResult>,
    /// Per service, in the order of the settings' `service_pools`.
    pub services: Vec<ServiceResult>,
}

/// Why a sample was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Stable code.
    pub code: &'static str,
    /// What happened.
    pub message: String,
}

#[derive(Debug, Clone, Copy)]
struct Point {
    ts: i64,
    checked_out: u32,
    pool_size: u32,
    capacity: u32,
    waiting: u32,
    timeouts: Option<u64>,
}

impl Point {
    fn same_values(&self, other: &Point) -> bool {
        (
            self.checked_out,
            self.pool_size,
            self.capacity,
            self.waiting,
            self.timeouts,
        ) == (
            other.checked_out,
            other.pool_size,
            other.capacity,
            other.waiting,
            other.timeouts,
        )
    }
}

/// Per-window accumulators of one instance.
#[derive(Default)]
struct InstanceWindow {
    dist: Distribution,
    /// Run-length cache in front of `dist`: (checked_out, pool_size, saturated), seconds.
    pending: Option<((u32, u32, bool), i64)>,
    timeouts: u64,
    waiting_seconds: i64,
    max_waiting: u32,
    samples: u64,
}

impl InstanceWindow {
    fn add(&mut self, state: (u32, u32, bool), seconds: i64) {
        match &mut self.pending {
            Some((s, len)) if *s == state => *len += seconds,
            _ => {
                if let Some((s, len)) = self.pending.take() {
                    self.dist.add(s.0.into(), s.1.into(), s.2, len);
                }
                self.pending = Some((state, seconds));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((s, len)) = self.pending.take() {
            self.dist.add(s.0.into(), s.1.into(), s.2, len);
        }
    }
}

struct SeriesState {
    series: u32,
    service: usize,
    buffer: VecDeque<Point>,
    newest: i64,
    released: Option<Point>,
    /// Samples released before `max_gap` was known (the first few only).
    first: Vec<Point>,
    max_gap: Option<i64>,
    windows: Vec<InstanceWindow>,
    /// The window the last sample fell in: with disjoint windows (calendar
    /// months), a sample inside it belongs to it alone, so most samples are
    /// accounted without looking at the other windows.
    window_hint: usize,
    /// Whether the windows are disjoint (the hint may then be trusted).
    windows_disjoint: bool,
    alerts: Vec<EpisodeTracker>,
    sustained: EpisodeTracker,
    pool_size_changes: Vec<(i64, u32)>,
    minutes: Option<demand::MinuteRecorder>,
}

/// Whether no two of `windows` overlap.
fn disjoint(windows: &[Window]) -> bool {
    let mut sorted = windows.to_vec();
    sorted.sort_by_key(|w| w.start);
    sorted.windows(2).all(|p| p[0].end <= p[1].start)
}

/// Streaming analyzer: [`push`](Analyzer::push) samples, then [`finish`](Analyzer::finish).
pub struct Analyzer {
    settings: AnalyzerSettings,
    /// `max_gap` fixed per series from outside (see [`Analyzer::fix_max_gap`]).
    fixed_max_gap: HashMap<u32, i64>,
    series: Vec<Option<SeriesState>>,
    order: Vec<u32>,
    timelines: Vec<Vec<Timeline>>,
    /// Whether the settings' windows are disjoint (decided once).
    windows_disjoint: bool,
    /// Instances whose minutes are being kept.
    minute_instances: usize,
}

/// The sample fields the analyzer uses.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    /// Series id (dense small integers work best).
    pub series: u32,
    /// Index of the service in the settings.
    pub service: usize,
    /// Unix seconds.
    pub ts: i64,
    /// Connections in use.
    pub checked_out: u32,
    /// Pool size.
    pub pool_size: u32,
    /// Overflow limit, when known.
    pub max_overflow: Option<u32>,
    /// Callers waiting, when known.
    pub waiting: Option<u32>,
    /// Cumulative timeouts, when known.
    pub timeouts: Option<u64>,
}

fn ceil_factor(value: u32, factor: f64) -> u32 {
    crate::model::ceil_times(value, factor)
}

impl Analyzer {
    /// A new analyzer.
    pub fn new(settings: AnalyzerSettings) -> Self {
        let timelines = settings
            .service_pools
            .iter()
            .map(|_| settings.windows.iter().map(|w| Timeline::new(*w)).collect())
            .collect();
        Analyzer {
            windows_disjoint: disjoint(&settings.windows),
            settings,
            fixed_max_gap: HashMap::new(),
            series: Vec::new(),
            order: Vec::new(),
            timelines,
            minute_instances: 0,
        }
    }

    fn capacity(&self, obs: &Observation) -> u32 {
        let overflow = match obs.max_overflow {
            Some(mo) => mo,
            None => {
                let current = self.settings.service_pools[obs.service];
                if current.pool_size == obs.pool_size {
                    current.max_overflow
                } else {
                    ceil_factor(obs.pool_size, self.settings.overflow_factor)
                }
            }
        };
        obs.pool_size + overflow
    }

    /// Fixes `series`' max_gap before its first sample, instead of estimating
    /// it from the samples this analyzer sees: for a caller that reads only
    /// part of the history the estimate was made over (the history store).
    pub fn fix_max_gap(&mut self, series: u32, max_gap: i64) {
        self.fixed_max_gap.insert(series, max_gap);
    }

    /// Adds one sample. A rejected sample changes nothing.
    pub fn push(&mut self, obs: Observation) -> Result<(), Rejected> {
        let point = Point {
            ts: obs.ts,
            checked_out: obs.checked_out,
            pool_size: obs.pool_size,
            capacity: self.capacity(&obs),
            waiting: obs.waiting.unwrap_or(0),
            timeouts: obs.timeouts,
        };
        let idx = obs.series as usize;
        if self.series.len() <= idx {
            self.series.resize_with(idx + 1, || None);
        }
        if self.series[idx].is_none() {
            self.order.push(obs.series);
            let minutes = self
                .settings
                .minutes
                .filter(|&(window, hours)| self.minute_instances < max_minute_instances(window, hours))
                .map(|(window, hours)| demand::MinuteRecorder::new(window, hours));
            self.minute_instances += usize::from(minutes.is_some());
            self.series[idx] = Some(SeriesState {
                series: obs.series,
                service: obs.service,
                buffer: VecDeque::new(),
                newest: i64::MIN,
                released: None,
                first: Vec::new(),
                max_gap: self.fixed_max_gap.get(&obs.series).copied().or(self.settings.max_gap),
                windows: self
                    .settings
                    .windows
                    .iter()
                    .map(|_| InstanceWindow::default())
                    .collect(),
                window_hint: 0,
                windows_disjoint: self.windows_disjoint,
                alerts: self
                    .settings
                    .alerts
                    .iter()
                    .map(|r| EpisodeTracker::new(r.above, r.for_seconds, Qualify::LongerThan))
                    .collect(),
                sustained: EpisodeTracker::new(
                    self.settings.sustained_utilization,
                    self.settings.sustained_for,
                    Qualify::AtLeast,
                ),
                pool_size_changes: Vec::new(),
                minutes,
            });
        }
        let state = self.series[idx].as_mut().expect("inserted above");
        let last_released = state.first.last().copied().or(state.released);
        if let Some(last) = last_released
            && point.ts <= last.ts
        {
            return Err(Rejected {
                code: "out-of-order",
                message: format!(
                    "sample at {} arrives after samples up to {} of the same instance were analysed (more than the reorder window of {} late); sort the file or raise policy.reorder_window",
                    point.ts,
                    last.ts,
                    crate::model::format_duration(self.settings.reorder_window)
                ),
            });
        }
        // Insert in time order; in-order samples take the fast path.
        if state.buffer.back().is_none_or(|b| b.ts < point.ts) {
            state.buffer.push_back(point);
        } else {
            match state.buffer.binary_search_by_key(&point.ts, |p| p.ts) {
                Ok(i) => {
                    if state.buffer[i].same_values(&point) {
                        return Ok(()); // exact duplicate: stored once
                    }
                    return Err(Rejected {
                        code: "conflicting-duplicate",
                        message: format!(
                            "a different sample of the same instance has the same timestamp {}",
                            point.ts
                        ),
                    });
                }
                Err(i) => state.buffer.insert(i, point),
            }
        }
        state.newest = state.newest.max(point.ts);
        let reorder = self.settings.reorder_window;
        while let Some(front) = state.buffer.front() {
            let old_enough = state.newest - front.ts > reorder;
            if !old_enough {
                break;
            }
            let Some(p) = state.buffer.pop_front() else { break };
            release(state, p, &self.settings, &mut self.timelines);
        }
        Ok(())
    }

    /// Ends the stream and computes every statistic.
    pub fn finish(mut self) -> Analysis {
        let mut instances = Vec::with_capacity(self.order.len());
        let mut service_extra: Vec<Vec<(u64, i64, u32, u64)>> =
            vec![vec![(0, 0, 0, 0); self.settings.windows.len()]; self.settings.service_pools.len()];
        for &id in &self.order {
            let mut state = self.series[id as usize].take().expect("ordered ids exist");
            while let Some(p) = state.buffer.pop_front() {
                release(&mut state, p, &self.settings, &mut self.timelines);
            }
            settle_max_gap(&mut state, &self.settings, &mut self.timelines);
            let max_gap = state.max_gap.unwrap_or(FALLBACK_MAX_GAP);
            if let Some(last) = state.released {
                emit(&mut state, last, last.ts + max_gap, &self.settings, &mut self.timelines);
            }
            for t in &mut state.alerts {
                t.close();
            }
            state.sustained.close();
            if let Some(r) = &mut state.minutes {
                r.finish();
            }
            let ew = self.settings.episode_window;
            let overlaps = |e: &Episode| e.start < ew.end && e.end > ew.start;
            let mut alerts = Vec::new();
            for (rule, tracker) in state.alerts.iter_mut().enumerate() {
                alerts.extend(
                    tracker
                        .take()
                        .into_iter()
                        .filter(overlaps)
                        .map(|episode| AlertEpisode { rule, episode }),
                );
            }
            alerts.sort_by_key(|a| (a.episode.start, a.rule));
            let sustained: Vec<Episode> = state.sustained.take().into_iter().filter(overlaps).collect();
            let windows: Vec<WindowStats> = state
                .windows
                .iter_mut()
                .zip(&self.settings.windows)
                .enumerate()
                .map(|(k, (acc, w))| {
                    acc.flush();
                    let mut stats = stats_from_distribution(*w, &acc.dist);
                    stats.timeouts = acc.timeouts;
                    stats.waiting_seconds = acc.waiting_seconds;
                    stats.max_waiting = acc.max_waiting;
                    stats.samples = acc.samples;
                    let extra = &mut service_extra[state.service][k];
                    extra.0 += acc.timeouts;
                    extra.1 += acc.waiting_seconds;
                    extra.2 = extra.2.max(acc.max_waiting);
                    extra.3 += acc.samples;
                    stats
                })
                .collect();
            instances.push(InstanceResult {
                series: state.series,
                service: state.service,
                max_gap,
                windows,
                alerts,
                sustained,
                pool_size_changes: state.pool_size_changes,
                minutes: state.minutes,
            });
        }
        let detail_settings = self.settings.detail.clone();
        let services = self
            .timelines
            .iter()
            .zip(service_extra)
            .map(|(timelines, extras)| {
                let detail = detail_settings
                    .as_ref()
                    .and_then(|d| timelines.first().map(|t| t.detail(d.columns, &d.slot_of_quarter)));
                let windows = timelines
                    .iter()
                    .zip(&self.settings.windows)
                    .zip(extras)
                    .enumerate()
                    .map(
                        |(k, ((timeline, w), (timeouts, waiting_seconds, max_waiting, samples)))| {
                            let dist = match (&detail, k) {
                                (Some(d), 0) => d.distribution.clone(),
                                _ => timeline.distribution(),
                            };
                            let mut stats = stats_from_distribution(*w, &dist);
                            stats.timeouts = timeouts;
                            stats.waiting_seconds = waiting_seconds;
                            stats.max_waiting = max_waiting;
                            stats.samples = samples;
                            stats
                        },
                    )
                    .collect();
                ServiceResult { windows, detail }
            })
            .collect();
        Analysis { instances, services }
    }
}

/// Intervals `max_gap` is estimated from: the instance's first ones.
const GAP_ESTIMATE_INTERVALS: usize = 10;

/// 3 × the median interval between consecutive (time-ordered) samples.
fn estimate_max_gap(points: &[Point]) -> i64 {
    let mut intervals: Vec<i64> = points.windows(2).map(|w| w[1].ts - w[0].ts).collect();
    if intervals.is_empty() {
        return FALLBACK_MAX_GAP;
    }
    intervals.sort_unstable();
    let median = intervals[(intervals.len() - 1) / 2];
    (3 * median).max(1)
}

/// Moves one sample, in time order, out of the reorder buffer. Until `max_gap`
/// is known the samples wait in `first`: the estimate then depends only on the
/// instance's first samples in time order, never on the order rows arrived in.
fn release(state: &mut SeriesState, p: Point, settings: &AnalyzerSettings, timelines: &mut [Vec<Timeline>]) {
    if state.max_gap.is_some() {
        advance(state, p, settings, timelines);
        return;
    }
    state.first.push(p);
    if state.first.len() > GAP_ESTIMATE_INTERVALS {
        settle_max_gap(state, settings, timelines);
    }
}

/// Fixes `max_gap` from the samples held back so far and analyses them.
fn settle_max_gap(state: &mut SeriesState, settings: &AnalyzerSettings, timelines: &mut [Vec<Timeline>]) {
    if state.max_gap.is_some() {
        return;
    }
    state.max_gap = Some(estimate_max_gap(&state.first));
    for p in std::mem::take(&mut state.first) {
        advance(state, p, settings, timelines);
    }
}

/// Analyses the next sample in time order: the previous one's segment ends here.
fn advance(state: &mut SeriesState, p: Point, settings: &AnalyzerSettings, timelines: &mut [Vec<Timeline>]) {
    let max_gap = state.max_gap.unwrap_or(FALLBACK_MAX_GAP);
    let mut timeouts = 0;
    if let Some(last) = state.released {
        emit(state, last, p.ts.min(last.ts + max_gap), settings, timelines);
        if let (Some(prev), Some(now)) = (last.timeouts, p.timeouts) {
            // A counter that went down was reset (process restart): count from zero.
            timeouts = if now >= prev { now - prev } else { now };
            for k in windows_holding(state.window_hint, state.windows_disjoint, &settings.windows, p.ts) {
                state.windows[k].timeouts += timeouts;
            }
        }
    }
    if state
        .pool_size_changes
        .last()
        .is_none_or(|&(_, size)| size != p.pool_size)
    {
        state.pool_size_changes.push((p.ts, p.pool_size));
    }
    for k in windows_holding(state.window_hint, state.windows_disjoint, &settings.windows, p.ts) {
        state.windows[k].samples += 1;
    }
    if let Some(r) = &mut state.minutes {
        r.sample(p.ts, p.checked_out, timeouts);
    }
    state.released = Some(p);
}

/// The windows that hold instant `t`: the hinted one alone when the windows
/// are disjoint and it holds `t`, else every window that does.
fn windows_holding(hint: usize, disjoint: bool, windows: &[Window], t: i64) -> impl Iterator<Item = usize> + '_ {
    let hinted = disjoint && windows.get(hint).is_some_and(|w| w.contains(t));
    let (from, to) = if hinted { (hint, hint + 1) } else { (0, windows.len()) };
    (from..to).filter(move |&k| windows[k].contains(t))
}

/// Accounts the segment `[p.ts, end)` over which sample `p` holds.
fn emit(state: &mut SeriesState, p: Point, end: i64, settings: &AnalyzerSettings, timelines: &mut [Vec<Timeline>]) {
    if end <= p.ts {
        return;
    }
    let saturated = p.checked_out >= p.capacity;
    // With disjoint windows, a segment inside the hinted window touches no other.
    let hint = state.window_hint;
    let inside = state.windows_disjoint
        && settings
            .windows
            .get(hint)
            .is_some_and(|w| w.start <= p.ts && end <= w.end);
    let (from, to) = if inside {
        (hint, hint + 1)
    } else {
        (0, settings.windows.len())
    };
    let accounts = state.windows[from..to]
        .iter_mut()
        .zip(&settings.windows[from..to])
        .zip(&mut timelines[state.service][from..to]);
    for (k, ((acc, w), timeline)) in (from..).zip(accounts) {
        if let Some((a, b)) = w.clip(p.ts, end) {
            if !inside && w.contains(p.ts) {
                state.window_hint = k;
            }
            acc.add((p.checked_out, p.pool_size, saturated), b - a);
            if p.waiting > 0 {
                acc.waiting_seconds += b - a;
                acc.max_waiting = acc.max_waiting.max(p.waiting);
            }
            timeline.add(a, b, p.checked_out, p.pool_size, saturated);
        }
    }
    if let Some(r) = &mut state.minutes {
        r.segment(p.ts, end, p.checked_out, p.waiting, (p.pool_size, p.capacity));
    }
    let seg = Segment {
        start: p.ts,
        end,
        checked_out: p.checked_out,
        pool_size: p.pool_size,
    };
    for t in &mut state.alerts {
        t.push(seg);
    }
    state.sustained.push(seg);
}

#[cfg(test)]
mod tests;
