//! The CI jobs of docs/review.md ("In CI: the gate and its summary") are
//! YAML that parses, and their steps do what the page says: run on a git copy
//! of the sample with `SOURCE_DATE_EPOCH` in November 2026 (so `--month last`
//! is October, which has changes to make), they leave a branch in the remote
//! holding the changed targets and the change-log entry, and the summary says
//! why. Installing poolcap is the one step not run: the test puts the built
//! binary on PATH instead.

use std::path::Path;
use std::process::Command;

use crate::util::root;

/// 2026-11-15 00:00 UTC.
const NOVEMBER: &str = "1794700800";

/// The ```yaml blocks of the page's CI section, in order.
fn ci_blocks() -> Vec<serde_yaml::Value> {
    let page = std::fs::read_to_string(root().join("docs/review.md")).unwrap();
    let start = page
        .find("### In CI: the gate and its summary")
        .expect("the CI section");
    let section = &page[start..];
    let section = &section[..section[4..].find("\n## ").map_or(section.len(), |i| i + 4)];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```yaml\n") {
        let body = &rest[open + 8..];
        let close = body.find("\n```").expect("a closed block");
        let parsed: serde_yaml::Value = serde_yaml::from_str(&body[..close])
            .unwrap_or_else(|e| panic!("block {} of the CI section is not YAML: {e}", blocks.len() + 1));
        blocks.push(parsed);
        rest = &body[close..];
    }
    blocks
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The sample deployment with its metrics, committed in a git repository
/// whose `origin` is a bare repository beside it. Returns (work, remote).
fn sample_repository(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let work = dir.join("work");
    let remote = dir.join("remote.git");
    let tree = crate::util::sample_tree();
    crate::util::copy_tree(tree.path(), &work);
    std::fs::create_dir(work.join("metrics")).unwrap();
    for month in ["2026-08", "2026-09", "2026-10"] {
        let name = format!("{month}.csv.gz");
        std::fs::copy(
            root().join("data/metrics").join(&name),
            work.join("metrics").join(&name),
        )
        .unwrap();
    }
    std::fs::create_dir(&remote).unwrap();
    git(&remote, &["init", "--quiet", "--bare"]);
    git(&work, &["init", "--quiet", "-b", "main"]);
    git(
        &work,
        &["-c", "user.name=t", "-c", "user.email=t@example.invalid", "add", "-A"],
    );
    git(
        &work,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "--quiet",
            "-m",
            "sample",
        ],
    );
    git(&work, &["remote", "add", "origin", remote.to_str().unwrap()]);
    git(&work, &["push", "--quiet", "origin", "main"]);
    (work, remote)
}

/// Runs one step's script as the CI runner would (bash, -e, pipefail) with
/// the built poolcap first on PATH.
fn run_script(work: &Path, script: &str, env: &[(&str, &str)]) -> (i32, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_poolcap")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(work)
        .env("PATH", path)
        .env("SOURCE_DATE_EPOCH", NOVEMBER)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("POOLCAP_CONFIG")
        .env_remove("POOLCAP_STORE")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// What the job left in the remote: the branch's changed files, and the
/// change log at its tip.
fn pushed(remote: &Path, branch: &str) -> (Vec<String>, String) {
    let files = git(remote, &["diff", "--name-only", "main", branch]);
    let changelog = git(remote, &["show", &format!("{branch}:CHANGELOG-capacity.md")]);
    (files.lines().map(str::to_owned).collect(), changelog)
}

fn assert_the_decision_was_pushed(remote: &Path, branch: &str, ticket: &str) {
    let (files, changelog) = pushed(remote, branch);
    assert_eq!(
        files,
        ["CHANGELOG-capacity.md", "deploy/backend.env", "deploy/values.yaml"],
        "the branch holds the backend's targets (October changes only the backend) and the change log, nothing else"
    );
    assert!(changelog.contains("2026-10"), "the entry names the month:\n{changelog}");
    assert!(changelog.contains(ticket), "the entry names the run:\n{changelog}");
    assert!(
        changelog.contains("capacity job"),
        "the entry names its author:\n{changelog}"
    );
}

#[test]
fn the_github_actions_job_parses_gates_applies_and_pushes_a_branch() {
    let blocks = ci_blocks();
    assert_eq!(
        blocks.len(),
        2,
        "the CI section has the GitHub Actions and the GitLab CI job"
    );
    let job = &blocks[0];
    assert_eq!(job["permissions"]["contents"], "write");
    let steps = job["jobs"]["capacity"]["steps"].as_sequence().expect("the job's steps");
    let scripts: Vec<&str> = steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .filter(|run| !run.starts_with("cargo install"))
        .collect();
    assert_eq!(scripts.len(), 1, "one step gates, applies and commits");

    let dir = tempfile::tempdir().unwrap();
    let (work, remote) = sample_repository(dir.path());
    let summary = dir.path().join("step-summary.md");
    let env = [
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ("GITHUB_RUN_ID", "4242"),
    ];
    for script in &scripts {
        let (code, text) = run_script(&work, script, &env);
        assert_eq!(code, 0, "the step fails:\n{text}");
    }
    assert_the_decision_was_pushed(&remote, "capacity/4242", "run 4242");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("2026-10") && summary.contains("exit 3"), "{summary}");

    // A second run on the applied tree finds nothing to change: exit 0, no branch.
    git(&work, &["switch", "--quiet", "capacity/4242"]);
    let second = dir.path().join("second-summary.md");
    let env = [
        ("GITHUB_STEP_SUMMARY", second.to_str().unwrap()),
        ("GITHUB_RUN_ID", "4243"),
    ];
    let (code, text) = run_script(&work, scripts[0], &env);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("nothing to change"), "{text}");
    let branches = git(&remote, &["branch", "--list", "capacity/*"]);
    assert!(!branches.contains("4243"), "{branches}");
}

#[test]
fn the_gitlab_ci_job_parses_and_does_the_same_and_a_blocked_month_writes_nothing() {
    let job = &ci_blocks()[1]["capacity"];
    assert_eq!(job["artifacts"]["when"], "always");
    assert!(job["before_script"][0].as_str().unwrap().starts_with("cargo install"));
    let script: Vec<&str> = job["script"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let script = script.join("\n");

    let dir = tempfile::tempdir().unwrap();
    let (work, remote) = sample_repository(dir.path());
    let env = [
        ("CI_PIPELINE_ID", "77"),
        ("CAPACITY_PUSH_URL", remote.to_str().unwrap()),
    ];
    let (code, text) = run_script(&work, &script, &env);
    assert_eq!(code, 0, "{text}");
    assert_the_decision_was_pushed(&remote, "capacity/77", "pipeline 77");
    let summary = std::fs::read_to_string(work.join("capacity-summary.md")).unwrap();
    assert!(summary.contains("exit 3"), "{summary}");
    assert_eq!(
        git(&work, &["status", "--porcelain"]).trim(),
        "?? .poolcap.lock\n?? capacity-summary.md",
        "only apply's lock file and the artifact are left uncommitted"
    );

    // September is blocked by the budget (exit 4): the job fails with 4 and
    // neither edits a file nor pushes.
    let (_, fresh_remote) = sample_repository(&dir.path().join("september"));
    let work = dir.path().join("september/work");
    let september = script.replace("--month last", "--month 2026-09");
    let env = [
        ("CI_PIPELINE_ID", "78"),
        ("CAPACITY_PUSH_URL", fresh_remote.to_str().unwrap()),
    ];
    let (code, text) = run_script(&work, &september, &env);
    assert_eq!(code, 4, "{text}");
    assert_eq!(git(&work, &["status", "--porcelain"]).trim(), "?? capacity-summary.md");
    assert!(git(&fresh_remote, &["branch", "--list"]).trim().ends_with("main"));
}
