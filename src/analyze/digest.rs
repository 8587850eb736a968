//! The slow-query digest (DESIGN §1.7): per fingerprint count, total, mean,
//! percentiles, max, first/last seen, by database and user, per hour of day;
//! overall statements, time, span, and the connections they held (mean and
//! peak concurrency). Pure, mergeable (so chunks and files can be digested in
//! parallel), and bounded in memory.
//!
//! Bounds: durations go into a log-scale histogram whose buckets are 2% wide,
//! so every percentile is within 1% of the true value (the bucket's geometric
//! midpoint; clamped to the exact min and max). Concurrency is kept per second
//! (4 bytes a second, allocated a day at a time) only for the days in which
//! statements start or end or that a statement of at most a day runs through;
//! the whole seconds of a longer statement are one range (see [`InFlight`]),
//! so memory grows with the statements, never with a duration. At most
//! [`MAX_FINGERPRINTS`] fingerprints are kept; statements of later new shapes
//! are counted under one `(other fingerprints)` row, and the report says so.

use std::collections::HashMap;

use crate::support::hash::FxBuild;

use super::fingerprint::{Dialect, fingerprint_into};
use crate::model::slowlog::{EntryKind, EntrySink, LogEntry};

mod histogram;
mod in_flight;
mod stored;

pub use histogram::Histogram;
pub use in_flight::{InFlight, StoredInFlight};
pub use stored::{StoredDigest, StoredFingerprint};

/// The most distinct fingerprints kept.
pub const MAX_FINGERPRINTS: usize = 50_000;

/// The row statements of fingerprints beyond the limit are counted in.
pub const OTHER: &str = "(other fingerprints)";

/// Per-fingerprint numbers.
#[derive(Debug, Clone, Default)]
pub struct FingerprintStats {
    /// Executed statements.
    pub count: u64,
    /// Their summed duration, ms.
    pub total_ms: f64,
    /// Plus parse and bind time, ms.
    pub hold_ms: f64,
    /// Shortest, ms.
    pub min_ms: f64,
    /// Longest, ms.
    pub max_ms: f64,
    /// Statements over the threshold.
    pub over_threshold: u64,
    /// Durations.
    pub histogram: Histogram,
    /// First and last end time seen, Unix ms.
    pub first_ms: i64,
    /// Last end time seen, Unix ms.
    pub last_ms: i64,
    /// (database, user, statements), in order of first appearance; few pairs,
    /// so a linear search with no allocation per statement.
    pub by_database_user: Vec<(String, String, u64)>,
    /// Statements per hour of day (in the digest's zone).
    pub hours: [u64; 24],
    /// The slowest statement's text and parameters (only with samples on).
    pub sample: Option<(f64, String, Option<String>)>,
}

impl FingerprintStats {
    fn count_database_user(&mut self, db: &str, user: &str, n: u64) {
        match self.by_database_user.iter_mut().find(|(d, u, _)| d == db && u == user) {
            Some(entry) => entry.2 += n,
            None => self.by_database_user.push((db.to_string(), user.to_string(), n)),
        }
    }

    fn merge(&mut self, other: FingerprintStats) {
        if other.count > 0 {
            if self.count == 0 {
                self.min_ms = other.min_ms;
                self.first_ms = other.first_ms;
                self.last_ms = other.last_ms;
            }
            self.min_ms = self.min_ms.min(other.min_ms);
            self.first_ms = self.first_ms.min(other.first_ms);
            self.last_ms = self.last_ms.max(other.last_ms);
        }
        self.count += other.count;
        self.total_ms += other.total_ms;
        self.hold_ms += other.hold_ms;
        self.max_ms = self.max_ms.max(other.max_ms);
        self.over_threshold += other.over_threshold;
        self.histogram.merge(&other.histogram);
        for (db, user, n) in other.by_database_user {
            self.count_database_user(&db, &user, n);
        }
        for (h, v) in self.hours.iter_mut().zip(other.hours) {
            *h += v;
        }
        if let Some(s) = other.sample
            && self.sample.as_ref().is_none_or(|mine| s.0 > mine.0)
        {
            self.sample = Some(s);
        }
    }
}

/// How to digest.
#[derive(Debug, Clone)]
pub struct DigestSettings {
    /// SQL dialect of the statements.
    pub dialect: Dialect,
    /// The slow-review threshold, ms.
    pub threshold_ms: f64,
    /// Zone for hours of day.
    pub timezone: jiff::tz::TimeZone,
    /// Only statements ending at or after this Unix ms.
    pub since_ms: Option<i64>,
    /// Only statements ending before this Unix ms.
    pub until_ms: Option<i64>,
    /// Keep the slowest raw statement per fingerprint.
    pub keep_samples: bool,
}

/// The digest being built.
#[derive(Debug, Clone)]
pub struct Digest {
    settings: DigestSettings,
    /// Fingerprints and their stats, in order of first appearance.
    fingerprints: Vec<(String, FingerprintStats)>,
    /// Fingerprint → index in `fingerprints`.
    index: HashMap<String, u32, FxBuild>,
    /// Raw text → index (prepared statements repeat their text exactly).
    cache: HashMap<Box<str>, u32, FxBuild>,
    /// Executed statements.
    pub statements: u64,
    /// Their summed duration, ms.
    pub total_ms: f64,
    /// Plus parse/bind, ms.
    pub hold_ms: f64,
    /// Parse and bind entries.
    pub parse_bind: u64,
    /// Bare `duration:` lines and their ms.
    pub bare: (u64, f64),
    /// MySQL administrator commands.
    pub admin: u64,
    /// Statements over the threshold.
    pub over_threshold: u64,
    /// Earliest start and latest end, Unix ms.
    pub span: Option<(i64, i64)>,
    /// Statements of fingerprints beyond the limit.
    pub overflowed: u64,
    /// Entries outside `--since`/`--until`.
    pub filtered: u64,
    /// Time in flight per second.
    pub in_flight: InFlight,
    hour_cache: (i64, usize),
    /// Reused buffer for fingerprints.
    scratch: String,
}

impl Digest {
    /// An empty digest.
    pub fn new(settings: DigestSettings) -> Self {
        Digest {
            settings,
            fingerprints: Vec::new(),
            index: HashMap::default(),
            cache: HashMap::default(),
            statements: 0,
            total_ms: 0.0,
            hold_ms: 0.0,
            parse_bind: 0,
            bare: (0, 0.0),
            admin: 0,
            over_threshold: 0,
            span: None,
            overflowed: 0,
            filtered: 0,
            in_flight: InFlight::default(),
            hour_cache: (i64::MIN, 0),
            scratch: String::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &DigestSettings {
        &self.settings
    }

    fn hour_of_day(&mut self, end_ms: i64) -> usize {
        let utc_hour = end_ms.div_euclid(3_600_000);
        if self.hour_cache.0 != utc_hour {
            let hour = jiff::Timestamp::from_millisecond(end_ms)
                .map(|t| t.to_zoned_datetime(self.settings.timezone.clone()).hour() as usize)
                .unwrap_or(0);
            self.hour_cache = (utc_hour, hour);
        }
        self.hour_cache.1
    }

    /// Every fingerprint with its stats, in order of first appearance.
    pub fn fingerprints(&self) -> impl Iterator<Item = (&String, &FingerprintStats)> {
        self.fingerprints.iter().map(|(fp, s)| (fp, s))
    }

    /// The stats of one fingerprint.
    pub fn get(&self, fingerprint: &str) -> Option<&FingerprintStats> {
        self.index.get(fingerprint).map(|&i| &self.fingerprints[i as usize].1)
    }

    /// Index of `fp`, adding it (or the overflow row) when new; `None` means the
    /// overflow row was used.
    fn slot(&mut self, fp: &str) -> (u32, bool) {
        if let Some(&i) = self.index.get(fp) {
            return (i, false);
        }
        let (key, overflow) = if self.fingerprints.len() < MAX_FINGERPRINTS {
            (fp, false)
        } else {
            (OTHER, true)
        };
        if let Some(&i) = self.index.get(key) {
            return (i, overflow);
        }
        let i = self.fingerprints.len() as u32;
        self.fingerprints.push((key.to_string(), FingerprintStats::default()));
        self.index.insert(key.to_string(), i);
        (i, overflow)
    }

    /// The slot of a statement's fingerprint. Texts of the extended protocol
    /// (`$n` parameters, no literals) repeat exactly and are cached; texts with
    /// literals rarely repeat, so caching them would only cost.
    fn slot_of_text(&mut self, text: &str, cacheable: bool) -> (u32, bool) {
        if cacheable && let Some(&i) = self.cache.get(text) {
            return (i, self.fingerprints[i as usize].0 == OTHER);
        }
        let mut fp = std::mem::take(&mut self.scratch);
        fingerprint_into(text, self.settings.dialect, &mut fp);
        let (i, overflow) = self.slot(&fp);
        self.scratch = fp;
        if cacheable && text.len() <= 4096 {
            if self.cache.len() >= 8192 {
                self.cache.clear();
            }
            self.cache.insert(text.into(), i);
        }
        (i, overflow)
    }

    /// Adds one log entry.
    pub fn add(&mut self, e: &LogEntry<'_>) {
        if self.settings.since_ms.is_some_and(|s| e.end_ms < s) || self.settings.until_ms.is_some_and(|u| e.end_ms >= u)
        {
            self.filtered += 1;
            return;
        }
        let start_ms = e.end_ms.saturating_sub(e.duration_ms.round() as i64);
        match e.kind {
            EntryKind::Bare => {
                self.bare.0 += 1;
                self.bare.1 += e.duration_ms;
                self.hold_ms += e.duration_ms;
                self.in_flight.add(start_ms, e.end_ms);
                self.extend_span(start_ms, e.end_ms);
                return;
            }
            EntryKind::Admin => {
                self.admin += 1;
                return;
            }
            _ => {}
        }
        let executed = e.kind.is_executed();
        let cacheable = matches!(e.kind, EntryKind::Execute | EntryKind::Parse | EntryKind::Bind);
        let (slot, overflow) = self.slot_of_text(&e.text, cacheable);
        let hour = self.hour_of_day(e.end_ms);
        let over = executed && e.duration_ms > self.settings.threshold_ms;
        self.hold_ms += e.duration_ms;
        self.in_flight.add(start_ms, e.end_ms);
        self.extend_span(start_ms, e.end_ms);
        if executed {
            self.statements += 1;
            self.total_ms += e.duration_ms;
            self.over_threshold += u64::from(over);
        } else {
            self.parse_bind += 1;
        }
        if overflow {
            self.overflowed += u64::from(executed);
        }
        let keep_samples = self.settings.keep_samples;
        let stats = &mut self.fingerprints[slot as usize].1;
        stats.hold_ms += e.duration_ms;
        if !executed {
            return;
        }
        if stats.count == 0 {
            stats.min_ms = e.duration_ms;
            stats.first_ms = e.end_ms;
            stats.last_ms = e.end_ms;
        }
        stats.count += 1;
        stats.total_ms += e.duration_ms;
        stats.min_ms = stats.min_ms.min(e.duration_ms);
        stats.max_ms = stats.max_ms.max(e.duration_ms);
        stats.first_ms = stats.first_ms.min(e.end_ms);
        stats.last_ms = stats.last_ms.max(e.end_ms);
        stats.over_threshold += u64::from(over);
        stats.histogram.add(e.duration_ms);
        stats.hours[hour] += 1;
        stats.count_database_user(e.database.as_deref().unwrap_or(""), e.user.as_deref().unwrap_or(""), 1);
        if keep_samples && stats.sample.as_ref().is_none_or(|s| e.duration_ms > s.0) {
            stats.sample = Some((
                e.duration_ms,
                e.text.to_string(),
                e.parameters.as_deref().map(str::to_string),
            ));
        }
    }

    fn extend_span(&mut self, start: i64, end: i64) {
        self.span = Some(match self.span {
            None => (start, end),
            Some((a, b)) => (a.min(start), b.max(end)),
        });
    }

    /// Adds another digest (of another chunk or file) made with the same settings.
    pub fn merge(&mut self, other: Digest) {
        self.statements += other.statements;
        self.total_ms += other.total_ms;
        self.hold_ms += other.hold_ms;
        self.parse_bind += other.parse_bind;
        self.bare.0 += other.bare.0;
        self.bare.1 += other.bare.1;
        self.admin += other.admin;
        self.over_threshold += other.over_threshold;
        self.overflowed += other.overflowed;
        self.filtered += other.filtered;
        if let Some((a, b)) = other.span {
            self.extend_span(a, b);
        }
        self.in_flight.merge(other.in_flight);
        for (fp, stats) in other.fingerprints {
            let (slot, overflow) = self.slot(&fp);
            if overflow {
                self.overflowed += stats.count;
            }
            self.fingerprints[slot as usize].1.merge(stats);
        }
    }

    /// Σ duration / span: the mean number of connections the statements held.
    pub fn mean_concurrency(&self) -> f64 {
        match self.span {
            Some((a, b)) if b > a => self.hold_ms / (b - a) as f64,
            _ => 0.0,
        }
    }
}

impl EntrySink for Digest {
    fn entry(&mut self, e: &LogEntry<'_>) {
        self.add(e);
    }

    fn merge(&mut self, later: Self) {
        Digest::merge(self, later);
    }

    fn rename_database(&mut self, from: &str, to: &str) {
        for (_, stats) in &mut self.fingerprints {
            let (renamed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut stats.by_database_user)
                .into_iter()
                .partition(|(db, _, _)| db == from);
            stats.by_database_user = kept;
            for (_, user, n) in renamed {
                stats.count_database_user(to, &user, n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn settings() -> DigestSettings {
        DigestSettings {
            dialect: Dialect::Postgres,
            threshold_ms: 5000.0,
            timezone: jiff::tz::TimeZone::UTC,
            since_ms: None,
            until_ms: None,
            keep_samples: false,
        }
    }

    fn entry(end_ms: i64, duration_ms: f64, kind: EntryKind, text: &str) -> LogEntry<'_> {
        LogEntry {
            end_ms,
            duration_ms,
            kind,
            database: Some(Cow::Borrowed("clinic")),
            user: Some(Cow::Borrowed("app")),
            text: Cow::Borrowed(text),
            parameters: None,
            line: 1,
        }
    }

    #[test]
    fn histogram_quantiles_are_within_one_percent() {
        let mut h = Histogram::default();
        let values: Vec<f64> = (1..=10_000).map(|i| f64::from(i) * 0.37).collect();
        for v in &values {
            h.add(*v);
        }
        for p in [0.5, 0.95, 0.99] {
            let exact = values[((p * values.len() as f64).ceil() as usize) - 1];
            let got = h.quantile(p);
            assert!((got - exact).abs() / exact <= 0.01, "p{p}: {got} vs {exact}");
        }
    }

    #[test]
    fn counts_statements_hold_time_and_slow_ones() {
        let mut d = Digest::new(settings());
        d.add(&entry(1_000, 0.5, EntryKind::Parse, "select $1"));
        d.add(&entry(1_001, 0.25, EntryKind::Bind, "select $1"));
        d.add(&entry(1_010, 2.0, EntryKind::Execute, "select $1"));
        d.add(&entry(9_000, 6000.0, EntryKind::Statement, "select pg_sleep(6)"));
        d.add(&entry(9_500, 1.0, EntryKind::Bare, ""));
        assert_eq!((d.statements, d.parse_bind, d.bare.0, d.over_threshold), (2, 2, 1, 1));
        assert_eq!(d.total_ms, 6002.0);
        assert_eq!(d.hold_ms, 6003.75);
        let select = d.get("select ?").unwrap();
        assert_eq!((select.count, select.hold_ms), (1, 2.75));
        assert_eq!(d.span, Some((999, 9_500)));
    }

    #[test]
    fn peak_concurrency_counts_overlap() {
        let mut d = Digest::new(settings());
        // Three statements overlapping during the second 10:
        d.add(&entry(11_000, 1000.0, EntryKind::Statement, "a"));
        d.add(&entry(11_000, 2000.0, EntryKind::Statement, "b"));
        d.add(&entry(10_500, 500.0, EntryKind::Statement, "c"));
        let (second, peak) = d.in_flight.peak().unwrap();
        assert_eq!(second, 10);
        assert_eq!(peak, 2.5);
        assert!((d.mean_concurrency() - 3500.0 / 2000.0).abs() < 1e-9);
    }

    #[test]
    fn a_statement_of_ten_or_a_hundred_years_costs_two_days_of_arrays() {
        const YEAR_MS: f64 = 365.0 * 86_400_000.0;
        for years in [10.0, 100.0] {
            let mut d = Digest::new(settings());
            let end = 1_795_000_000_000;
            d.add(&entry(
                end,
                years * YEAR_MS,
                EntryKind::Statement,
                "select pg_sleep(1e9)",
            ));
            // Its first and last second in arrays, the rest one range.
            assert_eq!(d.in_flight.footprint(), (2, 2));
            let (second, peak) = d.in_flight.peak().unwrap();
            assert_eq!(peak, 1.0);
            assert_eq!(second, (end - (years * YEAR_MS) as i64) / 1000);
            assert!((d.mean_concurrency() - 1.0).abs() < 1e-9);
        }
        // Absurd values never panic nor allocate without bound.
        for ms in [f64::MAX, f64::INFINITY, f64::NAN, -1.0, 1e308] {
            let mut d = Digest::new(settings());
            d.add(&entry(1_795_000_000_000, ms, EntryKind::Statement, "select 1"));
            d.add(&entry(i64::MIN + 5, ms, EntryKind::Bare, ""));
            d.add(&entry(i64::MAX - 5, ms, EntryKind::Statement, "select 1"));
            assert!(d.in_flight.footprint().0 <= 6, "{ms}");
            let _ = d.in_flight.peak();
        }
    }

    /// The earliest busiest second by brute force: every second of the span.
    fn peak_by_brute_force(intervals: &[(i64, i64)]) -> Option<(i64, f64)> {
        let first = intervals.iter().map(|i| i.0.div_euclid(1000)).min()?;
        let last = intervals.iter().map(|i| (i.1 - 1).div_euclid(1000)).max()?;
        let mut ms = vec![0u64; (last - first + 1) as usize];
        for &(a, b) in intervals {
            let mut t = a;
            while t < b {
                let s = t.div_euclid(1000);
                let next = ((s + 1) * 1000).min(b);
                ms[(s - first) as usize] += (next - t) as u64;
                t = next;
            }
        }
        let (i, v) = ms
            .iter()
            .enumerate()
            .fold((0, 0), |best, (i, &v)| if v > best.1 { (i, v) } else { best });
        Some((first + i as i64, v as f64 / 1000.0))
    }

    #[test]
    fn long_statements_give_the_peak_every_second_counted_gives() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..40 {
            let mut intervals = Vec::new();
            let base = 1_795_000_000_000i64 + next(86_400_000) as i64;
            for _ in 0..(1 + next(12)) {
                let end = base + next(5 * 86_400_000) as i64;
                let duration = match next(3) {
                    0 => next(3_000),
                    1 => next(4 * 86_400_000),
                    _ => 86_400_000 + next(2_000_000),
                } as i64;
                intervals.push((end - duration, end));
            }
            let mut whole = InFlight::default();
            let (mut a, mut b) = (InFlight::default(), InFlight::default());
            for (k, &(s, e)) in intervals.iter().enumerate() {
                whole.add(s, e);
                if k % 2 == 0 { a.add(s, e) } else { b.add(s, e) }
            }
            a.merge(b);
            let expected = peak_by_brute_force(&intervals.iter().copied().filter(|(s, e)| e > s).collect::<Vec<_>>());
            assert_eq!(whole.peak(), expected, "round {round}: {intervals:?}");
            assert_eq!(a.peak(), expected, "round {round} merged");
        }
    }

    #[test]
    fn merging_equals_digesting_everything_at_once() {
        let entries: Vec<LogEntry<'static>> = (0..200)
            .map(|i| {
                entry(
                    1_000 + i * 37,
                    f64::from(i as u32 % 17) + 0.5,
                    EntryKind::Statement,
                    if i % 3 == 0 { "select 1" } else { "update t set a = 2" },
                )
            })
            .collect();
        let mut whole = Digest::new(settings());
        entries.iter().for_each(|e| whole.add(e));
        let mut a = Digest::new(settings());
        let mut b = Digest::new(settings());
        entries[..77].iter().for_each(|e| a.add(e));
        entries[77..].iter().for_each(|e| b.add(e));
        a.merge(b);
        assert_eq!(
            (a.statements, a.total_ms, a.span),
            (whole.statements, whole.total_ms, whole.span)
        );
        for (fp, s) in whole.fingerprints() {
            let m = a.get(fp).unwrap();
            assert_eq!(
                (m.count, m.total_ms, m.max_ms, m.min_ms, m.first_ms, m.last_ms),
                (s.count, s.total_ms, s.max_ms, s.min_ms, s.first_ms, s.last_ms)
            );
            assert_eq!(m.histogram.quantile(0.95), s.histogram.quantile(0.95));
        }
        assert_eq!(a.in_flight.peak(), whole.in_flight.peak());
    }
}
