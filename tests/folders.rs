//! Output folders poolcap owns, only (issue 13): `review --out` writes a new
//! folder, an empty one, or replaces its own earlier review (marked with
//! `.poolcap-review`); any other folder or file is refused and left as it was.
//! Commands that only read never create a history store.

use std::path::Path;

use crate::util::{Output, poolcap, root};

/// A small month of metrics: a few rows per service, enough for a review.
fn tiny_metrics(dir: &Path) -> String {
    let mut csv = String::from("ts,service,instance,pool_size,max_overflow,checked_out\n");
    for h in 0..24 {
        csv.push_str(&format!("2026-10-15T{h:02}:00:00Z,backend,b-0,20,10,5\n"));
        csv.push_str(&format!("2026-10-15T{h:02}:00:00Z,worker,w-0,5,3,1\n"));
    }
    let path = dir.join("m.csv");
    std::fs::write(&path, csv).unwrap();
    path.display().to_string()
}

fn review(dir: &Path, out: &str) -> Output {
    let metrics = tiny_metrics(dir);
    let config = root().join("data/poolcap.toml");
    poolcap(&[
        "review",
        "--config",
        config.to_str().unwrap(),
        "--month",
        "2026-10",
        "--metrics",
        &metrics,
        "--out",
        out,
    ])
    .cwd(dir)
    .run()
}

#[test]
fn a_folder_poolcap_did_not_write_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("notes")).unwrap();
    std::fs::write(dir.path().join("notes/minutes.txt"), "keep me").unwrap();
    let out = review(dir.path(), "notes");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("--out notes") && out.stderr.contains("did not write"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes/minutes.txt")).unwrap(),
        "keep me"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "nothing beside notes/ and m.csv: {names:?}");
}

#[test]
fn a_file_the_current_folder_and_a_dangling_link_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "keep me").unwrap();
    std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("dangling")).unwrap();
    for (target, says) in [
        ("notes.txt", "not a folder"),
        (".", "current folder"),
        ("..", "current folder"),
        ("dangling", "symlink to nothing"),
    ] {
        let out = review(dir.path(), target);
        assert_eq!(out.code, 1, "{target}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{target}: {}", out.stderr);
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "keep me"
    );
    let hidden: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[test]
fn an_empty_folder_then_the_same_review_again_then_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("review")).unwrap();
    let out = review(dir.path(), "review");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(dir.path().join("review/report.md").exists());
    assert!(dir.path().join("review/.poolcap-review").exists());
    // Months without a sample say so, not 0.0 % (issue 14).
    let md = std::fs::read_to_string(dir.path().join("review/report.md")).unwrap();
    assert!(md.contains("| mean in 2026-09 | no data |"), "{md}");
    let html = std::fs::read_to_string(dir.path().join("review/report.html")).unwrap();
    assert!(
        html.contains("<th>mean in 2026-09</th><td class=\"num\">no data</td>"),
        "{html}"
    );
    // Poolcap's own review is replaced whole: a file added since is gone.
    std::fs::write(dir.path().join("review/stale.txt"), "old").unwrap();
    let again = review(dir.path(), "review");
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!dir.path().join("review/stale.txt").exists());
    // Through a symlink: the link stays a link, the folder it names is replaced.
    std::os::unix::fs::symlink(dir.path().join("review"), dir.path().join("latest")).unwrap();
    std::fs::write(dir.path().join("review/stale.txt"), "old").unwrap();
    let linked = review(dir.path(), "latest");
    assert_eq!(linked.code, 0, "{}", linked.stderr);
    assert!(
        std::fs::symlink_metadata(dir.path().join("latest"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!dir.path().join("review/stale.txt").exists());
    assert!(dir.path().join("review/report.md").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn reading_commands_never_create_a_store() {
    let dir = crate::util::sample_tree();
    for args in [
        vec!["plan", "--config", "poolcap.toml", "--month", "2026-10"],
        vec!["alerts", "--config", "poolcap.toml"],
    ] {
        let out = poolcap(&args).cwd(dir.path()).run();
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("no history store"), "{args:?}: {}", out.stderr);
        assert!(!dir.path().join("poolcap.db").exists(), "{args:?} created a store");
    }
}

/// Two services whose targets are one file (issue 13): a `shared-target`
/// finding, the budget counted for both, and `apply` refusing different sizes.
#[test]
fn services_sharing_a_target_file_are_named_and_cannot_write_different_pools() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
[database]
max_connections = 1000

[[services]]
name = "backend"
replicas = 2
processes_per_replica = 2
[services.targets]
env = { path = "deploy/backend.env" }
changelog = "CHANGELOG-capacity.md"

[[services]]
name = "reports"
[services.targets]
env = { path = "deploy/backend.env" }
changelog = "CHANGELOG-capacity.md"
"#;
    std::fs::write(dir.path().join("poolcap.toml"), config).unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    std::fs::copy(
        root().join("data/deploy/backend.env"),
        dir.path().join("deploy/backend.env"),
    )
    .unwrap();
    let write_metrics = |reports_busy: u32| {
        let mut csv = String::from("ts,service,instance,pool_size,max_overflow,checked_out\n");
        for k in 0..(31 * 24 * 12) {
            let ts = 1_790_812_800 + k * 300;
            csv.push_str(&format!(
                "{ts},backend,b-0,20,10,14\n{ts},reports,r-0,20,10,{reports_busy}\n"
            ));
        }
        std::fs::write(dir.path().join("m.csv"), csv).unwrap();
    };
    // backend's mean is 70 % (→ 25 + 13), reports' 20 % (keeps 20 + 10).
    write_metrics(4);
    let before = std::fs::read(dir.path().join("deploy/backend.env")).unwrap();
    let out = poolcap(&[
        "plan",
        "--config",
        "poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "m.csv",
        "--check",
    ])
    .cwd(dir.path())
    .run();
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stdout.contains("shared-target"), "{}", out.stdout);
    assert!(
        out.stdout.contains("backend 25 + 13, reports 20 + 10"),
        "{}",
        out.stdout
    );
    let out = poolcap(&[
        "apply",
        "--config",
        "poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "m.csv",
    ])
    .cwd(dir.path())
    .run();
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: deploy/backend.env is a target of backend and reports"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(dir.path().join("deploy/backend.env")).unwrap(), before);
    // Both busy: one pool for both, budgeted twice (4 × 38 + 1 × 38).
    write_metrics(14);
    let out = poolcap(&[
        "plan",
        "--config",
        "poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "m.csv",
        "--format",
        "json",
    ])
    .cwd(dir.path())
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["budget"]["required"], 190);
    let codes: Vec<&str> = json["services"][1]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"shared-target"), "{codes:?}");
}

/// A site's broken or runaway report template is a config error (exit 2)
/// naming it, and no review folder is left (issue 12).
#[test]
fn a_broken_report_template_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("site");
    std::fs::create_dir(&templates).unwrap();
    std::fs::copy(root().join("templates/report.md.j2"), templates.join("report.md.j2")).unwrap();
    for (html, says) in [
        ("{% for s in services %}{{ s.service }", "report.html.j2"),
        (
            "{% for a in range(10000) %}{% for b in range(10000) %}.{% endfor %}{% endfor %}",
            "fuel",
        ),
    ] {
        std::fs::write(templates.join("report.html.j2"), html).unwrap();
        let metrics = tiny_metrics(dir.path());
        let config = root().join("data/poolcap.toml");
        let out = poolcap(&[
            "review",
            "--config",
            config.to_str().unwrap(),
            "--month",
            "2026-10",
            "--metrics",
            &metrics,
            "--out",
            "r",
            "--templates",
            "site",
        ])
        .cwd(dir.path())
        .run();
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains(says) && out.stderr.contains("site/report.html.j2"),
            "{}",
            out.stderr
        );
        assert!(!dir.path().join("r").exists());
    }
}

/// `export … --out LINK` writes through the link (issue 13).
#[test]
fn export_writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/poolcap.yml"), "old\n").unwrap();
    std::os::unix::fs::symlink("rules/poolcap.yml", dir.path().join("current.yml")).unwrap();
    let config = root().join("data/poolcap.toml");
    let out = poolcap(&[
        "export",
        "prometheus-rules",
        "--config",
        config.to_str().unwrap(),
        "--out",
        "current.yml",
    ])
    .cwd(dir.path())
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        std::fs::symlink_metadata(dir.path().join("current.yml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let rules = std::fs::read_to_string(dir.path().join("rules/poolcap.yml")).unwrap();
    assert!(rules.contains("groups:"), "{rules}");
}
