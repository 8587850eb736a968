//! Metric inputs: opening files (plain or gzip), the pool [`Sample`] every format
//! is turned into, the table of series (service, instance) seen, and the
//! diagnostics bad rows become.
//!
//! Invariants: parsers stream (one pass, memory independent of file size); every
//! rejected row becomes a [`Diagnostic`] with `path:line` and a stable code; a file
//! that yields no sample is an error, never an empty result. The formats, as
//! a user sees them: docs/inputs.md.

pub mod csv;
pub mod jsonl;
pub mod pgbouncer_pools;
pub mod pool_status;
pub mod prometheus;
pub mod prometheus_api;
pub mod slowlog;
pub mod timestamp;

mod checks;
mod diagnostics;
mod files;
mod quoting;
mod series;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use checks::{EARLIEST_TS, MAX_TIMEOUTS};
pub(crate) use checks::{RowError, check_capacity, check_pool_size, finish, row_error, take_row};
pub use diagnostics::{Diagnostic, Diagnostics, fix_for};
pub use files::{expand_folders, open, open_counted, open_digested};
pub use quoting::{QUOTE_MAX, clip, clip_json, quote, quote_head};
pub use series::{DEFAULT_MAX_SERIES, SeriesKey, SeriesTable};

/// Index of a series (one service's pool in one instance) in a [`SeriesTable`].
pub type SeriesId = u32;

/// One observation of one pool in one process (DESIGN §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Which service/instance this is.
    pub series: SeriesId,
    /// Unix seconds, UTC.
    pub ts: i64,
    /// Configured QueuePool size (≥ 1).
    pub pool_size: u32,
    /// Connections in use.
    pub checked_out: u32,
    /// Configured overflow limit, when the file has it.
    pub max_overflow: Option<u32>,
    /// Callers blocked waiting for a connection, when the file has it.
    pub waiting: Option<u32>,
    /// Cumulative pool timeout errors, when the file has it.
    pub timeouts: Option<u64>,
    /// Line of the input the sample came from (for diagnostics downstream).
    pub line: u64,
    /// Which input file (index into the run's file list).
    pub file: u32,
}

/// The format of a metrics file (`--input-format`; by default told apart by content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MetricFormat {
    /// Told apart by content.
    #[default]
    Auto,
    /// CSV with a header.
    Csv,
    /// JSON lines of /api/metrics bodies.
    Jsonl,
    /// Prometheus HTTP API query_range (or query) results.
    Prometheus,
    /// Log lines carrying SQLAlchemy's pool.status() text.
    PoolStatus,
}

impl MetricFormat {
    /// The name `--input-format` takes.
    pub fn name(self) -> &'static str {
        match self {
            MetricFormat::Auto => "auto",
            MetricFormat::Csv => "csv",
            MetricFormat::Jsonl => "jsonl",
            MetricFormat::Prometheus => "prometheus",
            MetricFormat::PoolStatus => "pool-status",
        }
    }
}

/// The format of a file from its first bytes: a JSON document naming a
/// `resultType` (or an `errorType`) is a Prometheus query answer, other `{…}` lines are JSON
/// lines, text with `Pool size: … Checked out connections:` is a log of
/// `pool.status()`, anything else CSV (whose header check then explains what
/// is missing).
pub fn detect(head: &[u8]) -> MetricFormat {
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        if memchr::memmem::find(head, b"\"resultType\"").is_some()
            || memchr::memmem::find(head, b"\"errorType\"").is_some()
        {
            return MetricFormat::Prometheus;
        }
        return MetricFormat::Jsonl;
    }
    if memchr::memmem::find(head, pool_status::MARKER).is_some() {
        return MetricFormat::PoolStatus;
    }
    MetricFormat::Csv
}

/// Where one metrics file's rows go, and what its reader needs besides the
/// bytes: every reader ([`csv::read`], [`jsonl::read`], [`prometheus::read`],
/// [`pool_status::read`], [`read_metrics`]) takes one.
pub struct ReadContext<'a> {
    /// The file's name, for diagnostics and errors.
    pub path: &'a Path,
    /// The file's index in the run's file list ([`Sample::file`]).
    pub file: u32,
    /// Options every reader takes.
    pub opts: &'a ReadOptions,
    /// The run's service/instance pairs; new ones are interned.
    pub series: &'a mut SeriesTable,
    /// Rejected rows and notices.
    pub diags: &'a mut Diagnostics,
    /// Called with every valid sample, in file order (sorted by time for Prometheus).
    pub sink: &'a mut dyn FnMut(&SeriesTable, Sample),
}

/// Streams one metrics file in `cx.opts.format` (or the format [`detect`] sees in
/// its first megabyte, peeked without consuming, so line numbers hold).
pub fn read_metrics(input: impl Read, cx: ReadContext<'_>) -> Result<FileSummary, IngestError> {
    use std::io::BufRead;
    let mut input = std::io::BufReader::with_capacity(1 << 20, input);
    let format = match cx.opts.format {
        MetricFormat::Auto => detect(input.fill_buf().map_err(|source| IngestError::Io {
            path: cx.path.to_path_buf(),
            source,
        })?),
        forced => forced,
    };
    match format {
        MetricFormat::Jsonl => jsonl::read(input, cx),
        MetricFormat::Prometheus => prometheus::read(input, cx),
        MetricFormat::PoolStatus => pool_status::read(input, cx),
        MetricFormat::Csv | MetricFormat::Auto => csv::read(input, cx),
    }
}

/// Options every metrics reader takes.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Service for inputs that do not name one.
    pub service: Option<String>,
    /// The format of every file, or [`MetricFormat::Auto`].
    pub format: MetricFormat,
    /// Metric and label names of Prometheus query results.
    pub prometheus: crate::config::PrometheusSettings,
    /// Prefix and zone of `pool.status()` log lines.
    pub pool_status: crate::config::PoolStatusSettings,
}

impl ReadOptions {
    /// The options `settings` and the command line give.
    pub fn new(settings: &crate::config::Settings, service: Option<String>, format: MetricFormat) -> Self {
        ReadOptions {
            service,
            format,
            prometheus: settings.prometheus.clone(),
            pool_status: settings.pool_status.clone(),
        }
    }
}

/// What one file gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// Data rows read.
    pub rows: u64,
    /// Samples passed on.
    pub accepted: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Bytes read (uncompressed).
    pub bytes: u64,
}

/// A failure that stops reading an input.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("{path}: {}", crate::support::io_text(.source), path = .path.display())]
    Io {
        /// The input file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The header lacks a required column, or the file is not CSV.
    #[error("{path}:{line}: {message}", path = .path.display())]
    Header {
        /// The input file.
        path: PathBuf,
        /// 1-based line of the header.
        line: u64,
        /// What is missing.
        message: String,
    },
    /// The inputs name more service/instance pairs than the run may hold.
    #[error(
        "{path}:{line}: more than {limit} distinct service/instance pairs; each costs about 2.3 KB of memory — if the instance names are right (not one per request or per row), raise --max-series",
        path = .path.display()
    )]
    TooManySeries {
        /// The input file.
        path: PathBuf,
        /// The line that brought one pair too many.
        line: u64,
        /// The limit.
        limit: usize,
    },
    /// The file held no valid sample.
    #[error("{path}: no valid samples ({rows} data rows, {rejected} rejected); nothing to analyse", path = .path.display())]
    NoSamples {
        /// The input file.
        path: PathBuf,
        /// Data rows read.
        rows: u64,
        /// Rows rejected.
        rejected: u64,
    },
}

#[cfg(test)]
mod tests;
