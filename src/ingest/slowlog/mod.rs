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

/// What a log entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A statement run with the simple protocol (PostgreSQL `statement:`) or any
    /// MySQL/MariaDB query.
    Statement,
    /// PostgreSQL extended protocol `execute <name>:`.
    Execute,
    /// PostgreSQL extended protocol `parse <name>:` (hold time, not a query).
    Parse,
    /// PostgreSQL extended protocol `bind <name>:` (hold time, not a query).
    Bind,
    /// A `duration:` line without statement text (`log_duration = on`).
    Bare,
    /// A MySQL administrator command (`# administrator command: Quit;`).
    Admin,
}

impl EntryKind {
    /// Whether it counts as an executed statement (pgBadger's count).
    pub fn is_executed(self) -> bool {
        matches!(self, EntryKind::Statement | EntryKind::Execute)
    }
}

/// One statement (or part of one) from a log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry<'a> {
    /// When the statement ended, Unix milliseconds.
    pub end_ms: i64,
    /// How long it ran, milliseconds.
    pub duration_ms: f64,
    /// What it is.
    pub kind: EntryKind,
    /// Database, when the log says.
    pub database: Option<Cow<'a, str>>,
    /// User, when the log says.
    pub user: Option<Cow<'a, str>>,
    /// The SQL text (empty for [`EntryKind::Bare`]).
    pub text: Cow<'a, str>,
    /// Bind parameters (`DETAIL:  parameters: …`), when logged.
    pub parameters: Option<Cow<'a, str>>,
    /// 1-based line where the entry starts.
    pub line: u64,
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
    /// The first unrecognized lines: (line number, text cut to 200 bytes).
    pub first_unrecognized: Vec<(u64, String)>,
}

impl ParseStats {
    /// How many unrecognized lines are kept in full.
    pub const KEPT: usize = 5;

    /// Records an unrecognized line.
    pub fn unrecognized(&mut self, line: u64, text: &[u8]) {
        self.unrecognized += 1;
        if self.first_unrecognized.len() < Self::KEPT {
            let cut = &text[..text.len().min(200)];
            self.first_unrecognized
                .push((line, String::from_utf8_lossy(cut).trim_end().to_string()));
        }
    }

    /// Adds another chunk's counts.
    pub fn merge(&mut self, other: ParseStats) {
        self.lines += other.lines;
        self.entries += other.entries;
        self.unrecognized += other.unrecognized;
        for u in other.first_unrecognized {
            if self.first_unrecognized.len() < Self::KEPT {
                self.first_unrecognized.push(u);
            }
        }
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

/// Where parsed entries go (a digest, a counter in tests…).
pub trait EntrySink: Send {
    /// Takes one entry.
    fn entry(&mut self, e: &LogEntry<'_>);

    /// Renames a database the entries named (MySQL blocks parsed in parallel
    /// learn the database they inherited only at the end).
    fn rename_database(&mut self, _from: &str, _to: &str) {}
}
