//! The history store: SQLite always, the machine's PostgreSQL when
//! POOLCAP_TEST_POSTGRES_URL is set (a fresh database per test, dropped after).

use sqlx::Connection;

use crate::util::{Output, SAMPLE_METRICS, poolcap, root};

/// A store for one test: a SQLite file in a temp dir, or a new PostgreSQL database.
struct TestStore {
    location: String,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestStore {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        TestStore {
            location: dir.path().join("poolcap.db").display().to_string(),
            _dir: dir,
            pg: None,
        }
    }

    fn postgres(name: &str) -> Option<Self> {
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

    fn run(&self, args: &[&str]) -> Output {
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

fn plan_json(store: &TestStore) -> serde_json::Value {
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
    let mut plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    plan.as_object_mut().unwrap().remove("inputs");
    plan
}

fn idempotent_ingest_and_plan_from_history(store: &TestStore) {
    let first = ingest_json(store, &SAMPLE_METRICS, &[]);
    assert_eq!(first["files"][2]["counts"]["stored"], 268_200);
    let again = ingest_json(store, &SAMPLE_METRICS[2..], &[]);
    assert_eq!(again["files"][0]["counts"]["stored"], 0);
    assert_eq!(again["files"][0]["counts"]["already_present"], 268_200);
    // The plan from the store equals the plan from the files.
    let from_files = {
        let mut args = vec![
            "plan",
            "--config",
            "data/poolcap.toml",
            "--month",
            "2026-10",
            "--format",
            "json",
            "--metrics",
        ];
        args.extend(SAMPLE_METRICS);
        let out = poolcap(&args).run();
        let mut plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        plan.as_object_mut().unwrap().remove("inputs");
        plan
    };
    assert_eq!(plan_json(store), from_files);
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
        out.stderr.contains("has no samples") && out.stderr.contains("poolcap ingest metrics"),
        "{}",
        out.stderr
    );
}

fn store_counts(location: &str) -> (i64, i64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = poolcap::store::history::Store::open(location).await.unwrap();
        let c = store.counts().await.unwrap();
        store.close().await;
        c
    })
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

#[test]
fn postgres_aggregates_the_month_in_sql_like_the_analysis() {
    let Some(store) = TestStore::postgres("aggregate") else {
        return;
    };
    ingest_json(&store, &SAMPLE_METRICS, &[]);
    let plan = plan_json(&store);
    let settings = poolcap::config::load(&root().join("data/poolcap.toml")).unwrap();
    let tz = &settings.policy.timezone;
    let october = poolcap::analyze::window::Month { year: 2026, month: 10 };
    let august = october.previous().previous();
    // The analysis reads from a day before its earliest month.
    let history_from = august.window(tz).start - 86_400;
    let window = october.window(tz);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (k, service) in ["backend", "worker"].iter().enumerate() {
        let sql = rt
            .block_on(async {
                let s = poolcap::store::history::Store::open(&store.location).await.unwrap();
                let r = s
                    .service_stats_sql(service, history_from, window.start, window.end)
                    .await
                    .unwrap();
                s.close().await;
                r
            })
            .expect("a PostgreSQL store aggregates in SQL");
        let stats = &plan["services"][k]["stats"];
        assert_eq!(
            sql.covered_seconds,
            stats["covered_seconds"].as_i64().unwrap(),
            "{service}"
        );
        assert!(
            (sql.mean_utilization - stats["mean_utilization"].as_f64().unwrap()).abs() < 1e-6,
            "{service} {sql:?}"
        );
        assert!(
            (sql.p95_utilization - stats["p95_utilization"].as_f64().unwrap()).abs() < 1e-6,
            "{service} {sql:?}"
        );
        assert!(
            (sql.max_utilization - stats["max_utilization"].as_f64().unwrap()).abs() < 1e-6,
            "{service} {sql:?}"
        );
    }
}
