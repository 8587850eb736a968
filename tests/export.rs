//! `poolcap export`: the monitoring stack's files.

use crate::util::poolcap;

fn config_with(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("poolcap.toml");
    std::fs::write(
        &path,
        format!(
            "[[services]]\nname = \"api\"\nreplicas = 2\nprocesses_per_replica = 2\ncurrent = {{ pool_size = 10, max_overflow = 5 }}\n\n{extra}"
        ),
    )
    .unwrap();
    path
}

#[test]
fn prometheus_rules_of_the_sample_config() {
    let out = poolcap(&["export", "prometheus-rules", "--config", "data/poolcap.toml"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("prometheus-rules.yml", out.stdout);
}

#[test]
fn prometheus_rules_use_the_configured_names_and_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        "[[alerts]]\nname = \"page\"\nabove = 0.95\nfor = \"90s\"\n\n\
         [prometheus]\nchecked_out_metric = \"db_client_connections_used\"\npool_size_metric = \"db_client_connections_max\"\n\
         service_label = \"job\"\ninstance_label = \"pod\"\nrunbook_url = \"https://runbooks.example/db-pool\"\n",
    );
    let rules = dir.path().join("rules.yml");
    let out = poolcap(&[
        "export",
        "prometheus-rules",
        "--config",
        config.to_str().unwrap(),
        "--out",
        rules.to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&rules).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let rule = &yaml["groups"][0]["rules"][0];
    assert_eq!(rule["alert"], "DbPoolUtilizationPage");
    assert_eq!(
        rule["expr"],
        "max by (job, pod) (db_client_connections_used) / max by (job, pod) (db_client_connections_max) > 0.95"
    );
    assert_eq!(rule["for"], "1m30s");
    assert_eq!(rule["labels"]["severity"], "page");
    assert_eq!(rule["annotations"]["runbook_url"], "https://runbooks.example/db-pool");
    assert!(
        rule["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("{{ $labels.job }}"),
        "{text}"
    );
    assert_eq!(yaml["groups"][0]["rules"].as_sequence().unwrap().len(), 1);
}

#[test]
fn a_bad_metric_name_is_a_config_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), "[prometheus]\npool_size_metric = \"pool size\"\n");
    let out = poolcap(&["export", "prometheus-rules", "--config", config.to_str().unwrap()]).run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("poolcap.toml:8"), "{}", out.stderr);
    assert!(out.stderr.contains("prometheus.pool_size_metric"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

/// Checks a dashboard against the structure Grafana documents for dashboard
/// JSON (uid, title, schemaVersion, time, templating.list, annotations.list,
/// panels with a unique id, type, gridPos inside the 24-column grid, a data
/// source and targets with refId and expr).
fn assert_grafana_dashboard(d: &serde_json::Value) {
    for key in ["uid", "title"] {
        assert!(d[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    assert_eq!(d["schemaVersion"], 39);
    assert!(d["time"]["from"].is_string() && d["time"]["to"].is_string());
    for v in d["templating"]["list"].as_array().unwrap() {
        assert!(v["name"].is_string() && v["type"].is_string(), "{v}");
    }
    for a in d["annotations"]["list"].as_array().unwrap() {
        assert!(
            a["name"].is_string() && a["datasource"].is_object() && a["enable"].is_boolean(),
            "{a}"
        );
    }
    let panels = d["panels"].as_array().unwrap();
    let mut ids: Vec<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    for p in panels {
        assert_eq!(p["type"], "timeseries");
        let g = &p["gridPos"];
        let (x, w) = (g["x"].as_i64().unwrap(), g["w"].as_i64().unwrap());
        assert!(g["h"].as_i64().unwrap() > 0 && w > 0 && x >= 0 && x + w <= 24 && g["y"].as_i64().unwrap() >= 0);
        assert_eq!(p["datasource"]["uid"], "${datasource}");
        for t in p["targets"].as_array().unwrap() {
            assert!(
                t["refId"].is_string() && t["expr"].as_str().is_some_and(|e| !e.is_empty()),
                "{t}"
            );
        }
    }
}

#[test]
fn grafana_dashboard_has_grafanas_structure_and_the_configured_names() {
    let out = poolcap(&["export", "grafana", "--config", "data/poolcap.toml"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let d: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_grafana_dashboard(&d);
    let utilization = &d["panels"][0];
    assert_eq!(
        utilization["targets"][0]["expr"],
        "max by (service, instance) (sqlalchemy_pool_checked_out{service=~\"$service\"}) / max by (service, instance) (sqlalchemy_pool_size{service=~\"$service\"})"
    );
    let steps = utilization["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .unwrap();
    let values: Vec<f64> = steps.iter().filter_map(|s| s["value"].as_f64()).collect();
    assert_eq!(values, [0.8, 0.9], "the alert thresholds");
    assert!(
        d["annotations"]["list"][1]["expr"]
            .as_str()
            .unwrap()
            .contains("DbPoolUtilizationWarning|DbPoolUtilizationCritical")
    );

    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        "[prometheus]\nchecked_out_metric = \"db_used\"\ntimeouts_metric = \"db_timeouts_total\"\nservice_label = \"job\"\n",
    );
    let out = poolcap(&["export", "grafana", "--config", config.to_str().unwrap()]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let d: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_grafana_dashboard(&d);
    let text = out.stdout;
    assert!(text.contains("db_used{job=~\\\"$service\\\"}"), "{text}");
    assert!(
        text.contains("increase(db_timeouts_total{job=~\\\"$service\\\"}[5m])"),
        "{text}"
    );
    assert!(!text.contains("sqlalchemy_pool_checked_out"));
}
