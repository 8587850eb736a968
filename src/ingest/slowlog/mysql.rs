//! MySQL / MariaDB slow query log parser (placeholder: being written on branch mysql-slowlog).

use super::{LogEntry, ParseStats};

/// State carried from one chunk of a file to the next (the current database).
#[derive(Debug, Clone, Default)]
pub struct MysqlState {
    /// The database of the last `use db;` (or `Schema:`), if any.
    pub database: Option<String>,
}

/// Where the last whole entry of `buf` ends.
pub fn split_point(buf: &[u8], eof: bool) -> usize {
    if eof { buf.len() } else { 0 }
}

/// Parses the whole entries of `chunk`.
pub fn parse_chunk(
    _chunk: &[u8],
    _first_line: u64,
    _state: &mut MysqlState,
    _stats: &mut ParseStats,
    _sink: &mut dyn FnMut(&LogEntry<'_>),
) {
}
