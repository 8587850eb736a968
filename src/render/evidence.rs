//! The evidence pack's own pages (docs/evidence.md): `evidence.json` (the
//! [`EvidencePack`] itself), `evidence.md`, and a self-contained `index.html`
//! (styles inline, evidence files linked by their relative paths). One row
//! per control of the hazard card, each with its status, its summary, its
//! details and its evidence files with their SHA-256.

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::provenance::FileRecord;
use crate::ops::evidence::{ControlRow, Status};

/// The pack as `evidence.json` holds it.
#[derive(Debug, Serialize)]
pub struct EvidencePack {
    /// The hazard the controls are for.
    pub hazard: &'static str,
    /// `YYYY-MM` or `YYYY-Qn`.
    pub period: String,
    /// Its months.
    pub months: Vec<String>,
    /// When the pack was written (RFC 3339; `SOURCE_DATE_EPOCH` when set).
    pub generated: String,
    /// The poolcap that wrote it.
    pub poolcap: String,
    /// The config the controls were judged with.
    pub config: FileRecord,
    /// Rows per status.
    pub counts: Counts,
    /// One per control of the hazard card.
    pub controls: Vec<ControlRow>,
}

/// Rows per status.
#[derive(Debug, Serialize, Default)]
pub struct Counts {
    /// Met.
    pub met: usize,
    /// Not met.
    pub not_met: usize,
    /// Missing.
    pub missing: usize,
}

impl Counts {
    /// Counts `rows`.
    pub fn of(rows: &[ControlRow]) -> Counts {
        let n = |s: Status| rows.iter().filter(|r| r.status == s).count();
        Counts {
            met: n(Status::Met),
            not_met: n(Status::NotMet),
            missing: n(Status::Missing),
        }
    }
}

/// The hazard's name on the card.
pub const HAZARD: &str = "Database connection pool exhaustion";

fn md(text: &str) -> String {
    crate::support::markdown::text_escape(text)
}

fn md_code(text: &str) -> String {
    crate::support::markdown::code_span(text)
}

/// `evidence.md`.
pub fn markdown(p: &EvidencePack) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Hazard evidence: {} — {}\n", p.hazard, p.period);
    let _ = writeln!(
        out,
        "Written {} by poolcap {} with config {} (SHA-256 `{}`). Months: {}.\n",
        p.generated,
        p.poolcap,
        md_code(&p.config.path),
        p.config.sha256.as_deref().unwrap_or(""),
        p.months.join(", ")
    );
    let _ = writeln!(
        out,
        "**{} met, {} not met, {} missing** of {} controls. Missing evidence is listed, never left out.\n",
        p.counts.met,
        p.counts.not_met,
        p.counts.missing,
        p.controls.len()
    );
    let _ = writeln!(
        out,
        "| control | kind | status | date | evidence |\n|---|---|---|---|---|"
    );
    for r in &p.controls {
        let files: Vec<String> = r
            .evidence
            .iter()
            .map(|e| format!("[{}]({})", md(&e.path), e.path))
            .collect();
        let _ = writeln!(
            out,
            "| [{}](#{}) | {} | **{}** | {} | {} |",
            md(r.control),
            r.id,
            r.group,
            r.status.as_str(),
            r.date,
            if files.is_empty() {
                "—".to_string()
            } else {
                files.join("<br>")
            }
        );
    }
    for r in &p.controls {
        let _ = writeln!(
            out,
            "\n<a id=\"{}\"></a>\n## {} — {}\n",
            r.id,
            md(r.control),
            r.status.as_str()
        );
        let _ = writeln!(out, "{}.\n", md(&sentence(&r.summary)));
        for d in &r.details {
            let _ = writeln!(out, "- {}", md(d));
        }
        if !r.evidence.is_empty() {
            let _ = writeln!(out, "\nEvidence:\n");
            for e in &r.evidence {
                let _ = writeln!(
                    out,
                    "- [{}]({}) — {} bytes, SHA-256 `{}`",
                    md(&e.path),
                    e.path,
                    e.bytes,
                    e.sha256
                );
            }
        }
        let _ = writeln!(out, "\nDate: {}", r.date);
    }
    out
}

/// `text` with its first letter capitalized (summaries are sentences).
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A relative link target: each path segment percent-encoded where it must be.
fn href(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}\
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#f2f2f2}.met{background:#e3f4e1}.not-met{background:#fbe0de}.missing{background:#fff3cd}\
.status,.date{font-weight:600;white-space:nowrap}.date{font-weight:400}code{font-size:.85em;word-break:break-all}section{margin:1.5rem 0}\
h2{font-size:1.15rem;margin-bottom:.3rem}ul{margin:.3rem 0}";

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Met => "met",
        Status::NotMet => "not-met",
        Status::Missing => "missing",
    }
}

/// `index.html`: self-contained.
pub fn index_html(p: &EvidencePack) -> String {
    let mut out = String::new();
    let title = format!("Hazard evidence: {} — {}", p.hazard, p.period);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        html(&title),
        html(&title)
    );
    let _ = writeln!(
        out,
        "<p>Written {} by poolcap {} with config <code>{}</code> (SHA-256 <code>{}</code>). Months: {}.</p>",
        html(&p.generated),
        html(&p.poolcap),
        html(&p.config.path),
        html(p.config.sha256.as_deref().unwrap_or("")),
        html(&p.months.join(", "))
    );
    let _ = writeln!(
        out,
        "<p><strong>{} met, {} not met, {} missing</strong> of {} controls. Missing evidence is listed, never left out.</p>",
        p.counts.met,
        p.counts.not_met,
        p.counts.missing,
        p.controls.len()
    );
    let _ = writeln!(
        out,
        "<table>\n<thead><tr><th>control</th><th>kind</th><th>status</th><th>date</th><th>evidence</th></tr></thead>\n<tbody>"
    );
    for r in &p.controls {
        let files: Vec<String> = r
            .evidence
            .iter()
            .map(|e| format!("<a href=\"{}\">{}</a>", href(&e.path), html(&e.path)))
            .collect();
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td><a href=\"#{}\">{}</a></td><td>{}</td><td class=\"status\">{}</td><td class=\"date\">{}</td><td>{}</td></tr>",
            status_class(r.status),
            r.id,
            html(r.control),
            html(r.group),
            r.status.as_str(),
            html(&r.date),
            if files.is_empty() {
                "—".to_string()
            } else {
                files.join("<br>")
            }
        );
    }
    let _ = writeln!(out, "</tbody>\n</table>");
    for r in &p.controls {
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h2>{} — <span class=\"{}\">{}</span></h2>\n<p>{}</p>",
            r.id,
            html(r.control),
            status_class(r.status),
            r.status.as_str(),
            html(&format!("{}.", sentence(&r.summary)))
        );
        if !r.details.is_empty() {
            let _ = writeln!(out, "<ul>");
            for d in &r.details {
                let _ = writeln!(out, "<li>{}</li>", html(d));
            }
            let _ = writeln!(out, "</ul>");
        }
        if !r.evidence.is_empty() {
            let _ = writeln!(out, "<p>Evidence:</p>\n<ul>");
            for e in &r.evidence {
                let _ = writeln!(
                    out,
                    "<li><a href=\"{}\">{}</a> — {} bytes, SHA-256 <code>{}</code></li>",
                    href(&e.path),
                    html(&e.path),
                    e.bytes,
                    html(&e.sha256)
                );
            }
            let _ = writeln!(out, "</ul>");
        }
        let _ = writeln!(out, "<p>Date: {}</p>\n</section>", html(&r.date));
    }
    let _ = writeln!(out, "</body>\n</html>");
    out
}

/// The pack for people on the terminal: one line per control.
pub fn table(p: &EvidencePack) -> String {
    let mut out = String::new();
    let width = p.controls.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for r in &p.controls {
        let _ = writeln!(out, "{:<width$}  {:<8}  {}", r.id, r.status.as_str(), r.summary);
    }
    let _ = writeln!(
        out,
        "{} met, {} not met, {} missing of {} controls",
        p.counts.met,
        p.counts.not_met,
        p.counts.missing,
        p.controls.len()
    );
    out
}
