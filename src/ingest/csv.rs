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
fn field<'r>(record: &'r csv::ByteRecord, index: usize, name: &str) -> Result<&'r [u8], RowError> {
    let f = record.get(index).map(<[u8]>::trim_ascii).unwrap_or_default();
    if f.is_empty() {
        return Err(row_error("missing-value", format!("{name} is empty")));
    }
    Ok(f)
}

fn count_field(record: &csv::ByteRecord, index: usize, name: &str) -> Result<u64, RowError> {
    let f = field(record, index, name)?;
    parse_count(f).map_err(|()| {
        row_error(
            "bad-number",
            format!("{name} {} is not a non-negative whole number", quote(f)),
        )
    })
}

fn optional_count(record: &csv::ByteRecord, index: Option<usize>, name: &str) -> Result<Option<u64>, RowError> {
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

/// Streams one CSV file, calling `sink` with every valid sample (and the series
/// table, which may have grown by the sample's series).
pub fn read(input: impl Read, cx: ReadContext<'_>) -> Result<FileSummary, IngestError> {
    let ReadContext {
        path,
        file,
        opts,
        series,
        diags,
        sink,
    } = cx;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        // Records end at '\n' (a CRLF's '\r' is trimmed with the field): with
        // the default CRLF terminator the csv crate counts each record of a
        // CRLF file one line short.
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(1 << 20)
        .from_reader(input);
    let io_error = |err: csv::Error, path: &Path| -> IngestError {
        let line = err.position().map_or(0, csv::Position::line);
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
    };
    // Borrowed, not cloned: a header line may be huge.
    let header = reader.byte_headers().map_err(|e| io_error(e, path))?;
    let header_len = header.len();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(IngestError::NoSamples {
            path: path.to_path_buf(),
            rows: 0,
            rejected: 0,
        });
    }
    let cols = map_header(path, header, opts, diags)?;
    let default_service = opts.service.as_deref().unwrap_or("").as_bytes();
    let mut summary = FileSummary::default();
    let mut record = csv::ByteRecord::new();
    // The last row's series id: the next row is usually the same series, or the
    // next one of an exporter that writes every instance in turn.
    let mut last_id: Option<u32> = None;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => return Err(io_error(err, path)),
        }
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() == 1 && record[0].trim_ascii().is_empty() {
            continue; // blank line
        }
        summary.rows += 1;
        let parsed = (|| -> Result<Sample, RowError> {
            if record.len() != header_len {
                return Err(row_error(
                    "field-count",
                    format!("row has {} fields, the header has {header_len}", record.len()),
                ));
            }
            let ts_field = field(&record, cols.ts, "ts")?;
            let ts = parse_timestamp(ts_field).map_err(|m| row_error("bad-timestamp", m))?;
            let service = match cols.service {
                Some(i) => field(&record, i, "service")?,
                None => default_service,
            };
            let instance = match cols.instance {
                Some(i) => field(&record, i, "instance")?,
                None => b"default".as_slice(),
            };
            let pool_size = small(count_field(&record, cols.pool_size, "pool_size")?, "pool_size")?;
            check_pool_size(u64::from(pool_size), "pool_size")?;
            let checked_out = small(count_field(&record, cols.checked_out, "checked_out")?, "checked_out")?;
            let max_overflow = optional_count(&record, cols.max_overflow, "max_overflow")?
                .map(|v| small(v, "max_overflow"))
                .transpose()?;
            check_capacity(checked_out, pool_size, max_overflow)?;
            optional_count(&record, cols.checked_in, "checked_in")?;
            if let Some(i) = cols.overflow
                && record.get(i).is_some_and(|f| !f.trim_ascii().is_empty())
            {
                parse_signed(&record[i]).map_err(|()| {
                    row_error(
                        "bad-number",
                        format!("overflow {} is not a whole number", quote(&record[i])),
                    )
                })?;
            }
            let waiting = optional_count(&record, cols.waiting, "waiting")?
                .map(|v| small(v, "waiting"))
                .transpose()?;
            let timeouts = optional_count(&record, cols.timeouts, "timeouts")?;
            let id = lookup_series(series, &mut last_id, service, instance);
            Ok(Sample {
                series: id,
                ts,
                pool_size,
                checked_out,
                max_overflow,
                waiting,
                timeouts,
                line,
                file,
            })
        })();
        take_row(parsed, path, line, &mut summary, diags, series, sink)?;
    }
    summary.bytes = reader.position().byte();
    finish(path, summary)
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
