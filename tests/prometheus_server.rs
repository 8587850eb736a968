//! `--prometheus URL` against a real Prometheus (Debian's 2.42): a TSDB
//! backfilled from the three sample months (`promtool tsdb create-blocks-from
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

use crate::util::{SAMPLE_METRICS, poolcap, root, sample_csv};

const USER: &str = "poolcap";
const PASSWORD: &str = "poolcap-test-secret";
/// bcrypt of PASSWORD (Prometheus' web config stores only the hash).
const PASSWORD_HASH: &str = "$2b$12$74fSsMQWaU26kR9E7zQdseZlBd4G248VuudsIGHqOwqzdMUa6AJ1m";
/// Prometheus 2.x looks back five minutes.
const LOOKBACK: i64 = 300;
/// The server's --query.max-samples, set low to provoke its error: the
/// range queries ask for at most 330 000 (the six pools' 30 series in
/// chunks of 11 000 steps); a history query holds the checked-out and
/// pool-size series of its services at every step of a month: 518 400 for
/// the twelve at 60 s, 2 073 600 at 15 s.
const MAX_SAMPLES: u64 = 1_000_000;
/// --prometheus-points of most tests: batches of fewer series, more queries.
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

/// The sample months' rows per (service, instance): (ts, the CSV line), in
/// time order (lines, not parsed rows: three months of them stay small).
type Rows = BTreeMap<(String, String), Vec<(i64, String)>>;

/// The CSV header and the rows of every sample month.
fn csv_rows() -> &'static (Vec<String>, Rows) {
    static ROWS: OnceLock<(Vec<String>, Rows)> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut header = Vec::new();
        let mut rows = Rows::new();
        for path in SAMPLE_METRICS {
            let text = sample_csv(path);
            let mut lines = text.lines();
            header = lines.next().unwrap().split(',').map(str::to_string).collect();
            for line in lines {
                let mut fields = line.split(',');
                let ts = fields.next().unwrap().parse::<jiff::Timestamp>().unwrap().as_second();
                let key = (fields.next().unwrap().to_string(), fields.next().unwrap().to_string());
                rows.entry(key).or_default().push((ts, line.to_string()));
            }
        }
        for series in rows.values_mut() {
            series.sort_by_key(|(ts, _)| *ts);
        }
        (header, rows)
    })
}

/// The value of `column` in a CSV line.
fn field<'a>(line: &'a str, column: &str) -> &'a str {
    let (header, _) = csv_rows();
    let i = header.iter().position(|h| h == column).unwrap();
    line.split(',').nth(i).unwrap()
}

/// The TSDB blocks of the three sample months, made once (kept in the test
/// target folder between runs; `complete` marks a finished build).
///
/// promtool 2.42 reads its whole input once per two-hour block it makes, so
/// a month in one file costs hundreds of passes (minutes); the rows are
/// written as one OpenMetrics file per day instead (twelve passes over a
/// small file), two promtool runs at a time.
fn blocks() -> &'static Path {
    static BLOCKS: OnceLock<PathBuf> = OnceLock::new();
    BLOCKS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prometheus-sample-2026-08-10");
        let done = dir.join("complete");
        if done.exists() {
            return dir.join("tsdb");
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("om")).unwrap();
        const DAY: i64 = 86_400;
        let (_, rows) = csv_rows();
        // Day → one text per family.
        let mut days: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (slot, (family, column)) in FAMILIES.iter().enumerate() {
            let sample = if *column == "timeouts" {
                format!("{family}_total")
            } else {
                family.to_string()
            };
            for ((service, instance), series) in rows {
                for (ts, line) in series {
                    let texts = days
                        .entry(ts.div_euclid(DAY))
                        .or_insert_with(|| vec![String::new(); FAMILIES.len()]);
                    texts[slot].push_str(&format!(
                        "{sample}{{instance=\"{instance}\",service=\"{service}\"}} {} {ts}\n",
                        field(line, column)
                    ));
                }
            }
        }
        let mut files = Vec::new();
        for (day, texts) in days {
            let path = dir.join("om").join(format!("{day}.om"));
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            for ((family, column), text) in FAMILIES.iter().zip(texts) {
                let kind = if *column == "timeouts" { "counter" } else { "gauge" };
                write!(out, "# TYPE {family} {kind}\n{text}").unwrap();
            }
            writeln!(out, "# EOF").unwrap();
            files.push(path);
        }
        for pair in files.chunks(2) {
            let runs: Vec<Child> = pair
                .iter()
                .map(|om| {
                    Command::new("promtool")
                        .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
                        .arg(om)
                        .arg(dir.join("tsdb"))
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            for run in runs {
                let made = run.wait_with_output().unwrap();
                assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
            }
        }
        std::fs::remove_dir_all(dir.join("om")).unwrap();
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
fn at(series: &[(i64, String)], t: i64) -> Option<&String> {
    let i = series.partition_point(|(ts, _)| *ts <= t);
    let (ts, row) = series.get(i.checked_sub(1)?)?;
    (*ts >= t - LOOKBACK).then_some(row)
}

/// The sample months as a CSV sampled on the grid of `step` in `[from, to)`
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
            if let Some(line) = at(series, t) {
                let (_, rest) = line.split_once(',').unwrap();
                text.push_str(&format!("{},{rest}\n", jiff::Timestamp::from_second(t).unwrap()));
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

/// Asserts two plans are the same but for what aggregating the earlier
/// months in the server changes: a history month's p95 interpolates between
/// ranks where the analysis takes the nearest rank (at most one step of the
/// utilization apart: 1/80 for the backend's four pools of 20, 1/20 for the
/// worker's two of 10), and so the outlook's p95 trend; a month's mean and
/// coverage differ by the seconds after the last point before a gap (the
/// server counts one step, the analysis holds it up to max_gap), under
/// 1e-5, and the outlook and the overprovisioned finding built on them
/// under 1e-4; every other number agrees to 1e-9.
fn assert_close(server: &Value, csv: &Value) {
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = format!("{path}.{k}");
                    if p.ends_with(".outlook.p95") {
                        continue;
                    }
                    walk(
                        &p,
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (a, b)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{path}[{i}]"), a, b, out);
                }
            }
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                let tolerance = if path.contains(".history[") && path.ends_with(".p95_utilization") {
                    0.05 + 1e-9
                } else if path.contains(".history[") {
                    1e-5
                } else if path.contains(".outlook.") || path.contains(".monthly_means[") {
                    1e-4
                } else {
                    1e-9 * x.abs().max(1.0)
                };
                if (x - y).abs() > tolerance {
                    out.push(format!("{path}: {x} vs {y}"));
                }
            }
            _ if a == b => {}
            _ => out.push(format!("{path}: {a} vs {b}")),
        }
    }
    let mut differences = Vec::new();
    walk("", server, csv, &mut differences);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
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
    let (_, points) = grid_csv(dir.path(), from, to, 60, &["backend", "worker"]);
    // Five metrics a pool, each with a point wherever the CSV row is.
    assert_eq!(record["rows"].as_u64().unwrap(), 5 * points);
    assert_eq!(record["used"].as_u64().unwrap(), points);
    assert!(record["queries"].as_u64().unwrap() > 10, "{record}");
    // The months before October were aggregated in the server.
    let months = record["aggregated_in_server"].as_array().unwrap();
    assert_eq!(months.len(), 5, "{record}");
    let history_from = months.iter().map(seconds).min().unwrap();
    let (whole, _) = grid_csv(dir.path(), history_from, to, 60, &["backend", "worker"]);
    let from_csv = plan("data/poolcap.toml", &["--metrics", whole.to_str().unwrap()]);
    assert_close(&decisions(from_server.clone()), &decisions(from_csv));
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
    let (_, points) = grid_csv(dir.path(), from, to, 15, &["worker"]);
    assert_eq!(record["used"].as_u64().unwrap(), points, "every grid time once");
    assert_eq!(record["rows"].as_u64().unwrap(), 5 * points);
    assert_eq!(
        record["queries"].as_u64().unwrap(),
        (((to - from) / 15) as u64).div_ceil(10_000)
    );
    let months = record["aggregated_in_server"].as_array().unwrap();
    let history_from = months.iter().map(seconds).min().unwrap();
    let (whole, _) = grid_csv(dir.path(), history_from, to, 15, &["worker"]);
    let from_csv = plan(config, &["--metrics", whole.to_str().unwrap()]);
    assert_close(&decisions(from_server), &decisions(from_csv));
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
    // More points in one query than the server's --query.max-samples: a
    // month's history at 15 s, both services in one query.
    let out = run("data/poolcap.toml", &["--step", "15s"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("Prometheus at {} answered HTTP 422", server.bare()))
            && out.stderr.contains("too many samples")
            && out.stderr.contains("--prometheus-points")
            && out.stderr.contains("count_over_time((sum by (service)")
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

#[test]
fn a_month_ingested_from_the_server_plans_as_the_server_does() {
    if !available() {
        return;
    }
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("history.db");
    let store = store.to_str().unwrap();
    let url = server.url();
    let ingest = |month: &str| {
        poolcap(&[
            "--config",
            "data/poolcap.toml",
            "--store",
            store,
            "ingest",
            "metrics",
            "--prometheus",
            &url,
            "--month",
            month,
            "--prometheus-points",
            POINTS,
        ])
        .run()
    };
    let out = ingest("2026-10");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD));
    // One line for the server: every sample stored.
    let line = out.stdout.lines().next().unwrap();
    assert!(line.starts_with(&format!("{}: ", server.bare())), "{line}");
    assert!(line.contains(" 0 already present, 0 conflicting, 0 rejected"), "{line}");
    // Again: the same samples, already present.
    let out = ingest("2026-10");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(" 0 stored, "), "{}", out.stdout);
    // The months before it too, as the plan's history.
    for month in ["2026-08", "2026-09"] {
        let out = ingest(month);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let from_store = plan("data/poolcap.toml", &["--store", store]);
    let from_server = plan(
        "data/poolcap.toml",
        &["--prometheus", &url, "--prometheus-points", POINTS],
    );
    assert_close(&decisions(from_server), &decisions(from_store));
    // Without --month there is no window to read.
    let out = poolcap(&[
        "--config",
        "data/poolcap.toml",
        "--store",
        store,
        "ingest",
        "metrics",
        "--prometheus",
        &url,
    ])
    .run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--month YYYY-MM"), "{}", out.stderr);
}

#[test]
fn promtool_tests_from_the_server_equal_those_from_the_csv_on_the_step_grid() {
    if !available() {
        return;
    }
    let server = Server::start();
    let url = server.url();
    let export = |source: &[&str]| {
        let mut args = vec![
            "export",
            "promtool-tests",
            "--config",
            "data/poolcap.toml",
            "--from",
            "2026-10-28",
            "--to",
            "2026-10-29",
        ];
        args.extend(source);
        let out = poolcap(&args).run();
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD));
        // The first line names the inputs.
        out.stdout.split_once('\n').unwrap().1.to_string()
    };
    let from_server = export(&["--prometheus", &url, "--prometheus-points", POINTS]);
    let dir = tempfile::tempdir().unwrap();
    // The span in UTC (London is on GMT again from 25 October) and the
    // replay's last evaluation a minute after it, as the server is asked.
    let (grid, _) = grid_csv(
        dir.path(),
        1_793_145_600,
        1_793_232_000 + 60,
        60,
        &["backend", "worker"],
    );
    let from_csv = export(&["--metrics", grid.to_str().unwrap()]);
    assert_eq!(from_server, from_csv);
    assert!(from_server.contains("exp_alerts:"));
}

#[test]
fn a_fleet_discovered_in_the_server_plans_as_the_explicit_config_does() {
    if !available() {
        return;
    }
    let server = Server::start();
    let text = std::fs::read_to_string(crate::util::root().join("data/poolcap.toml")).unwrap();
    let head = &text[..text.find("[[services]]").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let explicit = dir.path().join("explicit.toml");
    let fleet = dir.path().join("fleet.toml");
    let pool = "current = { pool_size = 20, max_overflow = 10 }";
    std::fs::write(
        &explicit,
        format!(
            "{head}[[services]]\nname = \"backend\"\nreplicas = 2\nprocesses_per_replica = 2\n{pool}\n\n\
             [[services]]\nname = \"worker\"\nreplicas = 1\nprocesses_per_replica = 2\n{pool}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        &fleet,
        format!("{head}[defaults]\nprocesses_per_replica = 2\n{pool}\n\n[discovery]\nfrom = \"metrics\"\n"),
    )
    .unwrap();
    let source = ["--prometheus", &server.url(), "--prometheus-points", POINTS];
    let from_explicit = plan(explicit.to_str().unwrap(), &source);
    let mut from_fleet = plan(fleet.to_str().unwrap(), &source);
    // Each service found in the server, its replicas counted there: the
    // backend's four pools and the worker's two, two processes a replica.
    let mut seen = Vec::new();
    for s in from_fleet["services"].as_array_mut().unwrap() {
        let from_data = s.as_object_mut().unwrap().remove("from_data").unwrap();
        seen.push((s["service"].clone(), from_data));
    }
    assert_eq!(
        seen,
        [
            (
                "backend".into(),
                serde_json::json!({"discovered": true, "replicas_seen": 2})
            ),
            (
                "worker".into(),
                serde_json::json!({"discovered": true, "replicas_seen": 1})
            ),
        ]
    );
    // All but the config's name in the budget's source.
    let mut from_fleet = decisions(from_fleet);
    let mut from_explicit = decisions(from_explicit);
    for plan in [&mut from_fleet, &mut from_explicit] {
        plan.as_object_mut().unwrap().remove("budget_source");
    }
    assert!(from_fleet == from_explicit, "the plans differ");
}
