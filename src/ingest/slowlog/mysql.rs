//! MySQL and MariaDB slow query logs (`slow_query_log_file`, `log_output=FILE`):
//! MySQL 5.x/8.x, Percona Server and MariaDB 10.x.
//!
//! This module owns two things: finding where the last whole entry of a buffer
//! ends ([`split_point`]), and turning whole entries into [`LogEntry`] values
//! ([`parse_chunk`]), with the few facts that carry from one chunk of a file to
//! the next kept in [`MysqlState`]. Reading, decompressing and buffering are the
//! driver's.
//!
//! # The format
//!
//! ```text
//! /usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1-log (Debian 12). started with:
//! Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock
//! Time                 Id Command    Argument
//! # Time: 261127  8:18:42                       (MariaDB, MySQL 5.1–5.6)
//! # Time: 2026-11-27T08:18:42.123456Z           (MySQL 5.7+, Z or +hh:mm)
//! # User@Host: app[app] @ web1 [10.0.0.5]  Id:    12
//! # Thread_id: 5  Schema: shop  QC_hit: No      (MariaDB, Percona)
//! # Query_time: 5.200213  Lock_time: 0.000010  Rows_sent: 1  Rows_examined: 0
//! # Rows_affected: 0  Bytes_sent: 62            (any number of other `#` lines)
//! use shop;                                     (only when the database changed)
//! SET timestamp=1795767522;                     (statement start, Unix seconds)
//! SELECT SLEEP(5.2);                            (the statement, maybe many lines)
//! ```
//!
//! Instead of a statement, an entry may hold `# administrator command: Quit;`.
//!
//! # Rules
//!
//! - **Entries.** An entry starts at a `# Time:` line, or at a `# User@Host:`
//!   line that does not directly follow a `# Time:` line (one that does joins
//!   that line's entry). It ends before the next such line, before a server
//!   header line (`…, Version: … started with:`), or at the end of the chunk.
//!   [`split_point`] cuts only before those same lines, so parsing a file in
//!   chunks gives exactly what parsing it whole gives.
//! - **Inside an entry**, in order: `#` lines are header fields (`Query_time`,
//!   `Schema`; the rest, such as MariaDB's `# explain:` or `# Warnings`, are
//!   skipped); `use db;` lines change the database; one `SET …timestamp=N;`
//!   line (assignments to `timestamp`, `insert_id` and `last_insert_id` only)
//!   gives the start; then the first other line starts the statement. After the
//!   `SET` line every line is statement text, including lines starting with `#`
//!   or `use`, except `# administrator command:` right after it. Only
//!   `# Time:`, `# User@Host:` and server header lines end a statement.
//! - **Text** is the statement as written, from its first line to its last,
//!   with trailing whitespace, one trailing `;` and the whitespace before that
//!   `;` removed; blank lines before it are skipped. The lines of a multi-line
//!   statement are joined with `\n`: that is how the chunk holds them, so the
//!   text borrows from the chunk whether it has one line or many. Only a `\r\n`
//!   line end inside it (made `\n`) or invalid UTF-8 (made U+FFFD, see
//!   [`lossy`]) allocates. `# administrator command: Quit;` gives kind
//!   [`EntryKind::Admin`] and text `administrator command: Quit`.
//! - **End time.** The `SET timestamp=` value (fraction kept when present) plus
//!   `Query_time`. Without a `SET` line, the entry's own `# Time:` (written when
//!   the statement finished); without that, the last `# Time:` seen earlier in
//!   the file (kept in [`MysqlState`]). With none of them the entry is
//!   unrecognized. `end_ms` is truncated to the millisecond below.
//! - **Time zones.** ISO `# Time:` values carry `Z` or an offset and are exact.
//!   The old `YYMMDD H:MM:SS` form has no zone (the server wrote local time):
//!   it is read as UTC, years as 20YY. `SET timestamp=` is Unix time and needs
//!   no zone, so only entries without it depend on this.
//! - **Duration** is `Query_time` × 1000; `Lock_time` is part of it. A
//!   `Query_time` that is not a plain decimal number (`1e308`) or is longer than
//!   30 days makes the entry a bad record (`bad-duration`), never another number.
//! - **Database.** The entry's `Schema:` when it has one (an empty `Schema:`
//!   means no database: `None`); otherwise the database of the last `use db;`
//!   line, which persists across entries and chunks ([`MysqlState::database`],
//!   set only by `use` lines). A `use` line applies to its own entry and every
//!   later one. Backquoted names are unquoted.
//! - **User** is the part of `# User@Host:` before `[`, trimmed (`None` if
//!   empty).
//! - **Line** is the entry's first line: its `# Time:` line when it has one,
//!   else its `# User@Host:` line.
//! - **Noise**, neither entries nor unrecognized: the server header block
//!   (`…, Version: … started with:`, then `Tcp port: …`/`TCP Port: …` and the
//!   `Time Id Command Argument` line), at the start or anywhere later (after a
//!   restart or `FLUSH SLOW LOGS`), and blank lines between entries. The
//!   `…, Version:` line ends the entry before it, so the block is never glued
//!   onto a statement; its other two lines are noise only outside entries.
//! - **Unrecognized**: an entry without a `# Query_time:` line (or without
//!   any time, see above) counts once, with its first line; any other line
//!   outside an entry counts on its own, and so does a line after an
//!   administrator command inside its entry.
//! - **Truncated files.** A last entry cut short is parsed as far as it goes
//!   (its text may be partial or empty). An entry is *complete* when the line
//!   after it (the next entry's first line or a server header line) is whole:
//!   cutting a file at any byte keeps every complete entry before the cut
//!   exactly as the whole file gives it.
//!
//! # Limits
//!
//! A statement line that itself starts with `# Time:` or `# User@Host:`, or that
//! looks like a server header line, ends the statement early (the log cannot tell
//! them apart). A statement with no `SET` line whose text is itself `use x;` or
//! `SET timestamp=N;` is read as the header line it looks like. `SET timestamp=`
//! has whole seconds in most versions, so `end_ms` is then only as precise as the
//! second (MySQL 5.7+'s microsecond `# Time:` is used only without a `SET` line,
//! and MySQL 8's `log_slow_extra` `Start:`/`End:` fields are not read).
//! [`split_point`] returns 0 (read more) until a buffer holds a boundary past its
//! first line, so one statement larger than the driver's buffer grows it.

use crate::ingest::timestamp::days_from_civil;
use std::borrow::Cow;

use super::{BAD_DURATION, EntryKind, LogEntry, ParseStats, lossy, parse_duration};

/// State carried from one chunk of a file to the next.
#[derive(Debug, Clone, Default)]
pub struct MysqlState {
    /// The database of the last `use db;` line seen in the file, if any.
    pub database: Option<String>,
    /// The last `# Time:` value seen in the file, Unix microseconds.
    last_time_us: Option<i64>,
}

/// Byte index where the last whole entry of `buf` ends, so `buf[..i]` holds only
/// whole entries (see the module doc for what ends an entry).
///
/// With `eof`, everything is whole: returns `buf.len()`. Without it, returns the
/// start of the last line that begins an entry or is a server header line
/// (never a position inside an entry), or 0 when there is none after the first
/// line: the driver then reads more.
pub fn split_point(buf: &[u8], eof: bool) -> usize {
    if eof {
        return buf.len();
    }
    // Walk the lines backwards; `end` is the end of the line looked at (its
    // '\n' when `whole`).
    let mut end = buf.len();
    let mut whole = false;
    loop {
        let start = line_start(buf, end);
        let line = strip_cr(&buf[start..end]);
        if line.starts_with(TIME) {
            return start;
        }
        if line.starts_with(USER_HOST) {
            let after_time = start > 0 && buf[line_start(buf, start - 1)..start - 1].starts_with(TIME);
            if !after_time {
                return start;
            }
        } else if whole && is_server_header(line) {
            return start;
        }
        if start == 0 {
            return 0;
        }
        end = start - 1;
        whole = true;
    }
}

/// Parses every entry in `chunk` (whole lines; `first_line` is the 1-based
/// number of its first line), calling `sink` for each, in order.
pub fn parse_chunk(
    chunk: &[u8],
    first_line: u64,
    state: &mut MysqlState,
    stats: &mut ParseStats,
    sink: &mut dyn FnMut(&LogEntry<'_>),
) {
    let mut current: Option<Pending> = None;
    let mut pos = 0;
    let mut line_no = first_line;
    while pos < chunk.len() {
        let (end, next) = match find_newline(&chunk[pos..]) {
            Some(i) => (pos + i, pos + i + 1),
            None => (chunk.len(), chunk.len()),
        };
        let line = strip_cr(&chunk[pos..end]);
        stats.lines += 1;
        if line.starts_with(TIME) {
            if let Some(done) = current.take() {
                done.finish(chunk, state, stats, sink);
            }
            let time_us = parse_time(&line[TIME.len()..]);
            if time_us.is_some() {
                state.last_time_us = time_us;
            }
            current = Some(Pending {
                line: line_no,
                first: (pos, pos + line.len()),
                only_time: true,
                time_us,
                ..Pending::default()
            });
        } else if line.starts_with(USER_HOST) {
            let user = parse_user(&line[USER_HOST.len()..])
                .map(|(a, b)| (pos + USER_HOST.len() + a, pos + USER_HOST.len() + b));
            match current {
                Some(ref mut pending) if pending.only_time => {
                    pending.only_time = false;
                    pending.user = user;
                }
                _ => {
                    if let Some(done) = current.take() {
                        done.finish(chunk, state, stats, sink);
                    }
                    current = Some(Pending {
                        line: line_no,
                        first: (pos, pos + line.len()),
                        user,
                        ..Pending::default()
                    });
                }
            }
        } else if is_server_header(line) {
            if let Some(done) = current.take() {
                done.finish(chunk, state, stats, sink);
            }
        } else if let Some(pending) = current.as_mut() {
            pending.feed(pos, end, line, line_no, state, stats);
        } else if !is_noise(line) {
            stats.unrecognized(line_no, line.len());
        }
        pos = next;
        line_no += 1;
    }
    if let Some(done) = current {
        done.finish(chunk, state, stats, sink);
    }
}

const TIME: &[u8] = b"# Time:";
const USER_HOST: &[u8] = b"# User@Host:";
const QUERY_TIME: &[u8] = b"# Query_time:";
const ADMIN: &[u8] = b"# administrator command:";

/// Where an entry being parsed is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `#` fields, `use` lines, the `SET` line.
    #[default]
    Header,
    /// After the `SET` line, before the statement.
    AfterSet,
    /// In the statement.
    Text,
    /// After an administrator command.
    Done,
}

/// An entry being parsed: byte spans into the chunk, no copies.
#[derive(Debug, Default)]
struct Pending {
    /// Line number of its first line.
    line: u64,
    /// Span of its first line.
    first: (usize, usize),
    /// Nothing but a `# Time:` line so far.
    only_time: bool,
    /// Its own `# Time:`, Unix microseconds.
    time_us: Option<i64>,
    user: Option<(usize, usize)>,
    /// `Some(None)`: an empty `Schema:`.
    schema: Option<Option<(usize, usize)>>,
    query_time: Option<f64>,
    /// Why its `# Query_time:` is unreadable, when it is.
    bad_query_time: Option<String>,
    start_us: Option<i64>,
    phase: Phase,
    /// From the start of the statement's first line to the end of its last.
    text: Option<(usize, usize)>,
    /// The statement has more than one line.
    multi_line: bool,
    admin: Option<(usize, usize)>,
}

impl Pending {
    /// Takes one line that is not a boundary: `start..end` in the chunk (end
    /// before the '\n'), `line` the same without a trailing '\r'.
    fn feed(
        &mut self,
        start: usize,
        end: usize,
        line: &[u8],
        line_no: u64,
        state: &mut MysqlState,
        stats: &mut ParseStats,
    ) {
        self.only_time = false;
        match self.phase {
            Phase::Header => {
                if line.first() == Some(&b'#') {
                    self.header_field(start, line);
                } else if is_blank(line) {
                } else if let Some(name) = parse_use(line) {
                    if state.database.as_deref() != Some(name.as_ref()) {
                        state.database = Some(name.into_owned());
                    }
                } else if let Some(start_us) = parse_set(line) {
                    self.start_us = start_us;
                    self.phase = Phase::AfterSet;
                } else {
                    self.text = Some((start, end));
                    self.phase = Phase::Text;
                }
            }
            Phase::AfterSet => {
                if is_blank(line) {
                } else if line.starts_with(ADMIN) {
                    self.admin = Some((start + 2, start + line.len()));
                    self.phase = Phase::Done;
                } else {
                    self.text = Some((start, end));
                    self.phase = Phase::Text;
                }
            }
            Phase::Text => {
                if let Some(text) = self.text.as_mut() {
                    text.1 = end;
                    self.multi_line = true;
                }
            }
            Phase::Done => {
                if !is_blank(line) {
                    stats.unrecognized(line_no, line.len());
                }
            }
        }
    }

    /// A `#` line before the statement.
    fn header_field(&mut self, start: usize, line: &[u8]) {
        if line.starts_with(QUERY_TIME) {
            if self.query_time.is_none() {
                match parse_query_time(&line[QUERY_TIME.len()..]) {
                    Ok(seconds) => self.query_time = Some(seconds),
                    Err(why) => self.bad_query_time = Some(why),
                }
            }
        } else if line.starts_with(b"# Thread_id:") || line.starts_with(b"# Schema:") {
            if let Some(schema) = parse_schema(line) {
                self.schema = Some(schema.map(|(a, b)| (start + a, start + b)));
            }
        } else if line.starts_with(ADMIN) {
            self.admin = Some((start + 2, start + line.len()));
            self.phase = Phase::Done;
        }
    }

    /// Hands the entry to `sink`, or counts it as unrecognized.
    fn finish(self, chunk: &[u8], state: &MysqlState, stats: &mut ParseStats, sink: &mut dyn FnMut(&LogEntry<'_>)) {
        let first = &chunk[self.first.0..self.first.1];
        let Some(query_time) = self.query_time else {
            match self.bad_query_time {
                Some(why) => stats.reject(self.line, BAD_DURATION, why),
                None => stats.unrecognized(self.line, first.len()),
            }
            return;
        };
        let end_us = match (self.start_us, self.time_us.or(state.last_time_us)) {
            (Some(start), _) => start.saturating_add((query_time * 1e6).round() as i64),
            (None, Some(time)) => time,
            (None, None) => {
                stats.unrecognized(self.line, first.len());
                return;
            }
        };
        let database = match self.schema {
            Some(Some((a, b))) => Some(lossy(&chunk[a..b])),
            Some(None) => None,
            None => state.database.as_deref().map(Cow::Borrowed),
        };
        let (kind, text) = match (self.admin, self.text) {
            (Some((a, b)), _) => (EntryKind::Admin, lossy(trim_statement(&chunk[a..b]))),
            (None, Some((a, b))) => {
                let text = trim_statement(&chunk[a..b]);
                if self.multi_line && text.contains(&b'\r') {
                    (EntryKind::Statement, Cow::Owned(lossy(text).replace("\r\n", "\n")))
                } else {
                    (EntryKind::Statement, lossy(text))
                }
            }
            (None, None) => (EntryKind::Statement, Cow::Borrowed("")),
        };
        stats.entries += 1;
        sink(&LogEntry {
            end_ms: end_us.div_euclid(1000),
            duration_ms: query_time * 1000.0,
            kind,
            database,
            user: self.user.map(|(a, b)| lossy(&chunk[a..b])),
            text,
            parameters: None,
            line: self.line,
        });
    }
}

/// Index of the first '\n' in `hay`, eight bytes at a time.
fn find_newline(hay: &[u8]) -> Option<usize> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const NEWLINES: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut words = hay.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes) ^ NEWLINES;
        // High bit of each byte set exactly where that byte of `x` is zero.
        let zero = !(((x & LOW7) + LOW7) | x | LOW7);
        if zero != 0 {
            return Some(offset + (zero.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words.remainder().iter().position(|&b| b == b'\n').map(|i| offset + i)
}

/// Start of the line that ends at `end` (just after the '\n' before it, or 0).
fn line_start(buf: &[u8], end: usize) -> usize {
    buf[..end].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn trim_end(s: &[u8]) -> &[u8] {
    s.trim_ascii_end()
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

/// Trailing whitespace, one `;` and the whitespace before it.
fn trim_statement(text: &[u8]) -> &[u8] {
    let text = trim_end(text);
    trim_end(text.strip_suffix(b";").unwrap_or(text))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `/usr/sbin/mysqld, Version: 8.0.36 (…). started with:`
fn is_server_header(line: &[u8]) -> bool {
    let line = trim_end(line);
    line.ends_with(b"started with:") && line.first() != Some(&b'#') && find(line, b", Version: ").is_some()
}

/// Lines outside entries that are expected: blank lines and the rest of the
/// server header block.
fn is_noise(line: &[u8]) -> bool {
    let line = trim(line);
    if line.is_empty() || line.get(..9).is_some_and(|p| p.eq_ignore_ascii_case(b"tcp port:")) {
        return true;
    }
    let mut words = line.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty());
    [&b"Time"[..], b"Id", b"Command", b"Argument"]
        .iter()
        .all(|&w| words.next() == Some(w))
        && words.next().is_none()
}

/// The user in what follows `# User@Host:`: span relative to `rest`.
fn parse_user(rest: &[u8]) -> Option<(usize, usize)> {
    let end = rest.iter().position(|&b| b == b'[').unwrap_or(rest.len());
    let start = rest[..end].iter().position(|b| !b.is_ascii_whitespace())?;
    let end = start + trim_end(&rest[start..end]).len();
    // Without '[' the user is the first word.
    let end = rest[start..end]
        .iter()
        .position(u8::is_ascii_whitespace)
        .map_or(end, |i| start + i);
    Some((start, end))
}

/// `Schema: db` in a header line: `Some(Some(span))`, `Some(None)` when empty,
/// `None` when the line has no `Schema:`. The value runs to two spaces or the
/// end of the line (MariaDB writes `Schema: %s  QC_hit: …`).
fn parse_schema(line: &[u8]) -> Option<Option<(usize, usize)>> {
    let at = find(line, b"Schema:")? + b"Schema:".len();
    let start = if line.get(at) == Some(&b' ') { at + 1 } else { at };
    let rest = &line[start..];
    let rest = &rest[..find(rest, b"  ").unwrap_or(rest.len())];
    let lead = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let value = trim_end(&rest[lead..]);
    if value.is_empty() {
        return Some(None);
    }
    Some(Some((start + lead, start + lead + value.len())))
}

/// `use db;` or ``use `db`;``: the database name.
fn parse_use(line: &[u8]) -> Option<Cow<'_, str>> {
    let body = trim_end(line.strip_prefix(b"use ")?).strip_suffix(b";")?;
    let body = trim(body);
    if let Some(quoted) = body.strip_prefix(b"`").and_then(|b| b.strip_suffix(b"`")) {
        if quoted.is_empty() {
            return None;
        }
        let name = lossy(quoted);
        return Some(if name.contains("``") {
            Cow::Owned(name.replace("``", "`"))
        } else {
            name
        });
    }
    if body.is_empty() || body.iter().any(|b| b.is_ascii_whitespace() || *b == b'`') {
        return None;
    }
    Some(lossy(body))
}

/// `SET timestamp=N;`, maybe with `insert_id=` and `last_insert_id=` before
/// it: `Some(start)` when the line is one (`start` in Unix microseconds, `None`
/// without a readable timestamp), `None` when it is not.
fn parse_set(line: &[u8]) -> Option<Option<i64>> {
    let body = trim_end(line.strip_prefix(b"SET ")?).strip_suffix(b";")?;
    let mut start = None;
    for assignment in body.split(|&b| b == b',') {
        let eq = assignment.iter().position(|&b| b == b'=')?;
        let (name, value) = (&assignment[..eq], &assignment[eq + 1..]);
        if !value.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        match name {
            b"timestamp" => start = parse_seconds(value),
            b"insert_id" | b"last_insert_id" => {}
            _ => return None,
        }
    }
    Some(start)
}

/// `1790000000` or `1790000000.25` as Unix microseconds.
fn parse_seconds(value: &[u8]) -> Option<i64> {
    let (int, frac) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], &value[dot + 1..]),
        None => (value, &[][..]),
    };
    if int.is_empty() || int.len() > 12 || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits(int) * 1_000_000 + micros(frac))
}

/// The first six digits of a fraction as microseconds (`25` → 250000).
fn micros(frac: &[u8]) -> i64 {
    let mut value = 0;
    for i in 0..6 {
        value = value * 10 + frac.get(i).map_or(0, |&b| i64::from(b - b'0'));
    }
    value
}

/// Decimal value of ASCII digits (checked by the caller, at most 18).
fn digits(s: &[u8]) -> i64 {
    s.iter().fold(0, |v, &b| v * 10 + i64::from(b - b'0'))
}

/// Seconds from what follows `# Query_time:` (`5.200213  Lock_time: …`); an
/// error (a [`BAD_DURATION`] record) when unreadable or absurd.
fn parse_query_time(rest: &[u8]) -> Result<f64, String> {
    let rest = trim(rest);
    let token = &rest[..rest.iter().position(u8::is_ascii_whitespace).unwrap_or(rest.len())];
    let seconds = std::str::from_utf8(token).ok().and_then(|t| t.parse::<f64>().ok());
    parse_duration(token, "s", |_| seconds.map(|s| s * 1000.0)).map(|_| seconds.unwrap_or_default())
}

/// A `# Time:` value as Unix microseconds: `2026-11-27T08:18:42.123456Z`
/// (`T` or a space, any fraction, `Z`, `±hh:mm`, `±hhmm` or nothing for UTC) or
/// `261127  8:18:42` (read as UTC).
fn parse_time(value: &[u8]) -> Option<i64> {
    let value = trim(value);
    let num = |s: &[u8]| -> Option<i64> { (!s.is_empty() && s.iter().all(u8::is_ascii_digit)).then(|| digits(s)) };
    let (year, month, day, rest) = if value.get(4) == Some(&b'-') {
        // 2026-11-27T08:18:42
        if value.get(7) != Some(&b'-') || !matches!(value.get(10), Some(b'T' | b' ')) {
            return None;
        }
        (num(&value[..4])?, num(&value[5..7])?, num(&value[8..10])?, &value[11..])
    } else {
        // 261127  8:18:42
        let date = value.get(..6)?;
        let rest = &value[6..];
        let time_at = rest.iter().position(|b| !b.is_ascii_whitespace()).filter(|&i| i > 0)?;
        (
            2000 + num(&date[..2])?,
            num(&date[2..4])?,
            num(&date[4..6])?,
            &rest[time_at..],
        )
    };
    // H:MM:SS or HH:MM:SS
    let colon = rest.iter().position(|&b| b == b':').filter(|&i| (1..=2).contains(&i))?;
    let hour = num(&rest[..colon])?;
    let minute = num(rest.get(colon + 1..colon + 3)?)?;
    if rest.get(colon + 3) != Some(&b':') {
        return None;
    }
    let second = num(rest.get(colon + 4..colon + 6)?)?;
    let mut rest = &rest[colon + 6..];
    let mut frac_us = 0;
    if let Some(frac) = rest.strip_prefix(b".") {
        let len = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        frac_us = micros(&frac[..len]);
        rest = &frac[len..];
    }
    let offset_s = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let minutes = num(&[*h1, *h2])? * 60 + num(&[*m1, *m2])?;
            if *sign == b'-' { -minutes * 60 } else { minutes * 60 }
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(seconds * 1_000_000 + frac_us)
}

#[cfg(test)]
mod tests;
