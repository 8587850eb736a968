//! Pool metrics from application logs: lines carrying the text of SQLAlchemy's
//! `QueuePool.status()` (the same in 1.4 and 2.0), as a backend's monitor
//! thread logs it, e.g.
//! `2026-11-27 12:26:44,457 INFO [app.pool_monitor] Pool size: 5  Connections in pool: 1 Current Overflow: -3 Current Checked out connections: 1`.
//!
//! Owns: reading such a log line by line (bytes; non-UTF-8 and CRLF are fine;
//! memory bounded by [`MAX_LINE`], whatever the file size) into [`Sample`]s,
//! and counting the `QueuePool limit … reached` timeouts the same log shows.
//!
//! Rows and other lines:
//! - A line holding `Pool size:` or `Checked out connections:` is a row; every
//!   other line is another log line, skipped without a diagnostic (it is not a
//!   row). A row's four fields must be there in `status()` order, each a whole
//!   number, or the row is rejected (`bad-status` for a garbled text,
//!   `bad-number` for a number that is not one, is out of range, is negative
//!   where it cannot be, or a `Pool size` of 0). The four numbers need not add
//!   up (`checked_out = size − in pool + overflow`): `status()` reads them
//!   without the pool's lock, so a line written during a checkout can be off
//!   by one, and such lines are real, not corrupt.
//! - The row's prefix must match `[pool_status] prefix` at the start of the
//!   line (else `no-timestamp`); its group `ts` is the time: `YYYY-MM-DD
//!   HH:MM:SS` or with `T`, an optional fraction after `.` or `,` (Python's
//!   `asctime` writes `,123`), an optional `Z`, `±HH:MM` or `±HHMM`; other
//!   RFC 3339 forms; or Unix seconds. A time without an offset is local time in
//!   `[pool_status] timezone`: a time the clocks repeat (DST fall-back) is the
//!   earlier instant, as Python's and jiff's "compatible" rule does; a time the
//!   clocks skipped (spring-forward gap) cannot have been written by a correct
//!   clock in that zone, so the row is rejected (`bad-timestamp`, naming the
//!   gap) rather than guessed. Fractions of a second are truncated, and the
//!   lines of one pool within one second (a monitor logging twice a second)
//!   become one sample: the busiest line's (highest `checked_out /
//!   pool_size`), so a peak is never averaged away, with the latest timeouts
//!   count. Such lines count as rows, neither accepted nor rejected, and a
//!   notice (`same-second`) says how many were folded. Samples are passed on
//!   one line late per pool, so memory stays one sample per pool.
//! - Service: the prefix's group `service`, else `--service`, else the row is
//!   rejected (`missing-field`). Instance: the group `instance`, else the file
//!   name up to its first `.` (`web-1.log.1` → `web-1`), so the rotated files of
//!   one process stay one instance.
//!
//! Timeouts: SQLAlchemy raises `sqlalchemy.exc.TimeoutError: QueuePool limit of
//! size 5 overflow 3 reached, connection timed out, timeout 2.00 (…)`; a line
//! holding that text (an app's warning, or the last line of a
//! `logger.exception` traceback) counts one timeout (an app that logs one
//! timeout on two such lines counts it twice). Every sample of the file
//! carries `timeouts = Some(timeouts of its series seen so far in this file)`,
//! starting at 0 (the analysis counts increases between samples, so a counter
//! that only appeared with the first timeout would lose that timeout), and,
//! from the first timeout on, `max_overflow` = the message's `overflow N`. A
//! timeout line whose own prefix names its pool (or whose pool the file name
//! and `--service` give) counts for that pool; a line without the prefix (a
//! traceback's last line) counts for the pool of the latest status line before
//! it, or the first one after it. Timeouts before a file's first status line
//! are part of that first sample's count, which the analysis takes as the
//! baseline. `waiting` is never known from `status()`: `None`.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use jiff::tz::{AmbiguousOffset, TimeZone};

use super::timestamp::{days_from_civil, parse_timestamp};
use super::{
    Diagnostic, Diagnostics, FileSummary, IngestError, ReadContext, ReadOptions, RowError, Sample, SeriesId,
    SeriesTable, check_pool_size, finish, row_error, take_row,
};

/// Text every `pool.status()` line holds (content detection).
pub const MARKER: &[u8] = b"Checked out connections: ";

/// Where `status()`'s text begins.
const STATUS: &[u8] = b"Pool size:";

/// What a QueuePool timeout's message holds, before `N overflow M reached`.
const TIMEOUT: &[u8] = b"QueuePool limit of size ";

/// Bytes of a line that are looked at; the rest of a longer line is skipped,
/// so one line without a newline cannot take the memory of the whole file.
pub const MAX_LINE: usize = 1 << 20;

/// The four numbers of `status()`, in the order it writes them.
const FIELDS: [&str; 4] = [
    "Pool size:",
    "Connections in pool:",
    "Current Overflow:",
    "Current Checked out connections:",
];

/// What one series has shown of its timeouts so far in this file.
#[derive(Debug, Clone, Copy, Default)]
struct Timeouts {
    count: u64,
    max_overflow: Option<u32>,
}

impl Timeouts {
    fn add(&mut self, other: Timeouts) {
        self.count += other.count;
        if other.max_overflow.is_some() {
            self.max_overflow = other.max_overflow;
        }
    }
}

/// The numbers of one `status()` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Status {
    pool_size: u32,
    checked_out: u32,
}

/// Reads one line (up to and without its `\n`, at most [`MAX_LINE`] bytes of
/// it kept) into `buf`; the number of bytes consumed, 0 at the end.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.clear();
    let mut consumed = 0;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        let keep = if done { take - 1 } else { take };
        buf.extend_from_slice(&chunk[..keep.min(room)]);
        reader.consume(take);
        consumed += take;
        if done {
            return Ok(consumed);
        }
    }
}

/// A whole number of `status()` or of a timeout message: the maximal run of
/// number-like bytes at the start of `text`, and what follows it.
fn number<'a>(text: &'a [u8], label: &str) -> Result<(i64, &'a [u8]), RowError> {
    let len = text
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.' | b'_'))
        .count();
    let (token, rest) = text.split_at(len);
    let shown = || super::quote(token);
    if token.is_empty() {
        return Err(row_error("bad-status", format!("no number after {label:?}")));
    }
    let (negative, digits) = match token {
        [b'-', d @ ..] => (true, d),
        d => (false, d),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(row_error(
            "bad-number",
            format!("{label} {} is not a whole number", shown()),
        ));
    }
    let mut value: i64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .ok_or_else(|| {
                row_error(
                    "bad-number",
                    format!(
                        "{label} {} is out of range",
                        super::clip(&String::from_utf8_lossy(token))
                    ),
                )
            })?;
    }
    Ok((if negative { -value } else { value }, rest))
}

/// A count that `status()` never writes negative and poolcap keeps in a `u32`.
fn count(value: i64, label: &str) -> Result<u32, RowError> {
    if value < 0 {
        return Err(row_error("bad-number", format!("{label} {value} is negative")));
    }
    u32::try_from(value).map_err(|_| row_error("bad-number", format!("{label} {value} is out of range")))
}

/// Parses `status()`'s text, which `text` starts with.
fn parse_status(text: &[u8]) -> Result<Status, RowError> {
    let mut rest = text;
    let mut values = [0i64; 4];
    for (i, label) in FIELDS.iter().enumerate() {
        rest = rest.trim_ascii_start();
        let Some(after) = rest.strip_prefix(label.as_bytes()) else {
            let found = String::from_utf8_lossy(&rest[..rest.len().min(40)]);
            return Err(row_error(
                "bad-status",
                format!("garbled pool.status() text: expected {label:?}, found {found:?}"),
            ));
        };
        let name = label.trim_end_matches(':');
        let (value, after) = number(after.trim_ascii_start(), name)?;
        values[i] = value;
        rest = after;
    }
    let pool_size = count(values[0], "Pool size")?;
    check_pool_size(u64::from(pool_size), "Pool size")?;
    count(values[1], "Connections in pool")?;
    if i32::try_from(values[2]).is_err() {
        return Err(row_error(
            "bad-number",
            format!("Current Overflow {} is out of range", values[2]),
        ));
    }
    let checked_out = count(values[3], "Current Checked out connections")?;
    Ok(Status { pool_size, checked_out })
}

/// `overflow N` of a timeout message that `text` starts after
/// [`TIMEOUT`]; `None` when it is not `SIZE overflow N reached` (e.g. the
/// `%d` of SQLAlchemy's source quoted in a traceback).
fn timeout_overflow(text: &[u8]) -> Option<u32> {
    let (_, rest) = number(text, "size").ok()?;
    let rest = rest.strip_prefix(b" overflow ")?;
    let (overflow, rest) = number(rest, "overflow").ok()?;
    rest.starts_with(b" reached").then_some(())?;
    u32::try_from(overflow).ok()
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |v, &b| v * 10 + i64::from(b - b'0')))
}

/// A civil date and time with an optional offset in seconds:
/// `YYYY-MM-DD[T ]HH:MM:SS[(.|,)fff…][Z|±HH:MM|±HHMM]`; `None` for other shapes.
fn parse_civil(s: &[u8]) -> Option<(jiff::civil::DateTime, Option<i32>)> {
    if s.len() < 19
        || s[4] != b'-'
        || s[7] != b'-'
        || !matches!(s[10], b'T' | b't' | b' ')
        || s[13] != b':'
        || s[16] != b':'
    {
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

/// The `ts` group's text as Unix seconds; a time without an offset is local in `tz`.
fn parse_time(text: &str, tz: &TimeZone) -> Result<i64, String> {
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

/// The file name up to its first `.` (`web-1.log.1` → `web-1`), else `default`.
fn instance_from(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    match name.split('.').next() {
        Some(stem) if !stem.trim().is_empty() => stem.trim().to_string(),
        _ => "default".to_string(),
    }
}

/// A named group's text when it took part in the match and is not blank.
fn group<'a>(caps: &regex::Captures<'a>, name: &str) -> Option<&'a str> {
    caps.name(name).map(|m| m.as_str().trim()).filter(|s| !s.is_empty())
}

/// The prefix's captures when it matches at the start of `line`.
fn prefix<'a>(opts: &ReadOptions, line: &'a str) -> Option<regex::Captures<'a>> {
    opts.pool_status
        .prefix
        .captures(line)
        .filter(|c| c.get(0).is_some_and(|m| m.start() == 0))
}

/// Per-file state: how series are named, and the timeouts seen.
struct Reader<'o> {
    opts: &'o ReadOptions,
    instance: String,
    file: u32,
    /// Timeouts per series id.
    timeouts: Vec<Timeouts>,
    /// Timeouts seen before any status line could take them.
    pending: Timeouts,
    /// The series of the latest accepted status line.
    last: Option<SeriesId>,
    /// Per series id, the sample of its latest second, held back until a
    /// line of a later second (or the end) shows no more will join it.
    held: Vec<Option<Sample>>,
    /// Status lines folded into another of the same pool and second.
    merged: u64,
}

impl Reader<'_> {
    fn track(&mut self, id: SeriesId) -> &mut Timeouts {
        let i = id as usize;
        if self.timeouts.len() <= i {
            self.timeouts.resize(i + 1, Timeouts::default());
        }
        &mut self.timeouts[i]
    }

    /// The series a line's captures name, with `--service` and the file name
    /// filling in missing groups.
    fn series_of(&self, caps: &regex::Captures<'_>, series: &mut SeriesTable) -> Result<SeriesId, RowError> {
        let service = group(caps, "service").or(self.opts.service.as_deref()).ok_or_else(|| {
            row_error(
                "missing-field",
                "no service: give --service, or a (?P<service>…) group in [pool_status] prefix".into(),
            )
        })?;
        let instance = group(caps, "instance").unwrap_or(&self.instance);
        Ok(series.intern(service.as_bytes(), instance.as_bytes()))
    }

    /// Counts the timeout a line reports (see the module header for which pool).
    fn timeout(&mut self, line: &[u8], at: usize, series: &mut SeriesTable) {
        let Some(overflow) = timeout_overflow(&line[at + TIMEOUT.len()..]) else {
            return;
        };
        let seen = Timeouts {
            count: 1,
            max_overflow: Some(overflow),
        };
        let text = String::from_utf8_lossy(line);
        let own = prefix(self.opts, &text).and_then(|caps| self.series_of(&caps, series).ok());
        match own.or(self.last) {
            Some(id) => self.track(id).add(seen),
            None => self.pending.add(seen),
        }
    }

    /// Holds `sample` back; the sample it displaces, when that is of an
    /// earlier second. Lines of one pool in one second become one sample:
    /// the busiest (highest `checked_out / pool_size`, the later on a tie),
    /// with the latest timeouts count and `max_overflow`.
    fn hold(&mut self, sample: Sample) -> Option<Sample> {
        let i = sample.series as usize;
        if self.held.len() <= i {
            self.held.resize(i + 1, None);
        }
        match self.held[i] {
            Some(held) if held.ts == sample.ts => {
                self.merged += 1;
                let busier = u64::from(sample.checked_out) * u64::from(held.pool_size)
                    >= u64::from(held.checked_out) * u64::from(sample.pool_size);
                let base = if busier { sample } else { held };
                self.held[i] = Some(Sample {
                    timeouts: sample.timeouts,
                    max_overflow: sample.max_overflow.or(held.max_overflow),
                    ..base
                });
                None
            }
            _ => self.held[i].replace(sample),
        }
    }

    /// One status row.
    fn row(&mut self, line: &[u8], line_no: u64, series: &mut SeriesTable) -> Result<Sample, RowError> {
        let text = String::from_utf8_lossy(line);
        let caps = prefix(self.opts, &text).ok_or_else(|| {
            row_error(
                "no-timestamp",
                format!(
                    "the line does not start with [pool_status] prefix /{}/",
                    self.opts.pool_status.prefix.as_str()
                ),
            )
        })?;
        let ts_text = caps
            .name("ts")
            .ok_or_else(|| row_error("no-timestamp", "the prefix matched without its ts group".into()))?
            .as_str();
        let ts = parse_time(ts_text, &self.opts.pool_status.timezone).map_err(|m| row_error("bad-timestamp", m))?;
        let at = memchr::memmem::find(line, STATUS).ok_or_else(|| {
            row_error(
                "bad-status",
                "garbled pool.status() text: \"Checked out connections:\" without \"Pool size:\" before it".into(),
            )
        })?;
        let status = parse_status(&line[at..])?;
        let id = self.series_of(&caps, series)?;
        let pending = std::mem::take(&mut self.pending);
        let track = self.track(id);
        track.add(pending);
        let track = *track;
        self.last = Some(id);
        Ok(Sample {
            series: id,
            ts,
            pool_size: status.pool_size,
            checked_out: status.checked_out,
            max_overflow: track.max_overflow,
            waiting: None,
            timeouts: Some(track.count),
            line: line_no,
            file: self.file,
        })
    }
}

/// Streams one log file, calling `sink` with a sample for every
/// `pool.status()` line (see the module header).
pub fn read(input: impl Read, cx: ReadContext<'_>) -> Result<FileSummary, IngestError> {
    let ReadContext {
        path,
        file,
        opts,
        series,
        diags,
        sink,
    } = cx;
    let mut input = BufReader::with_capacity(1 << 20, input);
    let mut reader = Reader {
        opts,
        instance: instance_from(path),
        file,
        timeouts: Vec::new(),
        pending: Timeouts::default(),
        last: None,
        held: Vec::new(),
        merged: 0,
    };
    let status_finder = memchr::memmem::Finder::new(STATUS);
    let marker_finder = memchr::memmem::Finder::new(MARKER.trim_ascii_end());
    let timeout_finder = memchr::memmem::Finder::new(TIMEOUT);
    let mut summary = FileSummary::default();
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        let n = read_line(&mut input, &mut buf).map_err(|source| IngestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        summary.bytes += n as u64;
        line += 1;
        let text = buf.strip_suffix(b"\r").unwrap_or(&buf);
        if let Some(at) = timeout_finder.find(text) {
            reader.timeout(text, at, series);
        }
        if status_finder.find(text).is_none() && marker_finder.find(text).is_none() {
            continue;
        }
        summary.rows += 1;
        match reader.row(text, line, series) {
            Ok(sample) => {
                if let Some(done) = reader.hold(sample) {
                    take_row(Ok(done), path, done.line, &mut summary, diags, series, sink)?;
                }
            }
            Err(e) => take_row(Err(e), path, line, &mut summary, diags, series, sink)?,
        }
    }
    let mut rest: Vec<Sample> = reader.held.iter().flatten().copied().collect();
    rest.sort_by_key(|s| (s.ts, s.line));
    for done in rest {
        take_row(Ok(done), path, done.line, &mut summary, diags, series, sink)?;
    }
    if reader.merged > 0 {
        diags.notice(Diagnostic {
            path: path.to_path_buf(),
            line: None,
            code: "same-second",
            message: format!(
                "{} status line(s) shared their second with another of the same pool; \
                 each second keeps its busiest line (poolcap works in whole seconds)",
                reader.merged
            ),
        });
    }
    if summary.rows == 0 {
        diags.notice(Diagnostic {
            path: path.to_path_buf(),
            line: None,
            code: "no-status-lines",
            message: format!(
                "none of its {line} lines holds SQLAlchemy's pool.status() text \
                 (\"Pool size: 5  Connections in pool: 1 Current Overflow: -3 Current Checked out connections: 1\")"
            ),
        });
    }
    finish(path, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PoolStatusSettings;
    use proptest::prelude::*;
    use std::path::PathBuf;

    const FIXTURE: &[u8] = include_bytes!("../../tests/fixtures/metrics/sqlalchemy-pool-status.log");

    /// The last lines of a real `logger.exception` of a QueuePool timeout
    /// (SQLAlchemy 1.4.46, Python 3.11; pool_size 1, max_overflow 0).
    const TRACEBACK: &str = "2026-11-27 13:25:14,711 ERROR [app.api] GET /api/ward/3/patients 500
Traceback (most recent call last):
  File \"/usr/lib/python3/dist-packages/sqlalchemy/pool/impl.py\", line 134, in _do_get
    raise exc.TimeoutError(
sqlalchemy.exc.TimeoutError: QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.10 (Background on this error at: https://sqlalche.me/e/14/3o7r)
";

    struct Run {
        result: Result<FileSummary, IngestError>,
        samples: Vec<Sample>,
        diags: Diagnostics,
        series: SeriesTable,
    }

    impl Run {
        fn codes(&self) -> Vec<(u64, &'static str)> {
            self.diags.shown().iter().map(|d| (d.line.unwrap(), d.code)).collect()
        }

        fn key(&self, i: usize) -> (&str, &str) {
            let k = self.series.key(self.samples[i].series);
            (k.service.as_str(), k.instance.as_str())
        }
    }

    fn options(service: Option<&str>, prefix: Option<&str>, zone: &str) -> ReadOptions {
        let mut pool_status = PoolStatusSettings {
            timezone: TimeZone::get(zone).unwrap(),
            ..PoolStatusSettings::default()
        };
        if let Some(p) = prefix {
            pool_status.prefix = regex::Regex::new(p).unwrap();
        }
        ReadOptions {
            service: service.map(str::to_string),
            pool_status,
            ..ReadOptions::default()
        }
    }

    fn run_with(path: &str, text: &[u8], opts: &ReadOptions) -> Run {
        let mut series = SeriesTable::default();
        let mut diags = Diagnostics::default();
        let mut samples = Vec::new();
        let result = read(
            text,
            ReadContext {
                path: &PathBuf::from(path),
                file: 0,
                opts,
                series: &mut series,
                diags: &mut diags,
                sink: &mut |_, s| samples.push(s),
            },
        );
        Run {
            result,
            samples,
            diags,
            series,
        }
    }

    /// Options of the default prefix, built once: compiling the prefix
    /// takes milliseconds in a debug build, too slow for every proptest case.
    static BACKEND_UTC: std::sync::LazyLock<ReadOptions> =
        std::sync::LazyLock::new(|| options(Some("backend"), None, "UTC"));
    static S_LONDON: std::sync::LazyLock<ReadOptions> =
        std::sync::LazyLock::new(|| options(Some("s"), None, "Europe/London"));
    static NO_SERVICE: std::sync::LazyLock<ReadOptions> = std::sync::LazyLock::new(|| options(None, None, "UTC"));

    fn run(text: &str) -> Run {
        run_with("web-1.log", text.as_bytes(), &BACKEND_UTC)
    }

    fn utc(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    fn status(prefix: &str, size: &str, idle: &str, overflow: &str, out: &str) -> String {
        format!(
            "{prefix}Pool size: {size}  Connections in pool: {idle} Current Overflow: {overflow} Current Checked out connections: {out}\n"
        )
    }

    /// The fixture's status lines and the distinct seconds they fall in.
    fn fixture_counts() -> (u64, u64) {
        let lines: Vec<&[u8]> = FIXTURE
            .split(|&b| b == b'\n')
            .filter(|l| memchr::memmem::find(l, b"Pool size: ").is_some())
            .collect();
        let mut seconds: Vec<&[u8]> = lines.iter().map(|l| &l[..19]).collect();
        seconds.dedup();
        (lines.len() as u64, seconds.len() as u64)
    }

    #[test]
    fn the_fixtures_first_lines_give_exact_samples() {
        // Written in UTC; Europe/London is on GMT in November, so both agree.
        for zone in ["UTC", "Europe/London"] {
            let r = run_with(
                "tests/fixtures/metrics/sqlalchemy-pool-status.log",
                FIXTURE,
                &options(Some("backend"), None, zone),
            );
            let summary = r.result.as_ref().unwrap();
            // Twice a second: lines 1 and 2 (0 then 2 checked out) are one
            // second, whose busiest line stays; 4 and 6 likewise; 8 and 11
            // tie at 3, and the later stays.
            let first: Vec<_> = r.samples[..3]
                .iter()
                .map(|s| {
                    (
                        s.line,
                        s.ts,
                        s.pool_size,
                        s.checked_out,
                        s.max_overflow,
                        s.waiting,
                        s.timeouts,
                    )
                })
                .collect();
            assert_eq!(
                first,
                [
                    (2, utc("2026-11-27T13:24:36Z"), 5, 2, None, None, Some(0)),
                    (6, utc("2026-11-27T13:24:37Z"), 5, 2, None, None, Some(0)),
                    (11, utc("2026-11-27T13:24:38Z"), 5, 3, None, None, Some(0)),
                ],
                "{zone}"
            );
            assert_eq!(r.samples[0].ts, 1_795_785_876);
            assert_eq!(r.key(0), ("backend", "sqlalchemy-pool-status"));
            let (status_lines, seconds) = fixture_counts();
            assert_eq!((status_lines, seconds), (72, 36));
            assert_eq!((summary.rows, summary.accepted, summary.rejected), (72, 36, 0));
            assert_eq!(r.diags.notices()[0].code, "same-second");
            assert!(r.diags.notices()[0].message.starts_with("36 status line(s)"));
            assert_eq!(summary.bytes, FIXTURE.len() as u64);
            assert_eq!(r.samples.iter().map(|s| s.checked_out).max(), Some(8));
            assert!(r.samples.windows(2).all(|w| w[0].ts < w[1].ts));
            let last = r.samples.last().unwrap();
            assert_eq!((last.timeouts, last.max_overflow), (Some(9), Some(3)));
            assert!(r.samples.windows(2).all(|w| w[0].timeouts <= w[1].timeouts));
        }
    }

    #[test]
    fn lines_of_one_pool_in_one_second_become_its_busiest() {
        let prefix = r"^(?P<ts>\S+) (?P<instance>\S+) ";
        let text = [
            status("2026-11-27T13:25:10.100Z a ", "5", "0", "-5", "4"),
            status("2026-11-27T13:25:10.100Z b ", "5", "0", "-5", "1"),
            status("2026-11-27T13:25:10.500Z a ", "10", "0", "-5", "5"),
            "2026-11-27T13:25:10.600Z a QueuePool limit of size 5 overflow 1 reached\n".into(),
            status("2026-11-27T13:25:10.900Z a ", "5", "0", "-5", "2"),
            status("2026-11-27T13:25:11.000Z a ", "5", "0", "-5", "3"),
        ]
        .concat();
        let r = run_with("w.log", text.as_bytes(), &options(Some("s"), Some(prefix), "UTC"));
        type Row<'a> = (&'a str, i64, u64, u32, u32, Option<u64>, Option<u32>);
        let got: Vec<Row> = (0..r.samples.len())
            .map(|i| {
                let s = &r.samples[i];
                (
                    r.key(i).1,
                    s.ts,
                    s.line,
                    s.pool_size,
                    s.checked_out,
                    s.timeouts,
                    s.max_overflow,
                )
            })
            .collect();
        let t = utc("2026-11-27T13:25:10Z");
        assert_eq!(
            got,
            [
                // 4/5 beats 5/10 and 2/5; the count is the second's last.
                ("a", t, 1, 5, 4, Some(1), Some(1)),
                ("b", t, 2, 5, 1, Some(0), None),
                ("a", t + 1, 6, 5, 3, Some(1), Some(1)),
            ]
        );
        let summary = r.result.unwrap();
        assert_eq!((summary.rows, summary.accepted, summary.rejected), (5, 3, 0));
    }

    #[test]
    fn the_fixture_is_told_apart_by_content() {
        let mut n = 0;
        let result = crate::ingest::read_metrics(
            FIXTURE,
            ReadContext {
                path: Path::new("pool.log"),
                file: 0,
                opts: &options(Some("backend"), None, "UTC"),
                series: &mut SeriesTable::default(),
                diags: &mut Diagnostics::default(),
                sink: &mut |_, _| n += 1,
            },
        );
        assert_eq!(result.unwrap().accepted, 36);
        assert_eq!(n, 36);
    }

    #[test]
    fn other_log_lines_are_not_rows() {
        let text = format!(
            "2026-11-27 12:00:00,001 INFO [app.api] GET /api/ward/1/patients 200 (12 ms)\n\n{}  continuation of a message\n{}",
            status("2026-11-27 12:00:01,000 INFO [m] ", "5", "1", "-3", "1"),
            "2026-11-27 12:00:02,000 INFO [app] pool has size 5\n"
        );
        let r = run(&text);
        let summary = r.result.unwrap();
        assert_eq!((summary.rows, summary.accepted, summary.rejected), (1, 1, 0));
        assert_eq!(r.samples[0].line, 3);

        let r = run("2026-11-27 12:00:00,001 INFO [app.api] GET / 200\nno status here\n");
        assert!(matches!(
            r.result,
            Err(IngestError::NoSamples {
                rows: 0,
                rejected: 0,
                ..
            })
        ));
        assert_eq!(r.diags.notices()[0].code, "no-status-lines");
        assert!(r.diags.notices()[0].message.contains("2 lines"));
    }

    #[test]
    fn a_custom_prefix_names_service_and_instance() {
        let json = r#"^\{"time": "(?P<ts>[^"]+)", "service": "(?P<service>[^"]*)", "pod": "(?P<instance>[^"]+)""#;
        let text = format!(
            "{}{}{}",
            status(
                r#"{"time": "2026-10-01T08:00:00.123+01:00", "service": "backend", "pod": "web-7", "msg": ""#,
                "20",
                "3",
                "-17",
                "0\"}"
            ),
            status(
                r#"{"time": "2026-10-01T08:00:05Z", "service": "", "pod": "worker-1", "msg": ""#,
                "10",
                "0",
                "-6",
                "4\"}"
            ),
            status(r#"{"time": "2026-10-01T08:00:05Z", "msg": ""#, "10", "0", "-6", "4\"}"),
        );
        let r = run_with(
            "app.log",
            text.as_bytes(),
            &options(Some("fallback"), Some(json), "UTC"),
        );
        assert_eq!(r.samples.len(), 2, "{:?}", r.diags.shown());
        assert_eq!(r.samples[0].ts, utc("2026-10-01T07:00:00Z"));
        assert_eq!((r.samples[0].pool_size, r.samples[0].checked_out), (20, 0));
        assert_eq!(r.key(0), ("backend", "web-7"));
        assert_eq!(
            r.key(1),
            ("fallback", "worker-1"),
            "a blank group falls back to --service"
        );
        assert_eq!(r.codes(), [(3, "no-timestamp")]);

        let syslog = r"^<\d+>1 (?P<ts>\S+) (?P<instance>\S+) (?P<service>\S+) \d+ - - ";
        let text = status(
            "<134>1 2026-10-01T08:00:00Z web-2 backend 1234 - - ",
            "20",
            "3",
            "-17",
            "0",
        );
        let r = run_with("syslog", text.as_bytes(), &options(None, Some(syslog), "UTC"));
        assert_eq!(r.key(0), ("backend", "web-2"));
        assert_eq!(r.samples[0].ts, utc("2026-10-01T08:00:00Z"));
    }

    #[test]
    fn a_prefix_of_unix_seconds() {
        let prefix = r"^(?P<ts>\d+(?:\.\d+)?) ";
        let text = status("1790841600.75 ", "5", "0", "-2", "3") + &status("1790841601 ", "5", "0", "-2", "3");
        let r = run_with(
            "w.log",
            text.as_bytes(),
            &options(Some("s"), Some(prefix), "Europe/London"),
        );
        let ts: Vec<i64> = r.samples.iter().map(|s| s.ts).collect();
        assert_eq!(ts, [1_790_841_600, 1_790_841_601]);
    }

    #[test]
    fn offsets_override_the_zone() {
        let zone = "Europe/London";
        let cases = [
            ("2026-07-01 12:00:00,999Z", "2026-07-01T12:00:00Z"),
            ("2026-07-01T12:00:00+02:00", "2026-07-01T10:00:00Z"),
            ("2026-07-01 12:00:00.5-0530", "2026-07-01T17:30:00Z"),
            ("2026-07-01 12:00:00,250+0100", "2026-07-01T11:00:00Z"),
            // No offset: local time in the zone (BST in July).
            ("2026-07-01 12:00:01,250", "2026-07-01T11:00:01Z"),
            ("2026-12-01 12:00:00", "2026-12-01T12:00:00Z"),
        ];
        let text: String = cases
            .iter()
            .map(|(ts, _)| status(&format!("{ts} INFO "), "5", "0", "-5", "0"))
            .collect();
        let r = run_with("w.log", text.as_bytes(), &options(Some("s"), None, zone));
        assert_eq!(r.diags.rejected(), 0, "{:?}", r.diags.shown());
        let got: Vec<i64> = r.samples.iter().map(|s| s.ts).collect();
        let want: Vec<i64> = cases.iter().map(|(_, u)| utc(u)).collect();
        assert_eq!(got, want);
        // RFC 3339 shapes the fast parser does not take go to the general one.
        assert_eq!(
            parse_time("2026-07-01T12:00:00.123456789+01:00", &TimeZone::UTC),
            Ok(utc("2026-07-01T11:00:00Z"))
        );
        assert!(parse_time("2026-07-01 25:00:00", &TimeZone::UTC).is_err());
        assert!(parse_time("2026-02-30 12:00:00", &TimeZone::UTC).is_err());
        assert!(
            parse_time("yesterday", &TimeZone::UTC)
                .unwrap_err()
                .contains("expected YYYY-MM-DD")
        );
    }

    #[test]
    fn dst_gap_is_rejected_and_fold_takes_the_earlier_instant() {
        let text = [
            // Spring forward in London: 01:00 GMT → 02:00 BST; 01:30 never happened.
            status("2026-03-29 01:30:00,000 INFO ", "5", "0", "-5", "0"),
            // Fall back: 01:30 happened twice (BST, then GMT); the first is 00:30Z.
            status("2026-10-25 01:30:00,000 INFO ", "5", "0", "-5", "0"),
            status("2026-10-25 01:30:00+00:00 INFO ", "5", "0", "-5", "0"),
        ]
        .concat();
        let r = run_with("w.log", text.as_bytes(), &options(Some("s"), None, "Europe/London"));
        assert_eq!(r.codes(), [(1, "bad-timestamp")]);
        let message = &r.diags.shown()[0].message;
        assert!(message.contains("does not exist in Europe/London"), "{message}");
        assert!(message.contains("2026-03-29 01:30:00"), "{message}");
        let ts: Vec<i64> = r.samples.iter().map(|s| s.ts).collect();
        assert_eq!(ts, [utc("2026-10-25T00:30:00Z"), utc("2026-10-25T01:30:00Z")]);
    }

    #[test]
    fn crlf_and_non_utf8_bytes() {
        let mut text = b"2026-11-27 12:00:00,000 INFO [app] caf\xe9 \xff\xfe\r\n".to_vec();
        text.extend_from_slice(b"2026-11-27 12:00:01,000 INFO [m\xc3] ");
        text.extend_from_slice(status("", "5", "1", "-3", "1").trim_end().as_bytes());
        text.extend_from_slice(b"\r\n");
        // A status line with invalid UTF-8 in its prefix is still read.
        text.extend_from_slice(b"2026-11-27 12:00:02,000 INFO [\xff] ");
        text.extend_from_slice(status("", "5", "0", "-2", "3").trim_end().as_bytes());
        text.extend_from_slice(b"\r\n");
        let r = run_with("w.log", &text, &options(Some("s"), None, "UTC"));
        assert_eq!(r.diags.rejected(), 0, "{:?}", r.diags.shown());
        let got: Vec<(u64, u32)> = r.samples.iter().map(|s| (s.line, s.checked_out)).collect();
        assert_eq!(got, [(2, 1), (3, 3)]);
    }

    #[test]
    fn garbled_and_out_of_range_numbers_are_rejected_with_their_line_and_code() {
        let p = "2026-11-27 12:00:00,000 INFO ";
        let lines = [
            (status(p, "5x", "1", "-3", "1"), "bad-number"),
            (status(p, "0", "0", "0", "0"), "bad-number"),
            (status(p, "-5", "1", "-3", "1"), "bad-number"),
            (status(p, "5", "-1", "-3", "1"), "bad-number"),
            (status(p, "5", "1", "abc", "1"), "bad-number"),
            (status(p, "5", "1", "-3", "1.5"), "bad-number"),
            (status(p, "5", "1", "-3", "-1"), "bad-number"),
            (status(p, "4294967296", "1", "-3", "1"), "bad-number"),
            (status(p, "5", "1", "-3", "99999999999999999999999"), "bad-number"),
            (status(p, "5", "1", "3000000000", "1"), "bad-number"),
            (status(p, "5", "1", "--3", "1"), "bad-number"),
            (status(p, "", "1", "-3", "1"), "bad-number"),
            (
                format!(
                    "{p}Pool size: 5  Connectons in pool: 1 Current Overflow: -3 Current Checked out connections: 1\n"
                ),
                "bad-status",
            ),
            (format!("{p}Pool size: 5  Connections in pool: 1\n"), "bad-status"),
            (format!("{p}Current Checked out connections: 1\n"), "bad-status"),
            (status("INFO ", "5", "1", "-3", "1"), "no-timestamp"),
            (
                status("[app] 2026-11-27 12:00:00 ", "5", "1", "-3", "1"),
                "no-timestamp",
            ),
            (status("2026-11-27 12:60:00 ", "5", "1", "-3", "1"), "bad-timestamp"),
            (status("2026-13-27 12:00:00 ", "5", "1", "-3", "1"), "bad-timestamp"),
            // Numbers a u32 holds, beyond poolcap's limits.
            (
                status(p, "4294967295", "4294967295", "-2147483648", "4294967295"),
                "beyond-limit",
            ),
        ];
        let good = [
            // Large but in range; counts that do not add up (status() takes no lock).
            status(p, "1000000", "4294967295", "-2147483648", "1000000"),
            status("2026-11-27 12:00:01,000 INFO ", "5", "0", "3", "1"),
        ];
        let mut text = good.concat();
        for (line, _) in &lines {
            text.push_str(line);
        }
        let r = run(&text);
        let summary = r.result.as_ref().unwrap();
        assert_eq!((summary.rows, summary.accepted), (lines.len() as u64 + 2, 2));
        let got: Vec<(u32, u32)> = r.samples.iter().map(|s| (s.pool_size, s.checked_out)).collect();
        assert_eq!(got, [(1_000_000, 1_000_000), (5, 1)]);
        let want: Vec<(u64, &str)> = lines.iter().enumerate().map(|(i, (_, c))| (i as u64 + 3, *c)).collect();
        assert_eq!(r.codes(), want);
        let zero = &r.diags.shown()[1];
        assert!(zero.message.contains("Pool size is 0"), "{zero}");
        assert_eq!(zero.to_string(), format!("web-1.log:4: {} [bad-number]", zero.message));
    }

    #[test]
    fn service_is_required_and_instance_comes_from_the_file_name() {
        let text = status("2026-11-27 12:00:00,000 INFO ", "5", "1", "-3", "1");
        let r = run_with("logs/web-1.log.1", text.as_bytes(), &options(None, None, "UTC"));
        assert_eq!(r.codes(), [(1, "missing-field")]);
        let message = &r.diags.shown()[0].message;
        assert!(
            message.contains("--service") && message.contains("(?P<service>"),
            "{message}"
        );

        for (path, instance) in [
            ("logs/web-1.log.1", "web-1"),
            ("web-1.log", "web-1"),
            ("pod-a", "pod-a"),
            (".log", "default"),
        ] {
            let r = run_with(path, text.as_bytes(), &options(Some("backend"), None, "UTC"));
            assert_eq!(r.key(0), ("backend", instance), "{path}");
        }
    }

    #[test]
    fn timeouts_are_counted_per_series_with_max_overflow() {
        let p = |t: &str| format!("2026-11-27 13:25:{t},000 INFO [m] ");
        let text = [
            // Before any status line: credited to the first one.
            "2026-11-27 13:25:09,000 WARNING [app.api] GET / 503: sqlalchemy.exc.TimeoutError: QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.10\n".to_string(),
            status(&p("10"), "1", "0", "0", "1"),
            status(&p("11"), "1", "0", "0", "1"),
            TRACEBACK.to_string(),
            // SQLAlchemy's source quoted in a traceback is not a timeout.
            "    \"QueuePool limit of size %d overflow %d reached, \"\n".to_string(),
            status(&p("15"), "1", "0", "0", "1"),
            "2026-11-27 13:25:16,000 WARNING [app.api] sqlalchemy.exc.TimeoutError: QueuePool limit of size 1 overflow 2 reached, connection timed out, timeout 30.00\r\n".to_string(),
            status(&p("17"), "1", "0", "0", "1"),
        ]
        .concat();
        let r = run(&text);
        assert_eq!(r.diags.rejected(), 0);
        let got: Vec<(Option<u64>, Option<u32>)> = r.samples.iter().map(|s| (s.timeouts, s.max_overflow)).collect();
        assert_eq!(
            got,
            [
                (Some(1), Some(0)),
                (Some(1), Some(0)),
                (Some(2), Some(0)),
                (Some(3), Some(2))
            ]
        );
        assert_eq!(r.result.unwrap().rows, 4, "timeout lines are not rows");

        // Without any timeout line, every sample says 0 so far.
        let r = run(&status(&p("10"), "5", "0", "-5", "0"));
        assert_eq!((r.samples[0].timeouts, r.samples[0].max_overflow), (Some(0), None));
    }

    #[test]
    fn timeouts_go_to_the_pool_their_prefix_names() {
        let prefix = r"^(?P<ts>\S+) (?P<service>\w+)/(?P<instance>[\w-]+) ";
        let text = [
            status("2026-11-27T13:25:10Z backend/web-1 ", "5", "0", "-5", "0"),
            status("2026-11-27T13:25:10Z worker/w-1 ", "2", "0", "-2", "0"),
            "2026-11-27T13:25:11Z backend/web-1 QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00\n".into(),
            "2026-11-27T13:25:12Z backend/web-1 QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00\n".into(),
            // A traceback's last line goes to the latest status line's pool.
            "sqlalchemy.exc.TimeoutError: QueuePool limit of size 2 overflow 1 reached, connection timed out, timeout 30.00\n".into(),
            status("2026-11-27T13:25:20Z backend/web-1 ", "5", "0", "-5", "0"),
            status("2026-11-27T13:25:20Z worker/w-1 ", "2", "0", "-2", "0"),
        ]
        .concat();
        let r = run_with("mixed.log", text.as_bytes(), &options(None, Some(prefix), "UTC"));
        assert_eq!(r.diags.rejected(), 0, "{:?}", r.diags.shown());
        let got: Vec<(&str, Option<u64>, Option<u32>)> = (0..4)
            .map(|i| (r.key(i).0, r.samples[i].timeouts, r.samples[i].max_overflow))
            .collect();
        assert_eq!(
            got,
            [
                ("backend", Some(0), None),
                ("worker", Some(0), None),
                ("backend", Some(2), Some(10)),
                ("worker", Some(1), Some(1)),
            ]
        );
    }

    #[test]
    fn an_overlong_line_is_cut_not_held() {
        let mut text = vec![b'x'; 3 * MAX_LINE];
        text.push(b'\n');
        text.extend_from_slice(status("2026-11-27 12:00:00 ", "5", "1", "-3", "1").as_bytes());
        let r = run_with("w.log", &text, &options(Some("s"), None, "UTC"));
        assert_eq!(r.samples[0].line, 2);
        assert_eq!(r.result.unwrap().bytes, text.len() as u64);
    }

    fn number_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|v| v.to_string()),
            (0u32..100).prop_map(|v| v.to_string()),
            "[-+0-9a-z.]{0,25}",
            Just("99999999999999999999999".to_string()),
        ]
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = run_with("w.log", &bytes, &S_LONDON);
            let mut with_marker = bytes.clone();
            with_marker.extend_from_slice(b"Pool size: ");
            with_marker.extend_from_slice(&bytes);
            let _ = run_with("w.log", &with_marker, &NO_SERVICE);
        }

        #[test]
        fn never_panics_on_status_lines_with_arbitrary_numbers_and_prefixes(
            prefix in ".{0,40}",
            numbers in proptest::collection::vec(number_text(), 4),
            timeout in "[0-9a-z %-]{0,12}",
        ) {
            let text = status(&prefix, &numbers[0], &numbers[1], &numbers[2], &numbers[3])
                + &format!("{prefix}QueuePool limit of size {timeout} reached\n");
            let r = run_with("w.log", text.as_bytes(), &S_LONDON);
            let summary = r.result.as_ref().map(|s| *s).unwrap_or_default();
            prop_assert_eq!(summary.accepted + r.diags.rejected(), 1);
        }

        #[test]
        fn valid_lines_give_their_numbers(
            size in 1u32..=crate::config::limits::MAX_CONNECTIONS, idle in 0u32.., overflow in any::<i32>(),
            out in 0u32..=crate::config::limits::MAX_CONNECTIONS,
            ts in crate::ingest::EARLIEST_TS..1_760_000_000,
        ) {
            let prefix = jiff::Timestamp::from_second(ts).unwrap().strftime("%Y-%m-%d %H:%M:%S,123 INFO [m] ").to_string();
            let text = status(&prefix, &size.to_string(), &idle.to_string(), &overflow.to_string(), &out.to_string());
            let r = run(&text);
            prop_assert_eq!(r.diags.rejected(), 0);
            prop_assert_eq!((r.samples[0].ts, r.samples[0].pool_size, r.samples[0].checked_out), (ts, size, out));
        }
    }
}
