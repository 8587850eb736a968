use super::*;

fn parse_all(prefix: &str, text: &str) -> (Vec<LogEntry<'static>>, ParseStats) {
    let mut parser = StderrParser::new(Prefix::compile(prefix).unwrap(), TimeZone::UTC);
    let mut stats = ParseStats::default();
    let mut out = Vec::new();
    parser.parse_chunk(text.as_bytes(), 1, &mut stats, &mut |e| out.push(owned(e)));
    (out, stats)
}

fn owned(e: &LogEntry<'_>) -> LogEntry<'static> {
    LogEntry {
        end_ms: e.end_ms,
        duration_ms: e.duration_ms,
        kind: e.kind,
        database: e.database.as_ref().map(|d| Cow::Owned(d.to_string())),
        user: e.user.as_ref().map(|d| Cow::Owned(d.to_string())),
        text: Cow::Owned(e.text.to_string()),
        parameters: e.parameters.as_ref().map(|d| Cow::Owned(d.to_string())),
        line: e.line,
    }
}

#[test]
fn statement_execute_parse_bind_and_bare() {
    let log = "\
2026-11-27 08:18:42.294 UTC [30430] app@clinic LOG:  duration: 0.311 ms  statement: select 1
2026-11-27 08:18:42.712 UTC [30438] app@clinic LOG:  duration: 0.097 ms  parse P_1: UPDATE t SET a = $1
2026-11-27 08:18:42.714 UTC [30438] app@clinic LOG:  duration: 0.006 ms  bind P_1: UPDATE t SET a = $1
2026-11-27 08:18:42.714 UTC [30438] app@clinic DETAIL:  parameters: $1 = '5'
2026-11-27 08:18:42.715 UTC [30438] app@clinic LOG:  duration: 1.500 ms  execute P_1: UPDATE t SET a = $1
2026-11-27 08:18:42.715 UTC [30438] app@clinic DETAIL:  parameters: $1 = '5'
2026-11-27 08:18:43.000 UTC [30439] app@clinic LOG:  duration: 2.000 ms
2026-11-27 08:18:44.000 UTC [30401] LOG:  checkpoint starting: time
";
    let (entries, stats) = parse_all("%m [%p] %q%u@%d ", log);
    let kinds: Vec<EntryKind> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EntryKind::Statement,
            EntryKind::Parse,
            EntryKind::Bind,
            EntryKind::Execute,
            EntryKind::Bare
        ]
    );
    assert_eq!(entries[0].end_ms, 1_795_767_522_294);
    assert_eq!(entries[3].parameters.as_deref(), Some("$1 = '5'"));
    assert_eq!(entries[3].text, "UPDATE t SET a = $1");
    assert_eq!(entries[0].database.as_deref(), Some("clinic"));
    assert_eq!(entries[0].user.as_deref(), Some("app"));
    assert_eq!(stats.unrecognized, 0);
    assert_eq!(stats.entries, 5);
}

#[test]
fn multi_line_statements_and_interleaved_backends() {
    let log = "2026-11-27 08:00:00.000 UTC [1] a@db LOG:  duration: 5200.5 ms  statement: SELECT *\n\tFROM t\n\tWHERE x = 'Überweisung ✓'\n2026-11-27 08:00:00.100 UTC [2] a@db LOG:  duration: 1.0 ms  statement: select 2\n";
    let (entries, stats) = parse_all("%m [%p] %q%u@%d ", log);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].text, "SELECT *\nFROM t\nWHERE x = 'Überweisung ✓'");
    assert_eq!(entries[0].duration_ms, 5200.5);
    assert_eq!((entries[1].text.as_ref(), entries[1].line), ("select 2", 4));
    assert_eq!(stats.lines, 4);
}

#[test]
fn other_prefixes_and_session_only_part() {
    let log = "2026-11-27 08:00:00 UTC [77]: [3-1] user=app,db=clinic,app=psql,client=10.0.0.1 LOG:  duration: 2.5 ms  statement: select 1\n";
    let (entries, _) = parse_all("%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ", log);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].end_ms, 1_795_766_400_000);
    assert_eq!(entries[0].database.as_deref(), Some("clinic"));
    // %q: a background process prints only the part before it.
    let log = "2026-11-27 08:00:00.000 UTC [9] LOG:  duration: 1.0 ms  statement: vacuum\n";
    let (entries, stats) = parse_all("%m [%p] %q%u@%d ", log);
    assert_eq!((entries.len(), stats.unrecognized), (1, 0));
    assert_eq!(entries[0].user, None);
}

#[test]
fn prefixes_compile_and_reject_nonsense() {
    assert!(Prefix::compile("%m [%p] %q%u@%d ").is_ok());
    assert!(Prefix::compile("%-10u %5p %% ").is_ok());
    assert!(Prefix::compile("%z").unwrap_err().contains("unknown escape %z"));
    assert!(Prefix::compile("abc %").is_err());
}

#[test]
fn the_prefix_is_detected() {
    let log = b"2026-11-27 08:00:00 UTC [77]: [3-1] user=app,db=clinic,app=psql,client=10.0.0.1 LOG:  duration: 2.5 ms  statement: select 1\n";
    assert_eq!(
        detect_prefix(log).unwrap().as_str(),
        "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h "
    );
    let log = b"2026-11-27 08:00:00.123 CET [77] LOG:  duration: 2.5 ms  statement: select 1\n";
    assert_eq!(detect_prefix(log).unwrap().as_str(), "%m [%p] %q%u@%d ");
    assert!(detect_prefix(b"no log here\n").is_none());
}

#[test]
fn zones_offsets_and_abbreviations() {
    let mut utc = TimeReader::new(TimeZone::UTC);
    assert_eq!(utc.read(b"2026-11-27 08:00:00.5 UTC"), Some(1_795_766_400_500));
    assert_eq!(utc.read(b"2026-11-27 09:00:00 +01"), Some(1_795_766_400_000));
    assert_eq!(utc.read(b"2026-11-27 02:30:00 -0530"), Some(1_795_766_400_000));
    assert_eq!(utc.read(b"1795766400.250"), Some(1_795_766_400_250));
    let mut london = TimeReader::new(TimeZone::get("Europe/London").unwrap());
    // BST: read as wall-clock time in the log zone.
    assert_eq!(london.read(b"2026-07-01 09:00:00 BST"), Some(1_782_892_800_000));
}

#[test]
fn split_point_never_cuts_a_message() {
    let parser = StderrParser::new(Prefix::compile("%m [%p] ").unwrap(), TimeZone::UTC);
    let log = b"2026-11-27 08:00:00.000 UTC [1] LOG:  duration: 1 ms  statement: a\n\tb\n2026-11-27 08:00:00.000 UTC [1] DETAIL:  parameters: x\n2026-11-27 08:00:01.000 UTC [2] LOG:  duration: 1 ms  statement: c\n2026-11-27 08:00:02.000 UTC [2] LOG:  dur";
    let split = parser.split_point(log, false);
    assert!(
        log[split..].starts_with(b"2026-11-27 08:00:01.000 UTC [2] LOG"),
        "{split}"
    );
    assert_eq!(parser.split_point(log, true), log.len());
    assert_eq!(parser.split_point(b"no newline", false), 0);
}

#[test]
fn messages() {
    let m = parse_message(b"duration: 12.345 ms  execute <unnamed>: SELECT 1")
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.kind, m.duration_ms, m.text),
        (EntryKind::Execute, 12.345, &b"SELECT 1"[..])
    );
    let m = parse_message(b"duration: 3 ms  execute S_1/C_2: FETCH 10")
        .unwrap()
        .unwrap();
    assert_eq!(m.text, b"FETCH 10");
    assert!(parse_message(b"checkpoint complete").is_none());
    assert_eq!(
        parse_message(b"duration: 0.5 ms").unwrap().unwrap().kind,
        EntryKind::Bare
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const LOG: &str = "2026-11-27 08:00:00.000 UTC [1] a@db LOG:  duration: 1.5 ms  statement: select 1\n\tfrom t\n2026-11-27 08:00:00.100 UTC [2] a@db LOG:  duration: 2.0 ms  execute P_1: select $1\n2026-11-27 08:00:00.100 UTC [2] a@db DETAIL:  parameters: $1 = 'x'\n2026-11-27 08:00:00.200 UTC [3] a@db LOG:  duration: 3.0 ms  statement: select 3\n";

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let mut parser = StderrParser::new(Prefix::compile("%m [%p] %q%u@%d ").unwrap(), TimeZone::UTC);
            let mut stats = ParseStats::default();
            let _ = parser.split_point(&bytes, false);
            parser.parse_chunk(&bytes, 1, &mut stats, &mut |_| {});
            let _ = detect_prefix(&bytes);
            parse_json_chunk(&bytes, 1, &mut TimeReader::new(TimeZone::UTC), &mut stats, &mut |_| {});
        }

        /// A log cut at any byte still gives every entry whose lines all end before the cut.
        #[test]
        fn a_cut_file_keeps_every_complete_entry(cut in 0usize..LOG.len()) {
            let (all, _) = parse_all("%m [%p] %q%u@%d ", LOG);
            let text = &LOG[..cut];
            let (some, _) = parse_all("%m [%p] %q%u@%d ", text);
            // Entry k spans from its LOG line to the next LOG line (its DETAIL and
            // continuation lines included): complete when that span ends before the cut.
            let starts: Vec<usize> = LOG.match_indices("2026-11-27").map(|(i, _)| i).filter(|i| LOG[*i..].split('\n').next().unwrap().contains(" LOG:")).collect();
            for (k, e) in all.iter().enumerate() {
                let span_end = starts.get(k + 1).copied().unwrap_or(LOG.len());
                if span_end <= cut {
                    prop_assert!(some.contains(e), "entry at line {} lost or changed at cut {cut}", e.line);
                }
            }
        }

        /// Parsing in chunks cut at split points equals parsing the whole log.
        #[test]
        fn chunked_equals_whole(block in 1usize..120) {
            let parser_whole = parse_all("%m [%p] %q%u@%d ", LOG).0;
            let mut parser = StderrParser::new(Prefix::compile("%m [%p] %q%u@%d ").unwrap(), TimeZone::UTC);
            let mut stats = ParseStats::default();
            let mut got = Vec::new();
            let bytes = LOG.as_bytes();
            let mut buf: Vec<u8> = Vec::new();
            let mut line = 1u64;
            let mut pos = 0;
            while pos < bytes.len() || !buf.is_empty() {
                let take = block.min(bytes.len() - pos);
                buf.extend_from_slice(&bytes[pos..pos + take]);
                pos += take;
                let eof = pos == bytes.len();
                let split = parser.split_point(&buf, eof);
                if split == 0 && !eof {
                    continue;
                }
                let chunk: Vec<u8> = buf.drain(..split).collect();
                parser.parse_chunk(&chunk, line, &mut stats, &mut |e| got.push(owned(e)));
                line += chunk.iter().filter(|&&c| c == b'\n').count() as u64;
                if eof {
                    break;
                }
            }
            prop_assert_eq!(got, parser_whole);
        }
    }
}
