use super::*;

fn parse_text(text: &str) -> Result<Settings, ConfigError> {
    parse(Path::new("poolcap.toml"), text)
}

const MINIMAL: &str = "[[services]]\nname = \"backend\"\ncurrent = { pool_size = 20, max_overflow = 10 }\n";

#[test]
fn minimal_config_takes_design_defaults() {
    let s = parse_text(MINIMAL).unwrap();
    assert_eq!(s.policy.timezone_name, "UTC");
    assert_eq!(s.policy.escalate_mean_utilization, 0.60);
    assert_eq!(s.policy.escalate_step, 5);
    assert_eq!(s.policy.sustained_for, 300);
    assert_eq!(s.policy.min_coverage, 0.8);
    assert_eq!(s.alerts.len(), 2);
    assert_eq!(
        s.alerts[1],
        AlertRule {
            name: "critical".into(),
            above: 0.9,
            for_seconds: 120
        }
    );
    assert_eq!(s.database.limit(), 100 - 3 - 5);
    assert_eq!(s.services[0].pools(), 1);
}

#[test]
fn the_issue_example_is_valid() {
    let text = r#"
[policy]
timezone = "Europe/London"
escalate_mean_utilization = 0.60
escalate_step = 5
sustained_utilization = 0.80
sustained_for = "5m"
min_coverage = 0.8
users_factor = 1.5
overflow_factor = 0.5
[[alerts]]
name = "warning"
above = 0.80
for = "5m"
[database]
max_connections = 100
superuser_reserved_connections = 3
reserved_connections = 0
headroom = 5
other_clients = 0
[[services]]
name = "backend"
replicas = 2
processes_per_replica = 2
concurrent_users = 10
max_pool_size = 60
current = { pool_size = 20, max_overflow = 10 }
"#;
    let s = parse_text(text).unwrap();
    assert_eq!(s.alerts.len(), 1);
    assert_eq!(s.services[0].pools(), 4);
    assert_eq!(s.services[0].max_pool_size, Some(60));
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let text = format!("{MINIMAL}replicaz = 2\n");
    let err = parse_text(&text).unwrap_err().to_string();
    assert!(err.starts_with("poolcap.toml:4:"), "{err}");
    assert!(err.contains("replicaz"), "{err}");
}

#[test]
fn bad_value_names_file_line_and_key() {
    let text = "[policy]\ntimezone = \"UTC\"\nescalate_mean_utilization = 1.5\n".to_string() + MINIMAL;
    let err = parse_text(&text).unwrap_err().to_string();
    assert_eq!(
        err,
        "poolcap.toml:3:29: policy.escalate_mean_utilization: must be greater than 0 and at most 1, got 1.5"
    );
    let text = "[policy]\ntimezone = \"Mars/Olympus\"\n".to_string() + MINIMAL;
    let err = parse_text(&text).unwrap_err().to_string();
    assert!(
        err.starts_with("poolcap.toml:2:12: policy.timezone: unknown time zone"),
        "{err}"
    );
    let text = MINIMAL.replace("pool_size = 20", "pool_size = 0");
    let err = parse_text(&text).unwrap_err().to_string();
    assert!(
        err.starts_with("poolcap.toml:3:") && err.contains("services[0].current.pool_size"),
        "{err}"
    );
    let text = format!("[policy]\nsustained_for = \"5\"\n{MINIMAL}");
    let err = parse_text(&text).unwrap_err().to_string();
    assert!(
        err.contains("policy.sustained_for") && err.contains("without a unit"),
        "{err}"
    );
}

#[test]
fn services_are_required_and_unique() {
    let err = parse_text("[policy]\n").unwrap_err().to_string();
    assert!(err.contains("services"), "{err}");
    let twice = format!("{MINIMAL}{MINIMAL}");
    let err = parse_text(&twice).unwrap_err().to_string();
    assert!(
        err.contains("defined twice") && err.starts_with("poolcap.toml:5:"),
        "{err}"
    );
}

#[test]
fn syntax_errors_have_a_line() {
    let err = parse_text("[policy\n").unwrap_err().to_string();
    assert!(err.starts_with("poolcap.toml:1:"), "{err}");
}
