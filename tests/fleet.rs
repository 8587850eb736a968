//! A fleet without a block per service: `[defaults]`, `[discovery] from =
//! "metrics"`, `replicas = "seen"`, target paths by pattern, and the plan
//! table's summary for more than 20 services.

use crate::util::{SAMPLE_METRICS, poolcap, root};
use std::fmt::Write as _;
use std::path::Path;

/// The sample config up to its first `[[services]]` (policy, alerts, budget, pool).
fn sample_head() -> String {
    let text = std::fs::read_to_string(root().join("data/poolcap.toml")).unwrap();
    text[..text.find("[[services]]").unwrap()].to_string()
}

/// The sample deployment with every service's settings in `deploy/{service}.env`
/// (the worker's from its TOML), a config writing each service out
/// (`explicit.toml`) and one with only `[defaults]` and discovery (`fleet.toml`).
fn fleet_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    std::fs::copy(
        root().join("data/deploy/backend.env"),
        dir.path().join("deploy/backend.env"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("deploy/worker.env"),
        "DB_POOL_SIZE=10\nDB_MAX_OVERFLOW=5\nDB_POOL_TIMEOUT=30\nDB_POOL_RECYCLE=3600\nDB_POOL_PRE_PING=true\nDB_STATEMENT_TIMEOUT=30000\n",
    )
    .unwrap();
    let head = sample_head();
    let explicit = format!(
        "{head}[[services]]\nname = \"backend\"\nreplicas = 2\nprocesses_per_replica = 2\n\
         [services.targets]\nenv = {{ path = \"deploy/backend.env\" }}\nchangelog = \"CHANGELOG-capacity.md\"\n\n\
         [[services]]\nname = \"worker\"\nreplicas = 1\nprocesses_per_replica = 2\n\
         [services.targets]\nenv = {{ path = \"deploy/worker.env\" }}\nchangelog = \"CHANGELOG-capacity.md\"\n"
    );
    let fleet = format!(
        "{head}[defaults]\nprocesses_per_replica = 2   # replicas: the pools seen ÷ 2\n\
         [defaults.targets]\nenv = {{ path = \"deploy/{{service}}.env\" }}\nchangelog = \"CHANGELOG-capacity.md\"\n\n\
         [discovery]\nfrom = \"metrics\"\n"
    );
    std::fs::write(dir.path().join("explicit.toml"), explicit).unwrap();
    std::fs::write(dir.path().join("fleet.toml"), fleet).unwrap();
    dir
}

fn sample_metrics() -> Vec<String> {
    SAMPLE_METRICS
        .iter()
        .map(|m| root().join(m).display().to_string())
        .collect()
}

/// `plan --format json` with `config` in `dir`, from the sample files (or the
/// store at `store`).
fn plan_json(dir: &Path, config: &str, month: &str, store: Option<&str>) -> (serde_json::Value, String) {
    let files = sample_metrics();
    let mut args = vec!["--config", config, "--format", "json"];
    if let Some(store) = store {
        args.extend(["--store", store]);
    }
    args.extend(["plan", "--month", month]);
    if store.is_none() {
        args.push("--metrics");
        args.extend(files.iter().map(String::as_str));
    }
    let out = poolcap(&args).cwd(dir).run();
    assert_eq!(out.code, 0, "{config} {month}: {}", out.stderr);
    (serde_json::from_str(&out.stdout).unwrap(), out.stderr)
}

/// Fails naming the first few places where two plans differ.
fn assert_same(a: &serde_json::Value, b: &serde_json::Value, what: &str) {
    use poolcap::support::jsondiff::{differences, short};
    let found = differences(a, b, &|_| false);
    let shown: Vec<String> = found
        .iter()
        .take(5)
        .map(|d| format!("{}: {} vs {}", d.path, short(&d.before), short(&d.after)))
        .collect();
    assert!(found.is_empty(), "{what}: the plans differ at {}", shown.join("; "));
}

/// The parts of a plan the fleet must not change: every service's decision,
/// statistics and findings, and the budget.
fn decisions(plan: &serde_json::Value) -> serde_json::Value {
    let mut services = plan["services"].clone();
    for s in services.as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("from_data");
    }
    serde_json::json!({ "services": services, "budget": plan["budget"], "blocked": plan["blocked"] })
}

#[test]
fn a_config_with_only_defaults_plans_every_sample_service_as_the_explicit_config_does() {
    let dir = fleet_tree();
    for month in ["2026-08", "2026-09", "2026-10"] {
        let (explicit, _) = plan_json(dir.path(), "explicit.toml", month, None);
        let (fleet, notes) = plan_json(dir.path(), "fleet.toml", month, None);
        assert_same(&decisions(&fleet), &decisions(&explicit), month);
        assert!(
            notes.contains("2 service(s) found in the metrics of") && notes.contains("besides the 0 in fleet.toml"),
            "{notes}"
        );
        // Each discovered service says so, with the replicas it counted:
        // backend's four pools and worker's two, two processes per replica.
        let from_data: Vec<_> = fleet["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["service"].clone(), s["from_data"].clone()))
            .collect();
        assert_eq!(
            from_data,
            [
                (
                    "backend".into(),
                    serde_json::json!({"discovered": true, "replicas_seen": 2})
                ),
                (
                    "worker".into(),
                    serde_json::json!({"discovered": true, "replicas_seen": 1})
                ),
            ],
            "{month}"
        );
        assert!(explicit["services"][0].get("from_data").is_none());
    }
    // The September budget block (4 × 60 + 2 × 15 + 12 = 282 of 237) holds
    // with the replicas counted from the metrics.
    let (september, _) = plan_json(dir.path(), "fleet.toml", "2026-09", None);
    assert_eq!(september["blocked"], true);
    assert_eq!(september["budget"]["required"], 282);
}

#[test]
fn discovery_from_the_store_lists_the_stored_services() {
    let dir = fleet_tree();
    let store = dir.path().join("history.sqlite").display().to_string();
    let files = sample_metrics();
    let mut ingest = vec!["--config", "explicit.toml", "--store", &store, "ingest", "metrics"];
    ingest.extend(files.iter().map(String::as_str));
    let out = poolcap(&ingest).cwd(dir.path()).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (explicit, _) = plan_json(dir.path(), "explicit.toml", "2026-10", Some(&store));
    let (fleet, _) = plan_json(dir.path(), "fleet.toml", "2026-10", Some(&store));
    assert_same(&decisions(&fleet), &decisions(&explicit), "from the store");
    assert_eq!(fleet["services"][0]["from_data"]["replicas_seen"], 2);
}

#[test]
fn explicit_services_take_the_defaults_they_leave_out_and_are_not_found_twice() {
    // The sample config as it is, plus [defaults] and discovery: nothing
    // else is in the metrics, so the plan is the sample's.
    let dir = tempfile::tempdir().unwrap();
    crate::util::copy_tree(&root().join("data/deploy"), &dir.path().join("deploy"));
    let text = std::fs::read_to_string(root().join("data/poolcap.toml")).unwrap();
    std::fs::write(
        dir.path().join("poolcap.toml"),
        format!(
            "{text}\n[defaults]\ncurrent = {{ pool_size = 5, max_overflow = 0 }}\n\n[discovery]\nfrom = \"metrics\"\n"
        ),
    )
    .unwrap();
    std::fs::copy(root().join("data/poolcap.toml"), dir.path().join("sample.toml")).unwrap();
    let (with_defaults, notes) = plan_json(dir.path(), "poolcap.toml", "2026-10", None);
    let (sample, _) = plan_json(dir.path(), "sample.toml", "2026-10", None);
    assert_same(
        &decisions(&with_defaults),
        &decisions(&sample),
        "sample with [defaults]",
    );
    assert!(notes.contains("0 service(s) found in the metrics"), "{notes}");

    // A service that leaves replicas out takes [defaults]' "seen"; one that
    // leaves its targets out takes the pattern's file.
    let head = sample_head();
    std::fs::write(
        dir.path().join("mixed.toml"),
        format!(
            "{head}[defaults]\nprocesses_per_replica = 2\n[defaults.targets]\nenv = {{ path = \"deploy/{{service}}.env\" }}\n\n\
             [[services]]\nname = \"backend\"\nconcurrent_users = 12\nmax_pool_size = 60\n"
        ),
    )
    .unwrap();
    let (mixed, _) = plan_json(dir.path(), "mixed.toml", "2026-10", None);
    assert_eq!(
        mixed["services"].as_array().unwrap().len(),
        1,
        "no discovery: only backend"
    );
    assert_eq!(mixed["services"][0]["current"], sample["services"][0]["current"]);
    assert_eq!(mixed["services"][0]["from_data"]["replicas_seen"], 2);
    assert_eq!(mixed["services"][0]["findings"][0]["code"], "sizing-formula");
}

#[test]
fn defaults_and_discovery_are_checked_where_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[defaults]\ncurrent = { pool_size = 5, max_overflow = 0 }\n[defaults.targets]\nenv = { path = \"deploy/app.env\" }\n",
            "poolcap.toml:4:",
            "does not hold {service}: every service would write the same file",
        ),
        (
            "[discovery]\nfrom = \"metrics\"\n",
            "poolcap.toml:2:",
            "a discovered service is made from [defaults]",
        ),
        (
            "[defaults]\nreplicas = \"many\"\ncurrent = { pool_size = 5, max_overflow = 0 }\n[discovery]\nfrom = \"metrics\"\n",
            "poolcap.toml:2:",
            "\"many\" is not a number of replicas; write a whole number, or \"seen\"",
        ),
        (
            "[defaults]\nprocesses_per_replica = 2\n[discovery]\nfrom = \"metrics\"\n",
            "poolcap.toml:1:",
            "[defaults] needs `current",
        ),
        (
            "[defaults]\ncurrent = { pool_size = 5, max_overflow = 0 }\n[discovery]\nfrom = \"prometheus\"\n",
            "poolcap.toml:4:",
            "\"prometheus\" is not a source of services",
        ),
    ];
    for (text, at, message) in cases {
        std::fs::write(dir.path().join("poolcap.toml"), text).unwrap();
        let out = poolcap(&["plan", "--month", "2026-10", "--metrics", "x.csv"])
            .cwd(dir.path())
            .run();
        assert_eq!(out.code, 2, "{text}: {}", out.stderr);
        assert!(
            out.stderr.contains(at) && out.stderr.contains(message),
            "{text}:\n{}",
            out.stderr
        );
    }
}

/// A month of hourly samples for `services` single-pool services: the
/// first three run hot (mean above 60 %), the fourth reports only its first
/// week, the others idle along at about 30 %.
fn fleet_csv(services: usize) -> String {
    let mut text = String::from("ts,service,instance,pool_size,max_overflow,checked_out\n");
    let start = 1_790_812_800; // 2026-10-01T00:00:00Z
    for hour in 0..31 * 24 {
        let ts = start + hour * 3600;
        for k in 0..services {
            if k == 3 && hour >= 7 * 24 {
                continue;
            }
            let busy = if k < 3 { 14 } else { 6 };
            let checked_out = busy + (hour + k as i64) % 3;
            let _ = writeln!(text, "{ts},svc-{k:02},svc-{k:02}-0,20,10,{checked_out}");
        }
    }
    text
}

#[test]
fn a_fleet_plan_prints_a_summary_then_only_the_services_with_something_to_say() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.csv"), fleet_csv(25)).unwrap();
    std::fs::write(
        dir.path().join("poolcap.toml"),
        "[policy]\nsimulate_hours = \"busiest:2\"\nhold_time_seconds = 1.0\n\n[database]\nmax_connections = 1000\n\n[defaults]\ncurrent = { pool_size = 20, max_overflow = 10 }\n\n[discovery]\nfrom = \"metrics\"\n",
    )
    .unwrap();
    let plan = |extra: &[&str]| {
        let mut args = vec!["plan", "--month", "2026-10", "--metrics", "fleet.csv"];
        args.extend(extra);
        poolcap(&args).cwd(dir.path()).run()
    };
    let out = plan(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("fleet_plan_summary", out.stdout);
    assert!(out.stdout.contains(
        "25 services: 3 to change, 0 blocked, 1 with insufficient data, 21 with nothing to report (listed with --all)"
    ));
    assert!(!out.stdout.contains("svc-10"), "a quiet service is not listed");

    // The CI summary lists the same services.
    let check = plan(&["--check", "--summary", "summary.md"]);
    assert_eq!(check.code, 5, "svc-03's thin month fails the gate: {}", check.stderr);
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        summary
            .contains("25 services, 4 listed (a change, a finding or too little data); the others keep their pools."),
        "{summary}"
    );
    assert!(summary.contains("| svc-00 | 20 + 10 | 25 + 13 | change (monthly-escalation) |"));
    assert!(!summary.contains("svc-10"), "{summary}");
    assert!(
        summary.contains("25 pools of 25 services = 774 of 992 connections"),
        "{summary}"
    );

    let all = plan(&["--all"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert!(!all.stdout.contains("services:"), "{}", all.stdout);
    for k in 0..25 {
        assert!(all.stdout.contains(&format!("svc-{k:02}")), "svc-{k:02} with --all");
    }
    assert!(all.stdout.contains("budget: 1 × 38 + 1 × 38 + 1 × 38 + 1 × 30"));
}

#[test]
fn a_discovered_name_becomes_a_file_stem_and_every_missing_file_is_named_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    std::fs::write(
        dir.path().join("m.csv"),
        "ts,service,instance,pool_size,checked_out\n\
         2026-10-01T00:00:00Z,team/api,a,20,3\n2026-10-01T00:01:00Z,team/api,a,20,4\n\
         2026-10-01T00:01:00Z,../../etc,b,20,4\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("poolcap.toml"),
        "[defaults]\n[defaults.targets]\nenv = { path = \"deploy/{service}.env\" }\n[discovery]\nfrom = \"metrics\"\n",
    )
    .unwrap();
    let out = poolcap(&["plan", "--month", "2026-10", "--metrics", "m.csv"])
        .cwd(dir.path())
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "2 service(s) found in the metrics have no target file: \"../../etc\" (deploy/---..-etc-b2d9fe.env), \"team/api\" (deploy/team-api-dbc21e.env)"
        ),
        "{}",
        out.stderr
    );
    // Nothing was made outside the folder, nor in it.
    assert_eq!(std::fs::read_dir(dir.path().join("deploy")).unwrap().count(), 0);
    // A month without samples is an error, never an empty plan.
    let out = poolcap(&["plan", "--month", "2026-09", "--metrics", "m.csv"])
        .cwd(dir.path())
        .run();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("no service has metrics in 2026-09, and poolcap.toml names none"),
        "{}",
        out.stderr
    );
}
