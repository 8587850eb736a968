//! The store on SQLite always, and on the machine's PostgreSQL when
//! POOLCAP_TEST_POSTGRES_URL is set (a fresh database per test, dropped
//! after); without it the PostgreSQL tests say they were skipped.

use std::sync::mpsc;

use super::*;

/// A store for one test, and what to clean up after it.
struct Scratch {
    store: Option<Store>,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Scratch {
    fn sqlite() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("poolcap.db").display().to_string();
        Scratch {
            store: Some(Store::open(&path).unwrap()),
            _dir: dir,
            pg: None,
        }
    }

    fn postgres(tag: &str) -> Option<Scratch> {
        let base = match std::env::var("POOLCAP_TEST_POSTGRES_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                #[allow(clippy::print_stdout)]
                {
                    println!("skipped: POOLCAP_TEST_POSTGRES_URL is not set (see .ci/run)");
                }
                return None;
            }
        };
        let db = format!("poolcap_unit_{}_{tag}", std::process::id());
        admin(&base, &format!("DROP DATABASE IF EXISTS {db}"));
        admin(&base, &format!("CREATE DATABASE {db}"));
        let (prefix, _) = base.rsplit_once('/').unwrap();
        Some(Scratch {
            store: Some(Store::open(&format!("{prefix}/{db}")).unwrap()),
            _dir: tempfile::tempdir().unwrap(),
            pg: Some((base, db)),
        })
    }

    fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        drop(self.store.take());
        if let Some((base, db)) = &self.pg {
            admin(base, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

fn admin(url: &str, sql: &str) {
    use sqlx::Connection as _;
    crate::store::runtime().unwrap().block_on(async {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
}

/// `n` samples a minute apart of series 0 (announced in the first batch).
fn batch(first: bool, from: usize, n: usize) -> Batch {
    Batch {
        new_series: if first {
            vec![(0, "backend".into(), "web-1".into())]
        } else {
            Vec::new()
        },
        samples: (from..from + n)
            .map(|i| crate::ingest::Sample {
                series: 0,
                ts: 1_790_000_000 + 60 * i as i64,
                pool_size: 20,
                checked_out: (i % 20) as u32,
                max_overflow: Some(10),
                waiting: None,
                timeouts: Some(0),
                line: i as u64 + 2,
                file: 0,
            })
            .collect(),
    }
}

/// How the producer of a test ingest ends.
#[derive(Clone, Copy)]
enum Ending {
    Done,
    Fails,
    Panics,
}

/// Ingests as `poolcap ingest metrics` does: a producer thread sends three
/// batches down a channel and then ends as `ending` says; `keep` joins it.
fn ingest_from_producer(store: &Store, ending: Ending) -> Result<Option<IngestCounts>, StoreError> {
    let (tx, rx) = mpsc::sync_channel::<Batch>(1);
    let producer = std::thread::spawn(move || -> Result<(), String> {
        for k in 0..3 {
            tx.send(batch(k == 0, k * 1000, 1000)).unwrap();
        }
        match ending {
            Ending::Done => Ok(()),
            Ending::Fails => Err("line 3001: not a number".into()),
            Ending::Panics => panic!("the parser gave up mid-file"),
        }
    });
    let keep = || matches!(producer.join(), Ok(Ok(())));
    store.ingest(&mut rx.into_iter(), keep)
}

fn stored_samples(store: &Store) -> u64 {
    store.samples(i64::MIN, i64::MAX, &mut |_, _, _| {}).unwrap()
}

fn stored_series(store: &Store) -> i64 {
    store
        .run(async {
            per_backend!(&store.backend, |pool| {
                Ok::<_, Failure>(
                    sqlx::query_scalar("SELECT count(*) FROM series")
                        .fetch_one(pool)
                        .await?,
                )
            })
        })
        .unwrap()
}

/// A producer that fails or panics after sending batches rolls the whole
/// ingest back — no sample, no series — and the store takes the file after.
fn a_failing_producer_stores_nothing(store: &Store) {
    for ending in [Ending::Fails, Ending::Panics] {
        assert_eq!(ingest_from_producer(store, ending).unwrap(), None);
        assert_eq!(stored_samples(store), 0);
        assert_eq!(stored_series(store), 0);
    }
    let counts = ingest_from_producer(store, Ending::Done).unwrap().unwrap();
    assert_eq!((counts.rows, counts.stored), (3000, 3000));
    assert_eq!(stored_samples(store), 3000);
    let again = ingest_from_producer(store, Ending::Done).unwrap().unwrap();
    assert_eq!((again.stored, again.already_present, again.conflicts), (0, 3000, 0));
}

#[test]
fn sqlite_a_failing_producer_stores_nothing() {
    a_failing_producer_stores_nothing(Scratch::sqlite().store());
}

#[test]
fn postgres_a_failing_producer_stores_nothing() {
    if let Some(scratch) = Scratch::postgres("rollback") {
        a_failing_producer_stores_nothing(scratch.store());
    }
}

/// A value too large for its column is an error and stores nothing; one
/// stored too large (by hand) is an error when read, never wrapped.
fn out_of_range_values_are_errors(store: &Store) {
    let mut b = batch(true, 0, 3);
    b.samples[1].pool_size = u32::MAX;
    let err = store.ingest(&mut std::iter::once(b), || true).unwrap_err();
    assert!(err.reason.contains("pool_size 4294967295 does not fit"), "{err}");
    let mut b = batch(true, 0, 3);
    b.samples[2].series = 7;
    let err = store.ingest(&mut std::iter::once(b), || true).unwrap_err();
    assert!(err.reason.contains("series 7"), "{err}");
    assert_eq!(stored_samples(store), 0);
    store.ingest(&mut std::iter::once(batch(true, 0, 3)), || true).unwrap();
    if !store.is_postgres() {
        let Backend::Sqlite(pool) = &store.backend else {
            unreachable!()
        };
        store
            .runtime
            .block_on(sqlx::query("UPDATE samples SET pool_size = 1 << 40").execute(pool))
            .unwrap();
        let err = store.samples(i64::MIN, i64::MAX, &mut |_, _, _| {}).unwrap_err();
        assert!(err.reason.contains("out of range"), "{err}");
    }
}

#[test]
fn sqlite_out_of_range_values_are_errors() {
    out_of_range_values_are_errors(Scratch::sqlite().store());
}

#[test]
fn postgres_out_of_range_values_are_errors() {
    if let Some(scratch) = Scratch::postgres("range") {
        out_of_range_values_are_errors(scratch.store());
    }
}

/// The SQL both backends share is written with `$n`: sqlx's SQLite driver
/// binds `$n` by number, a number used twice included.
#[test]
fn sqlite_binds_numbered_placeholders() {
    let scratch = Scratch::sqlite();
    let store = scratch.store();
    let Backend::Sqlite(pool) = &store.backend else {
        unreachable!()
    };
    let (a, b): (i64, i64) = store
        .runtime
        .block_on(
            sqlx::query_as("SELECT $2 - $1, $1 * $1")
                .bind(3_i64)
                .bind(10_i64)
                .fetch_one(pool),
        )
        .unwrap();
    assert_eq!((a, b), (7, 9));
}

/// Decisions and changes, filtered, on both backends.
fn decisions_and_changes_round_trip(store: &Store) {
    let plan = serde_json::json!({"pool_size": 25});
    store.record_decision("backend", "2026-09", &plan).unwrap();
    store.record_decision("backend", "2026-10", &plan).unwrap();
    store.record_decision("worker", "2026-10", &plan).unwrap();
    store
        .record_decision("backend", "2026-10", &serde_json::json!({"pool_size": 30}))
        .unwrap();
    let only = HistoryFilter {
        service: Some("backend".into()),
        since: Some("2026-10".into()),
        until: None,
    };
    let decisions = store.decisions(&only).unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].plan["pool_size"], 30);
    assert!(decisions[0].decided_at.ends_with('Z'), "{}", decisions[0].decided_at);
    assert_eq!(store.decisions(&HistoryFilter::default()).unwrap().len(), 3);
    let change = serde_json::json!({"date": "2026-10-31", "service": "backend"});
    store.record_change("a", "backend", "review", &change).unwrap();
    store.record_change("a", "backend", "review", &change).unwrap();
    store.record_change("b", "backend", "override", &change).unwrap();
    store
        .record_digest("2026-10", "slow.log", &serde_json::json!({"statements": 1}), "first")
        .unwrap();
    store
        .record_digest(
            "2026-10",
            "slow.log",
            &serde_json::json!({"statements": 2}),
            "{\"v\": 1.50}",
        )
        .unwrap();
    store
        .record_digest("2026-11", "b.log", &serde_json::json!({"statements": 3}), "{}")
        .unwrap();
    store
        .record_digest("2026-11", "B.log", &serde_json::json!({"statements": 3}), "{}")
        .unwrap();
    assert_eq!(store.counts().unwrap(), (3, 3));
    // A re-ingest replaces; the form comes back byte for byte, in byte order of source.
    let digests = store.slowlog_digests("2026-10", "2026-11").unwrap();
    let keys: Vec<(&str, &str)> = digests.iter().map(|d| (d.0.as_str(), d.1.as_str())).collect();
    assert_eq!(
        keys,
        [("2026-10", "slow.log"), ("2026-11", "B.log"), ("2026-11", "b.log")]
    );
    assert_eq!(digests[0].2.as_deref(), Some("{\"v\": 1.50}"));
    assert_eq!(store.slowlog_digests("2026-11", "2026-12").unwrap().len(), 2);
    let kinds: Vec<String> = store.changes("backend").unwrap().into_iter().map(|c| c.1).collect();
    assert_eq!(kinds, ["review", "override"]);
    let october = HistoryFilter {
        until: Some("2026-10".into()),
        since: Some("2026-10".into()),
        service: None,
    };
    let entries = store.change_entries(&october).unwrap();
    assert_eq!(entries.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
    let september = HistoryFilter {
        until: Some("2026-09".into()),
        ..HistoryFilter::default()
    };
    assert!(store.change_entries(&september).unwrap().is_empty());
}

#[test]
fn sqlite_decisions_and_changes_round_trip() {
    decisions_and_changes_round_trip(Scratch::sqlite().store());
}

#[test]
fn postgres_decisions_and_changes_round_trip() {
    if let Some(scratch) = Scratch::postgres("records") {
        decisions_and_changes_round_trip(scratch.store());
    }
}
