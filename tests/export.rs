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

/// `promtool check rules FILE` when promtool is installed: (passed, output).
fn promtool_check(rules: &std::path::Path) -> Option<(bool, String)> {
    if !crate::promtool::promtool_available() {
        return None;
    }
    let out = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(rules)
        .output()
        .unwrap();
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

fn alert(name: &str, above: f64) -> String {
    format!("[[alerts]]\nname = {name:?}\nabove = {above}\nfor = \"5m\"\n\n")
}

fn export_rules(config: &std::path::Path, rules: &std::path::Path) -> crate::util::Output {
    poolcap(&[
        "export",
        "prometheus-rules",
        "--config",
        config.to_str().unwrap(),
        "--out",
        rules.to_str().unwrap(),
    ])
    .run()
}

#[test]
fn rules_with_non_ascii_names_get_distinct_valid_alert_names() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), &format!("{}{}", alert("ü", 0.8), alert("ö", 0.9)));
    let rules = dir.path().join("rules.yml");
    let out = export_rules(&config, &rules);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let yaml: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&rules).unwrap()).unwrap();
    let names: Vec<&str> = yaml["groups"][0]["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert_ne!(names[0], names[1], "two rules, one alert name");
    for name in &names {
        assert!(poolcap::config::names::is_alert_name(name), "{name}");
        assert!(name.starts_with("DbPoolUtilization_"), "{name}");
    }
    if let Some((ok, output)) = promtool_check(&rules) {
        assert!(ok, "{output}");
    }
    // The dashboard shows both alerts.
    let out = poolcap(&["export", "grafana", "--config", config.to_str().unwrap()]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&names.join("|")), "{}", out.stdout);
}

#[test]
fn braces_in_a_rule_name_are_template_text() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        &format!(
            "{}[prometheus]\nrunbook_url = \"https://runbooks.example/{{{{ x\"\n",
            alert("warn {{", 0.8)
        ),
    );
    let rules = dir.path().join("rules.yml");
    let out = export_rules(&config, &rules);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&rules).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let rule = &yaml["groups"][0]["rules"][0];
    assert!(poolcap::config::names::is_alert_name(rule["alert"].as_str().unwrap()));
    assert_eq!(rule["labels"]["severity"], "warn {{ \"{{\" }}");
    assert_eq!(
        rule["annotations"]["runbook_url"],
        "https://runbooks.example/{{ \"{{\" }} x"
    );
    assert!(
        rule["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("(rule warn {{ \"{{\" }}: above 80% for 5m)"),
        "{text}"
    );
    if let Some((ok, output)) = promtool_check(&rules) {
        assert!(ok, "promtool rejects the exported rules:\n{output}");
    }
}

#[test]
fn rules_whose_alert_names_coincide_are_a_config_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(
        dir.path(),
        &format!("{}{}", alert("warning", 0.8), alert("Warning", 0.9)),
    );
    let rules = dir.path().join("rules.yml");
    let out = export_rules(&config, &rules);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("poolcap.toml:13"), "{}", out.stderr);
    assert!(
        out.stderr.contains("\"warning\" (line 8) and \"Warning\"") && out.stderr.contains("DbPoolUtilizationWarning"),
        "{}",
        out.stderr
    );
    assert!(!rules.exists());
}
