//! Pool metrics as CSV (DESIGN §1.1): header-driven, any column order, extra
//! columns ignored with one notice, plain or gzip.
//!
//! Required columns: `ts`, `service` (unless the run names one with `--service`),
//! `pool_size`, `checked_out`; `instance` defaults to `default`. Optional:
//! `max_overflow`, `checked_in`, `overflow`, `waiting`, `timeouts`. Each bad row
//! becomes a diagnostic with its line and the run goes on, so that one run counts
//! every bad row; the caller decides whether any bad row fails the run.

use std::io::Read;
use std::path::Path;

use super::timestamp::parse_timestamp;
use super::{
    Diagnostic, Diagnostics, FileSummary, IngestError, QUOTE_MAX, ReadContext, ReadOptions, RowError, Sample,
    SeriesTable, check_capacity, check_pool_size, clip, finish, quote, quote_head, row_error, take_row,
};

/// The columns poolcap understands, in the order of DESIGN §1.1 (`ts` may also
/// be written `timestamp` or `time`, as in JSON lines).
pub const KNOWN_COLUMNS: [&str; 10] = [
    "ts",
    "service",
    "instance",
    "pool_size",
    "checked_out",
    "checked_in",
    "overflow",
    "max_overflow",
    "waiting",
    "timeouts",
];

#[derive(Default)]
struct Columns {
    ts: usize,
    service: Option<usize>,
    instance: Option<usize>,
    pool_size: usize,
    checked_out: usize,
    checked_in: Option<usize>,
    overflow: Option<usize>,
    max_overflow: Option<usize>,
    waiting: Option<usize>,
    timeouts: Option<usize>,
}

fn map_header(
    path: &Path,
    header: &csv::ByteRecord,
    opts: &ReadOptions,
    diags: &mut Diagnostics,
) -> Result<Columns, IngestError> {
    let mut found: [Option<usize>; 10] = [None; 10];
    let mut extra = Vec::new();
    for (i, name) in header.iter().enumerate() {
        // No known column is longer than this: a longer name is only shown, cut.
        if name.len() > 64 {
            extra.push(quote(name));
            continue;
        }
        let name = String::from_utf8_lossy(name);
        let name = name.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
        // The time may be named as in JSON lines: `ts`, `timestamp` or `time`.
        let canonical = match name.as_str() {
            "timestamp" | "time" => "ts",
            other => other,
        };
        match KNOWN_COLUMNS.iter().position(|k| *k == canonical) {
            Some(k) if found[k].is_some() => {
                return Err(IngestError::Header {
                    path: path.to_path_buf(),
                    line: 1,
                    message: format!("column {} appears twice in the header", quote(name.as_bytes())),
                });
            }
            Some(k) => found[k] = Some(i),
            None => extra.push(name),
        }
    }
    let mut missing: Vec<&str> = Vec::new();
    for (k, required) in [(0, true), (1, opts.service.is_none()), (3, true), (4, true)] {
        if required && found[k].is_none() {
            missing.push(KNOWN_COLUMNS[k]);
        }
    }
    if !missing.is_empty() {
        // The header as written, of which at most QUOTE_MAX bytes are shown.
        let len = header.iter().map(<[u8]>::len).sum::<usize>() + header.len().saturating_sub(1);
        let mut head = Vec::new();
        for (i, h) in header.iter().enumerate() {
            if head.len() > QUOTE_MAX + 3 {
                break;
            }
            if i > 0 {
                head.push(b',');
            }
            head.extend_from_slice(&h[..h.len().min(QUOTE_MAX + 4)]);
        }
        let mut message = format!(
            "header lacks required column(s) {}; found {}. Required: ts, service, pool_size, checked_out",
            missing.join(", "),
            quote_head(&head, len)
        );
        if missing.contains(&"service") {
            message.push_str(" (or name the service with --service)");
        }
        if header.len() == 1 && [b';', b'\t', b'|'].iter().any(|sep| header[0].contains(sep)) {
            message.push_str(
                "; the header has a single column with ';', tab or '|' in it: poolcap reads comma-separated CSV — export with commas",
            );
        }
        return Err(IngestError::Header {
            path: path.to_path_buf(),
            line: 1,
            message,
        });
    }
    if !extra.is_empty() {
        diags.notice(Diagnostic {
            path: path.to_path_buf(),
            line: Some(1),
            code: "ignored-columns",
            message: format!("ignored column(s) not used by poolcap: {}", clip(&extra.join(", "))),
        });
    }
    Ok(Columns {
        ts: found[0].unwrap_or_default(),
        service: found[1],
        instance: found[2],
        pool_size: found[3].unwrap_or_default(),
        checked_out: found[4].unwrap_or_default(),
        checked_in: found[5],
        overflow: found[6],
        max_overflow: found[7],
        waiting: found[8],
        timeouts: found[9],
    })
}

/// A non-negative whole number; `"20.0"` is accepted (exporters write floats).
fn parse_count(field: &[u8]) -> Result<u64, ()> {
    // Fast path: 1–9 plain digits.
    if !field.is_empty() && field.len() < 10 {
        let mut v: u64 = 0;
        let mut plain = true;
        for &b in field {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                plain = false;
                break;
            }
            v = v * 10 + u64::from(d);
        }
        if plain {
            return Ok(v);
        }
    }
    let field = field.trim_ascii();
    let (int, frac) = match field.iter().position(|&b| b == b'.') {
        Some(dot) => (&field[..dot], &field[dot + 1..]),
        None => (field, &[][..]),
    };
    if int.is_empty() || int.len() > 18 || !frac.iter().all(|&b| b == b'0') {
        return Err(());
    }
    let mut v: u64 = 0;
    for &b in int {
        if !b.is_ascii_digit() {
            return Err(());
        }
        v = v * 10 + u64::from(b - b'0');
    }
    Ok(v)
}

/// A signed whole number (SQLAlchemy's `overflow()` starts at −pool_size).
fn parse_signed(field: &[u8]) -> Result<i64, ()> {
    let field = field.trim_ascii();
    match field.first() {
        Some(b'-') => parse_count(&field[1..]).map(|v| -(v as i64)),
        _ => parse_count(field).map(|v| v as i64),
    }
}

#[inline]
fn field<'r>(record: &'r impl Row, index: usize, name: &str) -> Result<&'r [u8], RowError> {
    let f = record.get(index).map(<[u8]>::trim_ascii).unwrap_or_default();
    if f.is_empty() {
        return Err(row_error("missing-value", format!("{name} is empty")));
    }
    Ok(f)
}

#[inline]
fn count_field(record: &impl Row, index: usize, name: &str) -> Result<u64, RowError> {
    let f = field(record, index, name)?;
    parse_count(f).map_err(|()| {
        row_error(
            "bad-number",
            format!("{name} {} is not a non-negative whole number", quote(f)),
        )
    })
}

#[inline]
fn optional_count(record: &impl Row, index: Option<usize>, name: &str) -> Result<Option<u64>, RowError> {
    match index {
        Some(i) if record.get(i).is_some_and(|f| !f.trim_ascii().is_empty()) => count_field(record, i, name).map(Some),
        _ => Ok(None),
    }
}

fn small(value: u64, name: &str) -> Result<u32, RowError> {
    u32::try_from(value).map_err(|_| row_error("bad-number", format!("{name} {value} is out of range")))
}

/// The series of a row, trying the last row's series and the one after it
/// before hashing.
#[inline]
fn lookup_series(series: &mut SeriesTable, last_id: &mut Option<u32>, service: &[u8], instance: &[u8]) -> u32 {
    let matches = |series: &SeriesTable, id: u32| {
        let key = series.key(id);
        key.instance.as_bytes() == instance && key.service.as_bytes() == service
    };
    if let Some(last) = *last_id {
        if matches(series, last) {
            return last;
        }
        let next = if last as usize + 1 < series.len() { last + 1 } else { 0 };
        if matches(series, next) {
            *last_id = Some(next);
            return next;
        }
    }
    let id = series.intern(service, instance);
    *last_id = Some(id);
    id
}

/// A row's fields: a line split at its commas (the fast path), or the csv
/// crate's record (from the first line with a quote on).
trait Row {
    fn len(&self) -> usize;
    fn get(&self, i: usize) -> Option<&[u8]>;
}

impl Row for csv::ByteRecord {
    #[inline]
    fn len(&self) -> usize {
        csv::ByteRecord::len(self)
    }
    #[inline]
    fn get(&self, i: usize) -> Option<&[u8]> {
        csv::ByteRecord::get(self, i)
    }
}

/// A line without quotes, split at its commas: exactly the fields the csv
/// crate reads from it (a CRLF's '\r' stays in the last field, as there).
struct SplitLine<'a> {
    line: &'a [u8],
    /// Where each field ends (its comma, or the line's end).
    ends: &'a [usize],
}

impl Row for SplitLine<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.ends.len()
    }
    #[inline]
    fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        Some(&self.line[start..end])
    }
}

/// Splits `line` at its commas into `ends`, in one pass that also looks for
/// a quote: `false` (and `ends` unfinished) when the line has one.
#[inline]
fn split_commas(line: &[u8], ends: &mut Vec<usize>) -> bool {
    ends.clear();
    for at in memchr::memchr2_iter(b',', b'"', line) {
        if line[at] == b'"' {
            return false;
        }
        ends.push(at);
    }
    ends.push(line.len());
    true
}

/// What reading the file's rows needs besides the row.
struct RowReader<'c, 'x> {
    path: &'c Path,
    file: u32,
    opts: &'c ReadOptions,
    /// Whether the header was read (and gave `cols` and `header_len`).
    has_header: bool,
    cols: Columns,
    header_len: usize,
    default_service: &'c [u8],
    summary: FileSummary,
    last_id: Option<u32>,
    series: &'x mut SeriesTable,
    diags: &'x mut Diagnostics,
    sink: &'x mut dyn FnMut(&SeriesTable, Sample),
}

impl RowReader<'_, '_> {
    /// Reads the header: the columns of the rows after it.
    fn header(&mut self, header: &csv::ByteRecord) -> Result<(), IngestError> {
        self.cols = header_columns(self.path, header, self.opts, self.diags)?;
        self.header_len = header.len();
        self.has_header = true;
        Ok(())
    }

    /// Reads one row (`line`: where it starts).
    #[inline]
    fn row(&mut self, record: &impl Row, line: u64) -> Result<(), IngestError> {
        if record.len() == 1 && record.get(0).unwrap_or_default().trim_ascii().is_empty() {
            return Ok(()); // blank line
        }
        self.summary.rows += 1;
        let parsed = self.sample(record, line);
        take_row(
            parsed,
            self.path,
            line,
            &mut self.summary,
            self.diags,
            self.series,
            self.sink,
        )
    }

    #[inline]
    fn sample(&mut self, record: &impl Row, line: u64) -> Result<Sample, RowError> {
        let cols = &self.cols;
        let header_len = self.header_len;
        if record.len() != header_len {
            return Err(row_error(
                "field-count",
                format!("row has {} fields, the header has {header_len}", record.len()),
            ));
        }
        let ts_field = field(record, cols.ts, "ts")?;
        let ts = parse_timestamp(ts_field).map_err(|m| row_error("bad-timestamp", m))?;
        let service = match cols.service {
            Some(i) => field(record, i, "service")?,
            None => self.default_service,
        };
        let instance = match cols.instance {
            Some(i) => field(record, i, "instance")?,
            None => b"default".as_slice(),
        };
        let pool_size = small(count_field(record, cols.pool_size, "pool_size")?, "pool_size")?;
        check_pool_size(u64::from(pool_size), "pool_size")?;
        let checked_out = small(count_field(record, cols.checked_out, "checked_out")?, "checked_out")?;
        let max_overflow = optional_count(record, cols.max_overflow, "max_overflow")?
            .map(|v| small(v, "max_overflow"))
            .transpose()?;
        check_capacity(checked_out, pool_size, max_overflow)?;
        optional_count(record, cols.checked_in, "checked_in")?;
        if let Some(i) = cols.overflow
            && let Some(f) = record.get(i)
            && !f.trim_ascii().is_empty()
        {
            parse_signed(f)
                .map_err(|()| row_error("bad-number", format!("overflow {} is not a whole number", quote(f))))?;
        }
        let waiting = optional_count(record, cols.waiting, "waiting")?
            .map(|v| small(v, "waiting"))
            .transpose()?;
        let timeouts = optional_count(record, cols.timeouts, "timeouts")?;
        let id = lookup_series(self.series, &mut self.last_id, service, instance);
        Ok(Sample {
            series: id,
            ts,
            pool_size,
            checked_out,
            max_overflow,
            waiting,
            timeouts,
            line,
            file: self.file,
        })
    }
}

fn csv_reader<R: Read>(input: R, has_headers: bool) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(has_headers)
        .flexible(true)
        // Records end at '\n' (a CRLF's '\r' is trimmed with the field): with
        // the default CRLF terminator the csv crate counts each record of a
        // CRLF file one line short.
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(1 << 20)
        .from_reader(input)
}

fn csv_error(err: csv::Error, path: &Path, line_offset: u64) -> IngestError {
    let line = err.position().map_or(0, csv::Position::line) + line_offset;
    let text = err.to_string();
    match err.into_kind() {
        csv::ErrorKind::Io(source) => IngestError::Io {
            path: path.to_path_buf(),
            source,
        },
        _ => IngestError::Header {
            path: path.to_path_buf(),
            line,
            message: format!("not readable as CSV: {}", clip(&text)),
        },
    }
}

/// How the quote-free lines at the head of a file ended.
enum Lines {
    /// At the end of the input, after this many bytes.
    End(u64),
    /// At a line with a quote: the rest of the input (from that line on,
    /// these bytes first) is for the csv crate, from this line number.
    Quoted { head: Vec<u8>, line: u64, byte: u64 },
}

/// Calls `each(line, field ends, number)` for every line of `input`
/// (without its '\n'; empty lines skipped, as the csv crate skips them)
/// until a line holds a quote. A line may span the reader's buffers.
fn quote_free_lines(
    input: &mut impl std::io::BufRead,
    path: &Path,
    mut each: impl FnMut(&[u8], &[usize], u64) -> Result<(), IngestError>,
) -> Result<Lines, IngestError> {
    let mut ends: Vec<usize> = Vec::with_capacity(16);
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut carry: Vec<u8> = Vec::new();
    let (mut line_no, mut byte) = (1u64, 0u64);
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        if buf.is_empty() {
            if !carry.is_empty() {
                if !split_commas(&carry, &mut ends) {
                    return Ok(Lines::Quoted {
                        head: carry,
                        line: line_no,
                        byte,
                    });
                }
                each(&carry, &ends, line_no)?;
                byte += carry.len() as u64;
            }
            return Ok(Lines::End(byte));
        }
        let len = buf.len();
        let mut start = 0;
        let mut newlines = memchr::memchr_iter(b'\n', buf);
        if !carry.is_empty() {
            let Some(end) = newlines.next() else {
                carry.extend_from_slice(buf);
                input.consume(len);
                continue;
            };
            carry.extend_from_slice(&buf[..end]);
            if !split_commas(&carry, &mut ends) {
                carry.push(b'\n');
                carry.extend_from_slice(&buf[end + 1..]);
                input.consume(len);
                return Ok(Lines::Quoted {
                    head: carry,
                    line: line_no,
                    byte,
                });
            }
            each(&carry, &ends, line_no)?;
            byte += carry.len() as u64 + 1;
            line_no += 1;
            carry.clear();
            start = end + 1;
        }
        for end in newlines {
            let line = &buf[start..end];
            if !split_commas(line, &mut ends) {
                let head = buf[start..].to_vec();
                input.consume(len);
                return Ok(Lines::Quoted {
                    head,
                    line: line_no,
                    byte,
                });
            }
            if !line.is_empty() {
                each(line, &ends, line_no)?;
            }
            byte += line.len() as u64 + 1;
            line_no += 1;
            start = end + 1;
        }
        carry.extend_from_slice(&buf[start..]);
        input.consume(len);
    }
}

/// Streams one CSV file, calling `sink` with every valid sample (and the series
/// table, which may have grown by the sample's series).
///
/// Lines without a quote (nearly every metrics file) are split at their
/// commas here; from the first line with a quote on, the csv crate reads the
/// rest. Both give the same fields, line numbers and errors; the split is
/// about three times as fast (docs/benchmarks.md).
pub fn read(mut input: impl std::io::BufRead, cx: ReadContext<'_>) -> Result<FileSummary, IngestError> {
    let ReadContext {
        path,
        file,
        opts,
        series,
        diags,
        sink,
    } = cx;
    let mut reader = RowReader {
        path,
        file,
        opts,
        has_header: false,
        cols: Columns::default(),
        header_len: 0,
        default_service: opts.service.as_deref().unwrap_or("").as_bytes(),
        summary: FileSummary::default(),
        last_id: None,
        series,
        diags,
        sink,
    };
    let lines = quote_free_lines(&mut input, path, |line, ends, line_no| {
        let record = SplitLine { line, ends };
        if reader.has_header {
            reader.row(&record, line_no)
        } else {
            reader.header(&(0..record.len()).filter_map(|i| record.get(i)).collect())
        }
    })?;
    match lines {
        Lines::End(bytes) => {
            if !reader.has_header {
                // An empty file, or blank lines only: no header.
                return Err(IngestError::NoSamples {
                    path: path.to_path_buf(),
                    rows: 0,
                    rejected: 0,
                });
            }
            reader.summary.bytes = bytes;
        }
        Lines::Quoted { head, line, byte } => {
            // From `line` on, the csv crate reads the rest (the header too,
            // when it is the quoted line).
            let rest = std::io::Cursor::new(head).chain(input);
            let offset = line - 1;
            let mut csv = csv_reader(rest, !reader.has_header);
            if !reader.has_header {
                let header = csv.byte_headers().map_err(|e| csv_error(e, path, offset))?.clone();
                reader.header(&header)?;
            }
            let mut record = csv::ByteRecord::new();
            loop {
                match csv.read_byte_record(&mut record) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(err) => return Err(csv_error(err, path, offset)),
                }
                let at = record.position().map_or(0, csv::Position::line) + offset;
                reader.row(&record, at)?;
            }
            reader.summary.bytes = byte + csv.position().byte();
        }
    }
    finish(path, reader.summary)
}

/// The columns of a header, or the error of an empty one.
fn header_columns(
    path: &Path,
    header: &csv::ByteRecord,
    opts: &ReadOptions,
    diags: &mut Diagnostics,
) -> Result<Columns, IngestError> {
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(IngestError::NoSamples {
            path: path.to_path_buf(),
            rows: 0,
            rejected: 0,
        });
    }
    map_header(path, header, opts, diags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn run(
        text: &str,
        opts: &ReadOptions,
    ) -> (Result<FileSummary, IngestError>, Vec<Sample>, Diagnostics, SeriesTable) {
        let mut series = SeriesTable::default();
        let mut diags = Diagnostics::default();
        let mut out = Vec::new();
        let result = read(
            text.as_bytes(),
            ReadContext {
                path: &PathBuf::from("m.csv"),
                file: 0,
                opts,
                series: &mut series,
                diags: &mut diags,
                sink: &mut |_, s| out.push(s),
            },
        );
        (result, out, diags, series)
    }

    /// Reads `text` through a reader of `capacity` bytes: what came out, as
    /// comparable text (samples, diagnostics, counts, or the error), and the
    /// bytes read.
    fn outcome(text: &str, capacity: usize) -> (String, u64) {
        let mut series = SeriesTable::default();
        let mut diags = Diagnostics::default();
        let mut out = Vec::new();
        let result = read(
            std::io::BufReader::with_capacity(capacity, text.as_bytes()),
            ReadContext {
                path: &PathBuf::from("m.csv"),
                file: 0,
                opts: &ReadOptions::default(),
                series: &mut series,
                diags: &mut diags,
                sink: &mut |_, s| out.push(s),
            },
        );
        let samples: Vec<String> = out
            .iter()
            .map(|s| {
                let key = series.key(s.series);
                format!(
                    "{}:{}/{} {} {}/{} {:?} {:?} {:?}",
                    s.line,
                    key.service,
                    key.instance,
                    s.ts,
                    s.checked_out,
                    s.pool_size,
                    s.max_overflow,
                    s.waiting,
                    s.timeouts
                )
            })
            .collect();
        let shown: Vec<String> = diags.shown().iter().map(ToString::to_string).collect();
        let (result, bytes) = match result {
            Ok(summary) => (
                format!("{:?}", (summary.rows, summary.accepted, summary.rejected)),
                summary.bytes,
            ),
            Err(e) => (e.to_string(), 0),
        };
        (format!("{result}\n{}\n{}", samples.join("\n"), shown.join("\n")), bytes)
    }

    /// The split of quote-free lines reads exactly what the csv crate reads:
    /// the same file with its header's first name quoted goes through the csv
    /// crate whole. Lines spanning the reader's buffers (small capacities),
    /// CRLF, lines of spaces, a last line without '\n', bad rows, and a
    /// quoted field over two lines mid-file (the rest then read by the csv
    /// crate, line numbers running on) all come out the same. (Empty lines
    /// between rows are not compared: after one, the csv crate numbers the
    /// next row a line short; the split numbers it right, see below.)
    #[test]
    fn split_lines_read_as_the_csv_crate_reads_them() {
        let texts = [
            "ts,service,instance,pool_size,checked_out,waiting\n\
             2026-10-01T00:00:00Z,b,i,20,3,\n\
             2026-10-01T00:00:15Z,b,i,20,4,1\r\n\
             2026-10-01T00:00:30Z,b,i,twenty,3,0\n\
             \x20\x20\n\
             2026-10-01T00:00:45Z,b,i,20\n\
             2026-10-01T00:01:00Z,b,j,20,25,0\n\
             2026-10-01T00:01:15Z,b,i,20,5,0",
            "ts,service,instance,pool_size,checked_out\r\n\
             2026-10-01T00:00:00Z,b,i,20,3\r\n\
             2026-10-01T00:00:15Z,b,\"two\nlines\",20,4\r\n\
             2026-10-01T00:00:30Z,b,i,x,4\r\n\
             2026-10-01T00:00:45Z,\"b\",i,20,6\r\n",
            "\n\nts,service,instance,pool_size,checked_out\n2026-10-01T00:00:00Z,b,i,20,3\n",
            "ts,service,instance,pool_size,checked_out\n",
            "ts,service,instance,pool_size,checked_out\n2026-10-01T00:00:00Z,b,i\"x,20,3\n",
        ];
        for text in texts {
            let (first, rest) = text.split_at(text.find("ts").unwrap());
            let quoted = format!("{first}\"ts\"{}", &rest[2..]);
            let (whole_csv, _) = outcome(&quoted, 1 << 16);
            assert!(whole_csv.lines().count() > 1, "{whole_csv}");
            for capacity in [1 << 16, 64, 7, 1] {
                let (split, bytes) = outcome(text, capacity);
                assert_eq!(split, whole_csv, "capacity {capacity}: {text:?}");
                if !split.starts_with("m.csv") {
                    assert_eq!(bytes, text.len() as u64, "{text:?}");
                }
            }
        }
    }

    #[test]
    fn a_row_after_empty_lines_is_named_by_its_own_line() {
        let text = "ts,service,instance,pool_size,checked_out\n2026-10-01T00:00:00Z,b,i,20,3\n\n\n2026-10-01T00:00:15Z,b,i,x,3\n";
        let (result, _, diags, _) = run(text, &ReadOptions::default());
        assert_eq!(result.unwrap().rejected, 1);
        assert_eq!(diags.shown()[0].line, Some(5));
    }

    #[test]
    fn any_column_order_and_extra_columns() {
        let text = "checked_out,note,ts,pool_size,service\n3,x,2026-10-01T00:00:00Z,20,backend\n";
        let (result, samples, diags, series) = run(text, &ReadOptions::default());
        assert_eq!(result.unwrap().accepted, 1);
        assert_eq!(samples[0].checked_out, 3);
        assert_eq!(samples[0].pool_size, 20);
        assert_eq!(series.key(samples[0].series).instance, "default");
        assert_eq!(diags.notices().len(), 1);
        assert!(diags.notices()[0].message.contains("note"));
    }

    #[test]
    fn bad_rows_name_their_line_and_are_counted() {
        let text = "ts,service,instance,pool_size,checked_out\n\
                    2026-10-01T00:00:00Z,b,i,20,3\n\
                    2026-10-01T00:01:00Z,b,i,twenty,3\n\
                    2026-10-01T00:02:00Z,b,i,20\n\
                    2026-10-01T00:03:00,b,i,20,3\n";
        let (result, samples, diags, _) = run(text, &ReadOptions::default());
        let summary = result.unwrap();
        assert_eq!((summary.accepted, summary.rejected), (1, 3));
        assert_eq!(samples.len(), 1);
        let lines: Vec<_> = diags.shown().iter().map(|d| (d.line, d.code)).collect();
        assert_eq!(
            lines,
            vec![
                (Some(3), "bad-number"),
                (Some(4), "field-count"),
                (Some(5), "bad-timestamp")
            ]
        );
        assert_eq!(
            diags.shown()[0].to_string(),
            "m.csv:3: pool_size \"twenty\" is not a non-negative whole number [bad-number]"
        );
    }

    #[test]
    fn missing_required_column_is_a_header_error() {
        let (result, ..) = run("ts,service,checked_out\n1,b,2\n", &ReadOptions::default());
        let err = result.unwrap_err().to_string();
        assert!(
            err.starts_with("m.csv:1: header lacks required column(s) pool_size"),
            "{err}"
        );
    }

    #[test]
    fn service_column_may_come_from_options() {
        let opts = ReadOptions {
            service: Some("backend".into()),
            ..ReadOptions::default()
        };
        let (result, samples, _, series) = run("ts,pool_size,checked_out\n1790000000,20,2\n", &opts);
        assert!(result.is_ok());
        assert_eq!(series.key(samples[0].series).service, "backend");
    }

    #[test]
    fn empty_and_header_only_files_are_errors() {
        for text in [
            "",
            "ts,service,pool_size,checked_out\n",
            "ts,service,pool_size,checked_out\n1,b,0,0\n",
        ] {
            let (result, ..) = run(text, &ReadOptions::default());
            assert!(matches!(result, Err(IngestError::NoSamples { .. })), "{text:?}");
        }
    }

    #[test]
    fn over_capacity_and_optional_columns() {
        let text = "ts,service,pool_size,checked_out,max_overflow,overflow,waiting,timeouts\n\
                    1790000000,b,20,31,10,11,0,0\n\
                    1790000060,b,20,30,10,10,4,2\n\
                    1790000120,b,20.0,2,10,-18,,\n";
        let (result, samples, diags, _) = run(text, &ReadOptions::default());
        assert_eq!(result.unwrap().rejected, 1);
        assert_eq!(diags.shown()[0].code, "over-capacity");
        assert_eq!(samples[0].waiting, Some(4));
        assert_eq!(samples[0].timeouts, Some(2));
        assert_eq!(samples[1].pool_size, 20);
        assert_eq!(samples[1].timeouts, None);
    }

    proptest::proptest! {
        /// Any bytes: a result or an error, never a panic, and every accepted
        /// sample within capacity.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let _ = run(&text, &ReadOptions::default());
            let _ = run(&format!("ts,service,pool_size,checked_out,max_overflow,timeouts\n{text}"), &ReadOptions::default());
        }

        /// Rows of the right shape with hostile fields (NaN, ±Inf, huge,
        /// negative, fractions, empty, text): never a panic; what is accepted
        /// is what the row says.
        #[test]
        fn hostile_fields_never_panic(rows in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(vec![
                "0", "1", "20", "-1", "1.5", "20.0", "NaN", "+Inf", "-Inf", "inf", "1e308", "18446744073709551616",
                "4294967296", "", " ", "x", "\"7\"", "2026-10-01T08:00:00Z", "2026-10-01 08:00:00", "9999999999999",
            ]), 6),
            0..20,
        )) {
            let mut text = String::from("ts,service,pool_size,checked_out,max_overflow,timeouts\n");
            for r in &rows {
                text.push_str(&format!("{},b,{},{},{},{}\n", r[0], r[1], r[2], r[3], r[4]));
            }
            let (_, samples, diags, _) = run(&text, &ReadOptions::default());
            proptest::prop_assert!(samples.len() as u64 + diags.rejected() == rows.len() as u64);
            for s in samples {
                proptest::prop_assert!(s.pool_size >= 1);
                if let Some(mo) = s.max_overflow {
                    proptest::prop_assert!(u64::from(s.checked_out) <= u64::from(s.pool_size) + u64::from(mo));
                }
            }
        }
    }
}
