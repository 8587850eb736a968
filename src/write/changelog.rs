//! The capacity change log: a Markdown file, newest entry first under a fixed
//! header, each entry rendered from a template (minijinja) and marked with a
//! hidden stable id (`<!-- poolcap:id=… -->`) so that a rerun never adds the
//! same entry twice.

use serde::Serialize;

/// The template shipped with poolcap (`templates/changelog-entry.md.j2`).
pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/changelog-entry.md.j2");

/// The header of a new change log.
pub const HEADER: &str = "# Connection-pool capacity change log\n\n\
Changes to database connection-pool settings, newest first. Entries are written by\n\
`poolcap apply` (monthly review) and `poolcap override` (incidents); the hidden\n\
`poolcap:id` comments let poolcap recognise an entry it has already written.\n";

const MARKER: &str = "<!-- poolcap:id=";
const EVIDENCE_MARKER: &str = "<!-- poolcap:evidence=";

/// One setting's row.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SettingRow {
    /// Key as written in the first target (e.g. `DB_POOL_SIZE`).
    pub key: String,
    /// Value before (`—` when unset).
    pub before: String,
    /// Value after.
    pub after: String,
    /// Whether it changes.
    pub changed: bool,
}

/// A finding as the entry shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingRow {
    /// Stable code.
    pub code: String,
    /// Its sentence with numbers.
    pub message: String,
}

/// The budget arithmetic of the entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BudgetRow {
    /// `4 × 38 + 2 × 15 + 12`.
    pub arithmetic: String,
    /// Connections needed.
    pub required: u64,
    /// Connections allowed.
    pub limit: u32,
    /// Within budget.
    pub ok: bool,
}

/// Pool sizes as the template sees them.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Sizes {
    /// `pool_size`.
    pub pool_size: u32,
    /// `max_overflow`.
    pub max_overflow: u32,
}

/// Everything an entry says.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    /// Stable id (see [`entry_id`]).
    pub id: String,
    /// `review` or `override`.
    pub kind: &'static str,
    /// Date of the change, `YYYY-MM-DD` in the configured zone.
    pub date: String,
    /// Service name.
    pub service: String,
    /// Reviewed month (review entries).
    pub month: Option<String>,
    /// Incident id (override entries).
    pub incident: Option<String>,
    /// Ticket id.
    pub ticket: Option<String>,
    /// Why (override entries).
    pub reason: Option<String>,
    /// Why the budget guard was overridden, when it was.
    pub over_budget_reason: Option<String>,
    /// Who.
    pub author: String,
    /// Sizes before.
    pub before: Sizes,
    /// Sizes after.
    pub after: Sizes,
    /// Every managed setting.
    pub settings: Vec<SettingRow>,
    /// Findings that drove the change.
    pub findings: Vec<FindingRow>,
    /// The budget arithmetic.
    pub budget: BudgetRow,
    /// What the decision was made from (review entries): shown in the entry
    /// and recorded whole, for `poolcap verify --entry`, in a hidden
    /// `poolcap:provenance` comment.
    pub evidence: Option<Evidence>,
}

/// A review entry's evidence: the plan it carries out and its provenance.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Evidence {
    /// SHA-256 of the plan report (the bytes `plan --format json` prints and
    /// a review writes as `plan.json` for the same inputs).
    pub plan_sha256: String,
    /// Version, config, policy, rules, inputs with digests.
    pub provenance: crate::model::provenance::Provenance,
}

/// FNV-1a, 64 bits: a stable hash that no library version can change.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `service:context:before>after:hash`, where the hash covers every setting's
/// before and after value: the same change for the same month or incident
/// always gets the same id.
pub fn entry_id(service: &str, context: &str, before: Sizes, after: Sizes, settings: &[SettingRow]) -> String {
    let all: String = settings
        .iter()
        .map(|s| format!("{}={}>{};", s.key, s.before, s.after))
        .collect();
    format!(
        "{service}:{context}:{}+{}>{}+{}:{:08x}",
        before.pool_size,
        before.max_overflow,
        after.pool_size,
        after.max_overflow,
        fnv1a(&all) & 0xffff_ffff
    )
}

/// An entry as a change log holds it, read back by its id marker.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEntry {
    /// Its id.
    pub id: String,
    /// The service (the longest configured name the id starts with).
    pub service: String,
    /// `review` or `override`.
    pub kind: &'static str,
    /// The reviewed month (review entries), or `incident-ID` /
    /// `override-DATE` (overrides).
    pub context: String,
    /// The entry's date, YYYY-MM-DD: the first date in its text (the default
    /// template's heading), else an override's date from its context; empty
    /// when neither says.
    pub date: String,
    /// The entry's text, markers included.
    pub text: String,
}

fn first_date(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let d = &b[i..i + 10];
        let digits = |r: std::ops::Range<usize>| d[r].iter().all(u8::is_ascii_digit);
        (digits(0..4) && d[4] == b'-' && digits(5..7) && d[7] == b'-' && digits(8..10)).then(|| &text[i..i + 10])
    })
}

/// Every entry of `log` that belongs to one of `services`, in the log's
/// order (newest first): ids are `service:context:sizes:hash`, and a service
/// name may itself hold `:`, so the service is the longest of `services` the
/// id starts with.
pub fn entries(log: &str, services: &[&str]) -> Vec<LoggedEntry> {
    let mut starts: Vec<usize> = log.match_indices(MARKER).map(|(i, _)| i).collect();
    starts.push(log.len());
    let mut found = Vec::new();
    for w in starts.windows(2) {
        let text = &log[w[0]..w[1]];
        let Some(end) = text[MARKER.len()..].find(" -->") else {
            continue;
        };
        let id = &text[MARKER.len()..MARKER.len() + end];
        let Some(service) = services
            .iter()
            .filter(|s| id.len() > s.len() && id.starts_with(*s) && id.as_bytes()[s.len()] == b':')
            .max_by_key(|s| s.len())
        else {
            continue;
        };
        // Drop `:sizes:hash` from the right; what is left is the context.
        let rest = &id[service.len() + 1..];
        let Some(context) = rest.rsplitn(3, ':').nth(2) else {
            continue;
        };
        let kind = if context.starts_with("incident-") || context.starts_with("override-") {
            "override"
        } else {
            "review"
        };
        let body = text
            .lines()
            .filter(|l| !l.starts_with("<!-- poolcap:"))
            .collect::<Vec<_>>()
            .join("\n");
        let date = first_date(&body)
            .or_else(|| context.strip_prefix("override-").and_then(first_date))
            .unwrap_or("")
            .to_string();
        found.push(LoggedEntry {
            id: id.to_string(),
            service: service.to_string(),
            kind,
            context: context.to_string(),
            date,
            text: text.trim_end().to_string(),
        });
    }
    found
}

/// What went wrong rendering an entry (a configuration error: exit 2).
#[derive(Debug, thiserror::Error)]
#[error("change-log template: {0}; fix the template named by [changelog] template")]
pub struct TemplateError(String);

/// Template work one entry may take (minijinja's fuel: about one unit per
/// instruction). The default template needs a few hundred; a site's template
/// that loops without end runs out instead of hanging `apply`.
pub const TEMPLATE_FUEL: u64 = 1_000_000;

/// The longest entry a template may produce.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;

/// Renders one entry, its id marker first.
pub fn render(template: &str, entry: &Entry) -> Result<String, TemplateError> {
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(TEMPLATE_FUEL));
    crate::support::markdown::register(&mut env);
    env.add_template("entry", template)
        .map_err(|e| TemplateError(e.to_string()))?;
    let body = env
        .get_template("entry")
        .and_then(|t| t.render(minijinja::value::Serde(entry)))
        .map_err(|e| TemplateError(e.to_string()))?;
    let body = body.trim_end();
    if body.len() > MAX_ENTRY_BYTES {
        return Err(TemplateError(format!(
            "the entry is {} bytes, more than the {MAX_ENTRY_BYTES} an entry may be",
            body.len()
        )));
    }
    let evidence = match &entry.evidence {
        // JSON holds `>` only inside strings, where `\u003e` means the same:
        // the comment cannot be closed early by a path or a name.
        Some(e) => format!(
            "{EVIDENCE_MARKER}{} -->\n",
            serde_json::to_string(e)
                .map_err(|e| TemplateError(e.to_string()))?
                .replace('>', "\\u003e")
        ),
        None => String::new(),
    };
    Ok(format!("{MARKER}{} -->\n{evidence}{body}\n", entry.id))
}

/// The entry of `log` whose id is `id` or starts with it (one entry only):
/// its full id and its recorded evidence (`None` for an entry without one —
/// an override, or one written before poolcap recorded evidence).
pub fn find_evidence<'a>(log: &'a str, id: &str) -> Result<(&'a str, Option<Evidence>), String> {
    let mut found: Vec<(&str, usize)> = Vec::new();
    let mut from = 0;
    while let Some(at) = log[from..].find(MARKER) {
        let start = from + at + MARKER.len();
        if let Some(end) = log[start..].find(" -->") {
            let this = &log[start..start + end];
            if this == id {
                found = vec![(this, start + end)];
                break;
            }
            if this.starts_with(id) {
                found.push((this, start + end));
            }
        }
        from = start;
    }
    let (full, end) = match found.as_slice() {
        [one] => *one,
        [] => return Err(format!("no entry has the id {id:?}")),
        many => {
            return Err(format!(
                "{} entries have ids starting {id:?} ({}); give more of the id",
                many.len(),
                many.iter().map(|(i, _)| *i).collect::<Vec<_>>().join(", ")
            ));
        }
    };
    let rest = log[end + " -->".len()..].trim_start_matches(['\r', '\n']);
    let Some(json) = rest.strip_prefix(EVIDENCE_MARKER) else {
        return Ok((full, None));
    };
    let json = &json[..json.find(" -->").unwrap_or(json.len())];
    serde_json::from_str(json)
        .map(|e| (full, Some(e)))
        .map_err(|e| format!("the entry {full:?} has evidence poolcap cannot read ({e})"))
}

/// Whether the log already holds the entry `id`.
pub fn contains(log: &str, id: &str) -> bool {
    log.contains(&format!("{MARKER}{id} -->"))
}

/// Every entry id marked in `text`: for each `<!-- poolcap:id=` the text up to
/// the next ` -->`. For an id without ` -->` in it, `ids(log).contains(id)` is
/// [`contains`]`(log, id)`, in one pass over the log however many ids are
/// looked up.
pub fn ids(text: &str) -> std::collections::HashSet<&str> {
    let mut found = std::collections::HashSet::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(MARKER) {
        let start = from + at + MARKER.len();
        if let Some(end) = text[start..].find(" -->") {
            found.insert(&text[start..start + end]);
        }
        // Markers may overlap (`<!-- poolcap:id=<!-- poolcap:id=x -->`).
        from = from + at + 1;
    }
    found
}

/// The log with `entry` inserted as the newest (before every earlier entry, after
/// the header); a new log starts with [`HEADER`].
pub fn insert(log: Option<&str>, entry: &str) -> String {
    let log = match log {
        Some(l) if !l.trim().is_empty() => l.to_string(),
        _ => HEADER.to_string(),
    };
    match log.find(MARKER) {
        Some(at) => format!("{}{entry}\n{}", &log[..at], &log[at..]),
        None => {
            let mut out = log.trim_end().to_string();
            out.push_str("\n\n");
            out.push_str(entry);
            out
        }
    }
}

/// The log with `entries` inserted in turn, each as the newest: the same text
/// as folding [`insert`] over them (so the last one ends up first), built once.
pub fn insert_all(log: Option<&str>, entries: &[String]) -> String {
    let log = match log {
        Some(l) if !l.trim().is_empty() => l,
        _ => HEADER,
    };
    if entries.is_empty() {
        return log.to_string();
    }
    let size = log.len() + entries.iter().map(|e| e.len() + 1).sum::<usize>() + 2;
    let mut out = String::with_capacity(size);
    match log.find(MARKER) {
        Some(at) => {
            out.push_str(&log[..at]);
            for e in entries.iter().rev() {
                out.push_str(e);
                out.push('\n');
            }
            out.push_str(&log[at..]);
        }
        None => {
            // The first insert appends after a blank line; each later one goes
            // before the previous, whose marker is now the first.
            out.push_str(log.trim_end());
            out.push_str("\n\n");
            for e in entries[1..].iter().rev() {
                out.push_str(e);
                out.push('\n');
            }
            out.push_str(&entries[0]);
        }
    }
    out
}

#[cfg(test)]
mod logged_tests {
    use super::*;

    #[test]
    fn entries_are_read_back_with_service_kind_context_and_date() {
        let log = "# Capacity change log\n\n\
<!-- poolcap:id=team:api:incident-INC-7:a:b:20+10>30+15:0000beef -->\n## 2026-09-16 — team:api: pool 20 + 10 → 30 + 15\n\n**Incident override**\n\n\
<!-- poolcap:id=team:2026-08:20+10>25+13:deadbeef -->\n<!-- poolcap:evidence={\"a\":\"2026-01-01\"} -->\n## 2026-09-02 — team: pool 20 + 10 → 25 + 13\n\n\
<!-- poolcap:id=other:2026-08:1+1>2+1:00000000 -->\n## 2026-09-03 — other\n\n\
<!-- poolcap:id=team:override-2026-07-04:1+1>2+1:00000001 -->\nno heading here\n";
        let found = entries(log, &["team", "team:api"]);
        let got: Vec<(&str, &str, &str, &str)> = found
            .iter()
            .map(|e| (e.service.as_str(), e.kind, e.context.as_str(), e.date.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("team:api", "override", "incident-INC-7:a:b", "2026-09-16"),
                ("team", "review", "2026-08", "2026-09-02"),
                ("team", "override", "override-2026-07-04", "2026-07-04"),
            ]
        );
        assert!(found[1].text.contains("pool 20 + 10 → 25 + 13") && !found[1].text.contains("2026-09-03"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Entry {
        Entry {
            id: id.into(),
            kind: "review",
            date: "2026-11-02".into(),
            service: "backend".into(),
            month: Some("2026-10".into()),
            incident: None,
            ticket: Some("CAP-42".into()),
            reason: None,
            over_budget_reason: None,
            author: "Ada".into(),
            before: Sizes {
                pool_size: 20,
                max_overflow: 10,
            },
            after: Sizes {
                pool_size: 25,
                max_overflow: 13,
            },
            settings: vec![SettingRow {
                key: "DB_POOL_SIZE".into(),
                before: "20".into(),
                after: "25".into(),
                changed: true,
            }],
            findings: vec![FindingRow {
                code: "monthly-escalation".into(),
                message: "mean 61.5% > 60%".into(),
            }],
            evidence: None,
            budget: BudgetRow {
                arithmetic: "4 × 38".into(),
                required: 152,
                limit: 237,
                ok: true,
            },
        }
    }

    #[test]
    fn newest_first_under_the_header() {
        let first = render(DEFAULT_TEMPLATE, &entry("a")).unwrap();
        let log = insert(None, &first);
        assert!(log.starts_with(HEADER));
        let second = render(DEFAULT_TEMPLATE, &entry("b")).unwrap();
        let log = insert(Some(&log), &second);
        let a = log.find("poolcap:id=a").unwrap();
        let b = log.find("poolcap:id=b").unwrap();
        assert!(b < a, "newest first:\n{log}");
        assert!(contains(&log, "a") && contains(&log, "b") && !contains(&log, "c"));
    }

    #[test]
    fn insert_all_is_insert_folded() {
        let rendered = |id: &str| render(DEFAULT_TEMPLATE, &entry(id)).unwrap();
        let site = |id: &str| format!("{MARKER}{id} -->\n{id}\n");
        let one = insert(None, &rendered("old"));
        let logs = [
            None,
            Some(""),
            Some("  \n"),
            Some("# My log\n\nno entries yet\n\n\n"),
            Some("# My log"),
            Some(one.as_str()),
        ];
        for log in logs {
            for entries in [
                vec![],
                vec![rendered("a")],
                vec![rendered("a"), rendered("b"), rendered("c")],
                vec![site("x"), site("y")],
            ] {
                let folded = entries
                    .iter()
                    .fold(log.map(str::to_string), |l, e| Some(insert(l.as_deref(), e)));
                let expected = match (&folded, log, entries.is_empty()) {
                    (_, _, false) => folded.unwrap(),
                    (_, Some(l), true) if !l.trim().is_empty() => l.to_string(),
                    _ => HEADER.to_string(),
                };
                assert_eq!(
                    insert_all(log, &entries),
                    expected,
                    "{log:?} + {} entries",
                    entries.len()
                );
            }
        }
    }

    #[test]
    fn ids_finds_what_contains_finds() {
        let log = format!(
            "{HEADER}\n{MARKER}a:1 -->\nbody {MARKER}b:2 --> more\n{MARKER}{MARKER}c -->\n{MARKER}unterminated"
        );
        let ids = ids(&log);
        for id in ["a:1", "b:2", "c", &format!("{MARKER}c"), "a", "unterminated", "d"] {
            assert_eq!(ids.contains(id), contains(&log, id), "{id}");
        }
    }

    #[test]
    fn ids_are_stable_and_cover_every_setting() {
        let rows = entry("x").settings;
        let s = |p, m| Sizes {
            pool_size: p,
            max_overflow: m,
        };
        let id = entry_id("backend", "2026-10", s(20, 10), s(25, 13), &rows);
        assert_eq!(id, entry_id("backend", "2026-10", s(20, 10), s(25, 13), &rows));
        assert!(id.starts_with("backend:2026-10:20+10>25+13:"));
        let mut other = rows.clone();
        other[0].after = "26".into();
        assert_ne!(id, entry_id("backend", "2026-10", s(20, 10), s(25, 13), &other));
    }

    #[test]
    fn a_site_template_is_used_and_errors_are_clear() {
        let out = render("{{ service }} {{ after.pool_size }}", &entry("x")).unwrap();
        assert_eq!(out, "<!-- poolcap:id=x -->\nbackend 25\n");
        assert!(
            render("{{ service ", &entry("x"))
                .unwrap_err()
                .to_string()
                .starts_with("change-log template:")
        );
    }
}
