//! PgBouncer's server pools over the month: their `SHOW POOLS` snapshot
//! files read (plain or gzip) into each pool's statistics
//! (`analyze::bouncer`), for the policy's pool decisions.

use std::path::PathBuf;

use crate::analyze::bouncer::{PoolAnalyzer, PoolStats};
use crate::config::PolicySettings;
use crate::ingest::{self, pgbouncer_pools};
use crate::model::window::Window;

/// How long a snapshot holds without `[policy] max_gap`: five minutes.
pub const DEFAULT_MAX_GAP: i64 = 300;

/// Each pool's statistics in `window`, from the snapshot files.
pub fn pool_stats(files: &[PathBuf], window: Window, policy: &PolicySettings) -> anyhow::Result<Vec<PoolStats>> {
    let files = ingest::expand_folders(files)?;
    let mut analyzer = PoolAnalyzer::new(window, policy.max_gap.unwrap_or(DEFAULT_MAX_GAP));
    for path in &files {
        let input = ingest::open(path)?;
        let mut failure: Option<String> = None;
        pgbouncer_pools::read(path, input, |row| {
            if failure.is_none()
                && let Err(message) = analyzer.push(&row)
            {
                failure = Some(format!("{}:{}: {message}", path.display(), row.line));
            }
        })?;
        if let Some(message) = failure {
            anyhow::bail!(message);
        }
    }
    let stats = analyzer.finish();
    if stats.is_empty() {
        anyhow::bail!(
            "{}: no PgBouncer snapshot falls in the month {}–{}; give the month's SHOW POOLS snapshots",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            jiff::Timestamp::from_second(window.start)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            jiff::Timestamp::from_second(window.end)
                .map(|t| t.to_string())
                .unwrap_or_default(),
        );
    }
    Ok(stats)
}
