//! The history store: SQLite always, the machine's PostgreSQL when
//! POOLCAP_TEST_POSTGRES_URL is set (a fresh database per test, dropped after).

use sqlx::Connection;

use crate::util::{Output, SAMPLE_METRICS, october_plan_json, poolcap, root, sample_csv, sample_outcome};

/// A store for one test: a SQLite file in a temp dir, or a new PostgreSQL database.
pub struct TestStore {
    pub location: String,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestStore {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        TestStore {
            location: dir.path().join("poolcap.db").display().to_string(),
            _dir: dir,
            pg: None,
        }
    }

    pub fn postgres(name: &str) -> Option<Self> {
        let base = match std::env::var("POOLCAP_TEST_POSTGRES_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                println!("skipped: POOLCAP_TEST_POSTGRES_URL is not set (see .ci/run)");
                return None;
            }
        };
        let db = format!("poolcap_test_{}_{name}", std::process::id());
        admin(&base, &format!("DROP DATABASE IF EXISTS {db}"));
        admin(&base, &format!("CREATE DATABASE {db}"));
        let (prefix, _) = base.rsplit_once('/').unwrap();
        Some(TestStore {
            location: format!("{prefix}/{db}"),
            _dir: tempfile::tempdir().unwrap(),
            pg: Some((base, db)),
        })
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--store", &self.location]);
        poolcap(&all).run()
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some((base, db)) = &self.pg {
            admin(base, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

fn admin(url: &str, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
}

fn ingest_json(store: &TestStore, files: &[&str], extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["ingest", "--format", "json", "metrics"];
    args.extend(files);
    args.extend(extra);
    let out = store.run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// `plan --format json` of October from the store, whole.
fn stored_plan(store: &TestStore) -> serde_json::Value {
    let out = store.run(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn plan_json(store: &TestStore) -> serde_json::Value {
    let mut plan = stored_plan(store);
    plan.as_object_mut().unwrap().remove("inputs");
    // The store's provenance: what was read, and the order-independent digest
    // of the rows used (docs/verify.md), the same on every read.
    let provenance = plan.as_object_mut().unwrap().remove("provenance").unwrap();
    let record = &provenance["store"];
    assert!(provenance["inputs"].as_array().unwrap().is_empty());
    assert!(record["used"].as_u64().unwrap() >= 268_200, "{record}");
    assert_eq!(record["rows_digest"].as_str().unwrap().len(), 64);
    assert_eq!(record["to"], "2026-11-01T00:00:00Z");
    plan
}

fn store_digest(store: &TestStore) -> String {
    stored_plan(store)["provenance"]["store"]["rows_digest"]
        .as_str()
        .unwrap()
        .to_string()
}

fn idempotent_ingest_and_plan_from_history(store: &TestStore) {
    let first = ingest_json(store, &SAMPLE_METRICS, &[]);
    assert_eq!(first["files"][2]["counts"]["stored"], 268_200);
    let again = ingest_json(store, &SAMPLE_METRICS[2..], &[]);
    assert_eq!(again["files"][0]["counts"]["stored"], 0);
    assert_eq!(again["files"][0]["counts"]["already_present"], 268_200);
    // The plan from the store equals the plan from the files.
    let from_files = october_plan_json(&SAMPLE_METRICS);
    assert_eq!(plan_json(store), from_files);
    assert_eq!(
        store_digest(store),
        store_digest(store),
        "the store's rows digest is stable"
    );
}

fn bad_file_stores_nothing_and_conflicts_are_reported(store: &TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "ts,service,instance,pool_size,checked_out\n2026-10-01T00:00:00Z,backend,x,20,3\n2026-10-01T00:01:00Z,backend,x,20,4\n").unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "ts,service,instance,pool_size,checked_out\n2026-10-01T00:02:00Z,backend,x,20,5\n2026-10-01T00:03:00Z,backend,x,twenty,5\n").unwrap();
    let out = store.run(&["ingest", "metrics", bad.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("bad.csv:3:") && out.stderr.contains("stored nothing"),
        "{}",
        out.stderr
    );
    let lenient = ingest_json(store, &[bad.to_str().unwrap()], &["--lenient"]);
    assert_eq!(lenient["files"][0]["counts"]["stored"], 1);
    assert_eq!(lenient["files"][0]["rejected"], 1);
    // Nothing of the strict run was stored: the lenient run stored its good row for the first time.
    ingest_json(store, &[good.to_str().unwrap()], &[]);
    let conflicting = dir.path().join("conflict.csv");
    std::fs::write(&conflicting, "ts,service,instance,pool_size,checked_out\n2026-10-01T00:00:00Z,backend,x,20,9\n2026-10-01T00:01:00Z,backend,x,20,4\n").unwrap();
    let out = store.run(&["ingest", "metrics", conflicting.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("0 stored, 1 already present, 1 conflicting"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("kept the stored ones"), "{}", out.stderr);
}

fn concurrent_ingests(store: &TestStore) {
    use std::process::{Command, Stdio};
    let spawn = |file: &str| {
        Command::new(env!("CARGO_BIN_EXE_poolcap"))
            .args(["ingest", "metrics", file, "--store", &store.location])
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(SAMPLE_METRICS[0]), spawn(SAMPLE_METRICS[1]));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let again = ingest_json(store, &SAMPLE_METRICS[..2], &[]);
    assert_eq!(again["files"][0]["counts"]["already_present"], 267_795);
    assert_eq!(again["files"][1]["counts"]["already_present"], 259_200);
    // The same new file twice at once: both succeed, its rows are stored once.
    let (a, b) = (spawn(SAMPLE_METRICS[2]), spawn(SAMPLE_METRICS[2]));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    assert!(
        said.contains("268200 stored, 0 already present") && said.contains("0 stored, 268200 already present"),
        "{said}"
    );
}

/// A key repeated inside one file, into a store with nothing at that time,
/// is stored once (the fast insert path that skips the overlap comparison).
fn a_key_repeated_in_a_file_is_stored_once(store: &TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("repeat.csv");
    std::fs::write(&file, "ts,service,instance,pool_size,checked_out\n2025-03-01T00:00:00Z,backend,x,20,3\n2025-03-01T00:01:00Z,backend,x,20,4\n2025-03-01T00:00:00Z,backend,x,20,3\n").unwrap();
    let first = ingest_json(store, &[file.to_str().unwrap()], &[]);
    assert_eq!(first["files"][0]["counts"]["stored"], 2);
    let again = ingest_json(store, &[file.to_str().unwrap()], &[]);
    assert_eq!(again["files"][0]["counts"]["stored"], 0);
}

/// One scenario as two tests: on SQLite, and on PostgreSQL when
/// POOLCAP_TEST_POSTGRES_URL is set (a database named after `$tag`).
macro_rules! on_both_stores {
    ($scenario:ident: $sqlite:ident, $postgres:ident, $tag:literal) => {
        #[test]
        fn $sqlite() {
            $scenario(&TestStore::sqlite());
        }

        #[test]
        fn $postgres() {
            if let Some(store) = TestStore::postgres($tag) {
                $scenario(&store);
            }
        }
    };
}

on_both_stores!(a_key_repeated_in_a_file_is_stored_once: sqlite_a_key_repeated_in_a_file_is_stored_once, postgres_a_key_repeated_in_a_file_is_stored_once, "repeat");
on_both_stores!(idempotent_ingest_and_plan_from_history: sqlite_ingest_is_idempotent_and_plans_from_history, postgres_ingest_is_idempotent_and_plans_from_history, "idem");
on_both_stores!(bad_file_stores_nothing_and_conflicts_are_reported: sqlite_ingest_is_atomic_and_reports_conflicts, postgres_ingest_is_atomic_and_reports_conflicts, "atomic");
on_both_stores!(concurrent_ingests: sqlite_concurrent_ingests, postgres_concurrent_ingests, "concurrent");

#[test]
fn an_empty_store_is_a_clear_error() {
    let store = TestStore::sqlite();
    let out = store.run(&["plan", "--config", "data/poolcap.toml", "--month", "2026-10"]);
    assert_eq!(out.code, 1);
    assert!(
        (out.stderr.contains("has no samples") || out.stderr.contains("no history store"))
            && out.stderr.contains("poolcap ingest metrics"),
        "{}",
        out.stderr
    );
}

fn store_counts(location: &str) -> (i64, i64) {
    poolcap::store::history::Store::open(location)
        .unwrap()
        .counts()
        .unwrap()
}

#[test]
fn slow_log_digests_and_review_decisions_are_stored() {
    let store = TestStore::sqlite();
    let out = store.run(&[
        "ingest",
        "slowlog",
        "data/slowlog/postgresql-2026-10.log.gz",
        "--config",
        "data/poolcap.toml",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The log's statements run from local midnight on 1 October (UTC 30 September 23:00).
    assert!(out.stdout.contains(": 2026-10: digest of "), "{}", out.stdout);
    let again = store.run(&[
        "ingest",
        "slowlog",
        "data/slowlog/postgresql-2026-10.log.gz",
        "--config",
        "data/poolcap.toml",
    ]);
    assert_eq!(again.code, 0);
    assert_eq!(store_counts(&store.location).0, 1, "a re-ingest replaces the digest");
    ingest_json(&store, &SAMPLE_METRICS, &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = store.run(&[
        "review",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--out",
        dir.path().join("r").to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(store_counts(&store.location), (1, 2), "one decision per service");
}

/// Samples of a PostgreSQL store whose stored predecessor (migration 0004)
/// differs from the one a window function finds.
fn broken_links(store: &TestStore) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(&store.location).await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM samples s JOIN (
                 SELECT series, ts, lag(ts) OVER w AS pt, lag(checked_out) OVER w AS pc, lag(pool_size) OVER w AS pp
                 FROM samples WINDOW w AS (PARTITION BY series ORDER BY ts)) l USING (series, ts)
             WHERE (s.prev_ts, s.prev_checked_out, s.prev_pool_size) IS DISTINCT FROM (l.pt, l.pc, l.pp)",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
        n
    })
}

#[test]
fn postgres_links_each_sample_to_its_predecessor_across_interleaved_files() {
    let Some(store) = TestStore::postgres("links") else {
        return;
    };
    // August; October split into two files that interleave in time
    // (alternate rows); then September between them: a file after what is
    // stored, one interleaved with it, one out of order in a hole.
    let dir = tempfile::tempdir().unwrap();
    let text = sample_csv(SAMPLE_METRICS[2]);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let (mut even, mut odd) = (format!("{header}\n"), format!("{header}\n"));
    for (i, line) in lines.enumerate() {
        let half = if i % 2 == 0 { &mut even } else { &mut odd };
        half.push_str(line);
        half.push('\n');
    }
    let even_path = dir.path().join("even.csv");
    let odd_path = dir.path().join("odd.csv");
    std::fs::write(&even_path, even).unwrap();
    std::fs::write(&odd_path, odd).unwrap();
    ingest_json(&store, &[SAMPLE_METRICS[0]], &[]);
    assert_eq!(broken_links(&store), 0, "a new file links within itself");
    ingest_json(&store, &[even_path.to_str().unwrap()], &[]);
    assert_eq!(broken_links(&store), 0, "a later file links to the last stored sample");
    let second = ingest_json(&store, &[odd_path.to_str().unwrap()], &[]);
    assert_eq!(second["files"][0]["counts"]["stored"], 134_100);
    assert_eq!(broken_links(&store), 0, "an interleaved file relinks both");
    // September with its rows in reverse order fills the hole.
    let september = sample_csv(SAMPLE_METRICS[1]);
    let mut rows: Vec<&str> = september.lines().collect();
    rows[1..].reverse();
    let reversed_path = dir.path().join("september-reversed.csv");
    std::fs::write(&reversed_path, rows.join("\n") + "\n").unwrap();
    ingest_json(&store, &[reversed_path.to_str().unwrap()], &[]);
    assert_eq!(
        broken_links(&store),
        0,
        "a file out of order, in a hole, links at both ends"
    );
}

#[test]
fn postgres_aggregates_months_in_sql_like_the_analysis() {
    let Some(store) = TestStore::postgres("aggregate") else {
        return;
    };
    // Files in reverse order: October first, so August and September are
    // linked in front of it (the edges of an ingest are mended).
    let mut reversed = SAMPLE_METRICS.to_vec();
    reversed.reverse();
    for file in reversed {
        ingest_json(&store, &[file], &[]);
    }
    assert_eq!(broken_links(&store), 0);
    // The in-process analysis of the same months, from the files.
    let outcome = sample_outcome(None);
    let rules = poolcap::store::history::Aggregation {
        fallback_max_gap: poolcap::analyze::FALLBACK_MAX_GAP,
        thresholds: poolcap::analyze::REPORTED_THRESHOLDS,
    };
    for (k, service) in ["backend", "worker"].iter().enumerate() {
        // The plan analyses six months (the outlook's); the sample holds three.
        let in_process: Vec<_> = outcome.analysis.services[k]
            .windows
            .iter()
            .filter(|w| w.covered_seconds > 0)
            .cloned()
            .collect();
        assert_eq!(in_process.len(), 3);
        let spans: Vec<(i64, i64)> = in_process.iter().map(|w| (w.window.start, w.window.end)).collect();
        let history_from = spans.iter().map(|s| s.0).min().unwrap() - 86_400;
        let read_to = spans.iter().map(|s| s.1).max().unwrap();
        let sql = poolcap::store::history::Store::open(&store.location)
            .unwrap()
            .service_stats_sql(service, (history_from, read_to), &spans, None, &rules)
            .unwrap()
            .expect("a PostgreSQL store aggregates in SQL");
        for (w, q) in in_process.iter().zip(&sql) {
            let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * a.abs().max(1.0);
            let what = format!("{service} {:?}: {q:?} vs {w:?}", w.window);
            assert!(w.covered_seconds > 0, "{what}");
            assert_eq!(q.covered_seconds, w.covered_seconds, "{what}");
            assert_eq!(q.samples, w.samples, "{what}");
            assert_eq!(q.seconds_above, w.seconds_above, "{what}");
            assert!(close(q.mean_utilization, w.mean_utilization), "{what}");
            assert!(close(q.p50_utilization, w.p50_utilization), "{what}");
            assert!(close(q.p95_utilization, w.p95_utilization), "{what}");
            assert!(close(q.p99_utilization, w.p99_utilization), "{what}");
            assert!(close(q.max_utilization, w.max_utilization), "{what}");
            assert!(close(q.mean_checked_out, w.mean_checked_out), "{what}");
        }
    }
}

/// The quarterly slow-query review from the logs and from their digests
/// stored month by month is the same, byte for byte (issue 18); and `plan`
/// from the store reads the month's stored digests back when no --slowlog
/// is given, with the slow-query finding the log gives.
fn quarterly_review_from_files_and_store(store: &TestStore) {
    let logs = [
        "data/slowlog/postgresql-2026-08.log.gz",
        "data/slowlog/postgresql-2026-09.log.gz",
        "data/slowlog/postgresql-2026-10.log.gz",
    ];
    let review = |extra: &[&str], quarter: &str| -> serde_json::Value {
        let mut args = vec![
            "--config",
            "data/poolcap.toml",
            "--format",
            "json",
            "slowlog",
            "--quarter",
            quarter,
        ];
        args.extend(extra);
        let out = if extra.is_empty() {
            store.run(&args)
        } else {
            poolcap(&args).run()
        };
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    };
    let mut ingest = vec!["--config", "data/poolcap.toml", "ingest", "slowlog"];
    ingest.extend(logs);
    let out = store.run(&ingest);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for quarter in ["2026-Q3", "2026-Q4"] {
        let mut from_files = review(&logs, quarter);
        let mut from_store = review(&[], quarter);
        assert_eq!(from_files["from"], "files");
        assert!(
            from_store["from"].as_str().unwrap().starts_with("the store "),
            "{}",
            from_store["from"]
        );
        from_files["from"] = serde_json::Value::Null;
        from_store["from"] = serde_json::Value::Null;
        assert_eq!(from_files, from_store, "{quarter}");
        assert_eq!(from_files["digest_sha256"].as_str().unwrap().len(), 64);
    }
    let q3 = review(&logs, "2026-Q3");
    let months: Vec<(&str, bool)> = q3["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["month"].as_str().unwrap(), m["statements"].is_null()))
        .collect();
    assert_eq!(months, [("2026-07", true), ("2026-08", false), ("2026-09", false)]);
    assert!(q3["previous"]["months_with_logs"].as_array().unwrap().is_empty());
    // Q3 has no quarter before it with logs: nothing is called new.
    for shape in q3["slow"].as_array().unwrap() {
        assert!(shape["new"].is_null(), "{shape}");
    }
    let q4 = review(&logs, "2026-Q4");
    assert_eq!(
        q4["previous"]["months_with_logs"],
        serde_json::json!(["2026-08", "2026-09"])
    );
    assert_eq!(q4["months"][0]["sources"][0]["source"], logs[2]);
    assert!(q4["months"][1]["statements"].is_null() && q4["months"][2]["statements"].is_null());
    let slow = q4["slow"].as_array().unwrap();
    assert!(!slow.is_empty(), "the sample has statements over 5 s");
    for shape in slow {
        assert!(shape["new"].is_boolean(), "{shape}");
        assert_eq!(shape["new"], shape["previous_over_threshold"] == 0);
        assert_eq!(shape["months"][0]["over_threshold"], shape["over_threshold"]);
    }
    // An empty quarter is an error naming what to do, from files and from the store.
    let out = poolcap(&[
        "--config",
        "data/poolcap.toml",
        "slowlog",
        "--quarter",
        "2027-Q1",
        logs[2],
    ])
    .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("no statement in the logs ended in 2027-Q1"),
        "{}",
        out.stderr
    );
    let out = store.run(&["--config", "data/poolcap.toml", "slowlog", "--quarter", "2027-Q1"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("no slow-log digest is stored for 2027-01 to 2027-03"),
        "{}",
        out.stderr
    );
    // Another threshold than the stored digests' is refused with the fix.
    let out = store.run(&[
        "--config",
        "data/poolcap.toml",
        "slowlog",
        "--quarter",
        "2026-Q4",
        "--threshold",
        "2",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("ingest the log again"), "{}", out.stderr);

    // plan from the store: the stored October digest gives the finding the log gives.
    let mut args = vec!["--config", "data/poolcap.toml", "ingest", "metrics"];
    args.extend(SAMPLE_METRICS);
    assert_eq!(store.run(&args).code, 0);
    let stored = store.run(&[
        "--config",
        "data/poolcap.toml",
        "--format",
        "json",
        "plan",
        "--month",
        "2026-10",
    ]);
    assert_eq!(stored.code, 0, "{}", stored.stderr);
    assert!(
        stored
            .stderr
            .contains("slow queries from the store's digests of 2026-10"),
        "{}",
        stored.stderr
    );
    let stored: serde_json::Value = serde_json::from_str(&stored.stdout).unwrap();
    let mut with_log = SAMPLE_METRICS.to_vec();
    with_log.extend(["--slowlog", logs[2]]);
    let files = october_plan_json(&with_log);
    let finding = |plan: &serde_json::Value| {
        plan["services"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "slow-queries")
            .cloned()
            .expect("a slow-queries finding")
    };
    assert_eq!(finding(&stored), finding(&files));
    let recorded = &stored["provenance"]["store"]["slowlog_digests"];
    assert_eq!(recorded[0]["period"], "2026-10");
    assert_eq!(recorded[0]["source"], logs[2]);
    assert_eq!(recorded[0]["sha256"], q4["months"][0]["sources"][0]["sha256"]);
}

on_both_stores!(quarterly_review_from_files_and_store: sqlite_quarterly_review_from_files_and_store_agree, postgres_quarterly_review_from_files_and_store_agree, "quarter");
