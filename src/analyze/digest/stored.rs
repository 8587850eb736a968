//! The stored form of a digest: what `ingest slowlog` keeps per month and
//! log in the history store so that months merge later (the quarterly
//! slow-query review, `plan` and `review` reading the store) exactly as if
//! their logs had been digested together. Every number the digest keeps is
//! here: counts, sums, the 2 % histogram buckets per fingerprint, database and
//! user pairs, hours of day, and the milliseconds in flight per second (so the
//! peak of merged months is the peak of their seconds summed, not the larger
//! monthly peak). Never the statements' text or parameters, which may hold
//! patient data. Fingerprints are in order of their text, so the same digest
//! always serializes to the same bytes.

use serde::{Deserialize, Serialize};

use super::{Digest, DigestSettings, FingerprintStats, Histogram, InFlight, StoredInFlight};

/// The version of the stored form this poolcap writes and reads.
pub const STORED_VERSION: u32 = 1;

/// A digest as stored (`slowlog_digests.mergeable`, docs/slowlogs.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDigest {
    /// [`STORED_VERSION`].
    pub version: u32,
    /// The threshold statements were counted over, ms.
    pub threshold_ms: f64,
    /// The zone of the hours of day (IANA name).
    pub timezone: String,
    /// Executed statements.
    pub statements: u64,
    /// Their summed duration, ms.
    pub total_ms: f64,
    /// Plus parse and bind time and bare durations, ms.
    pub hold_ms: f64,
    /// Parse and bind entries.
    pub parse_bind: u64,
    /// Bare `duration:` lines.
    pub bare: u64,
    /// Their ms.
    pub bare_ms: f64,
    /// MySQL administrator commands.
    pub admin: u64,
    /// Statements over the threshold.
    pub over_threshold: u64,
    /// Earliest start and latest end, Unix ms.
    pub span: Option<(i64, i64)>,
    /// Statements counted under the overflow row.
    pub overflowed: u64,
    /// Per fingerprint, in order of the fingerprint's text.
    pub fingerprints: Vec<StoredFingerprint>,
    /// Milliseconds in flight per second.
    pub in_flight: StoredInFlight,
}

/// One fingerprint of a [`StoredDigest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFingerprint {
    /// The normalized statement.
    pub fingerprint: String,
    /// Executed statements.
    pub count: u64,
    /// Their summed duration, ms.
    pub total_ms: f64,
    /// Plus parse and bind, ms.
    pub hold_ms: f64,
    /// Shortest, ms.
    pub min_ms: f64,
    /// Longest, ms.
    pub max_ms: f64,
    /// Over the threshold.
    pub over_threshold: u64,
    /// First and last end time, Unix ms.
    pub first_ms: i64,
    /// See `first_ms`.
    pub last_ms: i64,
    /// Histogram buckets: (bucket number, statements), counted ones only.
    pub buckets: Vec<(i32, u32)>,
    /// (database, user, statements).
    pub by_database_user: Vec<(String, String, u64)>,
    /// Statements per hour of day.
    pub hours: Vec<u64>,
}

fn zone_name(tz: &jiff::tz::TimeZone) -> String {
    tz.iana_name().unwrap_or("UTC").to_string()
}

impl Digest {
    /// The stored form of this digest (samples are never stored).
    pub fn to_stored(&self) -> StoredDigest {
        let mut fingerprints: Vec<StoredFingerprint> = self
            .fingerprints
            .iter()
            .map(|(fp, s)| StoredFingerprint {
                fingerprint: fp.clone(),
                count: s.count,
                total_ms: s.total_ms,
                hold_ms: s.hold_ms,
                min_ms: s.min_ms,
                max_ms: s.max_ms,
                over_threshold: s.over_threshold,
                first_ms: s.first_ms,
                last_ms: s.last_ms,
                buckets: s.histogram.to_pairs(),
                by_database_user: s.by_database_user.clone(),
                hours: s.hours.to_vec(),
            })
            .collect();
        fingerprints.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        StoredDigest {
            version: STORED_VERSION,
            threshold_ms: self.settings.threshold_ms,
            timezone: zone_name(&self.settings.timezone),
            statements: self.statements,
            total_ms: self.total_ms,
            hold_ms: self.hold_ms,
            parse_bind: self.parse_bind,
            bare: self.bare.0,
            bare_ms: self.bare.1,
            admin: self.admin,
            over_threshold: self.over_threshold,
            span: self.span,
            overflowed: self.overflowed,
            fingerprints,
            in_flight: self.in_flight.to_stored(),
        }
    }

    /// The digest of a stored form, to merge with others made with
    /// `settings`; an error (a sentence) when it was made with another
    /// threshold or zone, by another version, or is damaged.
    pub fn from_stored(stored: &StoredDigest, settings: &DigestSettings) -> Result<Digest, String> {
        if stored.version != STORED_VERSION {
            return Err(format!(
                "it is of version {} of the stored form; this poolcap reads version {STORED_VERSION}",
                stored.version
            ));
        }
        if stored.threshold_ms != settings.threshold_ms {
            return Err(format!(
                "it counted statements over {} s, and this run's threshold is {} s; ingest the log again with this threshold",
                stored.threshold_ms / 1000.0,
                settings.threshold_ms / 1000.0
            ));
        }
        let zone = zone_name(&settings.timezone);
        if stored.timezone != zone {
            return Err(format!(
                "its hours of day are in {}, and this run's zone is {zone}; ingest the log again with this zone",
                stored.timezone
            ));
        }
        let mut digest = Digest::new(settings.clone());
        digest.statements = stored.statements;
        digest.total_ms = stored.total_ms;
        digest.hold_ms = stored.hold_ms;
        digest.parse_bind = stored.parse_bind;
        digest.bare = (stored.bare, stored.bare_ms);
        digest.admin = stored.admin;
        digest.over_threshold = stored.over_threshold;
        digest.span = stored.span;
        digest.overflowed = stored.overflowed;
        digest.in_flight = InFlight::from_stored(&stored.in_flight)?;
        for f in &stored.fingerprints {
            let histogram = Histogram::from_pairs(&f.buckets)
                .ok_or_else(|| format!("the histogram of {:?} is damaged", f.fingerprint))?;
            let hours: [u64; 24] = f
                .hours
                .as_slice()
                .try_into()
                .map_err(|_| format!("the hours of {:?} are not 24", f.fingerprint))?;
            if digest.index.contains_key(&f.fingerprint) {
                return Err(format!("{:?} is stored twice", f.fingerprint));
            }
            let stats = FingerprintStats {
                count: f.count,
                total_ms: f.total_ms,
                hold_ms: f.hold_ms,
                min_ms: f.min_ms,
                max_ms: f.max_ms,
                over_threshold: f.over_threshold,
                histogram,
                first_ms: f.first_ms,
                last_ms: f.last_ms,
                by_database_user: f.by_database_user.clone(),
                hours,
                sample: None,
            };
            digest
                .index
                .insert(f.fingerprint.clone(), digest.fingerprints.len() as u32);
            digest.fingerprints.push((f.fingerprint.clone(), stats));
        }
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::fingerprint::Dialect;
    use crate::model::slowlog::{EntryKind, LogEntry};
    use std::borrow::Cow;

    fn settings() -> DigestSettings {
        DigestSettings {
            dialect: Dialect::Postgres,
            threshold_ms: 5000.0,
            timezone: jiff::tz::TimeZone::get("Europe/London").unwrap(),
            since_ms: None,
            until_ms: None,
            keep_samples: false,
        }
    }

    fn add(d: &mut Digest, end_ms: i64, ms: f64, text: &str, db: &'static str) {
        d.add(&LogEntry {
            end_ms,
            duration_ms: ms,
            kind: EntryKind::Statement,
            database: Some(Cow::Borrowed(db)),
            user: Some(Cow::Borrowed("app")),
            text: Cow::Owned(text.to_string()),
            parameters: None,
            line: 1,
        });
    }

    /// Two months that overlap at their boundary second, digested apart,
    /// stored, read back and merged, give what digesting them together gives:
    /// counts, sums, every quantile and the peak second.
    #[test]
    fn stored_months_merge_as_if_digested_together() {
        let boundary = 1_793_487_600_000i64; // 2026-11-01T00:00:00Z
        let mut whole = Digest::new(settings());
        let mut october = Digest::new(settings());
        let mut november = Digest::new(settings());
        for i in 0..400i64 {
            let end = boundary - 200_000 + i * 997;
            let ms = (i % 13) as f64 * 731.5 + 0.25;
            let text = if i % 3 == 0 {
                "select * from beds where id = 1"
            } else {
                "update t set a = 'x'"
            };
            let db = if i % 2 == 0 { "clinic" } else { "audit" };
            add(&mut whole, end, ms, text, db);
            add(
                if end < boundary { &mut october } else { &mut november },
                end,
                ms,
                text,
                db,
            );
        }
        let back = |d: &Digest| {
            let text = serde_json::to_string(&d.to_stored()).unwrap();
            Digest::from_stored(&serde_json::from_str(&text).unwrap(), &settings()).unwrap()
        };
        let mut merged = back(&october);
        merged.merge(back(&november));
        assert_eq!(merged.to_stored(), whole.to_stored());
        assert_eq!(merged.in_flight.peak(), whole.in_flight.peak());
        for (fp, s) in whole.fingerprints() {
            let m = merged.get(fp).unwrap();
            for p in [0.5, 0.95, 0.99] {
                assert_eq!(m.histogram.quantile(p), s.histogram.quantile(p));
            }
            assert_eq!(m.hours, s.hours);
        }
    }

    #[test]
    fn another_threshold_or_zone_or_a_damaged_form_is_refused_with_a_sentence() {
        let mut d = Digest::new(settings());
        add(&mut d, 1_793_487_600_000, 6000.0, "select 1", "clinic");
        let stored = d.to_stored();
        let other = DigestSettings {
            threshold_ms: 2000.0,
            ..settings()
        };
        let e = Digest::from_stored(&stored, &other).unwrap_err();
        assert!(e.contains("over 5 s") && e.contains("2 s"), "{e}");
        let utc = DigestSettings {
            timezone: jiff::tz::TimeZone::UTC,
            ..settings()
        };
        assert!(
            Digest::from_stored(&stored, &utc)
                .unwrap_err()
                .contains("Europe/London")
        );
        let mut damaged = stored.clone();
        damaged.in_flight.days[0].seconds = "AAAA".into();
        assert!(
            Digest::from_stored(&damaged, &settings())
                .unwrap_err()
                .contains("damaged")
        );
        let mut twice = stored.clone();
        twice.fingerprints.push(twice.fingerprints[0].clone());
        assert!(Digest::from_stored(&twice, &settings()).unwrap_err().contains("twice"));
        let mut hist = stored;
        hist.fingerprints[0].buckets = vec![(9, 1), (3, 1)];
        assert!(
            Digest::from_stored(&hist, &settings())
                .unwrap_err()
                .contains("histogram")
        );
    }
}
