//! The outlook (issue 16, item 7) on the sample October, against numbers
//! worked out by hand from the plan's monthly statistics (2026-08, 09, 10:
//! the `history` and `stats` of `plan.json`, rounded to six decimals, hence
//! the 1e-5 tolerance).

use serde_json::Value;

use crate::util::{SAMPLE_METRICS, october_plan_json, sample_plan};

fn close(v: &Value, expected: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!((got - expected).abs() < 1e-5, "got {got}, expected {expected}");
}

fn service<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap()
}

#[test]
fn the_sample_october_outlook_has_the_hand_computed_numbers() {
    let plan = october_plan_json(&SAMPLE_METRICS);

    // backend, mean utilization at x = −2, −1, 0: 0.396163, 0.448937, 0.614684.
    // x̄ = −1, Sxx = 2; b = (0.614684 − 0.396163) / 2 = 0.1092605;
    // ȳ = 1.459784 / 3 = 0.4865947; a = ȳ + b = 0.5958552.
    // Three equally spaced points leave residuals (d, −2d, d) with
    // d = (0.396163 − 2 × 0.448937 + 0.614684) / 6 = 0.0188288;
    // s = √(6d² / 1) = d√6 = 0.0461210.
    // 2026-11 (x = 1): ŷ = 0.7051157; t(1 df, 80 %) = 3.0777;
    // half = 3.0777 × 0.0461210 × √(1 + 1/3 + (1 − (−1))² / 2) = 3.0777 × 0.0461210 × 1.8257419 = 0.2591581
    // → [0.4459576, 0.9642738].
    let o = &service(&plan, "backend")["outlook"];
    assert_eq!(o["months"], serde_json::json!(["2026-08", "2026-09", "2026-10"]));
    assert_eq!(o["level"], 0.8);
    assert_eq!(o["horizon_months"], 6);
    let mean = &o["mean"];
    close(&mean["slope_per_month"], 0.1092605);
    close(&mean["fitted_now"], 0.5958552);
    close(&mean["residual_se"], 0.0461210);
    let nov = &mean["projection"][0];
    assert_eq!(nov["month"], "2026-11");
    close(&nov["value"], 0.7051157);
    close(&nov["low"], 0.4459576);
    close(&nov["high"], 0.9642738);
    // 2027-04 (x = 6): ŷ = 0.5958552 + 6 × 0.1092605 = 1.2514182.
    assert_eq!(mean["projection"][5]["month"], "2027-04");
    close(&mean["projection"][5]["value"], 1.2514182);
    // October's 61.5 % is already above 60 %; the line is above it from November.
    assert_eq!(mean["threshold"], 0.6);
    assert_eq!(mean["above_now"], true);
    assert_eq!(mean["crosses"], "2026-11");

    // backend, p95 at x = −2, −1, 0: 0.525, 0.5875, 0.8.
    // b = (0.8 − 0.525) / 2 = 0.1375; ȳ = 1.9125 / 3 = 0.6375; a = 0.775;
    // d = (0.525 − 1.175 + 0.8) / 6 = 0.025; s = 0.025 × √6 = 0.0612372.
    // 2026-11: 0.775 + 0.1375 = 0.9125 > 0.80 (the "warning" rule), first month above it.
    let p95 = &o["p95"];
    close(&p95["slope_per_month"], 0.1375);
    close(&p95["fitted_now"], 0.775);
    close(&p95["residual_se"], 0.0612372);
    close(&p95["projection"][0]["value"], 0.9125);
    assert_eq!(p95["threshold"], 0.8);
    assert_eq!(p95["threshold_source"], "alert rule \"warning\"");
    assert_eq!(p95["above_now"], false, "0.80 is not above 0.80");
    assert_eq!(p95["crosses"], "2026-11");

    // backend's budget. Limit 250 − 3 − 0 − 10 = 237; the others: worker 2 × 15 + 12
    // other clients = 42; 195 / 4 pools = 48 per pool; p + ⌈p/2⌉ ≤ 48 → p = 32 (32 + 16).
    // From the recommended 25: ⌊(32 − 25) / 5⌋ = 1 step.
    // Demand mean(k) × 20 (the pool October was measured at), over the pool then:
    //   2026-11  0.7051157 × 20 = 14.10 / 25 = 0.564   no step
    //   2026-12  0.8143762 × 20 = 16.29 / 25 = 0.652   step → 30
    //   2027-01  0.9236367 × 20 = 18.47 / 30 = 0.616   step → 35 (the 2nd: beyond 32)
    //   2027-02  1.0328972 × 20 = 20.66 / 35 = 0.590   no step
    //   2027-03  1.1421577 × 20 = 22.84 / 35 = 0.653   step → 40
    //   2027-04  1.2514182 × 20 = 25.03 / 40 = 0.626   step → 45
    let b = &o["budget"];
    assert_eq!(b["pool_size"], 25);
    assert_eq!(b["headroom"], 32);
    assert_eq!(b["steps_left"], 1);
    assert_eq!(b["measured_pool_size"], 20);
    assert_eq!(
        b["step_months"],
        serde_json::json!(["2026-12", "2027-01", "2027-03", "2027-04"])
    );
    assert_eq!(b["exhausted"], "2027-01");
    assert_eq!(service(&plan, "backend")["outlook_reason"], Value::Null);

    // worker: mean 0.163078, 0.163473, 0.163325 → b = (0.163325 − 0.163078) / 2 = 0.0001235,
    // a = 0.163292 + 0.0001235 = 0.1634155: nowhere near 60 % in six months.
    // p95 0.25 every month: slope 0, no crossing.
    // Budget: others backend 4 × 38 + 12 = 164; 73 / 2 pools = 36; p + ⌈p/2⌉ ≤ 36 → 24;
    // ⌊(24 − 10) / 5⌋ = 2 steps, none due.
    let w = &service(&plan, "worker")["outlook"];
    close(&w["mean"]["slope_per_month"], 0.0001235);
    close(&w["mean"]["fitted_now"], 0.1634155);
    assert_eq!(w["mean"]["crosses"], Value::Null);
    close(&w["p95"]["slope_per_month"], 0.0);
    close(&w["p95"]["residual_se"], 0.0);
    assert_eq!(w["p95"]["crosses"], Value::Null);
    assert_eq!(w["budget"]["headroom"], 24);
    assert_eq!(w["budget"]["steps_left"], 2);
    assert_eq!(w["budget"]["step_months"], serde_json::json!([]));
    assert_eq!(w["budget"]["exhausted"], Value::Null);
}

#[test]
fn two_months_give_no_outlook_and_say_why() {
    let out = sample_plan("2026-09", &["--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let backend = service(&plan, "backend");
    assert_eq!(backend["outlook"], Value::Null);
    assert_eq!(
        backend["outlook_reason"],
        "2 month(s) from 2026-04 to 2026-09 cover at least 80.0% (2026-08, 2026-09); a trend needs 3"
    );
}

#[test]
fn the_plan_table_prints_one_outlook_line_per_service() {
    let out = sample_plan("2026-10", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "backend  (3 months)  mean +10.9 pts/month, already above 60.0%; p95 +13.8 pts/month, crosses 80.0% (warning) in 2026-11; budget takes 1 more step of 5 (to 30); exhausted by the step due in 2027-01"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("worker   (3 months)  mean +0.0 pts/month, stays at or under 60.0% through 2027-04"),
        "{}",
        out.stdout
    );
}
