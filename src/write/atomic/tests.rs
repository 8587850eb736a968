use std::os::unix::fs::PermissionsExt;

use super::*;

fn change(path: &Path, expect: Expect, contents: &str) -> FileChange {
    FileChange {
        path: path.to_path_buf(),
        expect,
        contents: contents.as_bytes().to_vec(),
    }
}

fn journaled(dir: &Path) -> WriteOptions {
    WriteOptions {
        journal: Some(dir.join(".poolcap-journal")),
        tree: Some(dir.to_path_buf()),
        force: false,
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn replaces_all_and_keeps_modes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.env");
    fs::write(&a, "old").unwrap();
    fs::set_permissions(&a, fs::Permissions::from_mode(0o640)).unwrap();
    let b = dir.path().join("new.md");
    replace_all(
        &[
            change(&a, Expect::Content(b"old".to_vec()), "new"),
            change(&b, Expect::Absent, "entry"),
        ],
        &journaled(dir.path()),
    )
    .unwrap();
    assert_eq!(fs::read_to_string(&a).unwrap(), "new");
    assert_eq!(fs::metadata(&a).unwrap().permissions().mode() & 0o777, 0o640);
    assert_eq!(fs::read_to_string(&b).unwrap(), "entry");
    // No temporary file or journal record is left behind.
    assert_eq!(names(dir.path()), [".poolcap-journal", "a.env", "new.md"]);
    assert!(names(&dir.path().join(".poolcap-journal")).is_empty());
    assert_eq!(
        fs::metadata(dir.path().join(".poolcap-journal"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
}

#[test]
fn a_failed_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.env");
    fs::write(&a, "old").unwrap();
    let missing_dir = dir.path().join("no-such-dir").join("b.env");
    let err = replace_all(
        &[
            change(&a, Expect::Anything, "new"),
            change(&missing_dir, Expect::Absent, "x"),
        ],
        &journaled(dir.path()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no file was changed"), "{err}");
    assert_eq!(fs::read_to_string(&a).unwrap(), "old");
    assert_eq!(names(dir.path()), [".poolcap-journal", "a.env"]);
}

#[test]
fn a_lost_update_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.env");
    fs::write(&a, "old\nADDED=1\n").unwrap();
    let err = replace_all(
        &[change(&a, Expect::Content(b"old\n".to_vec()), "new\n")],
        &journaled(dir.path()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("changed since poolcap read it"), "{err}");
    assert_eq!(fs::read_to_string(&a).unwrap(), "old\nADDED=1\n");
    let b = dir.path().join("b.md");
    fs::write(&b, "appeared").unwrap();
    let err = replace_all(&[change(&b, Expect::Absent, "entry")], &journaled(dir.path())).unwrap_err();
    assert!(err.to_string().contains("changed since"), "{err}");
}

#[test]
fn a_read_only_target_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.env");
    fs::write(&a, "old").unwrap();
    fs::set_permissions(&a, fs::Permissions::from_mode(0o444)).unwrap();
    let err = replace_all(&[change(&a, Expect::Anything, "new")], &journaled(dir.path())).unwrap_err();
    assert!(
        err.to_string().contains("read-only (mode 444)") && err.to_string().contains("--force"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&a).unwrap(), "old");
    let forced = WriteOptions {
        force: true,
        ..journaled(dir.path())
    };
    replace_all(&[change(&a, Expect::Anything, "new")], &forced).unwrap();
    assert_eq!(fs::read_to_string(&a).unwrap(), "new");
    assert_eq!(fs::metadata(&a).unwrap().permissions().mode() & 0o777, 0o444);
}

#[test]
fn a_symlink_is_written_through() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    let real = dir.path().join("real/backend.env");
    fs::write(&real, "old").unwrap();
    let link = dir.path().join("backend.env");
    std::os::unix::fs::symlink("real/backend.env", &link).unwrap();
    let written = replace_all(
        &[change(&link, Expect::Content(b"old".to_vec()), "new")],
        &journaled(dir.path()),
    )
    .unwrap();
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    assert_eq!(written.files, [fs::canonicalize(&real).unwrap()]);
}

#[test]
fn dangling_and_out_of_tree_links_are_refused_naming_both_paths() {
    let tree = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("secret.env");
    fs::write(&target, "old").unwrap();
    let link = tree.path().join("out.env");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = replace_all(&[change(&link, Expect::Anything, "new")], &journaled(tree.path())).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("out.env") && text.contains("secret.env") && text.contains("outside"),
        "{text}"
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "old");
    let dangling = tree.path().join("gone.env");
    std::os::unix::fs::symlink("nowhere.env", &dangling).unwrap();
    let err = replace_all(&[change(&dangling, Expect::Anything, "new")], &journaled(tree.path())).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("gone.env") && text.contains("nowhere.env") && text.contains("does not exist"),
        "{text}"
    );
}

/// A crash after the commit record: recovery renames what was still waiting.
#[test]
fn recovery_rolls_a_committed_run_forward() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join(".poolcap-journal");
    let (a, b) = (dir.path().join("a.env"), dir.path().join("b.md"));
    fs::write(&a, "old-a").unwrap();
    // As a run killed after renaming b but before renaming a.
    let a_temp = temp_path(&a);
    fs::write(&a_temp, "new-a").unwrap();
    fs::write(&b, "new-b").unwrap();
    let record = Record {
        state: "commit".into(),
        pid: 1,
        started: 100,
        files: vec![
            JournalFile {
                target: b.clone(),
                temp: temp_path(&b),
                old: None,
                new: sha256_hex(b"new-b"),
            },
            JournalFile {
                target: a.clone(),
                temp: a_temp,
                old: Some(sha256_hex(b"old-a")),
                new: sha256_hex(b"new-a"),
            },
        ],
    };
    write_record(&journal, &record).unwrap();
    let done = recover(&journal).unwrap().unwrap();
    assert_eq!(
        done,
        Recovered::RolledForward {
            started: 100,
            completed: vec![a.clone()],
            files: vec![b.clone(), a.clone()]
        }
    );
    assert_eq!(fs::read_to_string(&a).unwrap(), "new-a");
    assert_eq!(names(dir.path()), [".poolcap-journal", "a.env", "b.md"]);
    assert!(names(&journal).is_empty());
    assert_eq!(recover(&journal).unwrap(), None);
}

/// A crash before the commit record: nothing had changed; the temporary files go.
#[test]
fn recovery_rolls_a_prepared_run_back() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join(".poolcap-journal");
    let a = dir.path().join("a.env");
    fs::write(&a, "old-a").unwrap();
    fs::write(temp_path(&a), "new-a").unwrap();
    let record = Record {
        state: "prepare".into(),
        pid: 1,
        started: 100,
        files: vec![JournalFile {
            target: a.clone(),
            temp: temp_path(&a),
            old: Some(sha256_hex(b"old-a")),
            new: sha256_hex(b"new-a"),
        }],
    };
    write_record(&journal, &record).unwrap();
    assert_eq!(recover(&journal).unwrap(), Some(Recovered::RolledBack { started: 100 }));
    assert_eq!(fs::read_to_string(&a).unwrap(), "old-a");
    assert_eq!(names(dir.path()), [".poolcap-journal", "a.env"]);
}

/// A file changed by someone else since the crash stops the recovery, untouched.
#[test]
fn recovery_refuses_a_file_changed_since() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join(".poolcap-journal");
    let a = dir.path().join("a.env");
    fs::write(&a, "edited by hand").unwrap();
    fs::write(temp_path(&a), "new-a").unwrap();
    let record = Record {
        state: "commit".into(),
        pid: 1,
        started: 100,
        files: vec![JournalFile {
            target: a.clone(),
            temp: temp_path(&a),
            old: Some(sha256_hex(b"old-a")),
            new: sha256_hex(b"new-a"),
        }],
    };
    write_record(&journal, &record).unwrap();
    let err = recover(&journal).unwrap_err();
    assert!(err.to_string().contains("changed since"), "{err}");
    assert_eq!(fs::read_to_string(&a).unwrap(), "edited by hand");
}

/// As root (CI), a file owned by `nobody:nogroup` keeps its owner, group and mode.
#[test]
fn owner_and_group_are_kept() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("values.yaml");
    fs::write(&a, "old").unwrap();
    fs::set_permissions(&a, fs::Permissions::from_mode(0o640)).unwrap();
    let root = fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    let (uid, gid) = if root {
        std::os::unix::fs::chown(&a, Some(65534), Some(65534)).unwrap();
        (65534, 65534)
    } else {
        // Not root: the owner's own ownership is kept.
        let m = fs::metadata(&a).unwrap();
        (m.uid(), m.gid())
    };
    replace_all(&[change(&a, Expect::Anything, "new")], &journaled(dir.path())).unwrap();
    let m = fs::metadata(&a).unwrap();
    assert_eq!((m.uid(), m.gid(), m.permissions().mode() & 0o7777), (uid, gid, 0o640));
    assert_eq!(fs::read_to_string(&a).unwrap(), "new");
}
