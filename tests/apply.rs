//! `apply` and `override` on a copy of the sample deployment: idempotency,
//! atomicity, concurrency, secrets, the budget guard, and the golden entry.

use std::path::{Path, PathBuf};

use crate::util::{Output, SAMPLE_METRICS, poolcap, root};

/// The secrets in the sample's target files: none may ever be printed.
const SECRETS: [&str; 4] = [
    "Wr4ng-Horse-Battery",
    "Tr0ub4dor-3",
    "9f8e7d6c5b4a",
    "registry.internal",
];

/// A copy of `data/poolcap.toml` and `data/deploy/` in a temporary directory.
pub struct Deployment {
    pub dir: tempfile::TempDir,
}

impl Deployment {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(root().join("data/poolcap.toml"), dir.path().join("poolcap.toml")).unwrap();
        std::fs::create_dir(dir.path().join("deploy")).unwrap();
        for f in ["backend.env", "values.yaml", "worker.toml"] {
            std::fs::copy(root().join("data/deploy").join(f), dir.path().join("deploy").join(f)).unwrap();
        }
        Deployment { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    /// Every file of the deployment, for before/after comparisons.
    pub fn snapshot(&self) -> Vec<(String, String)> {
        let mut files = Vec::new();
        for rel in [
            "deploy/backend.env",
            "deploy/values.yaml",
            "deploy/worker.toml",
            "CHANGELOG-capacity.md",
        ] {
            files.push((rel.to_string(), self.read(rel)));
        }
        files
    }

    /// `poolcap ARGS… --config <copy>`, with the sample metrics for commands that read them.
    pub fn run(&self, args: &[&str]) -> Output {
        let config = self.path("poolcap.toml");
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(["--config".into(), config.display().to_string()]);
        if matches!(args[0], "plan" | "apply") {
            all.push("--metrics".into());
            all.extend(SAMPLE_METRICS.iter().map(|m| root().join(m).display().to_string()));
        }
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        poolcap(&refs).cwd(self.dir.path()).run()
    }
}

fn assert_no_secrets(out: &Output, what: &str) {
    for s in SECRETS {
        assert!(
            !out.stdout.contains(s) && !out.stderr.contains(s),
            "{what} printed a secret {s:?}:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

/// The entry's evidence without the run's folders: the temporary tree and the
/// crate root become `<tree>` and `<root>`; the plan's digest (which covers
/// those paths) and the hidden evidence line (checked by tests/verify.rs)
/// become placeholders.
fn normalize_paths(tree: &std::path::Path, text: &str) -> String {
    let text = text
        .replace(&tree.display().to_string(), "<tree>")
        .replace(&root().display().to_string(), "<root>");
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("<!-- poolcap:evidence=") {
            out.push_str("<!-- poolcap:evidence=… -->");
        } else if let Some(at) = line.find("plan.json SHA-256 `") {
            let start = at + "plan.json SHA-256 `".len();
            out.push_str(&line[..start]);
            out.push_str("<sha256>");
            out.push_str(&line[start + 64..]);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn normalize_date(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("## ")
            && rest.len() > 10
            && rest.as_bytes()[4] == b'-'
        {
            out.push_str("## YYYY-MM-DD");
            out.push_str(&rest[10..]);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn check_apply_then_check_again() {
    let d = Deployment::new();
    let out = d.run(&["plan", "--month", "2026-10", "--check"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("would change: deploy/backend.env (backend)"),
        "{}",
        out.stderr
    );

    let before = d.snapshot();
    let out = d.run(&["apply", "--month", "2026-10", "--dry-run", "--author", "Test Author"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("\n-DB_POOL_SIZE=20\n") && out.stdout.contains("\n+DB_POOL_SIZE=25\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("+    DB_POOL_SIZE: \"25\""), "{}", out.stdout);
    assert_eq!(d.snapshot(), before, "--dry-run writes nothing");
    assert_no_secrets(&out, "apply --dry-run");

    let out = d.run(&[
        "apply",
        "--month",
        "2026-10",
        "--author",
        "Test Author",
        "--ticket",
        "CAP-1",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_no_secrets(&out, "apply");
    assert!(
        d.read("deploy/backend.env")
            .contains("DB_POOL_SIZE=25\nDB_MAX_OVERFLOW=13\n")
    );
    assert!(
        d.read("deploy/values.yaml")
            .contains("DB_POOL_SIZE: \"25\"\n    DB_MAX_OVERFLOW: \"13\"\n")
    );
    insta::assert_snapshot!(
        "changelog-2026-10.md",
        normalize_paths(d.dir.path(), &normalize_date(&d.read("CHANGELOG-capacity.md")))
    );

    let out = d.run(&["plan", "--month", "2026-10", "--check"]);
    assert_eq!(out.code, 0, "after apply nothing drifts: {}", out.stderr);
}

#[test]
fn applying_twice_changes_nothing_the_second_time() {
    let d = Deployment::new();
    assert_eq!(d.run(&["apply", "--month", "2026-10", "--author", "A"]).code, 0);
    let first = d.snapshot();
    let out = d.run(&["apply", "--month", "2026-10", "--author", "B"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("nothing to change"), "{}", out.stderr);
    assert_eq!(d.snapshot(), first);
    assert_eq!(d.read("CHANGELOG-capacity.md").matches("<!-- poolcap:id=").count(), 1);
}

/// Makes `dir` unwritable even for root (immutable flag); `false` when this
/// file system or user cannot, so the caller skips.
fn make_unwritable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let immutable = std::process::Command::new("chattr")
        .arg("+i")
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if !immutable {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    std::fs::File::create(dir.join("probe")).is_err()
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::process::Command::new("chattr").arg("-i").arg(dir).status();
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
}

#[test]
fn one_unwritable_target_changes_no_file() {
    let d = Deployment::new();
    // Move the YAML target into its own directory, and make that directory unwritable.
    std::fs::create_dir(d.path("deploy/helm")).unwrap();
    std::fs::rename(d.path("deploy/values.yaml"), d.path("deploy/helm/values.yaml")).unwrap();
    let config = d
        .read("poolcap.toml")
        .replace("deploy/values.yaml", "deploy/helm/values.yaml");
    std::fs::write(d.path("poolcap.toml"), config).unwrap();
    let before = (d.read("deploy/backend.env"), d.read("deploy/helm/values.yaml"));
    if !make_unwritable(&d.path("deploy/helm")) {
        println!("skipped: cannot make a directory unwritable here (chattr +i and chmod both ineffective)");
        make_writable(&d.path("deploy/helm"));
        return;
    }
    let out = d.run(&["apply", "--month", "2026-10", "--author", "A"]);
    make_writable(&d.path("deploy/helm"));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("deploy/helm/values.yaml") && out.stderr.contains("no file was changed"),
        "{}",
        out.stderr
    );
    assert_eq!(
        (d.read("deploy/backend.env"), d.read("deploy/helm/values.yaml")),
        before
    );
    assert!(!d.path("CHANGELOG-capacity.md").exists());
    let leftovers: Vec<_> = std::fs::read_dir(d.path("deploy"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 3, "no temporary file left behind: {leftovers:?}");
}

#[test]
fn two_concurrent_applies_write_once() {
    use std::process::{Command, Stdio};
    let d = Deployment::new();
    let spawn = || {
        let mut args: Vec<String> = vec![
            "apply".into(),
            "--month".into(),
            "2026-10".into(),
            "--author".into(),
            "A".into(),
            // The second run waits for the first, which on a loaded machine
            // (the whole suite on two cores) takes longer than the default 10 s.
            "--lock-timeout".into(),
            "2m".into(),
        ];
        args.extend([
            "--config".into(),
            d.path("poolcap.toml").display().to_string(),
            "--metrics".into(),
        ]);
        args.extend(SAMPLE_METRICS.iter().map(|m| root().join(m).display().to_string()));
        Command::new(env!("CARGO_BIN_EXE_poolcap"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{a:?}\n{b:?}");
    // One wrote, the other waited for the lock, re-read the files and found nothing to do.
    assert_eq!(d.read("CHANGELOG-capacity.md").matches("<!-- poolcap:id=").count(), 1);
    assert!(d.read("deploy/backend.env").contains("DB_POOL_SIZE=25\n"));
    let single = Deployment::new();
    assert_eq!(single.run(&["apply", "--month", "2026-10", "--author", "A"]).code, 0);
    assert_eq!(d.read("deploy/values.yaml"), single.read("deploy/values.yaml"));
}

#[test]
fn a_blocked_plan_is_refused_unless_overridden_with_a_reason() {
    let d = Deployment::new();
    let before = d.snapshot();
    let out = d.run(&["apply", "--month", "2026-09", "--author", "A"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("blocked by the connection budget") && out.stderr.contains("4 × 60"),
        "{}",
        out.stderr
    );
    assert_eq!(d.snapshot(), before);

    let out = d.run(&["apply", "--month", "2026-09", "--allow-over-budget"]);
    assert_eq!(out.code, 2, "--allow-over-budget needs --reason");

    let reason = "max_connections raised to 400 in CHG-12, restart on Sunday";
    let out = d.run(&[
        "apply",
        "--month",
        "2026-09",
        "--author",
        "A",
        "--allow-over-budget",
        "--reason",
        reason,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log = d.read("CHANGELOG-capacity.md");
    assert!(log.contains(&format!("**Applied over budget**: {reason}")), "{log}");
    assert!(d.read("deploy/backend.env").contains("DB_POOL_SIZE=40\n"));
}

#[test]
fn override_bumps_writes_and_says_what_to_deploy() {
    let d = Deployment::new();
    let out = d.run(&[
        "override",
        "backend",
        "--bump",
        "--reason",
        "pool exhausted during ward round",
        "--incident",
        "INC-881",
        "--author",
        "On Call",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("backend: pool 20 + 10 → 25 + 13"), "{}", out.stdout);
    assert!(
        out.stdout.contains("  DB_POOL_SIZE=25\n  DB_MAX_OVERFLOW=13\n"),
        "{}",
        out.stdout
    );
    assert_no_secrets(&out, "override");
    let log = d.read("CHANGELOG-capacity.md");
    assert!(
        log.contains("**Incident override** for INC-881: pool exhausted during ward round"),
        "{log}"
    );
    assert!(
        log.contains("poolcap:id=backend:incident-INC-881:20+10>25+13:"),
        "{log}"
    );
    // The same override again (same incident, now from 25): a new step and a new entry.
    let out = d.run(&[
        "override",
        "backend",
        "--to",
        "25",
        "--reason",
        "again",
        "--incident",
        "INC-881",
    ]);
    assert_eq!(out.code, 0);
    assert!(out.stderr.contains("nothing to change"), "{}", out.stderr);
}

#[test]
fn override_to_an_out_file_and_its_guards() {
    let d = Deployment::new();
    let env = d.path("override.env");
    let out = d.run(&[
        "override",
        "worker",
        "--to",
        "14",
        "--reason",
        "HL7 backlog",
        "--out",
        env.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        d.read("override.env"),
        "# managed by poolcap\nDB_POOL_SIZE=14\nDB_MAX_OVERFLOW=7\nDB_POOL_TIMEOUT=30\nDB_POOL_RECYCLE=3600\nDB_POOL_PRE_PING=true\nDB_STATEMENT_TIMEOUT=30000\n"
    );
    assert!(
        d.read("deploy/worker.toml").contains("pool_size = 10"),
        "targets untouched with --out"
    );

    let out = d.run(&["override", "backend", "--to", "61", "--reason", "x"]);
    assert_eq!(out.code, 4, "above max_pool_size: {}", out.stderr);
    let out = d.run(&["override", "backend", "--to", "45", "--reason", "x"]);
    assert_eq!(out.code, 4, "over budget: {}", out.stderr);
    assert!(out.stderr.contains("breaks the connection budget"), "{}", out.stderr);
    let out = d.run(&["override", "frontend", "--bump", "--reason", "x"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown service \"frontend\""), "{}", out.stderr);
    let out = d.run(&["override", "backend", "--reason", "x"]);
    assert_eq!(out.code, 2, "--bump or --to is required");
}

#[test]
fn secrets_never_appear_in_any_output() {
    let d = Deployment::new();
    for args in [
        vec!["plan", "--month", "2026-10"],
        vec!["plan", "--month", "2026-10", "--format", "json"],
        vec!["apply", "--month", "2026-10", "--dry-run"],
        vec!["apply", "--month", "2026-10", "--dry-run", "--format", "json"],
        vec!["override", "backend", "--bump", "--reason", "r", "--dry-run"],
        vec!["apply", "--month", "2026-10", "-v"],
        vec!["override", "worker", "--bump", "--reason", "r"],
    ] {
        let out = d.run(&args);
        assert_no_secrets(&out, &args.join(" "));
    }
    // A broken target file: the error names the file, not its content.
    std::fs::write(
        d.path("deploy/worker.toml"),
        "url = \"postgresql://w:Tr0ub4dor-3@db\"\n[database.pool\n",
    )
    .unwrap();
    let out = d.run(&["plan", "--month", "2026-10"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("deploy/worker.toml"), "{}", out.stderr);
    assert_no_secrets(&out, "plan on a broken target");
}

#[test]
fn disagreeing_targets_and_duplicate_keys_are_findings() {
    let d = Deployment::new();
    let yaml = d
        .read("deploy/values.yaml")
        .replace("DB_POOL_SIZE: \"20\"", "DB_POOL_SIZE: \"18\"");
    std::fs::write(d.path("deploy/values.yaml"), yaml).unwrap();
    let env = d.read("deploy/backend.env") + "DB_MAX_OVERFLOW=10\n";
    std::fs::write(d.path("deploy/backend.env"), env).unwrap();
    let out = d.run(&["plan", "--month", "2026-08", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let backend = &plan["services"][0];
    assert_eq!(
        backend["current"]["pool_size"], 20,
        "the env file is the source of truth"
    );
    let messages: Vec<(&str, &str)> = backend["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["message"].as_str().unwrap()))
        .collect();
    assert!(
        messages
            .iter()
            .any(|(c, m)| *c == "targets-disagree" && m.contains("18 in deploy/values.yaml")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|(c, m)| *c == "duplicate-key" && m.contains("DB_MAX_OVERFLOW is set 2 times")),
        "{messages:?}"
    );
}

#[test]
fn apply_and_override_are_recorded_in_the_history_store() {
    let d = Deployment::new();
    let db = d.path("history.db").display().to_string();
    // Without a store in use nothing is recorded, and no store is created.
    assert_eq!(
        d.run(&["apply", "--month", "2026-10", "--author", "A", "--dry-run"])
            .code,
        0
    );
    assert!(!d.path("poolcap.db").exists());
    assert_eq!(
        d.run(&["apply", "--month", "2026-10", "--author", "A", "--store", &db])
            .code,
        0
    );
    let out = d.run(&[
        "override",
        "backend",
        "--bump",
        "--reason",
        "r",
        "--incident",
        "INC-1",
        "--store",
        &db,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let changes = poolcap::store::history::Store::open(&db)
        .unwrap()
        .changes("backend")
        .unwrap();
    let kinds: Vec<&str> = changes.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(kinds, vec!["review", "override"], "{changes:?}");
    assert!(changes[0].0.starts_with("backend:2026-10:20+10>25+13:"));
    assert!(changes[1].0.starts_with("backend:incident-INC-1:25+13>30+15:"));
}

/// A deployment of `n` services `svc-0000…`, each with its own env target at
/// 20 + 10 and a month of 3-hourly samples at 14 of 20 (so each escalates to
/// 25 + 13), all writing to one change log (as `benches/apply_scale.py`).
struct ManyServices {
    dir: tempfile::TempDir,
}

impl ManyServices {
    fn new(n: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("deploy")).unwrap();
        let mut config = String::from("[policy]\ntimezone = \"UTC\"\n[database]\nmax_connections = 262143\n");
        let mut csv = String::from(
            "ts,service,instance,pool_size,max_overflow,checked_out,checked_in,overflow,waiting,timeouts\n",
        );
        let (start, end, step) = (1_790_812_800_i64, 1_793_491_200_i64, 3 * 3600);
        for i in 0..n {
            let name = format!("svc-{i:04}");
            config.push_str(&format!(
                "[[services]]\nname = \"{name}\"\nreplicas = 1\nprocesses_per_replica = 1\n[services.targets]\nenv = {{ path = \"deploy/{name}.env\" }}\nchangelog = \"CHANGELOG-capacity.md\"\n"
            ));
            std::fs::write(
                dir.path().join(format!("deploy/{name}.env")),
                "DB_POOL_SIZE=20\nDB_MAX_OVERFLOW=10\n",
            )
            .unwrap();
            let mut ts = start - step;
            while ts < end + step {
                csv.push_str(&format!("{ts},{name},{name}-0,20,10,14,6,0,0,0\n"));
                ts += step;
            }
        }
        std::fs::write(dir.path().join("poolcap.toml"), config).unwrap();
        std::fs::write(dir.path().join("metrics.csv"), csv).unwrap();
        ManyServices { dir }
    }

    fn apply(&self, extra: &[&str]) -> Output {
        let config = self.dir.path().join("poolcap.toml").display().to_string();
        let metrics = self.dir.path().join("metrics.csv").display().to_string();
        let mut args = vec![
            "apply",
            "--month",
            "2026-10",
            "--author",
            "A",
            "--config",
            &config,
            "--metrics",
            &metrics,
        ];
        args.extend(extra);
        poolcap(&args).cwd(self.dir.path()).run()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("CHANGELOG-capacity.md")).unwrap_or_default()
    }
}

/// The services of the log's entries, top to bottom.
fn logged_services(log: &str) -> Vec<String> {
    log.split("<!-- poolcap:id=")
        .skip(1)
        .map(|e| e.split(':').next().unwrap().to_string())
        .collect()
}

#[test]
fn services_sharing_a_change_log_get_one_entry_each_newest_first() {
    let d = ManyServices::new(5);
    let out = d.apply(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log = d.log();
    assert!(log.starts_with("# Connection-pool capacity change log\n"), "{log}");
    // Each service's entry goes in as the newest: the last service ends up first.
    assert_eq!(
        logged_services(&log),
        ["svc-0004", "svc-0003", "svc-0002", "svc-0001", "svc-0000"]
    );

    // The targets put back, the log kept: the files change again but every
    // entry is already in the log, so the log is left as it is.
    for i in [1, 3] {
        std::fs::write(
            d.dir.path().join(format!("deploy/svc-{i:04}.env")),
            "DB_POOL_SIZE=20\nDB_MAX_OVERFLOW=10\n",
        )
        .unwrap();
    }
    let out = d.apply(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("wrote deploy/svc-0001.env"), "{}", out.stderr);
    assert!(!out.stderr.contains("CHANGELOG"), "{}", out.stderr);
    assert_eq!(d.log(), log);
}

/// Issue 13: many services sharing one log each get their one entry, the
/// last service first, in one write. How long that takes (it was quadratic)
/// is measured by benches/apply_scale.py, not by a timed test.
#[test]
fn many_services_sharing_one_log_get_one_entry_each() {
    let d = ManyServices::new(300);
    let out = d.apply(&["--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("301 file(s) would change"), "{}", out.stderr);
    let out = d.apply(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let services = logged_services(&d.log());
    assert_eq!(services.len(), 300);
    assert_eq!((services[0].as_str(), services[299].as_str()), ("svc-0299", "svc-0000"));
}
