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
