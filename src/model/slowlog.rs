//! Slow-log entries: what a slow-log parser (`ingest::slowlog`) hands to the
//! digest (`analyze::digest`) — one statement with its end time, duration,
//! kind, database, user and text, borrowed from the parser's chunk where it
//! can be — and the sink that takes them.

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

/// Where parsed entries go (a digest, a counter in tests…).
pub trait EntrySink: Send {
    /// Takes one entry.
    fn entry(&mut self, e: &LogEntry<'_>);

    /// Renames a database the entries named (MySQL blocks parsed in parallel
    /// learn the database they inherited only at the end).
    fn rename_database(&mut self, _from: &str, _to: &str) {}

    /// Adds what a sink of the entries after this one's took.
    fn merge(&mut self, later: Self)
    where
        Self: Sized;
}
