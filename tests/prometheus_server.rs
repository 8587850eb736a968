//! `--prometheus URL` against a real Prometheus (Debian's 2.42): a TSDB
//! backfilled from the sample October (`promtool tsdb create-blocks-from
//! openmetrics`, built once into the test target folder), served on
//! 127.0.0.1 behind basic auth (`--web.config.file`), one server per test.
//! What the server answers is compared with the same data as CSV sampled on
//! the step grid, the way Prometheus samples it (the latest row at most five
//! minutes old).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{poolcap, root, sample_csv};

const USER: &str = "poolcap";
const PASSWORD: &str = "poolcap-test-secret";
/// bcrypt of PASSWORD (Prometheus' web config stores only the hash).
const PASSWORD_HASH: &str = "$2b$12$74fSsMQWaU26kR9E7zQdseZlBd4G248VuudsIGHqOwqzdMUa6AJ1m";
const CSV: &str = "data/metrics/2026-10.csv.gz";
/// Prometheus 2.x looks back five minutes.
const LOOKBACK: i64 = 300;
/// The server's --query.max-samples, set low to provoke its error: the
/// tests' queries stay below it with --prometheus-points 100000 (POINTS);
/// with the default 1 000 000, a query of the six pools' 30 series in
/// chunks of 11 000 steps asks for 330 000.
const MAX_SAMPLES: u64 = 250_000;
const POINTS: &str = "100000";
/// The columns backfilled, as (metric, CSV column); timeouts is a counter.
const FAMILIES: [(&str, &str); 5] = [
    ("sqlalchemy_pool_checked_out", "checked_out"),
    ("sqlalchemy_pool_size", "pool_size"),
    ("sqlalchemy_pool_max_overflow", "max_overflow"),
    ("sqlalchemy_pool_waiting", "waiting"),
    ("sqlalchemy_pool_timeouts", "timeouts"),
];

/// Whether prometheus and promtool are here (under CI they must be).
fn available() -> bool {
    let found = ["prometheus", "promtool"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is missing under CI (.ci/run installs Debian's prometheus package)"
        );
        println!("skipped: prometheus not found (apt-get install prometheus)");
    }
    found
}

/// The sample October's rows per (service, instance): (ts, column → value), in time order.
type Rows = BTreeMap<(String, String), Vec<(i64, BTreeMap<String, String>)>>;

fn csv_rows() -> &'static (Vec<String>, Rows) {
    static ROWS: OnceLock<(Vec<String>, Rows)> = OnceLock::new();
    ROWS.get_or_init(|| {
        let text = sample_csv(CSV);
        let mut lines = text.lines();
        let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
        let mut rows = Rows::new();
        for line in lines {
            let fields: BTreeMap<String, String> = header
                .iter()
                .cloned()
                .zip(line.split(',').map(str::to_string))
                .collect();
            let ts = fields["ts"].parse::<jiff::Timestamp>().unwrap().as_second();
            rows.entry((fields["service"].clone(), fields["instance"].clone()))
                .or_default()
                .push((ts, fields));
        }
        for series in rows.values_mut() {
            series.sort_by_key(|(ts, _)| *ts);
        }
        (header, rows)
    })
}

/// The TSDB blocks of the sample October, made once (kept in the test
/// target folder between runs; `complete` marks a finished build).
fn blocks() -> &'static Path {
    static BLOCKS: OnceLock<PathBuf> = OnceLock::new();
    BLOCKS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prometheus-sample-2026-10");
        let done = dir.join("complete");
        if done.exists() {
            return dir.join("tsdb");
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let om = dir.join("october.om");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&om).unwrap());
        let (_, rows) = csv_rows();
        for (family, column) in FAMILIES {
            let (kind, sample) = if column == "timeouts" {
                ("counter", format!("{family}_total"))
            } else {
                ("gauge", family.to_string())
            };
            writeln!(out, "# TYPE {family} {kind}").unwrap();
            for ((service, instance), series) in rows {
                for (ts, row) in series {
                    writeln!(
                        out,
                        "{sample}{{instance=\"{instance}\",service=\"{service}\"}} {} {ts}",
                        row[column]
                    )
                    .unwrap();
                }
            }
        }
        writeln!(out, "# EOF").unwrap();
        drop(out);
        let made = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&om)
            .arg(dir.join("tsdb"))
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        std::fs::remove_file(&om).unwrap();
        std::fs::write(&done, "").unwrap();
        dir.join("tsdb")
    })
}

/// A Prometheus on its own copy of the blocks, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        crate::util::copy_tree(blocks(), &dir.path().join("tsdb"));
        std::fs::write(
            dir.path().join("prometheus.yml"),
            "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("web.yml"),
            format!("basic_auth_users:\n  {USER}: '{PASSWORD_HASH}'\n"),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--web.config.file={}", dir.path().join("web.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--query.max-samples={MAX_SAMPLES}"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .unwrap();
        let server = Server { child, port, _dir: dir };
        let agent = ureq::Agent::new_with_defaults();
        let deadline = Instant::now() + Duration::from_secs(60);
        let auth = format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{USER}:{PASSWORD}"))
        );
        loop {
            let ready = agent
                .get(format!("http://127.0.0.1:{port}/-/ready"))
                .header("Authorization", &auth)
                .call()
                .is_ok_and(|r| r.status() == 200);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    /// The URL with the user and password.
    fn url(&self) -> String {
        format!("http://{USER}:{PASSWORD}@127.0.0.1:{}", self.port)
    }

    /// The URL without credentials.
    fn bare(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What Prometheus answers at `t`: the latest row at or before `t`, if it
/// is at most five minutes old.
fn at(series: &[(i64, BTreeMap<String, String>)], t: i64) -> Option<&BTreeMap<String, String>> {
    let i = series.partition_point(|(ts, _)| *ts <= t);
    let (ts, row) = series.get(i.checked_sub(1)?)?;
    (*ts >= t - LOOKBACK).then_some(row)
}

/// The sample October as a CSV sampled on the grid of `step` in `[from, to)`
/// for the pools of `services`: one row per pool and step time.
fn grid_csv(dir: &Path, from: i64, to: i64, step: i64, services: &[&str]) -> (PathBuf, u64) {
    let (header, rows) = csv_rows();
    let mut text = header.join(",");
    text.push('\n');
    let first = from.div_euclid(step) * step + if from.rem_euclid(step) == 0 { 0 } else { step };
    let mut points = 0;
    for t in (first..to).step_by(step as usize) {
        for ((service, _), series) in rows {
            if !services.contains(&service.as_str()) {
                continue;
            }
            if let Some(row) = at(series, t) {
                let mut fields: Vec<String> = header.iter().map(|h| row[h].clone()).collect();
                fields[0] = jiff::Timestamp::from_second(t).unwrap().to_string();
                text.push_str(&fields.join(","));
                text.push('\n');
                points += 1;
            }
        }
    }
    let path = dir.join(format!("grid-{step}.csv"));
    std::fs::write(&path, text).unwrap();
    (path, points)
}

fn seconds(v: &Value) -> i64 {
    v.as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_second()
}

/// `plan … --format json` with `source` (the metric arguments), parsed.
fn plan(config: &str, source: &[&str]) -> Value {
    let mut args = vec!["plan", "--config", config, "--month", "2026-10", "--format", "json"];
    args.extend(source);
    let out = poolcap(&args).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains(PASSWORD) && !out.stdout.contains(PASSWORD));
    serde_json::from_str(&out.stdout).unwrap()
}

/// A plan without the parts that name its inputs.
fn decisions(mut plan: Value) -> Value {
    let object = plan.as_object_mut().unwrap();
    object.remove("inputs");
    object.remove("provenance");
    plan
}

#[test]
fn plan_from_the_server_equals_plan_from_the_csv_on_the_step_grid() {
    if !available() {
        return;
    }
    let server = Server::start();
    let from_server = plan(
        "data/poolcap.toml",
        &["--prometheus", &server.url(), "--prometheus-points", POINTS],
    );
    let record = &from_server["provenance"]["prometheus"];
    assert_eq!(record["server"], server.bare(), "no credentials in the record");
    assert_eq!(record["step_seconds"], 60);
    assert_eq!(from_server["provenance"]["request"]["prometheus"], server.bare());
    let (from, to) = (seconds(&record["from"]), seconds(&record["to"]));
    let dir = tempfile::tempdir().unwrap();
    let (grid, points) = grid_csv(dir.path(), from, to, 60, &["backend", "worker"]);
    // Five metrics a pool, each with a point wherever the CSV row is.
    assert_eq!(record["rows"].as_u64().unwrap(), 5 * points);
    assert_eq!(record["used"].as_u64().unwrap(), points);
    assert!(record["queries"].as_u64().unwrap() > 10, "{record}");
    let from_csv = plan("data/poolcap.toml", &["--metrics", grid.to_str().unwrap()]);
    assert_eq!(decisions(from_server.clone()), decisions(from_csv));
    // The backend's October decision, as the sample documents it.
    let backend = &from_server["services"][0];
    assert_eq!(backend["service"], "backend");
    assert_eq!(backend["recommended"]["pool_size"], 25);
}

#[test]
fn alerts_from_the_server_equal_alerts_from_the_csv_on_the_step_grid() {
    if !available() {
        return;
    }
    let server = Server::start();
    let window = ["--from", "2026-10-01", "--to", "2026-10-08"];
    let mut args = vec!["alerts", "--config", "data/poolcap.toml", "--format", "json"];
    args.extend(window);
    let mut with_server = args.clone();
    let url = server.url();
    with_server.extend(["--prometheus", url.as_str(), "--prometheus-points", POINTS]);
    let out = poolcap(&with_server).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains(PASSWORD));
    let from_server: Value = serde_json::from_str(&out.stdout).unwrap();
    // The window in UTC: London is one hour ahead in October.
    let (from, to) = (1_790_809_200, 1_791_414_000);
    let dir = tempfile::tempdir().unwrap();
    let (grid, _) = grid_csv(dir.path(), from, to, 60, &["backend", "worker"]);
    let mut with_csv = args.clone();
    with_csv.extend(["--metrics", grid.to_str().unwrap()]);
    let out = poolcap(&with_csv).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let from_csv: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(from_server, from_csv);
    assert!(!from_server["episodes"].as_array().unwrap().is_empty());
}

#[test]
fn a_month_at_15_s_crosses_chunk_edges_without_losing_or_doubling_a_point() {
    if !available() {
        return;
    }
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.toml");
    std::fs::write(
        &config,
        "[policy]\ntimezone = \"Europe/London\"\n\n[[services]]\nname = \"worker\"\nreplicas = 1\nprocesses_per_replica = 2\ncurrent = { pool_size = 10, max_overflow = 5 }\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    // 10 series (two pools, five metrics) and 100 000 points a query:
    // chunks of 10 000 steps, so a month of 178 560 steps has 17 edges.
    let from_server = plan(
        config,
        &[
            "--prometheus",
            &server.url(),
            "--step",
            "15s",
            "--prometheus-points",
            POINTS,
        ],
    );
    let record = &from_server["provenance"]["prometheus"];
    let (from, to) = (seconds(&record["from"]), seconds(&record["to"]));
    let (grid, points) = grid_csv(dir.path(), from, to, 15, &["worker"]);
    assert_eq!(record["used"].as_u64().unwrap(), points, "every grid time once");
    assert_eq!(record["rows"].as_u64().unwrap(), 5 * points);
    assert_eq!(
        record["queries"].as_u64().unwrap(),
        (((to - from) / 15) as u64).div_ceil(10_000)
    );
    let from_csv = plan(config, &["--metrics", grid.to_str().unwrap()]);
    assert_eq!(decisions(from_server), decisions(from_csv));
}

#[test]
fn server_errors_are_sentences_that_quote_the_server() {
    if !available() {
        return;
    }
    let server = Server::start();
    let url = server.url();
    let run = |config: &str, extra: &[&str]| {
        let mut args = vec!["plan", "--config", config, "--month", "2026-10", "--prometheus", &url];
        args.extend(extra);
        let out = poolcap(&args).run();
        assert!(!out.stderr.contains(PASSWORD) && !out.stdout.contains(PASSWORD));
        out
    };
    // More points in one query than the server's --query.max-samples.
    let out = run("data/poolcap.toml", &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("Prometheus at {} answered HTTP 422", server.bare()))
            && out.stderr.contains("too many samples")
            && out.stderr.contains("--prometheus-points")
            && out.stderr.contains("sqlalchemy_pool_checked_out"),
        "{}",
        out.stderr
    );
    // A selector poolcap can parse and the server refuses (RE2 repeats at most 1000 times).
    let dir = crate::util::sample_tree();
    let config = dir.path().join("poolcap.toml");
    let text = std::fs::read_to_string(root().join("data/poolcap.toml")).unwrap();
    std::fs::write(
        &config,
        format!("[prometheus]\nselector = '{{env=~\"x{{1001}}\"}}'\n\n{text}"),
    )
    .unwrap();
    let out = run(config.to_str().unwrap(), &["--prometheus-points", POINTS]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("answered HTTP 400")
            && out.stderr.contains("bad_data")
            && out
                .stderr
                .contains(r#"the series of `{env=~"x{1001}", __name__=~"sqlalchemy_pool_checked_out|"#)
            && out.stderr.contains("invalid repeat count")
            && out.stderr.contains("check [prometheus] selector"),
        "{}",
        out.stderr
    );
    // A selector that is not one: the config is refused before any query.
    std::fs::write(&config, format!("[prometheus]\nselector = 'up{{}}'\n\n{text}")).unwrap();
    let out = run(config.to_str().unwrap(), &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("prometheus.selector"), "{}", out.stderr);
}

#[test]
fn basic_auth_is_sent_and_never_shown() {
    if !available() {
        return;
    }
    let server = Server::start();
    let plan_with = |url: &str| {
        poolcap(&[
            "plan",
            "--config",
            "data/poolcap.toml",
            "--month",
            "2026-10",
            "--prometheus",
            url,
            "--prometheus-points",
            POINTS,
        ])
        .run()
    };
    let out = plan_with(&server.bare());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("answered HTTP 401") && out.stderr.contains("POOLCAP_PROMETHEUS_TOKEN"),
        "{}",
        out.stderr
    );
    let wrong = format!("http://{USER}:not-the-{PASSWORD}@127.0.0.1:{}", server.port);
    let out = plan_with(&wrong);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 401"), "{}", out.stderr);
    assert!(!out.stderr.contains("not-the-"), "{}", out.stderr);
    // From the environment, as a CI job would pass it.
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--format",
        "json",
        "--prometheus-points",
        POINTS,
    ])
    .env("POOLCAP_PROMETHEUS_URL", &server.url())
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD));
}

#[test]
fn an_unreachable_server_fails_fast_naming_the_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let started = Instant::now();
    let url = format!("http://u:hidden@127.0.0.1:{port}");
    let out = poolcap(&[
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--prometheus",
        &url,
    ])
    .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(
        out.stderr.contains(&format!(
            "cannot reach Prometheus at http://127.0.0.1:{port}: the connection was refused"
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hidden"), "{}", out.stderr);
}
