//! The clock of poolcap's outputs: `SOURCE_DATE_EPOCH` (the
//! reproducible-builds convention: seconds since 1970-01-01 UTC) when it is
//! set, so that two runs on the same inputs write the same bytes; else the
//! system clock. The dates in a review ("generated"), in a change-log entry
//! and the month `last` stands for all come from here.

/// The environment variable.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// Reads a `SOURCE_DATE_EPOCH` value: `None` when unset or empty.
pub fn parse_epoch(value: Option<&str>) -> Result<Option<jiff::Timestamp>, String> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let seconds: i64 = text.parse().map_err(|_| {
        format!("{SOURCE_DATE_EPOCH}={text:?} is not a whole number of seconds since 1970-01-01 UTC (e.g. 1764547200); unset it to use the clock")
    })?;
    jiff::Timestamp::from_second(seconds)
        .map(Some)
        .map_err(|_| format!("{SOURCE_DATE_EPOCH}={text:?} is outside the dates poolcap can write"))
}

/// `SOURCE_DATE_EPOCH` as set in the environment, checked.
pub fn check_environment() -> Result<Option<jiff::Timestamp>, String> {
    parse_epoch(std::env::var(SOURCE_DATE_EPOCH).ok().as_deref())
}

/// Now: `SOURCE_DATE_EPOCH` when set and valid (the command line checks it
/// before anything runs), else the system clock.
pub fn now() -> jiff::Timestamp {
    check_environment().ok().flatten().unwrap_or_else(jiff::Timestamp::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_is_whole_seconds_and_unset_means_the_clock() {
        assert_eq!(parse_epoch(None), Ok(None));
        assert_eq!(parse_epoch(Some("")), Ok(None));
        assert_eq!(
            parse_epoch(Some("1764547200")).unwrap().unwrap().to_string(),
            "2025-12-01T00:00:00Z"
        );
        for bad in ["1.5", "yesterday", "99999999999999999999", "-999999999999"] {
            assert!(parse_epoch(Some(bad)).is_err(), "{bad}");
        }
    }
}
