//! What `apply` and `override` share: who made the change, the change-log
//! entry, the dry-run diff with secrets masked, and the locked all-or-nothing
//! write.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{Setting, Settings, TargetKind};
use crate::model::parse_duration;
use crate::policy::{Budget, Effect, Finding};
use crate::support::lock::Lock;
use crate::support::notice::Notices;
use crate::support::redact_urls;
use crate::write::Value;
use crate::write::atomic::{self, Expect, FileChange, WriteOptions};
use crate::write::changelog::{self, BudgetRow, Entry, FindingRow, SettingRow, Sizes};

use super::UsageError;
use super::targets::{Deployed, PendingFile, masked};

/// The author of a change: `--author`, else `git config user.name`, else `$USER`.
pub fn author(flag: Option<&str>) -> String {
    if let Some(a) = flag.filter(|a| !a.trim().is_empty()) {
        return a.trim().to_string();
    }
    let git = std::process::Command::new("git")
        .args(["config", "user.name"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    if let Ok(out) = git
        && out.status.success()
    {
        let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !name.is_empty() {
            return name;
        }
    }
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Today's date in the configured zone (`SOURCE_DATE_EPOCH`'s when set).
pub fn today(settings: &Settings) -> String {
    crate::support::clock::now()
        .to_zoned_datetime(settings.policy.timezone.clone())
        .strftime("%Y-%m-%d")
        .to_string()
}

/// The budget as one line of arithmetic.
pub fn budget_row(budget: &Budget) -> BudgetRow {
    BudgetRow {
        arithmetic: budget.arithmetic(),
        required: budget.required,
        limit: budget.limit,
        ok: budget.ok,
    }
}

/// One row per managed setting, named as in the service's first target.
pub fn setting_rows(deployed: &Deployed, after: &BTreeMap<Setting, Value>) -> Vec<SettingRow> {
    let names: BTreeMap<Setting, String> = deployed
        .files
        .first()
        .map(|f| f.target.keys.iter().cloned().collect())
        .unwrap_or_else(|| Setting::ALL.into_iter().map(|s| (s, s.env_key().to_string())).collect());
    Setting::ALL
        .into_iter()
        .filter_map(|s| {
            let key = names.get(&s)?.clone();
            let before = deployed.values.get(&s).cloned().unwrap_or_else(|| "—".to_string());
            let after = after.get(&s)?.to_string();
            Some(SettingRow {
                changed: before != after,
                key,
                before,
                after,
            })
        })
        .collect()
}

/// The findings an entry records: everything but the purely informative ones.
pub fn finding_rows(findings: &[Finding]) -> Vec<FindingRow> {
    findings
        .iter()
        .filter(|f| f.effect != Effect::Info)
        .map(|f| FindingRow {
            code: f.code.as_str().to_string(),
            message: f.message.clone(),
        })
        .collect()
}

/// Sizes from the two settings that make them.
pub fn sizes(pool: crate::model::PoolSize) -> Sizes {
    Sizes {
        pool_size: pool.pool_size,
        max_overflow: pool.max_overflow,
    }
}

/// Change-log files being built up in one run (several services may share
/// one). Each log is read once and its ids gathered once; the new entries are
/// collected and the new text built once in [`ChangeLogs::into_pending`], so a
/// run costs the same whether its services share one log or have one each.
#[derive(Default)]
pub struct ChangeLogs {
    logs: BTreeMap<PathBuf, PendingLog>,
    /// The entry template, read on first use.
    template: Option<String>,
}

/// One change log: its text as read, the ids it holds (read and added), and
/// the rendered entries to insert, in the order they were added.
struct PendingLog {
    before: Option<String>,
    ids: HashSet<String>,
    new: Vec<String>,
}

impl ChangeLogs {
    /// Adds `entry` to the log at `path` unless the log already has it.
    /// Returns whether it was added.
    pub fn add(&mut self, settings: &Settings, path: &Path, entry: &Entry) -> anyhow::Result<bool> {
        if !self.logs.contains_key(path) {
            let before = match std::fs::read_to_string(path) {
                Ok(t) => Some(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e).with_context(|| format!("{}: cannot read the change log", path.display())),
            };
            let ids = before
                .as_deref()
                .map(|t| changelog::ids(t).into_iter().map(str::to_string).collect())
                .unwrap_or_default();
            self.logs.insert(
                path.to_path_buf(),
                PendingLog {
                    before,
                    ids,
                    new: Vec::new(),
                },
            );
        }
        let log = self.logs.get_mut(path).expect("inserted above");
        if log.holds(&entry.id) {
            return Ok(false);
        }
        if self.template.is_none() {
            self.template = Some(match &settings.changelog_template {
                Some(p) => std::fs::read_to_string(p)
                    .with_context(|| format!("{}: cannot read the change-log template", p.display()))?,
                None => changelog::DEFAULT_TEMPLATE.to_string(),
            });
        }
        let template = self.template.as_deref().unwrap_or(changelog::DEFAULT_TEMPLATE);
        let rendered = changelog::render(template, entry).with_context(|| match &settings.changelog_template {
            Some(p) => format!("{}: cannot render a change-log entry", p.display()),
            None => "the built-in change-log template".to_string(),
        })?;
        // A site's template may mark more ids than the entry's own.
        log.ids
            .extend(changelog::ids(&rendered).into_iter().map(str::to_string));
        log.new.push(rendered);
        Ok(true)
    }

    /// The logs that changed, as pending files.
    pub fn into_pending(self, settings: &Settings) -> Vec<PendingFile> {
        self.logs
            .into_iter()
            .filter(|(_, log)| !log.new.is_empty())
            .map(|(path, log)| PendingFile {
                shown: path.strip_prefix(settings.dir()).unwrap_or(&path).display().to_string(),
                after: changelog::insert_all(log.before.as_deref(), &log.new),
                path,
                before: log.before,
                managed_keys: Vec::new(),
                prefix: Vec::new(),
                kind: TargetKind::Env,
            })
            .collect()
    }
}

impl PendingLog {
    /// Whether the log (as read, or with the entries added this run) holds `id`.
    fn holds(&self, id: &str) -> bool {
        if id.contains(" -->") {
            // Not a whole id between a marker and ` -->`: look for it as text.
            return self.before.as_deref().is_some_and(|t| changelog::contains(t, id))
                || self.new.iter().any(|e| changelog::contains(e, id));
        }
        self.ids.contains(id)
    }
}

/// A unified diff of every pending file, values poolcap does not manage masked.
pub fn diff(files: &[PendingFile], changelogs: usize) -> String {
    let mut out = String::new();
    for (i, f) in files.iter().enumerate() {
        let is_log = i >= files.len() - changelogs;
        let show = |text: &str| {
            if is_log { redact_urls(text) } else { masked(f, text) }
        };
        let before = f.before.as_deref().map(show).unwrap_or_default();
        let after = show(&f.after);
        let old_name = if f.before.is_some() {
            format!("a/{}", f.shown)
        } else {
            "/dev/null".to_string()
        };
        let text = similar::TextDiff::from_lines(&before, &after)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &format!("b/{}", f.shown))
            .to_string();
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Parses `--lock-timeout`.
pub fn lock_timeout(text: &str) -> Result<std::time::Duration, UsageError> {
    parse_duration(text)
        .map(|s| std::time::Duration::from_secs(s as u64))
        .map_err(|m| UsageError(format!("--lock-timeout: {m}")))
}

/// Takes the run's lock (beside the config), so that what is read is what is
/// replaced, and finishes a run that was killed while writing.
pub fn lock(settings: &Settings, timeout: &str, printer: &mut dyn Notices) -> anyhow::Result<Lock> {
    let timeout = lock_timeout(timeout)?;
    let lock = Lock::acquire(&settings.dir().join(".poolcap.lock"), timeout)?;
    finish_interrupted(settings, printer)?;
    Ok(lock)
}

/// The journal folder, beside the lock.
pub fn journal_dir(settings: &Settings) -> PathBuf {
    settings.dir().join(".poolcap-journal")
}

/// Completes (or, before its commit, undoes) a run that was killed while
/// writing, and says so. Call it holding the lock.
pub fn finish_interrupted(settings: &Settings, printer: &mut dyn Notices) -> anyhow::Result<()> {
    let shown = |p: &Path| p.strip_prefix(settings.dir()).unwrap_or(p).display().to_string();
    let when = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|t| {
                t.to_zoned_datetime(settings.policy.timezone.clone())
                    .strftime("%Y-%m-%d %H:%M:%S %Z")
                    .to_string()
            })
            .unwrap_or_default()
    };
    match atomic::recover(&journal_dir(settings))? {
        None => {}
        Some(atomic::Recovered::RolledBack { started }) => printer.warn(&format!(
            "a run started {} was killed before it changed any file; its temporary files were removed",
            when(started)
        )),
        Some(atomic::Recovered::RolledForward { started, completed, files }) => printer.warn(&format!(
            "a run started {} was killed while replacing files; completed it: {} of its {} file(s) written now ({}), so every file holds its new content and its change-log entry",
            when(started),
            completed.len(),
            files.len(),
            files.iter().map(|p| shown(p)).collect::<Vec<_>>().join(", ")
        )),
    }
    Ok(())
}

/// Writes every pending file, all or nothing, through the journal, and says
/// what was written.
pub fn write_all(
    settings: &Settings,
    files: &[PendingFile],
    force: bool,
    printer: &mut dyn Notices,
) -> anyhow::Result<()> {
    let changes: Vec<FileChange> = files
        .iter()
        .map(|f| FileChange {
            path: f.path.clone(),
            expect: match &f.before {
                Some(text) => Expect::Content(text.clone().into_bytes()),
                None => Expect::Absent,
            },
            contents: f.after.clone().into_bytes(),
        })
        .collect();
    let options = WriteOptions {
        journal: Some(journal_dir(settings)),
        tree: Some(settings.dir().to_path_buf()),
        force,
    };
    atomic::replace_all(&changes, &options)?;
    for f in files {
        printer.note(&format!("wrote {}", f.shown));
    }
    Ok(())
}

/// Records the written changes in the history store. The files are the truth:
/// a store that cannot be reached is a warning, not a failure.
pub fn record(store: &str, entries: &[Entry], printer: &mut dyn Notices) {
    if entries.is_empty() {
        return;
    }
    let result = (|| {
        let store = crate::store::history::Store::open(store)?;
        for e in entries {
            let json = serde_json::to_value(e).unwrap_or_default();
            store.record_change(&e.id, &e.service, e.kind, &json)?;
        }
        store.close();
        Ok::<(), crate::store::history::StoreError>(())
    })();
    if let Err(e) = result {
        printer.warn(&format!(
            "the change was written but not recorded in the history store: {e}"
        ));
    }
}

/// The evidence a change log records for entry `id` (or the one entry whose
/// id starts with it), for `verify --entry`.
pub fn read_entry_record(path: &std::path::Path, id: &str) -> anyhow::Result<super::verify::Recorded> {
    let log = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the change log: {e}", path.display()))?;
    let (full, evidence) =
        changelog::find_evidence(&log, id).map_err(|why| anyhow::anyhow!("{}: {why}", path.display()))?;
    let Some(evidence) = evidence else {
        anyhow::bail!(
            "{}: the entry {full:?} records no evidence to verify (an override's entry, or one written by a poolcap before 0.2)",
            path.display()
        );
    };
    Ok(super::verify::Recorded {
        source: path.to_path_buf(),
        plan: None,
        plan_sha256: Some(evidence.plan_sha256),
        provenance: evidence.provenance,
    })
}
