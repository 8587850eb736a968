//! A tiny harness: `poolcap(&[...]).run()` gives exit code, stdout and stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub struct Run {
    command: Command,
}

/// The crate root, where `data/` lives.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `poolcap ARGS…`, run from the crate root with a clean environment.
pub fn poolcap(args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_poolcap"));
    command
        .args(args)
        .current_dir(root())
        .env_remove("POOLCAP_CONFIG")
        .env_remove("POOLCAP_FORMAT")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    Run { command }
}

impl Run {
    #[allow(dead_code)]
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    #[allow(dead_code)]
    pub fn cwd(mut self, dir: &Path) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Runs it. Every run of the suite that fails is also checked for
    /// internals reaching the user: no Debug dump, raw OS error or panic.
    pub fn run(mut self) -> Output {
        let out = self.command.output().expect("poolcap runs");
        let out = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if out.code != 0 {
            for needle in ["Os {", "Error(", "panicked", "RUST_BACKTRACE"] {
                assert!(
                    !out.stderr.contains(needle),
                    "{needle:?} reached the user:\n{}",
                    out.stderr
                );
            }
        }
        out
    }
}

/// The sample metrics in `data/metrics`, as command-line arguments.
pub const SAMPLE_METRICS: [&str; 3] = [
    "data/metrics/2026-08.csv.gz",
    "data/metrics/2026-09.csv.gz",
    "data/metrics/2026-10.csv.gz",
];

/// A gzipped sample metrics file's text.
pub fn sample_csv(path: &str) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(root().join(path)).unwrap()),
        &mut text,
    )
    .unwrap();
    text
}

/// The sample config's plan for `month` computed in process from metric
/// `files`, with `history_months` earlier months (and chart detail of `detail_columns`).
pub fn outcome_of(
    files: Vec<PathBuf>,
    month: &str,
    history_months: usize,
    detail_columns: Option<usize>,
) -> poolcap::ops::plan::PlanOutcome {
    let settings = poolcap::config::load(&root().join("data/poolcap.toml")).unwrap();
    let inputs = poolcap::ops::plan::PlanInputs {
        metrics: poolcap::ops::metrics::MetricFiles {
            files,
            max_series: poolcap::ingest::DEFAULT_MAX_SERIES,
            ..Default::default()
        },
        month: month.into(),
        ..Default::default()
    };
    let options = poolcap::ops::plan::ComputeOptions {
        history_months,
        detail_columns,
        store: None,
        ..Default::default()
    };
    let mut printer = poolcap::render::Printer::quiet();
    poolcap::ops::plan::compute_with(&settings, &inputs, &options, &mut printer).unwrap()
}

/// The sample data's October plan computed in process from the metric files,
/// with two earlier months (and chart detail of `detail_columns`).
pub fn sample_outcome(detail_columns: Option<usize>) -> poolcap::ops::plan::PlanOutcome {
    outcome_of(
        SAMPLE_METRICS.iter().map(|m| root().join(m)).collect(),
        "2026-10",
        2,
        detail_columns,
    )
}

/// The October plan JSON of the sample config from metric `files`, without
/// its `inputs` and `provenance` sections (which name the files).
pub fn october_plan_json(files: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "plan",
        "--config",
        "data/poolcap.toml",
        "--month",
        "2026-10",
        "--format",
        "json",
        "--metrics",
    ];
    args.extend(files);
    let out = poolcap(&args).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    plan.as_object_mut().unwrap().remove("inputs");
    plan.as_object_mut().unwrap().remove("provenance");
    plan
}

/// `plan --config data/poolcap.toml --metrics <sample> --month MONTH` plus `extra`.
pub fn sample_plan(month: &str, extra: &[&str]) -> Output {
    let mut args = vec!["plan", "--config", "data/poolcap.toml", "--month", month, "--metrics"];
    args.extend(SAMPLE_METRICS);
    args.extend(extra);
    poolcap(&args).run()
}

/// A copy of the sample deployment (config and target files) in a temporary
/// folder, for tests that write or edit it.
#[allow(dead_code)]
pub fn sample_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("data/poolcap.toml"), dir.path().join("poolcap.toml")).unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    for f in ["backend.env", "values.yaml", "worker.toml"] {
        std::fs::copy(root().join("data/deploy").join(f), dir.path().join("deploy").join(f)).unwrap();
    }
    dir
}

/// A real server's URL from `var` (POOLCAP_TEST_POSTGRES_URL,
/// POOLCAP_TEST_MYSQL_URL); without it a notice, and the test passes
/// (`.ci/run` sets both).
#[allow(dead_code)]
pub fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            println!("skipped: {var} is not set (see .ci/run)");
            None
        }
    }
}

/// Copies the folder `from` into `to` (created), sub-folders included.
#[allow(dead_code)]
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
