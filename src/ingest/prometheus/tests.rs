use super::*;
use proptest::prelude::*;
use std::path::PathBuf;

use crate::ingest::Sample;

/// (service, instance, ts, pool_size, checked_out, max_overflow, waiting, timeouts).
type Row = (String, String, i64, u32, u32, Option<u32>, Option<u32>, Option<u64>);

struct Run {
    result: Result<FileSummary, IngestError>,
    samples: Vec<Sample>,
    diags: Diagnostics,
    series: SeriesTable,
}

impl Run {
    /// (code, line, message) of every shown diagnostic.
    fn shown(&self) -> Vec<(&'static str, u64, String)> {
        self.diags
            .shown()
            .iter()
            .map(|d| (d.code, d.line.unwrap(), d.message.clone()))
            .collect()
    }

    fn codes(&self) -> Vec<&'static str> {
        self.diags.shown().iter().map(|d| d.code).collect()
    }

    fn rows(&self) -> Vec<Row> {
        self.samples
            .iter()
            .map(|s| {
                let k = self.series.key(s.series);
                (
                    k.service.clone(),
                    k.instance.clone(),
                    s.ts,
                    s.pool_size,
                    s.checked_out,
                    s.max_overflow,
                    s.waiting,
                    s.timeouts,
                )
            })
            .collect()
    }
}

fn run_with(text: &[u8], service: Option<&str>, format: crate::ingest::MetricFormat) -> Run {
    let mut series = SeriesTable::default();
    let mut diags = Diagnostics::default();
    let mut samples = Vec::new();
    let opts = ReadOptions {
        service: service.map(str::to_string),
        format,
        ..ReadOptions::default()
    };
    let result = crate::ingest::read_metrics(
        text,
        ReadContext {
            path: &PathBuf::from("q.json"),
            file: 3,
            opts: &opts,
            series: &mut series,
            diags: &mut diags,
            sink: &mut |_, s| samples.push(s),
        },
    );
    Run {
        result,
        samples,
        diags,
        series,
    }
}

fn run(text: &str, service: Option<&str>) -> Run {
    run_with(text.as_bytes(), service, crate::ingest::MetricFormat::Auto)
}

/// A query_range envelope around series entries `(labels, values)`.
fn matrix(entries: &[(&str, &str)]) -> String {
    let result: Vec<String> = entries
        .iter()
        .map(|(labels, values)| format!("{{\"metric\":{{{labels}}},\"values\":[{values}]}}"))
        .collect();
    format!(
        "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{}]}}}}",
        result.join(",")
    )
}

const T0: i64 = 1_790_841_600; // 2026-10-01T08:00:00Z

fn s(service: &str, instance: &str, ts: i64, pool: u32, out: u32) -> Row {
    (service.into(), instance.into(), ts, pool, out, None, None, None)
}

#[test]
fn sqlalchemy_gauges_are_joined_per_instance_in_time_order() {
    let text = matrix(&[
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"backend","instance":"web-2""#,
            r#"[1790841600,"3"],[1790841660,"4"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"backend","instance":"web-1""#,
            r#"[1790841600,"14"],[1790841660.5,"15"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"backend","instance":"web-1""#,
            r#"[1790841600,"20"],[1790841660,"20"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"backend","instance":"web-2""#,
            r#"[1790841600,"10"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_max_overflow","service":"backend","instance":"web-1""#,
            r#"[1790841600,"10"],[1790841660,"10"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_waiting","service":"backend","instance":"web-1""#,
            r#"[1790841660,"2"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_timeouts_total","service":"backend","instance":"web-1""#,
            r#"[1790841600,"7"],[1790841660,"9"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_checked_in","service":"backend","instance":"web-1""#,
            r#"[1790841600,"6"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_overflow","service":"backend","instance":"web-1""#,
            r#"[1790841600,"-6"]"#,
        ),
    ]);
    let r = run(&text, None);
    let summary = r.result.as_ref().unwrap();
    assert_eq!(
        r.rows(),
        vec![
            ("backend".into(), "web-1".into(), T0, 20, 14, Some(10), None, Some(7)),
            s("backend", "web-2", T0, 10, 3),
            (
                "backend".into(),
                "web-1".into(),
                T0 + 60,
                20,
                15,
                Some(10),
                Some(2),
                Some(9)
            ),
            s("backend", "web-2", T0 + 60, 10, 4),
        ]
    );
    // Points of recognised series (the overflow gauge is skipped): 4 + 3 + 2 + 1 + 2 + 1.
    assert_eq!((summary.rows, summary.accepted, summary.rejected), (13, 4, 0));
    assert_eq!(summary.bytes, text.len() as u64);
    assert!(r.diags.notices().is_empty(), "{:?}", r.diags.notices());
    assert!(r.samples.iter().all(|s| s.file == 3 && s.line == 1));
}

#[test]
fn fractional_timestamps_are_floored() {
    let text = matrix(&[
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
            r#"[1790841600.999,"1"],[1790841660.5,"2"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"b""#,
            r#"[1790841600.2,"5"]"#,
        ),
    ]);
    let r = run(&text, None);
    assert_eq!(
        r.rows(),
        vec![s("b", "default", T0, 5, 1), s("b", "default", T0 + 60, 5, 2)]
    );
}

#[test]
fn pool_size_holds_for_five_minutes_of_lookback_and_no_longer() {
    let text = matrix(&[
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"b","instance":"i""#,
            r#"[1790841590,"1"],[1790841600,"2"],[1790841900,"3"],[1790841901,"4"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"b","instance":"i""#,
            r#"[1790841600,"5"]"#,
        ),
    ]);
    let r = run(&text, None);
    assert_eq!(r.rows(), vec![s("b", "i", T0, 5, 2), s("b", "i", T0 + 300, 5, 3)]);
    let shown = r.shown();
    assert_eq!(shown.len(), 2);
    assert!(
        shown
            .iter()
            .all(|(code, line, _)| *code == "no-pool-size" && *line == 1)
    );
    assert!(shown[0].2.contains("2026-10-01T07:59:50Z"), "{}", shown[0].2);
    assert!(shown[1].2.contains("2026-10-01T08:05:01Z"), "{}", shown[1].2);
    assert!(
        shown[0]
            .2
            .contains(r#"sqlalchemy_pool_checked_out{instance="i",service="b"}"#),
        "{}",
        shown[0].2
    );
    let summary = r.result.unwrap();
    assert_eq!((summary.rows, summary.accepted, summary.rejected), (5, 2, 2));
}

#[test]
fn hostile_values_are_rejected_with_code_line_labels_and_time() {
    let text = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[\n{\"metric\":{\"__name__\":\"sqlalchemy_pool_size\",\"service\":\"b\"},\"values\":[[1790841600,\"20\"]]},\n{\"metric\":{\"__name__\":\"sqlalchemy_pool_checked_out\",\"service\":\"b\"},\"values\":[[1790841600,\"NaN\"],[1790841601,\"+Inf\"],[1790841602,\"-Inf\"],[1790841603,\"-1\"],[1790841604,\"1.5\"],[1790841605,\"4294967296\"],[1790841606,\"many\"],[1790841607,\"31\"],[1790841608,\"1e308\"],[1790841609,\"7\"]]},\n{\"metric\":{\"__name__\":\"sqlalchemy_pool_max_overflow\",\"service\":\"b\"},\"values\":[[1790841600,\"10\"]]}\n]}}\n";
    let r = run(text, None);
    assert_eq!(
        r.rows(),
        vec![("b".into(), "default".into(), T0 + 9, 20, 7, Some(10), None, None)]
    );
    assert_eq!(
        r.codes(),
        vec![
            "not-a-number",
            "infinite",
            "infinite",
            "bad-number",
            "bad-number",
            "bad-number",
            "bad-number",
            "bad-number",
            "over-capacity",
        ]
    );
    let shown = r.shown();
    assert!(shown.iter().all(|(_, line, _)| *line == 3), "{shown:?}");
    assert!(shown[0].2.contains("stale marker"), "{}", shown[0].2);
    assert!(
        shown[0]
            .2
            .starts_with(r#"sqlalchemy_pool_checked_out{service="b"} at 2026-10-01T08:00:00Z"#),
        "{}",
        shown[0].2
    );
    assert!(shown[1].2.ends_with("08:00:01Z: checked_out is +Inf"), "{}", shown[1].2);
    assert!(shown[2].2.ends_with("08:00:02Z: checked_out is -Inf"), "{}", shown[2].2);
    assert!(
        shown[3].2.ends_with("checked_out -1 is not a whole number ≥ 0"),
        "{}",
        shown[3].2
    );
    assert!(
        shown[4].2.ends_with("checked_out 1.5 is not a whole number ≥ 0"),
        "{}",
        shown[4].2
    );
    assert!(
        shown[5].2.ends_with("checked_out 4.294967296e9 is out of range"),
        "{}",
        shown[5].2
    );
    assert!(shown[6].2.contains("\"many\" is not a number"), "{}", shown[6].2);
    assert!(shown[7].2.contains("1e308 is out of range"), "{}", shown[7].2);
    assert!(
        shown[8]
            .2
            .contains("at 2026-10-01T08:00:07Z: checked_out 31 exceeds pool_size 20 + max_overflow 10"),
        "{}",
        shown[8].2
    );
    let summary = r.result.unwrap();
    assert_eq!((summary.rows, summary.accepted, summary.rejected), (12, 1, 9));
}

#[test]
fn a_bad_pool_size_point_is_a_hole_the_lookback_does_not_cross() {
    let text = matrix(&[
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
            r#"[1790841600,"1"],[1790841660,"2"],[1790841720,"3"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"b""#,
            r#"[1790841600,"5"],[1790841660,"NaN"],[1790841720,"0"]"#,
        ),
    ]);
    let r = run(&text, None);
    assert_eq!(r.rows(), vec![s("b", "default", T0, 5, 1)]);
    assert_eq!(
        r.codes(),
        vec!["not-a-number", "bad-number", "no-pool-size", "no-pool-size"]
    );
    assert!(r.shown()[1].2.contains("pool_size is 0"), "{:?}", r.shown());
}

#[test]
fn stale_marker_ends_optional_fields_too() {
    let text = matrix(&[
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
            r#"[1790841600,"1"],[1790841660,"2"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"b""#,
            r#"[1790841600,"5"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_waiting","service":"b""#,
            r#"[1790841600,"3"],[1790841630,"NaN"]"#,
        ),
    ]);
    let r = run(&text, None);
    assert_eq!(
        r.samples.iter().map(|s| s.waiting).collect::<Vec<_>>(),
        vec![Some(3), None]
    );
    assert_eq!(r.codes(), vec!["not-a-number"]);
    assert!(r.shown()[0].2.contains("waiting is NaN"), "{:?}", r.shown());
    assert!(r.shown()[0].2.contains("08:00:30Z"), "{:?}", r.shown());
}

#[test]
fn bad_timestamps_are_rejected() {
    let text = matrix(&[
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
            r#"[-1,"1"],[1e308,"1"],[253402300800,"1"],[1790841600,"2"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"b""#,
            r#"[1790841600,"5"]"#,
        ),
    ]);
    let r = run(&text, None);
    assert_eq!(r.rows(), vec![s("b", "default", T0, 5, 2)]);
    assert_eq!(r.codes(), vec!["bad-timestamp"; 3]);
}

#[test]
fn duplicate_seconds_within_a_series_keep_the_first() {
    let text = matrix(&[
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
            r#"[1790841600.0,"1"],[1790841600.5,"2"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"b""#,
            r#"[1790841600,"5"]"#,
        ),
    ]);
    let r = run(&text, None);
    assert_eq!(r.rows(), vec![s("b", "default", T0, 5, 1)]);
    assert_eq!(r.codes(), vec!["duplicate-time"]);
}

#[test]
fn missing_service_label_rejects_the_series_unless_service_is_given() {
    let entries = [
        (
            r#""__name__":"sqlalchemy_pool_checked_out","instance":"i""#,
            r#"[1790841600,"1"],[1790841660,"2"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","instance":"i","service":"""#,
            r#"[1790841600,"5"]"#,
        ),
    ];
    let text = matrix(&entries);
    let r = run(&text, None);
    assert!(
        matches!(
            r.result,
            Err(IngestError::NoSamples {
                rows: 3,
                rejected: 3,
                ..
            })
        ),
        "{:?}",
        r.result
    );
    let shown = r.shown();
    assert_eq!(shown.len(), 2, "one diagnostic per series: {shown:?}");
    assert_eq!(shown[0].0, "missing-label");
    assert!(shown[0].2.contains("give --service"), "{}", shown[0].2);
    assert!(shown[0].2.contains("its 2 points are skipped"), "{}", shown[0].2);
    assert_eq!(r.diags.by_code()["missing-label"], 3);

    let r = run(&text, Some("cli"));
    assert_eq!(r.rows(), vec![s("cli", "i", T0, 5, 1), s("cli", "i", T0 + 60, 5, 2)]);
    assert_eq!(r.diags.rejected(), 0);
}

#[test]
fn job_names_the_service_when_the_service_label_is_absent() {
    let text = matrix(&[
        (
            r#""__name__":"sqlalchemy_pool_checked_out","job":"api","instance":"i""#,
            r#"[1790841600,"1"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","job":"api","instance":"i""#,
            r#"[1790841600,"5"]"#,
        ),
    ]);
    assert_eq!(run(&text, Some("cli")).rows(), vec![s("api", "i", T0, 5, 1)]);
}

#[test]
fn a_second_series_for_the_same_pool_is_rejected_whole() {
    let text = matrix(&[
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"b","instance":"i","job":"a""#,
            r#"[1790841600,"1"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"b","instance":"i","job":"a""#,
            r#"[1790841600,"5"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"b","instance":"i","job":"b""#,
            r#"[1790841600,"2"],[1790841660,"3"],[1790841720,"4"]"#,
        ),
    ]);
    let r = run(&text, None);
    assert_eq!(r.rows(), vec![s("b", "i", T0, 5, 1)]);
    let shown = r.shown();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].0, "duplicate-series");
    assert!(
        shown[0]
            .2
            .contains(r#"sqlalchemy_pool_checked_out{instance="i",job="b",service="b"}"#)
            && shown[0]
                .2
                .contains(r#"sqlalchemy_pool_checked_out{instance="i",job="a",service="b"}"#),
        "{}",
        shown[0].2
    );
    assert_eq!(r.diags.by_code()["duplicate-series"], 3);
    let summary = r.result.unwrap();
    assert_eq!((summary.rows, summary.accepted, summary.rejected), (5, 1, 3));
}

#[test]
fn other_metrics_are_one_notice() {
    let text = matrix(&[
        (r#""__name__":"up","job":"a""#, r#"[1790841600,"1"]"#),
        (r#""__name__":"up","job":"b""#, r#"[1790841600,"1"]"#),
        (r#""job":"a""#, r#"[1790841600,"0.5"]"#),
        (
            r#""__name__":"db_client_connection_count","state":"other","service":"b""#,
            r#"[1790841600,"1"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
            r#"[1790841600,"1"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"b""#,
            r#"[1790841600,"5"]"#,
        ),
    ]);
    let r = run(&text, None);
    assert_eq!(r.samples.len(), 1);
    assert_eq!(r.diags.rejected(), 0);
    let notices = r.diags.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].code, "unknown-metric");
    assert_eq!(
        notices[0].message,
        "ignored 4 series of metrics poolcap does not read: (no __name__), db_client_connection_count, up (×2)"
    );
    assert_eq!(r.result.unwrap().rows, 2);
}

#[test]
fn timeouts_counter_resets_pass_through_raw() {
    let text = matrix(&[
        (
            r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
            r#"[1790841600,"1"],[1790841660,"1"],[1790841720,"1"],[1790841780,"1"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_size","service":"b""#,
            r#"[1790841600,"5"]"#,
        ),
        (
            r#""__name__":"sqlalchemy_pool_timeouts_total","service":"b""#,
            r#"[1790841600,"3"],[1790841660,"5"],[1790841720,"1"],[1790841780,"2"]"#,
        ),
    ]);
    let r = run(&text, None);
    assert_eq!(
        r.samples.iter().map(|s| s.timeouts).collect::<Vec<_>>(),
        vec![Some(3), Some(5), Some(1), Some(2)]
    );
}

#[test]
fn opentelemetry_names_of_both_generations() {
    // Current semantic conventions: db.client.connection.*, state label
    // db.client.connection.state, service in `job`, pool in pool_name.
    let current = matrix(&[
        (
            r#""__name__":"db_client_connection_count","db_client_connection_state":"used","job":"api","db_client_connection_pool_name":"main""#,
            r#"[1790841600,"12"]"#,
        ),
        (
            r#""__name__":"db_client_connection_count","db_client_connection_state":"idle","job":"api","db_client_connection_pool_name":"main""#,
            r#"[1790841600,"8"]"#,
        ),
        (
            r#""__name__":"db_client_connection_idle_max","job":"api","db_client_connection_pool_name":"main""#,
            r#"[1790841600,"20"]"#,
        ),
        (
            r#""__name__":"db_client_connection_max","job":"api","db_client_connection_pool_name":"main""#,
            r#"[1790841600,"30"]"#,
        ),
        (
            r#""__name__":"db_client_connection_pending_requests","job":"api","db_client_connection_pool_name":"main""#,
            r#"[1790841600,"2"]"#,
        ),
        (
            r#""__name__":"db_client_connection_timeouts_total","job":"api","db_client_connection_pool_name":"main""#,
            r#"[1790841600,"4"]"#,
        ),
    ]);
    let r = run(&current, None);
    assert_eq!(
        r.rows(),
        vec![("api".into(), "main".into(), T0, 20, 12, Some(10), Some(2), Some(4))]
    );
    assert_eq!(r.result.unwrap().rows, 6);
    // The older db.client.connections.* names, label `state`, pool_name.
    let older = matrix(&[
        (
            r#""__name__":"db_client_connections_usage","state":"used","pool_name":"p""#,
            r#"[1790841600,"12"]"#,
        ),
        (
            r#""__name__":"db_client_connections_usage","state":"idle","pool_name":"p""#,
            r#"[1790841600,"8"]"#,
        ),
        (
            r#""__name__":"db_client_connections_idle_max","pool_name":"p""#,
            r#"[1790841600,"20"]"#,
        ),
        (
            r#""__name__":"db_client_connections_max","pool_name":"p""#,
            r#"[1790841600,"25"]"#,
        ),
        (
            r#""__name__":"db_client_connections_pending_requests","pool_name":"p""#,
            r#"[1790841600,"0"]"#,
        ),
        (
            r#""__name__":"db_client_connections_timeouts","pool_name":"p""#,
            r#"[1790841600,"1"]"#,
        ),
    ]);
    let r = run(&older, Some("svc"));
    assert_eq!(
        r.rows(),
        vec![("svc".into(), "p".into(), T0, 20, 12, Some(5), Some(0), Some(1))]
    );
    // A maximum below the pool size is rejected.
    let bad = matrix(&[
        (
            r#""__name__":"db_client_connections_usage","state":"used""#,
            r#"[1790841600,"1"]"#,
        ),
        (r#""__name__":"db_client_connections_idle_max""#, r#"[1790841600,"20"]"#),
        (r#""__name__":"db_client_connections_max""#, r#"[1790841600,"10"]"#),
    ]);
    let r = run(&bad, Some("svc"));
    assert_eq!(r.codes(), vec!["bad-number"]);
    assert!(r.shown()[0].2.contains("max connections 10 is below pool_size 20"));
}

#[test]
fn configured_names_and_labels_are_used() {
    let text = matrix(&[
        (
            r#""__name__":"inuse","svc":"b","pod":"p1","instance":"x""#,
            r#"[1790841600,"1"]"#,
        ),
        (r#""__name__":"size","svc":"b","pod":"p1""#, r#"[1790841600,"5"]"#),
    ]);
    let mut series = SeriesTable::default();
    let mut diags = Diagnostics::default();
    let mut samples = Vec::new();
    let mut opts = ReadOptions::default();
    opts.prometheus.checked_out_metric = "inuse".into();
    opts.prometheus.pool_size_metric = "size".into();
    opts.prometheus.service_label = "svc".into();
    opts.prometheus.instance_label = "pod".into();
    read(
        text.as_bytes(),
        ReadContext {
            path: Path::new("q.json"),
            file: 0,
            opts: &opts,
            series: &mut series,
            diags: &mut diags,
            sink: &mut |_, s| samples.push(s),
        },
    )
    .unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(
        series.key(samples[0].series),
        &crate::ingest::SeriesKey {
            service: "b".into(),
            instance: "p1".into()
        }
    );
}

#[test]
fn vector_results_and_the_bare_data_object() {
    let vector = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"sqlalchemy_pool_checked_out","service":"b"},"value":[1790841600.25,"4"]},{"metric":{"__name__":"sqlalchemy_pool_size","service":"b"},"value":[1790841600.25,"5"]}]}}"#;
    assert_eq!(run(vector, None).rows(), vec![s("b", "default", T0, 5, 4)]);
    let bare = r#"  {"resultType":"matrix","result":[{"values":[[1790841600,"4"]],"metric":{"__name__":"sqlalchemy_pool_checked_out","service":"b"}},{"metric":{"__name__":"sqlalchemy_pool_size","service":"b"},"values":[[1790841600,"5"]]}]}"#;
    assert_eq!(run(bare, None).rows(), vec![s("b", "default", T0, 5, 4)]);
}

/// `--metrics-format prometheus`: the reader takes any file it is given.
fn forced(text: &str) -> Run {
    run_with(text.as_bytes(), None, crate::ingest::MetricFormat::Prometheus)
}

fn header_error(r: &Run) -> (u64, String) {
    match &r.result {
        Err(IngestError::Header { line, message, .. }) => (*line, message.clone()),
        other => panic!("not a header error: {other:?}"),
    }
}

#[test]
fn an_error_response_names_its_error_type_and_message() {
    let text = r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:1: parse error"}"#;
    assert_eq!(
        crate::ingest::detect(text.as_bytes()),
        crate::ingest::MetricFormat::Prometheus
    );
    let (line, message) = header_error(&forced(text));
    assert_eq!(line, 1);
    assert_eq!(
        message,
        r#"Prometheus answered status "error" (bad_data): invalid parameter "query": 1:1: parse error"#
    );
}

#[test]
fn scalar_and_string_results_are_errors() {
    for t in ["scalar", "string"] {
        let text =
            format!("{{\"status\":\"success\",\"data\":{{\"resultType\":\"{t}\",\"result\":[1790841600,\"1\"]}}}}");
        let (_, message) = header_error(&run(&text, None));
        assert!(
            message.contains(&format!("resultType \"{t}\" holds no series")),
            "{message}"
        );
    }
    let (_, message) = header_error(&forced(r#"{"status":"success","data":{}}"#));
    assert!(message.contains("no data.resultType"), "{message}");
}

#[test]
fn truncated_or_malformed_json_is_an_error_at_its_line() {
    let text = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[\n{\"metric\":{\"__name__\":\"sqlalchemy_pool_size\",\"service\":\"b\"},\"values\":[[1790841600,\"20\"]]},\n{\"metric\":{\"__name__\":\"sqlalchemy_pool_checked_out\"},\"values\":[[17908";
    let r = run(text, None);
    let (line, message) = header_error(&r);
    assert_eq!(line, 3);
    assert!(
        message.starts_with("not a Prometheus query result: EOF while parsing"),
        "{message}"
    );
    assert!(
        r.to_string_error()
            .starts_with("q.json:3: not a Prometheus query result")
    );
    let (line, message) = header_error(&run(
        "{\"resultType\":\"matrix\",\n\"result\":[{\"metric\":{},\"values\":[[1,2,3]]}]}",
        None,
    ));
    assert_eq!(line, 2);
    assert!(message.contains("column"), "{message}");
    let (_, message) = header_error(&run("{\"resultType\":\"matrix\",\"result\":[]} trailing", None));
    assert!(message.contains("trailing characters"), "{message}");
}

#[test]
fn an_empty_result_is_no_samples() {
    let r = run(&matrix(&[]), None);
    assert!(matches!(
        r.result,
        Err(IngestError::NoSamples {
            rows: 0,
            rejected: 0,
            ..
        })
    ));
}

#[test]
fn the_format_can_be_forced() {
    let text = format!(
        "\n\n{}",
        matrix(&[
            (
                r#""__name__":"sqlalchemy_pool_checked_out","service":"b""#,
                r#"[1790841600,"1"]"#
            ),
            (
                r#""__name__":"sqlalchemy_pool_size","service":"b""#,
                r#"[1790841600,"5"]"#
            ),
        ])
    );
    let r = run_with(text.as_bytes(), None, crate::ingest::MetricFormat::Prometheus);
    assert_eq!(r.samples.len(), 1);
    assert_eq!(r.samples[0].line, 3);
}

impl Run {
    fn to_string_error(&self) -> String {
        self.result.as_ref().unwrap_err().to_string()
    }
}

fn label_map() -> impl Strategy<Value = Vec<(String, String)>> {
    let names = prop_oneof![
        Just("__name__".to_string()),
        Just("service".to_string()),
        Just("instance".to_string()),
        Just("job".to_string()),
        Just("state".to_string()),
        Just("pool_name".to_string()),
        "[a-z_]{1,8}",
    ];
    let values = prop_oneof![
        Just("sqlalchemy_pool_checked_out".to_string()),
        Just("sqlalchemy_pool_size".to_string()),
        Just("sqlalchemy_pool_max_overflow".to_string()),
        Just("sqlalchemy_pool_timeouts_total".to_string()),
        Just("db_client_connection_max".to_string()),
        Just("db_client_connections_usage".to_string()),
        Just("used".to_string()),
        Just("b".to_string()),
        Just(String::new()),
        ".{0,12}",
    ];
    proptest::collection::vec((names, values), 0..5)
}

fn time_text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        (1_790_841_600i64..1_790_842_600).prop_map(|t| t.to_string()),
        any::<i64>().prop_map(|t| t.to_string()),
        Just("1e308".to_string()),
        Just("-1e308".to_string()),
        Just("253402300799.9".to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
    ]
}

fn value_text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..40).prop_map(|v| v.to_string()),
        Just("NaN".to_string()),
        Just("+Inf".to_string()),
        Just("-Inf".to_string()),
        Just("1e308".to_string()),
        Just("-0".to_string()),
        Just("18446744073709551616".to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        ".{0,10}",
    ]
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut text = b"{\"resultType\"".to_vec();
        text.extend_from_slice(&bytes);
        let _ = run_with(&text, None, crate::ingest::MetricFormat::Auto);
        let _ = run_with(&bytes, Some("s"), crate::ingest::MetricFormat::Prometheus);
    }

    #[test]
    fn never_panics_on_valid_documents_with_arbitrary_labels_and_values(
        entries in proptest::collection::vec(
            (label_map(), proptest::collection::vec((time_text_strategy(), value_text_strategy()), 0..6)),
            0..8,
        ),
        service in proptest::option::of(Just("cli")),
    ) {
        let result: Vec<String> = entries
            .iter()
            .map(|(labels, points)| {
                let labels: serde_json::Map<String, serde_json::Value> = labels
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                let points: Vec<String> = points
                    .iter()
                    .map(|(t, v)| format!("[{t},{}]", serde_json::Value::String(v.clone())))
                    .collect();
                format!(
                    "{{\"metric\":{},\"values\":[{}]}}",
                    serde_json::Value::Object(labels),
                    points.join(",")
                )
            })
            .collect();
        let text = format!(
            "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{}]}}}}",
            result.join(",\n")
        );
        let r = run(&text, service);
        match &r.result {
            Ok(summary) => {
                prop_assert!(summary.accepted + summary.rejected <= summary.rows);
                prop_assert_eq!(summary.accepted, r.samples.len() as u64);
                prop_assert!(r.samples.windows(2).all(|w| (w[0].ts, w[0].series) < (w[1].ts, w[1].series)));
            }
            Err(IngestError::NoSamples { .. }) => prop_assert!(r.samples.is_empty()),
            Err(e) => {
                // Only numbers serde_json cannot hold (e.g. 1e400) end the file.
                prop_assert!(e.to_string().contains("number out of range"), "{}", e);
            }
        }
    }
}
