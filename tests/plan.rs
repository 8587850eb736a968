//! `poolcap plan` on the sample deployment: golden JSON and the schema CI relies on.

use serde::Deserialize;

use crate::util::{SAMPLE_METRICS, october_plan_json, poolcap, root, sample_plan};

/// The fields the issue promises to machines; deserializing pins them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Pool {
    pool_size: u32,
    max_overflow: u32,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Stats {
    mean_utilization: f64,
    p95_utilization: f64,
    max_utilization: f64,
    coverage: f64,
    saturated_seconds: i64,
    timeouts: u64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Finding {
    code: String,
    message: String,
    evidence: serde_json::Value,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Alert {
    rule: String,
    instance: String,
    start: String,
    fired_at: String,
    end: String,
    peak_utilization: f64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Service {
    service: String,
    current: Pool,
    recommended: Pool,
    stats: Stats,
    findings: Vec<Finding>,
    alerts: Vec<Alert>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Budget {
    limit: u32,
    required: u32,
    ok: bool,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlanJson {
    month: String,
    timezone: String,
    services: Vec<Service>,
    budget: Budget,
}

fn plan_json(month: &str) -> (String, PlanJson) {
    let out = sample_plan(month, &["--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let parsed: PlanJson = serde_json::from_str(&out.stdout).expect("plan JSON keeps its schema");
    (out.stdout, parsed)
}

#[test]
fn october_escalates_the_backend() {
    let (text, plan) = plan_json("2026-10");
    assert_eq!(plan.timezone, "Europe/London");
    let backend = &plan.services[0];
    assert_eq!(
        (backend.recommended.pool_size, backend.recommended.max_overflow),
        (25, 13)
    );
    assert!(backend.stats.mean_utilization > 0.60);
    assert!(backend.findings.iter().any(|f| f.code == "monthly-escalation"));
    assert!(plan.services[1].findings.iter().any(|f| f.code == "overprovisioned"));
    assert!(plan.budget.ok);
    insta::assert_snapshot!("plan-2026-10.json", text);
}

#[test]
fn august_changes_nothing() {
    let (text, plan) = plan_json("2026-08");
    for s in &plan.services {
        assert_eq!(
            (s.current.pool_size, s.current.max_overflow),
            (s.recommended.pool_size, s.recommended.max_overflow)
        );
        assert!(s.alerts.is_empty());
    }
    insta::assert_snapshot!("plan-2026-08.json", text);
}

#[test]
fn september_incident_is_saturation_and_blocked_by_budget() {
    let (_, plan) = plan_json("2026-09");
    let backend = &plan.services[0];
    assert!(backend.stats.saturated_seconds > 0 && backend.stats.timeouts > 0);
    let codes: Vec<&str> = backend.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(
        codes.contains(&"saturation") && codes.contains(&"sustained-high") && codes.contains(&"budget-exceeded"),
        "{codes:?}"
    );
    assert!(!plan.budget.ok);
    assert!(
        backend
            .alerts
            .iter()
            .any(|a| a.rule == "critical" && a.start.starts_with("2026-09-16T09:"))
    );
}

#[test]
fn table_output_snapshot() {
    let out = sample_plan("2026-10", &[]);
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("plan-2026-10.txt", out.stdout);
}

#[test]
fn coverage_under_the_gate_gives_insufficient_data() {
    // Only the first week of October: coverage ≈ 23 %.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("week.csv");
    let mut text = String::from("ts,service,instance,pool_size,checked_out\n");
    let start = 1_790_809_200; // 2026-10-01T00:00:00+01:00
    for i in 0..(7 * 1440) {
        text.push_str(&format!("{},backend,a,20,{}\n", start + i * 60, 15));
    }
    std::fs::write(&csv, text).unwrap();
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        csv.to_str().unwrap(),
        "--format",
        "json",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let backend = &plan["services"][0];
    let codes: Vec<&str> = backend["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    // 75 % mean would escalate, but not on 23 % coverage; the worker has no data at all.
    assert!(
        codes.contains(&"insufficient-data") && !codes.contains(&"monthly-escalation"),
        "{codes:?}"
    );
    assert_eq!(plan["services"][1]["stats"]["coverage"], 0.0);
}

#[test]
fn sample_data_is_what_the_generator_makes() {
    let dir = tempfile::tempdir().unwrap();
    let out = poolcap(&["generate", "sample", "--out", dir.path().to_str().unwrap()]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    for name in [
        "metrics/2026-08.csv.gz",
        "metrics/2026-09.csv.gz",
        "metrics/2026-10.csv.gz",
        "slowlog/postgresql-2026-08.log.gz",
        "slowlog/postgresql-2026-09.log.gz",
        "slowlog/postgresql-2026-10.log.gz",
        "slowlog/mariadb-slow-2026-10.log.gz",
        "pgbouncer/pools-2026-10.csv.gz",
    ] {
        let made = std::fs::read(dir.path().join(name)).unwrap();
        let committed = std::fs::read(root().join("data").join(name)).unwrap();
        assert!(
            made == committed,
            "data/{name} differs from `poolcap generate sample` output; regenerate it"
        );
    }
}

#[test]
fn json_lines_of_the_api_metrics_body_give_the_same_plan_as_csv() {
    // October as /api/metrics snapshots, one JSON object a line (the card's
    // key names; alternate lines with Unix-second and RFC 3339 times).
    let text = crate::util::sample_csv(SAMPLE_METRICS[2]);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut jsonl = String::new();
    for (i, line) in lines.enumerate() {
        let mut object = serde_json::Map::new();
        for (name, value) in header.iter().zip(line.split(',')) {
            let key = match *name {
                "checked_out" => "checked_out_connections",
                "checked_in" => "checked_in_connections",
                other => other,
            };
            let value = match *name {
                "ts" if i % 2 == 0 => serde_json::json!(value),
                "ts" => serde_json::json!(value.parse::<jiff::Timestamp>().unwrap().as_second()),
                "service" | "instance" => serde_json::json!(value),
                _ if value.is_empty() => continue,
                _ => serde_json::json!(value.parse::<i64>().unwrap()),
            };
            object.insert(key.to_string(), value);
        }
        jsonl.push_str(&serde_json::Value::Object(object).to_string());
        jsonl.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let october = dir.path().join("october.jsonl");
    std::fs::write(&october, jsonl).unwrap();
    let from_csv = october_plan_json(&SAMPLE_METRICS);
    let from_jsonl = october_plan_json(&[SAMPLE_METRICS[0], SAMPLE_METRICS[1], october.to_str().unwrap()]);
    assert_eq!(from_jsonl, from_csv);
}

#[test]
fn check_appends_a_markdown_summary_for_the_ci_job() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    for (month, code) in [("2026-10", 3), ("2026-09", 4)] {
        let out = crate::util::sample_plan(month, &["--check", "--summary", summary.to_str().unwrap()]);
        assert_eq!(out.code, code, "{}", out.stderr);
    }
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.starts_with("earlier step\n### poolcap plan 2026-10: changes to make (exit 3)\n"),
        "{text}"
    );
    assert!(
        text.contains("| backend | 20 + 10 | 25 + 13 | change (monthly-escalation) |"),
        "{text}"
    );
    assert!(text.contains("| worker | 10 + 5 | 10 + 5 | keep |"), "{text}");
    assert!(text.contains("= 194 of 237 connections — ok."), "{text}");
    assert!(
        text.contains("### poolcap plan 2026-09: blocked by a guard (exit 4)"),
        "{text}"
    );
    assert!(text.contains("— **over the budget**."), "{text}");
}
