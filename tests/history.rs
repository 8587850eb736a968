//! `poolcap history`: what review, apply and override recorded, read back
//! without SQL, on SQLite always and on PostgreSQL when
//! POOLCAP_TEST_POSTGRES_URL is set.

use serde::Deserialize;

use crate::apply::Deployment;
use crate::store::TestStore;
use crate::util::poolcap;

/// `history --format json`: the schema, pinned (an unknown or missing field fails).
#[derive(Debug, Deserialize)]
#[serde(tag = "record", rename_all = "lowercase", deny_unknown_fields)]
enum Entry {
    Decision {
        month: String,
        service: String,
        current: Sizes,
        recommended: Sizes,
        changes: bool,
        deciding: Option<String>,
        blocked: bool,
        blocked_by: Vec<String>,
        decided_at: String,
    },
    Change {
        id: String,
        date: String,
        kind: String,
        service: String,
        before: Sizes,
        after: Sizes,
        month: Option<String>,
        ticket: Option<String>,
        incident: Option<String>,
        reason: Option<String>,
        author: String,
        recorded_at: String,
    },
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Sizes {
    pool_size: u32,
    max_overflow: u32,
}

fn sizes(pool_size: u32, max_overflow: u32) -> Sizes {
    Sizes {
        pool_size,
        max_overflow,
    }
}

fn history_json(store: &TestStore, extra: &[&str]) -> Vec<Entry> {
    let mut args = vec!["history", "--format", "json"];
    args.extend(extra);
    let out = store.run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", out.stdout))
}

/// Ingest October, review it (decisions), apply it and override backend
/// (changes) in a copy of the sample deployment; then list them.
fn lists_what_review_apply_and_override_recorded(store: &TestStore) {
    let out = store.run(&["ingest", "metrics", "data/metrics/2026-10.csv.gz"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let d = Deployment::new();
    let loc = store.location.as_str();
    let review = d.path("review").display().to_string();
    let out = d.run(&["review", "--month", "2026-10", "--out", &review, "--store", loc]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = d.run(&[
        "apply", "--month", "2026-10", "--author", "A", "--ticket", "CAP-7", "--store", loc,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = d.run(&[
        "override",
        "backend",
        "--bump",
        "--reason",
        "pool exhausted",
        "--incident",
        "INC-881",
        "--author",
        "On Call",
        "--store",
        loc,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // The table: both decisions of October, then the two changes, newest first.
    let out = store.run(&["history"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let t = &out.stdout;
    assert!(t.contains(": 2 decision(s), 2 change(s)"), "{t}");
    assert!(t.contains("MONTH    SERVICE  CURRENT → RECOMMENDED  DECIDING"), "{t}");
    assert!(t.contains("2026-10  backend  20 + 10 → 25 + 13      "), "{t}");
    assert!(t.contains("2026-10  worker   10 + 5 → 10 + 5        —"), "{t}");
    let override_line = t.find("override  backend  25 + 13 → 30 + 15  INC-881").expect(t);
    let apply_line = t.find("apply     backend  20 + 10 → 25 + 13  CAP-7").expect(t);
    assert!(override_line < apply_line, "newest first:\n{t}");
    assert!(t.contains("On Call"), "{t}");
    assert!(t.contains("backend:2026-10:20+10>25+13:"), "{t}");

    // JSON: the same records, the schema pinned.
    let all = history_json(store, &[]);
    assert_eq!(all.len(), 4, "{all:?}");
    let Entry::Decision {
        month,
        service,
        current,
        recommended,
        changes,
        deciding,
        blocked,
        blocked_by,
        decided_at,
    } = &all[0]
    else {
        panic!("decisions first: {all:?}")
    };
    assert_eq!((month.as_str(), service.as_str()), ("2026-10", "backend"));
    assert_eq!((current, recommended), (&sizes(20, 10), &sizes(25, 13)));
    assert!(changes);
    assert!(deciding.is_some());
    assert!(!blocked && blocked_by.is_empty());
    assert!(decided_at.ends_with('Z'), "{decided_at}");
    let Entry::Change {
        id,
        date,
        kind,
        service,
        before,
        after,
        month,
        ticket,
        incident,
        reason,
        author,
        recorded_at,
    } = &all[2]
    else {
        panic!("then changes: {all:?}")
    };
    assert!(id.starts_with("backend:incident-INC-881:25+13>30+15:"), "{id}");
    assert!(date.len() == 10 && date.as_bytes()[4] == b'-', "{date}");
    assert_eq!((kind.as_str(), service.as_str()), ("override", "backend"));
    assert_eq!((before, after), (&sizes(25, 13), &sizes(30, 15)));
    assert_eq!(month, &None);
    assert_eq!((ticket, incident), (&None, &Some("INC-881".to_string())));
    assert_eq!(reason.as_deref(), Some("pool exhausted"));
    assert_eq!(author, "On Call");
    assert!(recorded_at.ends_with('Z'), "{recorded_at}");
    let Entry::Change {
        kind,
        month,
        ticket,
        author,
        before,
        after,
        ..
    } = &all[3]
    else {
        panic!("{all:?}")
    };
    assert_eq!(
        (kind.as_str(), month.as_deref(), ticket.as_deref()),
        ("apply", Some("2026-10"), Some("CAP-7"))
    );
    assert_eq!(author, "A");
    assert_eq!((before, after), (&sizes(20, 10), &sizes(25, 13)));

    // --service and --kind.
    let worker = history_json(store, &["--service", "worker"]);
    assert!(
        matches!(&worker[..], [Entry::Decision { service, changes: false, .. }] if service == "worker"),
        "{worker:?}"
    );
    let changes = history_json(store, &["--kind", "changes"]);
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|e| matches!(e, Entry::Change { .. })), "{changes:?}");
    let decisions = history_json(store, &["--kind", "decisions", "--service", "backend"]);
    assert!(matches!(&decisions[..], [Entry::Decision { .. }]), "{decisions:?}");
    let out = store.run(&["history", "--kind", "changes"]);
    assert!(!out.stdout.contains("decisions"), "{}", out.stdout);
    assert!(out.stdout.contains(": 2 change(s)\n"), "{}", out.stdout);

    // --since/--until: decisions by their month, changes by their date's month.
    assert!(history_json(store, &["--since", "2026-11", "--kind", "decisions"]).is_empty());
    assert_eq!(
        history_json(store, &["--until", "2026-10", "--kind", "decisions"]).len(),
        2
    );
    let Entry::Change { date, .. } = &changes[0] else {
        unreachable!()
    };
    let this: poolcap::model::window::Month = date[..7].parse().unwrap();
    let before = this.previous().to_string();
    assert_eq!(
        history_json(store, &["--since", &this.to_string(), "--kind", "changes"]).len(),
        2
    );
    assert!(history_json(store, &["--until", &before, "--kind", "changes"]).is_empty());
    let out = store.run(&["history", "--since", "2026-11", "--kind", "decisions"]);
    assert!(
        out.stdout.contains("decisions (newest month first)\nnone\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn sqlite_history_lists_decisions_and_changes() {
    lists_what_review_apply_and_override_recorded(&TestStore::sqlite());
}

#[test]
fn postgres_history_lists_decisions_and_changes() {
    if let Some(store) = TestStore::postgres("history") {
        lists_what_review_apply_and_override_recorded(&store);
    }
}

#[test]
fn a_missing_store_is_an_error_naming_it_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent.db");
    let out = poolcap(&["history", "--store", absent.to_str().unwrap()]).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains(absent.to_str().unwrap()), "{}", out.stderr);
    assert!(out.stderr.contains("poolcap ingest metrics"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(!absent.exists());
    // The default store: poolcap.db beside the config.
    let config = dir.path().join("poolcap.toml");
    let out = poolcap(&["history", "--config", config.to_str().unwrap()]).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let default = dir.path().join("poolcap.db");
    assert!(out.stderr.contains(default.to_str().unwrap()), "{}", out.stderr);
    assert!(!default.exists());
}

#[test]
fn bad_months_are_usage_errors() {
    for (args, said) in [
        (
            vec!["history", "--since", "2026-13"],
            "--since: month \"2026-13\" is not YYYY-MM",
        ),
        (
            vec!["history", "--until", "October"],
            "--until: month \"October\" is not YYYY-MM",
        ),
        (
            vec!["history", "--since", "2026-10", "--until", "2026-09"],
            "--since 2026-10 is after --until 2026-09",
        ),
    ] {
        let out = poolcap(&args).run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(said), "{}", out.stderr);
    }
}
