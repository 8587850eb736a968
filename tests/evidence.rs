//! `poolcap evidence` on the sample quarter 2026-Q3 (issue 18): one row per
//! control of the hazard card, each status asserted, every evidence file's
//! digest checked against its bytes, and a rerun with SOURCE_DATE_EPOCH
//! byte-identical; with PostgreSQL, a recorded load test turns its row.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::util::{Output, poolcap, root, sample_tree, server_url};

/// 2026-09-16T12:00:00Z: the day of the sample's saturation incident.
const SEPTEMBER_16: &str = "1789560000";

fn run_in(dir: &Path, args: &[&str]) -> Output {
    let config = dir.join("poolcap.toml");
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend(args);
    poolcap(&all).cwd(dir).env("SOURCE_DATE_EPOCH", SEPTEMBER_16).run()
}

fn sample(kind: &str, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| root().join("data").join(kind).join(n).display().to_string())
        .collect()
}

fn evidence(dir: &Path, out: &str, extra: &[&str]) -> (Output, Value) {
    let metrics = sample("metrics", &["2026-08.csv.gz", "2026-09.csv.gz", "2026-10.csv.gz"]);
    let logs = sample(
        "slowlog",
        &[
            "postgresql-2026-08.log.gz",
            "postgresql-2026-09.log.gz",
            "postgresql-2026-10.log.gz",
        ],
    );
    let mut args = vec!["evidence", "--quarter", "2026-Q3", "--out", out];
    args.extend(extra);
    args.push("--metrics");
    args.extend(metrics.iter().map(String::as_str));
    args.push("--slowlog");
    args.extend(logs.iter().map(String::as_str));
    let out_run = run_in(dir, &args);
    let pack = std::fs::read_to_string(dir.join(out).join("evidence.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (out_run, pack)
}

fn statuses(pack: &Value) -> BTreeMap<String, String> {
    pack["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row<'a>(pack: &'a Value, id: &str) -> &'a Value {
    pack["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

fn details(pack: &Value, id: &str) -> String {
    row(pack, id)["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                found.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    found
}

#[test]
fn the_sample_quarter_has_every_control_with_its_status_and_digested_evidence() {
    let tree = sample_tree();
    let dir = tree.path();
    // The on-call engineer's override during the September incident.
    let out = run_in(
        dir,
        &[
            "override",
            "backend",
            "--bump",
            "--reason",
            "pool exhausted during ward round",
            "--incident",
            "INC-916",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    let (out, pack) = evidence(dir, "evidence-q3", &["--store", "no-store.db"]);
    assert_eq!(out.code, 3, "some controls are not met or missing: {}", out.stderr);
    assert_eq!(pack["period"], "2026-Q3");
    assert_eq!(pack["generated"], "2026-09-16T12:00:00Z");
    let expected: BTreeMap<String, String> = [
        ("pool-configuration", "met"),
        // July has no samples in the sample data.
        ("pool-monitoring", "missing"),
        ("connection-cleanup", "met"),
        ("transaction-timeout", "met"),
        ("circuit-breaker", "missing"),
        ("connection-budget", "met"),
        ("load-test", "missing"),
        ("pool-exhaustion-test", "missing"),
        ("stress-test", "missing"),
        ("connection-cleanup-test", "missing"),
        ("monitoring-training", "missing"),
        ("capacity-guidelines", "missing"),
        // September's escalation is blocked by the connection budget.
        ("capacity-review", "not-met"),
        ("monitoring-alerting", "met"),
        // The saturation incident has its override entry.
        ("incident-response", "met"),
        // July has no slow log.
        ("query-optimisation", "not-met"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(statuses(&pack), expected);
    assert_eq!(
        pack["counts"],
        serde_json::json!({"met": 6, "not_met": 2, "missing": 8})
    );
    assert!(
        details(&pack, "capacity-review").contains("2026-09: backend: 25 + 13 → 40 + 20 recommended"),
        "{}",
        details(&pack, "capacity-review")
    );
    assert!(details(&pack, "capacity-review").contains("blocked by the connection budget"));
    assert!(details(&pack, "incident-response").contains("override on 2026-09-16 for backend"));
    assert!(details(&pack, "incident-response").contains("2026-09: backend: saturation"));
    assert!(details(&pack, "query-optimisation").contains("2026-07: no logs"));
    assert!(details(&pack, "pool-monitoring").contains("2026-07: backend: no samples in the month"));
    assert!(
        row(&pack, "load-test")["summary"]
            .as_str()
            .unwrap()
            .contains("no history store")
    );

    // Every evidence file is in the pack with the digest and size the row names.
    let folder = dir.join("evidence-q3");
    let files = files_under(&folder);
    let mut cited = 0;
    for r in pack["controls"].as_array().unwrap() {
        for e in r["evidence"].as_array().unwrap() {
            let path = e["path"].as_str().unwrap();
            let bytes = files
                .get(path)
                .unwrap_or_else(|| panic!("{path} is cited but not in the pack"));
            assert_eq!(e["sha256"], poolcap::support::digest::sha256_hex(bytes), "{path}");
            assert_eq!(e["bytes"], bytes.len(), "{path}");
            cited += 1;
        }
    }
    assert!(cited >= 20, "{cited}");
    for f in [
        "capacity/2026-09/plan.json",
        "alerting/poolcap-rules.yml",
        "incident-response/override-entries.md",
        "slow-queries/review.md",
        "configuration/deployed.json",
        "evidence.md",
        "index.html",
    ] {
        assert!(files.contains_key(f), "{f}: {:?}", files.keys().collect::<Vec<_>>());
    }
    let md = String::from_utf8(files["evidence.md"].clone()).unwrap();
    let html = String::from_utf8(files["index.html"].clone()).unwrap();
    for r in pack["controls"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        assert!(
            md.contains(&format!("(#{id})")) && html.contains(&format!("id=\"{id}\"")),
            "{id}"
        );
    }
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "self-contained"
    );
    // The deployed settings never carry a target file's secrets.
    let deployed = String::from_utf8(files["configuration/deployed.json"].clone()).unwrap();
    assert!(
        !deployed.contains("Wr4ng-Horse-Battery") && !deployed.contains("Tr0ub4dor"),
        "{deployed}"
    );
    // The month's plan.json is `plan`'s, so `verify` checks it.
    let out = run_in(
        dir,
        &["verify", folder.join("capacity/2026-09/plan.json").to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // The same inputs and SOURCE_DATE_EPOCH: the same bytes in every file.
    let (out, _) = evidence(dir, "evidence-q3-again", &["--store", "no-store.db"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(files_under(&dir.join("evidence-q3-again")), files);
    // And into the same folder again: replaced whole.
    let (out, _) = evidence(dir, "evidence-q3", &["--store", "no-store.db"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
}

#[test]
fn bad_periods_and_folders_are_refused_before_any_work() {
    let tree = sample_tree();
    let dir = tree.path();
    let out = run_in(dir, &["evidence", "--quarter", "2026-Q5"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--quarter: quarter \"2026-Q5\" is not YYYY-Qn"),
        "{}",
        out.stderr
    );
    let out = run_in(dir, &["evidence", "--month", "2026-10", "--quarter", "2026-Q4"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    std::fs::create_dir(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/notes.txt"), "keep").unwrap();
    let (out, _) = evidence(dir, "mine", &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("poolcap never moves or deletes them"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(dir.join("mine/notes.txt")).unwrap(), "keep");
    // No metrics for any month of the period: an error, and no folder.
    let out = run_in(
        dir,
        &[
            "evidence",
            "--month",
            "2025-01",
            "--out",
            "none",
            "--metrics",
            "/nonexistent.csv",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!dir.join("none").exists());
}

#[test]
fn a_recorded_load_test_is_the_evidence_of_its_testing_control() {
    let Some(url) = server_url("POOLCAP_TEST_POSTGRES_URL") else {
        return;
    };
    let tree = sample_tree();
    let dir = tree.path();
    let metrics = sample("metrics", &["2026-08.csv.gz", "2026-09.csv.gz", "2026-10.csv.gz"]);
    let mut args = vec![
        "--store",
        "history.db",
        "loadtest",
        "--database-url",
        &url,
        "--service",
        "backend",
        "--month",
        "2026-08",
        "--scenario",
        "recycle",
        "--metrics",
    ];
    args.extend(metrics.iter().map(String::as_str));
    let out = run_in(dir, &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (out, pack) = evidence(dir, "evidence-q3", &["--store", "history.db"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let cleanup = row(&pack, "connection-cleanup-test");
    // backend's run passed; worker has none, so the row stays missing and says so.
    assert_eq!(cleanup["status"], "missing");
    let text = details(&pack, "connection-cleanup-test");
    assert!(
        text.contains("backend: passed on ") && text.contains("(20 + 10)"),
        "{text}"
    );
    assert!(text.contains("worker: no recycle run recorded in the period"), "{text}");
    let file = cleanup["evidence"][0]["path"].as_str().unwrap();
    assert_eq!(file, "testing/loadtest-backend-2026-08-1.json");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("evidence-q3").join(file)).unwrap()).unwrap();
    assert_eq!(report["scenarios"][0]["scenario"], "recycle");
    // The other testing rows name what is missing for both services.
    assert!(details(&pack, "load-test").contains("backend: no load run recorded in the period"));
}
