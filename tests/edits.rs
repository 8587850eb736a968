//! In/out trees for the file editors (STYLE habit 11): each case's `in` file,
//! edited with the same decision, must equal its `out` file byte for byte.

use std::path::{Path, PathBuf};

use poolcap::write::{self, Value};

/// The decision every case applies: 25 + 13 with the card's fixed settings.
const ENV_CHANGES: [(&str, &str); 6] = [
    ("DB_POOL_SIZE", "25"),
    ("DB_MAX_OVERFLOW", "13"),
    ("DB_POOL_TIMEOUT", "30"),
    ("DB_POOL_RECYCLE", "3600"),
    ("DB_POOL_PRE_PING", "true"),
    ("DB_STATEMENT_TIMEOUT", "30000"),
];

const TOML_CHANGES: [(&str, Value); 6] = [
    ("pool_size", Value::Int(25)),
    ("max_overflow", Value::Int(13)),
    ("pool_timeout", Value::Int(30)),
    ("pool_recycle", Value::Int(3600)),
    ("pool_pre_ping", Value::Bool(true)),
    ("statement_timeout", Value::Int(30000)),
];

fn cases(kind: &str) -> Vec<PathBuf> {
    let dir = crate::util::root().join("tests/fixtures").join(kind);
    // Each case is a folder (beside them, a `.gitattributes` keeps their bytes).
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    cases
}

fn check(case: &Path, ext: &str, edit: impl Fn(&str) -> String) {
    let input = std::fs::read_to_string(case.join(format!("in.{ext}"))).unwrap();
    let expected = std::fs::read_to_string(case.join(format!("out.{ext}"))).unwrap();
    let got = edit(&input);
    assert!(
        got == expected,
        "{}:\n--- expected\n{expected:?}\n--- got\n{got:?}",
        case.display()
    );
    // Editing the result again changes nothing.
    assert_eq!(edit(&got), got, "{}: not idempotent", case.display());
}

#[test]
fn env_in_out_trees() {
    let changes: Vec<(&str, String)> = ENV_CHANGES.iter().map(|(k, v)| (*k, v.to_string())).collect();
    for case in cases("env") {
        check(&case, "env", |text| write::env::edit(text, &changes));
    }
}

#[test]
fn toml_in_out_trees() {
    for case in cases("toml") {
        check(&case, "toml", |text| {
            write::toml_file::edit(text, &["database", "pool"], &TOML_CHANGES).unwrap()
        });
    }
}
