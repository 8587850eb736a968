use super::*;
use crate::ingest::files::{BOM, SkipBom};

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
