//! Metric inputs: opening files (plain or gzip), the pool [`Sample`] every format
//! is turned into, the table of series (service, instance) seen, and the
//! diagnostics bad rows become.
//!
//! Invariants: parsers stream (one pass, memory independent of file size); every
//! rejected row becomes a [`Diagnostic`] with `path:line` and a stable code; a file
//! that yields no sample is an error, never an empty result.

pub mod csv;
pub mod jsonl;
pub mod pool_status;
pub mod prometheus;
pub mod slowlog;
pub mod timestamp;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

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

/// A service/instance pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    /// The deployable.
    pub service: String,
    /// The process or pod owning the pool.
    pub instance: String,
}

pub use crate::support::hash::{FxBuild, FxHasher};

/// Interns service/instance pairs to small ids, so per-row work is a lookup.
///
/// It also remembers, per pair, whether a name holds a control character
/// (such rows are rejected as `bad-name`), and how many pairs a run may hold
/// ([`SeriesTable::limit`]): each pair costs the analysis about 2.3 KB, so the
/// run stops with [`IngestError::TooManySeries`] before memory runs out.
#[derive(Debug)]
pub struct SeriesTable {
    keys: Vec<SeriesKey>,
    bad_name: Vec<bool>,
    index: HashMap<Box<[u8]>, SeriesId, FxBuild>,
    scratch: Vec<u8>,
    limit: usize,
}

impl Default for SeriesTable {
    fn default() -> Self {
        SeriesTable::with_limit(DEFAULT_MAX_SERIES)
    }
}

/// Distinct service/instance pairs a run reads by default (`--max-series`):
/// about 230 MB of analysis state (measured: benches/series_memory.py).
pub const DEFAULT_MAX_SERIES: usize = 100_000;

impl SeriesTable {
    /// An empty table that accepts at most `limit` pairs.
    pub fn with_limit(limit: usize) -> Self {
        SeriesTable {
            keys: Vec::new(),
            bad_name: Vec::new(),
            index: HashMap::default(),
            scratch: Vec::new(),
            limit,
        }
    }

    /// The most pairs a run may hold.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Id of the pair, adding it when new.
    pub fn intern(&mut self, service: &[u8], instance: &[u8]) -> SeriesId {
        self.scratch.clear();
        self.scratch.extend_from_slice(service);
        self.scratch.push(0);
        self.scratch.extend_from_slice(instance);
        if let Some(&id) = self.index.get(self.scratch.as_slice()) {
            return id;
        }
        let id = self.keys.len() as SeriesId;
        let control = |b: &[u8]| String::from_utf8_lossy(b).chars().any(char::is_control);
        self.bad_name.push(control(service) || control(instance));
        self.keys.push(SeriesKey {
            service: String::from_utf8_lossy(service).into_owned(),
            instance: String::from_utf8_lossy(instance).into_owned(),
        });
        self.index.insert(self.scratch.clone().into_boxed_slice(), id);
        id
    }

    /// The pair behind an id.
    pub fn key(&self, id: SeriesId) -> &SeriesKey {
        &self.keys[id as usize]
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no series was seen.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// All pairs, indexed by id.
    pub fn keys(&self) -> &[SeriesKey] {
        &self.keys
    }
}

/// A rejected row or a notice about an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The input file.
    pub path: PathBuf,
    /// 1-based line, when the diagnostic is about one row.
    pub line: Option<u64>,
    /// Stable kebab-case code (`bad-number`, `bad-timestamp`, …).
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {} [{}]", self.message, self.code)
    }
}

/// Rejected rows of a run: the first few in full, all of them counted by code.
#[derive(Debug, Default)]
pub struct Diagnostics {
    shown: Vec<Diagnostic>,
    by_code: BTreeMap<&'static str, u64>,
    rejected: u64,
    notices: Vec<Diagnostic>,
}

impl Diagnostics {
    /// How many rejected rows are kept in full; the rest are only counted.
    pub const SHOWN: usize = 20;

    /// Records a rejected row: the first [`Self::SHOWN`] are kept in full,
    /// and beyond them the first of each code not seen yet (so a file whose
    /// rows fail for several reasons shows one of each).
    pub fn reject(&mut self, diagnostic: Diagnostic) {
        self.rejected += 1;
        let count = self.by_code.entry(diagnostic.code).or_default();
        *count += 1;
        let first_of_code = *count == 1;
        if self.shown.len() < Self::SHOWN || (first_of_code && self.shown.len() < 2 * Self::SHOWN) {
            self.shown.push(diagnostic);
        }
    }

    /// Counts `n` rejected rows that are not kept in full.
    pub fn count(&mut self, code: &'static str, n: u64) {
        if n > 0 {
            self.rejected += n;
            *self.by_code.entry(code).or_default() += n;
        }
    }

    /// Records a notice (nothing rejected: e.g. ignored columns).
    pub fn notice(&mut self, diagnostic: Diagnostic) {
        self.notices.push(diagnostic);
    }

    /// Rows rejected in all.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// The first rejected rows, in input order.
    pub fn shown(&self) -> &[Diagnostic] {
        &self.shown
    }

    /// Rejected rows counted by code.
    pub fn by_code(&self) -> &BTreeMap<&'static str, u64> {
        &self.by_code
    }

    /// Notices.
    pub fn notices(&self) -> &[Diagnostic] {
        &self.notices
    }
}

/// The most bytes of an input line an error or diagnostic quotes.
pub const QUOTE_MAX: usize = 200;

/// `text` (some of an input line) as an error quotes it: in double quotes with
/// Rust's escapes, at most [`QUOTE_MAX`] bytes of it, cut at a character
/// boundary; a longer text ends with `…` and says its length. Invalid UTF-8
/// shows as U+FFFD. Every reader quotes input through this (or [`clip`]), so
/// no error holds more than a few hundred bytes of a line however long it is.
pub fn quote(text: &[u8]) -> String {
    quote_head(text, text.len())
}

/// [`quote`] of a text of `len` bytes of which `head` holds the first (at
/// least `QUOTE_MAX + 3` of them when it is longer), for texts not kept whole.
pub fn quote_head(head: &[u8], len: usize) -> String {
    let cut = clip_at(head).min(len);
    let shown = String::from_utf8_lossy(&head[..cut]);
    if cut == len {
        format!("{shown:?}")
    } else {
        format!("{:?} ({len} bytes)", format!("{shown}…"))
    }
}

/// `text` (a message that may carry input, such as a parser's error) cut to
/// at most [`QUOTE_MAX`] bytes at a character boundary, with `…` and its
/// length when cut.
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    let cut = clip_at(text.as_bytes());
    if cut == text.len() {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("{}… ({} bytes)", &text[..cut], text.len()))
    }
}

/// A JSON value as an error shows it: its JSON text, cut like [`clip`],
/// without writing out more of a huge value than is shown.
pub fn clip_json(value: &serde_json::Value) -> String {
    /// Keeps the first bytes written and counts the rest.
    struct Head {
        kept: Vec<u8>,
        len: usize,
    }
    impl std::io::Write for Head {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let room = (QUOTE_MAX + 3).saturating_sub(self.kept.len());
            self.kept.extend_from_slice(&buf[..buf.len().min(room)]);
            self.len += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut head = Head {
        kept: Vec::new(),
        len: 0,
    };
    if serde_json::to_writer(&mut head, value).is_err() {
        return "(a JSON value)".into();
    }
    let cut = clip_at(&head.kept).min(head.len);
    let shown = String::from_utf8_lossy(&head.kept[..cut]);
    if cut == head.len {
        shown.into_owned()
    } else {
        format!("{shown}… ({} bytes)", head.len)
    }
}

/// Where to cut `text` for [`quote`]: its length when short enough, else the
/// last UTF-8 character boundary at or before [`QUOTE_MAX`].
fn clip_at(text: &[u8]) -> usize {
    if text.len() <= QUOTE_MAX {
        return text.len();
    }
    let mut cut = QUOTE_MAX;
    // Back over continuation bytes (10xxxxxx) to a character's first byte.
    while cut > QUOTE_MAX - 3 && text[cut] & 0xc0 == 0x80 {
        cut -= 1;
    }
    cut
}

/// How to fix rows rejected with `code`, for the summary a person reads when
/// a file is refused; `None` when the message says it all.
pub fn fix_for(code: &str) -> Option<&'static str> {
    Some(match code {
        "bad-timestamp" | "no-timestamp" => {
            "write times as RFC 3339 with an offset (2026-10-01T08:00:00Z) or Unix seconds; a time without an offset names no instant"
        }
        "implausible-time" => "check the time column: seconds, not milliseconds, and the exporter's clock",
        "missing-field" | "missing-value" | "missing-label" => {
            "every row needs ts, service or --service, pool_size and checked_out"
        }
        "bad-number" | "not-a-number" => "counts are whole numbers ≥ 0, written like 20 or 20.0",
        "beyond-limit" => "values beyond poolcap's limits are not real pools; see the README's Limits",
        "bad-name" => "service and instance names are one printable line",
        "over-capacity" => "checked_out cannot exceed pool_size + max_overflow: check max_overflow",
        "field-count" => "every row needs as many fields as the header (a comma inside a name must be quoted)",
        "out-of-order" => "rows of one instance may be out of order by at most policy.reorder_window",
        "conflicting-duplicate" => "two rows of one instance at one second disagree: drop one",
        "no-pool-size" => "the answer needs the pool-size series too ([prometheus] pool_size_metric)",
        _ => return None,
    })
}

/// Why one row (CSV) or line (JSON lines) was rejected: a stable code and a message.
pub(crate) struct RowError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

pub(crate) fn row_error(code: &'static str, message: String) -> RowError {
    RowError { code, message }
}

/// The earliest sample time poolcap believes: 2000-01-01T00:00:00Z.
pub const EARLIEST_TS: i64 = 946_684_800;

/// Samples later than this (now + 1 day) are implausible. Taken from the
/// clock once per run.
fn latest_ts() -> i64 {
    static LATEST: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *LATEST.get_or_init(|| jiff::Timestamp::now().as_second() + 86_400)
}

/// The checks every reader's samples share, whatever the format: values
/// within [`crate::config::limits`], a plausible time, printable names.
fn check_sample(s: &Sample, series: &SeriesTable) -> Result<(), RowError> {
    let limit = crate::config::limits::MAX_CONNECTIONS;
    let fields = [
        ("pool_size", Some(s.pool_size)),
        ("checked_out", Some(s.checked_out)),
        ("max_overflow", s.max_overflow),
        ("waiting", s.waiting),
    ];
    for (name, value) in fields {
        if let Some(v) = value
            && v > limit
        {
            return Err(row_error(
                "beyond-limit",
                format!("{name} {v} is beyond poolcap's limit of {limit} connections"),
            ));
        }
    }
    if let Some(t) = s.timeouts
        && t > MAX_TIMEOUTS
    {
        return Err(row_error(
            "beyond-limit",
            format!("timeouts {t} is beyond poolcap's limit of {MAX_TIMEOUTS}"),
        ));
    }
    if s.ts < EARLIEST_TS {
        return Err(row_error(
            "implausible-time",
            format!(
                "the time {} is before 2000; check the timestamp column (seconds, not milliseconds?)",
                show_time(s.ts)
            ),
        ));
    }
    if s.ts > latest_ts() {
        return Err(row_error(
            "implausible-time",
            format!(
                "the time {} is more than a day in the future; check the timestamp column (milliseconds instead of seconds?) and the clock",
                show_time(s.ts)
            ),
        ));
    }
    if series.bad_name[s.series as usize] {
        let key = series.key(s.series);
        return Err(row_error(
            "bad-name",
            format!(
                "the service or instance name {:?} / {:?} holds a control character (newline, tab, …)",
                excerpt(&key.service),
                excerpt(&key.instance)
            ),
        ));
    }
    Ok(())
}

/// RFC 3339 in UTC, or the raw seconds when out of range.
fn show_time(ts: i64) -> String {
    jiff::Timestamp::from_second(ts).map_or_else(|_| format!("{ts} s"), |t| t.to_string())
}

/// Cumulative timeouts above this are not a count (2⁵³: where a float
/// counter such as Prometheus' stops counting by ones).
pub const MAX_TIMEOUTS: u64 = 1 << 53;

/// At most 64 characters of a name, for messages.
fn excerpt(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &name[..i]),
        None => name.to_string(),
    }
}

/// Counts one parsed row of `path`: passes the sample on, or records why the
/// row at `line` was rejected. Fails the run when the file brings more
/// service/instance pairs than the table's limit.
pub(crate) fn take_row(
    parsed: Result<Sample, RowError>,
    path: &Path,
    line: u64,
    summary: &mut FileSummary,
    diags: &mut Diagnostics,
    series: &SeriesTable,
    sink: &mut dyn FnMut(&SeriesTable, Sample),
) -> Result<(), IngestError> {
    if series.len() > series.limit {
        return Err(IngestError::TooManySeries {
            path: path.to_path_buf(),
            line,
            limit: series.limit,
        });
    }
    let parsed = parsed.and_then(|s| check_sample(&s, series).map(|()| s));
    match parsed {
        Ok(sample) => {
            summary.accepted += 1;
            sink(series, sample);
        }
        Err(e) => {
            summary.rejected += 1;
            diags.reject(Diagnostic {
                path: path.to_path_buf(),
                line: Some(line),
                code: e.code,
                message: e.message,
            });
        }
    }
    Ok(())
}

/// A pool size of 0 (`name` as the input spells it) is no QueuePool.
pub(crate) fn check_pool_size(pool_size: u64, name: &str) -> Result<(), RowError> {
    if pool_size == 0 {
        return Err(row_error(
            "bad-number",
            format!("{name} is 0; a QueuePool has at least one connection"),
        ));
    }
    Ok(())
}

/// Connections checked out fit in `pool_size + max_overflow`, when the
/// overflow limit is known (`over-capacity` otherwise).
pub(crate) fn check_capacity(checked_out: u32, pool_size: u32, max_overflow: Option<u32>) -> Result<(), RowError> {
    match max_overflow {
        Some(mo) if u64::from(checked_out) > u64::from(pool_size) + u64::from(mo) => Err(row_error(
            "over-capacity",
            format!("checked_out {checked_out} exceeds pool_size {pool_size} + max_overflow {mo}"),
        )),
        _ => Ok(()),
    }
}

/// A file's summary, or [`IngestError::NoSamples`] when no row was accepted.
pub(crate) fn finish(path: &Path, summary: FileSummary) -> Result<FileSummary, IngestError> {
    if summary.accepted == 0 {
        return Err(IngestError::NoSamples {
            path: path.to_path_buf(),
            rows: summary.rows,
            rejected: summary.rejected,
        });
    }
    Ok(summary)
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
    #[error("{path}: {source}", path = .path.display())]
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

/// A reader that counts the bytes read from the file (before decompression),
/// for progress bars.
struct Counting<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input like [`open`], counting the bytes read from the file into `count`.
pub fn open_counted(
    path: &Path,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Result<Box<dyn Read + Send>, IngestError> {
    open_with(path, Some(count))
}

/// The inputs named on the command line, with each folder replaced by the
/// files in it (not hidden ones, not sub-folders), in name order. A folder
/// without a file is an error naming it.
pub fn expand_folders(paths: &[PathBuf]) -> Result<Vec<PathBuf>, IngestError> {
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        if !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let io = |source| IngestError::Io {
            path: path.clone(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        if files.is_empty() {
            return Err(io(std::io::Error::other("the folder holds no file to read")));
        }
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

/// Opens an input, decompressing gzip (detected by its magic bytes, whatever the name).
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, IngestError> {
    open_with(path, None)
}

fn open_with(
    path: &Path,
    count: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
) -> Result<Box<dyn Read + Send>, IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]).map_err(io)? {
            0 => break,
            n => got += n,
        }
    }
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let raw: Box<dyn Read + Send> = match count {
        Some(count) => Box::new(Counting { inner: file, count }),
        None => Box::new(file),
    };
    if got == 2 && magic == [0x1f, 0x8b] {
        let decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, raw));
        Ok(Box::new(SkipBom::new(decoder)))
    } else {
        Ok(Box::new(SkipBom::new(raw)))
    }
}

/// The UTF-8 byte order mark some Windows tools write at the start of a file.
const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

/// A reader that drops a UTF-8 byte order mark at the start of its input, so
/// that every reader (and format detection) sees a BOM-prefixed file exactly
/// as the same file without it.
struct SkipBom<R> {
    inner: R,
    /// The first bytes read, when they were not a BOM, still to hand out.
    head: [u8; 3],
    head_len: usize,
    head_pos: usize,
    started: bool,
}

impl<R: Read> SkipBom<R> {
    fn new(inner: R) -> Self {
        SkipBom {
            inner,
            head: [0; 3],
            head_len: 0,
            head_pos: 0,
            started: false,
        }
    }
}

impl<R: Read> Read for SkipBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.started {
            while self.head_len < 3 {
                match self.inner.read(&mut self.head[self.head_len..]) {
                    Ok(0) => break,
                    Ok(n) => self.head_len += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                if self.head[..self.head_len] != BOM[..self.head_len] {
                    break;
                }
            }
            self.started = true;
            if self.head[..self.head_len] == BOM {
                self.head_len = 0;
            }
        }
        if self.head_pos < self.head_len {
            let n = (self.head_len - self.head_pos).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.head_pos..self.head_pos + n]);
            self.head_pos += n;
            if n == buf.len() {
                return Ok(n);
            }
            // Fill on in the same call: a caller that peeks at one read (a
            // `BufReader`'s `fill_buf` for format detection) sees a full buffer.
            return match self.inner.read(&mut buf[n..]) {
                Ok(more) => Ok(n + more),
                Err(_) => Ok(n),
            };
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte at a time.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(out)) => {
                    *out = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn through_skip_bom(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        SkipBom::new(Trickle(bytes)).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn quotes_are_cut_at_a_character_boundary_and_say_the_length() {
        assert_eq!(quote(b"twenty"), "\"twenty\"");
        let long = "é".repeat(300);
        let q = quote(long.as_bytes());
        assert!(q.starts_with("\"éé") && q.ends_with("é…\" (600 bytes)"), "{q}");
        assert!(q.len() < QUOTE_MAX + 30, "{q}");
        assert_eq!(clip("short"), "short");
        let c = clip(&long);
        assert!(c.ends_with("é… (600 bytes)") && c.len() < QUOTE_MAX + 30, "{c}");
        let json = serde_json::json!({ "a": "x".repeat(1000) });
        let j = clip_json(&json);
        assert!(j.starts_with("{\"a\":\"xxx") && j.ends_with("… (1008 bytes)"), "{j}");
        assert_eq!(clip_json(&serde_json::json!([1, "b"])), "[1,\"b\"]");
    }

    /// Every error and diagnostic of `text` read as `format`.
    fn messages(text: &[u8], format: MetricFormat) -> Vec<String> {
        let mut series = SeriesTable::default();
        let mut diags = Diagnostics::default();
        let opts = ReadOptions {
            format,
            service: None,
            ..ReadOptions::default()
        };
        let result = read_metrics(
            text,
            ReadContext {
                path: Path::new("m"),
                file: 0,
                opts: &opts,
                series: &mut series,
                diags: &mut diags,
                sink: &mut |_, _| {},
            },
        );
        let mut out: Vec<String> = diags
            .shown()
            .iter()
            .chain(diags.notices())
            .map(ToString::to_string)
            .collect();
        if let Err(e) = result {
            out.push(e.to_string());
        }
        out
    }

    #[test]
    fn errors_quote_at_most_a_few_hundred_bytes_of_a_huge_line() {
        let huge = "x".repeat(1 << 20);
        let digits = "9".repeat(1 << 20);
        let good = "2026-10-01T00:00:00Z,b,20,3";
        let cases: Vec<(String, MetricFormat)> = vec![
            (format!("ts,service,{huge}\n1,b,2\n"), MetricFormat::Csv),
            (format!("ts,service,{huge},{huge}\n1,b,2,3\n"), MetricFormat::Csv),
            (
                format!("ts,service,pool_size,checked_out,{huge}\n{good},1\n"),
                MetricFormat::Csv,
            ),
            (
                format!("ts,service,pool_size,checked_out\n{good}\n{huge},b,20,3\n2026-10-01T00:01:00Z,b,{huge},3\n"),
                MetricFormat::Csv,
            ),
            (
                format!(
                    "ts,service,pool_size,checked_out,overflow\n{good},{huge}\n2026-10-01T{huge},b,20,3,0\n{digits},b,1,1,0\n"
                ),
                MetricFormat::Csv,
            ),
            (
                format!(
                    "\"{huge}\"\n{{\"ts\": \"{huge}\"}}\n{{\"ts\": 1790841600, \"service\": {{\"a\": \"{huge}\"}}, \"pool_size\": [\"{huge}\"], \"checked_out\": 1}}\n{{\"ts\": 1790841600, \"service\": \"s\", \"pool_size\": \"{huge}\", \"checked_out\": 1}}\n{{{huge}\n"
                ),
                MetricFormat::Jsonl,
            ),
            (
                format!("{{\"status\":\"{huge}\",\"errorType\":\"{huge}\",\"error\":\"{huge}\"}}"),
                MetricFormat::Prometheus,
            ),
            (
                format!("{{\"status\":\"success\",\"data\":{{\"resultType\":\"{huge}\",\"result\":[]}}}}"),
                MetricFormat::Prometheus,
            ),
            (
                format!(
                    "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{{\"metric\":{{\"__name__\":\"{huge}\"}},\"values\":[[1790841600,\"1\"]]}},{{\"metric\":{{\"__name__\":\"sqlalchemy_pool_size\",\"job\":\"{huge}\"}},\"values\":[[1790841600,\"{huge}\"]]}}]}}}}"
                ),
                MetricFormat::Prometheus,
            ),
            (
                format!(
                    "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{{\"metric\":{{\"__name__\":\"sqlalchemy_pool_size\",\"job\":\"{huge}\"}},\"values\":[[1790841600,\"1\"]]}},{{\"metric\":{{\"__name__\":\"sqlalchemy_pool_size\",\"job\":\"{huge}\"}},\"values\":[[1790841600,\"1\"]]}}]}}}} {huge}"
                ),
                MetricFormat::Prometheus,
            ),
            (
                format!(
                    "2026-11-27 13:25:01,000 Pool size: {huge}  Connections in pool: 1 Current Overflow: -3 Current Checked out connections: 1\n2026-11-27 13:25:02,000 Pool size: {digits}  Connections in pool: 1 Current Overflow: -3 Current Checked out connections: 1\n{huge} Pool size: 1  Connections in pool: 1 Current Overflow: -3 Current Checked out connections: 1\n"
                ),
                MetricFormat::Auto,
            ),
        ];
        for (k, (text, format)) in cases.iter().enumerate() {
            let all = messages(text.as_bytes(), *format);
            assert!(!all.is_empty(), "case {k}");
            for m in &all {
                assert!(m.len() < 1000, "case {k}: {} bytes: {}…", m.len(), &m[..300]);
            }
        }
    }

    #[test]
    fn a_bom_is_dropped_and_nothing_else() {
        // One read gives what the input gives: format detection peeks at one.
        let mut buf = [0u8; 64];
        assert_eq!(
            SkipBom::new(&b"2026-11-27 Pool size: 5"[..]).read(&mut buf).unwrap(),
            23
        );
        assert_eq!(SkipBom::new(&b"\xef\xbb\xbf2026-11-27"[..]).read(&mut buf).unwrap(), 10);
        assert_eq!(through_skip_bom(b"\xef\xbb\xbfts,a\n"), b"ts,a\n");
        for text in [
            &b""[..],
            b"\xef",
            b"\xef\xbb",
            b"\xef\xbbx",
            b"ts",
            b"\xef\xbb\xbf\xef\xbb\xbf",
        ] {
            let expected = text.strip_prefix(&BOM[..]).unwrap_or(text);
            assert_eq!(through_skip_bom(text), expected, "{text:?}");
        }
    }

    #[test]
    fn files_starting_with_a_bom_are_read_as_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: [(&[u8], MetricFormat); 3] = [
            (
                b"{\"ts\": 1790841600, \"service\": \"s\", \"pool_size\": 20, \"checked_out_connections\": 1}\n",
                MetricFormat::Jsonl,
            ),
            (
                b"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
                MetricFormat::Prometheus,
            ),
            (
                b"2026-11-27 13:25:01,000 INFO [m] Pool size: 5  Connections in pool: 1 Current Overflow: -3 Current Checked out connections: 1\n",
                MetricFormat::PoolStatus,
            ),
        ];
        for (k, (text, format)) in inputs.iter().enumerate() {
            let plain = dir.path().join(format!("{k}.txt"));
            let gzipped = dir.path().join(format!("{k}.gz"));
            let with_bom = [&BOM[..], text].concat();
            std::fs::write(&plain, &with_bom).unwrap();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, &with_bom).unwrap();
            std::fs::write(&gzipped, gz.finish().unwrap()).unwrap();
            for path in [&plain, &gzipped] {
                let mut read = Vec::new();
                open(path).unwrap().read_to_end(&mut read).unwrap();
                assert_eq!(read, *text, "{}", path.display());
                assert_eq!(detect(&read), *format, "{}", path.display());
            }
        }
    }
}
