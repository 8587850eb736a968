use super::*;
use crate::config::PoolStatusSettings;
use crate::ingest::Diagnostics;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use std::path::PathBuf;

const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/metrics/sqlalchemy-pool-status.log");

/// The last lines of a real `logger.exception` of a QueuePool timeout
/// (SQLAlchemy 1.4.46, Python 3.11; pool_size 1, max_overflow 0).
const TRACEBACK: &str = "2026-11-27 13:25:14,711 ERROR [app.api] GET /api/ward/3/patients 500
Traceback (most recent call last):
  File \"/usr/lib/python3/dist-packages/sqlalchemy/pool/impl.py\", line 134, in _do_get
    raise exc.TimeoutError(
sqlalchemy.exc.TimeoutError: QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.10 (Background on this error at: https://sqlalche.me/e/14/3o7r)
";

struct Run {
    result: Result<FileSummary, IngestError>,
    samples: Vec<Sample>,
    diags: Diagnostics,
    series: SeriesTable,
}

impl Run {
    fn codes(&self) -> Vec<(u64, &'static str)> {
        self.diags.shown().iter().map(|d| (d.line.unwrap(), d.code)).collect()
    }

    fn key(&self, i: usize) -> (&str, &str) {
        let k = self.series.key(self.samples[i].series);
        (k.service.as_str(), k.instance.as_str())
    }
}

fn options(service: Option<&str>, prefix: Option<&str>, zone: &str) -> ReadOptions {
    let mut pool_status = PoolStatusSettings {
        timezone: TimeZone::get(zone).unwrap(),
        ..PoolStatusSettings::default()
    };
    if let Some(p) = prefix {
        pool_status.prefix = regex::Regex::new(p).unwrap();
    }
    ReadOptions {
        service: service.map(str::to_string),
        pool_status,
        ..ReadOptions::default()
    }
}

fn run_with(path: &str, text: &[u8], opts: &ReadOptions) -> Run {
    let mut series = SeriesTable::default();
    let mut diags = Diagnostics::default();
    let mut samples = Vec::new();
    let result = read(
        text,
        ReadContext {
            path: &PathBuf::from(path),
            file: 0,
            opts,
            series: &mut series,
            diags: &mut diags,
            sink: &mut |_, s| samples.push(s),
        },
    );
    Run {
        result,
        samples,
        diags,
        series,
    }
}

/// Options of the default prefix, built once: compiling the prefix
/// takes milliseconds in a debug build, too slow for every proptest case.
static BACKEND_UTC: std::sync::LazyLock<ReadOptions> =
    std::sync::LazyLock::new(|| options(Some("backend"), None, "UTC"));
static S_LONDON: std::sync::LazyLock<ReadOptions> =
    std::sync::LazyLock::new(|| options(Some("s"), None, "Europe/London"));
static NO_SERVICE: std::sync::LazyLock<ReadOptions> = std::sync::LazyLock::new(|| options(None, None, "UTC"));

fn run(text: &str) -> Run {
    run_with("web-1.log", text.as_bytes(), &BACKEND_UTC)
}

fn utc(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

fn status(prefix: &str, size: &str, idle: &str, overflow: &str, out: &str) -> String {
    format!(
        "{prefix}Pool size: {size}  Connections in pool: {idle} Current Overflow: {overflow} Current Checked out connections: {out}\n"
    )
}

/// The fixture's status lines and the distinct seconds they fall in.
fn fixture_counts() -> (u64, u64) {
    let lines: Vec<&[u8]> = FIXTURE
        .split(|&b| b == b'\n')
        .filter(|l| memchr::memmem::find(l, b"Pool size: ").is_some())
        .collect();
    let mut seconds: Vec<&[u8]> = lines.iter().map(|l| &l[..19]).collect();
    seconds.dedup();
    (lines.len() as u64, seconds.len() as u64)
}

#[test]
fn the_fixtures_first_lines_give_exact_samples() {
    // Written in UTC; Europe/London is on GMT in November, so both agree.
    for zone in ["UTC", "Europe/London"] {
        let r = run_with(
            "tests/fixtures/metrics/sqlalchemy-pool-status.log",
            FIXTURE,
            &options(Some("backend"), None, zone),
        );
        let summary = r.result.as_ref().unwrap();
        // Twice a second: lines 1 and 2 (0 then 2 checked out) are one
        // second, whose busiest line stays; 4 and 6 likewise; 8 and 11
        // tie at 3, and the later stays.
        let first: Vec<_> = r.samples[..3]
            .iter()
            .map(|s| {
                (
                    s.line,
                    s.ts,
                    s.pool_size,
                    s.checked_out,
                    s.max_overflow,
                    s.waiting,
                    s.timeouts,
                )
            })
            .collect();
        assert_eq!(
            first,
            [
                (2, utc("2026-11-27T13:24:36Z"), 5, 2, None, None, Some(0)),
                (6, utc("2026-11-27T13:24:37Z"), 5, 2, None, None, Some(0)),
                (11, utc("2026-11-27T13:24:38Z"), 5, 3, None, None, Some(0)),
            ],
            "{zone}"
        );
        assert_eq!(r.samples[0].ts, 1_795_785_876);
        assert_eq!(r.key(0), ("backend", "sqlalchemy-pool-status"));
        let (status_lines, seconds) = fixture_counts();
        assert_eq!((status_lines, seconds), (72, 36));
        assert_eq!((summary.rows, summary.accepted, summary.rejected), (72, 36, 0));
        assert_eq!(r.diags.notices()[0].code, "same-second");
        assert!(r.diags.notices()[0].message.starts_with("36 status line(s)"));
        assert_eq!(summary.bytes, FIXTURE.len() as u64);
        assert_eq!(r.samples.iter().map(|s| s.checked_out).max(), Some(8));
        assert!(r.samples.windows(2).all(|w| w[0].ts < w[1].ts));
        let last = r.samples.last().unwrap();
        assert_eq!((last.timeouts, last.max_overflow), (Some(9), Some(3)));
        assert!(r.samples.windows(2).all(|w| w[0].timeouts <= w[1].timeouts));
    }
}

#[test]
fn lines_of_one_pool_in_one_second_become_its_busiest() {
    let prefix = r"^(?P<ts>\S+) (?P<instance>\S+) ";
    let text = [
        status("2026-11-27T13:25:10.100Z a ", "5", "0", "-5", "4"),
        status("2026-11-27T13:25:10.100Z b ", "5", "0", "-5", "1"),
        status("2026-11-27T13:25:10.500Z a ", "10", "0", "-5", "5"),
        "2026-11-27T13:25:10.600Z a QueuePool limit of size 5 overflow 1 reached\n".into(),
        status("2026-11-27T13:25:10.900Z a ", "5", "0", "-5", "2"),
        status("2026-11-27T13:25:11.000Z a ", "5", "0", "-5", "3"),
    ]
    .concat();
    let r = run_with("w.log", text.as_bytes(), &options(Some("s"), Some(prefix), "UTC"));
    type Row<'a> = (&'a str, i64, u64, u32, u32, Option<u64>, Option<u32>);
    let got: Vec<Row> = (0..r.samples.len())
        .map(|i| {
            let s = &r.samples[i];
            (
                r.key(i).1,
                s.ts,
                s.line,
                s.pool_size,
                s.checked_out,
                s.timeouts,
                s.max_overflow,
            )
        })
        .collect();
    let t = utc("2026-11-27T13:25:10Z");
    assert_eq!(
        got,
        [
            // 4/5 beats 5/10 and 2/5; the count is the second's last.
            ("a", t, 1, 5, 4, Some(1), Some(1)),
            ("b", t, 2, 5, 1, Some(0), None),
            ("a", t + 1, 6, 5, 3, Some(1), Some(1)),
        ]
    );
    let summary = r.result.unwrap();
    assert_eq!((summary.rows, summary.accepted, summary.rejected), (5, 3, 0));
}

#[test]
fn the_fixture_is_told_apart_by_content() {
    let mut n = 0;
    let result = crate::ingest::read_metrics(
        FIXTURE,
        ReadContext {
            path: Path::new("pool.log"),
            file: 0,
            opts: &options(Some("backend"), None, "UTC"),
            series: &mut SeriesTable::default(),
            diags: &mut Diagnostics::default(),
            sink: &mut |_, _| n += 1,
        },
    );
    assert_eq!(result.unwrap().accepted, 36);
    assert_eq!(n, 36);
}

#[test]
fn other_log_lines_are_not_rows() {
    let text = format!(
        "2026-11-27 12:00:00,001 INFO [app.api] GET /api/ward/1/patients 200 (12 ms)\n\n{}  continuation of a message\n{}",
        status("2026-11-27 12:00:01,000 INFO [m] ", "5", "1", "-3", "1"),
        "2026-11-27 12:00:02,000 INFO [app] pool has size 5\n"
    );
    let r = run(&text);
    let summary = r.result.unwrap();
    assert_eq!((summary.rows, summary.accepted, summary.rejected), (1, 1, 0));
    assert_eq!(r.samples[0].line, 3);

    let r = run("2026-11-27 12:00:00,001 INFO [app.api] GET / 200\nno status here\n");
    assert!(matches!(
        r.result,
        Err(IngestError::NoSamples {
            rows: 0,
            rejected: 0,
            ..
        })
    ));
    assert_eq!(r.diags.notices()[0].code, "no-status-lines");
    assert!(r.diags.notices()[0].message.contains("2 lines"));
}

#[test]
fn a_custom_prefix_names_service_and_instance() {
    let json = r#"^\{"time": "(?P<ts>[^"]+)", "service": "(?P<service>[^"]*)", "pod": "(?P<instance>[^"]+)""#;
    let text = format!(
        "{}{}{}",
        status(
            r#"{"time": "2026-10-01T08:00:00.123+01:00", "service": "backend", "pod": "web-7", "msg": ""#,
            "20",
            "3",
            "-17",
            "0\"}"
        ),
        status(
            r#"{"time": "2026-10-01T08:00:05Z", "service": "", "pod": "worker-1", "msg": ""#,
            "10",
            "0",
            "-6",
            "4\"}"
        ),
        status(r#"{"time": "2026-10-01T08:00:05Z", "msg": ""#, "10", "0", "-6", "4\"}"),
    );
    let r = run_with(
        "app.log",
        text.as_bytes(),
        &options(Some("fallback"), Some(json), "UTC"),
    );
    assert_eq!(r.samples.len(), 2, "{:?}", r.diags.shown());
    assert_eq!(r.samples[0].ts, utc("2026-10-01T07:00:00Z"));
    assert_eq!((r.samples[0].pool_size, r.samples[0].checked_out), (20, 0));
    assert_eq!(r.key(0), ("backend", "web-7"));
    assert_eq!(
        r.key(1),
        ("fallback", "worker-1"),
        "a blank group falls back to --service"
    );
    assert_eq!(r.codes(), [(3, "no-timestamp")]);

    let syslog = r"^<\d+>1 (?P<ts>\S+) (?P<instance>\S+) (?P<service>\S+) \d+ - - ";
    let text = status(
        "<134>1 2026-10-01T08:00:00Z web-2 backend 1234 - - ",
        "20",
        "3",
        "-17",
        "0",
    );
    let r = run_with("syslog", text.as_bytes(), &options(None, Some(syslog), "UTC"));
    assert_eq!(r.key(0), ("backend", "web-2"));
    assert_eq!(r.samples[0].ts, utc("2026-10-01T08:00:00Z"));
}

#[test]
fn a_prefix_of_unix_seconds() {
    let prefix = r"^(?P<ts>\d+(?:\.\d+)?) ";
    let text = status("1790841600.75 ", "5", "0", "-2", "3") + &status("1790841601 ", "5", "0", "-2", "3");
    let r = run_with(
        "w.log",
        text.as_bytes(),
        &options(Some("s"), Some(prefix), "Europe/London"),
    );
    let ts: Vec<i64> = r.samples.iter().map(|s| s.ts).collect();
    assert_eq!(ts, [1_790_841_600, 1_790_841_601]);
}

#[test]
fn offsets_override_the_zone() {
    let zone = "Europe/London";
    let cases = [
        ("2026-07-01 12:00:00,999Z", "2026-07-01T12:00:00Z"),
        ("2026-07-01T12:00:00+02:00", "2026-07-01T10:00:00Z"),
        ("2026-07-01 12:00:00.5-0530", "2026-07-01T17:30:00Z"),
        ("2026-07-01 12:00:00,250+0100", "2026-07-01T11:00:00Z"),
        // No offset: local time in the zone (BST in July).
        ("2026-07-01 12:00:01,250", "2026-07-01T11:00:01Z"),
        ("2026-12-01 12:00:00", "2026-12-01T12:00:00Z"),
    ];
    let text: String = cases
        .iter()
        .map(|(ts, _)| status(&format!("{ts} INFO "), "5", "0", "-5", "0"))
        .collect();
    let r = run_with("w.log", text.as_bytes(), &options(Some("s"), None, zone));
    assert_eq!(r.diags.rejected(), 0, "{:?}", r.diags.shown());
    let got: Vec<i64> = r.samples.iter().map(|s| s.ts).collect();
    let want: Vec<i64> = cases.iter().map(|(_, u)| utc(u)).collect();
    assert_eq!(got, want);
    // RFC 3339 shapes the fast parser does not take go to the general one.
    assert_eq!(
        parse_local_time("2026-07-01T12:00:00.123456789+01:00", &TimeZone::UTC),
        Ok(utc("2026-07-01T11:00:00Z"))
    );
    assert!(parse_local_time("2026-07-01 25:00:00", &TimeZone::UTC).is_err());
    assert!(parse_local_time("2026-02-30 12:00:00", &TimeZone::UTC).is_err());
    assert!(
        parse_local_time("yesterday", &TimeZone::UTC)
            .unwrap_err()
            .contains("expected YYYY-MM-DD")
    );
}

#[test]
fn dst_gap_is_rejected_and_fold_takes_the_earlier_instant() {
    let text = [
        // Spring forward in London: 01:00 GMT → 02:00 BST; 01:30 never happened.
        status("2026-03-29 01:30:00,000 INFO ", "5", "0", "-5", "0"),
        // Fall back: 01:30 happened twice (BST, then GMT); the first is 00:30Z.
        status("2026-10-25 01:30:00,000 INFO ", "5", "0", "-5", "0"),
        status("2026-10-25 01:30:00+00:00 INFO ", "5", "0", "-5", "0"),
    ]
    .concat();
    let r = run_with("w.log", text.as_bytes(), &options(Some("s"), None, "Europe/London"));
    assert_eq!(r.codes(), [(1, "bad-timestamp")]);
    let message = &r.diags.shown()[0].message;
    assert!(message.contains("does not exist in Europe/London"), "{message}");
    assert!(message.contains("2026-03-29 01:30:00"), "{message}");
    let ts: Vec<i64> = r.samples.iter().map(|s| s.ts).collect();
    assert_eq!(ts, [utc("2026-10-25T00:30:00Z"), utc("2026-10-25T01:30:00Z")]);
}

#[test]
fn crlf_and_non_utf8_bytes() {
    let mut text = b"2026-11-27 12:00:00,000 INFO [app] caf\xe9 \xff\xfe\r\n".to_vec();
    text.extend_from_slice(b"2026-11-27 12:00:01,000 INFO [m\xc3] ");
    text.extend_from_slice(status("", "5", "1", "-3", "1").trim_end().as_bytes());
    text.extend_from_slice(b"\r\n");
    // A status line with invalid UTF-8 in its prefix is still read.
    text.extend_from_slice(b"2026-11-27 12:00:02,000 INFO [\xff] ");
    text.extend_from_slice(status("", "5", "0", "-2", "3").trim_end().as_bytes());
    text.extend_from_slice(b"\r\n");
    let r = run_with("w.log", &text, &options(Some("s"), None, "UTC"));
    assert_eq!(r.diags.rejected(), 0, "{:?}", r.diags.shown());
    let got: Vec<(u64, u32)> = r.samples.iter().map(|s| (s.line, s.checked_out)).collect();
    assert_eq!(got, [(2, 1), (3, 3)]);
}

#[test]
fn garbled_and_out_of_range_numbers_are_rejected_with_their_line_and_code() {
    let p = "2026-11-27 12:00:00,000 INFO ";
    let lines = [
        (status(p, "5x", "1", "-3", "1"), "bad-number"),
        (status(p, "0", "0", "0", "0"), "bad-number"),
        (status(p, "-5", "1", "-3", "1"), "bad-number"),
        (status(p, "5", "-1", "-3", "1"), "bad-number"),
        (status(p, "5", "1", "abc", "1"), "bad-number"),
        (status(p, "5", "1", "-3", "1.5"), "bad-number"),
        (status(p, "5", "1", "-3", "-1"), "bad-number"),
        (status(p, "4294967296", "1", "-3", "1"), "bad-number"),
        (status(p, "5", "1", "-3", "99999999999999999999999"), "bad-number"),
        (status(p, "5", "1", "3000000000", "1"), "bad-number"),
        (status(p, "5", "1", "--3", "1"), "bad-number"),
        (status(p, "", "1", "-3", "1"), "bad-number"),
        (
            format!("{p}Pool size: 5  Connectons in pool: 1 Current Overflow: -3 Current Checked out connections: 1\n"),
            "bad-status",
        ),
        (format!("{p}Pool size: 5  Connections in pool: 1\n"), "bad-status"),
        (format!("{p}Current Checked out connections: 1\n"), "bad-status"),
        (status("INFO ", "5", "1", "-3", "1"), "no-timestamp"),
        (
            status("[app] 2026-11-27 12:00:00 ", "5", "1", "-3", "1"),
            "no-timestamp",
        ),
        (status("2026-11-27 12:60:00 ", "5", "1", "-3", "1"), "bad-timestamp"),
        (status("2026-13-27 12:00:00 ", "5", "1", "-3", "1"), "bad-timestamp"),
        // Numbers a u32 holds, beyond poolcap's limits.
        (
            status(p, "4294967295", "4294967295", "-2147483648", "4294967295"),
            "beyond-limit",
        ),
    ];
    let good = [
        // Large but in range; counts that do not add up (status() takes no lock).
        status(p, "1000000", "4294967295", "-2147483648", "1000000"),
        status("2026-11-27 12:00:01,000 INFO ", "5", "0", "3", "1"),
    ];
    let mut text = good.concat();
    for (line, _) in &lines {
        text.push_str(line);
    }
    let r = run(&text);
    let summary = r.result.as_ref().unwrap();
    assert_eq!((summary.rows, summary.accepted), (lines.len() as u64 + 2, 2));
    let got: Vec<(u32, u32)> = r.samples.iter().map(|s| (s.pool_size, s.checked_out)).collect();
    assert_eq!(got, [(1_000_000, 1_000_000), (5, 1)]);
    let want: Vec<(u64, &str)> = lines.iter().enumerate().map(|(i, (_, c))| (i as u64 + 3, *c)).collect();
    assert_eq!(r.codes(), want);
    let zero = &r.diags.shown()[1];
    assert!(zero.message.contains("Pool size is 0"), "{zero}");
    assert_eq!(zero.to_string(), format!("web-1.log:4: {} [bad-number]", zero.message));
}

#[test]
fn service_is_required_and_instance_comes_from_the_file_name() {
    let text = status("2026-11-27 12:00:00,000 INFO ", "5", "1", "-3", "1");
    let r = run_with("logs/web-1.log.1", text.as_bytes(), &options(None, None, "UTC"));
    assert_eq!(r.codes(), [(1, "missing-field")]);
    let message = &r.diags.shown()[0].message;
    assert!(
        message.contains("--service") && message.contains("(?P<service>"),
        "{message}"
    );

    for (path, instance) in [
        ("logs/web-1.log.1", "web-1"),
        ("web-1.log", "web-1"),
        ("pod-a", "pod-a"),
        (".log", "default"),
    ] {
        let r = run_with(path, text.as_bytes(), &options(Some("backend"), None, "UTC"));
        assert_eq!(r.key(0), ("backend", instance), "{path}");
    }
}

#[test]
fn timeouts_are_counted_per_series_with_max_overflow() {
    let p = |t: &str| format!("2026-11-27 13:25:{t},000 INFO [m] ");
    let text = [
        // Before any status line: credited to the first one.
        "2026-11-27 13:25:09,000 WARNING [app.api] GET / 503: sqlalchemy.exc.TimeoutError: QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.10\n".to_string(),
        status(&p("10"), "1", "0", "0", "1"),
        status(&p("11"), "1", "0", "0", "1"),
        TRACEBACK.to_string(),
        // SQLAlchemy's source quoted in a traceback is not a timeout.
        "    \"QueuePool limit of size %d overflow %d reached, \"\n".to_string(),
        status(&p("15"), "1", "0", "0", "1"),
        "2026-11-27 13:25:16,000 WARNING [app.api] sqlalchemy.exc.TimeoutError: QueuePool limit of size 1 overflow 2 reached, connection timed out, timeout 30.00\r\n".to_string(),
        status(&p("17"), "1", "0", "0", "1"),
    ]
    .concat();
    let r = run(&text);
    assert_eq!(r.diags.rejected(), 0);
    let got: Vec<(Option<u64>, Option<u32>)> = r.samples.iter().map(|s| (s.timeouts, s.max_overflow)).collect();
    assert_eq!(
        got,
        [
            (Some(1), Some(0)),
            (Some(1), Some(0)),
            (Some(2), Some(0)),
            (Some(3), Some(2))
        ]
    );
    assert_eq!(r.result.unwrap().rows, 4, "timeout lines are not rows");

    // Without any timeout line, every sample says 0 so far.
    let r = run(&status(&p("10"), "5", "0", "-5", "0"));
    assert_eq!((r.samples[0].timeouts, r.samples[0].max_overflow), (Some(0), None));
}

#[test]
fn timeouts_go_to_the_pool_their_prefix_names() {
    let prefix = r"^(?P<ts>\S+) (?P<service>\w+)/(?P<instance>[\w-]+) ";
    let text = [
        status("2026-11-27T13:25:10Z backend/web-1 ", "5", "0", "-5", "0"),
        status("2026-11-27T13:25:10Z worker/w-1 ", "2", "0", "-2", "0"),
        "2026-11-27T13:25:11Z backend/web-1 QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00\n".into(),
        "2026-11-27T13:25:12Z backend/web-1 QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00\n".into(),
        // A traceback's last line goes to the latest status line's pool.
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 2 overflow 1 reached, connection timed out, timeout 30.00\n".into(),
        status("2026-11-27T13:25:20Z backend/web-1 ", "5", "0", "-5", "0"),
        status("2026-11-27T13:25:20Z worker/w-1 ", "2", "0", "-2", "0"),
    ]
    .concat();
    let r = run_with("mixed.log", text.as_bytes(), &options(None, Some(prefix), "UTC"));
    assert_eq!(r.diags.rejected(), 0, "{:?}", r.diags.shown());
    let got: Vec<(&str, Option<u64>, Option<u32>)> = (0..4)
        .map(|i| (r.key(i).0, r.samples[i].timeouts, r.samples[i].max_overflow))
        .collect();
    assert_eq!(
        got,
        [
            ("backend", Some(0), None),
            ("worker", Some(0), None),
            ("backend", Some(2), Some(10)),
            ("worker", Some(1), Some(1)),
        ]
    );
}

#[test]
fn an_overlong_line_is_cut_not_held() {
    let mut text = vec![b'x'; 3 * MAX_LINE];
    text.push(b'\n');
    text.extend_from_slice(status("2026-11-27 12:00:00 ", "5", "1", "-3", "1").as_bytes());
    let r = run_with("w.log", &text, &options(Some("s"), None, "UTC"));
    assert_eq!(r.samples[0].line, 2);
    assert_eq!(r.result.unwrap().bytes, text.len() as u64);
}

fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        (0u32..100).prop_map(|v| v.to_string()),
        "[-+0-9a-z.]{0,25}",
        Just("99999999999999999999999".to_string()),
    ]
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = run_with("w.log", &bytes, &S_LONDON);
        let mut with_marker = bytes.clone();
        with_marker.extend_from_slice(b"Pool size: ");
        with_marker.extend_from_slice(&bytes);
        let _ = run_with("w.log", &with_marker, &NO_SERVICE);
    }

    #[test]
    fn never_panics_on_status_lines_with_arbitrary_numbers_and_prefixes(
        prefix in ".{0,40}",
        numbers in proptest::collection::vec(number_text(), 4),
        timeout in "[0-9a-z %-]{0,12}",
    ) {
        let text = status(&prefix, &numbers[0], &numbers[1], &numbers[2], &numbers[3])
            + &format!("{prefix}QueuePool limit of size {timeout} reached\n");
        let r = run_with("w.log", text.as_bytes(), &S_LONDON);
        let summary = r.result.as_ref().map(|s| *s).unwrap_or_default();
        prop_assert_eq!(summary.accepted + r.diags.rejected(), 1);
    }

    #[test]
    fn valid_lines_give_their_numbers(
        size in 1u32..=crate::model::limits::MAX_CONNECTIONS, idle in 0u32.., overflow in any::<i32>(),
        out in 0u32..=crate::model::limits::MAX_CONNECTIONS,
        ts in crate::ingest::EARLIEST_TS..1_760_000_000,
    ) {
        let prefix = jiff::Timestamp::from_second(ts).unwrap().strftime("%Y-%m-%d %H:%M:%S,123 INFO [m] ").to_string();
        let text = status(&prefix, &size.to_string(), &idle.to_string(), &overflow.to_string(), &out.to_string());
        let r = run(&text);
        prop_assert_eq!(r.diags.rejected(), 0);
        prop_assert_eq!((r.samples[0].ts, r.samples[0].pool_size, r.samples[0].checked_out), (ts, size, out));
    }
}
