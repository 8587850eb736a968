//! All-or-nothing replacement of a set of files, and the lock that keeps two
//! poolcap runs from writing at once.
//!
//! Invariants: every new content is first written and synced to a temporary
//! file in the target's own directory (same file system, so the rename is
//! atomic), with the target's permission bits; only when all were written are
//! they renamed over their targets. A failure before that point removes the
//! temporary files and changes nothing. A failure during the renames (rare: the
//! directories were writable a moment before) puts back the files already
//! replaced from copies taken first.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A file and what it must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// The target.
    pub path: PathBuf,
    /// Its new content.
    pub contents: Vec<u8>,
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
    /// Renaming failed midway and the earlier files were restored.
    #[error("{path}: replacing failed ({source}); the files already replaced were restored", path = .path.display())]
    RolledBack {
        /// The file whose rename failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another run holds the lock.
    #[error("{path}: another poolcap run is writing (waited {} s for it); try again when it has finished", .waited.as_secs(), path = .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// How long this run waited.
        waited: Duration,
    },
}

fn temp_path(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.poolcap-{}.{tag}", std::process::id()))
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> WriteError + 'a {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// Replaces every file of `changes` with its new content, all or nothing.
pub fn replace_all(changes: &[FileChange]) -> Result<(), WriteError> {
    let mut temps: Vec<PathBuf> = Vec::with_capacity(changes.len());
    let cleanup = |temps: &[PathBuf]| {
        for t in temps {
            let _ = fs::remove_file(t);
        }
    };
    // 1. Write every new content beside its target.
    for change in changes {
        let temp = temp_path(&change.path, "tmp");
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)
                .map_err(io(&change.path, "cannot create a temporary file beside it"))?;
            temps.push(temp.clone());
            file.write_all(&change.contents)
                .map_err(io(&change.path, "cannot write"))?;
            if let Ok(meta) = fs::metadata(&change.path) {
                file.set_permissions(meta.permissions())
                    .map_err(io(&change.path, "cannot copy permissions"))?;
            }
            file.sync_all().map_err(io(&change.path, "cannot sync"))?;
            Ok(())
        })();
        if let Err(e) = result {
            cleanup(&temps);
            return Err(e);
        }
    }
    // 2. Keep copies of the files that exist, to restore them if a rename fails.
    let mut backups: Vec<(PathBuf, PathBuf)> = Vec::new();
    for change in changes {
        if change.path.exists() {
            let backup = temp_path(&change.path, "bak");
            if let Err(source) = fs::copy(&change.path, &backup) {
                cleanup(&temps);
                cleanup(&backups.iter().map(|b| b.1.clone()).collect::<Vec<_>>());
                return Err(WriteError::Io {
                    path: change.path.clone(),
                    action: "cannot copy before replacing",
                    source,
                });
            }
            backups.push((change.path.clone(), backup));
        }
    }
    // 3. Rename over the targets.
    for (i, (change, temp)) in changes.iter().zip(&temps).enumerate() {
        if let Err(source) = fs::rename(temp, &change.path) {
            for done in &changes[..i] {
                match backups.iter().find(|b| b.0 == done.path) {
                    Some((path, backup)) => {
                        let _ = fs::rename(backup, path);
                    }
                    None => {
                        let _ = fs::remove_file(&done.path);
                    }
                }
            }
            cleanup(&temps[i..]);
            cleanup(&backups.iter().map(|b| b.1.clone()).collect::<Vec<_>>());
            return Err(WriteError::RolledBack {
                path: change.path.clone(),
                source,
            });
        }
    }
    for (_, backup) in &backups {
        let _ = fs::remove_file(backup);
    }
    // 4. Make the renames durable.
    let mut dirs: Vec<&Path> = changes.iter().filter_map(|c| c.path.parent()).collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// An exclusive lock on a file, released when dropped (or when the process dies:
/// it is an OS lock, so a crashed run leaves no stale lock behind).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock at `path`, waiting up to `timeout` for another holder.
    pub fn acquire(path: &Path, timeout: Duration) -> Result<Lock, WriteError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io(path, "cannot open the lock file"))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(WriteError::Locked {
                        path: path.to_path_buf(),
                        waited: start.elapsed(),
                    });
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(WriteError::Io {
                        path: path.to_path_buf(),
                        action: "cannot lock",
                        source,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_all_and_keeps_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.env");
        fs::write(&a, "old").unwrap();
        fs::set_permissions(&a, fs::Permissions::from_mode(0o640)).unwrap();
        let b = dir.path().join("new.md");
        replace_all(&[
            FileChange {
                path: a.clone(),
                contents: b"new".to_vec(),
            },
            FileChange {
                path: b.clone(),
                contents: b"entry".to_vec(),
            },
        ])
        .unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "new");
        assert_eq!(fs::metadata(&a).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(fs::read_to_string(&b).unwrap(), "entry");
        // No temporary or backup file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.env");
        fs::write(&a, "old").unwrap();
        let missing_dir = dir.path().join("no-such-dir").join("b.env");
        let err = replace_all(&[
            FileChange {
                path: a.clone(),
                contents: b"new".to_vec(),
            },
            FileChange {
                path: missing_dir,
                contents: b"x".to_vec(),
            },
        ])
        .unwrap_err();
        assert!(err.to_string().contains("no file was changed"), "{err}");
        assert_eq!(fs::read_to_string(&a).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_second_lock_waits_then_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".poolcap.lock");
        let first = Lock::acquire(&path, Duration::from_millis(10)).unwrap();
        let err = Lock::acquire(&path, Duration::from_millis(120)).unwrap_err();
        assert!(matches!(err, WriteError::Locked { .. }));
        drop(first);
        Lock::acquire(&path, Duration::from_millis(10)).unwrap();
    }
}
