//! The quarterly slow-query review for people (a table), for the meeting's
//! record (Markdown, which the evidence pack keeps) and as CSV; its JSON is
//! the [`QuarterReview`] itself. Fingerprints only: never a statement's text.

use std::fmt::Write as _;

use super::slowlog::{cut, ms};
use crate::analyze::slow_review::{MonthCell, QuarterReview};

fn cell(c: &Option<MonthCell>) -> String {
    match c {
        None => "no logs".into(),
        Some(c) => format!("{}/{}", c.over_threshold, c.statements),
    }
}

fn new_text(new: Option<bool>) -> &'static str {
    match new {
        Some(true) => "new",
        Some(false) => "recurring",
        None => "—",
    }
}

fn month_line(r: &QuarterReview) -> Vec<String> {
    r.months
        .iter()
        .map(|m| match m.statements {
            None => format!("{}: no logs", m.month),
            Some(n) => format!(
                "{}: {n} statement(s), {} over {} s, connections held: mean {:.4}, peak {:.2} ({} log(s))",
                m.month,
                m.over_threshold.unwrap_or(0),
                r.threshold_seconds,
                m.mean_connections.unwrap_or(0.0),
                m.peak_connections.unwrap_or(0.0),
                m.sources.len()
            ),
        })
        .collect()
}

fn previous_line(r: &QuarterReview) -> String {
    if r.previous.months_with_logs.is_empty() {
        format!("{}: no logs, so nothing can be called new", r.previous.quarter)
    } else {
        format!(
            "{} (logs of {}): {} statement(s), {} over {} s",
            r.previous.quarter,
            r.previous.months_with_logs.join(", "),
            r.previous.statements,
            r.previous.over_threshold,
            r.threshold_seconds
        )
    }
}

fn peak_text(r: &QuarterReview) -> String {
    r.peak
        .as_ref()
        .map_or_else(|| "—".into(), |p| format!("{:.2} at {}", p.connections, p.at))
}

fn quarter_line(r: &QuarterReview) -> String {
    format!(
        "quarter: {} statement(s), {} over {} s in {} shape(s); connections held: mean {:.4}, peak {}",
        r.statements,
        r.over_threshold,
        r.threshold_seconds,
        r.slow.len(),
        r.mean_connections,
        peak_text(r)
    )
}

/// The review for people; `top` shapes at most.
pub fn table(r: &QuarterReview, top: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "slow-query review {} (statements over {} s), from {}",
        r.quarter, r.threshold_seconds, r.from
    );
    for line in month_line(r) {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "{}", quarter_line(r));
    let _ = writeln!(out, "before: {}", previous_line(r));
    let _ = writeln!(out, "digest: sha256 {}", r.digest_sha256);
    if r.slow.is_empty() {
        let _ = writeln!(
            out,
            "\nno statement ran longer than {} s this quarter",
            r.threshold_seconds
        );
    } else {
        let months: Vec<String> = r.months.iter().map(|m| m.month.clone()).collect();
        let _ = writeln!(out, "\n(month columns: over the threshold / statements)");
        let _ = writeln!(
            out,
            "{:>5}  {:>8}  {:>9}  {:>9}  {:>9}  {:>11}  {:>11}  {:>11}  {:>7}  {:>9}  FINGERPRINT",
            "SLOW", "COUNT", "MAX", "P95", "CONN", months[0], months[1], months[2], "BEFORE", "NEW"
        );
        for s in r.slow.iter().take(top) {
            let _ = writeln!(
                out,
                "{:>5}  {:>8}  {:>9}  {:>9}  {:>9.4}  {:>11}  {:>11}  {:>11}  {:>7}  {:>9}  {}",
                s.over_threshold,
                s.statements,
                ms(s.max_ms),
                ms(s.p95_ms),
                s.mean_connections,
                cell(&s.months[0]),
                cell(&s.months[1]),
                cell(&s.months[2]),
                s.previous_over_threshold.map_or_else(|| "—".into(), |n| n.to_string()),
                new_text(s.new),
                cut(&s.fingerprint, 90)
            );
        }
        if r.slow.len() > top {
            let _ = writeln!(
                out,
                "… and {} more shape(s) (--top, or --format json for all)",
                r.slow.len() - top
            );
        }
    }
    if !r.no_longer_slow.is_empty() {
        let _ = writeln!(
            out,
            "\nno longer slow (slow in {}, none over {} s now):",
            r.previous.quarter, r.threshold_seconds
        );
        for s in &r.no_longer_slow {
            let _ = writeln!(
                out,
                "  {} over before, {} statement(s) now: {}",
                s.previous_over_threshold,
                s.statements,
                cut(&s.fingerprint, 100)
            );
        }
    }
    out
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The review as Markdown, every shape.
pub fn markdown(r: &QuarterReview) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Slow-query review {}\n", r.quarter);
    let _ = writeln!(
        out,
        "Statements over **{} s** (the hazard card's quarterly review), from {}.\n",
        r.threshold_seconds,
        md_cell(&r.from)
    );
    for line in month_line(r) {
        let _ = writeln!(out, "- {}", md_cell(&line));
    }
    let _ = writeln!(out, "- {}", quarter_line(r));
    let _ = writeln!(out, "- before: {}", previous_line(r));
    let _ = writeln!(out, "- digest: SHA-256 `{}`\n", r.digest_sha256);
    if r.slow.is_empty() {
        let _ = writeln!(
            out,
            "No statement ran longer than {} s this quarter.",
            r.threshold_seconds
        );
    } else {
        let _ = writeln!(out, "## Shapes over the threshold\n");
        let _ = writeln!(
            out,
            "Month columns: statements over the threshold / statements; connections: the shape's mean over the quarter.\n"
        );
        let _ = writeln!(
            out,
            "| over | statements | max | p95 | connections | {} | {} | {} | before | new | fingerprint |",
            r.months[0].month, r.months[1].month, r.months[2].month
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
        for s in &r.slow {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.4} | {} | {} | {} | {} | {} | `{}` |",
                s.over_threshold,
                s.statements,
                ms(s.max_ms),
                ms(s.p95_ms),
                s.mean_connections,
                cell(&s.months[0]),
                cell(&s.months[1]),
                cell(&s.months[2]),
                s.previous_over_threshold.map_or_else(|| "—".into(), |n| n.to_string()),
                new_text(s.new),
                md_cell(&s.fingerprint).replace('`', "'")
            );
        }
    }
    if !r.no_longer_slow.is_empty() {
        let _ = writeln!(out, "\n## No longer slow\n");
        let _ = writeln!(out, "| over before | statements now | fingerprint |\n|---:|---:|---|");
        for s in &r.no_longer_slow {
            let _ = writeln!(
                out,
                "| {} | {} | `{}` |",
                s.previous_over_threshold,
                s.statements,
                md_cell(&s.fingerprint).replace('`', "'")
            );
        }
    }
    let _ = writeln!(out, "\n## Logs\n");
    for m in &r.months {
        for src in &m.sources {
            let _ = writeln!(
                out,
                "- {}: `{}` — {} statement(s), digest SHA-256 `{}`",
                m.month,
                md_cell(&src.source).replace('`', "'"),
                src.statements,
                src.sha256
            );
        }
    }
    out
}

/// One row per shape over the threshold.
pub fn csv(r: &QuarterReview) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head = vec![
        "fingerprint".to_string(),
        "over_threshold".into(),
        "statements".into(),
        "max_ms".into(),
        "p95_ms".into(),
        "total_ms".into(),
        "mean_connections".into(),
    ];
    for m in &r.months {
        head.push(format!("{}_over_threshold", m.month));
        head.push(format!("{}_statements", m.month));
    }
    head.push("previous_over_threshold".into());
    head.push("new".into());
    w.write_record(&head)?;
    let opt = |v: Option<u64>| v.map_or_else(String::new, |n| n.to_string());
    for s in &r.slow {
        let mut row = vec![
            s.fingerprint.clone(),
            s.over_threshold.to_string(),
            s.statements.to_string(),
            s.max_ms.to_string(),
            s.p95_ms.to_string(),
            s.total_ms.to_string(),
            s.mean_connections.to_string(),
        ];
        for c in &s.months {
            row.push(opt(c.as_ref().map(|c| c.over_threshold)));
            row.push(opt(c.as_ref().map(|c| c.statements)));
        }
        row.push(opt(s.previous_over_threshold));
        row.push(s.new.map_or_else(String::new, |n| n.to_string()));
        w.write_record(&row)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
