//! The command line itself: clap's own checks, help snapshots, exit codes.

use clap::CommandFactory;
use poolcap::cli::Cli;

use crate::util::{poolcap, sample_plan};

#[test]
fn clap_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn help_snapshots() {
    for args in [
        vec!["--help"],
        vec!["plan", "--help"],
        vec!["generate", "--help"],
        vec!["generate", "bench", "--help"],
        vec!["generate", "slowlog", "--help"],
        vec!["slowlog", "--help"],
        vec!["review", "--help"],
        vec!["probe", "--help"],
        vec!["ingest", "metrics", "--help"],
        vec!["history", "--help"],
        vec!["apply", "--help"],
        vec!["override", "--help"],
        vec!["alerts", "--help"],
        vec!["export", "prometheus-rules", "--help"],
        vec!["export", "grafana", "--help"],
        vec!["init", "--help"],
        vec!["doctor", "--help"],
        vec!["completions", "--help"],
        vec!["man", "--help"],
        vec!["simulate", "--help"],
        vec!["loadtest", "--help"],
        vec!["verify", "--help"],
        vec!["evidence", "--help"],
    ] {
        let out = poolcap(&args).run();
        assert_eq!(out.code, 0, "{args:?}");
        insta::assert_snapshot!(format!("help-{}", args[..args.len() - 1].join("-")), out.stdout);
    }
}

#[test]
fn exit_0_when_nothing_changes_under_check() {
    let out = sample_plan("2026-08", &["--check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("keep"));
}

#[test]
fn exit_3_when_check_finds_changes() {
    let out = sample_plan("2026-10", &["--check"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    // Without --check the same plan is a report: exit 0.
    assert_eq!(sample_plan("2026-10", &[]).code, 0);
}

#[test]
fn exit_4_when_the_budget_blocks() {
    let out = sample_plan("2026-09", &["--check"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stdout.contains("BLOCKED"));
}

#[test]
fn exit_2_for_usage_and_config_errors() {
    let out = sample_plan("2026-13", &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--month: month \"2026-13\" is not YYYY-MM"),
        "{}",
        out.stderr
    );

    let out = poolcap(&["plan", "--month", "2026-10"]).run();
    assert_eq!(out.code, 2, "missing --metrics is a usage error");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("poolcap.toml");
    std::fs::write(&config, "[[services]]\nname = \"backend\"\ncurrent = { pool_size = 20, max_overflow = 10 }\nreplicas = 2\npool_sise = 3\n").unwrap();
    let out = poolcap(&[
        "plan",
        "--config",
        config.to_str().unwrap(),
        "--month",
        "2026-10",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
    ])
    .run();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("poolcap.toml:5:1: unknown field `pool_sise`"),
        "{}",
        out.stderr
    );
}

#[test]
fn exit_1_for_a_bad_row_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("metrics.csv");
    std::fs::write(
        &csv,
        "ts,service,instance,pool_size,checked_out\n\
         2026-10-01T00:00:00Z,backend,a,20,3\n\
         2026-10-01T00:01:00Z,backend,a,20,-1\n\
         2026-10-01T00:02:00Z,backend,a,20,4\n\
         2026-10-01T00:03:00Z,backend,a,,4\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap();
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        csv,
    ])
    .run();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(&format!(
            "{csv}:3: checked_out \"-1\" is not a non-negative whole number [bad-number]"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("{csv}:5: pool_size is empty [missing-value]")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("2 bad row(s) (1 bad-number, 1 missing-value)"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "", "a failed run prints no plan");

    // --lenient skips them, says so, and plans from the rest.
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        csv,
        "--lenient",
        "--format",
        "json",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("skipped 2 bad row(s)"), "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["inputs"]["rejected"], 2);
    assert_eq!(json["inputs"]["samples"], 2);
}

#[test]
fn exit_1_for_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("empty.csv", ""), ("header.csv", "ts,service,pool_size,checked_out\n")] {
        let csv = dir.path().join(name);
        std::fs::write(&csv, text).unwrap();
        let out = poolcap(&[
            "plan",
            "--config",
            "data/poolcap.toml",
            "--month",
            "2026-10",
            "--metrics",
            csv.to_str().unwrap(),
        ])
        .run();
        assert_eq!(out.code, 1, "{name}");
        assert!(out.stderr.contains("no valid samples"), "{name}: {}", out.stderr);
        assert_eq!(out.stdout, "");
    }
}

#[test]
fn missing_file_names_the_path() {
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "no/such.csv",
    ])
    .run();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("no/such.csv: no such file or folder; check the path")
            && !out.stderr.contains("os error"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_closed_stdout_pipe_ends_quietly_with_0() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_poolcap"))
        .args([
            "plan",
            "--config",
            "data/poolcap.toml",
            "--month",
            "2026-10",
            "--format",
            "json",
            "--metrics",
        ])
        .args(crate::util::SAMPLE_METRICS)
        .current_dir(crate::util::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, like `| head -0`
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
