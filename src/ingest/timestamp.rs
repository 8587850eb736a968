//! Timestamps in metric files: RFC 3339 with an offset, or Unix seconds.
//!
//! The common shapes (`2026-10-01T08:00:00Z`, `2026-10-01 08:00:00+01:00`,
//! `1790000000`, with or without fractions) take a hand-written fast path, because
//! this runs once per row of multi-gigabyte files; anything else goes to jiff's
//! full parser. Fractions of a second are truncated: poolcap works in whole
//! seconds. A timestamp without an offset is rejected: it names no instant.
//!
//! Logs are the exception: [`parse_local_time`] (the times of `pool.status()`
//! log lines) also takes `,` fractions and `±HHMM` offsets, and reads a time
//! without an offset as local time in the configured zone.

use jiff::tz::{AmbiguousOffset, TimeZone};

/// Parses a timestamp into Unix seconds (UTC).
pub fn parse_timestamp(field: &[u8]) -> Result<i64, String> {
    // Fast path: plain Unix seconds (10 digits until 2286).
    if field.len() == 10 && field.iter().all(u8::is_ascii_digit) {
        return Ok(field.iter().fold(0i64, |v, &b| v * 10 + i64::from(b - b'0')));
    }
    let field = trim(field);
    if field.is_empty() {
        return Err("empty timestamp".into());
    }
    if field[0].is_ascii_digit() && field.len() <= 20 && !field.contains(&b'-') {
        return parse_unix(field);
    }
    if let Some(ts) = parse_rfc3339_fast(field) {
        return Ok(ts);
    }
    let text = std::str::from_utf8(field).map_err(|_| "timestamp is not UTF-8".to_string())?;
    match text.parse::<jiff::Timestamp>() {
        Ok(ts) => Ok(ts.as_second()),
        Err(err) => {
            if text.parse::<jiff::civil::DateTime>().is_ok() {
                Err(format!(
                    "timestamp {} has no UTC offset; write it as RFC 3339 with an offset (e.g. \"{text}Z\") or as Unix seconds",
                    super::quote(field)
                ))
            } else {
                Err(format!(
                    "bad timestamp {}: {}",
                    super::quote(field),
                    super::clip(&err.to_string())
                ))
            }
        }
    }
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn parse_unix(field: &[u8]) -> Result<i64, String> {
    let (int, frac) = match field.iter().position(|&b| b == b'.') {
        Some(dot) => (&field[..dot], &field[dot + 1..]),
        None => (field, &[][..]),
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) || !frac.iter().all(u8::is_ascii_digit) {
        return Err(format!("bad timestamp {}", super::quote(field)));
    }
    let mut value: i64 = 0;
    for &b in int {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(|| format!("timestamp {} is out of range", super::quote(field)))?;
    }
    // Unix seconds beyond year 9999 are surely milliseconds or garbage.
    if value > 253_402_300_799 {
        return Err(format!(
            "timestamp {} is out of range for Unix seconds (milliseconds?)",
            super::quote(field)
        ));
    }
    Ok(value)
}

/// Whether `s` starts like `YYYY-MM-DD[T ]HH:MM:SS` (the separators only;
/// the digits are read by the caller).
fn civil_shape(s: &[u8]) -> bool {
    s.len() >= 19
        && s[4] == b'-'
        && s[7] == b'-'
        && matches!(s[10], b'T' | b't' | b' ')
        && s[13] == b':'
        && s[16] == b':'
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fff…](Z|±HH:MM)`; `None` for anything else.
fn parse_rfc3339_fast(s: &[u8]) -> Option<i64> {
    if s.len() < 20 || !civil_shape(s) {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    let hour = digits(&s[11..13])?;
    let minute = digits(&s[14..16])?;
    let second = digits(&s[17..19])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &s[19..];
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &tail[n..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2])?;
            let m = digits(&[*m1, *m2])?;
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The value of a run of ASCII digits; `None` when empty or not all digits.
fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |v, &b| v * 10 + i64::from(b - b'0')))
}

/// A civil date and time with an optional offset in seconds:
/// `YYYY-MM-DD[T ]HH:MM:SS[(.|,)fff…][Z|±HH:MM|±HHMM]`; `None` for other shapes.
fn parse_civil(s: &[u8]) -> Option<(jiff::civil::DateTime, Option<i32>)> {
    if !civil_shape(s) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits(&s[r]);
    let dt = jiff::civil::DateTime::new(
        i16::try_from(n(0..4)?).ok()?,
        i8::try_from(n(5..7)?).ok()?,
        i8::try_from(n(8..10)?).ok()?,
        i8::try_from(n(11..13)?).ok()?,
        i8::try_from(n(14..16)?).ok()?,
        i8::try_from(n(17..19)?).ok()?,
        0,
    )
    .ok()?;
    let mut rest = &s[19..];
    if let [b'.' | b',', tail @ ..] = rest {
        let n = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &tail[n..];
    }
    let offset = match rest {
        [] => None,
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = i32::try_from(h * 3600 + m * 60).ok()?;
            Some(if *sign == b'-' { -off } else { off })
        }
        _ => return None,
    };
    Some((dt, offset))
}

/// Unix seconds of a civil time given with an offset.
fn with_offset(dt: jiff::civil::DateTime, offset: i32) -> i64 {
    let days = days_from_civil(i64::from(dt.year()), i64::from(dt.month()), i64::from(dt.day()));
    days * 86_400 + i64::from(dt.hour()) * 3600 + i64::from(dt.minute()) * 60 + i64::from(dt.second())
        - i64::from(offset)
}

fn zone_name(tz: &TimeZone) -> String {
    tz.iana_name()
        .map_or_else(|| "the configured zone".to_string(), str::to_string)
}

/// A log's time text as Unix seconds: `YYYY-MM-DD HH:MM:SS` (or `T`), a
/// fraction after `.` or `,`, an optional `Z`, `±HH:MM` or `±HHMM`; else what
/// [`parse_timestamp`] takes. A time without an offset is local in `tz`: a
/// repeated time (DST fall-back) is the earlier instant, a skipped one an error.
/// (`pool.status()` logs: the prefix's `ts` group.)
pub(crate) fn parse_local_time(text: &str, tz: &TimeZone) -> Result<i64, String> {
    let field = text.trim().as_bytes();
    if field.is_empty() {
        return Err("empty timestamp".into());
    }
    match parse_civil(field) {
        Some((dt, Some(offset))) => Ok(with_offset(dt, offset)),
        Some((dt, None)) => match tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => Ok(with_offset(dt, offset.seconds())),
            // The clocks went back and showed this time twice: the earlier
            // instant, before the change (jiff's and Python's "compatible").
            AmbiguousOffset::Fold { before, .. } => Ok(with_offset(dt, before.seconds())),
            AmbiguousOffset::Gap { before, after } => Err(format!(
                "local time {dt} does not exist in {zone}: the clocks went from {before} to {after} over it; \
                 is [pool_status] timezone the zone this log was written in?",
                dt = dt.strftime("%Y-%m-%d %H:%M:%S"),
                zone = zone_name(tz),
            )),
        },
        None => parse_timestamp(field).map_err(|_| {
            format!(
                "bad timestamp {}: expected YYYY-MM-DD HH:MM:SS[,fff][±HH:MM], RFC 3339 or Unix seconds",
                super::quote(text.as_bytes())
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jiff_seconds(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    #[test]
    fn fast_path_agrees_with_jiff() {
        for s in [
            "2026-10-01T08:00:00Z",
            "2026-10-25T01:30:00+01:00",
            "2026-03-29T00:59:59.999Z",
            "2024-02-29T23:59:59-05:30",
            "1970-01-01T00:00:00Z",
            "2026-10-01 08:00:00+00:00",
        ] {
            assert_eq!(parse_timestamp(s.as_bytes()), Ok(jiff_seconds(s)), "{s}");
        }
    }

    #[test]
    fn unix_seconds_with_fraction() {
        assert_eq!(parse_timestamp(b"1790000000"), Ok(1_790_000_000));
        assert_eq!(parse_timestamp(b" 1790000000.75 "), Ok(1_790_000_000));
        assert!(parse_timestamp(b"1790000000000").unwrap_err().contains("milliseconds"));
    }

    #[test]
    fn rejects_missing_offset_and_garbage() {
        assert!(
            parse_timestamp(b"2026-10-01T08:00:00")
                .unwrap_err()
                .contains("no UTC offset")
        );
        assert!(parse_timestamp(b"2026-02-30T08:00:00Z").is_err());
        assert!(parse_timestamp(b"yesterday").is_err());
        assert!(parse_timestamp(b"").is_err());
    }

    #[test]
    fn slow_path_takes_other_rfc3339_shapes() {
        // Offsets with seconds precision are rare but legal for jiff.
        assert_eq!(
            parse_timestamp(b"2026-10-01T08:00:00.123456789+01:00"),
            Ok(jiff_seconds("2026-10-01T07:00:00Z"))
        );
    }
}
