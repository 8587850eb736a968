//! Hostile input never leaks (issue 12): a value of a key poolcap does not
//! manage never shows in what `apply --dry-run` and `override --dry-run`
//! print, nor in the change log they write, whatever its shape — YAML flow
//! collections at any depth, block scalars, continuation lines, multi-line
//! env values, TOML arrays and multi-line strings. And a target that starts
//! with a byte order mark is read and written like any other.

use std::path::PathBuf;

use proptest::prelude::*;

use crate::util::{Output, poolcap};

/// A deployment in a temporary directory: `poolcap.toml` with two services
/// (backend: an env file and a YAML file; worker: a TOML file), one change
/// log, and a small month of metrics on which the plan raises both pools.
struct Site {
    dir: tempfile::TempDir,
}

const CONFIG: &str = r#"[policy]
timezone = "UTC"

[database]
max_connections = 1000

[[services]]
name = "backend"
replicas = 1
processes_per_replica = 1

[services.targets]
env = { path = "deploy/backend.env" }
yaml = { path = "deploy/values.yaml", prefix = "backend.env" }
changelog = "CHANGELOG-capacity.md"

[[services]]
name = "worker"
replicas = 1
processes_per_replica = 1

[services.targets]
toml = { path = "deploy/worker.toml", prefix = "database.pool" }
changelog = "CHANGELOG-capacity.md"
"#;

/// October 2026 every 15 minutes, both pools 70 % busy (above the 60 % mean
/// that raises a pool by 5).
fn metrics_csv() -> String {
    let mut csv = String::from("ts,service,instance,pool_size,max_overflow,checked_out\n");
    let start = 1_790_812_800; // 2026-10-01T00:00:00Z
    for i in 0..(31 * 96) {
        let ts = start + i * 900;
        csv.push_str(&format!("{ts},backend,b1,20,10,14\n{ts},worker,w1,10,5,7\n"));
    }
    csv
}

impl Site {
    fn new(env: &str, yaml: &str, toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("deploy")).unwrap();
        std::fs::write(dir.path().join("poolcap.toml"), CONFIG).unwrap();
        std::fs::write(dir.path().join("metrics.csv"), metrics_csv()).unwrap();
        let site = Site { dir };
        site.write("deploy/backend.env", env);
        site.write("deploy/values.yaml", yaml);
        site.write("deploy/worker.toml", toml);
        site
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    /// `poolcap ARGS… --config <site>` (and the site's metrics for `apply`).
    fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(ToString::to_string).collect();
        all.extend(["--config".into(), self.path("poolcap.toml").display().to_string()]);
        if args[0] == "apply" {
            all.extend(["--month".into(), "2026-10".into(), "--metrics".into()]);
            all.push(self.path("metrics.csv").display().to_string());
        }
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        poolcap(&refs).cwd(self.dir.path()).run()
    }

    /// What both overrides and `apply` print in a dry run, each checked to succeed.
    fn dry_runs(&self) -> String {
        let mut printed = String::new();
        for args in [
            &["override", "backend", "--bump", "--reason", "r", "--dry-run"][..],
            &["override", "worker", "--bump", "--reason", "r", "--dry-run"],
            &["apply", "--dry-run", "--author", "A"],
        ] {
            let out = self.run(args);
            assert_eq!(out.code, 0, "{}: {}", args.join(" "), out.stderr);
            printed.push_str(&out.stdout);
            printed.push_str(&out.stderr);
        }
        printed
    }
}

/// The managed keys of the backend's env file, each changed by an override.
const ENV_POOL: &str = "DB_POOL_SIZE=20\nDB_MAX_OVERFLOW=10\nDB_POOL_TIMEOUT=31\n";

/// The backend's YAML file around `inside` (lines of the `backend.env` mapping).
fn yaml_with(inside: &str) -> String {
    format!(
        "backend:\n  env:\n    DB_POOL_SIZE: \"20\"\n{inside}    DB_MAX_OVERFLOW: \"10\"\n    DB_POOL_TIMEOUT: 31\n    DB_POOL_RECYCLE: 3600\n    DB_POOL_PRE_PING: true\n    DB_STATEMENT_TIMEOUT: 30000\n"
    )
}

const YAML_POOL: &str = "backend:\n  env:\n    DB_POOL_SIZE: \"20\"\n    DB_MAX_OVERFLOW: \"10\"\n    DB_POOL_TIMEOUT: 31\n    DB_POOL_RECYCLE: 3600\n    DB_POOL_PRE_PING: true\n    DB_STATEMENT_TIMEOUT: 30000\n";

/// The worker's TOML file with `inside` between its two pool sizes.
fn toml_with(inside: &str) -> String {
    format!("[database.pool]\npool_size = 10\n{inside}max_overflow = 5\npool_timeout = 31\n")
}

fn assert_hidden(printed: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!printed.contains(s), "{s:?} leaked:\n{printed}");
    }
}

#[test]
fn yaml_flow_collections_are_masked_inside() {
    let site = Site::new(
        ENV_POOL,
        &yaml_with(
            "    FLOW: {a: 1, b: [hunter2, s3cretPass]}\n    QUOTED: {p: 'x, k3yVal'}\n    SPLIT: [\n      'k3yVal2']\n",
        ),
        &toml_with(""),
    );
    assert_hidden(&site.dry_runs(), &["hunter2", "s3cretPass", "k3yVal"]);
}

#[test]
fn yaml_multi_line_values_are_masked_on_every_line() {
    for inside in [
        "    PLAIN: first\n      s3cretPlain\n",
        "    QUOTED: \"first\n      s3cretQuoted\"\n",
        "    LITERAL: &a |\n      s3cretLiteral\n",
        "    ITEMS:\n    - >-\n      s3cretFolded\n",
    ] {
        let site = Site::new(ENV_POOL, &yaml_with(inside), &toml_with(""));
        assert_hidden(&site.dry_runs(), &["s3cret"]);
    }
}

#[test]
fn a_multi_line_single_quoted_env_value_is_masked_on_every_line() {
    let env = format!("PGPASSWORD='first-line\ns3cr3t-second-line'\n{ENV_POOL}");
    let site = Site::new(&env, YAML_POOL, &toml_with(""));
    assert_hidden(&site.dry_runs(), &["first-line", "s3cr3t"]);
}

#[test]
fn toml_arrays_and_multi_line_strings_are_masked_on_every_line() {
    let site = Site::new(
        ENV_POOL,
        YAML_POOL,
        &toml_with(
            "hosts = [\n  \"s3cretArr\",  # primary\n  { pw = 's3cretInline' },\n]\nkey = '''\ns3cretLiteral'''\ncert = \"\"\"\ns3cretBasic\"\"\"\n",
        ),
    );
    assert_hidden(&site.dry_runs(), &["s3cret"]);
}

#[test]
fn a_byte_order_mark_does_not_hide_the_first_key() {
    let bom = "\u{feff}";
    let site = Site::new(
        &format!("{bom}{ENV_POOL}"),
        &format!("{bom}{YAML_POOL}"),
        &format!("{bom}{}", toml_with("")),
    );
    for service in ["backend", "worker"] {
        let out = site.run(&["override", service, "--to", "30", "--reason", "r"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    assert_eq!(
        site.read("deploy/backend.env"),
        format!(
            "{bom}DB_POOL_SIZE=30\nDB_MAX_OVERFLOW=15\nDB_POOL_TIMEOUT=30\n# managed by poolcap\nDB_POOL_RECYCLE=3600\nDB_POOL_PRE_PING=true\nDB_STATEMENT_TIMEOUT=30000\n"
        )
    );
    assert!(
        site.read("deploy/values.yaml")
            .starts_with(&format!("{bom}backend:\n  env:\n    DB_POOL_SIZE: \"30\"\n")),
        "{}",
        site.read("deploy/values.yaml")
    );
    assert!(
        site.read("deploy/worker.toml")
            .starts_with(&format!("{bom}[database.pool]\npool_size = 30\n")),
        "{}",
        site.read("deploy/worker.toml")
    );
}

// ---------------------------------------------------------------------------
// The property: random secrets in random shapes next to the managed keys.
// ---------------------------------------------------------------------------

/// A secret-like token; every generated one starts with `S3cret`.
fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{8}".prop_map(|t| format!("S3cret{t}"))
}

/// A YAML flow node of random depth holding tokens.
fn yaml_flow() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        token(),
        token().prop_map(|t| format!("'a, {t}'")),
        token().prop_map(|t| format!("\"{t}\\n{t}\"")),
    ];
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|items| format!("[\n      {}\n      ]", items.join(",\n      "))),
            prop::collection::vec(inner, 1..4).prop_map(|items| {
                let pairs: Vec<String> = items.iter().enumerate().map(|(i, v)| format!("k{i}: {v}")).collect();
                format!("{{{}}}", pairs.join(", "))
            }),
        ]
    })
}

/// One unmanaged entry of the YAML `backend.env` mapping (at most six lines).
fn yaml_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        yaml_flow().prop_map(|v| format!("X: {v}\n")),
        (token(), token()).prop_map(|(a, b)| format!("X: {a}\n      {b}\n")),
        (token(), token()).prop_map(|(a, b)| format!("X: \"{a}\n      {b}\"\n")),
        (token(), token()).prop_map(|(a, b)| format!("X: '{a}\n\n      {b}'\n")),
        (
            prop::sample::select(vec!["|", ">", "|-", ">+", "&b |2"]),
            token(),
            token()
        )
            .prop_map(|(style, a, b)| format!("X: {style}\n      {a}\n\n       {b}\n")),
        (token(), yaml_flow()).prop_map(|(a, v)| format!("X:\n    - {a}\n    - {v}\n")),
        token().prop_map(|t| format!("X: &a {t}  # note\n")),
    ]
}

/// One unmanaged assignment of the env file (at most six lines).
fn env_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        token().prop_map(|t| format!("X={t}\n")),
        (token(), token()).prop_map(|(a, b)| format!("export X=\"{a}\n{b}\"\n")),
        (token(), token()).prop_map(|(a, b)| format!("X='first {a}\n{b}' # c\n")),
        (token(), token()).prop_map(|(a, b)| format!("X = \"a \\\"{a}\\\" b\"\nY={{a: 1, b: [{b}]}}\n")),
        token().prop_map(|t| format!("X='{t}'\n")),
    ]
}

/// One unmanaged key of the TOML pool table (at most six lines).
fn toml_piece() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        token().prop_map(|t| format!("\"{t}\"")),
        token().prop_map(|t| format!("'{t}'")),
        token().prop_map(|t| format!("{{ a = \"{t}\" }}")),
    ];
    let array = leaf.prop_recursive(3, 8, 3, |inner| {
        prop::collection::vec(inner, 1..3).prop_map(|items| format!("[{}]", items.join(", ")))
    });
    prop_oneof![
        array.clone().prop_map(|a| format!("x = {a}\n")),
        (token(), array).prop_map(|(t, a)| format!("x = [\n  \"{t}\",  # c\n  {a},\n]\n")),
        (token(), token()).prop_map(|(a, b)| format!("x = '''\n{a}\n{b}'''\n")),
        (token(), token()).prop_map(|(a, b)| format!("x = \"\"\"\n{a} \\\n  {b}\"\"\"\n")),
        token().prop_map(|t| format!("x.y = \"{t}\"\n")),
    ]
}

/// The managed lines of each file, every one of which the dry runs change, so
/// that the pieces between them are inside the diff's context.
const ENV_MANAGED: [&str; 6] = [
    "DB_POOL_SIZE=20",
    "DB_MAX_OVERFLOW=10",
    "DB_POOL_TIMEOUT=31",
    "DB_POOL_RECYCLE=3601",
    "DB_POOL_PRE_PING=false",
    "DB_STATEMENT_TIMEOUT=29000",
];
const YAML_MANAGED: [&str; 6] = [
    "DB_POOL_SIZE: \"20\"",
    "DB_MAX_OVERFLOW: '10'",
    "DB_POOL_TIMEOUT: 31",
    "DB_POOL_RECYCLE: 3601",
    "DB_POOL_PRE_PING: false",
    "DB_STATEMENT_TIMEOUT: 29000",
];
const TOML_MANAGED: [&str; 6] = [
    "pool_size = 10",
    "max_overflow = 5",
    "pool_timeout = 31",
    "pool_recycle = 3601",
    "pool_pre_ping = false",
    "statement_timeout = \"29000\"",
];

/// Managed lines with a piece after each; keys and anchors of the pieces made unique.
fn interleave(managed: &[&str], pieces: &[String], indent: &str, key: &str) -> String {
    let mut text = String::new();
    for (i, (line, piece)) in managed.iter().zip(pieces).enumerate() {
        text.push_str(&format!("{indent}{line}\n"));
        for (j, piece_line) in piece.lines().enumerate() {
            let piece_line = if j == 0 {
                piece_line
                    .replacen(key, &format!("{key}{i}"), 1)
                    .replace("&a", &format!("&a{i}"))
                    .replace("&b", &format!("&b{i}"))
            } else {
                piece_line.to_string()
            };
            // Only the first line of a piece carries its key; continuation
            // lines keep their own indentation.
            if j == 0 && !piece_line.is_empty() {
                text.push_str(indent);
            }
            text.push_str(&piece_line);
            text.push('\n');
        }
    }
    text
}

/// Every `S3cret…` token in `text`.
fn tokens_in(text: &str) -> Vec<String> {
    text.match_indices("S3cret")
        .map(|(at, _)| {
            let rest = &text[at..];
            let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
            rest[..end].to_string()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_unmanaged_value_is_ever_printed_or_logged(
        env in prop::collection::vec(env_piece(), 6),
        yaml in prop::collection::vec(yaml_piece(), 6),
        toml in prop::collection::vec(toml_piece(), 6),
        bom in any::<bool>(),
    ) {
        let bom = if bom { "\u{feff}" } else { "" };
        let env = format!("{bom}{}", interleave(&ENV_MANAGED, &env, "", "X"));
        let yaml = format!("{bom}backend:\n  env:\n{}", interleave(&YAML_MANAGED, &yaml, "    ", "X"));
        let toml = format!("{bom}[database.pool]\n{}", interleave(&TOML_MANAGED, &toml, "", "x"));
        let secrets: Vec<String> = [&env, &yaml, &toml].iter().flat_map(|t| tokens_in(t)).collect();
        prop_assert!(!secrets.is_empty());
        let site = Site::new(&env, &yaml, &toml);

        let mut printed = site.dry_runs();
        let out = site.run(&["apply", "--author", "A"]);
        prop_assert_eq!(out.code, 0, "{}", out.stderr);
        printed.push_str(&out.stdout);
        printed.push_str(&out.stderr);
        printed.push_str(&site.read("CHANGELOG-capacity.md"));
        for s in &secrets {
            prop_assert!(!printed.contains(s.as_str()), "{s:?} leaked:\n{printed}\n--- env\n{env}\n--- yaml\n{yaml}\n--- toml\n{toml}");
        }
        // And the managed values are still shown, old and new.
        prop_assert!(printed.contains(&format!("-{bom}DB_POOL_SIZE=20")), "{printed}");
        prop_assert!(printed.contains("+    DB_POOL_SIZE: \"25\""), "{printed}");
        prop_assert!(printed.contains("+pool_size = 15"), "{printed}");
    }
}
