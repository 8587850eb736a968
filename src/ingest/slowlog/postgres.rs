//! PostgreSQL logs: stderr with any `log_line_prefix`, csvlog and jsonlog.
//!
//! What is read: `duration: N ms  statement: …` (simple protocol),
//! `duration: N ms  execute <name>: …`, `… parse <name>: …` and `… bind <name>: …`
//! (extended protocol; parse and bind are hold time of the same statement, not
//! queries), and bare `duration: N ms` lines (`log_duration = on`), counted
//! apart. Statement text continues on following lines that start with a TAB
//! (stderr); a `DETAIL:  parameters: …` line right after an entry belongs to it.
//! Other messages (connections, checkpoints, errors) are known noise. A
//! PostgreSQL timestamp marks the end of a statement: start = end − duration.
//!
//! Time zones: a timestamp's zone may be `UTC`/`GMT`, a numeric offset (`+01`,
//! `-0530`), or an abbreviation such as `CET`; abbreviations other than UTC/GMT
//! are read as wall-clock time in the log time zone the caller gives
//! (`--log-timezone`, default the config's zone), because abbreviations are
//! ambiguous.

use std::borrow::Cow;

use jiff::tz::TimeZone;

use super::{BAD_DURATION, EntryKind, LogEntry, ParseStats, lossy, parse_duration};

/// One piece of a compiled `log_line_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Vec<u8>),
    Field(u8),
    /// `%q`: what follows is printed only by session processes.
    SessionOnly,
}

/// A compiled `log_line_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    text: String,
    parts: Vec<Part>,
}

/// The escapes `log_line_prefix` knows.
const ESCAPES: &[u8] = b"amnpctlusdrhixveQbq%";

impl Prefix {
    /// Compiles a prefix written with the server's `%` escapes.
    pub fn compile(text: &str) -> Result<Prefix, String> {
        let b = text.as_bytes();
        let mut parts: Vec<Part> = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                lit.push(b[i]);
                i += 1;
                continue;
            }
            i += 1;
            // Optional padding: %-10u, %10u.
            if i < b.len() && b[i] == b'-' {
                i += 1;
            }
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let Some(&esc) = b.get(i) else {
                return Err(format!("log_line_prefix {text:?} ends with a lone %"));
            };
            i += 1;
            if !ESCAPES.contains(&esc) {
                return Err(format!(
                    "log_line_prefix {text:?} has an unknown escape %{}",
                    esc as char
                ));
            }
            if esc == b'%' {
                lit.push(b'%');
                continue;
            }
            if !lit.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut lit)));
            }
            parts.push(if esc == b'q' {
                Part::SessionOnly
            } else {
                Part::Field(esc)
            });
        }
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        Ok(Prefix {
            text: text.to_string(),
            parts,
        })
    }

    /// The prefix as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Fields of a matched prefix.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct PrefixFields<'a> {
    /// %m, %t or %n text.
    time: Option<&'a [u8]>,
    pid: Option<&'a [u8]>,
    user: Option<&'a [u8]>,
    database: Option<&'a [u8]>,
}

/// Severity keywords a message starts with after the prefix.
const SEVERITIES: [&[u8]; 15] = [
    b"LOG",
    b"DETAIL",
    b"STATEMENT",
    b"ERROR",
    b"HINT",
    b"CONTEXT",
    b"WARNING",
    b"FATAL",
    b"PANIC",
    b"NOTICE",
    b"INFO",
    b"DEBUG",
    b"QUERY",
    b"LOCATION",
    b"DEBUG1",
];

/// If `rest` starts with `SEVERITY:  `, the severity and the message after it.
fn severity(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = rest.iter().take(12).position(|&c| c == b':')?;
    let word = &rest[..colon];
    if word.is_empty() || !word.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return None;
    }
    if !SEVERITIES.iter().any(|s| word.starts_with(s)) {
        return None;
    }
    let mut msg = &rest[colon + 1..];
    while let [b' ', tail @ ..] = msg {
        msg = tail;
    }
    Some((word, msg))
}

fn field_end(line: &[u8], start: usize, esc: u8, next: Option<&Part>) -> Option<usize> {
    let digits = |from: usize| from + line[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    match esc {
        b'p' | b'l' => Some(digits(start)),
        b'm' | b't' | b's' => {
            // YYYY-MM-DD HH:MM:SS[.mmm] ZONE
            let mut i = start + 19;
            if i > line.len() {
                return None;
            }
            if line.get(i) == Some(&b'.') {
                i = digits(i + 1);
            }
            if line.get(i) == Some(&b' ') {
                let zone = line[i + 1..]
                    .iter()
                    .take_while(|c| !c.is_ascii_whitespace() && **c != b']')
                    .count();
                i += 1 + zone;
            }
            Some(i)
        }
        b'n' => {
            let i = digits(start);
            Some(if line.get(i) == Some(&b'.') { digits(i + 1) } else { i })
        }
        _ => match next {
            Some(Part::Literal(lit)) => find(&line[start..], lit).map(|p| start + p),
            _ => Some(start + line[start..].iter().take_while(|c| **c != b' ').count()),
        },
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [] => Some(0),
        [one] => memchr::memchr(*one, hay),
        // Short needles (`: `, `@`…), once per line: building a substring
        // searcher would cost more than the search.
        [first, rest @ ..] if rest.len() <= 2 => {
            memchr::memchr_iter(*first, hay).find(|&i| hay[i + 1..].starts_with(rest))
        }
        _ => memchr::memmem::find(hay, needle),
    }
}

impl Prefix {
    /// Matches the prefix at the start of `line`; the fields and the rest.
    fn matches<'a>(&self, line: &'a [u8]) -> Option<(PrefixFields<'a>, &'a [u8])> {
        let mut fields = PrefixFields::default();
        let mut pos = 0;
        for (k, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(lit) => {
                    if !line[pos..].starts_with(lit) {
                        return None;
                    }
                    pos += lit.len();
                }
                Part::SessionOnly => {
                    if severity(&line[pos..]).is_some() {
                        return Some((fields, &line[pos..]));
                    }
                }
                Part::Field(esc) => {
                    let end = field_end(line, pos, *esc, self.parts.get(k + 1))?;
                    if end > line.len() {
                        return None;
                    }
                    let value = &line[pos..end];
                    match esc {
                        b'm' | b't' | b'n' => fields.time = Some(value),
                        b'p' => fields.pid = Some(value),
                        b'u' => fields.user = Some(value),
                        b'd' => fields.database = Some(value),
                        _ => {}
                    }
                    pos = end;
                }
            }
        }
        Some((fields, &line[pos..]))
    }
}

/// The prefixes tried when none is given, most common first.
pub const COMMON_PREFIXES: [&str; 7] = [
    "%m [%p] %q%u@%d ",
    "%m [%p] ",
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: [%l-1] ",
    "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%m [%p-%l] %q%u@%d ",
    "%t [%p-%l] %q%u@%d ",
];

/// Picks the prefix that matches most `duration:` lines of a sample of the log.
pub fn detect_prefix(sample: &[u8]) -> Option<Prefix> {
    let candidates: Vec<Prefix> = COMMON_PREFIXES.iter().filter_map(|p| Prefix::compile(p).ok()).collect();
    let mut scores = vec![0usize; candidates.len()];
    let mut seen = 0;
    for line in sample.split(|&c| c == b'\n') {
        if find(line, b"duration: ").is_none() {
            continue;
        }
        seen += 1;
        for (i, p) in candidates.iter().enumerate() {
            if let Some((fields, rest)) = p.matches(line)
                && fields.time.is_some()
                && severity(rest).is_some()
            {
                scores[i] += 1;
            }
        }
        if seen >= 200 {
            break;
        }
    }
    let best = (0..candidates.len()).max_by_key(|&i| (scores[i], usize::MAX - i))?;
    (scores[best] > 0).then(|| candidates[best].clone())
}

/// What a `duration:` message says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Message<'a> {
    /// Milliseconds.
    pub duration_ms: f64,
    /// What kind of entry.
    pub kind: EntryKind,
    /// The statement text (empty when bare).
    pub text: &'a [u8],
}

fn parse_ms(b: &[u8]) -> Option<f64> {
    // Fast path: digits[.digits]
    let mut int: u64 = 0;
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        int = int.checked_mul(10)?.checked_add(u64::from(b[i] - b'0'))?;
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let mut value = int as f64;
    if i < b.len() && b[i] == b'.' {
        let mut frac: u64 = 0;
        let mut scale = 1.0;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() && scale < 1e15 {
            frac = frac * 10 + u64::from(b[i] - b'0');
            scale *= 10.0;
            i += 1;
        }
        value += frac as f64 / scale;
    }
    Some(value)
}

/// Parses a `LOG` message; `None` when it is not a `duration:` message, an
/// error (for a [`BAD_DURATION`] record) when its duration is unreadable or
/// absurd (see [`parse_duration`]).
pub fn parse_message(msg: &[u8]) -> Option<Result<Message<'_>, String>> {
    let rest = msg.strip_prefix(b"duration: ")?;
    let space = rest.iter().position(|&c| c == b' ')?;
    let after = rest[space..].strip_prefix(b" ms")?;
    match parse_duration(&rest[..space], "ms", parse_ms) {
        Ok(duration_ms) => message(duration_ms, after).map(Ok),
        Err(e) => Some(Err(e)),
    }
}

/// What follows `duration: N ms`.
fn message(duration_ms: f64, rest: &[u8]) -> Option<Message<'_>> {
    let rest = trim_end(rest);
    if rest.is_empty() {
        return Some(Message {
            duration_ms,
            kind: EntryKind::Bare,
            text: b"",
        });
    }
    let mut rest = rest;
    while let [b' ', tail @ ..] = rest {
        rest = tail;
    }
    if let Some(text) = rest.strip_prefix(b"statement: ") {
        return Some(Message {
            duration_ms,
            kind: EntryKind::Statement,
            text,
        });
    }
    for (word, kind) in [
        (&b"execute "[..], EntryKind::Execute),
        (b"parse ", EntryKind::Parse),
        (b"bind ", EntryKind::Bind),
    ] {
        if let Some(after) = rest.strip_prefix(word) {
            // `<name>: text` — the name may be `<unnamed>` or `P_1`, or `S_1/C_2` for portals.
            let colon = find(after, b": ")?;
            return Some(Message {
                duration_ms,
                kind,
                text: &after[colon + 2..],
            });
        }
    }
    // `fastpath function call: …` and other shapes: a statement of unknown text.
    Some(Message {
        duration_ms,
        kind: EntryKind::Statement,
        text: rest,
    })
}

fn trim_end(mut b: &[u8]) -> &[u8] {
    while let [head @ .., b' ' | b'\r' | b'\t'] = b {
        b = head;
    }
    b
}

/// Reads PostgreSQL timestamps, caching the last second seen.
#[derive(Debug, Clone)]
pub struct TimeReader {
    tz: TimeZone,
    cached_key: Vec<u8>,
    cached_seconds: i64,
}

impl TimeReader {
    /// Abbreviated zones other than UTC/GMT are read in `tz`.
    pub fn new(tz: TimeZone) -> Self {
        TimeReader {
            tz,
            cached_key: Vec::new(),
            cached_seconds: 0,
        }
    }

    /// Unix milliseconds of `YYYY-MM-DD HH:MM:SS[.fff] ZONE` or `epoch.mmm`.
    pub fn read(&mut self, text: &[u8]) -> Option<i64> {
        if text.len() < 19 || text[4] != b'-' {
            // %n: Unix epoch with milliseconds.
            let secs = parse_ms(text)?;
            return Some((secs * 1000.0).round() as i64);
        }
        let (datetime, rest) = text.split_at(19);
        let mut millis = 0i64;
        let mut rest = rest;
        if let [b'.', tail @ ..] = rest {
            let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            let digits = &tail[..n];
            for k in 0..3 {
                millis = millis * 10 + digits.get(k).map_or(0, |d| i64::from(d - b'0'));
            }
            rest = &tail[n..];
        }
        let zone = rest.strip_prefix(b" ").unwrap_or(rest);
        // Cache key: date-time to the second plus the zone.
        if self.cached_key.len() == 19 + zone.len()
            && self.cached_key[..19] == *datetime
            && self.cached_key[19..] == *zone
        {
            return Some(self.cached_seconds * 1000 + millis);
        }
        let seconds = self.seconds(datetime, zone)?;
        self.cached_key.clear();
        self.cached_key.extend_from_slice(datetime);
        self.cached_key.extend_from_slice(zone);
        self.cached_seconds = seconds;
        Some(seconds * 1000 + millis)
    }

    fn seconds(&self, datetime: &[u8], zone: &[u8]) -> Option<i64> {
        let text = std::str::from_utf8(datetime).ok()?;
        let civil: jiff::civil::DateTime = text.parse().ok()?;
        let offset_seconds = match zone {
            b"" | b"UTC" | b"GMT" | b"Z" | b"UCT" => Some(0),
            [sign @ (b'+' | b'-'), digits @ ..] => {
                let d: Vec<u8> = digits.iter().copied().filter(u8::is_ascii_digit).collect();
                let (h, m) = match d.len() {
                    2 => (i64::from(d[0] - b'0') * 10 + i64::from(d[1] - b'0'), 0),
                    4 => (
                        i64::from(d[0] - b'0') * 10 + i64::from(d[1] - b'0'),
                        i64::from(d[2] - b'0') * 10 + i64::from(d[3] - b'0'),
                    ),
                    _ => return None,
                };
                let off = h * 3600 + m * 60;
                Some(if *sign == b'-' { -off } else { off })
            }
            _ => None,
        };
        match offset_seconds {
            Some(off) => {
                let ts = civil.to_zoned_datetime(TimeZone::UTC).ok()?.timestamp().as_second();
                Some(ts - off)
            }
            None => Some(civil.to_zoned_datetime(self.tz.clone()).ok()?.timestamp().as_second()),
        }
    }
}

/// A stderr-log entry waiting for continuation or `DETAIL` lines.
struct Pending<'a> {
    entry: LogEntry<'a>,
    pid: Option<&'a [u8]>,
}

/// Parser of stderr logs with a given prefix.
pub struct StderrParser {
    prefix: Prefix,
    times: TimeReader,
}

/// Severities that continue the message before them (never a chunk boundary).
fn continues_previous(sev: &[u8]) -> bool {
    matches!(
        sev,
        b"DETAIL" | b"HINT" | b"CONTEXT" | b"STATEMENT" | b"QUERY" | b"LOCATION"
    )
}

impl StderrParser {
    /// A parser for `prefix`, reading abbreviated zones in `tz`.
    pub fn new(prefix: Prefix, tz: TimeZone) -> Self {
        StderrParser {
            prefix,
            times: TimeReader::new(tz),
        }
    }

    /// The prefix in use.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// Where the last whole message of `buf` ends: the start of the last line
    /// that begins a new message (prefix, then a severity that does not continue
    /// the message before it). With `eof`, the whole buffer.
    pub fn split_point(&self, buf: &[u8], eof: bool) -> usize {
        if eof {
            return buf.len();
        }
        // Only complete lines count: search back from the last newline.
        let Some(mut end) = memchr::memrchr(b'\n', buf) else {
            return 0;
        };
        loop {
            let start = memchr::memrchr(b'\n', &buf[..end]).map_or(0, |p| p + 1);
            let line = &buf[start..end];
            if start > 0
                && line.first() != Some(&b'\t')
                && let Some((_, rest)) = self.prefix.matches(line)
                && let Some((sev, _)) = severity(rest)
                && !continues_previous(sev)
            {
                return start;
            }
            if start == 0 {
                return 0;
            }
            end = start - 1;
        }
    }

    /// Parses the whole messages of `chunk` (whose first line is `first_line`).
    pub fn parse_chunk(
        &mut self,
        chunk: &[u8],
        first_line: u64,
        stats: &mut ParseStats,
        sink: &mut dyn FnMut(&LogEntry<'_>),
    ) {
        let mut pending: Option<Pending<'_>> = None;
        let mut line_no = first_line;
        let mut pos = 0;
        let flush = |pending: &mut Option<Pending<'_>>, stats: &mut ParseStats, sink: &mut dyn FnMut(&LogEntry<'_>)| {
            if let Some(p) = pending.take() {
                stats.entries += 1;
                sink(&p.entry);
            }
        };
        while pos < chunk.len() {
            let end = memchr::memchr(b'\n', &chunk[pos..]).map_or(chunk.len(), |p| pos + p);
            let mut line = &chunk[pos..end];
            if let [head @ .., b'\r'] = line {
                line = head;
            }
            stats.lines += 1;
            let this_line = line_no;
            line_no += 1;
            pos = end + 1;
            if line.is_empty() {
                continue;
            }
            if line[0] == b'\t' {
                // Continuation of the message before.
                if let Some(p) = pending.as_mut()
                    && p.entry.kind != EntryKind::Bare
                {
                    let text = p.entry.text.to_mut();
                    text.push('\n');
                    text.push_str(&lossy(&line[1..]));
                }
                continue;
            }
            let Some((fields, rest)) = self.prefix.matches(line) else {
                flush(&mut pending, stats, sink);
                stats.unrecognized(this_line, line.len());
                continue;
            };
            let Some((sev, msg)) = severity(rest) else {
                flush(&mut pending, stats, sink);
                stats.unrecognized(this_line, line.len());
                continue;
            };
            if sev == b"DETAIL" {
                if let Some(p) = pending.as_mut()
                    && (p.pid.is_none() || p.pid == fields.pid)
                    && let Some(params) = msg.strip_prefix(b"parameters: ")
                {
                    p.entry.parameters = Some(lossy(params));
                }
                continue;
            }
            if continues_previous(sev) {
                continue;
            }
            flush(&mut pending, stats, sink);
            if sev != b"LOG" {
                continue;
            }
            let message = match parse_message(msg) {
                None => continue, // Other LOG messages: connections, checkpoints…
                Some(Err(why)) => {
                    stats.reject(this_line, BAD_DURATION, why);
                    continue;
                }
                Some(Ok(message)) => message,
            };
            let Some(end_ms) = fields.time.and_then(|t| self.times.read(t)) else {
                stats.unrecognized(this_line, line.len());
                continue;
            };
            pending = Some(Pending {
                entry: LogEntry {
                    end_ms,
                    duration_ms: message.duration_ms,
                    kind: message.kind,
                    database: fields
                        .database
                        .filter(|d| !d.is_empty() && *d != b"[unknown]")
                        .map(lossy),
                    user: fields.user.filter(|u| !u.is_empty() && *u != b"[unknown]").map(lossy),
                    text: lossy(message.text),
                    parameters: None,
                    line: this_line,
                },
                pid: fields.pid,
            });
        }
        flush(&mut pending, stats, sink);
    }
}

/// Why a csvlog record gave no entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvRefusal {
    /// Its time is unreadable (an unrecognized line).
    Time,
    /// A bad record: its code and why.
    Bad(&'static str, String),
}

/// Parses one csvlog record (already split into fields by the csv crate).
pub fn csv_entry<'a>(
    record: &'a csv::ByteRecord,
    times: &mut TimeReader,
    line: u64,
) -> Option<Result<LogEntry<'a>, CsvRefusal>> {
    // Columns: 0 log_time, 1 user_name, 2 database_name, 3 process_id, …,
    // 11 error_severity, 13 message, 14 detail.
    if record.get(11)? != b"LOG" {
        return None;
    }
    let message = match parse_message(record.get(13)?)? {
        Ok(m) => m,
        Err(why) => return Some(Err(CsvRefusal::Bad(BAD_DURATION, why))),
    };
    let Some(end_ms) = times.read(record.get(0)?) else {
        return Some(Err(CsvRefusal::Time));
    };
    let non_empty = |i: usize| record.get(i).filter(|v| !v.is_empty()).map(lossy);
    Some(Ok(LogEntry {
        end_ms,
        duration_ms: message.duration_ms,
        kind: message.kind,
        database: non_empty(2),
        user: non_empty(1),
        text: lossy(message.text),
        parameters: record.get(14).and_then(|d| d.strip_prefix(b"parameters: ")).map(lossy),
        line,
    }))
}

/// One jsonlog line's fields poolcap reads.
#[derive(serde::Deserialize)]
struct JsonLine<'a> {
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow, default)]
    user: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    dbname: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error_severity: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    detail: Option<Cow<'a, str>>,
}

/// Parses the whole lines of a jsonlog chunk.
pub fn parse_json_chunk(
    chunk: &[u8],
    first_line: u64,
    times: &mut TimeReader,
    stats: &mut ParseStats,
    sink: &mut dyn FnMut(&LogEntry<'_>),
) {
    if chunk.is_empty() {
        return;
    }
    let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    let mut from = 0;
    let lines = std::iter::from_fn(|| {
        if from > body.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &body[from..]).map_or(body.len(), |p| from + p);
        let line = &body[from..end];
        from = end + 1;
        Some(line)
    });
    for (k, line) in lines.enumerate() {
        let line_no = first_line + k as u64;
        stats.lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(parsed) = serde_json::from_slice::<JsonLine<'_>>(line) else {
            stats.unrecognized(line_no, line.len());
            continue;
        };
        if parsed.error_severity.as_deref() != Some("LOG") {
            continue;
        }
        let Some(msg) = parsed.message.as_deref() else { continue };
        let message = match parse_message(msg.as_bytes()) {
            None => continue,
            Some(Err(why)) => {
                stats.reject(line_no, BAD_DURATION, why);
                continue;
            }
            Some(Ok(message)) => message,
        };
        let Some(end_ms) = times.read(parsed.timestamp.as_bytes()) else {
            stats.unrecognized(line_no, line.len());
            continue;
        };
        let text = Cow::Owned(String::from_utf8_lossy(message.text).into_owned());
        stats.entries += 1;
        sink(&LogEntry {
            end_ms,
            duration_ms: message.duration_ms,
            kind: message.kind,
            database: parsed.dbname.clone(),
            user: parsed.user.clone(),
            text,
            parameters: parsed
                .detail
                .as_deref()
                .and_then(|d| d.strip_prefix("parameters: "))
                .map(|p| Cow::Owned(p.to_string())),
            line: line_no,
        });
    }
}

/// Where the last whole jsonlog line of `buf` ends.
pub fn json_split_point(buf: &[u8], eof: bool) -> usize {
    if eof {
        buf.len()
    } else {
        memchr::memrchr(b'\n', buf).map_or(0, |p| p + 1)
    }
}

#[cfg(test)]
mod tests;
