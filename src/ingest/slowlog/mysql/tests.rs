use std::path::Path;

use proptest::prelude::*;

use super::*;

/// MariaDB 10.x: server header, old-style `# Time:`, `Schema:`, extra fields,
/// an entry without `# Time:`.
const MARIADB: &str = "\
/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1-log (Debian 12). started with:
Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock
Time\t\t    Id Command\tArgument
# Time: 261127  8:18:42
# User@Host: root[root] @ localhost []
# Thread_id: 5  Schema: test  QC_hit: No
# Query_time: 5.200213  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 0
# Rows_affected: 0  Bytes_sent: 62
use test;
SET timestamp=1795767517;
SELECT SLEEP(5.2);
# User@Host: app[app] @  [10.0.0.7]
# Thread_id: 6  Schema: shop  QC_hit: No
# Query_time: 0.000250  Lock_time: 0.000100  Rows_sent: 0  Rows_examined: 1
# Rows_affected: 1  Bytes_sent: 52
# Pages_accessed: 6  Pages_read: 0  Pages_prefetched: 0  Pages_updated: 5  Old_rows_read: 0
#
# explain: id\tselect_type\ttable\ttype
# explain: 1\tSIMPLE\taccounts\trange
#
# Warnings
# Warning 1292 Truncated incorrect INTEGER value: '12abc'
SET timestamp=1795767522;
UPDATE accounts SET balance = balance + 1 WHERE id = 40;
";

/// MySQL 8: ISO `# Time:`, `Id:` after the host, `log_slow_extra` fields on
/// the `Query_time` line, `use` without quotes, an administrator command.
const MYSQL8: &str = "\
/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:
Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock
Time                 Id Command    Argument
# Time: 2026-11-27T08:18:42.123456Z
# User@Host: app[app] @ web1 [10.0.0.5]  Id:    12
# Query_time: 5.200213  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 0 Thread_id: 12 Errno: 0 Killed: 0 \
Bytes_received: 0 Bytes_sent: 57 Start: 2026-11-27T08:18:36.923243Z End: 2026-11-27T08:18:42.123456Z
use shop;
SET timestamp=1795767516;
SELECT SLEEP(5.2);
# Time: 2026-11-27T08:18:43.000100Z
# User@Host: app[app] @ web1 [10.0.0.5]  Id:    12
# Query_time: 0.001000  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0
SET timestamp=1795767522;
# administrator command: Quit;
";

fn owned(e: &LogEntry<'_>) -> LogEntry<'static> {
    let own = |c: &Cow<'_, str>| Cow::Owned(c.to_string());
    LogEntry {
        end_ms: e.end_ms,
        duration_ms: e.duration_ms,
        kind: e.kind,
        database: e.database.as_ref().map(own),
        user: e.user.as_ref().map(own),
        text: own(&e.text),
        parameters: e.parameters.as_ref().map(own),
        line: e.line,
    }
}

/// Parses `data` as one whole file.
fn parse(data: &[u8]) -> (Vec<LogEntry<'static>>, ParseStats, MysqlState) {
    let (mut entries, mut stats, mut state) = (Vec::new(), ParseStats::default(), MysqlState::default());
    assert_eq!(split_point(data, true), data.len());
    parse_chunk(data, 1, &mut state, &mut stats, &mut |e| entries.push(owned(e)));
    (entries, stats, state)
}

/// Parses `data` as the driver does: blocks of the given sizes (cycled),
/// cut at [`split_point`], the tail and the state carried over.
fn drive(data: &[u8], blocks: &[usize]) -> (Vec<LogEntry<'static>>, ParseStats, MysqlState) {
    let (mut entries, mut stats, mut state) = (Vec::new(), ParseStats::default(), MysqlState::default());
    let (mut buf, mut pos, mut line, mut block) = (Vec::new(), 0, 1, 0);
    loop {
        let take = blocks[block % blocks.len()].max(1).min(data.len() - pos);
        block += 1;
        buf.extend_from_slice(&data[pos..pos + take]);
        pos += take;
        let eof = pos == data.len();
        let split = split_point(&buf, eof);
        assert!(split <= buf.len());
        assert!(
            split == 0 || buf[split - 1] == b'\n' || eof,
            "split {split} not at a line start"
        );
        parse_chunk(&buf[..split], line, &mut state, &mut stats, &mut |e| {
            entries.push(owned(e))
        });
        line += buf[..split].iter().filter(|&&b| b == b'\n').count() as u64;
        buf.drain(..split);
        if eof {
            return (entries, stats, state);
        }
    }
}

/// Line numbers (1-based) of the lines that end an entry: `# Time:`,
/// `# User@Host:` not right after `# Time:`, server header lines. Written
/// out again here, plainly, as the test's definition.
fn boundaries(data: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut previous_time = false;
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = String::from_utf8_lossy(line);
        let time = text.starts_with("# Time:");
        let server =
            text.trim_end().ends_with("started with:") && text.contains(", Version: ") && !text.starts_with('#');
        if time || server || (text.starts_with("# User@Host:") && !previous_time) {
            out.push(i as u64 + 1);
        }
        previous_time = time;
    }
    out
}

fn utc_ms(date: &str) -> i64 {
    date.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

#[test]
fn mariadb_entries() {
    let (entries, stats, state) = parse(MARIADB.as_bytes());
    assert_eq!(
        entries,
        vec![
            LogEntry {
                end_ms: 1_795_767_517_000 + 5200,
                duration_ms: 5200.213,
                kind: EntryKind::Statement,
                database: Some("test".into()),
                user: Some("root".into()),
                text: "SELECT SLEEP(5.2)".into(),
                parameters: None,
                line: 4,
            },
            LogEntry {
                end_ms: 1_795_767_522_000,
                duration_ms: 0.25,
                kind: EntryKind::Statement,
                database: Some("shop".into()),
                user: Some("app".into()),
                text: "UPDATE accounts SET balance = balance + 1 WHERE id = 40".into(),
                parameters: None,
                line: 12,
            },
        ]
    );
    assert_eq!(
        (stats.lines, stats.entries, stats.unrecognized),
        (24, 2, 0),
        "{stats:?}"
    );
    assert_eq!(state.database.as_deref(), Some("test"));
    assert_eq!(state.last_time_us, Some(utc_ms("2026-11-27T08:18:42Z") * 1000));
}

#[test]
fn mysql8_entries_and_admin_command() {
    let (entries, stats, _) = parse(MYSQL8.as_bytes());
    assert_eq!(stats.unrecognized, 0, "{stats:?}");
    assert_eq!(entries.len(), 2);
    let (slow, quit) = (&entries[0], &entries[1]);
    assert_eq!(slow.end_ms, 1_795_767_516_000 + 5200);
    assert_eq!(slow.duration_ms, 5200.213);
    assert_eq!((slow.kind, slow.line), (EntryKind::Statement, 4));
    assert_eq!(
        (slow.database.as_deref(), slow.user.as_deref()),
        (Some("shop"), Some("app"))
    );
    assert_eq!(slow.text, "SELECT SLEEP(5.2)");
    assert_eq!(quit.kind, EntryKind::Admin);
    assert_eq!(quit.text, "administrator command: Quit");
    assert_eq!(
        (quit.end_ms, quit.line, quit.database.as_deref()),
        (1_795_767_522_001, 10, Some("shop"))
    );
}

#[test]
fn use_persists_across_entries_and_chunks() {
    let log = "\
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
use first;
SET timestamp=1790000000;
SELECT 1;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000001;
SELECT 2;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
use `sec``ond`;
SET timestamp=1790000002;
use third;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000003;
SELECT 4;
";
    let (entries, stats, state) = parse(log.as_bytes());
    let dbs: Vec<_> = entries.iter().map(|e| e.database.as_deref()).collect();
    assert_eq!(dbs, [Some("first"), Some("first"), Some("sec`ond"), Some("sec`ond")]);
    // After the SET line, `use third;` is the statement itself.
    assert_eq!(entries[2].text, "use third");
    assert_eq!((stats.entries, stats.unrecognized), (4, 0));
    assert_eq!(state.database.as_deref(), Some("sec`ond"));
    // A later chunk of the same file starts with the database of the last `use`.
    let mut state = state;
    let mut seen = Vec::new();
    let next = "# User@Host: a[a] @ h []\n# Query_time: 1.0  Lock_time: 0.0\nSET timestamp=1790000004;\nSELECT 5;\n";
    parse_chunk(next.as_bytes(), 20, &mut state, &mut ParseStats::default(), &mut |e| {
        seen.push((e.database.as_deref().map(str::to_string), e.line));
    });
    assert_eq!(seen, [(Some("sec`ond".to_string()), 20)]);
}

#[test]
fn schema_overrides_use_and_empty_schema_means_none() {
    let log = "\
# User@Host: a[a] @ h []
# Thread_id: 1  Schema: from_schema  QC_hit: No
# Query_time: 1.0  Lock_time: 0.0
use from_use;
SET timestamp=1790000000;
SELECT 1;
# User@Host: a[a] @ h []
# Thread_id: 1  Schema:   QC_hit: No
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT 2;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT 3;
# User@Host: a[a] @ h []
# Thread_id: 1  Schema: my db  Last_errno: 0  Killed: 0
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT 4;
";
    let (entries, _, state) = parse(log.as_bytes());
    let dbs: Vec<_> = entries.iter().map(|e| e.database.as_deref()).collect();
    assert_eq!(dbs, [Some("from_schema"), None, Some("from_use"), Some("my db")]);
    assert_eq!(
        state.database.as_deref(),
        Some("from_use"),
        "Schema: does not change the `use` database"
    );
}

#[test]
fn end_time_from_set_timestamp_then_own_time_then_last_time() {
    let log = "\
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SELECT 'no time at all';
# Time: 2026-09-21T14:13:20.5+02:00
# User@Host: a[a] @ h []
# Query_time: 2.000001  Lock_time: 0.0
SELECT 'own time, no SET';
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SELECT 'last time';
# User@Host: a[a] @ h []
# Query_time: 0.1234567  Lock_time: 0.0
SET timestamp=1790000000.250000;
SELECT 'fraction';
# Time: 260921 14:13:20
# User@Host: a[a] @ h []
# Query_time: 0.5  Lock_time: 0.0
SET last_insert_id=3,insert_id=4,timestamp=1790000100;
SELECT 'insert ids';
# User@Host: a[a] @ h []
# Query_time: 0.5  Lock_time: 0.0
SET timestamp=1790000200;
";
    let (entries, stats, _) = parse(log.as_bytes());
    assert_eq!((stats.unrecognized, stats.first_unrecognized[0].0), (1, 1), "{stats:?}");
    let got: Vec<_> = entries.iter().map(|e| (e.line, e.end_ms, e.text.as_ref())).collect();
    let own = utc_ms("2026-09-21T12:13:20.5Z");
    assert_eq!(
        got,
        [
            (4, own, "SELECT 'own time, no SET'"),
            (8, own, "SELECT 'last time'"),
            (11, 1_790_000_000_373, "SELECT 'fraction'"),
            (15, 1_790_000_100_500, "SELECT 'insert ids'"),
            (20, 1_790_000_200_500, ""),
        ]
    );
    assert_eq!(entries[2].duration_ms, 123.4567);
}

#[test]
fn time_values() {
    let us = |s: &str| parse_time(s.as_bytes());
    let exact = |s: &str| Some(s.parse::<jiff::Timestamp>().unwrap().as_microsecond());
    assert_eq!(us(" 261127  8:18:42"), exact("2026-11-27T08:18:42Z"));
    assert_eq!(us("231127 18:18:42"), exact("2023-11-27T18:18:42Z"));
    assert_eq!(us("2026-11-27T08:18:42.123456Z"), exact("2026-11-27T08:18:42.123456Z"));
    assert_eq!(us("2026-11-27T08:18:42.123456Z"), Some(1_795_767_522_123_456));
    assert_eq!(
        us("2026-11-27T08:18:42.1234569-0130"),
        exact("2026-11-27T09:48:42.123456Z")
    );
    assert_eq!(us("2026-02-28 23:59:59"), exact("2026-02-28T23:59:59Z"));
    assert_eq!(us("2024-02-29T00:00:00+00:00"), exact("2024-02-29T00:00:00Z"));
    assert_eq!(us("1970-01-01T00:00:00Z"), Some(0));
    for bad in [
        "",
        "2026-13-01T00:00:00Z",
        "2026-11-27T24:00:00Z",
        "261127",
        "261127 8:18",
        "2026-11-27T08:18:42 UTC",
        "x",
    ] {
        assert_eq!(us(bad), None, "{bad}");
    }
    assert_eq!(parse_seconds(b"1790000000.5"), Some(1_790_000_000_500_000));
    assert_eq!(parse_seconds(b"1790000000.1234567"), Some(1_790_000_000_123_456));
    assert_eq!(parse_seconds(b"."), None);
}

#[test]
fn multi_line_statement_keeps_its_lines_and_borrows() {
    let log = "\
# Time: 261127  8:18:42
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT a.id
# a hash comment inside the statement
\tFROM accounts a   -- comment
use not_a_database;
WHERE a.memo = 'Überweisung ✓ 患者' ;  \n\
\n\
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
/* 日本語 */ SELECT 1;
";
    let mut got = Vec::new();
    parse_chunk(
        log.as_bytes(),
        1,
        &mut MysqlState::default(),
        &mut ParseStats::default(),
        &mut |e| {
            got.push((
                e.text.to_string(),
                matches!(e.text, Cow::Borrowed(_)),
                e.database.is_none(),
            ));
        },
    );
    assert_eq!(
        got,
        [
            (
                "SELECT a.id\n# a hash comment inside the statement\n\tFROM accounts a   -- comment\n\
                     use not_a_database;\nWHERE a.memo = 'Überweisung ✓ 患者'"
                    .to_string(),
                true,
                true
            ),
            ("/* 日本語 */ SELECT 1".to_string(), true, true),
        ]
    );
}

#[test]
fn statements_that_look_like_header_lines() {
    let log = "\
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SET timestamp = 1790000000;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SET @id = 7;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
-- only a comment;
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT '# Query_time: 99.0' AS decoy;
";
    let (entries, stats, _) = parse(log.as_bytes());
    let texts: Vec<_> = entries.iter().map(|e| e.text.as_ref()).collect();
    assert_eq!(
        texts,
        [
            "SET timestamp = 1790000000",
            "SET @id = 7",
            "-- only a comment",
            "SELECT '# Query_time: 99.0' AS decoy"
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e.duration_ms == 1000.0 && e.end_ms == 1_790_000_001_000)
    );
    assert_eq!(stats.unrecognized, 0);
}

#[test]
fn invalid_utf8_and_crlf() {
    let log = b"# User@Host: b\xffb[b] @ h []\r\n# Query_time: 0.5  Lock_time: 0\r\nSET timestamp=1790000000;\r\nSELECT '\xff\xfe'\r\n  AS x;\r\n";
    let (entries, stats, _) = parse(log);
    assert_eq!(stats.unrecognized, 0);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].user.as_deref(), Some("b\u{fffd}b"));
    assert_eq!(entries[0].text, "SELECT '\u{fffd}\u{fffd}'\n  AS x");
    assert_eq!(entries[0].end_ms, 1_790_000_000_500);
}

#[test]
fn server_header_in_the_middle_is_noise_and_ends_the_statement() {
    let log = format!("{MARIADB}{MYSQL8}garbage between entries\n\n{MARIADB}");
    let (entries, stats, _) = parse(log.as_bytes());
    assert_eq!(entries.len(), 6);
    assert_eq!(
        entries[1].text,
        "UPDATE accounts SET balance = balance + 1 WHERE id = 40"
    );
    assert_eq!(entries[3].text, "administrator command: Quit");
    assert_eq!(entries[4].line, 24 + 14 + 2 + 4);
    assert_eq!(stats.unrecognized, 1, "{stats:?}");
    assert_eq!(
        stats.first_unrecognized,
        [(24 + 14 + 1, "garbage between entries".len())]
    );
    // A header right after an administrator command, and a header line that is
    // not the first of its block, inside a statement: text.
    let log = "\
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
# administrator command: Quit;
/usr/sbin/mysqld, Version: 5.7.44-log (MySQL Community Server (GPL)). started with:
Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock
Time                 Id Command    Argument
# User@Host: a[a] @ h []
# Query_time: 1.0  Lock_time: 0.0
SET timestamp=1790000000;
SELECT 1,
Tcp port: 3306
";
    let (entries, stats, _) = parse(log.as_bytes());
    let texts: Vec<_> = entries.iter().map(|e| e.text.as_ref()).collect();
    assert_eq!(texts, ["administrator command: Quit", "SELECT 1,\nTcp port: 3306"]);
    assert_eq!((stats.lines, stats.unrecognized), (12, 0));
}

#[test]
fn truncated_last_entry() {
    let whole = MARIADB.as_bytes();
    let (full, _, _) = parse(whole);
    // Cut in the middle of the statement: parsed as far as it goes.
    let cut = whole.len() - 20;
    let (entries, stats, _) = parse(&whole[..cut]);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0], full[0]);
    assert_eq!(entries[1].text, "UPDATE accounts SET balance = balance");
    assert_eq!(stats.unrecognized, 0);
    // Cut before its `# Query_time:` line: unrecognized, with its first line.
    let cut = MARIADB.find("# Query_time: 0.000250").unwrap();
    let (entries, stats, _) = parse(&whole[..cut]);
    assert_eq!(entries, full[..1]);
    assert_eq!(
        stats.first_unrecognized,
        [(12, "# User@Host: app[app] @  [10.0.0.7]".len())]
    );
    // Cut in its `# Time:` line: the line starts an entry that cannot be used.
    let (entries, stats, _) = parse(&MYSQL8.as_bytes()[..MYSQL8.find("43.0001").unwrap()]);
    assert_eq!((entries.len(), stats.unrecognized), (1, 1));
    // An administrator command followed by more lines.
    let (entries, stats, _) = parse(format!("{MYSQL8}stray\n").as_bytes());
    assert_eq!(
        (entries.len(), stats.unrecognized, stats.first_unrecognized[0].0),
        (2, 1, 15)
    );
}

#[test]
fn split_point_cases() {
    let log = MARIADB.as_bytes();
    let second = MARIADB.find("# User@Host: app").unwrap();
    let first = MARIADB.find("# Time:").unwrap();
    assert_eq!(split_point(log, false), second);
    assert_eq!(split_point(log, true), log.len());
    assert_eq!(split_point(&log[..second + 12], false), second);
    assert_eq!(
        split_point(&log[..second + 11], false),
        first,
        "not yet a whole `# User@Host:`"
    );
    // "# User@Host:" right after "# Time:" belongs to it: split before the Time line.
    let user = MARIADB.find("# User@Host: root").unwrap();
    assert_eq!(split_point(&log[..user + 12], false), first);
    assert_eq!(split_point(&log[..user], false), first);
    // A server header line counts only when it is whole.
    let header = MARIADB.find("Tcp port").unwrap();
    assert_eq!(split_point(&log[..header - 1], false), 0);
    assert_eq!(split_point(&log[..header], false), 0, "the header is the first line");
    let twice = format!("SELECT 1;\n{MARIADB}");
    assert_eq!(split_point(&twice.as_bytes()[..header + 10], false), 10);
    assert_eq!(
        split_point(&twice.as_bytes()[..header + 9], false),
        0,
        "its '\\n' is missing"
    );
    assert_eq!(split_point(b"", false), 0);
    assert_eq!(split_point(b"# Time: 1", false), 0);
    assert_eq!(split_point(b"x\n# Time", false), 0);
    assert_eq!(split_point(b"x\n# Time:", false), 2);
}

#[test]
fn find_newline_matches_position() {
    let mut hay = vec![b'a'; 40];
    assert_eq!(find_newline(&hay), None);
    for i in 0..40 {
        hay[i] = b'\n';
        for start in 0..=i {
            assert_eq!(find_newline(&hay[start..]), Some(i - start));
        }
        hay[i] = 0x8a;
        assert_eq!(find_newline(&hay), None);
        hay[i] = b'\x0b';
        assert_eq!(find_newline(&hay), None);
    }
}

/// The real MariaDB 10.11 slow log made by `scripts/slowlog-fixtures` (with
/// `log_slow_verbosity` explain, warnings, …). The workload is fixed but its
/// run times are not, so the numbers are counted from the file itself.
#[test]
fn mariadb_fixture() {
    let data = fixture();
    let text = std::str::from_utf8(&data).unwrap();
    // Independent count: every "# Query_time:" line is one statement.
    let query_times: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# Query_time: "))
        .map(|rest| rest.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    let expected_ms: f64 = query_times.iter().map(|s| s * 1000.0).sum();
    let starts: Vec<i64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("SET timestamp="))
        .filter_map(|rest| rest.strip_suffix(';')?.parse().ok())
        .collect();
    let (min_ms, max_ms) = (
        starts.iter().min().unwrap() * 1000,
        starts.iter().max().unwrap() * 1000 + 6000,
    );

    let (entries, stats, state) = parse(&data);
    assert!(query_times.len() > 250, "{}", query_times.len());
    assert_eq!(entries.len(), query_times.len());
    assert_eq!(stats.lines, data.iter().filter(|&&b| b == b'\n').count() as u64);
    assert_eq!(
        (stats.entries, stats.unrecognized),
        (entries.len() as u64, 0),
        "{stats:?}"
    );
    let total_ms: f64 = entries.iter().map(|e| e.duration_ms).sum();
    assert!((total_ms - expected_ms).abs() < 1e-6, "{total_ms} vs {expected_ms}");
    assert_eq!(entries.iter().filter(|e| e.duration_ms > 5000.0).count(), 3);
    assert!(entries.iter().all(|e| (min_ms..=max_ms).contains(&e.end_ms)));
    assert!(
        entries
            .iter()
            .all(|e| e.kind == EntryKind::Statement && e.user.as_deref() == Some("root"))
    );
    assert!(
        entries
            .iter()
            .all(|e| !e.text.is_empty() && !e.text.contains("Version: "))
    );
    assert!(entries.windows(2).all(|w| w[0].line < w[1].line));
    assert_eq!(state.database.as_deref(), Some("poolcap_fixtures"));

    let find = |needle: &str| {
        entries
            .iter()
            .find(|e| e.text.contains(needle))
            .unwrap_or_else(|| panic!("{needle}"))
    };
    let first = &entries[0];
    assert_eq!((first.line, first.database.as_deref()), (4, Some("poolcap_fixtures")));
    assert!(text.lines().nth(3).unwrap().starts_with("# Time: "));
    assert_eq!(
        find("hash comment").text,
        "SELECT 1 AS x\n# a hash comment line inside a multi-line statement\n, 2 AS y"
    );
    assert_eq!(
        find("multi_line_literal").text,
        "SELECT 'first line\nsecond line\tafter a TAB' AS multi_line_literal"
    );
    assert_eq!(find("SET timestamp = 1").text, "SET timestamp = 1790000000");
    assert_eq!(find("SET timestamp = 1").end_ms, 1_790_000_000_000);
    assert_eq!(find("SELECT NOW() AS pinned_now").end_ms, 1_790_000_000_000);
    assert!(
        find("-- poolcap slow-log fixtures")
            .text
            .ends_with("comment-only statement")
    );
    assert_eq!(
        find("audit_events (kind").database.as_deref(),
        Some("poolcap_fixtures_b")
    );
    assert_eq!(
        find("SET timestamp = DEFAULT").text,
        "SET timestamp = DEFAULT",
        "not glued to the header after it"
    );
    let flush = find("after FLUSH SLOW LOGS");
    let header = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(", Version: "))
        .last()
        .unwrap()
        .0 as u64
        + 1;
    assert!(flush.line > header && header > 4, "{} {header}", flush.line);
    let slow = find("SLEEP(5.3)");
    assert_eq!(slow.text, "SELECT SLEEP(5.3),\n\t'遅いクエリ' AS label");
    assert_eq!(slow.database.as_deref(), Some("poolcap_fixtures_b"));
    assert!(slow.duration_ms > 5300.0 && slow.end_ms % 1000 == 300, "{slow:?}");
}

/// Pieces of logs, glued in any order by the property tests.
const PIECES: &[&[u8]] = &[
    b"/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1-log (Debian 12). started with:\n\
          Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime\t\t    Id Command\tArgument\n",
    b"# Time: 261127  8:18:42\n# User@Host: root[root] @ localhost []\n# Thread_id: 5  Schema: test  QC_hit: No\n\
          # Query_time: 1.500000  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 0\n\
          # Rows_affected: 0  Bytes_sent: 62\nuse test;\nSET timestamp=1795767517;\nSELECT SLEEP(1.5);\n",
    b"# User@Host: app[app] @  [10.0.0.7]\n# Thread_id: 6  Schema: shop  QC_hit: No\n\
          # Query_time: 0.000250  Lock_time: 0.000100  Rows_sent: 0  Rows_examined: 1\n#\n# explain: id\tselect_type\n#\n\
          SET timestamp=1795767522;\nSELECT 1 AS x\n# a comment\n, 2 AS y;\n",
    b"# Time: 2026-11-27T08:18:42.123456Z\n# User@Host: app[app] @ web1 [10.0.0.5]  Id:    12\n\
          # Query_time: 0.200213  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 0\nuse shop;\n\
          SET timestamp=1795767516;\nSELECT * FROM orders WHERE id = 5;\n",
    b"# User@Host: app[app] @ web1 [10.0.0.5]  Id:    12\n\
          # Query_time: 0.000010  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1795767522;\n\
          # administrator command: Quit;\n",
    "# User@Host: u[u] @ h []\n# Query_time: 0.3  Lock_time: 0\nuse `other db`;\nSELECT 'Überweisung ✓ 患者';\n"
        .as_bytes(),
    b"garbage line\n",
    b"\n",
    b"# Time: 2026-11-27T08:19:00Z\n",
    b"# User@Host: x[x] @ h []\nSET timestamp=1795767600;\nSELECT 2;\n",
    b"# User@Host: w[w] @ h []\r\n# Query_time: 0.010000  Lock_time: 0.000000\r\n\
          SET timestamp=1795767601.500000;\r\nSELECT\r\n 3;\r\n",
    b"# User@Host: v[v] @ h []\n# Query_time: 0.000001  Lock_time: 0\n\
          SET last_insert_id=4,insert_id=5,timestamp=1795767602;\nSET timestamp = 1790000000;\n",
    b"Tcp port: 3306  Unix socket: x\n",
    b"/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:\n\
          Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\nTime                 Id Command    Argument\n",
    b"# User@Host: b[b] @ h []\n# Query_time: 0.5  Lock_time: 0\nSET timestamp=1795767603;\nSELECT '\xff\xfe';\n",
    b"SELECT '# Query_time: 99' AS decoy;\n",
    b"# Query_time: 2.0  Lock_time: 0\n",
    b"# User@Host: t[t] @ h []\n# Query_time: 3.0  Lock_time: 0\nSELECT 'no SET';\n",
    b"use `later`;\n",
];

fn log_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0..PIECES.len(), 0..24)
        .prop_map(|picks| picks.iter().flat_map(|&i| PIECES[i]).copied().collect())
}

fn fixture() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slowlog/mariadb-slow.log")).unwrap()
}

/// The entries of `data` cut at `cut` must start with every complete entry
/// of the whole `data`: one whose following boundary line (see
/// [`boundaries`]) is whole before the cut. At most one more entry (the
/// truncated one) may follow them.
fn check_cut(data: &[u8], cut: usize) -> Result<(), TestCaseError> {
    let (full, _, _) = parse(data);
    let (part, _, _) = parse(&data[..cut]);
    let whole_lines = data[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
    let bounds = boundaries(data);
    let complete: Vec<_> = full
        .iter()
        .filter(|e| cut == data.len() || bounds.iter().any(|&b| b > e.line && b <= whole_lines))
        .cloned()
        .collect();
    prop_assert!(
        part.len() >= complete.len() && part.len() <= complete.len() + 1,
        "{} vs {}",
        part.len(),
        complete.len()
    );
    prop_assert_eq!(&part[..complete.len()], &complete[..]);
    Ok(())
}

proptest! {
    #[test]
    fn chunked_parse_equals_whole(data in log_strategy(), blocks in prop::collection::vec(1usize..200, 1..8)) {
        let (entries, stats, state) = parse(&data);
        let (chunked, chunked_stats, chunked_state) = drive(&data, &blocks);
        prop_assert_eq!(chunked, entries);
        prop_assert_eq!(chunked_stats, stats);
        prop_assert_eq!(format!("{chunked_state:?}"), format!("{state:?}"));
    }

    #[test]
    fn split_point_is_an_entry_start(data in log_strategy()) {
        let bounds = boundaries(&data);
        let starts: Vec<usize> = std::iter::once(0).chain(data.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1)).collect();
        for len in 0..=data.len() {
            let split = split_point(&data[..len], false);
            prop_assert!(split <= len);
            if split > 0 {
                let line = starts.iter().position(|&s| s == split).map(|i| i as u64 + 1);
                prop_assert!(line.is_some_and(|l| bounds.contains(&l)), "split {} of {} at line {:?}", split, len, line);
            }
        }
    }

    #[test]
    fn cut_anywhere_keeps_complete_entries(data in log_strategy(), at in any::<prop::sample::Index>()) {
        let cut = at.index(data.len() + 1);
        check_cut(&data, cut)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        noise in prop::collection::vec(any::<u8>(), 0..400),
        data in log_strategy(),
        at in any::<prop::sample::Index>(),
    ) {
        let at = at.index(data.len() + 1);
        let mixed: Vec<u8> = data[..at].iter().chain(&noise).chain(&data[at..]).copied().collect();
        for bytes in [&noise[..], &mixed[..]] {
            for eof in [false, true] {
                let split = split_point(bytes, eof);
                prop_assert!(split <= bytes.len());
                let mut state = MysqlState::default();
                let mut stats = ParseStats::default();
                parse_chunk(&bytes[..split], 1, &mut state, &mut stats, &mut |_| {});
                parse_chunk(bytes, 1, &mut state, &mut stats, &mut |_| {});
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn fixture_chunked_equals_whole(blocks in prop::collection::vec(1usize..6000, 1..8)) {
        let data = fixture();
        let (entries, stats, state) = parse(&data);
        let (chunked, chunked_stats, chunked_state) = drive(&data, &blocks);
        prop_assert_eq!(chunked, entries);
        prop_assert_eq!(chunked_stats, stats);
        prop_assert_eq!(format!("{chunked_state:?}"), format!("{state:?}"));
    }

    #[test]
    fn fixture_cut_anywhere_keeps_complete_entries(at in any::<prop::sample::Index>()) {
        let data = fixture();
        check_cut(&data, at.index(data.len() + 1))?;
    }
}
