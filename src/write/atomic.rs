//! All-or-nothing replacement of a set of files that survives a crash, and the
//! lock that keeps two poolcap runs from writing at once.
//!
//! A run writes through a journal (roll forward), in this order:
//! 1. checks, before anything is written: each target (a symlink is followed
//!    to the file it names; a dangling link, or one leading out of the tree
//!    the config lives in, is an error naming both paths) still holds what
//!    the caller read (a lost update is refused), and its owner may write it
//!    (a file without the owner's `w` bit is refused unless forced);
//! 2. a *prepare* record in the journal folder (mode 0700) names the
//!    temporary files about to be written;
//! 3. every new content goes to a temporary file beside its target, created
//!    with the target's mode (so a secret is never readable by more people,
//!    not even for a moment), given the target's owner and group, and synced;
//! 4. the *commit* record replaces the prepare record: from here on the
//!    change happens;
//! 5. the temporary files are renamed over their targets and the folders
//!    synced; the record is removed.
//!
//! [`recover`] finishes what a killed run left: before the commit record it
//! removes the temporary files (nothing had changed); after it, it renames
//! those still waiting (the targets then hold wholly old or wholly new
//! content, never a mix). The records hold paths and SHA-256 digests only,
//! never a file's content. No backup copy is ever made.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a target must hold when it is replaced (lost-update detection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Whatever it holds (a file the caller did not read).
    Anything,
    /// Nothing: the file must not exist.
    Absent,
    /// Exactly these bytes.
    Content(Vec<u8>),
}

/// A file and what it must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// The target, as the user named it.
    pub path: PathBuf,
    /// What it held when it was read.
    pub expect: Expect,
    /// Its new content.
    pub contents: Vec<u8>,
}

/// How [`replace_all`] may write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// The journal folder; without it the files are still replaced all or
    /// nothing, but a crash midway is not recovered.
    pub journal: Option<PathBuf>,
    /// Symlinked targets must lead to a file inside this folder.
    pub tree: Option<PathBuf>,
    /// Write targets whose mode has no owner `w` bit.
    pub force: bool,
}

/// What went wrong writing.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file could not be written; nothing was changed.
    #[error("{path}: {action}: {source}; no file was changed", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A target is not what the run may write; nothing was changed.
    #[error("{path}: {why}; no file was changed", path = .path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why, and what to do.
        why: String,
    },
    /// Renaming failed after the commit; the journal finishes it next time.
    #[error("{path}: replacing failed ({source}); the next apply or override completes the change from the journal in {journal}", path = .path.display(), journal = .journal.display())]
    Interrupted {
        /// The file whose rename failed.
        path: PathBuf,
        /// The journal folder.
        journal: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The journal of an interrupted run cannot be completed.
    #[error("{path}: {why}", path = .path.display())]
    Journal {
        /// The journal record.
        path: PathBuf,
        /// What is wrong and what to do.
        why: String,
    },
    /// The lock could not be taken.
    #[error(transparent)]
    Lock(#[from] crate::support::lock::LockError),
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> WriteError + 'a {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

pub use crate::support::digest::sha256_hex;

/// The journal record's file name inside the journal folder.
const RECORD: &str = "transaction.json";

/// One file of a transaction, as the journal records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JournalFile {
    /// The file written (a symlink already followed).
    target: PathBuf,
    /// The temporary file beside it.
    temp: PathBuf,
    /// Digest of what it held, `None` when it did not exist.
    old: Option<String>,
    /// Digest of what it will hold.
    new: String,
}

/// The journal record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    /// `prepare` until every temporary file is written, then `commit`.
    state: String,
    /// Process that wrote it.
    pid: u32,
    /// Unix seconds.
    started: i64,
    files: Vec<JournalFile>,
}

fn write_record(journal: &Path, record: &Record) -> Result<(), WriteError> {
    fs::create_dir_all(journal).map_err(io(journal, "cannot create the journal folder"))?;
    fs::set_permissions(journal, fs::Permissions::from_mode(0o700))
        .map_err(io(journal, "cannot restrict the journal folder"))?;
    let path = journal.join(RECORD);
    let temp = journal.join(format!("{RECORD}.{}", std::process::id()));
    let text = serde_json::to_vec_pretty(record).expect("a record serializes");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io(&temp, "cannot write the journal"))?;
    file.write_all(&text).map_err(io(&temp, "cannot write the journal"))?;
    file.sync_all().map_err(io(&temp, "cannot sync the journal"))?;
    fs::rename(&temp, &path).map_err(io(&path, "cannot write the journal"))?;
    sync_dir(journal);
    Ok(())
}

fn remove_record(journal: &Path) {
    let _ = fs::remove_file(journal.join(RECORD));
    sync_dir(journal);
}

fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The file a target names: itself, or the file its symlink leads to.
fn resolve(path: &Path, tree: Option<&Path>) -> Result<PathBuf, WriteError> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(path.to_path_buf());
    };
    if !meta.file_type().is_symlink() {
        return Ok(path.to_path_buf());
    }
    let link = fs::read_link(path).map_err(io(path, "cannot read the symlink"))?;
    let real = fs::canonicalize(path).map_err(|_| WriteError::Refused {
        path: path.to_path_buf(),
        why: format!(
            "is a symlink to {}, which does not exist; point it at the real file or replace the link by the file",
            link.display()
        ),
    })?;
    if let Some(tree) = tree {
        let tree = fs::canonicalize(tree).unwrap_or_else(|_| tree.to_path_buf());
        if !real.starts_with(&tree) {
            return Err(WriteError::Refused {
                path: path.to_path_buf(),
                why: format!(
                    "is a symlink to {}, outside {}; poolcap writes only inside the config's folder — name the real file in the config",
                    real.display(),
                    tree.display()
                ),
            });
        }
    }
    if real.is_dir() {
        return Err(WriteError::Refused {
            path: path.to_path_buf(),
            why: format!("is a symlink to the folder {}, not to a file", real.display()),
        });
    }
    Ok(real)
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.poolcap-{}.tmp", std::process::id()))
}

/// What [`replace_all`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The files written, in order (symlinks followed).
    pub files: Vec<PathBuf>,
}

/// Replaces every file of `changes` with its new content, all or nothing, and
/// (with a journal) so that a crash at any point is finished by [`recover`].
pub fn replace_all(changes: &[FileChange], options: &WriteOptions) -> Result<Written, WriteError> {
    // 1. Checks, before anything is written.
    let mut plan: Vec<(PathBuf, Option<fs::Metadata>, Option<String>)> = Vec::with_capacity(changes.len());
    for change in changes {
        let target = resolve(&change.path, options.tree.as_deref())?;
        let meta = fs::metadata(&target).ok();
        let current = match &meta {
            Some(_) => Some(fs::read(&target).map_err(io(&change.path, "cannot read before replacing"))?),
            None => None,
        };
        let changed = match (&change.expect, &current) {
            (Expect::Anything, _) | (Expect::Absent, None) => false,
            (Expect::Content(read), Some(now)) => read != now,
            _ => true,
        };
        if changed {
            return Err(WriteError::Refused {
                path: change.path.clone(),
                why: "changed since poolcap read it (another editor or deployment wrote it meanwhile); run again to plan from what it holds now".into(),
            });
        }
        if let Some(m) = &meta
            && m.permissions().mode() & 0o200 == 0
            && !options.force
        {
            return Err(WriteError::Refused {
                path: change.path.clone(),
                why: format!(
                    "is read-only (mode {:o}); make it writable if poolcap should change it, or pass --force",
                    m.permissions().mode() & 0o7777
                ),
            });
        }
        plan.push((target, meta, current.as_deref().map(sha256_hex)));
    }
    let files: Vec<JournalFile> = changes
        .iter()
        .zip(&plan)
        .map(|(change, (target, _, old))| JournalFile {
            target: target.clone(),
            temp: temp_path(target),
            old: old.clone(),
            new: sha256_hex(&change.contents),
        })
        .collect();
    let mut record = Record {
        state: "prepare".into(),
        pid: std::process::id(),
        started: jiff::Timestamp::now().as_second(),
        files,
    };
    if let Some(journal) = &options.journal {
        write_record(journal, &record)?;
    }
    let abandon = |record: &Record| {
        for f in &record.files {
            let _ = fs::remove_file(&f.temp);
        }
        if let Some(journal) = &options.journal {
            remove_record(journal);
        }
    };

    // 3. Every new content beside its target, with its mode, owner and group.
    for ((change, (_, meta, _)), f) in changes.iter().zip(&plan).zip(&record.files) {
        let result = write_temp(&f.temp, &change.contents, meta.as_ref()).map_err(|(action, source)| WriteError::Io {
            path: change.path.clone(),
            action,
            source,
        });
        if let Err(e) = result {
            abandon(&record);
            return Err(e);
        }
    }

    // 4. Commit.
    if let Some(journal) = &options.journal {
        record.state = "commit".into();
        if let Err(e) = write_record(journal, &record) {
            abandon(&record);
            return Err(e);
        }
    }

    // 5. Rename over the targets.
    for (change, f) in changes.iter().zip(&record.files) {
        if let Err(source) = fs::rename(&f.temp, &f.target) {
            return match &options.journal {
                Some(journal) => Err(WriteError::Interrupted {
                    path: change.path.clone(),
                    journal: journal.clone(),
                    source,
                }),
                None => Err(WriteError::Io {
                    path: change.path.clone(),
                    action: "cannot replace",
                    source,
                }),
            };
        }
    }
    let mut dirs: Vec<&Path> = record.files.iter().filter_map(|f| f.target.parent()).collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        sync_dir(dir);
    }
    if let Some(journal) = &options.journal {
        remove_record(journal);
    }
    Ok(Written {
        files: record.files.into_iter().map(|f| f.target).collect(),
    })
}

/// Writes `contents` to the new file `temp` with the mode, owner and group of
/// `like` (the target, when it exists), and syncs it.
fn write_temp(temp: &Path, contents: &[u8], like: Option<&fs::Metadata>) -> Result<(), (&'static str, std::io::Error)> {
    let mode = like.map_or(0o666, |m| m.permissions().mode() & 0o7777);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(temp)
        .map_err(|e| ("cannot create a temporary file beside it", e))?;
    if let Some(m) = like {
        // Owner and group as they were: the application must still read its
        // config. Setting another user's ownership needs root; a run that
        // cannot keep them refuses rather than hand the file to itself.
        std::os::unix::fs::fchown(&file, Some(m.uid()), Some(m.gid()))
            .map_err(|e| ("cannot keep its owner and group", e))?;
        // The mode again: create() applied the umask, and fchown may clear set-id bits.
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| ("cannot keep its permissions", e))?;
    }
    file.write_all(contents).map_err(|e| ("cannot write", e))?;
    file.sync_all().map_err(|e| ("cannot sync", e))?;
    Ok(())
}

/// What [`recover`] did with an interrupted run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// The run had not committed: its temporary files were removed; no file
    /// had changed.
    RolledBack {
        /// When the interrupted run started (Unix seconds).
        started: i64,
    },
    /// The run had committed: the files it had not yet replaced were.
    RolledForward {
        /// When the interrupted run started (Unix seconds).
        started: i64,
        /// The files replaced now.
        completed: Vec<PathBuf>,
        /// All files of the run.
        files: Vec<PathBuf>,
    },
}

/// Whether a run was killed while writing and left its journal record.
pub fn interrupted(journal: &Path) -> bool {
    journal.join(RECORD).exists()
}

/// Finishes a run that was killed while writing (call it under the lock,
/// before reading any target). `None` when there was nothing to finish.
pub fn recover(journal: &Path) -> Result<Option<Recovered>, WriteError> {
    let path = journal.join(RECORD);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            remove_stray_records(journal);
            return Ok(None);
        }
        Err(e) => return Err(io(&path, "cannot read the journal")(e)),
    };
    let record: Record = serde_json::from_slice(&text).map_err(|e| WriteError::Journal {
        path: path.clone(),
        why: format!(
            "is not a journal record poolcap can read ({e}); check the files it would name by hand, then remove it"
        ),
    })?;
    if record.state != "commit" {
        for f in &record.files {
            let _ = fs::remove_file(&f.temp);
        }
        remove_record(journal);
        remove_stray_records(journal);
        return Ok(Some(Recovered::RolledBack {
            started: record.started,
        }));
    }
    let digest_of = |p: &Path| -> Result<Option<String>, WriteError> {
        match fs::read(p) {
            Ok(bytes) => Ok(Some(sha256_hex(&bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(p, "cannot read")(e)),
        }
    };
    // Check everything first, then rename: a file someone changed since the
    // crash stops the recovery before any file is touched.
    let mut pending = Vec::new();
    for f in &record.files {
        let now = digest_of(&f.target)?;
        let temp_there = f.temp.exists();
        if now.as_deref() == Some(f.new.as_str()) {
            if temp_there {
                let _ = fs::remove_file(&f.temp);
            }
        } else if temp_there && now == f.old {
            pending.push(f);
        } else {
            return Err(WriteError::Journal {
                path: path.clone(),
                why: format!(
                    "an interrupted run was replacing {}, which has changed since (it holds neither the old nor the new content); check it by hand, then remove {}",
                    f.target.display(),
                    path.display()
                ),
            });
        }
    }
    let mut completed = Vec::new();
    for f in pending {
        fs::rename(&f.temp, &f.target).map_err(io(&f.target, "cannot complete the interrupted change"))?;
        completed.push(f.target.clone());
    }
    for f in &record.files {
        if let Some(dir) = f.target.parent() {
            sync_dir(dir);
        }
    }
    remove_record(journal);
    remove_stray_records(journal);
    Ok(Some(Recovered::RolledForward {
        started: record.started,
        completed,
        files: record.files.into_iter().map(|f| f.target).collect(),
    }))
}

/// A record being written when a run died (`transaction.json.PID`) holds nothing
/// that was committed.
fn remove_stray_records(journal: &Path) {
    if let Ok(entries) = fs::read_dir(journal) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&format!("{RECORD}.")) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests;
