//! `promtool test rules` files (DESIGN §3.5): input series written in
//! promtool's expanding notation and alert checks at evaluation times, with the
//! labels and annotations Prometheus gives a firing alert. What is expected is
//! decided by the parent module ([`super`]); this module only
//! writes it down in the format promtool 2.42 reads.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::format_duration;

/// The whole test file.
#[derive(Debug, Serialize)]
pub struct TestFile {
    /// Rules files to load, relative to the test file.
    pub rule_files: Vec<String>,
    /// How often promtool evaluates the rules (`1m`).
    pub evaluation_interval: String,
    /// One group per case.
    pub tests: Vec<TestGroup>,
}

/// One case: its input series and its checks.
#[derive(Debug, Serialize)]
pub struct TestGroup {
    /// What the case is, for promtool's failure messages.
    pub name: String,
    /// Step between the values of the input series.
    pub interval: String,
    /// Input series.
    pub input_series: Vec<InputSeries>,
    /// Alert checks.
    pub alert_rule_test: Vec<AlertCheck>,
}

/// One input series.
#[derive(Debug, Serialize)]
pub struct InputSeries {
    /// `metric{label="value",…}`.
    pub series: String,
    /// Expanding notation: one value per interval, `_` for none.
    pub values: String,
}

/// The alerts of one rule expected firing at one evaluation time.
#[derive(Debug, Serialize)]
pub struct AlertCheck {
    /// Time since the case's start (`15m`).
    pub eval_time: String,
    /// The alert's name.
    pub alertname: String,
    /// The firing alerts; empty means none may fire.
    pub exp_alerts: Vec<ExpectedAlert>,
}

/// A firing alert as promtool compares it.
#[derive(Debug, Serialize)]
pub struct ExpectedAlert {
    /// Labels, without `alertname`.
    pub exp_labels: BTreeMap<String, String>,
    /// Annotations, expanded.
    pub exp_annotations: BTreeMap<String, String>,
}

/// `metric{a="x",b="y"}` with label values escaped as PromQL strings.
pub fn series_selector(metric: &str, labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
            )
        })
        .collect();
    format!("{metric}{{{}}}", inner.join(","))
}

/// Values in promtool's expanding notation: `slots[k]` is the value at
/// `k × interval`, `None` a missing sample. Runs of missing values become
/// `_xN` (N values), runs of one value `vxN` (N + 1 values).
pub fn expanding_notation(slots: &[Option<u64>]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut k = 0;
    while k < slots.len() {
        let run = slots[k..].iter().take_while(|v| **v == slots[k]).count();
        match (slots[k], run) {
            (None, 1) => parts.push("_".into()),
            (None, n) => parts.push(format!("_x{n}")),
            (Some(v), 1) => parts.push(v.to_string()),
            (Some(v), n) => parts.push(format!("{v}x{}", n - 1)),
        }
        k += run;
    }
    parts.join(" ")
}

/// A promtool duration (`0s`, `15m`, `1h2m3s`).
pub fn test_duration(seconds: i64) -> String {
    format_duration(seconds)
}

/// The file as YAML, with a header saying where it came from and how to run it.
pub fn to_yaml(file: &TestFile, source: &str) -> anyhow::Result<String> {
    Ok(format!(
        "# promtool rule tests written by poolcap from {source}: input series from the\n\
         # metric history, expected alerts from poolcap's replay of it.\n\
         # Run: promtool test rules FILE (the rules file beside it: poolcap export prometheus-rules)\n{}",
        serde_yaml::to_string(file)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_written_in_expanding_notation() {
        let slots = [Some(3), Some(3), Some(3), None, None, Some(4), None, Some(4), Some(5)];
        assert_eq!(expanding_notation(&slots), "3x2 _x2 4 _ 4 5");
        assert_eq!(expanding_notation(&[]), "");
    }

    #[test]
    fn label_values_are_escaped() {
        let labels = BTreeMap::from([
            ("instance".to_string(), "a\"b\\c".to_string()),
            ("service".to_string(), "backend".to_string()),
        ]);
        assert_eq!(
            series_selector("m", &labels),
            "m{instance=\"a\\\"b\\\\c\",service=\"backend\"}"
        );
    }
}
