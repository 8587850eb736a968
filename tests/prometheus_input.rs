//! Prometheus `query_range` JSON as a metrics input: the real answer of a real
//! Prometheus (2.42) over the sample data's incident day
//! (`scripts/prometheus-query-range/make_fixture.sh`) against the CSV it was
//! made from, and hostile documents through the binary.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::util::{outcome_of, poolcap, root, sample_csv};

const FIXTURE: &str = "tests/fixtures/metrics/prometheus-query-range-2026-09-16.json.gz";
const CSV: &str = "data/metrics/2026-09.csv.gz";
/// The query's range and step (make_fixture.sh).
const START: i64 = 1_789_513_200; // 2026-09-15T23:00:00Z = 2026-09-16 00:00 Europe/London
const END: i64 = 1_789_599_600; // 2026-09-16T23:00:00Z
const STEP: i64 = 60;
/// Prometheus 2.x looks back five minutes, both ends included.
const LOOKBACK: i64 = 300;

fn fixture() -> Value {
    let file = std::fs::File::open(root().join(FIXTURE)).unwrap();
    serde_json::from_reader(flate2::read::GzDecoder::new(file)).unwrap()
}

/// The CSV column each metric of the fixture was made from.
fn column(metric: &str) -> &'static str {
    match metric {
        "sqlalchemy_pool_checked_out" => "checked_out",
        "sqlalchemy_pool_size" => "pool_size",
        "sqlalchemy_pool_max_overflow" => "max_overflow",
        "sqlalchemy_pool_checked_in" => "checked_in",
        "sqlalchemy_pool_overflow" => "overflow",
        "sqlalchemy_pool_waiting" => "waiting",
        "sqlalchemy_pool_timeouts_total" => "timeouts",
        other => panic!("unexpected metric {other}"),
    }
}

/// The CSV rows per (service, instance): (ts, column → value), in time order.
type Rows = BTreeMap<(String, String), Vec<(i64, BTreeMap<String, String>)>>;

fn csv_rows() -> (Vec<String>, Rows) {
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
        let key = (fields["service"].clone(), fields["instance"].clone());
        rows.entry(key).or_default().push((ts, fields));
    }
    for series in rows.values_mut() {
        series.sort_by_key(|(ts, _)| *ts);
    }
    (header, rows)
}

/// What Prometheus answers at `t`: the latest row at or before `t`, if it
/// is at most five minutes old.
fn at(series: &[(i64, BTreeMap<String, String>)], t: i64) -> Option<&BTreeMap<String, String>> {
    let i = series.partition_point(|(ts, _)| *ts <= t);
    let (ts, row) = series.get(i.checked_sub(1)?)?;
    (*ts >= t - LOOKBACK).then_some(row)
}

fn fixture_pools(doc: &Value) -> BTreeSet<(String, String)> {
    doc["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let m = &s["metric"];
            (
                m["service"].as_str().unwrap().to_string(),
                m["instance"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn alerts(metrics: &str) -> Value {
    let out = poolcap(&[
        "alerts",
        "--config",
        "data/poolcap.toml",
        "--metrics",
        metrics,
        "--from",
        "2026-09-16",
        "--to",
        "2026-09-17",
        "--format",
        "json",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn seconds(text: &Value) -> i64 {
    text.as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_second()
}

#[test]
fn the_fixture_is_the_csv_as_prometheus_samples_it_on_the_step_grid() {
    let doc = fixture();
    assert_eq!(doc["status"], "success");
    assert_eq!(doc["data"]["resultType"], "matrix");
    let (_, rows) = csv_rows();
    let result = doc["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 6 * 7, "six pools, seven metrics each");
    let mut compared = 0;
    for s in result {
        let m = &s["metric"];
        let key = (
            m["service"].as_str().unwrap().to_string(),
            m["instance"].as_str().unwrap().to_string(),
        );
        let col = column(m["__name__"].as_str().unwrap());
        let values = s["values"].as_array().unwrap();
        let times: Vec<i64> = values.iter().map(|p| p[0].as_i64().unwrap()).collect();
        let grid: Vec<i64> = (START..=END).step_by(STEP as usize).collect();
        assert_eq!(times, grid, "{key:?} {col}: a point on every step");
        for p in values {
            let t = p[0].as_i64().unwrap();
            let expected = at(&rows[&key], t).unwrap_or_else(|| panic!("{key:?} has no row near {t}"));
            assert_eq!(p[1].as_str().unwrap(), expected[col], "{key:?} {col} at {t}");
            compared += 1;
        }
    }
    assert_eq!(compared, 42 * 1441);
}

#[test]
fn alerts_from_the_fixture_equal_alerts_from_the_csv_sampled_on_the_step_grid() {
    let doc = fixture();
    let pools = fixture_pools(&doc);
    let (header, rows) = csv_rows();
    // The CSV as the query saw it: one row per pool and step, the row
    // Prometheus' lookback picks, stamped with the step's time.
    let mut text = header.join(",");
    text.push('\n');
    for t in (START..=END).step_by(STEP as usize) {
        for key in &pools {
            if let Some(row) = at(&rows[key], t) {
                let mut fields: Vec<String> = header.iter().map(|h| row[h].clone()).collect();
                fields[0] = jiff::Timestamp::from_second(t).unwrap().to_string();
                text.push_str(&fields.join(","));
                text.push('\n');
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let sampled = dir.path().join("sampled.csv");
    std::fs::write(&sampled, text).unwrap();
    let from_csv = alerts(sampled.to_str().unwrap());
    let from_prometheus = alerts(FIXTURE);
    assert_eq!(from_prometheus["episodes"].as_array().unwrap().len(), 8);
    assert_eq!(from_prometheus, from_csv);
}

#[test]
fn alerts_from_the_fixture_are_the_csv_episodes_moved_to_the_next_step() {
    // A query_range point at step time t carries the last sample at or before
    // t. The sample data's minutely samples land 0-3 s after the minute, so
    // each episode boundary moves to the next step on the grid: same
    // episodes, same peaks, times rounded up to the minute.
    let doc = fixture();
    let pools = fixture_pools(&doc);
    let from_prometheus = alerts(FIXTURE);
    let from_csv = alerts(CSV);
    let key = |e: &&Value| {
        (
            ["rule", "service", "instance"].map(|f| e[f].as_str().unwrap().to_string()),
            seconds(&e["start"]),
        )
    };
    let mut csv_episodes: Vec<&Value> = from_csv["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            pools.contains(&(
                e["service"].as_str().unwrap().to_string(),
                e["instance"].as_str().unwrap().to_string(),
            ))
        })
        .collect();
    let mut prom_episodes: Vec<&Value> = from_prometheus["episodes"].as_array().unwrap().iter().collect();
    csv_episodes.sort_by_key(key);
    prom_episodes.sort_by_key(key);
    assert_eq!(prom_episodes.len(), csv_episodes.len());
    assert_eq!(prom_episodes.len(), 8);
    let up = |t: i64| (t + STEP - 1).div_euclid(STEP) * STEP;
    for (p, c) in prom_episodes.iter().zip(&csv_episodes) {
        for field in ["rule", "service", "instance", "peak_utilization"] {
            assert_eq!(p[field], c[field], "{field}: {p} vs {c}");
        }
        for field in ["start", "fired_at", "end"] {
            assert_eq!(seconds(&p[field]), up(seconds(&c[field])), "{field}: {p} vs {c}");
        }
        assert_ne!(p["start"], c["start"], "the CSV's times are off the minute");
    }
    // Firing time per rule: the CSV episodes' firing spans, moved likewise
    // (the CSV's own total differs by the seconds the moves add or remove).
    for (p, c) in from_prometheus["rules"]
        .as_array()
        .unwrap()
        .iter()
        .zip(from_csv["rules"].as_array().unwrap())
    {
        assert_eq!((&p["rule"], &p["episodes"]), (&c["rule"], &c["episodes"]));
        let moved: i64 = csv_episodes
            .iter()
            .filter(|e| e["rule"] == p["rule"])
            .map(|e| up(seconds(&e["end"])) - up(seconds(&e["fired_at"])))
            .sum();
        assert_eq!(p["firing_seconds"].as_i64().unwrap(), moved, "{p} vs {c}");
    }
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_hostile_document_fails_naming_file_line_series_time_and_code() {
    let dir = tempfile::tempdir().unwrap();
    let doc = write(
        &dir,
        "hostile.json",
        concat!(
            "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[\n",
            "{\"metric\":{\"__name__\":\"sqlalchemy_pool_size\",\"service\":\"backend\",\"instance\":\"web-1\"},",
            "\"values\":[[1790841600,\"20\"],[1790841660,\"20\"]]},\n",
            "{\"metric\":{\"__name__\":\"sqlalchemy_pool_checked_out\",\"service\":\"backend\",\"instance\":\"web-1\"},",
            "\"values\":[[1790841600,\"+Inf\"],[1790841660,\"15\"]]}\n",
            "]}}\n"
        ),
    );
    let run = |extra: &[&str]| {
        let mut args = vec![
            "alerts",
            "--config",
            "data/poolcap.toml",
            "--metrics",
            doc.as_str(),
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-02",
        ];
        args.extend(extra);
        poolcap(&args).run()
    };
    // A bad point is a bad row: an error (exit 1), as for CSV, unless --lenient.
    let out = run(&[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{doc}:3: sqlalchemy_pool_checked_out{{instance=\"web-1\",service=\"backend\"}} at 2026-10-01T08:00:00Z: checked_out is +Inf [infinite]"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
    let out = run(&["--lenient"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("skipped 1 bad row(s) (1 infinite)"),
        "{}",
        out.stderr
    );

    let truncated = write(
        &dir,
        "truncated.json",
        "{\"status\":\"success\",\n\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{}",
    );
    let out = poolcap(&["alerts", "--config", "data/poolcap.toml", "--metrics", &truncated]).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{truncated}:2: not a Prometheus query result: EOF while parsing an object"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn a_timeouts_counter_reset_is_counted_from_zero() {
    // Raw counter 0, 3, 5, then a restart: 1, 2. Increase: 3 + 2 + 1 + 1 = 7.
    let t0 = 1_790_841_600; // 2026-10-01T08:00:00Z
    let points = |values: &[&str]| {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("[{},\"{v}\"]", t0 + 60 * i as i64))
            .collect::<Vec<_>>()
            .join(",")
    };
    let series = |name: &str, values: &[&str]| {
        format!(
            "{{\"metric\":{{\"__name__\":\"{name}\",\"service\":\"backend\",\"instance\":\"web-1\"}},\"values\":[{}]}}",
            points(values)
        )
    };
    let doc = format!(
        "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{},{},{}]}}}}",
        series("sqlalchemy_pool_checked_out", &["5"; 5]),
        series("sqlalchemy_pool_size", &["20"; 5]),
        series("sqlalchemy_pool_timeouts_total", &["0", "3", "5", "1", "2"]),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reset.json");
    std::fs::write(&path, doc).unwrap();
    // In process, to read the analysis' timeout count directly.
    let outcome = outcome_of(vec![path], "2026-10", 0, None);
    let instances = &outcome.analysis.instances;
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].windows[0].timeouts, 7);
    assert_eq!(outcome.summary.samples, 5);
}
