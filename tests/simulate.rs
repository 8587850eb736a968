//! `poolcap simulate` (synthetic mode) as a user runs it: the JSON keys and
//! their meaning, the same seed giving the same result, the pool's
//! behaviour at both ends (an idle pool never waits; an overloaded one times
//! out), and a usage error naming the flag for every bad value.

use crate::util::poolcap;

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["simulate", "--format", "json"];
    all.extend_from_slice(args);
    let out = poolcap(&all).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

const EXHAUST: &[&str] = &[
    "--arrivals",
    "poisson:32",
    "--hold",
    "exp:0.2",
    "--pool-size",
    "4",
    "--max-overflow",
    "2",
    "--pool-timeout",
    "0.5",
    "--duration",
    "600",
    "--seed",
    "7",
];

#[test]
fn json_has_the_issues_keys_and_the_same_seed_gives_the_same_run() {
    let a = json(EXHAUST);
    for key in [
        "checkouts",
        "timeouts",
        "p_wait",
        "p_timeout",
        "wait_p50_ms",
        "wait_p95_ms",
        "wait_p99_ms",
        "opened",
        "peak_in_use",
        "mean_in_use",
        "saturated_seconds",
        "offered_load",
        "erlang_c_p_wait",
        "scenario",
    ] {
        assert!(a.get(key).is_some(), "{key} missing in {a}");
    }
    assert_eq!(a, json(EXHAUST), "same seed, same result");
    // 32/s for 600 s: about 19 200 checkouts (Poisson: within 4 σ ≈ 560).
    let n = a["checkouts"].as_u64().unwrap();
    assert!(n.abs_diff(19_200) < 560, "{n}");
    // Offered load 6.4 on 6 connections: the pool runs out, callers time out,
    // and a timed-out caller waited exactly pool_timeout.
    assert!(a["timeouts"].as_u64().unwrap() > 0);
    assert_eq!(a["peak_in_use"], 6);
    assert_eq!(a["wait_p99_ms"], 500.0);
    assert!(a["erlang_c_p_wait"].is_null(), "no steady state at A ≥ c");
    let p = a["p_timeout"].as_f64().unwrap();
    assert!(
        (p - a["timeouts"].as_f64().unwrap() / n as f64).abs() < 1e-12,
        "p_timeout is timeouts / checkouts"
    );
}

#[test]
fn an_idle_pool_never_waits_and_overflow_is_closed_on_return() {
    let a = json(&[
        "--arrivals",
        "poisson:1",
        "--hold",
        "fixed:0.01",
        "--pool-size",
        "5",
        "--max-overflow",
        "5",
        "--duration",
        "3600",
    ]);
    assert_eq!(a["timeouts"], 0);
    assert_eq!(a["p_wait"], 0.0);
    assert_eq!(a["wait_p99_ms"], 0.0);
    // One checkout at a time, 10 ms each: one connection serves them all.
    assert!(a["opened"].as_u64().unwrap() <= 2, "{a}");
    let c = a["erlang_c_p_wait"].as_f64().unwrap();
    assert!(c < 1e-6, "{c}");
}

#[test]
fn the_table_names_the_scenario_and_the_timeouts() {
    let mut args = vec!["simulate"];
    args.extend_from_slice(EXHAUST);
    let out = poolcap(&args).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("scenario          poisson:32/s, hold exp:0.2, pool 4 + 2, timeout 0.5 s"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\ntimeouts          "), "{}", out.stdout);
}

#[test]
fn bad_values_are_usage_errors_naming_the_flag() {
    for (args, flag) in [
        (
            vec!["--arrivals", "uniform:3", "--hold", "exp:0.1", "--pool-size", "4"],
            "--arrivals",
        ),
        (
            vec!["--arrivals", "poisson:-3", "--hold", "exp:0.1", "--pool-size", "4"],
            "--arrivals",
        ),
        (
            vec!["--arrivals", "poisson:NaN", "--hold", "exp:0.1", "--pool-size", "4"],
            "--arrivals",
        ),
        (
            vec!["--arrivals", "poisson:3", "--hold", "exp:0", "--pool-size", "4"],
            "--hold",
        ),
        (
            vec!["--arrivals", "poisson:3", "--hold", "lognormal:0.1", "--pool-size", "4"],
            "--hold",
        ),
        (
            vec![
                "--arrivals",
                "poisson:3",
                "--hold",
                "lognormal:0.1:9",
                "--pool-size",
                "4",
            ],
            "--hold",
        ),
        (
            vec!["--arrivals", "poisson:3", "--hold", "exp:0.1", "--pool-size", "0"],
            "--pool-size",
        ),
        (
            vec![
                "--arrivals",
                "poisson:3",
                "--hold",
                "exp:0.1",
                "--pool-size",
                "4294967295",
            ],
            "--pool-size",
        ),
        (
            vec![
                "--arrivals",
                "poisson:3",
                "--hold",
                "exp:0.1",
                "--pool-size",
                "4",
                "--pool-timeout",
                "0",
            ],
            "--pool-timeout",
        ),
        (
            vec![
                "--arrivals",
                "poisson:3",
                "--hold",
                "exp:0.1",
                "--pool-size",
                "4",
                "--duration",
                "inf",
            ],
            "--duration",
        ),
        (
            vec![
                "--arrivals",
                "poisson:900000",
                "--hold",
                "exp:0.1",
                "--pool-size",
                "4",
                "--duration",
                "1000",
            ],
            "--arrivals × --duration",
        ),
        (
            vec![
                "--arrivals",
                "poisson:3",
                "--hold",
                "exp:0.1",
                "--pool-size",
                "4",
                "--pool-recycle",
                "0",
            ],
            "--pool-recycle",
        ),
    ] {
        let mut all = vec!["simulate"];
        all.extend_from_slice(&args);
        let out = poolcap(&all).run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(flag), "{args:?}: {}", out.stderr);
    }
}

mod from_the_measured_month {
    //! The queueing check on the sample months (calibration, the September
    //! incident) and `simulate --month` as a user runs it.

    use crate::util::{SAMPLE_METRICS, outcome_of, poolcap, root};
    use poolcap::analyze::study::QueueingStudy;

    /// Each service's simulated queueing check for `month` of the sample data.
    fn checks(month: &str) -> Vec<(String, QueueingStudy)> {
        let outcome = outcome_of(SAMPLE_METRICS.iter().map(|m| root().join(m)).collect(), month, 0, None);
        outcome
            .plan
            .decisions
            .iter()
            .zip(&outcome.queueing)
            .map(|(d, q)| (d.service.clone(), q.clone().expect("every sample service has minutes")))
            .collect()
    }

    #[test]
    fn the_september_incident_comes_out_as_an_incident() {
        let checks = checks("2026-09");
        let (_, q) = checks.iter().find(|(s, _)| s == "backend").unwrap();
        // The incident is among the 24 busiest instance-hours of every pool.
        assert_eq!((q.instance_hours, q.instances), (24, 4));
        // As deployed (20 + 10) the pools time out; at the recommended 40 + 20 never.
        assert_eq!((q.current.pool_size, q.current.max_overflow), (20, 10));
        assert!(
            q.current.timeouts > 0 && q.current.p_timeout > q.target,
            "{:?}",
            q.current
        );
        assert_eq!((q.recommended.pool_size, q.recommended.max_overflow), (40, 20));
        assert_eq!(q.recommended.timeouts, 0, "{:?}", q.recommended);
        assert!(!q.above_target);
        // Calibration at the deployed sizes: the measured 95 timeouts (the
        // generator's counters over the incident) and 11 513 saturated
        // seconds; the simulation saturates within 5 % of that and times
        // out, by more (docs/review.md says why).
        let (m, s) = (&q.calibration.measured, &q.calibration.simulated);
        assert_eq!(m.timeouts, 95);
        assert_eq!(m.saturated_seconds, 11_513.0);
        assert!(
            (s.saturated_seconds / m.saturated_seconds - 1.0).abs() < 0.05,
            "{s:?} vs {m:?}"
        );
        assert!(s.timeouts > m.timeouts);
        assert!(
            (s.mean_utilization - m.mean_utilization).abs() < 0.005,
            "{s:?} vs {m:?}"
        );
        // Model and policy agree that 20 + 10 is too small; the simulation
        // needs less than the sustained-high rule's 40 + 20, and says so.
        let smallest = q.smallest_meeting_target.unwrap();
        assert!(smallest.pool_size > 20 && smallest.pool_size < 40, "{smallest:?}");
        let why = q.disagreement.as_deref().unwrap();
        assert!(why.contains("below the recommended 40 + 20"), "{why}");
    }

    #[test]
    fn the_quiet_months_are_reproduced_without_timeouts() {
        for month in ["2026-08", "2026-10"] {
            for (service, q) in checks(month) {
                let (m, s) = (&q.calibration.measured, &q.calibration.simulated);
                // Little's law: the simulated mean is the measured one.
                assert!(
                    (s.mean_utilization - m.mean_utilization).abs() < 0.005,
                    "{month} {service}: {s:?} vs {m:?}"
                );
                // Poisson at least: never a smaller p95 than the (smooth) sample data.
                assert!(
                    s.p95_utilization >= m.p95_utilization,
                    "{month} {service}: {s:?} vs {m:?}"
                );
                assert_eq!((m.timeouts, s.timeouts), (0, 0), "{month} {service}");
                assert_eq!(
                    (q.current.timeouts, q.recommended.timeouts),
                    (0, 0),
                    "{month} {service}"
                );
                // The sample data is smoother than Poisson.
                assert!(q.dispersion.unwrap() < 1.0, "{month} {service}: {:?}", q.dispersion);
                // The hours left out were quieter than the ones simulated.
                assert!(q.unsimulated_peak.is_some());
            }
        }
    }

    #[test]
    fn october_the_policy_raises_for_growth_and_the_report_says_so() {
        let checks = checks("2026-10");
        let (_, q) = checks.iter().find(|(s, _)| s == "backend").unwrap();
        assert_eq!((q.recommended.pool_size, q.recommended.max_overflow), (25, 13));
        assert_eq!(q.current.timeouts, 0);
        let why = q.disagreement.as_deref().unwrap();
        assert!(why.contains("raises 20 + 10 to 25 + 13 by monthly-escalation"), "{why}");
        // The worker keeps its size, and the simulation agrees.
        let (_, w) = checks.iter().find(|(s, _)| s == "worker").unwrap();
        assert_eq!(w.disagreement, None);
    }

    fn month_json(extra: &[&str]) -> serde_json::Value {
        let mut args = vec![
            "simulate",
            "--format",
            "json",
            "--config",
            "data/poolcap.toml",
            "--month",
            "2026-10",
            "--metrics",
            "data/metrics/2026-10.csv.gz",
            "--service",
            "backend",
            "--hours",
            "busiest:2",
        ];
        args.extend_from_slice(extra);
        let out = poolcap(&args).run();
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    }

    #[test]
    fn simulate_month_tries_the_sizes_asked_with_current_and_recommended() {
        let a = month_json(&["--pool-sizes", "10..15:5"]);
        assert_eq!(a["month"], "2026-10");
        assert_eq!(a["hours"], "busiest:2");
        let services = a["services"].as_array().unwrap();
        assert_eq!(services.len(), 1, "--service backend: only backend");
        let s = &services[0];
        assert_eq!(s["service"], "backend");
        assert_eq!(s["queueing"]["instance_hours"], 2);
        let sizes: Vec<(u64, u64)> = s["sizes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["pool_size"].as_u64().unwrap(), r["max_overflow"].as_u64().unwrap()))
            .collect();
        // 10 and 15 as asked (overflow by the policy's factor), current and recommended added.
        assert_eq!(sizes, vec![(10, 5), (15, 8), (20, 10), (25, 13)]);
        for r in s["sizes"].as_array().unwrap() {
            for key in [
                "checkouts",
                "timeouts",
                "p_timeout",
                "p_wait",
                "wait_p50_ms",
                "wait_p95_ms",
                "wait_p99_ms",
                "saturated_seconds",
                "peak_in_use",
                "connections",
                "fits_budget",
            ] {
                assert!(r.get(key).is_some(), "{key} missing in {r}");
            }
            // 4 pools × (pool_size + max_overflow).
            let capacity = r["pool_size"].as_u64().unwrap() + r["max_overflow"].as_u64().unwrap();
            assert_eq!(r["connections"].as_u64().unwrap(), 4 * capacity);
        }
        // Every size sees the same checkouts; 10 + 5 is below the demand.
        let rows = s["sizes"].as_array().unwrap();
        assert!(rows.iter().all(|r| r["checkouts"] == rows[0]["checkouts"]));
        assert!(rows[0]["timeouts"].as_u64().unwrap() > 0);
        assert_eq!(s["headroom"], 32);
        // The same seed gives the same run; another seed other checkouts.
        assert_eq!(a, month_json(&["--pool-sizes", "10..15:5"]));
        let b = month_json(&["--pool-sizes", "10..15:5", "--seed", "2"]);
        assert_ne!(
            a["services"][0]["sizes"][0]["checkouts"],
            b["services"][0]["sizes"][0]["checkouts"]
        );
    }

    #[test]
    fn simulate_month_refuses_bad_sizes_hours_and_empty_months() {
        let base = [
            "simulate",
            "--config",
            "data/poolcap.toml",
            "--metrics",
            "data/metrics/2026-10.csv.gz",
            "--month",
        ];
        for (extra, expect) in [
            (
                vec!["2026-10", "--pool-sizes", "60..10"],
                "--pool-sizes \"60..10\": FROM must not be above TO",
            ),
            (
                vec!["2026-10", "--pool-sizes", "ten"],
                "--pool-sizes \"ten\": write FROM..TO",
            ),
            (vec!["2026-10", "--pool-sizes", "0,5"], "each size must be from 1 to"),
            (vec!["2026-10", "--pool-sizes", "1..1000:1"], "at most 100 sizes"),
            (
                vec!["2026-10", "--hours", "busiest"],
                "--hours \"busiest\": write busiest:N",
            ),
            (vec!["2026-01"], "no service has samples in 2026-01"),
        ] {
            let mut args = base.to_vec();
            args.extend(extra.iter().copied());
            let out = poolcap(&args).run();
            assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
            assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        }
        // A synthetic flag with --month, or data flags without it: a usage error.
        let out = poolcap(&["simulate", "--month", "2026-10", "--arrivals", "poisson:5"]).run();
        assert_eq!(out.code, 2, "{}", out.stderr);
        let out = poolcap(&["simulate", "--pool-sizes", "10..20"]).run();
        assert_eq!(out.code, 2, "{}", out.stderr);
    }
}
