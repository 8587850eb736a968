//! `poolcap loadtest` against the real PostgreSQL and MariaDB of this
//! machine, every scenario scaled down (pool 5 + 2, timeouts of 1 s, a few
//! seconds each); its exhaustion numbers against a real SQLAlchemy QueuePool's
//! (`scripts/loadtest-sqlalchemy.py`, fixtures in tests/fixtures/loadtest);
//! a pool too small for its load fails with exit 3; the simulator agrees
//! with what the pool measured. URLs come from POOLCAP_TEST_POSTGRES_URL and
//! POOLCAP_TEST_MYSQL_URL; without them the server tests print a notice and
//! pass (`.ci/run` sets both).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{poolcap, root, server_url as url};

/// The scaled-down scenarios of CI: the fixture's pool and timeouts.
const SCALED: &[&str] = &[
    "--pool-size",
    "5",
    "--max-overflow",
    "2",
    "--pool-timeout",
    "1s",
    "--statement-timeout",
    "1s",
    "--pool-recycle",
    "2s",
    "--users",
    "10",
    "--long-transactions",
    "9",
    "--rate",
    "20",
    "--duration",
    "3s",
    "--hold",
    "50ms",
];

fn loadtest(url: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["loadtest", "--format", "json", "--database-url", url];
    args.extend(extra);
    let out = poolcap(&args).run();
    let report = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    (out.code, report, out.stderr)
}

fn scenario<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scenario"] == name)
        .unwrap_or_else(|| panic!("no {name} scenario in {report:#}"))
}

fn control<'a>(scenario: &'a Value, starts: &str) -> &'a Value {
    scenario["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"].as_str().unwrap().starts_with(starts))
        .unwrap_or_else(|| panic!("no control {starts:?} in {scenario:#}"))
}

fn count(scenario: &Value, phase: &str) -> u64 {
    scenario["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["phase"] == phase)
        .map(|e| e["count"].as_u64().unwrap())
        .sum()
}

/// Every scenario passes, and the exhaustion scenario's numbers are what a
/// real SQLAlchemy QueuePool did with the same scenario on the same server.
fn every_scenario_passes_as_sqlalchemy_does(url: &str, fixture: &str) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("evidence");
    let mut args = SCALED.to_vec();
    args.extend(["--scenario", "all", "--out", dir.to_str().unwrap()]);
    let (code, report, stderr) = loadtest(url, &args);
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    assert_eq!(report["passed"], true);
    for s in report["scenarios"].as_array().unwrap() {
        assert_eq!(s["passed"], true, "{s:#}");
    }
    let sqlalchemy: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/fixtures/loadtest").join(fixture)).unwrap())
            .unwrap();
    let want = &sqlalchemy["results"];
    let exhaustion = scenario(&report, "exhaustion");
    assert_eq!(
        exhaustion["tally"]["served"].as_u64(),
        Some(want["long_served"].as_u64().unwrap() + want["after_served"].as_u64().unwrap())
    );
    assert_eq!(count(exhaustion, "long"), want["long_timed_out"].as_u64().unwrap());
    assert_eq!(count(exhaustion, "during"), want["during_timed_out"].as_u64().unwrap());
    // SQLAlchemy's text, without the link its exceptions append.
    let text = want["timeout_error_text"].as_str().unwrap();
    let text = text.split(" (Background on this error").next().unwrap();
    for e in exhaustion["errors"].as_array().unwrap() {
        assert_eq!(e["text"], text, "{e:#}");
    }
    let statement = &exhaustion["statement_timeout"];
    assert_eq!(statement["code"], want["statement_timeout"]["code"], "{statement:#}");
    assert!(
        statement["message"]
            .as_str()
            .unwrap()
            .contains(want["statement_timeout"]["message"].as_str().unwrap()),
        "{statement:#}"
    );
    assert!(exhaustion["peak_server_sessions"].as_i64().unwrap() <= want["peak_server_connections"].as_i64().unwrap());
    // Load: the simulator, given the same users and holds, agrees.
    let load = scenario(&report, "load");
    assert_eq!(load["simulator"]["agrees"], true, "{:#}", load["simulator"]);
    assert!(load["peak_server_sessions"].as_i64().unwrap() <= 7);
    // Recycle: the sessions as the card asks.
    let recycle = &scenario(&report, "recycle")["recycle"];
    assert_eq!(recycle["first"], recycle["reused"]);
    assert_ne!(recycle["after_recycle"], recycle["first"]);
    assert_ne!(recycle["after_terminate"], recycle["terminated"]);
    assert_eq!(recycle["error_after_terminate"], Value::Null);
    // The evidence: a JSON and a Markdown report in --out.
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let md = files.iter().find(|f| f.ends_with(".md")).unwrap();
    let md = std::fs::read_to_string(dir.join(md)).unwrap();
    assert!(md.starts_with("# Load test: PASSED"), "{md}");
    assert!(md.contains("| the server cancels a statement longer than the statement timeout | passed |"));
}

#[test]
fn postgres_every_scenario_passes_as_sqlalchemy_does() {
    if let Some(url) = url("POOLCAP_TEST_POSTGRES_URL") {
        every_scenario_passes_as_sqlalchemy_does(&url, "sqlalchemy-exhaustion-postgres.json");
    }
}

#[test]
fn mariadb_every_scenario_passes_as_sqlalchemy_does() {
    if let Some(url) = url("POOLCAP_TEST_MYSQL_URL") {
        every_scenario_passes_as_sqlalchemy_does(&url, "sqlalchemy-exhaustion-mariadb.json");
    }
}

#[test]
fn a_pool_too_small_for_the_load_fails_with_exit_3_as_the_simulator_predicts() {
    let Some(url) = url("POOLCAP_TEST_POSTGRES_URL") else {
        return;
    };
    // 30 users on 2 + 1 connections holding 200 ms: each would wait about
    // 1.8 s, past the 1 s pool_timeout.
    let (code, report, stderr) = loadtest(
        &url,
        &[
            "--scenario",
            "load",
            "--pool-size",
            "2",
            "--max-overflow",
            "1",
            "--pool-timeout",
            "1s",
            "--users",
            "30",
            "--hold",
            "200ms",
            "--duration",
            "4s",
        ],
    );
    assert_eq!(code, 3, "{stderr}\n{report:#}");
    assert_eq!(report["passed"], false);
    let load = scenario(&report, "load");
    let exhausted = control(load, "no connection pool exhausted errors");
    assert_eq!(exhausted["status"], "failed", "{exhausted:#}");
    assert!(load["tally"]["timed_out"].as_u64().unwrap() > 0);
    assert!(load["peak_server_sessions"].as_i64().unwrap() <= 3);
    let predicted = &load["simulator"];
    assert!(predicted["timeouts"].as_u64().unwrap() > 0, "{predicted:#}");
    assert_eq!(
        predicted["agrees"], true,
        "{predicted:#}\nmeasured waits {:#}",
        load["wait_ms"]
    );
}

#[test]
fn stress_agrees_with_the_simulator_on_the_same_arrivals() {
    let Some(url) = url("POOLCAP_TEST_POSTGRES_URL") else {
        return;
    };
    // 60 arrivals per second holding 50 ms on 2 + 1 connections: a load of
    // 3 on 3 connections — waits and some timeouts of 0.2 s.
    let (code, report, stderr) = loadtest(
        &url,
        &[
            "--scenario",
            "stress",
            "--pool-size",
            "2",
            "--max-overflow",
            "1",
            "--pool-timeout",
            "200ms",
            "--rate",
            "60",
            "--hold",
            "50ms",
            "--duration",
            "4s",
        ],
    );
    assert_eq!(code, 3, "{stderr}\n{report:#}");
    let stress = scenario(&report, "stress");
    let predicted = &stress["simulator"];
    assert_eq!(
        predicted["checkouts"], stress["tally"]["checkouts"],
        "the same arrivals"
    );
    assert_eq!(
        predicted["agrees"], true,
        "{predicted:#}\nmeasured waits {:#}",
        stress["wait_ms"]
    );
    assert!(stress["drain_seconds"].as_f64().unwrap() < 1.0);
}

#[test]
fn a_url_it_cannot_use_is_refused_before_connecting_and_no_password_is_printed() {
    let cases = [
        ("postgres://app:s3cret-pw@127.0.0.1:5432", "name the database"),
        ("mysql://app:s3cret-pw@127.0.0.1:3306/", "name the database"),
        ("redis://app:s3cret-pw@127.0.0.1/0", "not a postgres:// or mysql:// URL"),
        ("postgres://app:s3cret-pw@127.0.0.1:1/staging", "127.0.0.1"),
    ];
    for (url, says) in cases {
        let out = poolcap(&[
            "loadtest",
            "--database-url",
            url,
            "--pool-size",
            "2",
            "--scenario",
            "recycle",
        ])
        .run();
        assert_eq!(out.code, 1, "{url}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{url}: {}", out.stderr);
        assert!(
            !out.stderr.contains("s3cret-pw") && !out.stdout.contains("s3cret-pw"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn usage_errors_exit_2_before_anything_connects() {
    let url = "postgres://app@127.0.0.1:1/staging";
    let cases: [(&[&str], &str); 5] = [
        (&["--scenario", "load"], "--service NAME"),
        (&["--pool-size", "2", "--duration", "20m"], "--max-duration"),
        (&["--pool-size", "0", "--max-overflow", "0"], "0 + 0"),
        (&["--pool-size", "2", "--hold", "fast"], "--hold"),
        (&["--pool-size", "2", "--pool-timeout", "30"], "no unit"),
    ];
    for (extra, says) in cases {
        let mut args = vec!["loadtest", "--database-url", url];
        args.extend(extra);
        let out = poolcap(&args).run();
        assert_eq!(out.code, 2, "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{extra:?}: {}", out.stderr);
    }
}

#[test]
fn ctrl_c_stops_the_run_and_still_writes_the_partial_report() {
    let Some(url) = url("POOLCAP_TEST_POSTGRES_URL") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_poolcap"))
        .args([
            "loadtest",
            "--database-url",
            &url,
            "--pool-size",
            "3",
            "--scenario",
            "load",
            "--users",
            "5",
            "--duration",
            "60s",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let result = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "it stopped promptly");
    assert_eq!(
        result.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(String::from_utf8_lossy(&result.stderr).contains("Ctrl-C"));
    let json = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("the partial report");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["passed"], false);
    assert!(scenario(&report, "load")["tally"]["served"].as_u64().unwrap() > 0);
}

#[test]
fn a_service_recommendation_is_tested_recorded_in_the_store_and_shown_in_the_review() {
    let Some(url) = url("POOLCAP_TEST_POSTGRES_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("history.db");
    let store = store.to_str().unwrap();
    let metrics = crate::util::SAMPLE_METRICS;
    let mut args = vec![
        "loadtest",
        "--config",
        "data/poolcap.toml",
        "--store",
        store,
        "--format",
        "json",
        "--database-url",
        &url,
        "--service",
        "backend",
        "--month",
        "2026-10",
        "--scenario",
        "recycle",
        "--metrics",
    ];
    args.extend(metrics);
    let out = poolcap(&args).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    // The sample October's recommendation for backend (README: 20 + 10 → 25 + 13).
    assert_eq!(report["tested"]["pool_size"], 25);
    assert_eq!(report["tested"]["max_overflow"], 13);
    assert_eq!(report["tested"]["sizes_from"], "the recommendation for 2026-10");
    assert_eq!(report["month"], "2026-10");
    assert!(out.stderr.contains("shortened to 5 s"), "{}", out.stderr);

    let folder = dir.path().join("review");
    let mut args = vec![
        "review",
        "--config",
        "data/poolcap.toml",
        "--store",
        store,
        "--month",
        "2026-10",
        "--out",
        folder.to_str().unwrap(),
        "--metrics",
    ];
    args.extend(metrics);
    let out = poolcap(&args).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let md = std::fs::read_to_string(folder.join("report.md")).unwrap();
    let section = md
        .split("### Testing controls (load tests)")
        .nth(1)
        .expect("the load tests in the review");
    let row = section
        .lines()
        .find(|l| l.contains("| passed | 25 + 13 | postgresql |"))
        .unwrap_or_else(|| panic!("{section}"));
    assert!(row.contains("recycle passed"), "{row}");
    let html = std::fs::read_to_string(folder.join("report.html")).unwrap();
    assert!(html.contains("<h3>Testing controls (load tests)</h3>"));
}

#[test]
fn a_workload_runs_read_only_and_a_write_in_it_fails_the_run() {
    let Some(url) = url("POOLCAP_TEST_POSTGRES_URL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = |file: &std::path::Path| {
        vec![
            "--scenario".to_string(),
            "load".into(),
            "--pool-size".into(),
            "2".into(),
            "--users".into(),
            "2".into(),
            "--duration".into(),
            "1s".into(),
            "--workload".into(),
            file.display().to_string(),
        ]
    };
    let reads = dir.path().join("reads.sql");
    std::fs::write(&reads, "-- the ward list\nSELECT count(*) FROM pg_class;\nSELECT 1;\n").unwrap();
    let a = args(&reads);
    let (code, report, stderr) = loadtest(&url, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    assert!(
        report["tested"]["workload"]
            .as_str()
            .unwrap()
            .contains("2 read-only statement(s)")
    );

    let writes = dir.path().join("writes.sql");
    std::fs::write(
        &writes,
        "SELECT 1; CREATE TABLE poolcap_loadtest_must_not_exist (i int);",
    )
    .unwrap();
    let a = args(&writes);
    let (code, report, stderr) = loadtest(&url, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 3, "{stderr}\n{report:#}");
    let load = scenario(&report, "load");
    assert_eq!(control(load, "every request completes")["status"], "failed");
    let errors = load["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["text"].as_str().unwrap().contains("read-only transaction") && e["code"] == "25006"),
        "{errors:#?}"
    );
}
