//! Hostile input (issue 12): numbers at and beyond their limits, implausible
//! times, names with control characters, too many series. Each case is a
//! reproduction that once hung, wrapped or lied; now it is a clear error or a
//! counted bad row, and no Debug text or panic reaches the user.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{Output, poolcap, root, sample_tree};

/// Replaces `from` by `to` in the tree's config.
fn edit_config(dir: &Path, from: &str, to: &str) {
    let path = dir.join("poolcap.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} not in the sample config");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Runs poolcap in `dir`, failing the test (instead of hanging it) after 60 s.
fn run_bounded(dir: &Path, args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_poolcap"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The output is read while waiting, so a large answer cannot fill the pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("poolcap {args:?} did not end within 60 s");
        }
    };
    let output = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_no_internals(&output);
    output
}

/// No Debug dump, raw OS error or panic message reaches the user.
pub fn assert_no_internals(out: &Output) {
    for needle in ["Os {", "Error(", "panicked", "RUST_BACKTRACE", "kind: "] {
        assert!(
            !out.stderr.contains(needle) && !out.stdout.contains(needle),
            "{needle:?} reached the user:\n{}",
            out.stderr
        );
    }
}

const HEADER: &str = "ts,service,instance,pool_size,max_overflow,checked_out\n";

#[test]
fn config_numbers_beyond_their_limits_are_config_errors_with_their_line() {
    for (from, to, key, line) in [
        ("replicas = 2\n", "replicas = 2147483648\n", "services[0].replicas", 41),
        (
            "processes_per_replica = 2   # gunicorn",
            "processes_per_replica = 65536000 # gunicorn",
            "services[0].processes_per_replica",
            42,
        ),
        (
            "other_clients = 12 ",
            "other_clients = 4294967295 ",
            "database.other_clients",
            30,
        ),
        (
            "escalate_step = 5\n",
            "escalate_step = 4294967295\n",
            "policy.escalate_step",
            9,
        ),
        (
            "max_connections = 250\n",
            "max_connections = 4294967295\n",
            "database.max_connections",
            26,
        ),
        (
            "sustained_for = \"5m\"",
            "sustained_for = \"99999999999d\"",
            "policy.sustained_for",
            11,
        ),
    ] {
        let dir = sample_tree();
        edit_config(dir.path(), from, to);
        let out = run_bounded(dir.path(), &["plan", "--config", "poolcap.toml", "--month", "2026-10"]);
        assert_eq!(out.code, 2, "{to}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("poolcap.toml:{line}:")) && out.stderr.contains(key),
            "{to}: {}",
            out.stderr
        );
    }
}

#[test]
fn names_with_control_characters_are_refused_in_the_config() {
    let dir = sample_tree();
    edit_config(dir.path(), "name = \"worker\"", "name = \"wor\\nker\"");
    let out = run_bounded(dir.path(), &["plan", "--config", "poolcap.toml", "--month", "2026-10"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("control character"), "{}", out.stderr);
}

#[test]
fn a_target_value_beyond_the_limit_is_refused_and_nothing_is_written() {
    let dir = sample_tree();
    let env = dir.path().join("deploy/backend.env");
    let text = std::fs::read_to_string(&env)
        .unwrap()
        .replace("DB_POOL_SIZE=20", "DB_POOL_SIZE=4294967294");
    std::fs::write(&env, &text).unwrap();
    let out = run_bounded(
        dir.path(),
        &[
            "override",
            "backend",
            "--bump",
            "--reason",
            "ward round",
            "--config",
            "poolcap.toml",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("deploy/backend.env") && out.stderr.contains("beyond poolcap's limit"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&env).unwrap(), text);
}

#[test]
fn override_to_a_size_beyond_the_limit_is_a_usage_error() {
    let dir = sample_tree();
    let out = run_bounded(
        dir.path(),
        &[
            "override",
            "backend",
            "--to",
            "4294967295",
            "--reason",
            "x",
            "--config",
            "poolcap.toml",
            "--dry-run",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("from 1 to 1000000"), "{}", out.stderr);
}

/// Two rows of a pool of 3 500 000 000 once made plan, review and apply spin
/// for ever; now they are bad rows (`beyond-limit`) and the file yields none.
#[test]
fn huge_pools_in_the_data_are_bad_rows_not_a_hang() {
    let dir = sample_tree();
    let csv = format!(
        "{HEADER}2026-10-01T09:00:00Z,backend,b-0,3500000000,0,3500000000\n2026-10-01T09:10:00Z,backend,b-0,3500000000,0,3500000000\n"
    );
    std::fs::write(dir.path().join("m.csv"), csv).unwrap();
    for command in ["plan", "apply"] {
        let mut args = vec![
            command,
            "--config",
            "poolcap.toml",
            "--month",
            "2026-10",
            "--metrics",
            "m.csv",
        ];
        if command == "apply" {
            args.push("--dry-run");
        }
        let out = run_bounded(dir.path(), &args);
        assert_eq!(out.code, 1, "{command}: {}", out.stderr);
        assert!(
            out.stderr.contains("m.csv:2") && out.stderr.contains("beyond-limit"),
            "{command}: {}",
            out.stderr
        );
    }
}

/// One row dated 0001-01-01 beside one real row once gave 100 % coverage.
#[test]
fn implausible_times_are_bad_rows_not_coverage() {
    let dir = sample_tree();
    let csv = format!(
        "{HEADER}0001-01-01T00:00:00Z,backend,b-0,20,10,5\n2026-10-15T09:00:00Z,backend,b-0,20,10,5\n2099-01-01T00:00:00Z,backend,b-0,20,10,5\n"
    );
    std::fs::write(dir.path().join("m.csv"), csv).unwrap();
    let out = run_bounded(
        dir.path(),
        &[
            "plan",
            "--config",
            "poolcap.toml",
            "--month",
            "2026-10",
            "--metrics",
            "m.csv",
            "--lenient",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("m.csv:2") && out.stderr.contains("before 2000"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("m.csv:4") && out.stderr.contains("in the future"),
        "{}",
        out.stderr
    );
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let backend = &plan["services"][0];
    let coverage = backend["stats"]["coverage"].as_f64().unwrap();
    assert!(coverage < 0.01, "coverage {coverage}: {backend}");
}

#[test]
fn instance_names_with_control_characters_are_bad_rows() {
    let dir = sample_tree();
    let csv = format!(
        "{HEADER}2026-10-15T09:00:00Z,backend,\"x|y\n# injected\",20,10,5\n2026-10-15T09:00:00Z,backend,b-0,20,10,5\n"
    );
    std::fs::write(dir.path().join("m.csv"), csv).unwrap();
    let out = run_bounded(
        dir.path(),
        &[
            "plan",
            "--config",
            "poolcap.toml",
            "--month",
            "2026-10",
            "--metrics",
            "m.csv",
            "--lenient",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("bad-name"), "{}", out.stderr);
    assert!(!out.stdout.contains("# injected"), "{}", out.stdout);
}

#[test]
fn too_many_series_stop_the_run_with_the_flag_to_raise() {
    let dir = sample_tree();
    let mut csv = HEADER.to_string();
    for i in 0..5 {
        csv.push_str(&format!("2026-10-15T09:00:00Z,backend,b-{i},20,10,5\n"));
    }
    std::fs::write(dir.path().join("m.csv"), csv).unwrap();
    let out = run_bounded(
        dir.path(),
        &[
            "plan",
            "--config",
            "poolcap.toml",
            "--month",
            "2026-10",
            "--metrics",
            "m.csv",
            "--max-series",
            "3",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("m.csv:5") && out.stderr.contains("more than 3") && out.stderr.contains("--max-series"),
        "{}",
        out.stderr
    );
    let ok = run_bounded(
        dir.path(),
        &[
            "plan",
            "--config",
            "poolcap.toml",
            "--month",
            "2026-10",
            "--metrics",
            "m.csv",
            "--max-series",
            "5",
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
}

/// The sample config and data still plan as before under the new limits.
#[test]
fn the_sample_is_within_every_limit() {
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_no_internals(&out);
}

#[test]
fn plan_service_filters_and_an_unknown_name_is_a_usage_error() {
    let base = [
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
    ];
    let mut args = base.to_vec();
    args.extend(["--service", "nosuch"]);
    let out = poolcap(&args).run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("\"nosuch\"") && out.stderr.contains("backend, worker"),
        "{}",
        out.stderr
    );
    let mut args = base.to_vec();
    args.extend(["--service", "BACKEND"]);
    let out = poolcap(&args).run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("did you mean \"backend\""), "{}", out.stderr);
    let mut args = base.to_vec();
    args.extend(["--service", "worker", "--format", "json"]);
    let out = poolcap(&args).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let names: Vec<&str> = plan["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["worker"]);
    // The budget still counts every service.
    assert_eq!(plan["budget"]["services"].as_array().unwrap().len(), 2);
}

/// A change-log template that loops without end, or does not parse, is a
/// config error (exit 2) naming the template, and nothing is written.
#[test]
fn change_log_templates_are_bounded_and_their_errors_are_config_errors() {
    for (template, says) in [
        (
            "{% for a in range(10000) %}{% for b in range(10000) %}.{% endfor %}{% endfor %}",
            "fuel",
        ),
        ("{% if entry.service %}unclosed", "entry.j2"),
    ] {
        let dir = sample_tree();
        std::fs::write(dir.path().join("entry.j2"), template).unwrap();
        edit_config(
            dir.path(),
            "[pool]\n",
            "[changelog]\ntemplate = \"entry.j2\"\n\n[pool]\n",
        );
        let out = run_bounded(
            dir.path(),
            &[
                "override",
                "backend",
                "--bump",
                "--reason",
                "ward round",
                "--config",
                "poolcap.toml",
            ],
        );
        assert_eq!(out.code, 2, "{template}: {}", out.stderr);
        assert!(
            out.stderr.contains(says) && out.stderr.contains("entry.j2"),
            "{template}: {}",
            out.stderr
        );
        assert!(!dir.path().join("CHANGELOG-capacity.md").exists());
        let env = std::fs::read_to_string(dir.path().join("deploy/backend.env")).unwrap();
        assert!(env.contains("DB_POOL_SIZE=20"), "{env}");
    }
}

/// The CI gate fails (exit 5) when the month has no data, a service is thin,
/// or the metrics name a service the config does not define (issue 14).
#[test]
fn the_gate_fails_on_missing_data() {
    let base = [
        "plan",
        "--config",
        "data/poolcap.toml",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
        "--check",
    ];
    // A month without any sample.
    let mut args = base.to_vec();
    args.extend(["--month", "2031-01"]);
    let out = poolcap(&args).run();
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: service \"backend\" has no samples in 2031-01"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("no data"), "{}", out.stdout);
    args.push("--allow-missing-data");
    assert_eq!(poolcap(&args).run().code, 0);
    // A misspelt service column.
    let dir = tempfile::tempdir().unwrap();
    let csv = crate::util::sample_csv("data/metrics/2026-10.csv.gz").replace(",worker,", ",Worker_,");
    let path = dir.path().join("m.csv");
    std::fs::write(&path, csv).unwrap();
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--check",
        "--metrics",
        path.to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("service \"worker\" has no samples in 2026-10; the metrics have \"Worker_\""),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean \"worker\"?"), "{}", out.stderr);
}

/// The incident path does the arithmetic (issue 14): a blocked override is an
/// error that names the `--to N` that fits; plan's JSON carries the headroom.
#[test]
fn a_blocked_override_names_the_size_that_fits() {
    let dir = sample_tree();
    let out = run_bounded(
        dir.path(),
        &[
            "override",
            "backend",
            "--to",
            "40",
            "--reason",
            "ward round",
            "--config",
            "poolcap.toml",
            "--dry-run",
        ],
    );
    assert_eq!(out.code, 4, "{}", out.stderr);
    // limit 237, other clients 12, worker 2 × 15: (237 − 42) / 4 = 48 a pool → 32 + 16.
    assert!(
        out.stderr
            .starts_with("error: 40 + 20 for backend breaks the connection budget"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--to 32."), "{}", out.stderr);
    let ok = run_bounded(
        dir.path(),
        &[
            "override",
            "backend",
            "--to",
            "32",
            "--reason",
            "ward round",
            "--config",
            "poolcap.toml",
            "--dry-run",
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
        "--format",
        "json",
    ])
    .run();
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    // backend beside worker at 10 + 5 → 32; worker beside backend at 25 + 13: (237 − 12 − 152) / 2 = 36 → 24.
    assert_eq!(plan["services"][0]["headroom"], 32);
    assert_eq!(plan["services"][1]["headroom"], 24);
}

/// An override written with --out is what is deployed until the next apply
/// (issue 14): later plans and overrides start from it, apply folds it in.
#[test]
fn an_override_file_is_read_first_until_apply() {
    let dir = sample_tree();
    let out = run_bounded(
        dir.path(),
        &[
            "override",
            "backend",
            "--to",
            "30",
            "--reason",
            "ward round",
            "--out",
            "deploy/override.env",
            "--config",
            "poolcap.toml",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(dir.path().join(".poolcap-overrides.json").exists());
    // The targets still say 20 + 10; what runs is 30 + 15.
    let plan = run_bounded(
        dir.path(),
        &[
            "plan",
            "--config",
            "poolcap.toml",
            "--month",
            "2026-10",
            "--metrics",
            &root().join("data/metrics/2026-10.csv.gz").display().to_string(),
            "--format",
            "json",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(json["services"][0]["current"]["pool_size"], 30, "{}", plan.stderr);
    // 4 × (30 + 15) + 2 × 15 + 12 = 222 with the current sizes.
    assert_eq!(json["budget"]["current_required"], 222);
    let bump = run_bounded(
        dir.path(),
        &[
            "override",
            "backend",
            "--bump",
            "--reason",
            "still slow",
            "--config",
            "poolcap.toml",
            "--dry-run",
        ],
    );
    // From 30, one step is 35 + 18: over the budget, and the error says 32 fits.
    assert_eq!(bump.code, 4, "{}", bump.stderr);
    assert!(
        bump.stderr.contains("35 + 18 for backend breaks the connection budget") && bump.stderr.contains("--to 32"),
        "{}",
        bump.stderr
    );
    let apply = run_bounded(
        dir.path(),
        &[
            "apply",
            "--config",
            "poolcap.toml",
            "--month",
            "2026-10",
            "--metrics",
            &root().join("data/metrics/2026-10.csv.gz").display().to_string(),
        ],
    );
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(!dir.path().join(".poolcap-overrides.json").exists());
    let env = std::fs::read_to_string(dir.path().join("deploy/backend.env")).unwrap();
    let over = std::fs::read_to_string(dir.path().join("deploy/override.env")).unwrap();
    assert!(
        env.contains("DB_POOL_SIZE=30") && over.contains("DB_POOL_SIZE=30"),
        "{env}\n{over}"
    );
}

/// An unreachable PostgreSQL store says so with the server's error at once
/// (it once waited 30 s for "pool timed out while waiting for an open
/// connection"); a missing database is named without sqlx's "at line N",
/// which is the server's source line, not the user's (issues 12 and 14).
#[test]
fn store_errors_are_the_servers_own() {
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--store",
        "postgres://postgres@127.0.0.1:1/x",
    ])
    .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("127.0.0.1:1") && out.stderr.contains("Connection refused"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("pool timed out"), "{}", out.stderr);
    let Ok(url) = std::env::var("POOLCAP_TEST_POSTGRES_URL") else {
        println!("skipped the missing-database half: POOLCAP_TEST_POSTGRES_URL is not set");
        return;
    };
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    let missing = format!("{base}/poolcap_no_such_database");
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--store",
        &missing,
    ])
    .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("database \"poolcap_no_such_database\" does not exist (SQLSTATE 3D000)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(" at line "), "{}", out.stderr);
}
