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
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;

    /// MariaDB 10.x: server header, old-style `# Time:`, `Schema:`, extra fields,
    /// an entry without `# Time:`.
    const MARIADB: &str = "\
/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1-log (Debian 12). started with:
Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock
Time\t\t    Id Command\tArgument
# Time: 261127  8:18:42
# User@Host: root[root] @ localhost []
# Thread_id: 5  Schema: test  QC_hit: No
# Query_time: 5.200213  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 0
# Rows_affected: 0  Bytes_sent: 62
use test;
SET timestamp=1795767517;
SELECT SLEEP(5.2);
# User@Host: app[app] @  [10.0.0.7]
# Thread_id: 6  Schema: shop  QC_hit: No
# Query_time: 0.000250  Lock_time: 0.000100  Rows_sent: 0  Rows_examined: 1
# Rows_affected: 1  Bytes_sent: 52
# Pages_accessed: 6  Pages_read: 0  Pages_prefetched: 0  Pages_updated: 5  Old_rows_read: 0
#
# explain: id\tselect_type\ttable\ttype
# explain: 1\tSIMPLE\taccounts\trange
#
# Warnings
# Warning 1292 Truncated incorrect INTEGER value: '12abc'
SET timestamp=1795767522;
UPDATE accounts SET balance = balance + 1 WHERE id = 40;
";

    /// MySQL 8: ISO `# Time:`, `Id:` after the host, `log_slow_extra` fields on
    /// the `Query_time` line, `use` without quotes, an administrator command.
    const MYSQL8: &str = "\
/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:
Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock
Time                 Id Command    Argument
# Time: 2026-11-27T08:18:42.123456Z
# User@Host: app[app] @ web1 [10.0.0.5]  Id:    12
# Query_time: 5.200213  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 0 Thread_id: 12 Errno: 0 Killed: 0 \
Bytes_received: 0 Bytes_sent: 57 Start: 2026-11-27T08:18:36.923243Z End: 2026-11-27T08:18:42.123456Z
use shop;
SET timestamp=1795767516;
SELECT SLEEP(5.2);
# Time: 2026-11-27T08:18:43.000100Z
# User@Host: app[app] @ web1 [10.0.0.5]  Id:    12
# Query_time: 0.001000  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0
SET timestamp=1795767522;
# administrator command: Quit;
";

    fn owned(e: &LogEntry<'_>) -> LogEntry<'static> {
        let own = |c: &Cow<'_, str>| Cow::Owned(c.to_string());
        LogEntry {
            end_ms: e.end_ms,
            duration_ms: e.duration_ms,
            kind: e.kind,
            database: e.database.as_ref().map(own),
            user: e.user.as_ref().map(own),
            text: own(&e.text),
            parameters: e.parameters.as_ref().map(own),
            line: e.line,
        }
    }

    /// Parses `data` as one whole file.
    fn parse(data: &[u8]) -> (Vec<LogEntry<'static>>, ParseStats, MysqlState) {
        let (mut entries, mut stats, mut state) = (Vec::new(), ParseStats::default(), MysqlState::default());
        assert_eq!(split_point(data, true), data.len());
        parse_chunk(data, 1, &mut state, &mut stats, &mut |e| entries.push(owned(e)));
        (entries, stats, state)
    }

    /// Parses `data` as the driver does: blocks of the given sizes (cycled),
    /// cut at [`split_point`], the tail and the state carried over.
    fn drive(data: &[u8], blocks: &[usize]) -> (Vec<LogEntry<'static>>, ParseStats, MysqlState) {
        let (mut entries, mut stats, mut state) = (Vec::new(), ParseStats::default(), MysqlState::default());
        let (mut buf, mut pos, mut line, mut block) = (Vec::new(), 0, 1, 0);
        loop {
            let take = blocks[block % blocks.len()].max(1).min(data.len() - pos);
            block += 1;
            buf.extend_from_slice(&data[pos..pos + take]);
            pos += take;
            let eof = pos == data.len();
            let split = split_point(&buf, eof);
            assert!(split <= buf.len());
            assert!(
                split == 0 || buf[split - 1] == b'\n' || eof,
                "split {split} not at a line start"
            );
            parse_chunk(&buf[..split], line, &mut state, &mut stats, &mut |e| {
                entries.push(owned(e))
            });
            line += buf[..split].iter().filter(|&&b| b == b'\n').count() as u64;
            buf.drain(..split);
            if eof {
                return (entries, stats, state);
            }
        }
    }

    /// Line numbers (1-based) of the lines that end an entry: `# Time:`,
    /// `# User@Host:` not right after `# Time:`, server header lines. Written
    /// out again here, plainly, as the test's definition.
    fn boundaries(data: &[u8]) -> Vec<u64> {
        let mut out = Vec::new();
        let mut previous_time = false;
        for (i, line) in data.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = String::from_utf8_lossy(line);
            let time = text.starts_with("# Time:");
            let server =
                text.trim_end().ends_with("started with:") && text.contains(", Version: ") && !text.starts_with('#');
            if time || server || (text.starts_with("# User@Host:") && !previous_time) {
                out.push(i as u64 + 1);
            }
            previous_time = time;
        }
        out
    }

    fn utc_ms(date: &str) -> i64 {
        date.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn mariadb_entries() {
        let (entries, stats, state) = parse(MARIADB.as_bytes());
        assert_eq!(
            entries,
            vec![
                LogEntry {
                    end_ms: 1_795_767_517_000 + 5200,
                    duration_ms: 5200.213,
                    kind: EntryKind::Statement,
                    database: Some("test".into()),
                    user: Some("root".into()),
                    text: "SELECT SLEEP(5.2)".into(),
                    parameters: None,
                    line: 4,
                },
                LogEntry {
                    end_ms: 1_795_767_522_000,
                    duration_ms: 0.25,
                    kind: EntryKind::Statement,
                    database: Some("shop".into()),
                    user: Some("app".into()),
                    text: "UPDATE accounts SET balance = balance + 1 WHERE id = 40".into(),
                    parameters: None,
                    line: 12,
                },
            ]
        );
        assert_eq!(
            (stats.lines, stats.entries, stats.unrecognized),
            (24, 2, 0),
            "{stats:?}"
        );
        assert_eq!(state.database.as_deref(), Some("test"));
        assert_eq!(state.last_time_us, Some(utc_ms("2026-11-27T08:18:42Z") * 1000));
    }

    #[test]
    fn mysql8_entries_and_admin_command() {
        let (entries, stats, _) = parse(MYSQL8.as_bytes());
        assert_eq!(stats.unrecognized, 0, "{stats:?}");
        assert_eq!(entries.len(), 2);
        let (slow, quit) = (&entries[0], &entries[1]);
        assert_eq!(slow.end_ms, 1_795_767_516_000 + 5200);
        assert_eq!(slow.duration_ms, 5200.213);
        assert_eq!((slow.kind, slow.line), (EntryKind::Statement, 4));
        assert_eq!(
            (slow.database.as_deref(), slow.user.as_deref()),
            (Some("shop"), Some("app"))
        );
        assert_eq!(slow.text, "SELECT SLEEP(5.2)");
        assert_eq!(quit.kind, EntryKind::Admin);
        assert_eq!(quit.text, "administrator command: Quit");
        assert_eq!(
            (quit.end_ms, quit.line, quit.database.as_deref()),
            (1_795_767_522_001, 10, Some("shop"))
        );
    }

    #[test]
    fn use_persists_across_entries_and_chunks() {
        let log = "\
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
use first;
SET timestamp=1790000000;
SELECT 1;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000001;
SELECT 2;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
use `sec``ond`;
SET timestamp=1790000002;
use third;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000003;
SELECT 4;
";
        let (entries, stats, state) = parse(log.as_bytes());
        let dbs: Vec<_> = entries.iter().map(|e| e.database.as_deref()).collect();
        assert_eq!(dbs, [Some("first"), Some("first"), Some("sec`ond"), Some("sec`ond")]);
        // After the SET line, `use third;` is the statement itself.
        assert_eq!(entries[2].text, "use third");
        assert_eq!((stats.entries, stats.unrecognized), (4, 0));
        assert_eq!(state.database.as_deref(), Some("sec`ond"));
        // A later chunk of the same file starts with the database of the last `use`.
        let mut state = state;
        let mut seen = Vec::new();
        let next =
            "# User@Host: a[a] @ h []\n# Query_time: 1.0  Lock_time: 0.0\nSET timestamp=1790000004;\nSELECT 5;\n";
        parse_chunk(next.as_bytes(), 20, &mut state, &mut ParseStats::default(), &mut |e| {
            seen.push((e.database.as_deref().map(str::to_string), e.line));
        });
        assert_eq!(seen, [(Some("sec`ond".to_string()), 20)]);
    }

    #[test]
    fn schema_overrides_use_and_empty_schema_means_none() {
        let log = "\
# User@Host: a[a] @ h []
# Thread_id: 1  Schema: from_schema  QC_hit: No
# Query_time: 1.0  Lock_time: 0.0
use from_use;
SET timestamp=1790000000;
SELECT 1;
# User@Host: a[a] @ h []
# Thread_id: 1  Schema:   QC_hit: No
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT 2;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT 3;
# User@Host: a[a] @ h []
# Thread_id: 1  Schema: my db  Last_errno: 0  Killed: 0
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT 4;
";
        let (entries, _, state) = parse(log.as_bytes());
        let dbs: Vec<_> = entries.iter().map(|e| e.database.as_deref()).collect();
        assert_eq!(dbs, [Some("from_schema"), None, Some("from_use"), Some("my db")]);
        assert_eq!(
            state.database.as_deref(),
            Some("from_use"),
            "Schema: does not change the `use` database"
        );
    }

    #[test]
    fn end_time_from_set_timestamp_then_own_time_then_last_time() {
        let log = "\
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SELECT 'no time at all';
# Time: 2026-09-21T14:13:20.5+02:00
# User@Host: a[a] @ h []
# Query_time: 2.000001  Lock_time: 0.0
SELECT 'own time, no SET';
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SELECT 'last time';
# User@Host: a[a] @ h []
# Query_time: 0.1234567  Lock_time: 0.0
SET timestamp=1790000000.250000;
SELECT 'fraction';
# Time: 260921 14:13:20
# User@Host: a[a] @ h []
# Query_time: 0.5  Lock_time: 0.0
SET last_insert_id=3,insert_id=4,timestamp=1790000100;
SELECT 'insert ids';
# User@Host: a[a] @ h []
# Query_time: 0.5  Lock_time: 0.0
SET timestamp=1790000200;
";
        let (entries, stats, _) = parse(log.as_bytes());
        assert_eq!((stats.unrecognized, stats.first_unrecognized[0].0), (1, 1), "{stats:?}");
        let got: Vec<_> = entries.iter().map(|e| (e.line, e.end_ms, e.text.as_ref())).collect();
        let own = utc_ms("2026-09-21T12:13:20.5Z");
        assert_eq!(
            got,
            [
                (4, own, "SELECT 'own time, no SET'"),
                (8, own, "SELECT 'last time'"),
                (11, 1_790_000_000_373, "SELECT 'fraction'"),
                (15, 1_790_000_100_500, "SELECT 'insert ids'"),
                (20, 1_790_000_200_500, ""),
            ]
        );
        assert_eq!(entries[2].duration_ms, 123.4567);
    }

    #[test]
    fn time_values() {
        let us = |s: &str| parse_time(s.as_bytes());
        let exact = |s: &str| Some(s.parse::<jiff::Timestamp>().unwrap().as_microsecond());
        assert_eq!(us(" 261127  8:18:42"), exact("2026-11-27T08:18:42Z"));
        assert_eq!(us("231127 18:18:42"), exact("2023-11-27T18:18:42Z"));
        assert_eq!(us("2026-11-27T08:18:42.123456Z"), exact("2026-11-27T08:18:42.123456Z"));
        assert_eq!(us("2026-11-27T08:18:42.123456Z"), Some(1_795_767_522_123_456));
        assert_eq!(
            us("2026-11-27T08:18:42.1234569-0130"),
            exact("2026-11-27T09:48:42.123456Z")
        );
        assert_eq!(us("2026-02-28 23:59:59"), exact("2026-02-28T23:59:59Z"));
        assert_eq!(us("2024-02-29T00:00:00+00:00"), exact("2024-02-29T00:00:00Z"));
        assert_eq!(us("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-11-27T24:00:00Z",
            "261127",
            "261127 8:18",
            "2026-11-27T08:18:42 UTC",
            "x",
        ] {
            assert_eq!(us(bad), None, "{bad}");
        }
        assert_eq!(parse_seconds(b"1790000000.5"), Some(1_790_000_000_500_000));
        assert_eq!(parse_seconds(b"1790000000.1234567"), Some(1_790_000_000_123_456));
        assert_eq!(parse_seconds(b"."), None);
    }

    #[test]
    fn multi_line_statement_keeps_its_lines_and_borrows() {
        let log = "\
# Time: 261127  8:18:42
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT a.id
# a hash comment inside the statement
\tFROM accounts a   -- comment
use not_a_database;
WHERE a.memo = 'Überweisung ✓ 患者' ;  \n\
\n\
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
/* 日本語 */ SELECT 1;
";
        let mut got = Vec::new();
        parse_chunk(
            log.as_bytes(),
            1,
            &mut MysqlState::default(),
            &mut ParseStats::default(),
            &mut |e| {
                got.push((
                    e.text.to_string(),
                    matches!(e.text, Cow::Borrowed(_)),
                    e.database.is_none(),
                ));
            },
        );
        assert_eq!(
            got,
            [
                (
                    "SELECT a.id\n# a hash comment inside the statement\n\tFROM accounts a   -- comment\n\
                     use not_a_database;\nWHERE a.memo = 'Überweisung ✓ 患者'"
                        .to_string(),
                    true,
                    true
                ),
                ("/* 日本語 */ SELECT 1".to_string(), true, true),
            ]
        );
    }

    #[test]
    fn statements_that_look_like_header_lines() {
        let log = "\
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SET timestamp = 1790000000;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SET @id = 7;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
-- only a comment;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT '# Query_time: 99.0' AS decoy;
";
        let (entries, stats, _) = parse(log.as_bytes());
        let texts: Vec<_> = entries.iter().map(|e| e.text.as_ref()).collect();
        assert_eq!(
            texts,
            [
                "SET timestamp = 1790000000",
                "SET @id = 7",
                "-- only a comment",
                "SELECT '# Query_time: 99.0' AS decoy"
            ]
        );
        assert!(
            entries
                .iter()
                .all(|e| e.duration_ms == 1000.0 && e.end_ms == 1_790_000_001_000)
        );
        assert_eq!(stats.unrecognized, 0);
    }

    #[test]
    fn invalid_utf8_and_crlf() {
        let log = b"# User@Host: b\xffb[b] @ h []\r\n# Query_time: 0.5  Lock_time: 0\r\nSET timestamp=1790000000;\r\nSELECT '\xff\xfe'\r\n  AS x;\r\n";
        let (entries, stats, _) = parse(log);
        assert_eq!(stats.unrecognized, 0);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].user.as_deref(), Some("b\u{fffd}b"));
        assert_eq!(entries[0].text, "SELECT '\u{fffd}\u{fffd}'\n  AS x");
        assert_eq!(entries[0].end_ms, 1_790_000_000_500);
    }

    #[test]
    fn server_header_in_the_middle_is_noise_and_ends_the_statement() {
        let log = format!("{MARIADB}{MYSQL8}garbage between entries\n\n{MARIADB}");
        let (entries, stats, _) = parse(log.as_bytes());
        assert_eq!(entries.len(), 6);
        assert_eq!(
            entries[1].text,
            "UPDATE accounts SET balance = balance + 1 WHERE id = 40"
        );
        assert_eq!(entries[3].text, "administrator command: Quit");
        assert_eq!(entries[4].line, 24 + 14 + 2 + 4);
        assert_eq!(stats.unrecognized, 1, "{stats:?}");
        assert_eq!(
            stats.first_unrecognized,
            [(24 + 14 + 1, "garbage between entries".len())]
        );
        // A header right after an administrator command, and a header line that is
        // not the first of its block, inside a statement: text.
        let log = "\
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
# administrator command: Quit;
/usr/sbin/mysqld, Version: 5.7.44-log (MySQL Community Server (GPL)). started with:
Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock
Time                 Id Command    Argument
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT 1,
Tcp port: 3306
";
        let (entries, stats, _) = parse(log.as_bytes());
        let texts: Vec<_> = entries.iter().map(|e| e.text.as_ref()).collect();
        assert_eq!(texts, ["administrator command: Quit", "SELECT 1,\nTcp port: 3306"]);
        assert_eq!((stats.lines, stats.unrecognized), (12, 0));
    }

    #[test]
    fn truncated_last_entry() {
        let whole = MARIADB.as_bytes();
        let (full, _, _) = parse(whole);
        // Cut in the middle of the statement: parsed as far as it goes.
        let cut = whole.len() - 20;
        let (entries, stats, _) = parse(&whole[..cut]);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], full[0]);
        assert_eq!(entries[1].text, "UPDATE accounts SET balance = balance");
        assert_eq!(stats.unrecognized, 0);
        // Cut before its `# Query_time:` line: unrecognized, with its first line.
        let cut = MARIADB.find("# Query_time: 0.000250").unwrap();
        let (entries, stats, _) = parse(&whole[..cut]);
        assert_eq!(entries, full[..1]);
        assert_eq!(
            stats.first_unrecognized,
            [(12, "# User@Host: app[app] @  [10.0.0.7]".len())]
        );
        // Cut in its `# Time:` line: the line starts an entry that cannot be used.
        let (entries, stats, _) = parse(&MYSQL8.as_bytes()[..MYSQL8.find("43.0001").unwrap()]);
        assert_eq!((entries.len(), stats.unrecognized), (1, 1));
        // An administrator command followed by more lines.
        let (entries, stats, _) = parse(format!("{MYSQL8}stray\n").as_bytes());
        assert_eq!(
            (entries.len(), stats.unrecognized, stats.first_unrecognized[0].0),
            (2, 1, 15)
        );
    }

    #[test]
    fn split_point_cases() {
        let log = MARIADB.as_bytes();
        let second = MARIADB.find("# User@Host: app").unwrap();
        let first = MARIADB.find("# Time:").unwrap();
        assert_eq!(split_point(log, false), second);
        assert_eq!(split_point(log, true), log.len());
        assert_eq!(split_point(&log[..second + 12], false), second);
        assert_eq!(
            split_point(&log[..second + 11], false),
            first,
            "not yet a whole `# User@Host:`"
        );
        // "# User@Host:" right after "# Time:" belongs to it: split before the Time line.
        let user = MARIADB.find("# User@Host: root").unwrap();
        assert_eq!(split_point(&log[..user + 12], false), first);
        assert_eq!(split_point(&log[..user], false), first);
        // A server header line counts only when it is whole.
        let header = MARIADB.find("Tcp port").unwrap();
        assert_eq!(split_point(&log[..header - 1], false), 0);
        assert_eq!(split_point(&log[..header], false), 0, "the header is the first line");
        let twice = format!("SELECT 1;\n{MARIADB}");
        assert_eq!(split_point(&twice.as_bytes()[..header + 10], false), 10);
        assert_eq!(
            split_point(&twice.as_bytes()[..header + 9], false),
            0,
            "its '\\n' is missing"
        );
        assert_eq!(split_point(b"", false), 0);
        assert_eq!(split_point(b"# Time: 1", false), 0);
        assert_eq!(split_point(b"x\n# Time", false), 0);
        assert_eq!(split_point(b"x\n# Time:", false), 2);
    }

    #[test]
    fn find_newline_matches_position() {
        let mut hay = vec![b'a'; 40];
        assert_eq!(find_newline(&hay), None);
        for i in 0..40 {
            hay[i] = b'\n';
            for start in 0..=i {
                assert_eq!(find_newline(&hay[start..]), Some(i - start));
            }
            hay[i] = 0x8a;
            assert_eq!(find_newline(&hay), None);
            hay[i] = b'\x0b';
            assert_eq!(find_newline(&hay), None);
        }
    }

    /// The real MariaDB 10.11 slow log made by `scripts/slowlog-fixtures` (with
    /// `log_slow_verbosity` explain, warnings, …). The workload is fixed but its
    /// run times are not, so the numbers are counted from the file itself.
    #[test]
    fn mariadb_fixture() {
        let data = fixture();
        let text = std::str::from_utf8(&data).unwrap();
        // Independent count: every "# Query_time:" line is one statement.
        let query_times: Vec<f64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# Query_time: "))
            .map(|rest| rest.split_whitespace().next().unwrap().parse().unwrap())
            .collect();
        let expected_ms: f64 = query_times.iter().map(|s| s * 1000.0).sum();
        let starts: Vec<i64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("SET timestamp="))
            .filter_map(|rest| rest.strip_suffix(';')?.parse().ok())
            .collect();
        let (min_ms, max_ms) = (
            starts.iter().min().unwrap() * 1000,
            starts.iter().max().unwrap() * 1000 + 6000,
        );

        let (entries, stats, state) = parse(&data);
        assert!(query_times.len() > 250, "{}", query_times.len());
        assert_eq!(entries.len(), query_times.len());
        assert_eq!(stats.lines, data.iter().filter(|&&b| b == b'\n').count() as u64);
        assert_eq!(
            (stats.entries, stats.unrecognized),
            (entries.len() as u64, 0),
            "{stats:?}"
        );
        let total_ms: f64 = entries.iter().map(|e| e.duration_ms).sum();
        assert!((total_ms - expected_ms).abs() < 1e-6, "{total_ms} vs {expected_ms}");
        assert_eq!(entries.iter().filter(|e| e.duration_ms > 5000.0).count(), 3);
        assert!(entries.iter().all(|e| (min_ms..=max_ms).contains(&e.end_ms)));
        assert!(
            entries
                .iter()
                .all(|e| e.kind == EntryKind::Statement && e.user.as_deref() == Some("root"))
        );
        assert!(
            entries
                .iter()
                .all(|e| !e.text.is_empty() && !e.text.contains("Version: "))
        );
        assert!(entries.windows(2).all(|w| w[0].line < w[1].line));
        assert_eq!(state.database.as_deref(), Some("poolcap_fixtures"));

        let find = |needle: &str| {
            entries
                .iter()
                .find(|e| e.text.contains(needle))
                .unwrap_or_else(|| panic!("{needle}"))
        };
        let first = &entries[0];
        assert_eq!((first.line, first.database.as_deref()), (4, Some("poolcap_fixtures")));
        assert!(text.lines().nth(3).unwrap().starts_with("# Time: "));
        assert_eq!(
            find("hash comment").text,
            "SELECT 1 AS x\n# a hash comment line inside a multi-line statement\n, 2 AS y"
        );
        assert_eq!(
            find("multi_line_literal").text,
            "SELECT 'first line\nsecond line\tafter a TAB' AS multi_line_literal"
        );
        assert_eq!(find("SET timestamp = 1").text, "SET timestamp = 1790000000");
        assert_eq!(find("SET timestamp = 1").end_ms, 1_790_000_000_000);
        assert_eq!(find("SELECT NOW() AS pinned_now").end_ms, 1_790_000_000_000);
        assert!(
            find("-- poolcap slow-log fixtures")
                .text
                .ends_with("comment-only statement")
        );
        assert_eq!(
            find("audit_events (kind").database.as_deref(),
            Some("poolcap_fixtures_b")
        );
        assert_eq!(
            find("SET timestamp = DEFAULT").text,
            "SET timestamp = DEFAULT",
            "not glued to the header after it"
        );
        let flush = find("after FLUSH SLOW LOGS");
        let header = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains(", Version: "))
            .last()
            .unwrap()
            .0 as u64
            + 1;
        assert!(flush.line > header && header > 4, "{} {header}", flush.line);
        let slow = find("SLEEP(5.3)");
        assert_eq!(slow.text, "SELECT SLEEP(5.3),\n\t'遅いクエリ' AS label");
        assert_eq!(slow.database.as_deref(), Some("poolcap_fixtures_b"));
        assert!(slow.duration_ms > 5300.0 && slow.end_ms % 1000 == 300, "{slow:?}");
    }

    /// Pieces of logs, glued in any order by the property tests.
    const PIECES: &[&[u8]] = &[
        b"/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1-log (Debian 12). started with:\n\
          Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime\t\t    Id Command\tArgument\n",
        b"# Time: 261127  8:18:42\n# User@Host: root[root] @ localhost []\n# Thread_id: 5  Schema: test  QC_hit: No\n\
          # Query_time: 1.500000  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 0\n\
          # Rows_affected: 0  Bytes_sent: 62\nuse test;\nSET timestamp=1795767517;\nSELECT SLEEP(1.5);\n",
        b"# User@Host: app[app] @  [10.0.0.7]\n# Thread_id: 6  Schema: shop  QC_hit: No\n\
          # Query_time: 0.000250  Lock_time: 0.000100  Rows_sent: 0  Rows_examined: 1\n#\n# explain: id\tselect_type\n#\n\
          SET timestamp=1795767522;\nSELECT 1 AS x\n# a comment\n, 2 AS y;\n",
        b"# Time: 2026-11-27T08:18:42.123456Z\n# User@Host: app[app] @ web1 [10.0.0.5]  Id:    12\n\
          # Query_time: 0.200213  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 0\nuse shop;\n\
          SET timestamp=1795767516;\nSELECT * FROM orders WHERE id = 5;\n",
        b"# User@Host: app[app] @ web1 [10.0.0.5]  Id:    12\n\
          # Query_time: 0.000010  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1795767522;\n\
          # administrator command: Quit;\n",
        "# User@Host: u[u] @ h []\n# Query_time: 0.3  Lock_time: 0\nuse `other db`;\nSELECT 'Überweisung ✓ 患者';\n"
            .as_bytes(),
        b"garbage line\n",
        b"\n",
        b"# Time: 2026-11-27T08:19:00Z\n",
        b"# User@Host: x[x] @ h []\nSET timestamp=1795767600;\nSELECT 2;\n",
        b"# User@Host: w[w] @ h []\r\n# Query_time: 0.010000  Lock_time: 0.000000\r\n\
          SET timestamp=1795767601.500000;\r\nSELECT\r\n 3;\r\n",
        b"# User@Host: v[v] @ h []\n# Query_time: 0.000001  Lock_time: 0\n\
          SET last_insert_id=4,insert_id=5,timestamp=1795767602;\nSET timestamp = 1790000000;\n",
        b"Tcp port: 3306  Unix socket: x\n",
        b"/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:\n\
          Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\nTime                 Id Command    Argument\n",
        b"# User@Host: b[b] @ h []\n# Query_time: 0.5  Lock_time: 0\nSET timestamp=1795767603;\nSELECT '\xff\xfe';\n",
        b"SELECT '# Query_time: 99' AS decoy;\n",
        b"# Query_time: 2.0  Lock_time: 0\n",
        b"# User@Host: t[t] @ h []\n# Query_time: 3.0  Lock_time: 0\nSELECT 'no SET';\n",
        b"use `later`;\n",
    ];

    fn log_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(0..PIECES.len(), 0..24)
            .prop_map(|picks| picks.iter().flat_map(|&i| PIECES[i]).copied().collect())
    }

    fn fixture() -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slowlog/mariadb-slow.log")).unwrap()
    }

    /// The entries of `data` cut at `cut` must start with every complete entry
    /// of the whole `data`: one whose following boundary line (see
    /// [`boundaries`]) is whole before the cut. At most one more entry (the
    /// truncated one) may follow them.
    fn check_cut(data: &[u8], cut: usize) -> Result<(), TestCaseError> {
        let (full, _, _) = parse(data);
        let (part, _, _) = parse(&data[..cut]);
        let whole_lines = data[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
        let bounds = boundaries(data);
        let complete: Vec<_> = full
            .iter()
            .filter(|e| cut == data.len() || bounds.iter().any(|&b| b > e.line && b <= whole_lines))
            .cloned()
            .collect();
        prop_assert!(
            part.len() >= complete.len() && part.len() <= complete.len() + 1,
            "{} vs {}",
            part.len(),
            complete.len()
        );
        prop_assert_eq!(&part[..complete.len()], &complete[..]);
        Ok(())
    }

    proptest! {
        #[test]
        fn chunked_parse_equals_whole(data in log_strategy(), blocks in prop::collection::vec(1usize..200, 1..8)) {
            let (entries, stats, state) = parse(&data);
            let (chunked, chunked_stats, chunked_state) = drive(&data, &blocks);
            prop_assert_eq!(chunked, entries);
            prop_assert_eq!(chunked_stats, stats);
            prop_assert_eq!(format!("{chunked_state:?}"), format!("{state:?}"));
        }

        #[test]
        fn split_point_is_an_entry_start(data in log_strategy()) {
            let bounds = boundaries(&data);
            let starts: Vec<usize> = std::iter::once(0).chain(data.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1)).collect();
            for len in 0..=data.len() {
                let split = split_point(&data[..len], false);
                prop_assert!(split <= len);
                if split > 0 {
                    let line = starts.iter().position(|&s| s == split).map(|i| i as u64 + 1);
                    prop_assert!(line.is_some_and(|l| bounds.contains(&l)), "split {} of {} at line {:?}", split, len, line);
                }
            }
        }

        #[test]
        fn cut_anywhere_keeps_complete_entries(data in log_strategy(), at in any::<prop::sample::Index>()) {
            let cut = at.index(data.len() + 1);
            check_cut(&data, cut)?;
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            noise in prop::collection::vec(any::<u8>(), 0..400),
            data in log_strategy(),
            at in any::<prop::sample::Index>(),
        ) {
            let at = at.index(data.len() + 1);
            let mixed: Vec<u8> = data[..at].iter().chain(&noise).chain(&data[at..]).copied().collect();
            for bytes in [&noise[..], &mixed[..]] {
                for eof in [false, true] {
                    let split = split_point(bytes, eof);
                    prop_assert!(split <= bytes.len());
                    let mut state = MysqlState::default();
                    let mut stats = ParseStats::default();
                    parse_chunk(&bytes[..split], 1, &mut state, &mut stats, &mut |_| {});
                    parse_chunk(bytes, 1, &mut state, &mut stats, &mut |_| {});
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn fixture_chunked_equals_whole(blocks in prop::collection::vec(1usize..6000, 1..8)) {
            let data = fixture();
            let (entries, stats, state) = parse(&data);
            let (chunked, chunked_stats, chunked_state) = drive(&data, &blocks);
            prop_assert_eq!(chunked, entries);
            prop_assert_eq!(chunked_stats, stats);
            prop_assert_eq!(format!("{chunked_state:?}"), format!("{state:?}"));
        }

        #[test]
        fn fixture_cut_anywhere_keeps_complete_entries(at in any::<prop::sample::Index>()) {
            let data = fixture();
            check_cut(&data, at.index(data.len() + 1))?;
        }
    }
}
