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

use super::timestamp::parse_local_time;
use super::{
    Diagnostic, FileSummary, IngestError, ReadContext, ReadOptions, RowError, Sample, SeriesId, SeriesTable,
    check_pool_size, finish, row_error, take_row,
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
        let ts =
            parse_local_time(ts_text, &self.opts.pool_status.timezone).map_err(|m| row_error("bad-timestamp", m))?;
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
mod tests;
