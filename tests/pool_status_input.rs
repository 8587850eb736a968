//! Metrics from log lines carrying SQLAlchemy's `pool.status()` text: the
//! committed fixture (a real QueuePool under load, see
//! scripts/sqlalchemy-pool-status/) through `poolcap alerts` and `poolcap
//! ingest metrics`, found by content or forced, and what bad input does.

use std::path::{Path, PathBuf};

use crate::util::{poolcap, root};

const FIXTURE: &str = "tests/fixtures/metrics/sqlalchemy-pool-status.log";

/// A config for the fixture's pool (size 5, overflow 3) with alert windows
/// short enough for its 35 seconds, and `extra` appended.
fn config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("poolcap.toml");
    std::fs::write(
        &path,
        format!(
            "[policy]\ntimezone = \"Europe/London\"\nsustained_for = \"5s\"\n\n\
             [[alerts]]\nname = \"warning\"\nabove = 0.80\nfor = \"5s\"\n\n\
             [[alerts]]\nname = \"critical\"\nabove = 0.90\nfor = \"10s\"\n\n\
             [database]\nmax_connections = 100\n\n\
             [[services]]\nname = \"backend\"\nreplicas = 1\nprocesses_per_replica = 1\n\
             current = {{ pool_size = 5, max_overflow = 3 }}\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// The fixture's status lines as (second, pool_size, checked_out), read
/// here with plain string handling, independently of the reader.
fn fixture_status() -> Vec<(String, u32, u32)> {
    let text = std::fs::read_to_string(root().join(FIXTURE)).unwrap();
    let number = |line: &str, label: &str| -> u32 {
        let at = line.find(label).unwrap() + label.len();
        line[at..].split_whitespace().next().unwrap().parse().unwrap()
    };
    text.lines()
        .filter(|l| l.contains("Pool size: "))
        .map(|l| {
            (
                l[..19].to_string(),
                number(l, "Pool size: "),
                number(l, "Current Checked out connections: "),
            )
        })
        .collect()
}

/// Per second, the busiest status line's utilization (the reader keeps one
/// sample per pool and second).
fn utilization_by_second() -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for (second, size, out_) in fixture_status() {
        let u = f64::from(out_) / f64::from(size);
        match out.last_mut() {
            Some((s, best)) if *s == second => *best = best.max(u),
            _ => out.push((second, u)),
        }
    }
    out
}

fn alerts(config: &Path, extra: &[&str]) -> crate::util::Output {
    let mut args = vec!["alerts", "--config", config.to_str().unwrap(), "--format", "json"];
    args.extend(extra);
    poolcap(&args).run()
}

fn iso(second: &str) -> String {
    format!("{}T{}+00:00", &second[..10], &second[11..])
}

fn plus(second: &str, seconds: i64) -> String {
    let t: jiff::civil::DateTime = second.parse().unwrap();
    iso(&t
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap()
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string())
}

#[test]
fn the_fixture_fires_both_alerts_at_its_real_peak() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let out = alerts(&config, &["--service", "backend", "--metrics", FIXTURE]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();

    let seconds = utilization_by_second();
    let peak = seconds.iter().map(|(_, u)| *u).fold(0.0, f64::max);
    let max_line = fixture_status()
        .iter()
        .map(|(_, size, out)| f64::from(*out) / f64::from(*size))
        .fold(0.0, f64::max);
    assert_eq!(peak, max_line);
    assert_eq!(peak, 1.6, "8 of 5 checked out: the overflow was in use");
    // The fixture's load rises, holds the pool at its cap, and falls once:
    // one episode per rule, from the first second above 80 % to the first at or below.
    let above: Vec<usize> = (0..seconds.len()).filter(|&i| seconds[i].1 > 0.80).collect();
    let (first, last) = (above[0], *above.last().unwrap());
    assert!(above.len() == last - first + 1, "one continuous stretch above 80 %");
    let start = iso(&seconds[first].0);
    let end = iso(&seconds[last + 1].0);

    let episodes = report["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 2, "{episodes:?}");
    for (rule, for_seconds) in [("warning", 5), ("critical", 10)] {
        let e = episodes.iter().find(|e| e["rule"] == rule).unwrap();
        assert_eq!(e["service"], "backend");
        assert_eq!(
            e["instance"], "sqlalchemy-pool-status",
            "the file name up to its first '.'"
        );
        assert_eq!(e["start"], start.as_str(), "{rule}");
        assert_eq!(e["fired_at"], plus(&seconds[first].0, for_seconds).as_str(), "{rule}");
        assert_eq!(e["end"], end.as_str(), "{rule}");
        assert_eq!(e["peak_utilization"], peak);
    }
    let folded = fixture_status().len() - seconds.len();
    assert!(folded > 0);
    assert!(
        out.stderr.contains(&format!(
            "{folded} status line(s) shared their second with another of the same pool"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn ingest_stores_one_sample_per_pool_and_second_found_by_content_or_forced() {
    let seconds = utilization_by_second().len() as u64;
    assert_eq!(fixture_status().len(), 72);
    assert_eq!(seconds, 36);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    for (i, forced) in [&[][..], &["--input-format", "pool-status"][..]]
        .into_iter()
        .enumerate()
    {
        let store = dir.path().join(format!("history-{i}.db"));
        let mut args = vec![
            "--config",
            config.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--format",
            "json",
            "ingest",
            "metrics",
            "--service",
            "backend",
        ];
        args.extend(forced);
        args.push(FIXTURE);
        let out = poolcap(&args).run();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let file = &report["files"][0];
        assert_eq!(file["rejected"], 0);
        assert_eq!(file["counts"]["rows"], seconds, "{forced:?}");
        assert_eq!(file["counts"]["stored"], seconds, "{forced:?}");
    }
}

#[test]
fn a_log_whose_first_megabyte_has_no_status_line_needs_the_format_forced() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    // A rotated file of one process: the instance is `web-1`.
    let log = dir.path().join("web-1.log.1");
    let mut text = String::new();
    while text.len() < 1_100_000 {
        text.push_str("2026-11-27 13:24:30,000 INFO [app.api] GET /api/ward/1/patients 200 (802 ms)\n");
    }
    text.push_str(&std::fs::read_to_string(root().join(FIXTURE)).unwrap());
    std::fs::write(&log, text).unwrap();
    let log = log.to_str().unwrap();

    let guessed = alerts(&config, &["--service", "backend", "--metrics", log]);
    assert_eq!(guessed.code, 1, "{}", guessed.stderr);
    assert!(
        guessed
            .stderr
            .contains(&format!("{log}:1: header lacks required column(s)")),
        "read as CSV: {}",
        guessed.stderr
    );

    let forced = alerts(
        &config,
        &[
            "--service",
            "backend",
            "--metrics-format",
            "pool-status",
            "--metrics",
            log,
        ],
    );
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let report: serde_json::Value = serde_json::from_str(&forced.stdout).unwrap();
    let episodes = report["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 2);
    assert!(episodes.iter().all(|e| e["instance"] == "web-1"), "{episodes:?}");
}

#[test]
fn a_garbled_status_line_fails_the_run_naming_file_line_and_code() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let text = std::fs::read_to_string(root().join(FIXTURE)).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at = lines.iter().position(|l| l.contains("Pool size: ")).unwrap() + 1;
    let garbled = lines[at..].iter().position(|l| l.contains("Pool size: ")).unwrap() + at;
    lines[garbled] = lines[garbled].replace("Current Overflow: ", "Current Overflow: x");
    let log = dir.path().join("web-2.log");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let log = log.to_str().unwrap();

    let out = alerts(&config, &["--service", "backend", "--metrics", log]);
    // A bad data row is a failed run (1), as for CSV; not a usage error (2).
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{log}:{}: Current Overflow \"x", garbled + 1)),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("[bad-number]"), "{}", out.stderr);

    let lenient = alerts(&config, &["--service", "backend", "--lenient", "--metrics", log]);
    assert_eq!(lenient.code, 0, "{}", lenient.stderr);

    // Without --service (and no service group), every status line is
    // rejected, and the file gives nothing to analyse.
    let out = alerts(&config, &["--metrics", FIXTURE]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{FIXTURE}: no valid samples (72 data rows, 72 rejected)")),
        "{}",
        out.stderr
    );
}

#[test]
fn a_prefix_names_the_pool_and_must_hold_a_time() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture's own prefix, with the logger's name as the instance.
    let config = config(
        dir.path(),
        "\n[pool_status]\ntimezone = \"UTC\"\n\
         prefix = '^(?P<ts>\\S+ \\S+) \\w+ \\[app\\.(?P<instance>\\w+)\\] '\n",
    );
    let out = alerts(&config, &["--service", "backend", "--metrics", FIXTURE]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let episodes = report["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 2);
    assert!(episodes.iter().all(|e| e["instance"] == "pool_monitor"), "{episodes:?}");

    let config = self::config(dir.path(), "\n[pool_status]\nprefix = '^(?P<time>\\S+) '\n");
    let out = alerts(&config, &["--service", "backend", "--metrics", FIXTURE]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let line = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("prefix"))
        .unwrap()
        + 1;
    assert!(out.stderr.contains(&format!("poolcap.toml:{line}:")), "{}", out.stderr);
    assert!(out.stderr.contains("(?P<ts>…)"), "{}", out.stderr);
}
