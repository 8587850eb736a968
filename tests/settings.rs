//! Settings that belong to the team (issue 14): `[services.pool]`, per-target
//! units, the file's boolean style, and `setting-drift` — a fixed setting that
//! differs from the config is named, and a tenfold change is blocked unless
//! `--accept-drift`.

use std::path::Path;

use crate::util::{Output, poolcap, root};

/// A deployment of the sample targets with `config_extra` appended to a
/// minimal config, and a quiet month (nothing to resize).
fn deployment(service_extra: &str, env_extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
[database]
max_connections = 1000

[[services]]
name = "backend"
replicas = 2
processes_per_replica = 2
{service_extra}
[services.targets]
env = {{ path = "deploy/backend.env"{env_extra} }}
changelog = "CHANGELOG-capacity.md"
"#
    );
    std::fs::write(dir.path().join("poolcap.toml"), config).unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    std::fs::copy(
        root().join("data/deploy/backend.env"),
        dir.path().join("deploy/backend.env"),
    )
    .unwrap();
    let mut csv = String::from("ts,service,instance,pool_size,max_overflow,checked_out\n");
    for k in 0..(31 * 24 * 12) {
        csv.push_str(&format!("{},backend,b-0,20,10,6\n", 1_790_812_800 + k * 300));
    }
    std::fs::write(dir.path().join("m.csv"), csv).unwrap();
    dir
}

fn set_env(dir: &Path, from: &str, to: &str) {
    let path = dir.join("deploy/backend.env");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--config", "poolcap.toml"]);
    if matches!(args[0], "plan" | "apply") {
        all.extend(["--month", "2026-10", "--metrics", "m.csv"]);
    }
    poolcap(&all).cwd(dir).run()
}

fn env_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("deploy/backend.env")).unwrap()
}

/// `DB_STATEMENT_TIMEOUT=30` in a team whose app reads seconds: without a
/// unit it is a 1000× drift that blocks; with `units` it is simply right.
#[test]
fn a_tenfold_drift_blocks_and_units_say_what_a_file_means() {
    let dir = deployment("", "");
    set_env(dir.path(), "DB_STATEMENT_TIMEOUT=30000", "DB_STATEMENT_TIMEOUT=30");
    let before = env_text(dir.path());
    let out = run(dir.path(), &["plan", "--check"]);
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("update settings"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("deploy/backend.env: DB_STATEMENT_TIMEOUT is 30 (0.03 s)")
            && out.stdout.contains("→ 30000 (30 s), a change of 1000×"),
        "{}",
        out.stdout
    );
    for args in [
        vec!["apply"],
        vec!["override", "backend", "--bump", "--reason", "ward round"],
    ] {
        let out = run(dir.path(), &args);
        assert_eq!(out.code, 4, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .starts_with("error: deploy/backend.env: DB_STATEMENT_TIMEOUT"),
            "{args:?}: {}",
            out.stderr
        );
        assert_eq!(env_text(dir.path()), before, "{args:?} wrote");
    }
    // Accepted: written, and the change log says so.
    let out = run(dir.path(), &["apply", "--accept-drift"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(env_text(dir.path()).contains("DB_STATEMENT_TIMEOUT=30000"));
    let log = std::fs::read_to_string(dir.path().join("CHANGELOG-capacity.md")).unwrap();
    assert!(log.contains("setting-drift"), "{log}");

    // The same file with units = seconds: nothing drifts, nothing is rewritten.
    let dir = deployment("", r#", units = { statement_timeout = "s" }"#);
    set_env(dir.path(), "DB_STATEMENT_TIMEOUT=30000", "DB_STATEMENT_TIMEOUT=30");
    let before = env_text(dir.path());
    let out = run(dir.path(), &["plan", "--check"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("setting-drift"), "{}", out.stdout);
    let out = run(dir.path(), &["override", "backend", "--bump", "--reason", "ward round"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = env_text(dir.path());
    assert!(after.contains("DB_STATEMENT_TIMEOUT=30   # milliseconds"), "{after}");
    assert_eq!(
        after
            .replace("DB_POOL_SIZE=25", "DB_POOL_SIZE=20")
            .replace("DB_MAX_OVERFLOW=13", "DB_MAX_OVERFLOW=10"),
        before
    );
}

/// A report worker's own statement_timeout survives an incident bump.
#[test]
fn a_services_own_pool_settings_are_kept() {
    let dir = deployment("[services.pool]\nstatement_timeout = \"60s\"\n", "");
    set_env(dir.path(), "DB_STATEMENT_TIMEOUT=30000", "DB_STATEMENT_TIMEOUT=60000");
    let out = run(dir.path(), &["plan", "--check"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let out = run(dir.path(), &["override", "backend", "--bump", "--reason", "ward round"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        env_text(dir.path()).contains("DB_STATEMENT_TIMEOUT=60000"),
        "{}",
        env_text(dir.path())
    );
    // Without [services.pool] the same file drifts (2×: reported, not blocked).
    let dir = deployment("", "");
    set_env(dir.path(), "DB_STATEMENT_TIMEOUT=30000", "DB_STATEMENT_TIMEOUT=60000");
    let out = run(dir.path(), &["plan", "--check"]);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("! setting-drift") && out.stdout.contains("60000 (60 s) → 30000 (30 s)"),
        "{}",
        out.stdout
    );
}

/// `1`/`0` stay numbers: a `1` that means true keeps its bytes, a `0` that
/// must become true is written as `1` (Python's `int()` still reads it).
#[test]
fn the_files_boolean_style_is_kept() {
    let dir = deployment("", "");
    set_env(dir.path(), "DB_POOL_PRE_PING=true", "DB_POOL_PRE_PING=1");
    let out = run(dir.path(), &["override", "backend", "--bump", "--reason", "x"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        env_text(dir.path()).contains("DB_POOL_PRE_PING=1\n"),
        "{}",
        env_text(dir.path())
    );
    let dir = deployment("", "");
    set_env(dir.path(), "DB_POOL_PRE_PING=true", "DB_POOL_PRE_PING=0");
    let out = run(dir.path(), &["plan"]);
    assert!(
        out.stdout.contains("DB_POOL_PRE_PING is 0 (false) → 1 (true)"),
        "{}",
        out.stdout
    );
    let out = run(dir.path(), &["apply"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        env_text(dir.path()).contains("DB_POOL_PRE_PING=1\n"),
        "{}",
        env_text(dir.path())
    );
}
