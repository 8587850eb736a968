//! An exclusive advisory lock on a file: one poolcap run writes a settings
//! folder or creates a store at a time. It is an OS lock, so a crashed run
//! leaves no stale lock behind.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock file could not be opened or locked.
    #[error("{path}: {action}: {source}; no file was changed", path = .path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The OS error.
        #[source]
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

/// An exclusive lock on a file, released when dropped (or when the process dies:
/// it is an OS lock, so a crashed run leaves no stale lock behind).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock at `path`, waiting up to `timeout` for another holder.
    pub fn acquire(path: &Path, timeout: Duration) -> Result<Lock, LockError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|source| LockError::Io {
                path: path.to_path_buf(),
                action: "cannot open the lock file",
                source,
            })?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(LockError::Locked {
                        path: path.to_path_buf(),
                        waited: start.elapsed(),
                    });
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(LockError::Io {
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
    fn a_second_lock_waits_then_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".poolcap.lock");
        let first = Lock::acquire(&path, Duration::from_millis(10)).unwrap();
        let err = Lock::acquire(&path, Duration::from_millis(120)).unwrap_err();
        assert!(matches!(err, LockError::Locked { .. }));
        drop(first);
        Lock::acquire(&path, Duration::from_millis(10)).unwrap();
    }
}
