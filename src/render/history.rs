//! `poolcap history`: the stored decisions and changes as rows for people
//! (aligned like `plan`'s table) and as JSON (an array of objects tagged by
//! `record`, a schema pinned by tests).
//!
//! The rows are read from the JSON documents `review` (its part of plan.json
//! per service) and `apply`/`override` (the change-log entry) stored; a
//! document that lacks a field shown here is an error naming it, never a
//! guess.

use serde::{Deserialize, Serialize};

use crate::model::PoolSize;
use crate::store::history::{StoredChange, StoredDecision};

use super::plan::pad;

/// One listed record.
#[derive(Debug, Serialize)]
#[serde(tag = "record", rename_all = "lowercase")]
pub enum HistoryEntry {
    /// A month's decision for a service.
    Decision(DecisionRow),
    /// A change written into a service's files.
    Change(ChangeRow),
}

/// A month's decision for a service, as `review` recorded it.
#[derive(Debug, Serialize)]
pub struct DecisionRow {
    /// The reviewed month, `YYYY-MM`.
    pub month: String,
    /// Service name.
    pub service: String,
    /// Sizes as deployed then.
    pub current: PoolSize,
    /// Sizes recommended.
    pub recommended: PoolSize,
    /// Whether the recommendation differs from the deployed sizes.
    pub changes: bool,
    /// The finding that set the recommendation (`null`: none did).
    pub deciding: Option<String>,
    /// Whether a finding recorded with the decision blocks it.
    pub blocked: bool,
    /// The codes of those blocking findings.
    pub blocked_by: Vec<String>,
    /// When it was recorded (RFC 3339, UTC).
    pub decided_at: String,
}

/// A change `apply` or `override` wrote, as recorded.
#[derive(Debug, Serialize)]
pub struct ChangeRow {
    /// The change-log entry id.
    pub id: String,
    /// The entry's date, `YYYY-MM-DD` in the configured zone.
    pub date: String,
    /// `apply` or `override`.
    pub kind: String,
    /// Service name.
    pub service: String,
    /// Sizes before.
    pub before: PoolSize,
    /// Sizes after.
    pub after: PoolSize,
    /// The reviewed month an `apply` wrote (`null` for overrides).
    pub month: Option<String>,
    /// Ticket id.
    pub ticket: Option<String>,
    /// Incident id.
    pub incident: Option<String>,
    /// Why (overrides).
    pub reason: Option<String>,
    /// Who.
    pub author: String,
    /// When it was recorded (RFC 3339, UTC).
    pub recorded_at: String,
}

/// The fields of a stored decision `history` shows.
#[derive(Deserialize)]
struct DecisionDoc {
    current: PoolSize,
    recommended: PoolSize,
    changes: bool,
    deciding: Option<String>,
    #[serde(default)]
    findings: Vec<FindingDoc>,
}

#[derive(Deserialize)]
struct FindingDoc {
    code: String,
    effect: String,
}

/// The fields of a stored change-log entry `history` shows.
#[derive(Deserialize)]
struct ChangeDoc {
    date: String,
    author: String,
    before: PoolSize,
    after: PoolSize,
    #[serde(default)]
    month: Option<String>,
    #[serde(default)]
    ticket: Option<String>,
    #[serde(default)]
    incident: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// A stored decision as a row, or what is wrong with its document.
pub fn decision_row(d: &StoredDecision) -> Result<DecisionRow, String> {
    let doc: DecisionDoc = serde_json::from_value(d.plan.clone()).map_err(|e| {
        format!(
            "the decision of {} for {} is not one poolcap can read: {e}",
            d.service, d.month
        )
    })?;
    let blocked_by: Vec<String> = doc
        .findings
        .iter()
        .filter(|f| f.effect == "block")
        .map(|f| f.code.clone())
        .collect();
    Ok(DecisionRow {
        month: d.month.clone(),
        service: d.service.clone(),
        current: doc.current,
        recommended: doc.recommended,
        changes: doc.changes,
        deciding: doc.deciding,
        blocked: !blocked_by.is_empty(),
        blocked_by,
        decided_at: d.decided_at.clone(),
    })
}

/// A stored change as a row, or what is wrong with its document. An entry
/// of kind `review` is one `apply` wrote.
pub fn change_row(c: &StoredChange) -> Result<ChangeRow, String> {
    let doc: ChangeDoc = serde_json::from_value(c.change.clone())
        .map_err(|e| format!("the change {} is not one poolcap can read: {e}", c.id))?;
    let kind = match c.kind.as_str() {
        "review" => "apply".to_string(),
        other => other.to_string(),
    };
    Ok(ChangeRow {
        id: c.id.clone(),
        date: doc.date,
        kind,
        service: c.service.clone(),
        before: doc.before,
        after: doc.after,
        month: doc.month,
        ticket: doc.ticket,
        incident: doc.incident,
        reason: doc.reason,
        author: doc.author,
        recorded_at: c.applied_at.clone(),
    })
}

fn sizes(p: PoolSize) -> String {
    format!("{} + {}", p.pool_size, p.max_overflow)
}

/// The listing for people: a header line, then a table per kind listed
/// (`None`: that kind was not asked for).
pub fn table(store: &str, decisions: Option<&[DecisionRow]>, changes: Option<&[ChangeRow]>) -> String {
    let mut counts = Vec::new();
    if let Some(d) = decisions {
        counts.push(format!("{} decision(s)", d.len()));
    }
    if let Some(c) = changes {
        counts.push(format!("{} change(s)", c.len()));
    }
    let mut out = format!("poolcap history — {store}: {}\n", counts.join(", "));
    if let Some(decisions) = decisions {
        out.push_str("\ndecisions (newest month first)\n");
        if decisions.is_empty() {
            out.push_str("none\n");
        } else {
            let mut rows = vec![
                ["MONTH", "SERVICE", "CURRENT → RECOMMENDED", "DECIDING", "BLOCKED"]
                    .map(String::from)
                    .to_vec(),
            ];
            for d in decisions {
                rows.push(vec![
                    d.month.clone(),
                    d.service.clone(),
                    format!("{} → {}", sizes(d.current), sizes(d.recommended)),
                    d.deciding.clone().unwrap_or_else(|| "—".to_string()),
                    if d.blocked {
                        format!("yes ({})", d.blocked_by.join(", "))
                    } else {
                        "no".to_string()
                    },
                ]);
            }
            out.push_str(&pad(&rows));
        }
    }
    if let Some(changes) = changes {
        out.push_str("\nchanges (most recently recorded first)\n");
        if changes.is_empty() {
            out.push_str("none\n");
        } else {
            let mut rows = vec![
                [
                    "DATE",
                    "KIND",
                    "SERVICE",
                    "BEFORE → AFTER",
                    "TICKET/INCIDENT",
                    "AUTHOR",
                    "ENTRY",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for c in changes {
                let refs: Vec<&str> = [c.ticket.as_deref(), c.incident.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                rows.push(vec![
                    c.date.clone(),
                    c.kind.clone(),
                    c.service.clone(),
                    format!("{} → {}", sizes(c.before), sizes(c.after)),
                    if refs.is_empty() {
                        "—".to_string()
                    } else {
                        refs.join(", ")
                    },
                    c.author.clone(),
                    c.id.clone(),
                ]);
            }
            out.push_str(&pad(&rows));
        }
    }
    out
}
