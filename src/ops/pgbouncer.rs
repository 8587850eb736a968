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

/// The edits that put the server pools' recommendations into
/// `pgbouncer.ini` (`text`), with a line for each: a database with its own
/// `[databases]` entry gets `pool_size=` there (the largest its pools ask
/// for); pools PgBouncer sizes by `default_pool_size` (the `*` entry, or no
/// entry) raise `default_pool_size` to the largest of theirs.
pub fn ini_edits(
    text: &str,
    pools: &[crate::policy::PoolDecision],
) -> anyhow::Result<Vec<(crate::write::ini::IniEdit, String)>> {
    use crate::config::pgbouncer_ini::{IniLine, lines};
    use crate::write::ini::IniEdit;
    use std::collections::BTreeMap;
    let parsed = lines(text).map_err(|(line, message)| anyhow::anyhow!("line {line}: {message}"))?;
    let mut section = String::new();
    let mut entries = std::collections::BTreeSet::new();
    for l in parsed {
        match l.line {
            IniLine::Section(name) => section = name,
            IniLine::Entry { key, .. } if section == "databases" => {
                entries.insert(key);
            }
            _ => {}
        }
    }
    let mut by_database: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    let mut default: Option<(u32, u32)> = None;
    for p in pools.iter().filter(|p| p.changes()) {
        let slot = if entries.contains(&p.database) {
            by_database.entry(&p.database).or_insert((p.current, p.recommended))
        } else {
            default.get_or_insert((p.current, p.recommended))
        };
        slot.1 = slot.1.max(p.recommended);
    }
    let mut edits: Vec<(IniEdit, String)> = by_database
        .into_iter()
        .map(|(database, (from, to))| {
            (
                IniEdit::DatabaseParam {
                    database: database.to_string(),
                    param: "pool_size".into(),
                    value: to.to_string(),
                },
                format!("{database} pool_size {from} → {to}"),
            )
        })
        .collect();
    if let Some((from, to)) = default {
        edits.push((
            IniEdit::Setting {
                key: "default_pool_size".into(),
                value: to.to_string(),
            },
            format!("default_pool_size {from} → {to}"),
        ));
    }
    Ok(edits)
}

/// `pgbouncer.ini` as the provenance records a target, when `apply` writes
/// it (`[pgbouncer] write = true`): its pool sizes by key
/// (`default_pool_size`, `[databases] NAME pool_size`), as written. A file
/// that cannot be read is recorded as missing.
pub fn ini_record(settings: &crate::config::Settings) -> Option<crate::model::provenance::TargetRecord> {
    use crate::config::pgbouncer_ini::{IniLine, lines, pairs};
    let ini = settings.pgbouncer_ini.as_ref().filter(|i| i.write)?;
    let text = std::fs::read_to_string(&ini.path).ok();
    let mut values = std::collections::BTreeMap::new();
    let mut section = String::new();
    for line in text.as_deref().and_then(|t| lines(t).ok()).unwrap_or_default() {
        match line.line {
            IniLine::Section(name) => section = name,
            IniLine::Entry { key, value, .. } if section == "pgbouncer" && key == "default_pool_size" => {
                values.insert(key, value);
            }
            IniLine::Entry { key, value, .. } if section == "databases" => {
                if let Some((_, size)) = pairs(&value).ok().into_iter().flatten().find(|(k, _)| k == "pool_size") {
                    values.insert(format!("[databases] {key} pool_size"), size);
                }
            }
            _ => {}
        }
    }
    Some(crate::model::provenance::TargetRecord {
        service: "PgBouncer".to_string(),
        path: ini.path.display().to_string(),
        exists: text.is_some(),
        values,
    })
}
