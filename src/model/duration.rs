//! Durations as people write them in `poolcap.toml` and on the command line:
//! `90s`, `5m`, `2h`, `1d`, or a combination such as `1h30m`.
//!
//! Invariant: a parsed duration is a whole, positive number of seconds, at most
//! [`crate::model::limits::MAX_DURATION_SECONDS`].

/// Parses a duration such as `5m`, `90s`, `1h30m` into seconds.
///
/// Units: `s`, `m`, `h`, `d`. A bare number is rejected: the unit is what tells
/// a reader whether `5` meant minutes or seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write it like \"5m\" or \"90s\"".into());
    }
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    for ch in text.chars() {
        if let Some(digit) = ch.to_digit(10) {
            let value = number.unwrap_or(0);
            number = Some(
                value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i64::from(digit)))
                    .ok_or_else(|| format!("duration {text:?} is too large"))?,
            );
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            ' ' => continue,
            other => {
                return Err(format!(
                    "unknown unit {other:?} in duration {text:?}; use s, m, h or d (e.g. \"5m\")"
                ));
            }
        };
        let value = number
            .take()
            .ok_or_else(|| format!("duration {text:?} has a unit without a number"))?;
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {text:?} is too large"))?;
    }
    if number.is_some() {
        return Err(format!(
            "duration {text:?} has a number without a unit; write e.g. \"5m\" or \"300s\""
        ));
    }
    if total <= 0 {
        return Err(format!("duration {text:?} must be longer than zero"));
    }
    if total > crate::model::limits::MAX_DURATION_SECONDS {
        return Err(format!(
            "duration {text:?} is longer than poolcap accepts (at most {}, ten years)",
            format_duration(crate::model::limits::MAX_DURATION_SECONDS)
        ));
    }
    Ok(total)
}

/// Parses a short duration with a fraction or milliseconds, for timing
/// flags: `50ms`, `1.5s`, `2m`, `1h`; `0s` is allowed (a timeout turned off).
/// A bare number is rejected, as in [`parse_duration`].
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, unit) = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((t, ""), |i| t.split_at(i));
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "" => return Err(format!("{text:?} has no unit; write e.g. \"50ms\", \"2s\" or \"1m\"")),
        other => return Err(format!("unknown unit {other:?} in {text:?}; use ms, s, m or h")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write e.g. \"50ms\", \"2s\" or \"1m\""))?;
    let seconds = value * scale;
    if !seconds.is_finite() || seconds > crate::model::limits::MAX_DURATION_SECONDS as f64 {
        return Err(format!("{text:?} is longer than poolcap accepts"));
    }
    Ok(seconds)
}

/// Formats seconds the way [`parse_duration`] reads them (`5m`, `1h30m`, `45s`).
pub fn format_duration(seconds: i64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    let mut rest = seconds.abs();
    let mut out = String::new();
    if seconds < 0 {
        out.push('-');
    }
    for (unit, name) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if rest >= unit {
            out.push_str(&(rest / unit).to_string());
            out.push(name);
            rest %= unit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations_take_fractions_and_milliseconds() {
        assert_eq!(parse_seconds("50ms"), Ok(0.05));
        assert_eq!(parse_seconds("1.5s"), Ok(1.5));
        assert_eq!(parse_seconds("2m"), Ok(120.0));
        assert_eq!(parse_seconds("0s"), Ok(0.0));
        for bad in ["50", "5x", "s", "-1s", "1e400s"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("5m"), Ok(300));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("1d 2h"), Ok(93_600));
    }

    #[test]
    fn rejects_ambiguous_or_empty() {
        assert!(parse_duration("5").unwrap_err().contains("without a unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("5 minutes").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("m").unwrap_err().contains("without a number"));
    }

    #[test]
    fn formats_back() {
        for s in [45, 300, 5400, 93_600, 86_461] {
            assert_eq!(parse_duration(&format_duration(s)), Ok(s));
        }
        assert_eq!(format_duration(300), "5m");
        assert_eq!(format_duration(5400), "1h30m");
    }
}
