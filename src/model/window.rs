//! Calendar months in the configured time zone, as half-open windows of Unix
//! seconds. A month starts at local midnight of its first day, so a month with
//! a DST change is an hour shorter or longer than 24 × days.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use jiff::tz::TimeZone;

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// Year.
    pub year: i16,
    /// Month, 1–12.
    pub month: i8,
}

impl Month {
    /// The month, in `tz`, that holds the instant `ms` (Unix milliseconds).
    pub fn containing_millis(ms: i64, tz: &TimeZone) -> Month {
        let z = jiff::Timestamp::from_millisecond(ms)
            .unwrap_or_default()
            .to_zoned_datetime(tz.clone());
        Month {
            year: z.year(),
            month: z.month(),
        }
    }

    /// The month before.
    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The month after.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// `[start, end)` of the month in Unix seconds, months taken in `tz`.
    pub fn window(self, tz: &TimeZone) -> Window {
        Window {
            start: local_midnight(self, tz),
            end: local_midnight(self.next(), tz),
        }
    }
}

fn local_midnight(month: Month, tz: &TimeZone) -> i64 {
    let date = Date::new(month.year, month.month, 1).expect("month is valid by construction");
    // Midnight may not exist on a DST-change day in some zones; jiff's compatible
    // disambiguation then takes the next valid instant, as a wall clock would.
    date.to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp().as_second())
        .expect("dates in range")
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("month {s:?} is not YYYY-MM (e.g. 2026-10)");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i16 = y.parse().map_err(|_| bad())?;
        let month: i8 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1970..=9998).contains(&year) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }
}

/// A calendar quarter, `YYYY-Qn`: January–March is Q1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    /// Year.
    pub year: i16,
    /// Quarter, 1–4.
    pub quarter: i8,
}

impl Quarter {
    /// The quarter that holds `month`.
    pub fn of(month: Month) -> Quarter {
        Quarter {
            year: month.year,
            quarter: (month.month - 1) / 3 + 1,
        }
    }

    /// Its three months, in order.
    pub fn months(self) -> [Month; 3] {
        let first = Month {
            year: self.year,
            month: (self.quarter - 1) * 3 + 1,
        };
        [first, first.next(), first.next().next()]
    }

    /// The quarter before.
    pub fn previous(self) -> Quarter {
        Quarter::of(self.months()[0].previous())
    }

    /// `[start of its first month, end of its last)` in `tz`.
    pub fn window(self, tz: &TimeZone) -> Window {
        let [first, _, last] = self.months();
        Window {
            start: first.window(tz).start,
            end: last.window(tz).end,
        }
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-Q{}", self.year, self.quarter)
    }
}

impl FromStr for Quarter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("quarter {s:?} is not YYYY-Qn (e.g. 2026-Q4)");
        let (y, q) = s.split_once(['-']).ok_or_else(bad)?;
        let q = q.strip_prefix(['Q', 'q']).ok_or_else(bad)?;
        if y.len() != 4 || q.len() != 1 {
            return Err(bad());
        }
        let year: i16 = y.parse().map_err(|_| bad())?;
        let quarter: i8 = q.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&quarter) || !(1970..=9998).contains(&year) {
            return Err(bad());
        }
        Ok(Quarter { year, quarter })
    }
}

/// A half-open span of Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First second inside.
    pub start: i64,
    /// First second after.
    pub end: i64,
}

impl Window {
    /// Length in seconds.
    pub fn seconds(self) -> i64 {
        self.end - self.start
    }

    /// The part of `[a, b)` inside the window, if any.
    pub fn clip(self, a: i64, b: i64) -> Option<(i64, i64)> {
        let lo = a.max(self.start);
        let hi = b.min(self.end);
        (lo < hi).then_some((lo, hi))
    }

    /// Whether the instant lies inside.
    pub fn contains(self, t: i64) -> bool {
        self.start <= t && t < self.end
    }
}

/// Formats Unix seconds as RFC 3339 in `tz` (e.g. `2026-10-05T08:12:00+01:00`).
pub fn format_instant(ts: i64, tz: &TimeZone) -> String {
    match jiff::Timestamp::from_second(ts) {
        Ok(t) => {
            let zoned = t.to_zoned_datetime(tz.clone());
            zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
        }
        Err(_) => ts.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let m: Month = "2026-10".parse().unwrap();
        assert_eq!(m, Month { year: 2026, month: 10 });
        assert_eq!(m.to_string(), "2026-10");
        assert_eq!(m.previous().to_string(), "2026-09");
        assert_eq!(Month { year: 2026, month: 12 }.next().to_string(), "2027-01");
        assert!("2026-13".parse::<Month>().is_err());
        assert!("2026-1".parse::<Month>().is_err());
        assert!("october".parse::<Month>().is_err());
    }

    #[test]
    fn quarters_parse_print_and_hold_their_months() {
        let q: Quarter = "2026-Q4".parse().unwrap();
        assert_eq!(q.to_string(), "2026-Q4");
        assert_eq!(q.months().map(|m| m.to_string()), ["2026-10", "2026-11", "2026-12"]);
        assert_eq!(q.previous().to_string(), "2026-Q3");
        assert_eq!("2027-q1".parse::<Quarter>().unwrap().previous().to_string(), "2026-Q4");
        assert_eq!(Quarter::of(Month { year: 2026, month: 9 }).to_string(), "2026-Q3");
        for bad in ["2026-Q5", "2026-Q0", "2026Q4", "2026-4", "26-Q4", "2026-Q44"] {
            assert!(bad.parse::<Quarter>().is_err(), "{bad}");
        }
        let tz = TimeZone::get("Europe/London").unwrap();
        let w = q.window(&tz);
        assert_eq!(w.start, Month { year: 2026, month: 10 }.window(&tz).start);
        assert_eq!(w.end, Month { year: 2027, month: 1 }.window(&tz).start);
    }

    #[test]
    fn london_october_has_an_extra_hour() {
        let tz = TimeZone::get("Europe/London").unwrap();
        let oct = Month { year: 2026, month: 10 }.window(&tz);
        assert_eq!(oct.seconds(), 31 * 86_400 + 3600);
        // October starts at local midnight, which is 23:00 UTC the day before (BST).
        assert_eq!(format_instant(oct.start, &TimeZone::UTC), "2026-09-30T23:00:00+00:00");
        let mar = Month { year: 2026, month: 3 }.window(&tz);
        assert_eq!(mar.seconds(), 31 * 86_400 - 3600);
        let utc = Month { year: 2026, month: 10 }.window(&TimeZone::UTC);
        assert_eq!(utc.seconds(), 31 * 86_400);
    }

    #[test]
    fn clip_is_half_open() {
        let w = Window { start: 10, end: 20 };
        assert_eq!(w.clip(0, 10), None);
        assert_eq!(w.clip(5, 15), Some((10, 15)));
        assert_eq!(w.clip(19, 30), Some((19, 20)));
        assert_eq!(w.clip(20, 30), None);
    }
}
