//! Pool metrics as JSON lines: one snapshot of the backend's `/api/metrics`
//! body per line (the hazard card's monitoring control), e.g.
//! `{"ts": "2026-10-01T08:00:00Z", "service": "backend", "instance": "web-1",
//! "pool_size": 20, "checked_out_connections": 14, "checked_in_connections": 6}`.
//!
//! Keys: the time as `ts`, `timestamp` or `time` (RFC 3339 text or Unix
//! seconds), `pool_size`, `checked_out_connections` (or `checked_out`);
//! optional `service` (else `--service`), `instance` (else `default`),
//! `checked_in_connections`/`checked_in`, `overflow`, `max_overflow`,
//! `waiting`, `timeouts`; other keys are ignored. Each bad line becomes a
//! diagnostic with its line number, as for CSV.

use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};

use super::timestamp::parse_timestamp;
use super::{
    FileSummary, IngestError, ReadContext, RowError, Sample, check_capacity, check_pool_size, clip, clip_json, finish,
    quote, row_error, take_row,
};

/// 9999-12-31T23:59:59Z + 1: numeric times past it are not Unix seconds.
const LAST_UNIX_SECOND: f64 = 253_402_300_800.0;

/// A whole, non-negative number (JSON integers, or floats with no fraction).
fn count(object: &Map<String, Value>, names: &[&str]) -> Result<Option<u64>, RowError> {
    let Some((name, value)) = names.iter().find_map(|n| object.get(*n).map(|v| (*n, v))) else {
        return Ok(None);
    };
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(|| row_error("bad-number", format!("{name} {n} is not a whole number ≥ 0"))),
        other => Err(row_error(
            "bad-number",
            format!("{name} {} is not a number", clip_json(other)),
        )),
    }
}

fn required(object: &Map<String, Value>, names: &[&str]) -> Result<u64, RowError> {
    count(object, names)?.ok_or_else(|| row_error("missing-field", format!("no {}", names.join(" or "))))
}

fn small(value: u64, name: &str) -> Result<u32, RowError> {
    u32::try_from(value).map_err(|_| row_error("bad-number", format!("{name} {value} is out of range")))
}

fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, RowError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim())),
        Some(other) => Err(row_error(
            "bad-field",
            format!("{name} {} is not a non-empty string", clip_json(other)),
        )),
    }
}

fn timestamp(object: &Map<String, Value>) -> Result<i64, RowError> {
    let Some(value) = ["ts", "timestamp", "time"].iter().find_map(|n| object.get(*n)) else {
        return Err(row_error("missing-field", "no ts, timestamp or time".into()));
    };
    match value {
        Value::String(s) => parse_timestamp(s.as_bytes()).map_err(|m| row_error("bad-timestamp", m)),
        Value::Number(n) => n
            .as_f64()
            .filter(|f| (0.0..LAST_UNIX_SECOND).contains(f))
            .map(|f| f.trunc() as i64)
            .ok_or_else(|| row_error("bad-timestamp", format!("{n} is not a Unix time in seconds"))),
        other => Err(row_error(
            "bad-timestamp",
            format!("{} is not a time", clip_json(other)),
        )),
    }
}

/// Streams one JSON-lines file, calling `sink` with every valid sample.
pub fn read(input: impl Read, cx: ReadContext<'_>) -> Result<FileSummary, IngestError> {
    let ReadContext {
        path,
        file,
        opts,
        series,
        diags,
        sink,
    } = cx;
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut summary = FileSummary::default();
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|source| IngestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        summary.bytes += n as u64;
        line += 1;
        if buf.trim_ascii().is_empty() {
            continue;
        }
        summary.rows += 1;
        let parsed = (|| -> Result<Sample, RowError> {
            let body = buf.trim_ascii();
            if body.first() != Some(&b'{') {
                // Else serde_json's error would quote all of a huge string.
                return Err(row_error("bad-json", format!("not a JSON object: {}", quote(body))));
            }
            let object: Map<String, Value> = serde_json::from_slice(body)
                .map_err(|e| row_error("bad-json", format!("not a JSON object: {}", clip(&e.to_string()))))?;
            let ts = timestamp(&object)?;
            let service = match text(&object, "service")? {
                Some(s) => s,
                None => opts
                    .service
                    .as_deref()
                    .ok_or_else(|| row_error("missing-field", "no service (give --service)".into()))?,
            };
            let instance = text(&object, "instance")?.unwrap_or("default");
            let pool_size = small(required(&object, &["pool_size"])?, "pool_size")?;
            check_pool_size(u64::from(pool_size), "pool_size")?;
            let checked_out = small(
                required(&object, &["checked_out_connections", "checked_out"])?,
                "checked_out",
            )?;
            count(&object, &["checked_in_connections", "checked_in"])?;
            let max_overflow = count(&object, &["max_overflow"])?
                .map(|v| small(v, "max_overflow"))
                .transpose()?;
            check_capacity(checked_out, pool_size, max_overflow)?;
            if let Some(v) = object.get("overflow")
                && !(v.is_null() || v.as_i64().is_some())
            {
                return Err(row_error(
                    "bad-number",
                    format!("overflow {} is not a whole number", clip_json(v)),
                ));
            }
            let waiting = count(&object, &["waiting"])?.map(|v| small(v, "waiting")).transpose()?;
            let timeouts = count(&object, &["timeouts"])?;
            Ok(Sample {
                series: series.intern(service.as_bytes(), instance.as_bytes()),
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
    finish(path, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{Diagnostics, ReadOptions, SeriesTable};
    use proptest::prelude::*;
    use std::path::PathBuf;

    fn run(
        text: &[u8],
        service: Option<&str>,
    ) -> (Result<FileSummary, IngestError>, Vec<Sample>, Diagnostics, SeriesTable) {
        let mut series = SeriesTable::default();
        let mut diags = Diagnostics::default();
        let mut out = Vec::new();
        let opts = ReadOptions {
            service: service.map(str::to_string),
            ..ReadOptions::default()
        };
        let result = crate::ingest::read_metrics(
            text,
            ReadContext {
                path: &PathBuf::from("m.jsonl"),
                file: 0,
                opts: &opts,
                series: &mut series,
                diags: &mut diags,
                sink: &mut |_, s| out.push(s),
            },
        );
        (result, out, diags, series)
    }

    #[test]
    fn api_metrics_bodies_with_either_time_form() {
        let text = b"{\"ts\": \"2026-10-01T08:00:00Z\", \"service\": \"backend\", \"instance\": \"web-1\", \"pool_size\": 20, \"checked_out_connections\": 14, \"checked_in_connections\": 6, \"note\": \"ignored\"}\n\n{\"timestamp\": 1790841660, \"pool_size\": 20, \"checked_out\": 15, \"max_overflow\": 10, \"waiting\": 0, \"timeouts\": 3}\n";
        let (result, samples, diags, series) = run(text, Some("worker"));
        let summary = result.unwrap();
        assert_eq!((summary.rows, summary.accepted, summary.rejected), (2, 2, 0));
        assert_eq!(diags.rejected(), 0);
        assert_eq!(samples[0].ts, 1_790_841_600);
        assert_eq!((samples[0].pool_size, samples[0].checked_out), (20, 14));
        assert_eq!(series.key(samples[0].series).instance, "web-1");
        assert_eq!(samples[1].ts, 1_790_841_660);
        assert_eq!(samples[1].line, 3, "blank lines count");
        assert_eq!((samples[1].max_overflow, samples[1].timeouts), (Some(10), Some(3)));
        let key = series.key(samples[1].series);
        assert_eq!((key.service.as_str(), key.instance.as_str()), ("worker", "default"));
    }

    #[test]
    fn hostile_lines_are_rejected_with_their_line_and_code() {
        let good = "{\"ts\": 1790841600, \"service\": \"s\", \"pool_size\": 20, \"checked_out_connections\": 1}";
        let lines = [
            (
                "{\"ts\": 1790841600, \"service\": \"s\", \"pool_size\": 20, \"checked_out_connections\": NaN}",
                "bad-json",
            ),
            ("[1, 2, 3]", "bad-json"),
            (
                "{\"ts\": 1790841600, \"service\": \"s\", \"pool_size\": 20}",
                "missing-field",
            ),
            (
                "{\"service\": \"s\", \"pool_size\": 20, \"checked_out_connections\": 1}",
                "missing-field",
            ),
            (
                "{\"ts\": \"yesterday\", \"service\": \"s\", \"pool_size\": 20, \"checked_out_connections\": 1}",
                "bad-timestamp",
            ),
            (
                "{\"ts\": 1790841600, \"service\": \"s\", \"pool_size\": 20, \"checked_out_connections\": -1}",
                "bad-number",
            ),
            (
                "{\"ts\": 1790841600, \"service\": \"s\", \"pool_size\": 20, \"checked_out_connections\": 1.5}",
                "bad-number",
            ),
            (
                "{\"ts\": 1790841600, \"service\": \"s\", \"pool_size\": \"+Inf\", \"checked_out_connections\": 1}",
                "bad-number",
            ),
            (
                "{\"ts\": 1790841600, \"service\": \"s\", \"pool_size\": 0, \"checked_out_connections\": 0}",
                "bad-number",
            ),
            (
                "{\"ts\": 1790841600, \"service\": \"s\", \"pool_size\": 5, \"max_overflow\": 1, \"checked_out_connections\": 7}",
                "over-capacity",
            ),
            (
                "{\"ts\": 1790841600, \"service\": 7, \"pool_size\": 5, \"checked_out_connections\": 1}",
                "bad-field",
            ),
            (
                "{\"ts\": 1790841600, \"pool_size\": 5, \"checked_out_connections\": 1}",
                "missing-field",
            ),
        ];
        let mut text = format!("{good}\n");
        for (line, _) in &lines {
            text.push_str(line);
            text.push('\n');
        }
        let (result, samples, diags, _) = run(text.as_bytes(), None);
        let summary = result.unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!(summary.rejected, lines.len() as u64);
        let shown: Vec<(u64, &str)> = diags.shown().iter().map(|d| (d.line.unwrap(), d.code)).collect();
        let expected: Vec<(u64, &str)> = lines.iter().enumerate().map(|(i, (_, c))| (i as u64 + 2, *c)).collect();
        assert_eq!(shown, expected);
    }

    #[test]
    fn a_file_without_a_valid_line_is_an_error() {
        let (result, ..) = run(b"{\"nothing\": 1}\n", Some("s"));
        assert!(matches!(
            result,
            Err(IngestError::NoSamples {
                rows: 1,
                rejected: 1,
                ..
            })
        ));
    }

    #[test]
    fn csv_is_still_read_as_csv() {
        let (result, samples, ..) = run(b"ts,service,pool_size,checked_out\n2026-10-01T00:00:00Z,b,20,3\n", None);
        assert_eq!(result.unwrap().accepted, 1);
        assert_eq!(samples[0].checked_out, 3);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_lines(lines in proptest::collection::vec(".{0,120}", 0..20)) {
            let text = format!("{{\n{}", lines.join("\n"));
            let _ = run(text.as_bytes(), Some("s"));
        }

        #[test]
        fn never_panics_on_arbitrary_objects(values in proptest::collection::vec(
            prop_oneof![Just("null".to_string()), Just("-1".to_string()), Just("1e308".to_string()),
                        Just("\"x\"".to_string()), Just("[]".to_string()), any::<i64>().prop_map(|v| v.to_string()),
                        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|v| v.to_string())], 4)) {
            let text = format!(
                "{{\"ts\": {}, \"service\": \"s\", \"pool_size\": {}, \"checked_out_connections\": {}, \"max_overflow\": {}}}\n",
                values[0], values[1], values[2], values[3]
            );
            let _ = run(text.as_bytes(), None);
        }
    }
}
