//! Database slow-query logs (DESIGN §1.7): PostgreSQL stderr (any
//! `log_line_prefix`), csvlog and jsonlog, and MySQL/MariaDB slow logs, plain or
//! gzip, streamed in bounded memory.
//!
//! Every format is parsed a chunk at a time: [`Format::split_point`] finds where
//! the last whole entry of a buffer ends, and the format's parser turns the
//! whole entries before it into [`LogEntry`] values handed to a sink. Entries
//! borrow their text from the chunk where they can, so parsing allocates
//! nothing per entry in the common case.

pub mod mysql;
pub mod postgres;
pub mod reader;

use std::borrow::Cow;

pub use crate::model::slowlog::{EntryKind, EntrySink, LogEntry};

/// The longest duration read from a log: 30 days. A longer one, or one that is
/// not a plain decimal number (`1e308`, `inf`, `-1`), makes its entry a bad
/// record ([`BAD_DURATION`]): never read as another number.
pub const MAX_DURATION_MS: f64 = 30.0 * 86_400_000.0;

/// The code of an entry whose duration is unreadable or beyond [`MAX_DURATION_MS`].
pub const BAD_DURATION: &str = "bad-duration";

/// Checks a logged duration: `text` must be `digits[.digits]`, and `read`
/// (the format's own arithmetic) must give at most [`MAX_DURATION_MS`]
/// milliseconds from it. The error says why, quoting at most 200 bytes of
/// `text` (whose `unit` is named).
pub fn parse_duration(text: &[u8], unit: &str, read: impl Fn(&[u8]) -> Option<f64>) -> Result<f64, String> {
    let (int, frac) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &[][..]),
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) || !frac.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "duration {} {unit} is not a plain decimal number",
            crate::ingest::quote(text)
        ));
    }
    match read(text) {
        Some(ms) if ms.is_finite() && ms <= MAX_DURATION_MS => Ok(ms),
        _ => Err(format!(
            "duration {} {unit} is longer than 30 days, the longest poolcap reads",
            crate::ingest::quote(text)
        )),
    }
}

/// An entry the parser refused: where, why, and a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// 1-based line where the entry starts.
    pub line: u64,
    /// Stable kebab-case code ([`BAD_DURATION`]).
    pub code: &'static str,
    /// What is wrong, for a person (quotes at most 200 bytes of the line).
    pub message: String,
}

/// Counts a parser keeps besides its entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Lines read.
    pub lines: u64,
    /// Entries handed to the sink.
    pub entries: u64,
    /// Lines that belong to no entry and are not known noise (counted, and the
    /// first few kept with their line numbers for `-v`).
    pub unrecognized: u64,
    /// The first unrecognized lines: (line number, length in bytes). Never their
    /// text: a log line may hold query text, hence secrets or patient data.
    pub first_unrecognized: Vec<(u64, usize)>,
    /// Entries refused as bad records.
    pub rejected: u64,
    /// The first bad records, in line order.
    pub first_rejected: Vec<BadRecord>,
}

impl ParseStats {
    /// How many unrecognized lines and bad records are kept in full.
    pub const KEPT: usize = 5;

    /// Records an unrecognized line of `len` bytes.
    pub fn unrecognized(&mut self, line: u64, len: usize) {
        self.unrecognized += 1;
        if self.first_unrecognized.len() < Self::KEPT {
            self.first_unrecognized.push((line, len));
        }
    }

    /// Records a bad record.
    pub fn reject(&mut self, line: u64, code: &'static str, message: String) {
        self.rejected += 1;
        if self.first_rejected.len() < Self::KEPT {
            self.first_rejected.push(BadRecord { line, code, message });
        }
    }

    /// Adds another chunk's counts; the first lines kept are the first in the
    /// file, whatever order the chunks come in.
    pub fn merge(&mut self, other: ParseStats) {
        self.lines += other.lines;
        self.entries += other.entries;
        self.unrecognized += other.unrecognized;
        self.rejected += other.rejected;
        self.first_unrecognized.extend(other.first_unrecognized);
        self.first_unrecognized.sort_unstable();
        self.first_unrecognized.truncate(Self::KEPT);
        self.first_rejected.extend(other.first_rejected);
        self.first_rejected.sort_by_key(|r| r.line);
        self.first_rejected.truncate(Self::KEPT);
    }
}

/// `text` as UTF-8, replacing invalid bytes (logs are not always clean). The
/// valid case, nearly always, borrows after one fast validation.
pub fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}
