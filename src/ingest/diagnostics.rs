//! Diagnostics: a rejected row or a notice with `path:line` and a stable
//! code; the run's collection of them (the first few in full, all counted by
//! code); and the fix a person is told for each code.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A rejected row or a notice about an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The input file.
    pub path: PathBuf,
    /// 1-based line, when the diagnostic is about one row.
    pub line: Option<u64>,
    /// Stable kebab-case code (`bad-number`, `bad-timestamp`, …).
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {} [{}]", self.message, self.code)
    }
}

/// Rejected rows of a run: the first few in full, all of them counted by code.
#[derive(Debug, Default)]
pub struct Diagnostics {
    shown: Vec<Diagnostic>,
    by_code: BTreeMap<&'static str, u64>,
    rejected: u64,
    notices: Vec<Diagnostic>,
}

impl Diagnostics {
    /// How many rejected rows are kept in full; the rest are only counted.
    pub const SHOWN: usize = 20;

    /// Records a rejected row: the first [`Self::SHOWN`] are kept in full,
    /// and beyond them the first of each code not seen yet (so a file whose
    /// rows fail for several reasons shows one of each).
    pub fn reject(&mut self, diagnostic: Diagnostic) {
        self.rejected += 1;
        let count = self.by_code.entry(diagnostic.code).or_default();
        *count += 1;
        let first_of_code = *count == 1;
        if self.shown.len() < Self::SHOWN || (first_of_code && self.shown.len() < 2 * Self::SHOWN) {
            self.shown.push(diagnostic);
        }
    }

    /// Counts `n` rejected rows that are not kept in full.
    pub fn count(&mut self, code: &'static str, n: u64) {
        if n > 0 {
            self.rejected += n;
            *self.by_code.entry(code).or_default() += n;
        }
    }

    /// Records a notice (nothing rejected: e.g. ignored columns).
    pub fn notice(&mut self, diagnostic: Diagnostic) {
        self.notices.push(diagnostic);
    }

    /// Rows rejected in all.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// The first rejected rows, in input order.
    pub fn shown(&self) -> &[Diagnostic] {
        &self.shown
    }

    /// Rejected rows counted by code.
    pub fn by_code(&self) -> &BTreeMap<&'static str, u64> {
        &self.by_code
    }

    /// Notices.
    pub fn notices(&self) -> &[Diagnostic] {
        &self.notices
    }
}

/// How to fix rows rejected with `code`, for the summary a person reads when
/// a file is refused; `None` when the message says it all.
pub fn fix_for(code: &str) -> Option<&'static str> {
    Some(match code {
        "bad-timestamp" | "no-timestamp" => {
            "write times as RFC 3339 with an offset (2026-10-01T08:00:00Z) or Unix seconds; a time without an offset names no instant"
        }
        "implausible-time" => "check the time column: seconds, not milliseconds, and the exporter's clock",
        "missing-field" | "missing-value" | "missing-label" => {
            "every row needs ts, service or --service, pool_size and checked_out"
        }
        "bad-number" | "not-a-number" => "counts are whole numbers ≥ 0, written like 20 or 20.0",
        "beyond-limit" => "values beyond poolcap's limits are not real pools; see docs/config.md, \"Limits\"",
        "bad-name" => "service and instance names are one printable line",
        "over-capacity" => "checked_out cannot exceed pool_size + max_overflow: check max_overflow",
        "field-count" => "every row needs as many fields as the header (a comma inside a name must be quoted)",
        "out-of-order" => "rows of one instance may be out of order by at most policy.reorder_window",
        "conflicting-duplicate" => "two rows of one instance at one second disagree: drop one",
        "no-pool-size" => "the answer needs the pool-size series too ([prometheus] pool_size_metric)",
        _ => return None,
    })
}
