//! What a query result's problems become: a rejected point or a rejected
//! series (one diagnostic, every point counted), the notice naming the series
//! of metrics poolcap does not read, and a JSON error as the file's error at
//! serde_json's line.

use std::path::Path;

use super::State;
use crate::ingest::{Diagnostic, IngestError, RowError, clip, take_row};

impl State<'_> {
    pub(super) fn reject_point(&mut self, line: u64, error: RowError) {
        // Rejections come before any series is interned (that happens in
        // `join`), so the series limit cannot be what fails here.
        let _ = take_row(
            Err(error),
            self.path,
            line,
            &mut self.summary,
            self.diags,
            self.series,
            &mut |_, _| {},
        );
    }

    /// Rejects a whole series of `points` points with one diagnostic.
    pub(super) fn reject_series(&mut self, line: u64, code: &'static str, message: String, points: u64) {
        let diagnostic = Diagnostic {
            path: self.path.to_path_buf(),
            line: Some(line),
            code,
            message,
        };
        if points == 0 {
            self.diags.notice(diagnostic);
            return;
        }
        self.summary.rejected += points;
        self.diags.reject(diagnostic);
        self.diags.count(code, points - 1);
    }
}

/// A parse error as the file's error at the line serde_json names.
pub(super) fn parse_error(path: &Path, e: serde_json::Error) -> IngestError {
    if e.is_io() {
        return IngestError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        };
    }
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    IngestError::Header {
        path: path.to_path_buf(),
        line: e.line().max(1) as u64,
        message: format!(
            "not a Prometheus query result: {} (column {})",
            clip(message),
            e.column()
        ),
    }
}

impl State<'_> {
    /// The notice naming the series of names poolcap does not read, when any.
    pub(super) fn notice_unknown(&mut self) {
        if self.unknown.is_empty() {
            return;
        }
        let total: u64 = self.unknown.values().sum();
        const NAMED: usize = 20;
        let mut names: Vec<String> = self
            .unknown
            .iter()
            .take(NAMED)
            .map(|(n, c)| if *c == 1 { n.clone() } else { format!("{n} (×{c})") })
            .collect();
        if self.unknown.len() > NAMED {
            names.push(format!("and {} other names", self.unknown.len() - NAMED));
        }
        self.diags.notice(Diagnostic {
            path: self.path.to_path_buf(),
            line: None,
            code: "unknown-metric",
            message: format!(
                "ignored {total} series of metrics poolcap does not read: {}",
                names.join(", ")
            ),
        });
    }
}
