//! `poolcap slowlog` on logs from real servers (tests/fixtures/slowlog, made by
//! scripts/slowlog-fixtures) and on hostile inputs.

use serde::Deserialize;

use crate::util::poolcap;

/// What machines may rely on; deserializing pins it.
#[derive(Deserialize)]
#[allow(dead_code)]
pub struct Report {
    pub statements: u64,
    pub total_ms: f64,
    pub hold_ms: f64,
    pub over_threshold: u64,
    pub span: Option<Span>,
    pub mean_concurrency: f64,
    pub fingerprints: Vec<Fingerprint>,
    pub slow_review: Vec<Fingerprint>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct Span {
    pub first: String,
    pub last: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct Fingerprint {
    pub fingerprint: String,
    pub count: u64,
    pub total_ms: f64,
    pub mean_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub sample: Option<serde_json::Value>,
}

pub fn report(args: &[&str]) -> (Report, String) {
    let mut all = vec!["slowlog", "--format", "json", "--top", "1000"];
    all.extend(args);
    let out = poolcap(&all).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    (
        serde_json::from_str(&out.stdout).expect("slowlog JSON keeps its schema"),
        out.stdout,
    )
}

const PG: [&str; 3] = [
    "tests/fixtures/slowlog/postgres-stderr.log",
    "tests/fixtures/slowlog/postgres-csvlog.csv",
    "tests/fixtures/slowlog/postgres-jsonlog.json",
];

#[test]
fn the_three_postgres_formats_agree() {
    let reports: Vec<Report> = PG.iter().map(|f| report(&[f]).0).collect();
    for r in &reports[1..] {
        assert_eq!(r.statements, reports[0].statements);
        assert!((r.total_ms - reports[0].total_ms).abs() < 0.01);
        assert_eq!(r.over_threshold, reports[0].over_threshold);
        assert_eq!(r.fingerprints.len(), reports[0].fingerprints.len());
    }
    // Sleeps over 5 s were driven on purpose; they are in the slow review.
    assert!(reports[0].over_threshold >= 2);
    assert!(reports[0].slow_review.iter().all(|f| f.max_ms > 5000.0));
}

#[test]
fn raw_text_only_with_show_samples() {
    let (plain, text) = report(&[PG[0]]);
    assert!(plain.fingerprints.iter().all(|f| f.sample.is_none()));
    // Bind parameters are patient data in a real log: never shown by default.
    assert!(!text.contains("parameters"), "parameters leaked");
    let (sampled, text) = report(&[PG[0], "--show-samples"]);
    assert!(sampled.fingerprints.iter().any(|f| f.sample.is_some()));
    assert!(text.contains("\"parameters\""));
}

#[test]
fn a_log_without_statements_is_an_error_naming_file_and_format() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("quiet.log");
    std::fs::write(
        &log,
        "2026-11-27 08:00:00.000 UTC [1] LOG:  checkpoint starting: time\n",
    )
    .unwrap();
    let out = poolcap(&["slowlog", log.to_str().unwrap()]).run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("quiet.log"), "{}", out.stderr);
    // No duration: line, so no prefix can be detected: the message says what to pass.
    assert!(out.stderr.contains("--log-line-prefix"), "{}", out.stderr);
    let out = poolcap(&["slowlog", "--log-line-prefix", "%m [%p] ", log.to_str().unwrap()]).run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("no statements parsed as stderr"), "{}", out.stderr);
}

#[test]
fn unrecognized_lines_are_counted_and_located_with_v_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mixed.log");
    std::fs::write(
        &log,
        "2026-11-27 08:00:00.000 UTC [1] a@b LOG:  duration: 1.000 ms  statement: select 1\n\
         ALTER ROLE app PASSWORD 'hunter8'\n\
         2026-11-27 08:00:01.000 UTC [1] a@b LOG:  duration: 2.000 ms  statement: select 2\n",
    )
    .unwrap();
    let out = poolcap(&["slowlog", log.to_str().unwrap(), "-v"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("1 unrecognized line(s) skipped"), "{}", out.stderr);
    // Query text may hold secrets or patient data: where, and how long, only.
    assert!(
        out.stderr.contains("mixed.log:2: unrecognized line (33 bytes)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter8"), "{}", out.stderr);
}

/// A log of one `duration:` line per `durations` item (PostgreSQL stderr), or
/// of MySQL entries with those `Query_time`s.
fn log_with(dir: &std::path::Path, name: &str, mysql: bool, durations: &[&str]) -> std::path::PathBuf {
    let mut text = String::new();
    for (i, d) in durations.iter().enumerate() {
        if mysql {
            text.push_str(&format!(
                "# Time: 2026-11-27T08:00:0{i}Z\n# User@Host: app[app] @ localhost []\n# Query_time: {d}  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 1\nSET timestamp=179576640{i};\nSELECT {i};\n"
            ));
        } else {
            text.push_str(&format!(
                "2026-11-27 08:00:0{i}.000 UTC [1] a@b LOG:  duration: {d} ms  statement: select {i}\n"
            ));
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn absurd_durations_are_bad_records_never_another_number() {
    let dir = tempfile::tempdir().unwrap();
    for (mysql, durations, good_ms) in [
        (false, ["1e308", "315360000000.000", "2.000", "inf"], 2.0),
        (true, ["1e308", "315360000.000000", "0.002000", "-1"], 2.0),
    ] {
        let log = log_with(dir.path(), if mysql { "slow.log" } else { "pg.log" }, mysql, &durations);
        let out = poolcap(&["slowlog", "--format", "json", log.to_str().unwrap()]).run();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let r: Report = serde_json::from_str(&out.stdout).unwrap();
        // Only the readable one is counted, as what it says.
        assert_eq!((r.statements, r.total_ms), (1, good_ms), "{}", out.stdout);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(json["files"][0]["rejected"], 3, "{}", out.stdout);
        let name = log.file_name().unwrap().to_str().unwrap();
        assert!(out.stderr.contains("3 bad record(s) skipped"), "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("{name}:1: duration \"1e308\"")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("is longer than 30 days"), "{}", out.stderr);
        assert!(out.stderr.contains("[bad-duration]"), "{}", out.stderr);
    }
}

#[test]
fn a_statement_of_ten_years_is_refused_and_one_of_thirty_days_is_digested() {
    // Before: 315360000000 ms took 1.25 GB (one f32 per second of it).
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(dir.path(), "long.log", false, &["315360000000.000", "0.500"]);
    let out = poolcap(&["slowlog", "--format", "json", log.to_str().unwrap()]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r: Report = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r.statements, 1);
    // Alone, it leaves a file without statements: an error that names it.
    let log = log_with(dir.path(), "alone.log", false, &["315360000000.000"]);
    let out = poolcap(&["slowlog", log.to_str().unwrap()]).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("1 bad record(s), the first at line 1: duration \"315360000000.000\" ms is longer than 30 days"),
        "{}",
        out.stderr
    );
    // The longest duration read: 30 days, digested without a per-second cost.
    let log = log_with(dir.path(), "month.log", false, &["2592000000.000"]);
    let (r, _) = report(&[log.to_str().unwrap()]);
    assert_eq!((r.statements, r.total_ms), (1, 2_592_000_000.0));
    assert!((r.mean_concurrency - 1.0).abs() < 1e-9);
}

#[test]
fn gzip_since_until_and_csv() {
    let (all, _) = report(&["data/slowlog/postgresql-2026-10.log.gz"]);
    let (week, _) = report(&[
        "data/slowlog/postgresql-2026-10.log.gz",
        "--since",
        "2026-10-01",
        "--until",
        "2026-10-08",
    ]);
    assert!(
        week.statements > 0 && week.statements < all.statements / 3,
        "{} of {}",
        week.statements,
        all.statements
    );
    let out = poolcap(&[
        "slowlog",
        "--format",
        "csv",
        "--top",
        "3",
        "data/slowlog/postgresql-2026-10.log.gz",
    ])
    .run();
    assert_eq!(out.code, 0);
    let mut lines = out.stdout.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("fingerprint,count,total_ms,mean_ms,p50_ms,p95_ms")
    );
    assert_eq!(lines.count(), 3);
    let out = poolcap(&["plan", "--format", "csv", "--month", "2026-10", "--metrics", "x"]).run();
    assert_eq!(out.code, 2, "csv is for slowlog only");
}

/// Cross-check against the committed reference numbers (tests/fixtures/slowlog/
/// expected.json, made by scripts/slowlog-fixtures/reference.sh from pgBadger,
/// pt-query-digest and an independent count). Always checked; the tools
/// themselves are not needed here.
#[test]
fn numbers_equal_the_reference_counts() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::util::root().join("tests/fixtures/slowlog/expected.json")).unwrap(),
    )
    .unwrap();
    for (file, e) in expected["fixtures"].as_object().unwrap() {
        let (r, _) = report(&[&format!("tests/fixtures/slowlog/{file}")]);
        let count = &e["count_py"];
        // Our definitions are the independent count's: they must agree exactly.
        assert_eq!(
            r.statements,
            count["statements"].as_u64().unwrap(),
            "{file}: statements"
        );
        assert!(
            (r.total_ms - count["total_ms"].as_f64().unwrap()).abs() < 0.0015,
            "{file}: total_ms {}",
            r.total_ms
        );
        assert_eq!(r.over_threshold, count["over_5s"].as_u64().unwrap(), "{file}: over 5 s");
        // Where the reference tool says otherwise, the difference must be one
        // that tests/fixtures/slowlog/README.md explains (listed in `differs`).
        let tool = &e["tool"];
        let differs: Vec<&str> = e["differs"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        if tool["statements"].as_u64() != Some(r.statements) {
            assert!(
                differs.contains(&"statements"),
                "{file}: {} disagrees on statements without an explanation",
                tool["name"]
            );
        }
        if (tool["total_ms"].as_f64().unwrap_or(0.0) - r.total_ms).abs() >= 0.0015 {
            assert!(
                differs.contains(&"total_ms"),
                "{file}: {} disagrees on total_ms without an explanation",
                tool["name"]
            );
        }
        assert_eq!(
            tool["over_5s"].as_u64(),
            Some(r.over_threshold),
            "{file}: every tool agrees on the slow ones"
        );
    }
}

#[test]
fn a_log_starting_with_a_bom_is_read_as_without_it() {
    let dir = tempfile::tempdir().unwrap();
    for fixture in [PG[0], PG[1], PG[2], "tests/fixtures/slowlog/mariadb-slow.log"] {
        let text = std::fs::read(crate::util::root().join(fixture)).unwrap();
        let name = std::path::Path::new(fixture).file_name().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, [&b"\xef\xbb\xbf"[..], &text].concat()).unwrap();
        let (plain, plain_json) = report(&[fixture]);
        let (bom, bom_json) = report(&[path.to_str().unwrap()]);
        assert_eq!(bom.statements, plain.statements, "{fixture}");
        assert_eq!(bom.total_ms, plain.total_ms, "{fixture}");
        // Everything but the path is the same (before, the BOM made the
        // first line of the stderr log unrecognized).
        let strip = |json: &str| {
            let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
            v["files"][0]["path"] = serde_json::Value::Null;
            v
        };
        assert_eq!(strip(&bom_json), strip(&plain_json), "{fixture}");
    }
    // A statement on the first line is read (it was unrecognized).
    let path = dir.path().join("first.log");
    std::fs::write(
        &path,
        "\u{feff}2026-11-27 08:00:00.000 UTC [1] a@b LOG:  duration: 1.000 ms  statement: select 1\n\
         2026-11-27 08:00:01.000 UTC [1] a@b LOG:  duration: 2.000 ms  statement: select 2\n",
    )
    .unwrap();
    let (r, json) = report(&[path.to_str().unwrap()]);
    assert_eq!(r.statements, 2, "{json}");
}
