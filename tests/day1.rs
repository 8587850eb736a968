//! First-day commands (issue 14): `init`, `doctor`, `completions`, `man`, and
//! the `create` key of target tables.

use std::path::Path;

use crate::util::{SAMPLE_METRICS, poolcap, root};

/// The sample deployment's target files copied into `dir/deploy`.
fn deploy(dir: &Path) {
    std::fs::create_dir(dir.join("deploy")).unwrap();
    for f in ["backend.env", "values.yaml", "worker.toml"] {
        std::fs::copy(root().join("data/deploy").join(f), dir.join("deploy").join(f)).unwrap();
    }
}

fn init_sample(dir: &Path, extra: &[&str]) -> crate::util::Output {
    let mut args = vec![
        "init",
        "--service",
        "backend",
        "--service",
        "worker",
        "--env",
        "deploy/backend.env",
        "--yaml",
        "deploy/values.yaml:backend.env",
        "--toml",
        "worker=deploy/worker.toml:database.pool",
    ];
    args.extend(extra);
    poolcap(&args).cwd(dir).run()
}

#[test]
fn init_from_the_sample_files_loads_and_plans() {
    let dir = tempfile::tempdir().unwrap();
    deploy(dir.path());
    let out = init_sample(dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let config = dir.path().join("poolcap.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    // Every key line carries a comment saying what it is.
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('[') {
            continue;
        }
        assert!(t.contains(" # "), "uncommented key line: {line:?}");
    }
    assert!(text.contains("PostgreSQL's default"), "{text}");
    let settings = poolcap::config::load(&config).unwrap();
    let names: Vec<&str> = settings.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["backend", "worker"]);
    let backend = &settings.services[0];
    assert_eq!(
        backend.current,
        Some(poolcap::model::PoolSize {
            pool_size: 20,
            max_overflow: 10
        })
    );
    assert_eq!(backend.targets.len(), 2);
    assert_eq!(backend.targets[0].shown, "deploy/backend.env");
    assert_eq!(backend.targets[1].prefix, ["backend", "env"]);
    assert_eq!(settings.services[1].targets[0].prefix, ["database", "pool"]);

    let metrics: Vec<String> = SAMPLE_METRICS
        .iter()
        .map(|m| root().join(m).display().to_string())
        .collect();
    let mut args = vec!["plan", "--month", "2026-10", "--format", "json", "--metrics"];
    args.extend(metrics.iter().map(String::as_str));
    let out = poolcap(&args).cwd(dir.path()).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(plan.is_object());
}

#[test]
fn init_names_the_service_after_the_first_file() {
    let dir = tempfile::tempdir().unwrap();
    deploy(dir.path());
    let out = poolcap(&["init", "--env", "deploy/backend.env"]).cwd(dir.path()).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let settings = poolcap::config::load(&dir.path().join("poolcap.toml")).unwrap();
    assert_eq!(settings.services[0].name, "backend");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    deploy(dir.path());
    std::fs::write(dir.path().join("poolcap.toml"), "# mine\n").unwrap();
    let out = init_sample(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("poolcap.toml") && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("poolcap.toml")).unwrap(),
        "# mine\n"
    );
    let out = init_sample(dir.path(), &["--force"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(poolcap::config::load(&dir.path().join("poolcap.toml")).is_ok());
}

#[test]
fn init_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = poolcap(&["init", "--env", "deploy/nope.env"]).cwd(dir.path()).run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("deploy/nope.env"), "{}", out.stderr);
    assert!(!dir.path().join("poolcap.toml").exists());
}

fn doctor(config: &str, extra: &[&str]) -> crate::util::Output {
    let mut args = vec!["doctor", "--config", config, "--month", "2026-10"];
    args.extend(extra);
    poolcap(&args).run()
}

#[test]
fn doctor_on_the_sample_is_clean() {
    let mut extra = vec!["--metrics"];
    extra.extend(SAMPLE_METRICS);
    let out = doctor("data/poolcap.toml", &extra);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.lines().all(|l| l.starts_with("ok ")), "{}", out.stdout);

    let mut extra = extra.clone();
    extra.extend(["--format", "json"]);
    let out = doctor("data/poolcap.toml", &extra);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert!(json["checks"].as_array().unwrap().iter().all(|c| c["status"] == "ok"));
}

/// The sample config in `dir` with `edit` applied, and its target files.
fn sample_config(dir: &Path, edit: impl Fn(String) -> String) -> String {
    deploy(dir);
    let text = std::fs::read_to_string(root().join("data/poolcap.toml")).unwrap();
    let path = dir.join("poolcap.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path.display().to_string()
}

#[test]
fn doctor_names_a_misspelt_target() {
    let dir = tempfile::tempdir().unwrap();
    let config = sample_config(dir.path(), |t| t.replace("deploy/backend.env", "deploy/backend.evn"));
    let mut extra = vec!["--metrics"];
    extra.extend(
        SAMPLE_METRICS
            .iter()
            .map(|m| root().join(m).display().to_string().leak() as &str),
    );
    let out = doctor(&config, &extra);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let line = out.stdout.lines().find(|l| l.starts_with("error")).unwrap();
    assert!(
        line.contains("deploy/backend.evn") && line.contains("create = true"),
        "{line}"
    );
}

#[test]
fn doctor_suggests_the_service_a_metric_misspells() {
    let dir = tempfile::tempdir().unwrap();
    let config = sample_config(dir.path(), |t| t);
    let mut csv = String::from("ts,service,instance,pool_size,max_overflow,checked_out\n");
    let start = 1_790_812_800; // 2026-10-01T00:00:00Z
    for k in 0..(31 * 24 * 12) {
        let ts = start + k * 300;
        csv.push_str(&format!("{ts},Back_end,b-0,20,10,5\n{ts},worker,w-0,10,5,2\n"));
    }
    let metrics = dir.path().join("m.csv");
    std::fs::write(&metrics, csv).unwrap();
    let out = doctor(&config, &["--metrics", metrics.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("\"Back_end\"") && out.stdout.contains("did you mean \"backend\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("error    service \"backend\": no samples in 2026-10"),
        "{}",
        out.stdout
    );
}

#[test]
fn doctor_names_a_store_that_is_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let config = sample_config(dir.path(), |t| t);
    let store = dir.path().join("missing.db");
    let out = doctor(&config, &["--store", store.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("missing.db"), "{}", out.stdout);
}

#[test]
fn a_missing_target_is_an_error_unless_create_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let config = sample_config(dir.path(), |t| t.replace("deploy/backend.env", "deploy/backend.evn"));
    let metrics: Vec<String> = SAMPLE_METRICS
        .iter()
        .map(|m| root().join(m).display().to_string())
        .collect();
    let run = |config: &str| {
        let mut args = vec![
            "apply",
            "--dry-run",
            "--config",
            config,
            "--month",
            "2026-10",
            "--metrics",
        ];
        args.extend(metrics.iter().map(String::as_str));
        poolcap(&args).run()
    };
    let out = run(&config);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("deploy/backend.evn") && out.stderr.contains("create = true"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("/dev/null"), "{}", out.stdout);

    let text = std::fs::read_to_string(&config).unwrap().replace(
        "env = { path = \"deploy/backend.evn\" }",
        "env = { path = \"deploy/backend.evn\", create = true }",
    );
    std::fs::write(&config, text).unwrap();
    let out = run(&config);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("/dev/null"), "{}", out.stdout);
}

#[test]
fn create_on_a_yaml_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = sample_config(dir.path(), |t| {
        t.replace(
            "prefix = \"backend.env\" }",
            "prefix = \"backend.env\", create = true }",
        )
    });
    let out = poolcap(&["doctor", "--config", &config]).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("create") && out.stdout.contains(":"),
        "{}",
        out.stdout
    );
}

#[test]
fn completions_for_bash() {
    let out = poolcap(&["completions", "bash"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("poolcap"));
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        assert_eq!(poolcap(&["completions", shell]).run().code, 0, "{shell}");
    }
}

#[test]
fn man_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = poolcap(&["man", "--out", dir.path().to_str().unwrap()]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    for page in [
        "poolcap.1",
        "poolcap-plan.1",
        "poolcap-export-grafana.1",
        "poolcap-init.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
}
