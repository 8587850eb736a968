//! Replay vs Prometheus: the exported alert rules, evaluated by promtool over
//! generated series with gaps, jitter and threshold-crossing flaps, fire
//! exactly when poolcap's replay of the same series says they do.
//!
//! Needs promtool (Debian's `prometheus` package; `.ci/run` installs it). Without
//! it the tests print a notice and pass, except under CI where they fail.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::util::poolcap;

/// Whether promtool can run; under CI its absence is a failure.
pub fn promtool_available() -> bool {
    let found = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is missing under CI (.ci/run installs Debian's prometheus package)"
        );
        eprintln!("skipped: promtool not found (apt-get install prometheus)");
    }
    found
}

/// xorshift64*: a small seeded generator, so every run tests the same series.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// 2026-09-01T00:00:00Z, the tested span's start.
const FROM: i64 = 1_788_220_800;
/// The tested span: three hours.
const SPAN: i64 = 3 * 3600;

/// One instance's samples as CSV rows: its scrape interval (15–60 s), jitter
/// (none, or up to half the interval), pool size (sometimes changed half-way),
/// utilization flapping between levels on both sides of 80 % and 90 % (and on
/// them exactly) for 30 s to 10 min at a time, and gaps of 1–10 min around
/// Prometheus' 5-minute lookback. Data starts before the span on some.
fn instance_rows(rng: &mut Rng, name: &str, csv: &mut String) {
    let interval = rng.pick(&[15i64, 30, 60, 60, 60]);
    let jitter = if rng.below(2) == 0 {
        0
    } else {
        1 + rng.below((interval / 2) as u64) as i64
    };
    let mut pool_size = rng.pick(&[10u32, 20]);
    let resize_at = if rng.below(5) == 0 { FROM + SPAN / 2 } else { i64::MAX };
    let levels = [0.3, 0.6, 0.79, 0.8, 0.81, 0.85, 0.9, 0.91, 1.0, 1.2];
    let mut level = rng.pick(&levels);
    let mut level_until = FROM;
    let mut gap_until = i64::MIN;
    let start = FROM - [0, 0, 20 * 60, 7 * 60][rng.below(4) as usize];
    let mut k = 0;
    loop {
        let base = start + k * interval;
        k += 1;
        if base > FROM + SPAN {
            break;
        }
        let ts = base
            + if jitter == 0 {
                0
            } else {
                rng.below(jitter as u64) as i64
            };
        if ts >= resize_at {
            pool_size = if pool_size == 10 { 20 } else { 10 };
        }
        if ts >= level_until {
            level = rng.pick(&levels);
            level_until = ts + 30 + rng.below(600) as i64;
        }
        if ts < gap_until {
            continue;
        }
        if rng.below(60) == 0 {
            gap_until = ts + rng.pick(&[60, 120, 240, 299, 300, 301, 330, 360, 420, 600]);
            continue;
        }
        let max_overflow = pool_size / 2;
        let checked_out = ((level * f64::from(pool_size)).round() as u32).min(pool_size + max_overflow);
        let checked_out = if rng.below(8) == 0 {
            checked_out.saturating_sub(1)
        } else {
            checked_out
        };
        writeln!(csv, "{ts},backend,{name},{pool_size},{max_overflow},{checked_out}").unwrap();
    }
}

fn generated_metrics(dir: &Path, seed: u64, instances: usize) -> std::path::PathBuf {
    let mut rng = Rng(seed);
    let mut csv = String::from("ts,service,instance,pool_size,max_overflow,checked_out\n");
    for i in 0..instances {
        instance_rows(&mut rng, &format!("gen-{i:02}"), &mut csv);
    }
    let path = dir.join("generated.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

fn rfc3339(ts: i64) -> String {
    jiff::Timestamp::from_second(ts).unwrap().to_string()
}

/// Exports the sample config's rules into `dir` as the tests load them.
fn export_rules(dir: &Path) {
    let rules = dir.join("poolcap-rules.yml");
    let out = poolcap(&[
        "export",
        "prometheus-rules",
        "--config",
        "data/poolcap.toml",
        "--out",
        rules.to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// Exports the rules and the tests of `metrics` over the span into `dir`;
/// returns the test file's path and the export's note.
fn export(dir: &Path, metrics: &Path, seed: u64) -> (std::path::PathBuf, String) {
    export_rules(dir);
    let tests = dir.join("tests.yml");
    let out = poolcap(&[
        "export",
        "promtool-tests",
        "--config",
        "data/poolcap.toml",
        "--metrics",
        metrics.to_str().unwrap(),
        "--from",
        &rfc3339(FROM),
        "--to",
        &rfc3339(FROM + SPAN),
        "--out",
        tests.to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.code, 0, "seed {seed:#x}: {}", out.stderr);
    (tests, out.stderr)
}

fn promtool_test(tests: &Path) -> (bool, String) {
    let out = Command::new("promtool")
        .args(["test", "rules"])
        .arg(tests)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Checks of firing alerts and of none firing, from the export's note.
fn checks(note: &str) -> (u64, u64) {
    let line = note.lines().find(|l| l.contains("test case(s)")).expect(note);
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[1], numbers[2])
}

#[test]
fn promtool_agrees_with_the_replay_on_generated_series() {
    if !promtool_available() {
        return;
    }
    for seed in [0x5eed_0001_u64, 0x5eed_0002, 0x5eed_0003] {
        let dir = tempfile::tempdir().unwrap();
        let metrics = generated_metrics(dir.path(), seed, 24);
        let (tests, note) = export(dir.path(), &metrics, seed);
        let (firing, quiet) = checks(&note);
        assert!(note.contains("24 test case(s)"), "{note}");
        // Every minute of 3 h, 2 rules, 24 instances.
        assert_eq!(firing + quiet, 181 * 2 * 24, "{note}");
        assert!(firing > 200 && quiet > 2000, "seed {seed:#x}: {note}");
        let (ok, output) = promtool_test(&tests);
        assert!(ok, "seed {seed:#x}: promtool disagrees with the replay:\n{output}");
    }
}

#[test]
fn promtool_fails_the_tests_when_an_expectation_is_wrong() {
    if !promtool_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let metrics = generated_metrics(dir.path(), 0x5eed_0001, 6);
    let (tests, _) = export(dir.path(), &metrics, 0x5eed_0001);
    let text = std::fs::read_to_string(&tests).unwrap();
    // The first firing check expects none instead: promtool must object.
    let firing = text.find("    exp_alerts:\n    - exp_labels:").expect("a firing check");
    let end = text[firing..]
        .find("\n  - eval_time:")
        .map_or(text.len(), |e| firing + e);
    let wrong = format!("{}    exp_alerts: []{}", &text[..firing], &text[end..]);
    std::fs::write(&tests, wrong).unwrap();
    let (ok, output) = promtool_test(&tests);
    assert!(!ok, "promtool accepted a wrong expectation:\n{output}");
    assert!(output.contains("FAILED"), "{output}");
}

/// Without --from/--to: tests around the fired episodes and each rule's
/// longest near misses of the sample October, with firing checks carrying the
/// expanded labels and annotations, and checks where nothing may fire.
#[test]
fn automatic_tests_of_the_sample_october() {
    let dir = tempfile::tempdir().unwrap();
    let tests = dir.path().join("tests.yml");
    let out = poolcap(&[
        "export",
        "promtool-tests",
        "--config",
        "data/poolcap.toml",
        "--metrics",
        "data/metrics/2026-10.csv.gz",
        "--out",
        tests.to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let file: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&tests).unwrap()).unwrap();
    assert_eq!(file["rule_files"][0].as_str(), Some("poolcap-rules.yml"));
    assert_eq!(file["evaluation_interval"].as_str(), Some("1m"));
    let groups = file["tests"].as_sequence().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert!(names.iter().any(|n| n.contains("warning fired")), "{names:?}");
    for rule in ["warning", "critical"] {
        assert!(
            names
                .iter()
                .any(|n| n.contains(&format!("{rule} held")) && n.contains("must not fire")),
            "no near miss of {rule}: {names:?}"
        );
    }
    let mut firing = 0;
    let mut quiet = 0;
    for group in groups {
        let series: Vec<&str> = group["input_series"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|s| s["series"].as_str().unwrap())
            .collect();
        assert_eq!(series.len(), 2);
        assert!(
            series[0].starts_with("sqlalchemy_pool_checked_out{instance=\"backend-"),
            "{series:?}"
        );
        assert!(series[1].starts_with("sqlalchemy_pool_size{"), "{series:?}");
        for check in group["alert_rule_test"].as_sequence().unwrap() {
            let alerts = check["exp_alerts"].as_sequence().unwrap();
            if alerts.is_empty() {
                quiet += 1;
                continue;
            }
            firing += 1;
            let labels = &alerts[0]["exp_labels"];
            let severity = labels["severity"].as_str().unwrap();
            assert_eq!(
                check["alertname"].as_str().unwrap(),
                format!("DbPoolUtilization{}", severity[..1].to_uppercase() + &severity[1..])
            );
            let summary = alerts[0]["exp_annotations"]["summary"].as_str().unwrap();
            assert_eq!(
                summary,
                format!(
                    "DB connection pool of backend ({}) above {} for {}",
                    labels["instance"].as_str().unwrap(),
                    if severity == "warning" { "80%" } else { "90%" },
                    if severity == "warning" { "5m" } else { "2m" }
                )
            );
            let description = alerts[0]["exp_annotations"]["description"].as_str().unwrap();
            assert!(description.starts_with("checked_out / pool_size is "), "{description}");
            assert!(!description.contains("{{"), "{description}");
        }
    }
    assert!(firing > 100 && quiet > 100, "{firing} firing, {quiet} quiet checks");
    if promtool_available() {
        export_rules(dir.path());
        let (ok, output) = promtool_test(&tests);
        assert!(ok, "{output}");
    }
}

/// A rule named with `{{`: its label and annotations are escaped Go template
/// text, and promtool's expansion of them is the name itself.
#[test]
fn promtool_expands_a_rule_name_with_braces_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("poolcap.toml");
    std::fs::write(
        &config,
        "[[services]]\nname = \"api\"\nreplicas = 1\nprocesses_per_replica = 1\n\
         current = { pool_size = 10, max_overflow = 5 }\n\n\
         [[alerts]]\nname = \"warn {{\"\nabove = 0.8\nfor = \"5m\"\n",
    )
    .unwrap();
    let mut csv = String::from("ts,service,instance,pool_size,max_overflow,checked_out\n");
    for k in 0..120 {
        let checked_out = if (20..80).contains(&k) { 10 } else { 3 };
        writeln!(csv, "{},api,api-0,10,5,{checked_out}", rfc3339(FROM + k * 60)).unwrap();
    }
    let metrics = dir.path().join("m.csv");
    std::fs::write(&metrics, csv).unwrap();
    let config = config.to_str().unwrap();
    let rules = dir.path().join("poolcap-rules.yml");
    let out = poolcap(&[
        "export",
        "prometheus-rules",
        "--config",
        config,
        "--out",
        rules.to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let tests = dir.path().join("tests.yml");
    let out = poolcap(&[
        "export",
        "promtool-tests",
        "--config",
        config,
        "--metrics",
        metrics.to_str().unwrap(),
        "--out",
        tests.to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&tests).unwrap();
    assert!(text.contains("severity: warn {{\n"), "{text}");
    assert!(text.contains("(rule warn {{: above 80% for 5m)"), "{text}");
    if promtool_available() {
        let (ok, output) = promtool_test(&tests);
        assert!(ok, "{output}");
    }
}
