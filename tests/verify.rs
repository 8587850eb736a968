//! `poolcap verify`: a recorded decision's inputs checked by digest (exit 1
//! naming what changed), then the decision recomputed (0 same, 3 different),
//! for a review folder, a plan.json and a change-log entry.

use std::path::Path;

use crate::util::{Output, copy_tree, poolcap, root, sample_tree};

/// 2026-11-15 00:00 UTC: `--month last` is October, dates are fixed.
const NOVEMBER: &str = "1794700800";

/// The sample tree with the month's metrics under `metrics_dir` and the
/// PostgreSQL slow log under `slowlog/`.
fn tree_with_inputs(metrics_dir: &str) -> tempfile::TempDir {
    let tree = sample_tree();
    let metrics = tree.path().join(metrics_dir);
    std::fs::create_dir_all(&metrics).unwrap();
    for month in ["2026-08", "2026-09", "2026-10"] {
        let name = format!("{month}.csv.gz");
        std::fs::copy(root().join("data/metrics").join(&name), metrics.join(&name)).unwrap();
    }
    std::fs::create_dir(tree.path().join("slowlog")).unwrap();
    std::fs::copy(
        root().join("data/slowlog/postgresql-2026-10.log.gz"),
        tree.path().join("slowlog/postgresql-2026-10.log.gz"),
    )
    .unwrap();
    tree
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    poolcap(args).cwd(dir).env("SOURCE_DATE_EPOCH", NOVEMBER).run()
}

const DECIDE: [&str; 8] = [
    "--config",
    "poolcap.toml",
    "--month",
    "2026-10",
    "--metrics",
    "metrics",
    "--slowlog",
    "slowlog/postgresql-2026-10.log.gz",
];

fn review(dir: &Path) {
    let mut args = vec!["review"];
    args.extend(DECIDE);
    args.extend(["--out", "review-2026-10"]);
    let out = run_in(dir, &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_review_and_a_plan_verify_as_the_same_and_record_every_input() {
    let tree = tree_with_inputs("metrics");
    let dir = tree.path();
    review(dir);
    let out = run_in(dir, &["verify", "review-2026-10"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .starts_with("same: the decision for 2026-10 follows from its inputs"),
        "{}",
        out.stdout
    );

    let mut args = vec!["plan", "--format", "json"];
    args.extend(DECIDE);
    let plan = run_in(dir, &args);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    // The plan is the review's plan.json, byte for byte.
    assert_eq!(
        plan.stdout,
        std::fs::read_to_string(dir.join("review-2026-10/plan.json")).unwrap()
    );
    std::fs::write(dir.join("plan.json"), &plan.stdout).unwrap();
    let out = run_in(dir, &["verify", "plan.json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let p = &json["provenance"];
    assert_eq!(p["poolcap"], env!("CARGO_PKG_VERSION"));
    assert_eq!(p["request"]["month"], "2026-10");
    assert_eq!(p["request"]["metrics"][0], "metrics");
    assert_eq!(p["config"]["path"], "poolcap.toml");
    assert_eq!(p["policy"]["escalate_mean_utilization"], 0.6);
    assert_eq!(p["alerts"][1]["name"], "critical");
    let inputs = p["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 4);
    let october = &inputs[2];
    assert_eq!(october["path"], "metrics/2026-10.csv.gz");
    assert_eq!(
        october["sha256"],
        poolcap::support::digest::FileDigest::of_file(&root().join("data/metrics/2026-10.csv.gz"))
            .unwrap()
            .sha256
    );
    assert_eq!(october["rows"], 268_200);
    assert_eq!(october["used"], 268_200);
    assert_eq!(october["rejected"], 0);
    assert_eq!(october["first"], "2026-09-30T23:00:00Z");
    let slow = &inputs[3];
    assert_eq!(slow["kind"], "slowlog");
    assert_eq!(
        (slow["rows"].as_u64(), slow["used"].as_u64()),
        (Some(17_364), Some(10_256))
    );
    let targets: Vec<&str> = p["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["path"].as_str().unwrap())
        .collect();
    assert_eq!(targets.len(), 3);
    assert!(targets[0].ends_with("deploy/backend.env"), "{targets:?}");
    // A target is recorded by its managed settings, never by a digest of a
    // file that may hold a secret.
    assert_eq!(p["targets"][0]["values"]["DB_POOL_SIZE"], "20");
    assert_eq!(p["targets"][0]["exists"], true);
    assert!(p["targets"][0].get("sha256").is_none());
    // The review's report shows the same.
    let md = std::fs::read_to_string(dir.join("review-2026-10/report.md")).unwrap();
    assert!(md.contains("## Provenance"));
    assert!(md.contains(october["sha256"].as_str().unwrap()));
}

#[test]
fn a_plan_and_a_review_for_one_service_verify_with_the_services_they_hold() {
    let tree = tree_with_inputs("metrics");
    let dir = tree.path();
    let mut args = vec!["plan", "--format", "json", "--service", "backend"];
    args.extend(DECIDE);
    let plan = run_in(dir, &args);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    std::fs::write(dir.join("backend.json"), &plan.stdout).unwrap();
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(json["services"].as_array().unwrap().len(), 1);
    let out = run_in(dir, &["verify", "backend.json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    let mut args = vec!["review", "--service", "backend", "--out", "review-backend"];
    args.extend(DECIDE);
    let review = run_in(dir, &args);
    assert_eq!(review.code, 0, "{}", review.stderr);
    let out = run_in(dir, &["verify", "review-backend"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn a_changed_or_missing_input_is_named_with_exit_1() {
    let tree = tree_with_inputs("metrics");
    let dir = tree.path();
    review(dir);
    let october = dir.join("metrics/2026-10.csv.gz");
    let kept = std::fs::read(&october).unwrap();
    let mut changed = kept.clone();
    changed.push(b'x');
    std::fs::write(&october, &changed).unwrap();
    let out = run_in(dir, &["verify", "review-2026-10"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("metrics/2026-10.csv.gz: the metrics file changed since the decision (930710 bytes"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("930711 bytes"), "{}", out.stderr);
    std::fs::write(&october, &kept).unwrap();

    // A secret rotated in a target file is not the decision's business.
    let env = dir.join("deploy/backend.env");
    let text = std::fs::read_to_string(&env).unwrap();
    std::fs::write(&env, format!("{text}# rotated\nAPI_TOKEN=new-secret\n")).unwrap();
    let out = run_in(dir, &["verify", "review-2026-10"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("new-secret") && !out.stderr.contains("new-secret"));

    std::fs::remove_file(dir.join("slowlog/postgresql-2026-10.log.gz")).unwrap();
    let out = run_in(dir, &["verify", "review-2026-10"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("slowlog/postgresql-2026-10.log.gz: the slowlog file is missing"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_changed_threshold_reports_the_config_digest_and_the_decision_that_differs() {
    let tree = tree_with_inputs("metrics");
    let dir = tree.path();
    review(dir);
    let config = dir.join("poolcap.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("escalate_mean_utilization = 0.60", "escalate_mean_utilization = 0.70"),
    )
    .unwrap();
    let out = run_in(dir, &["verify", "review-2026-10"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("poolcap.toml: the config changed since the decision"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .starts_with("differs: the decision for 2026-10 no longer follows from its inputs (the config changed):")
    );
    for line in [
        "provenance.config.sha256: ",
        "provenance.policy.escalate_mean_utilization: 0.6 recorded, 0.7 now",
        "services[backend].deciding: monthly-escalation recorded, sustained-high now",
        "services[backend].findings[monthly-escalation]: ",
    ] {
        assert!(out.stdout.contains(line), "{line:?} missing:\n{}", out.stdout);
    }
    // Every difference in JSON.
    let out = run_in(dir, &["verify", "review-2026-10", "--format", "json"]);
    assert_eq!(out.code, 3);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["same"], false);
    assert_eq!(json["config_changed"], true);
}

#[test]
fn an_applied_entry_verifies_from_the_tree_before_it_and_names_its_targets_after_it() {
    // A metrics folder whose name would close an HTML comment: the entry's
    // hidden evidence must survive it.
    let before = tree_with_inputs("metrics-->x");
    let after = tempfile::tempdir().unwrap();
    copy_tree(before.path(), after.path());
    let mut args = vec!["apply", "--ticket", "CAP-7"];
    args.extend(DECIDE);
    args[8] = "metrics-->x";
    let out = run_in(after.path(), &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log_path = after.path().join("CHANGELOG-capacity.md");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("Evidence: plan.json SHA-256 `"), "{log}");
    assert!(
        log.contains("metrics--\\u003ex/2026-10.csv.gz"),
        "the hidden JSON escapes `>`"
    );

    // The plan's digest in the entry is the digest of `plan --format json`.
    let mut plan_args = vec!["plan", "--format", "json"];
    plan_args.extend(DECIDE);
    plan_args[8] = "metrics-->x";
    let plan = run_in(before.path(), &plan_args);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let digest = poolcap::support::digest::sha256_hex(plan.stdout.as_bytes());
    assert!(log.contains(&format!("plan.json SHA-256 `{digest}`")), "{log}");

    // In the applied tree the targets hold the new pool: named, exit 1.
    let out = run_in(
        after.path(),
        &["verify", "CHANGELOG-capacity.md", "--entry", "backend:2026-10"],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "deploy/backend.env: the backend's target settings changed since the decision (DB_MAX_OVERFLOW 10 then, 13 now; DB_POOL_SIZE 20 then, 25 now)"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("git worktree add"), "{}", out.stderr);

    // From the tree as it was: the same decision.
    let out = run_in(
        before.path(),
        &["verify", log_path.to_str().unwrap(), "--entry", "backend:2026-10"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // An id nobody has, and an entry without evidence.
    let out = run_in(
        before.path(),
        &["verify", log_path.to_str().unwrap(), "--entry", "worker:"],
    );
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("no entry has the id \"worker:\""), "{}", out.stderr);
}

#[test]
fn what_is_not_a_record_is_refused_with_a_sentence() {
    let tree = tree_with_inputs("metrics");
    let dir = tree.path();
    std::fs::write(dir.join("old.json"), "{\"month\": \"2026-10\"}").unwrap();
    let out = run_in(dir, &["verify", "old.json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("old.json: the plan records no provenance"),
        "{}",
        out.stderr
    );
    let out = run_in(dir, &["verify", "deploy"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("deploy: not a review folder"), "{}", out.stderr);
    let out = run_in(dir, &["verify", "poolcap.toml"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("poolcap.toml:1: not a plan.json"), "{}", out.stderr);
}
