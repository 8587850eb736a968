//! PgBouncer for real: Debian's pgbouncer (1.18) started per test on
//! 127.0.0.1 in front of the machine's PostgreSQL (POOLCAP_TEST_POSTGRES_URL),
//! with small pools in transaction mode; load from `psql` clients holding
//! `pg_sleep`. What `poolcap probe --pgbouncer` reports is compared with what
//! the console itself says (`psql … SHOW POOLS`), and `plan
//! --probe-pgbouncer` must report the waiting clients.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{poolcap, root, server_url};

/// The backend PostgreSQL of the test URL: (host, port, user, database).
fn backend(url: &str) -> (String, u16, String, String) {
    let rest = url.split_once("://").unwrap().1;
    let (authority, database) = rest.split_once('/').unwrap_or((rest, "postgres"));
    let (user, host_port) = authority.rsplit_once('@').unwrap_or(("postgres", authority));
    let user = user.split(':').next().unwrap().to_string();
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "5432"));
    let database = database.split('?').next().unwrap().to_string();
    (host.to_string(), port.parse().unwrap(), user, database)
}

/// Whether pgbouncer is here and PostgreSQL is given (under CI both must be).
fn available() -> Option<String> {
    let url = server_url("POOLCAP_TEST_POSTGRES_URL")?;
    let found = Command::new("pgbouncer")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "pgbouncer is missing under CI (.ci/run installs Debian's pgbouncer package)"
        );
        println!("skipped: pgbouncer not found (apt-get install pgbouncer)");
        return None;
    }
    Some(url)
}

/// A PgBouncer of this test's own, stopped on drop.
pub struct Bouncer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL user the clients connect as (trust auth).
    pub user: String,
    /// The database name clients use (`[databases]` entry).
    pub database: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Bouncer {
    /// The ini text for `port`, with `[databases]`' entry `database` in
    /// front of the test's PostgreSQL and `settings` in `[pgbouncer]`.
    pub fn ini(url: &str, port: u16, database: &str, entry: &str, settings: &str) -> String {
        let (host, pg_port, _, dbname) = backend(url);
        format!(
            "[databases]\n{database} = host={host} port={pg_port} dbname={dbname} {entry}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = userlist.txt\nadmin_users = postgres\nignore_startup_parameters = extra_float_digits\n{settings}\n"
        )
    }

    /// Starts PgBouncer on the ini made by [`Bouncer::ini`] (its text given).
    pub fn start_with(url: &str, port: u16, database: &str, ini: &str) -> Bouncer {
        let (_, _, user, _) = backend(url);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pgbouncer.ini"), ini).unwrap();
        std::fs::write(dir.path().join("userlist.txt"), format!("\"{user}\" \"\"\n")).unwrap();
        Bouncer::spawn(dir, port, user, database)
    }

    /// Starts PgBouncer from the ini already in `dir` (as `pgbouncer.ini`).
    pub fn spawn(dir: tempfile::TempDir, port: u16, user: String, database: &str) -> Bouncer {
        use std::os::unix::fs::PermissionsExt;
        // PgBouncer will not run as root: it drops to postgres, who must read the folder.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for f in std::fs::read_dir(dir.path()).unwrap() {
            std::fs::set_permissions(f.unwrap().path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let mut command = Command::new("pgbouncer");
        if is_root() {
            command.args(["-u", "postgres"]);
        }
        let child = command
            .arg("pgbouncer.ini")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pgbouncer starts");
        let bouncer = Bouncer {
            child,
            port,
            dir,
            user,
            database: database.to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pgbouncer did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        bouncer
    }

    /// A PgBouncer in transaction mode with `pool_size` server connections
    /// (no reserve) for database `app`.
    pub fn start(url: &str, pool_size: u32) -> Bouncer {
        let port = free_port();
        let ini = Bouncer::ini(
            url,
            port,
            "app",
            &format!("pool_size={pool_size}"),
            "pool_mode = transaction\nmax_client_conn = 40\ndefault_pool_size = 3\nreserve_pool_size = 0",
        );
        Bouncer::start_with(url, port, "app", &ini)
    }

    /// Its admin console's URL.
    pub fn console(&self) -> String {
        format!("postgres://{}@127.0.0.1:{}/pgbouncer", self.user, self.port)
    }

    /// `SHOW what` on the console, through psql: rows of column → value.
    pub fn show(&self, what: &str) -> Vec<BTreeMap<String, String>> {
        // The corpus' userlist gives postgres the password "postgres"; trust ignores it.
        let out = Command::new("psql")
            .env("PGPASSWORD", "postgres")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                &self.user,
                "--csv",
                "-c",
            ])
            .arg(format!("SHOW {what}"))
            .arg("pgbouncer")
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
        lines
            .map(|l| header.iter().cloned().zip(l.split(',').map(str::to_string)).collect())
            .collect()
    }

    /// The pool of `app` as the console shows it.
    pub fn app_pool(&self) -> BTreeMap<String, String> {
        self.show("POOLS")
            .into_iter()
            .find(|r| r["database"] == self.database)
            .unwrap_or_default()
    }

    /// `clients` psql sessions through PgBouncer, each holding a server
    /// connection for `seconds` (killed on drop of the result).
    pub fn load(&self, clients: usize, seconds: u32) -> Load {
        let children = (0..clients)
            .map(|_| {
                Command::new("psql")
                    .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", &self.user, "-c"])
                    .arg(format!("SELECT pg_sleep({seconds})"))
                    .arg(&self.database)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("psql starts")
            })
            .collect();
        Load(children)
    }

    /// Waits until the `app` pool shows `waiting` clients waiting.
    pub fn wait_for_waiting(&self, waiting: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pool = self.app_pool();
            if pool.get("cl_waiting").and_then(|w| w.parse::<u64>().ok()) == Some(waiting) {
                return;
            }
            assert!(Instant::now() < deadline, "no {waiting} waiting clients: {pool:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clients holding connections; killed on drop.
pub struct Load(Vec<Child>);

impl Drop for Load {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The sample PgBouncer config (data/pgbouncer) pointed at this bouncer's
/// ini, its services going to database `app` as the test's user, with one
/// simulated hour (the queueing check is not what is tested here).
fn sample_config(dir: &Path, ini: &Path, user: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("data/pgbouncer/poolcap.toml"))
        .unwrap()
        .replace(
            "ini = \"pgbouncer.ini\"",
            &format!("ini = {:?}", ini.display().to_string()),
        )
        .replace("pgbouncer_user = \"ehr_app\"", &format!("pgbouncer_user = {user:?}"))
        .replace("pgbouncer_user = \"ehr_worker\"", &format!("pgbouncer_user = {user:?}"))
        .replace(
            "min_coverage = 0.8",
            "min_coverage = 0.8\nsimulate_hours = \"busiest:1\"",
        );
    let path = dir.join("poolcap.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `plan --probe-pgbouncer` of October on the sample config pointed at `bouncer`, as JSON.
fn plan_with_console(bouncer: &Bouncer) -> crate::util::Output {
    let dir = tempfile::tempdir().unwrap();
    let config = sample_config(dir.path(), &bouncer.dir.path().join("pgbouncer.ini"), &bouncer.user);
    poolcap(&[
        "plan",
        "--config",
        config.to_str().unwrap(),
        "--month",
        "2026-10",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
        "--probe-pgbouncer",
        &bouncer.console(),
        "--format",
        "json",
    ])
    .run()
}

/// Under a load of 5 clients on a server pool of 2: the probe's numbers
/// are the console's, and the plan reports the 3 waiting clients on the
/// services routed to that pool.
#[test]
fn the_probe_reads_show_pools_and_the_plan_reports_waiting_clients() {
    let Some(url) = available() else { return };
    let bouncer = Bouncer::start(&url, 2);
    let _load = bouncer.load(5, 40);
    bouncer.wait_for_waiting(3);

    let out = poolcap(&["probe", "--pgbouncer", &bouncer.console(), "--format", "json"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let probe: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let shown = bouncer.app_pool();
    let pool = probe["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["database"] == "app")
        .expect("the app pool in the probe");
    for key in [
        "cl_active",
        "cl_waiting",
        "sv_active",
        "sv_idle",
        "sv_used",
        "sv_tested",
        "sv_login",
    ] {
        assert_eq!(pool[key].as_u64().unwrap().to_string(), shown[key], "{key}");
    }
    assert_eq!(pool["user"], shown["user"].as_str());
    assert_eq!(pool["pool_mode"], "transaction");
    assert_eq!(
        (pool["cl_active"].as_u64(), pool["cl_waiting"].as_u64()),
        (Some(2), Some(3))
    );
    let config: BTreeMap<String, String> = bouncer
        .show("CONFIG")
        .into_iter()
        .map(|r| (r["key"].clone(), r["value"].clone()))
        .collect();
    for key in [
        "max_client_conn",
        "default_pool_size",
        "reserve_pool_size",
        "max_db_connections",
    ] {
        assert_eq!(probe["config"][key].as_u64().unwrap().to_string(), config[key], "{key}");
    }
    assert_eq!(probe["config"]["pool_mode"], "transaction");
    let database = &probe["databases"][0];
    assert_eq!(
        (database["name"].as_str(), database["pool_size"].as_u64()),
        (Some("app"), Some(2))
    );
    assert!(
        probe["pools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["database"] != "pgbouncer")
    );

    let text = poolcap(&["probe", "--pgbouncer", &bouncer.console()]).run();
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("← clients wait for a server connection"),
        "{}",
        text.stdout
    );

    // The plan, its limits from the console: the waiting clients are a finding.
    let out = plan_with_console(&bouncer);
    assert!(out.code == 0 || out.code == 3, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for service in plan["services"].as_array().unwrap() {
        let finding = service["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "pgbouncer-pool" && f["evidence"]["cl_waiting"].is_u64())
            .unwrap_or_else(|| panic!("no pgbouncer-pool finding for {}", service["service"]));
        assert_eq!(finding["evidence"]["cl_waiting"], 3);
        assert_eq!(finding["evidence"]["database"], "app");
        assert!(
            finding["message"].as_str().unwrap().contains("3 client(s) waiting"),
            "{}",
            finding["message"]
        );
    }
    // The budget took the console's limits: one server pool (app, user) of 2 + 0.
    let budget = &plan["budget"];
    assert_eq!(budget["pgbouncer"]["max_client_conn"], 40);
    assert_eq!(budget["pgbouncer"]["server_connections"], 2);
    assert_eq!(budget["required"], 2 + 12);
    assert!(
        plan["budget_source"]
            .as_str()
            .unwrap()
            .contains("PgBouncer: probe of postgres://")
    );
}

/// Without waiting clients there is no pgbouncer-pool finding from the probe.
#[test]
fn an_idle_bouncer_gives_no_waiting_finding() {
    let Some(url) = available() else { return };
    let bouncer = Bouncer::start(&url, 2);
    let out = plan_with_console(&bouncer);
    assert!(out.code == 0 || out.code == 3, "{}", out.stderr);
    assert!(!out.stdout.contains("\"pgbouncer-pool\""), "{}", out.stdout);
}

/// The console's errors are sentences: a URL that is not the console, a
/// user PgBouncer does not know, a PgBouncer that is not there; no
/// password is shown.
#[test]
fn probe_errors_name_the_fix() {
    let Some(url) = available() else { return };
    let bouncer = Bouncer::start(&url, 2);
    let wrong_db = format!("postgres://{}:s3cret@127.0.0.1:{}/app", bouncer.user, bouncer.port);
    let out = poolcap(&["probe", "--pgbouncer", &wrong_db]).run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("end the URL with /pgbouncer"), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);

    let stranger = format!("postgres://nobody:s3cret@127.0.0.1:{}/pgbouncer", bouncer.port);
    let out = poolcap(&["probe", "--pgbouncer", &stranger]).run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("admin_users or stats_users"), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);

    let gone = format!("postgres://postgres@127.0.0.1:{}/pgbouncer", free_port());
    let out = poolcap(&["probe", "--pgbouncer", &gone]).run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("127.0.0.1"), "{}", out.stderr);

    // A config without [pgbouncer] cannot take a console's limits.
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
        "--probe-pgbouncer",
        &bouncer.console(),
    ])
    .run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("has no [pgbouncer] table"), "{}", out.stderr);
}

/// PgBouncer starts with every edited file of the in/out trees and reads
/// the new values: `SHOW CONFIG` and `SHOW DATABASES` give them back.
#[test]
fn pgbouncer_starts_with_every_edited_file() {
    let Some(_url) = available() else { return };
    let edits = root().join("tests/fixtures/pgbouncer-edits");
    let mut cases = 0;
    for entry in std::fs::read_dir(&edits).unwrap() {
        let case = entry.unwrap().path();
        let out = std::fs::read_to_string(case.join("out.ini")).unwrap();
        let edits = std::fs::read_to_string(case.join("edits.txt")).unwrap();
        let database = edits
            .lines()
            .find_map(|l| l.strip_prefix("database "))
            .and_then(|l| l.split(' ').next())
            .unwrap()
            .to_string();
        let port: u16 = out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("listen_port"))
            .filter_map(|l| l.trim_start().strip_prefix('='))
            .next_back()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pgbouncer.ini"), &out).unwrap();
        std::fs::copy(
            root().join("tests/fixtures/pgbouncer/userlist.txt"),
            dir.path().join("userlist.txt"),
        )
        .unwrap();
        let bouncer = Bouncer::spawn(dir, port, "postgres".into(), &database);
        let config: BTreeMap<String, String> = bouncer
            .show("CONFIG")
            .into_iter()
            .map(|r| (r["key"].clone(), r["value"].clone()))
            .collect();
        assert_eq!(
            (config["default_pool_size"].as_str(), config["max_client_conn"].as_str()),
            ("33", "512"),
            "{}",
            case.display()
        );
        let row = bouncer
            .show("DATABASES")
            .into_iter()
            .find(|r| r["name"] == database)
            .unwrap_or_else(|| panic!("{}: no {database}", case.display()));
        assert_eq!(
            (row["pool_size"].as_str(), row["reserve_pool"].as_str()),
            ("44", "3"),
            "{}",
            case.display()
        );
        cases += 1;
    }
    assert!(cases >= 10);
}

/// The sample behind PgBouncer (data/pgbouncer), worked by hand in
/// docs/pgbouncer.md. Database: 100 − 3 − 0 − 10 = 87; server pools
/// (ehr, ehr_app) and (ehr, ehr_worker) at 25 + 5 each = 60, within
/// max_db_connections 40, + 12 other clients = 52. Clients: backend 4 ×
/// (25 + 13) + worker 2 × (10 + 5) + 4 = 186 of 300 − 10 = 290. The old
/// one-sided guard would have said 4 × 38 + 2 × 15 + 12 = 194 of 87.
/// Server pool ehr/ehr_app: mean 82.5% busy of 25 → 30.
#[test]
fn the_sample_behind_pgbouncer_is_budgeted_on_both_sides() {
    let out = poolcap(&[
        "plan",
        "--config",
        "data/pgbouncer/poolcap.toml",
        "--month",
        "2026-10",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
        "--pgbouncer-pools",
        "data/pgbouncer/pools-2026-10.csv.gz",
        "--format",
        "json",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let b = &plan["budget"];
    assert_eq!(
        (b["required"].as_u64(), b["limit"].as_u64(), b["ok"].as_bool()),
        (Some(52), Some(87), Some(true))
    );
    let p = &b["pgbouncer"];
    assert_eq!(
        (
            p["client_required"].as_u64(),
            p["client_limit"].as_u64(),
            p["server_connections"].as_u64()
        ),
        (Some(186), Some(290), Some(40))
    );
    assert_eq!(p["caps"][0], "max_db_connections 40 for ehr (its pools 60)");
    assert_eq!(b["services"][0]["route"]["via"], "pgbouncer");
    assert_eq!(b["services"][0]["route"]["user"], "ehr_app");
    assert_eq!(plan["services"][0]["headroom"], 42);
    let pools = plan["pgbouncer_pools"].as_array().unwrap();
    assert_eq!(pools.len(), 2);
    assert_eq!(
        (
            pools[0]["user"].as_str(),
            pools[0]["current"].as_u64(),
            pools[0]["recommended"].as_u64()
        ),
        (Some("ehr_app"), Some(25), Some(30))
    );
    assert_eq!(
        (pools[1]["user"].as_str(), pools[1]["recommended"].as_u64()),
        (Some("ehr_worker"), Some(25))
    );
    assert_eq!(pools[0]["stats"]["samples"], 44_700);

    // The same config without [pgbouncer] is blocked: 194 connections of 87.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("data/pgbouncer/poolcap.toml")).unwrap();
    let direct = text.replace("[pgbouncer]\n", "[pgbouncer_off]\n");
    let direct: String = direct
        .lines()
        .filter(|l| {
            !l.starts_with("[pgbouncer_off]")
                && !l.starts_with("ini =")
                && !l.starts_with("headroom = 10 ")
                && !l.starts_with("other_clients = 4")
                && !l.starts_with("pgbouncer_user")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("poolcap.toml"), direct).unwrap();
    let out = poolcap(&[
        "plan",
        "--config",
        dir.path().join("poolcap.toml").to_str().unwrap(),
        "--month",
        "2026-10",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
        "--format",
        "json",
    ])
    .run();
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|_| panic!("{}", out.stderr));
    assert_eq!(
        (plan["budget"]["required"].as_u64(), plan["budget"]["ok"].as_bool()),
        (Some(194), Some(false))
    );
}

/// Snapshot files that are not snapshots, or not of the month, are errors
/// naming the file; `--pgbouncer-pools` needs a [pgbouncer] table.
#[test]
fn pool_snapshot_errors_name_the_file() {
    let plan = |config: &str, pools: &str| {
        poolcap(&[
            "plan",
            "--config",
            config,
            "--month",
            "2026-10",
            "--metrics",
            "data/metrics/2026-10.csv.gz",
            "--pgbouncer-pools",
            pools,
        ])
        .run()
    };
    let out = plan("data/pgbouncer/poolcap.toml", "data/metrics/2026-10.csv.gz");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("data/metrics/2026-10.csv.gz:1: not SHOW POOLS snapshots"),
        "{}",
        out.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pools.csv");
    std::fs::write(
        &file,
        "ts,database,user,cl_active,cl_waiting,sv_active,sv_idle\n2026-12-01T00:00:00Z,ehr,ehr_app,1,0,1,0\n",
    )
    .unwrap();
    let out = plan("data/pgbouncer/poolcap.toml", file.to_str().unwrap());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("no PgBouncer snapshot falls in the month"),
        "{}",
        out.stderr
    );
    std::fs::write(&file, "ts,database,user,cl_active,cl_waiting,sv_active,sv_idle\n2026-10-02T00:00:00Z,ehr,ehr_app,1,0,1,0\n2026-10-01T00:00:00Z,ehr,ehr_app,1,0,1,0\n").unwrap();
    let out = plan("data/pgbouncer/poolcap.toml", file.to_str().unwrap());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("pools.csv:3: the snapshot of ehr/ehr_app") && out.stderr.contains("time order"),
        "{}",
        out.stderr
    );
    let out = plan("data/poolcap.toml", "data/pgbouncer/pools-2026-10.csv.gz");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("has no [pgbouncer] table"), "{}", out.stderr);
}

/// `probe --record` appends whole SHOW POOLS snapshots that plan reads;
/// a second run appends without a second header; a file of another kind
/// is refused, untouched.
#[test]
fn recorded_snapshots_are_what_the_console_showed() {
    let Some(url) = available() else { return };
    let bouncer = Bouncer::start(&url, 2);
    let _load = bouncer.load(5, 30);
    bouncer.wait_for_waiting(3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pools.csv");
    for _ in 0..2 {
        let out = poolcap(&[
            "probe",
            "--pgbouncer",
            &bouncer.console(),
            "--record",
            file.to_str().unwrap(),
            "--every",
            "1s",
            "--count",
            "2",
        ])
        .run();
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ts,database,user,cl_active,cl_waiting,sv_active,sv_idle,sv_used,sv_tested,sv_login,maxwait,maxwait_us,pool_mode,pool_size"
    );
    assert_eq!(lines.len(), 5, "{text}");
    for line in &lines[1..] {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(
            (f[1], f[3], f[4], f[5], f[12], f[13]),
            ("app", "2", "3", "2", "transaction", "2"),
            "{line}"
        );
    }
    let other = dir.path().join("other.csv");
    std::fs::write(&other, "ts,service\n").unwrap();
    let out = poolcap(&[
        "probe",
        "--pgbouncer",
        &bouncer.console(),
        "--record",
        other.to_str().unwrap(),
        "--count",
        "1",
    ])
    .run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("is not a SHOW POOLS recording"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "ts,service\n");
}

/// `[pgbouncer] write = true`: `apply` writes the server pools' sizes into
/// pgbouncer.ini (a dry run shows the diff with every other value masked,
/// the password in a connection string included), and applying again
/// changes nothing: the rules step from the pool the snapshots measured.
#[test]
fn apply_writes_the_server_pools_into_pgbouncer_ini_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(root().join("data/pgbouncer/poolcap.toml"))
        .unwrap()
        .replace(
            "ini = \"pgbouncer.ini\"",
            "ini = \"pgbouncer.ini\"\nwrite = true\nchangelog = \"CHANGELOG-pgbouncer.md\"",
        );
    std::fs::write(dir.path().join("poolcap.toml"), config).unwrap();
    let ini = std::fs::read_to_string(root().join("data/pgbouncer/pgbouncer.ini"))
        .unwrap()
        .replace(
            "dbname=ehr pool_size=25",
            "dbname=ehr password='s3cret pw' pool_size=25",
        );
    std::fs::write(dir.path().join("pgbouncer.ini"), &ini).unwrap();
    let config = dir.path().join("poolcap.toml");
    let pools = root().join("data/pgbouncer/pools-2026-10.csv.gz");
    let apply = |extra: &[&str]| {
        let mut args = vec![
            "apply",
            "--config",
            config.to_str().unwrap(),
            "--month",
            "2026-10",
            "--metrics",
            "data/metrics/2026-10.csv.gz",
            "--pgbouncer-pools",
            pools.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        poolcap(&args).run()
    };
    let dry = apply(&["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains("-ehr = host=******** port=******** dbname=******** password=******** pool_size=25 max_db_connections=********")
            && dry.stdout.contains("+ehr = host=******** port=******** dbname=******** password=******** pool_size=30 max_db_connections=********"),
        "{}",
        dry.stdout
    );
    assert!(!dry.stdout.contains("s3cret") && !dry.stderr.contains("s3cret"));
    assert_eq!(std::fs::read_to_string(dir.path().join("pgbouncer.ini")).unwrap(), ini);
    let out = apply(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("PgBouncer (pgbouncer.ini): ehr pool_size 25 → 30"),
        "{}",
        out.stdout
    );
    let written = std::fs::read_to_string(dir.path().join("pgbouncer.ini")).unwrap();
    assert_eq!(written, ini.replace("pool_size=25", "pool_size=30"));
    let log = std::fs::read_to_string(dir.path().join("CHANGELOG-pgbouncer.md")).unwrap();
    assert!(log.contains("— PgBouncer ehr/ehr_app: pool 25 + 5 → 30 + 5"), "{log}");
    assert!(log.contains("| `[databases] ehr pool_size` | 25 | 30 ◀ |"), "{log}");
    assert!(log.contains("`monthly-escalation` — server pool ehr/ehr_app"), "{log}");
    assert!(!log.contains("s3cret"), "{log}");
    let again = apply(&[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stdout.contains("PgBouncer ("), "{}", again.stdout);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pgbouncer.ini")).unwrap(),
        written
    );
    let unchanged = std::fs::read_to_string(dir.path().join("CHANGELOG-pgbouncer.md")).unwrap();
    assert_eq!(unchanged, log, "a second apply adds no entry");
    // The entry records pgbouncer.ini as it was: verify names the file that changed since.
    let verify = poolcap(&[
        "verify",
        dir.path().join("CHANGELOG-pgbouncer.md").to_str().unwrap(),
        "--entry",
        "PgBouncer ehr",
    ])
    .run();
    assert_eq!(verify.code, 1, "{}", verify.stderr);
    assert!(
        verify.stderr.contains("pgbouncer.ini") && verify.stderr.contains("[databases] ehr pool_size 25 then, 30 now"),
        "{}",
        verify.stderr
    );
}
