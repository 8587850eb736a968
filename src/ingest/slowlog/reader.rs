//! Reading one slow-log file: opening (plain or gzip), recognising its format
//! from its content, and streaming it a block at a time through the format's
//! parser. Stderr, jsonlog and MySQL logs are cut into blocks at entry
//! boundaries and parsed by several threads at once; MySQL's `use db;` state,
//! which runs through the file, is stitched afterwards: entries that inherit the
//! database of an earlier block are recorded under a placeholder and renamed
//! once every block's last `use` is known. csvlog files (records may hold
//! newlines) are parsed in order; several files run in parallel.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use jiff::tz::TimeZone;

use super::mysql::{self, MysqlState};
use super::postgres::{self, Prefix, StderrParser, TimeReader};
use super::{EntrySink, ParseStats};

/// The log formats poolcap reads (`--input-format` of the slow-log commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// PostgreSQL stderr log with a log_line_prefix.
    Stderr,
    /// PostgreSQL csvlog.
    Csvlog,
    /// PostgreSQL jsonlog (15+).
    Jsonlog,
    /// MySQL / MariaDB slow query log.
    Mysql,
}

impl LogFormat {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Stderr => "stderr",
            LogFormat::Csvlog => "csvlog",
            LogFormat::Jsonlog => "jsonlog",
            LogFormat::Mysql => "mysql",
        }
    }
}

/// How to read a file.
#[derive(Debug, Clone)]
pub struct ReadSettings {
    /// Forced format (`--input-format`); detected from the content otherwise.
    pub format: Option<LogFormat>,
    /// `log_line_prefix` for stderr logs; detected otherwise.
    pub prefix: Option<Prefix>,
    /// Zone for timestamps with abbreviated zone names.
    pub log_timezone: TimeZone,
    /// Threads for one file.
    pub threads: usize,
    /// Bytes read at a time (a block is parsed by one thread).
    pub block: usize,
    /// Whether each file's SHA-256 is taken as it is read (for provenance).
    pub file_digests: FileDigests,
}

/// Whether a reader takes each file's SHA-256 (for provenance: `plan`,
/// `ingest`, `loadtest`), or skips it (`slowlog`, which shows no provenance;
/// hashing is a fifth of a single-core read of a real log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileDigests {
    /// Digest every file as it is read.
    Take,
    /// Don't: [`FileReport::digest`] stays `None`.
    Skip,
}

/// What reading a file gave.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: LogFormat,
    /// The prefix used (stderr).
    pub prefix: Option<String>,
    /// Counts.
    pub stats: ParseStats,
    /// Bytes read (uncompressed).
    pub bytes: u64,
    /// The file's SHA-256 and size on disk.
    pub digest: Option<crate::support::digest::FileDigest>,
}

/// A failure reading a slow log.
#[derive(Debug, thiserror::Error)]
pub enum SlowlogError {
    /// The file could not be read.
    #[error("{path}: {}", crate::support::io_text(.source), path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No `log_line_prefix` matched.
    #[error("{path}: no known log_line_prefix matches its `duration:` lines; pass the server's --log-line-prefix (SHOW log_line_prefix)", path = .path.display())]
    NoPrefix {
        /// The file.
        path: PathBuf,
    },
    /// Nothing was parsed.
    #[error("{path}: no statements parsed as {format} ({lines} lines, {unrecognized} unrecognized{bad}){hint}", path = .path.display(), format = .format.name(), bad = .first_bad.as_ref().map_or(String::new(), |b| format!(", {} bad record(s), the first at line {}: {} [{}]", .rejected, b.line, b.message, b.code)))]
    Empty {
        /// The file.
        path: PathBuf,
        /// The format tried.
        format: LogFormat,
        /// Lines read.
        lines: u64,
        /// Unrecognized lines.
        unrecognized: u64,
        /// Bad records.
        rejected: u64,
        /// The first bad record.
        first_bad: Option<super::BadRecord>,
        /// What to try.
        hint: String,
    },
}

/// The default block size.
pub const BLOCK: usize = 4 << 20;

/// Recognises a log's format from its first bytes.
pub fn detect_format(head: &[u8], path: &Path) -> LogFormat {
    let text = String::from_utf8_lossy(&head[..head.len().min(256 * 1024)]);
    if text.contains("# Query_time:") || text.contains("# User@Host:") || text.contains("started with:\nTcp port:") {
        return LogFormat::Mysql;
    }
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.starts_with('{') {
        return LogFormat::Jsonlog;
    }
    let csv_like = text.lines().take(50).any(|l| {
        l.len() > 24
            && l.as_bytes()[4] == b'-'
            && (l.contains(",LOG,") || l.contains(",ERROR,"))
            && !l.contains("LOG:  ")
    });
    if csv_like {
        return LogFormat::Csvlog;
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => LogFormat::Csvlog,
        Some("json") => LogFormat::Jsonlog,
        _ => LogFormat::Stderr,
    }
}

fn io_err(path: &Path) -> impl FnOnce(crate::ingest::IngestError) -> SlowlogError + '_ {
    move |e| match e {
        crate::ingest::IngestError::Io { source, .. } => SlowlogError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => SlowlogError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

/// Reads `paths` with `threads` threads in all — the one thread pool of the
/// slow-log readers: one file gets every thread (split into chunks, see
/// [`read_file`]); several files are read one per thread at a time. Each
/// file's sinks come from `make_sink` with the file's format (fixed by
/// `settings.format`, else told from its first 256 KiB). Returns each file's
/// sinks (to be merged) and report, in the order of `paths`. A reading thread
/// that panics is an error naming the files, never a panic of the caller.
pub fn read_files<S, F>(
    paths: &[PathBuf],
    settings: &ReadSettings,
    threads: usize,
    make_sink: F,
) -> Result<Vec<(Vec<S>, FileReport)>, SlowlogError>
where
    S: EntrySink + Send,
    F: Fn(LogFormat) -> S + Sync,
{
    let threads = threads.max(1);
    let per_file = ReadSettings {
        threads: if paths.len() == 1 { threads } else { 1 },
        ..settings.clone()
    };
    let next = AtomicUsize::new(0);
    type Done<S> = Vec<(usize, Vec<S>, FileReport)>;
    let results: Vec<Result<Done<S>, SlowlogError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(paths.len()))
            .map(|_| {
                let (next, per_file, make_sink) = (&next, &per_file, &make_sink);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { break };
                        let format = match per_file.format {
                            Some(f) => f,
                            None => head_format(path)?,
                        };
                        let file = ReadSettings {
                            format: Some(format),
                            ..per_file.clone()
                        };
                        let (sinks, report) = read_file(path, &file, || make_sink(format))?;
                        done.push((i, sinks, report));
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(SlowlogError::Io {
                        path: paths.first().cloned().unwrap_or_default(),
                        source: std::io::Error::other(
                            "reading the slow logs stopped unexpectedly (a reader thread failed); nothing was reported",
                        ),
                    })
                })
            })
            .collect()
    });
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    all.sort_by_key(|(i, ..)| *i);
    Ok(all.into_iter().map(|(_, sinks, report)| (sinks, report)).collect())
}

/// The format of `path`, told from its first 256 KiB.
fn head_format(path: &Path) -> Result<LogFormat, SlowlogError> {
    let mut input = crate::ingest::open(path).map_err(io_err(path))?;
    let mut head = vec![0u8; 256 * 1024];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(source) => {
                return Err(SlowlogError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    Ok(detect_format(&head[..got], path))
}

/// Reads `path`, calling a sink from `make_sink` for the entries; returns the
/// sinks (one per thread used, to be merged) and the file's report.
pub fn read_file<S, F>(path: &Path, settings: &ReadSettings, make_sink: F) -> Result<(Vec<S>, FileReport), SlowlogError>
where
    S: EntrySink,
    F: Fn() -> S + Sync,
{
    let tally = crate::support::digest::Tally::default();
    let mut input = match settings.file_digests {
        FileDigests::Take => crate::ingest::open_digested(path, &tally),
        FileDigests::Skip => crate::ingest::open(path),
    }
    .map_err(io_err(path))?;
    // The first block: the format and prefix are told from it.
    let mut buf = Block::with_room(settings.block.max(1));
    let eof = buf.fill(&mut *input, settings.block.max(1), path)?;
    let format = settings.format.unwrap_or_else(|| detect_format(buf.data(), path));
    let mut report = FileReport {
        path: path.to_path_buf(),
        format,
        prefix: None,
        stats: ParseStats::default(),
        bytes: 0,
        digest: None,
    };
    let sinks = match format {
        LogFormat::Mysql => parallel_chunks(
            &mut *input,
            buf,
            eof,
            path,
            settings,
            ChunkFormat::Mysql,
            &make_sink,
            &mut report,
        )?,
        LogFormat::Csvlog => {
            let mut sink = make_sink();
            let chained = std::io::Cursor::new(buf.into_data()).chain(input);
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(chained);
            let mut record = csv::ByteRecord::new();
            let mut times = TimeReader::new(settings.log_timezone.clone());
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => {
                        let line = e.position().map_or(0, csv::Position::line);
                        // The csv crate's errors quote no data, only positions.
                        report.stats.unrecognized(line, 0);
                        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                            break;
                        }
                        continue;
                    }
                }
                let line = record.position().map_or(0, csv::Position::line);
                match postgres::csv_entry(&record, &mut times, line) {
                    Some(Ok(entry)) => {
                        report.stats.entries += 1;
                        sink.entry(&entry);
                    }
                    Some(Err(postgres::CsvRefusal::Time)) => report.stats.unrecognized(line, record.as_slice().len()),
                    Some(Err(postgres::CsvRefusal::Bad(code, why))) => report.stats.reject(line, code, why),
                    None => {}
                }
            }
            report.stats.lines = reader.position().line();
            report.bytes = reader.position().byte();
            vec![sink]
        }
        LogFormat::Stderr => {
            let prefix = match &settings.prefix {
                Some(p) => p.clone(),
                None => postgres::detect_prefix(buf.data()).ok_or_else(|| SlowlogError::NoPrefix {
                    path: path.to_path_buf(),
                })?,
            };
            report.prefix = Some(prefix.as_str().to_string());
            parallel_chunks(
                &mut *input,
                buf,
                eof,
                path,
                settings,
                ChunkFormat::Stderr(prefix),
                &make_sink,
                &mut report,
            )?
        }
        LogFormat::Jsonlog => parallel_chunks(
            &mut *input,
            buf,
            eof,
            path,
            settings,
            ChunkFormat::Json,
            &make_sink,
            &mut report,
        )?,
    };
    if report.stats.entries == 0 {
        let hint = match format {
            LogFormat::Stderr => format!(
                " with log_line_prefix {:?}; is log_min_duration_statement set, and is that the server's prefix? (--log-line-prefix, --input-format)",
                report.prefix.as_deref().unwrap_or("")
            ),
            _ => "; is this the right format? (--input-format)".to_string(),
        };
        return Err(SlowlogError::Empty {
            path: path.to_path_buf(),
            format,
            lines: report.stats.lines,
            unrecognized: report.stats.unrecognized,
            rejected: report.stats.rejected,
            first_bad: report.stats.first_rejected.first().cloned(),
            hint,
        });
    }
    if settings.file_digests == FileDigests::Take {
        report.digest = Some(tally.finish_file(path).map_err(|source| SlowlogError::Io {
            path: path.to_path_buf(),
            source,
        })?);
    }
    Ok((sinks, report))
}

/// A block of a file being read: `bytes[..len]` is data, the rest room to
/// read into. The room is zeroed once, when the block is made; a block
/// recycled after parsing is read into again as it is.
struct Block {
    bytes: Vec<u8>,
    len: usize,
}

impl Block {
    fn with_room(room: usize) -> Block {
        Block {
            bytes: vec![0; room],
            len: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The data, as a vector.
    fn into_data(mut self) -> Vec<u8> {
        self.bytes.truncate(self.len);
        self.bytes
    }

    /// Makes `data` the block's only content.
    fn set(&mut self, data: &[u8]) {
        if self.bytes.len() < data.len() {
            self.bytes.resize(data.len(), 0);
        }
        self.bytes[..data.len()].copy_from_slice(data);
        self.len = data.len();
    }

    /// Reads up to `want` more bytes; returns whether the input ended.
    fn fill(&mut self, input: &mut dyn Read, want: usize, path: &Path) -> Result<bool, SlowlogError> {
        let target = self.len + want;
        if self.bytes.len() < target {
            self.bytes.resize(target, 0);
        }
        while self.len < target {
            match input.read(&mut self.bytes[self.len..target]) {
                Ok(0) => return Ok(true),
                Ok(n) => self.len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(SlowlogError::Io {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        Ok(false)
    }
}

fn count_lines(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

/// Splits the file into whole-message chunks and parses them on `threads` workers.
/// What the parallel reader parses.
#[derive(Clone)]
enum ChunkFormat {
    Stderr(Prefix),
    Json,
    Mysql,
}

/// Placeholder database of MySQL entries that inherit the `use db;` of an
/// earlier block (parsed by another thread); replaced once every block's last
/// `use` is known.
const INHERITED: &str = "\u{0}inherited-from-block-";

/// Splits the file into whole-entry blocks and parses them on `threads` workers.
#[allow(clippy::too_many_arguments)]
fn parallel_chunks<S, F>(
    input: &mut dyn Read,
    buf: Block,
    mut eof: bool,
    path: &Path,
    settings: &ReadSettings,
    format: ChunkFormat,
    make_sink: &F,
    report: &mut FileReport,
) -> Result<Vec<S>, SlowlogError>
where
    S: EntrySink,
    F: Fn() -> S + Sync,
{
    let threads = settings.threads.max(1);
    let (tx, rx) = mpsc::sync_channel::<(Block, u64, usize)>(threads * 2);
    let rx = std::sync::Mutex::new(rx);
    // Parsed blocks come back to be read into again: no block is allocated,
    // zeroed or faulted in after the first few.
    let (recycle, recycled) = mpsc::channel::<Block>();
    let in_order = std::sync::Mutex::new(InOrder::<S> {
        next: 0,
        waiting: std::collections::BTreeMap::new(),
        merged: None,
        database: None,
    });
    let splitter = match &format {
        ChunkFormat::Stderr(prefix) => Some(StderrParser::new(prefix.clone(), settings.log_timezone.clone())),
        _ => None,
    };
    let split_of = |buf: &[u8], eof: bool| match (&format, &splitter) {
        (ChunkFormat::Stderr(_), Some(p)) => p.split_point(buf, eof),
        (ChunkFormat::Mysql, _) => mysql::split_point(buf, eof),
        _ => postgres::json_split_point(buf, eof),
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let rx = &rx;
                let format = format.clone();
                let mut parser = match &format {
                    ChunkFormat::Stderr(prefix) => {
                        Some(StderrParser::new(prefix.clone(), settings.log_timezone.clone()))
                    }
                    _ => None,
                };
                let mut times = TimeReader::new(settings.log_timezone.clone());
                let recycle = recycle.clone();
                let in_order = &in_order;
                scope.spawn(move || {
                    let mut stats = ParseStats::default();
                    loop {
                        let next = rx.lock().map(|r| r.recv()).unwrap_or(Err(mpsc::RecvError));
                        let Ok((block, first_line, index)) = next else { break };
                        let chunk = block.data();
                        // One sink per block, merged in block order.
                        let mut sink = make_sink();
                        // For MySQL: the block's database at its end (its last `use`).
                        let mut block_end: Option<Option<String>> = None;
                        let mut to_sink = |e: &super::LogEntry<'_>| sink.entry(e);
                        match (&format, parser.as_mut()) {
                            (ChunkFormat::Stderr(_), Some(p)) => {
                                p.parse_chunk(chunk, first_line, &mut stats, &mut to_sink)
                            }
                            (ChunkFormat::Mysql, _) => {
                                let mut state = MysqlState::default();
                                state.database = Some(format!("{INHERITED}{index}"));
                                mysql::parse_chunk(chunk, first_line, &mut state, &mut stats, &mut to_sink);
                                block_end = Some(state.database);
                            }
                            _ => postgres::parse_json_chunk(chunk, first_line, &mut times, &mut stats, &mut to_sink),
                        }
                        let _ = recycle.send(block);
                        in_order
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .put(index, sink, block_end);
                    }
                    stats
                })
            })
            .collect();
        drop(recycle);
        let mut line = 1u64;
        let mut index = 0usize;
        let mut result = Ok(());
        let block = settings.block.max(1);
        let mut current = buf;
        loop {
            let split = split_of(current.data(), eof);
            if split > 0 {
                // The unfinished entry after `split` starts the next block.
                let mut next = recycled.try_recv().unwrap_or_else(|_| Block::with_room(2 * block));
                next.set(&current.data()[split..]);
                current.len = split;
                let lines = count_lines(current.data());
                report.bytes += split as u64;
                if tx.send((std::mem::replace(&mut current, next), line, index)).is_err() {
                    break;
                }
                line += lines;
                index += 1;
            }
            if eof {
                break;
            }
            // An entry longer than a block: read on until it ends.
            let want = if split == 0 { current.len.max(block) } else { block };
            match current.fill(input, want, path) {
                Ok(e) => eof = e,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(tx);
        for w in workers {
            let stats = w.join().expect("a slow-log worker panicked");
            report.stats.merge(stats);
        }
        result
    })?;
    let in_order = in_order.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(vec![in_order.merged.unwrap_or_else(make_sink)])
}

/// The blocks' sinks, merged in block order whatever order their threads
/// finish in: float sums and first appearances then come out the same on
/// every run and with any number of threads (an evidence pack is
/// byte-for-byte repeatable). A block that finishes early waits.
struct InOrder<S> {
    /// The next block to merge.
    next: usize,
    /// Finished blocks after it: their sink and, for MySQL, their database
    /// at their end.
    waiting: std::collections::BTreeMap<usize, (S, Option<Option<String>>)>,
    merged: Option<S>,
    /// MySQL: the database in force at the end of the blocks merged.
    database: Option<String>,
}

impl<S: EntrySink> InOrder<S> {
    fn put(&mut self, index: usize, sink: S, end: Option<Option<String>>) {
        self.waiting.insert(index, (sink, end));
        while let Some((mut sink, end)) = self.waiting.remove(&self.next) {
            if let Some(end) = end {
                // Block k starts with the database block k−1 ended with; a
                // block without a `use` of its own ends with the one it
                // started with.
                let placeholder = format!("{INHERITED}{}", self.next);
                sink.rename_database(&placeholder, self.database.as_deref().unwrap_or_default());
                if end.as_deref() != Some(placeholder.as_str()) {
                    self.database = end;
                }
            }
            match &mut self.merged {
                Some(merged) => merged.merge(sink),
                None => self.merged = Some(sink),
            }
            self.next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::digest::{Digest, DigestSettings};
    use crate::analyze::fingerprint::Dialect;

    fn digest(path: &Path, threads: usize, block: usize) -> (Digest, FileReport) {
        let settings = ReadSettings {
            format: None,
            prefix: None,
            log_timezone: TimeZone::UTC,
            threads,
            block,
            file_digests: FileDigests::Take,
        };
        let ds = DigestSettings {
            dialect: Dialect::MySql,
            threshold_ms: 5000.0,
            timezone: TimeZone::UTC,
            since_ms: None,
            until_ms: None,
            keep_samples: false,
        };
        let (sinks, report) = read_file(path, &settings, || Digest::new(ds.clone())).unwrap();
        let mut all = Digest::new(ds);
        for d in sinks {
            all.merge(d);
        }
        (all, report)
    }

    fn databases(d: &Digest) -> Vec<(String, String, String, u64)> {
        let mut rows: Vec<_> = d
            .fingerprints()
            .flat_map(|(fp, s)| {
                s.by_database_user
                    .iter()
                    .map(move |(db, u, n)| (fp.clone(), db.clone(), u.clone(), *n))
            })
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn mysql_blocks_in_parallel_inherit_the_database_of_earlier_blocks() {
        let mut log = String::from(
            "/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-log. started with:\nTcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime\t\t    Id Command\tArgument\n",
        );
        for i in 0..400 {
            log.push_str(&format!("# Time: 261001  8:{:02}:{:02}\n# User@Host: app[app] @ localhost []\n# Query_time: 0.00{}  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 1\n", i / 60, i % 60, 1 + i % 8));
            // The database changes rarely: most blocks inherit it.
            if i % 97 == 0 {
                log.push_str(&format!("use ward{};\n", i / 97));
            }
            log.push_str(&format!(
                "SET timestamp={};\nSELECT * FROM beds WHERE id = {i};\n",
                1_790_841_600 + i
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slow.log");
        std::fs::write(&path, &log).unwrap();
        let (whole, report) = digest(&path, 1, 1 << 20);
        assert_eq!(report.stats.entries, 400);
        let (parallel, _) = digest(&path, 3, 700);
        assert_eq!(parallel.statements, whole.statements);
        assert_eq!(databases(&parallel), databases(&whole));
        assert!(databases(&whole).iter().any(|r| r.1 == "ward4"));
        assert!(databases(&parallel).iter().all(|r| !r.1.starts_with('\u{0}')));
    }

    /// Blocks are merged in block order: the digest of a file cut into the
    /// same blocks is the same to the last bit with one thread or three, on
    /// every run (float sums are not associative; an evidence pack must be
    /// byte-for-byte repeatable).
    #[test]
    fn the_digest_does_not_depend_on_the_threads() {
        let mut log = String::new();
        for i in 0..3000 {
            log.push_str(&format!(
                "# Time: 261001  8:{:02}:{:02}\n# User@Host: app[app] @ localhost []\n# Query_time: 0.{:06}  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 1\nuse ward{};\nSET timestamp={};\nSELECT * FROM beds WHERE id = {i};\n",
                (i / 60) % 60,
                i % 60,
                (i * 7919) % 999_983,
                i % 5,
                1_790_841_600 + i
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slow.log");
        std::fs::write(&path, &log).unwrap();
        let seen = |d: &Digest| {
            let fps: Vec<String> = d
                .fingerprints()
                .map(|(fp, s)| format!("{fp} {} {:?} {:?}", s.count, s.total_ms.to_bits(), s.hold_ms.to_bits()))
                .collect();
            (d.total_ms.to_bits(), d.hold_ms.to_bits(), fps, databases(d))
        };
        let (one, _) = digest(&path, 1, 900);
        for _ in 0..5 {
            let (three, _) = digest(&path, 3, 900);
            assert_eq!(seen(&three), seen(&one));
        }
    }
}
