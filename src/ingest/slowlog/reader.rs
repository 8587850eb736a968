//! Reading one slow-log file: opening (plain or gzip), recognising its format
//! from its content, and streaming it a block at a time through the format's
//! parser. Stderr and jsonlog logs of plain files are parsed by several threads
//! at once (their messages carry all their context); MySQL and csvlog files are
//! parsed in order (MySQL's `use db;` state runs through the file; csvlog
//! records may hold newlines), and several files run in parallel instead.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use jiff::tz::TimeZone;

use super::mysql::{self, MysqlState};
use super::postgres::{self, Prefix, StderrParser, TimeReader};
use super::{EntrySink, ParseStats};

/// The log formats poolcap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// PostgreSQL stderr log (`log_destination = stderr`) with a `log_line_prefix`.
    Stderr,
    /// PostgreSQL csvlog.
    Csvlog,
    /// PostgreSQL jsonlog (15+).
    Jsonlog,
    /// MySQL / MariaDB slow query log.
    Mysql,
}

impl InputFormat {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Stderr => "stderr",
            InputFormat::Csvlog => "csvlog",
            InputFormat::Jsonlog => "jsonlog",
            InputFormat::Mysql => "mysql",
        }
    }
}

/// How to read a file.
#[derive(Debug, Clone)]
pub struct ReadSettings {
    /// Forced format (`--input-format`); detected from the content otherwise.
    pub format: Option<InputFormat>,
    /// `log_line_prefix` for stderr logs; detected otherwise.
    pub prefix: Option<Prefix>,
    /// Zone for timestamps with abbreviated zone names.
    pub log_timezone: TimeZone,
    /// Threads for one plain stderr/jsonlog file.
    pub threads: usize,
}

/// What reading a file gave.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: InputFormat,
    /// The prefix used (stderr).
    pub prefix: Option<String>,
    /// Counts.
    pub stats: ParseStats,
    /// Bytes read (uncompressed).
    pub bytes: u64,
}

/// A failure reading a slow log.
#[derive(Debug, thiserror::Error)]
pub enum SlowlogError {
    /// The file could not be read.
    #[error("{path}: {source}", path = .path.display())]
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
    #[error("{path}: no statements parsed as {format} ({lines} lines, {unrecognized} unrecognized){hint}", path = .path.display(), format = .format.name())]
    Empty {
        /// The file.
        path: PathBuf,
        /// The format tried.
        format: InputFormat,
        /// Lines read.
        lines: u64,
        /// Unrecognized lines.
        unrecognized: u64,
        /// What to try.
        hint: String,
    },
}

const BLOCK: usize = 4 << 20;

/// Recognises a log's format from its first bytes.
pub fn detect_format(head: &[u8], path: &Path) -> InputFormat {
    let text = String::from_utf8_lossy(&head[..head.len().min(256 * 1024)]);
    if text.contains("# Query_time:") || text.contains("# User@Host:") || text.contains("started with:\nTcp port:") {
        return InputFormat::Mysql;
    }
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.starts_with('{') {
        return InputFormat::Jsonlog;
    }
    let csv_like = text.lines().take(50).any(|l| {
        l.len() > 24
            && l.as_bytes()[4] == b'-'
            && (l.contains(",LOG,") || l.contains(",ERROR,"))
            && !l.contains("LOG:  ")
    });
    if csv_like {
        return InputFormat::Csvlog;
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => InputFormat::Csvlog,
        Some("json") => InputFormat::Jsonlog,
        _ => InputFormat::Stderr,
    }
}

/// Appends up to `want` more bytes to `buf` (no zeroing: `read_to_end` fills the
/// spare capacity); returns whether the input ended.
fn fill(input: &mut dyn Read, buf: &mut Vec<u8>, want: usize, path: &Path) -> Result<bool, SlowlogError> {
    let start = buf.len();
    buf.reserve(want);
    match input.take(want as u64).read_to_end(buf) {
        Ok(_) => Ok(buf.len() - start < want),
        Err(source) => Err(SlowlogError::Io {
            path: path.to_path_buf(),
            source,
        }),
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

/// Reads `path`, calling a sink from `make_sink` for the entries; returns the
/// sinks (one per thread used, to be merged) and the file's report.
pub fn read_file<S, F>(path: &Path, settings: &ReadSettings, make_sink: F) -> Result<(Vec<S>, FileReport), SlowlogError>
where
    S: EntrySink,
    F: Fn() -> S + Sync,
{
    let mut input = crate::ingest::open(path).map_err(io_err(path))?;
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK * 2);
    let mut eof = fill(&mut *input, &mut buf, BLOCK, path)?;
    let format = settings.format.unwrap_or_else(|| detect_format(&buf, path));
    let mut report = FileReport {
        path: path.to_path_buf(),
        format,
        prefix: None,
        stats: ParseStats::default(),
        bytes: 0,
    };
    let sinks = match format {
        InputFormat::Mysql => {
            let mut sink = make_sink();
            let mut state = MysqlState::default();
            let mut line = 1u64;
            loop {
                let split = mysql::split_point(&buf, eof);
                if split > 0 {
                    mysql::parse_chunk(&buf[..split], line, &mut state, &mut report.stats, &mut |e| {
                        sink.entry(e)
                    });
                    line += count_lines(&buf[..split]);
                    report.bytes += split as u64;
                    buf.drain(..split);
                }
                if eof {
                    break;
                }
                eof = fill(&mut *input, &mut buf, BLOCK, path)?;
            }
            vec![sink]
        }
        InputFormat::Csvlog => {
            let mut sink = make_sink();
            let chained = std::io::Cursor::new(std::mem::take(&mut buf)).chain(input);
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
                        report.stats.unrecognized(line, e.to_string().as_bytes());
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
                    Some(Err(())) => report.stats.unrecognized(line, record.as_slice()),
                    None => {}
                }
            }
            report.stats.lines = reader.position().line();
            report.bytes = reader.position().byte();
            vec![sink]
        }
        InputFormat::Stderr | InputFormat::Jsonlog => {
            let parser = match format {
                InputFormat::Stderr => {
                    let prefix = match &settings.prefix {
                        Some(p) => p.clone(),
                        None => postgres::detect_prefix(&buf).ok_or_else(|| SlowlogError::NoPrefix {
                            path: path.to_path_buf(),
                        })?,
                    };
                    report.prefix = Some(prefix.as_str().to_string());
                    Some(StderrParser::new(prefix, settings.log_timezone.clone()))
                }
                _ => None,
            };
            parallel_chunks(&mut *input, buf, eof, path, settings, parser, &make_sink, &mut report)?
        }
    };
    if report.stats.entries == 0 {
        let hint = match format {
            InputFormat::Stderr => format!(
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
            hint,
        });
    }
    Ok((sinks, report))
}

fn count_lines(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

/// Splits the file into whole-message chunks and parses them on `threads` workers.
#[allow(clippy::too_many_arguments)]
fn parallel_chunks<S, F>(
    input: &mut dyn Read,
    mut buf: Vec<u8>,
    mut eof: bool,
    path: &Path,
    settings: &ReadSettings,
    parser: Option<StderrParser>,
    make_sink: &F,
    report: &mut FileReport,
) -> Result<Vec<S>, SlowlogError>
where
    S: EntrySink,
    F: Fn() -> S + Sync,
{
    let threads = settings.threads.max(1);
    let (tx, rx) = mpsc::sync_channel::<(Vec<u8>, u64)>(threads * 2);
    let rx = std::sync::Mutex::new(rx);
    let split_of = |buf: &[u8], eof: bool| match &parser {
        Some(p) => p.split_point(buf, eof),
        None => postgres::json_split_point(buf, eof),
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let rx = &rx;
                let mut parser = parser
                    .as_ref()
                    .map(|p| StderrParser::new(p.prefix().clone(), settings.log_timezone.clone()));
                let mut times = TimeReader::new(settings.log_timezone.clone());
                scope.spawn(move || {
                    let mut sink = make_sink();
                    let mut stats = ParseStats::default();
                    loop {
                        let next = rx.lock().map(|r| r.recv()).unwrap_or(Err(mpsc::RecvError));
                        let Ok((chunk, first_line)) = next else { break };
                        let mut to_sink = |e: &super::LogEntry<'_>| sink.entry(e);
                        match parser.as_mut() {
                            Some(p) => p.parse_chunk(&chunk, first_line, &mut stats, &mut to_sink),
                            None => {
                                postgres::parse_json_chunk(&chunk, first_line, &mut times, &mut stats, &mut to_sink)
                            }
                        }
                    }
                    (sink, stats)
                })
            })
            .collect();
        let mut line = 1u64;
        let mut result = Ok(());
        loop {
            let split = split_of(&buf, eof);
            if split > 0 {
                let rest = buf.split_off(split);
                let chunk = std::mem::replace(&mut buf, rest);
                let lines = count_lines(&chunk);
                report.bytes += chunk.len() as u64;
                if tx.send((chunk, line)).is_err() {
                    break;
                }
                line += lines;
            }
            if eof {
                break;
            }
            // A message longer than a block: read on until it ends.
            let want = if split == 0 { buf.len().max(BLOCK) } else { BLOCK };
            match fill(input, &mut buf, want, path) {
                Ok(e) => eof = e,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        drop(tx);
        let mut sinks = Vec::with_capacity(threads);
        for w in workers {
            let (sink, stats) = w.join().expect("a slow-log worker panicked");
            report.stats.merge(stats);
            sinks.push(sink);
        }
        result.map(|()| sinks)
    })
}
