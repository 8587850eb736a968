//! First-day ergonomics (issue 14): the small things a new user trips on,
//! each once a confusing error or a silent surprise.

use crate::util::{poolcap, root};

const HEADER: &str = "ts,service,instance,pool_size,max_overflow,checked_out";

fn plan_of(path: &std::path::Path, extra: &[&str]) -> crate::util::Output {
    let mut args = vec![
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        path.to_str().unwrap(),
    ];
    args.extend(extra);
    poolcap(&args).run()
}

#[test]
fn the_time_column_may_be_called_timestamp_or_time() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["timestamp", "time", "TS"] {
        let path = dir.path().join(format!("{name}.csv"));
        let header = HEADER.replacen("ts", name, 1);
        std::fs::write(&path, format!("{header}\n2026-10-15T09:00:00Z,backend,b-0,20,10,5\n")).unwrap();
        let out = plan_of(&path, &["--format", "json"]);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
    }
}

#[test]
fn a_semicolon_separated_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.csv");
    std::fs::write(
        &path,
        format!(
            "{}\n2026-10-15T09:00:00Z;backend;b-0;20;10;5\n",
            HEADER.replace(',', ";")
        ),
    )
    .unwrap();
    let out = plan_of(&path, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("m.csv:1:") && out.stderr.contains("comma-separated"),
        "{}",
        out.stderr
    );
}

#[test]
fn crlf_rows_are_named_by_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.csv");
    let text =
        format!("{HEADER}\r\n2026-10-15T09:00:00Z,backend,b-0,20,10,5\r\n2026-10-15T09:01:00Z,backend,b-0,20,10,x\r\n");
    std::fs::write(&path, text).unwrap();
    let out = plan_of(&path, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("m.csv:3: checked_out \"x\""), "{}", out.stderr);
}

#[test]
fn a_metrics_folder_is_read_file_by_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("data/metrics/2026-10.csv.gz"),
        dir.path().join("2026-10.csv.gz"),
    )
    .unwrap();
    std::fs::write(dir.path().join(".hidden"), "not metrics").unwrap();
    let from_folder = plan_of(dir.path(), &["--format", "json"]);
    assert_eq!(from_folder.code, 0, "{}", from_folder.stderr);
    let from_file = plan_of(&root().join("data/metrics/2026-10.csv.gz"), &["--format", "json"]);
    let services =
        |o: &crate::util::Output| serde_json::from_str::<serde_json::Value>(&o.stdout).unwrap()["services"].clone();
    assert_eq!(services(&from_folder), services(&from_file));
    let empty = tempfile::tempdir().unwrap();
    let out = plan_of(empty.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("holds no file to read"), "{}", out.stderr);
}

#[test]
fn month_last_is_the_previous_calendar_month() {
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "last",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
        "--format",
        "json",
        "--allow-missing-data",
        "--check",
    ])
    .run();
    assert!(out.code == 0 || out.code == 3, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::get("Europe/London").unwrap());
    let last = if now.month() == 1 {
        format!("{}-12", now.year() - 1)
    } else {
        format!("{}-{:02}", now.year(), now.month() - 1)
    };
    assert_eq!(plan["month"], last);
}

#[test]
fn a_metric_format_on_plans_slowlog_flag_gets_a_hint() {
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "x.csv",
        "--input-format",
        "csv",
    ])
    .run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--metrics-format csv"), "{}", out.stderr);
}

#[test]
fn ingest_warns_on_services_the_config_does_not_define() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.csv");
    std::fs::write(&path, format!("{HEADER}\n2026-10-15T09:00:00Z,Backend_,b-0,20,10,5\n")).unwrap();
    let store = dir.path().join("store.db");
    let out = poolcap(&[
        "ingest",
        "metrics",
        path.to_str().unwrap(),
        "--config",
        "data/poolcap.toml",
        "--store",
        store.to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("service \"Backend_\" is not a service of")
            && out.stderr.contains("did you mean \"backend\""),
        "{}",
        out.stderr
    );
}

/// A file whose every row is bad says why, by code, with the first row of
/// each code and how to fix it — without -v (issue 14).
#[test]
fn a_wholly_bad_file_says_why_by_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.csv");
    let mut text = format!("{HEADER}\n");
    for k in 0..30 {
        text.push_str(&format!("2026-10-15 09:{k:02}:00,backend,b-0,20,10,5\n"));
    }
    text.push_str("2026-10-15T10:00:00Z,backend,b-0,20,10,many\n");
    std::fs::write(&path, text).unwrap();
    let out = plan_of(&path, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("m.csv:2:") && out.stderr.contains("[bad-timestamp]"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("m.csv:32:") && out.stderr.contains("[bad-number]"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("1 bad-number, 30 bad-timestamp"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("\n  to fix bad-timestamp: write times as RFC 3339 with an offset"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("\n  to fix bad-number: counts are whole numbers"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_value_of_the_wrong_type_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("data/poolcap.toml"))
        .unwrap()
        .replace("pool_recycle = \"1h\"", "pool_recycle = 3600");
    std::fs::write(dir.path().join("poolcap.toml"), text).unwrap();
    let out = poolcap(&[
        "plan",
        "--config",
        "poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "x.csv",
    ])
    .cwd(dir.path())
    .run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("poolcap.toml:35:16: pool.pool_recycle: invalid type"),
        "{}",
        out.stderr
    );
}

/// A service whose only target is TOML has no environment variables to deploy.
#[test]
fn an_override_names_the_keys_of_the_file_the_service_has() {
    let out = poolcap(&[
        "override",
        "worker",
        "--bump",
        "--reason",
        "x",
        "--config",
        "data/poolcap.toml",
        "--dry-run",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Deploy deploy/worker.toml with these settings under database.pool:\n  pool_size = 15\n"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("DB_POOL_SIZE"), "{}", out.stdout);
}
