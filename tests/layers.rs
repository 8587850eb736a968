//! The one-way house (ARCHITECTURE.md, "Layers"): every module of `src/`
//! imports only the layers below it. The test reads the sources, so a new
//! upward import fails here with the file and line, not in a later review.

use std::collections::BTreeMap;
use std::path::Path;

use crate::util::root;

/// Each layer and the layers it may import (besides itself). `cli`,
/// `commands`, `lib.rs` and `main.rs` are the top: they may import anything,
/// and nothing else may import them.
const LAYERS: &[(&str, &[&str])] = &[
    ("support", &[]),
    ("exit", &[]),
    ("model", &["support"]),
    ("config", &["model", "support"]),
    ("ingest", &["config", "model", "support"]),
    ("generate", &["config", "model", "support"]),
    ("store", &["ingest", "config", "model", "support"]),
    ("analyze", &["ingest", "config", "model", "support"]),
    ("policy", &["analyze", "ingest", "config", "model", "support"]),
    ("write", &["config", "model", "support"]),
    (
        "ops",
        &[
            "write", "policy", "analyze", "store", "ingest", "generate", "config", "model", "support",
        ],
    ),
    (
        "render",
        &[
            "ops", "write", "policy", "analyze", "store", "ingest", "config", "model", "support",
        ],
    ),
];

const TOP: &[&str] = &["cli", "commands", "lib.rs", "main.rs"];

/// `crate::NAME` paths in the code of `text` (comments and test modules skipped).
fn imports(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            found.push((n + 1, name));
            rest = after;
        }
    }
    found
}

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = root().join("src");
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    let mut seen_layers = std::collections::BTreeSet::new();
    let mut violations = Vec::new();
    for path in &files {
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let layer = first.trim_end_matches(".rs").to_string();
        // Unit-test files may use anything of the crate.
        if path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        if TOP.contains(&first.as_str()) || TOP.contains(&layer.as_str()) {
            continue;
        }
        let Some(may) = allowed.get(layer.as_str()) else {
            violations.push(format!(
                "src/{}: module {layer:?} has no place in the layers of tests/layers.rs (and ARCHITECTURE.md); add it there",
                relative.display()
            ));
            continue;
        };
        seen_layers.insert(layer.clone());
        let text = std::fs::read_to_string(path).unwrap();
        for (line, name) in imports(&text) {
            if name != layer && !may.contains(&name.as_str()) {
                violations.push(format!(
                    "src/{}:{line}: {layer} imports crate::{name}, a layer above it or beside it",
                    relative.display()
                ));
            }
        }
    }
    assert!(violations.is_empty(), "upward imports:\n{}", violations.join("\n"));
    // The test sees the tree it guards (a moved `src/` would pass vacuously).
    for layer in [
        "model", "config", "ingest", "store", "analyze", "policy", "ops", "render", "write",
    ] {
        assert!(seen_layers.contains(layer), "no source file of layer {layer} found");
    }
}

#[test]
fn the_import_scanner_sees_paths_and_skips_comments_and_tests() {
    let text = "use crate::policy::Plan;\n// crate::commands::x\nlet a = crate::ops::plan::f(); // crate::cli\n#[cfg(test)]\nuse crate::commands;\n";
    assert_eq!(imports(text), vec![(1, "policy".to_string()), (3, "ops".to_string())]);
}
