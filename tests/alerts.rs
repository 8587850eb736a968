//! `poolcap alerts`: the replayed alert episodes.

use crate::util::{SAMPLE_METRICS, poolcap, sample_plan};

fn alerts(extra: &[&str]) -> crate::util::Output {
    let mut args = vec!["alerts", "--config", "data/poolcap.toml", "--metrics"];
    args.extend(SAMPLE_METRICS);
    args.extend(extra);
    poolcap(&args).run()
}

#[test]
fn the_september_incident_fires_both_rules_on_every_backend_pool() {
    let out = alerts(&["--from", "2026-09-16", "--to", "2026-09-17", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let episodes = report["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 8, "{episodes:?}");
    for rule in ["warning", "critical"] {
        let fired: Vec<_> = episodes.iter().filter(|e| e["rule"] == rule).collect();
        assert_eq!(fired.len(), 4, "{rule}");
        assert!(fired.iter().all(|e| e["service"] == "backend"));
    }
    // Prometheus `for:`: fired exactly `for` after the start.
    let first = &episodes[0];
    assert_eq!(first["rule"], "warning");
    assert_eq!(first["start"], "2026-09-16T09:05:01+01:00");
    assert_eq!(first["fired_at"], "2026-09-16T09:10:01+01:00");
    assert_eq!(report["rules"][0]["episodes"], 4);
    assert_eq!(report["from"], "2026-09-16T00:00:00+01:00");
}

#[test]
fn the_replay_equals_the_plans_alerts_for_a_month() {
    let plan = sample_plan("2026-10", &["--format", "json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let out = alerts(&["--from", "2026-10-01", "--to", "2026-11-01", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let key = |e: &serde_json::Value| {
        (
            e["rule"].as_str().unwrap().to_string(),
            e["instance"].as_str().unwrap().to_string(),
            e["start"].as_str().unwrap().to_string(),
            e["end"].as_str().unwrap().to_string(),
        )
    };
    let mut from_plan: Vec<_> = plan["services"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["alerts"].as_array().unwrap().iter().map(key))
        .collect();
    let mut replayed: Vec<_> = report["episodes"].as_array().unwrap().iter().map(key).collect();
    from_plan.sort();
    replayed.sort();
    assert!(!replayed.is_empty());
    assert_eq!(replayed, from_plan);
}

#[test]
fn csv_has_one_row_per_episode() {
    let out = alerts(&["--from", "2026-09-16", "--to", "2026-09-17", "--format", "csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "rule,service,instance,start,fired_at,end,duration_seconds,peak_utilization"
    );
    assert_eq!(lines.count(), 8);
}

#[test]
fn a_bad_span_is_a_usage_error() {
    let out = alerts(&["--from", "yesterday"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--from"), "{}", out.stderr);
    let out = alerts(&["--from", "2026-10-02", "--to", "2026-10-01"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn no_alert_is_said_plainly() {
    let out = alerts(&["--from", "2026-08-01T00:00:00Z", "--to", "2026-08-01T01:00:00Z"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("No alert fired."), "{}", out.stdout);
}
