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
