//! `poolcap probe` against the real PostgreSQL and MariaDB of this machine.
//! URLs come from POOLCAP_TEST_POSTGRES_URL and POOLCAP_TEST_MYSQL_URL; without
//! them these tests print a notice and pass (`.ci/run` sets both).

use sqlx::{Connection, Executor, Row};

use crate::util::{poolcap, server_url as url};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn probe_json(url: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["probe", "--format", "json", "--database-url", url];
    args.extend(extra);
    let out = poolcap(&args).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn postgres_limits_connections_and_idle_transactions() {
    let Some(url) = url("POOLCAP_TEST_POSTGRES_URL") else {
        return;
    };
    let rt = runtime();
    let app = format!("poolcap-probe-test-{}", std::process::id());
    // Hold three connections open, one of them idle inside a transaction.
    let (show, mut held) = rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let show: Vec<String> = {
            let mut v = Vec::new();
            for s in ["max_connections", "superuser_reserved_connections"] {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SHOW {s}")))
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
                v.push(row.get::<String, _>(0));
            }
            v
        };
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut h = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET application_name = '{app}'")))
                .execute(&mut h)
                .await
                .unwrap();
            held.push(h);
        }
        held[0].execute("BEGIN").await.unwrap();
        held[0].execute("SELECT 1").await.unwrap();
        (show, held)
    });
    let p = probe_json(&url, &["--idle-threshold", "1s"]);
    let p = if p["idle_in_transaction"].as_array().unwrap().is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(1200));
        probe_json(&url, &["--idle-threshold", "1s"])
    } else {
        p
    };
    assert_eq!(p["kind"], "postgres");
    assert_eq!(p["max_connections"].to_string(), show[0]);
    assert_eq!(p["superuser_reserved_connections"].to_string(), show[1]);
    let ours: i64 = p["by_application"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["application"] == app.as_str())
        .map(|g| g["count"].as_i64().unwrap())
        .sum();
    assert_eq!(ours, 3, "{p}");
    let idle = p["idle_in_transaction"].as_array().unwrap();
    assert!(idle.iter().any(|s| s["application"] == app.as_str()), "{p}");
    rt.block_on(async {
        held[0].execute("ROLLBACK").await.unwrap();
        for h in held.drain(..) {
            h.close().await.unwrap();
        }
    });
}

#[test]
fn mysql_limits_and_threads() {
    let Some(url) = url("POOLCAP_TEST_MYSQL_URL") else {
        return;
    };
    let rt = runtime();
    let (max, held) = rt.block_on(async {
        let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
        let row = c.fetch_one("SELECT @@GLOBAL.max_connections").await.unwrap();
        let max: u64 = row
            .try_get::<u64, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|v| v as u64))
            .unwrap();
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(sqlx::MySqlConnection::connect(&url).await.unwrap());
        }
        (max, held)
    });
    let p = probe_json(&url, &[]);
    assert_eq!(p["kind"], "mysql");
    assert_eq!(p["max_connections"].as_u64(), Some(max));
    // Our two connections plus the probe's own.
    assert!(p["threads_connected"].as_u64().unwrap() >= 3, "{p}");
    assert!(p["max_used_connections"].as_u64().unwrap() >= 3, "{p}");
    rt.block_on(async {
        for h in held {
            h.close().await.unwrap();
        }
    });
}

#[test]
fn a_password_never_appears_in_output_or_errors() {
    // A wrong password against the real server, and an unreachable port.
    let base = std::env::var("POOLCAP_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let with_password = base
        .replacen("://", "://nosuchuser:Hunter2-Secret@", 1)
        .replacen("@postgres@", "@", 1);
    let with_password = if with_password.matches('@').count() > 1 {
        // base already had a user: replace it.
        let (scheme, rest) = base.split_once("://").unwrap();
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        format!("{scheme}://nosuchuser:Hunter2-Secret@{host}")
    } else {
        with_password
    };
    for url in [
        with_password.clone(),
        "postgres://u:Hunter2-Secret@127.0.0.1:1/x".to_string(),
        "mysql://root:Hunter2-Secret@127.0.0.1:1/x".to_string(),
    ] {
        let out = poolcap(&["probe", "--database-url", &url]).run();
        assert_eq!(out.code, 1, "{url}: {}", out.stderr);
        assert!(
            !out.stdout.contains("Hunter2") && !out.stderr.contains("Hunter2"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("127.0.0.1:"), "names host and port: {}", out.stderr);
    }
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--probe",
        "postgres://u:Hunter2-Secret@127.0.0.1:1/x",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
    ])
    .run();
    assert_eq!(out.code, 1);
    assert!(!out.stderr.contains("Hunter2"), "{}", out.stderr);
}

#[test]
fn plan_takes_the_budget_from_the_live_server() {
    let Some(url) = url("POOLCAP_TEST_POSTGRES_URL") else {
        return;
    };
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--format",
        "json",
        "--probe",
        &url,
        "--metrics",
        "data/metrics/2026-10.csv.gz",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let live = probe_json(&url, &[]);
    assert_eq!(plan["budget"]["database"]["max_connections"], live["max_connections"]);
    assert!(plan["budget_source"].as_str().unwrap().starts_with("probe of "));
    assert!(
        out.stderr.contains("budget limits from the live server"),
        "{}",
        out.stderr
    );
}
