//! Checkpoints end to end: a turn scripted with real shell commands (`rm -rf`, `mv`, `sed -i`, a
//! loop writing 200 files, `chmod`, `touch -d`, `ln -sf`), then undo and redo compared entry by
//! entry (content hash, mode, mtime) against a tree read independently with `std::fs`; conflicts;
//! crashes in the middle of a restore (injected, and a real child process killed); and the reflink
//! path on a loop-mounted btrfs or XFS image when this machine allows it.

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};
use workroom_host::checkpoint::{
    Change, CheckpointError, Checkpoints, Fault, RecoveryOutcome, Resolution, RestoreScope,
    SnapshotOptions,
};

/// One entry as `std::fs` sees it: kind, mode, mtime (ns), content hash or link target.
type Tree = BTreeMap<String, (String, u32, i64, String)>;

fn read_tree(root: &Path) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let meta = fs::symlink_metadata(entry.path()).unwrap();
            let mtime = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
            let mode = meta.mode() & 0o7777;
            let (kind, what) = if meta.file_type().is_symlink() {
                (
                    "symlink",
                    fs::read_link(entry.path())
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                )
            } else if meta.is_dir() {
                stack.push((entry.path(), rel.clone()));
                ("dir", String::new())
            } else {
                let digest = Sha256::digest(fs::read(entry.path()).unwrap());
                ("file", digest.iter().map(|b| format!("{b:02x}")).collect())
            };
            out.insert(rel, (kind.into(), mode, mtime, what));
        }
    }
    let meta = fs::metadata(root).unwrap();
    out.insert(
        String::new(),
        (
            "dir".into(),
            meta.mode() & 0o7777,
            meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            String::new(),
        ),
    );
    out
}

fn assert_same_tree(actual: &Tree, expected: &Tree) {
    for (path, want) in expected {
        match actual.get(path) {
            Some(got) => assert_eq!(got, want, "entry {path:?} differs"),
            None => panic!("entry {path:?} missing"),
        }
    }
    for path in actual.keys() {
        assert!(expected.contains_key(path), "unexpected entry {path:?}");
    }
}

fn sh(dir: &Path, script: &str) {
    let status = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "script failed: {script}");
}

/// A folder with a bit of everything: nested files, text, binary, a symlink, an empty directory,
/// a read-only file, and `.git` internals.
fn populate(dir: &Path) {
    sh(
        dir,
        r#"
        mkdir -p src/sub/deep docs empty .git/objects bin
        for i in 1 2 3 4 5; do echo "module $i" > src/m$i.rs; echo "deep $i" > src/sub/deep/d$i.txt; done
        printf 'hello world\nsecond line\nhello again\n' > notes.txt
        echo '# Title' > docs/a.md
        head -c 70000 /dev/urandom > bin/blob.bin
        echo 'echo hi' > script.sh
        echo old > old.txt
        echo ro > readonly.txt && chmod 444 readonly.txt
        ln -s docs/a.md link
        echo 'ref: refs/heads/main' > .git/HEAD
        echo obj > .git/objects/ab
        touch -d '2020-01-01 00:00:00' src/m1.rs
        "#,
    );
}

/// The turn: what an agent's Bash calls might do.
const TURN: &str = r#"
    rm -rf src/sub
    mv docs/a.md docs/b.md
    sed -i 's/hello/bye/' notes.txt
    mkdir gen
    i=0; while [ $i -lt 200 ]; do echo "generated $i" > gen/f$i.txt; i=$((i+1)); done
    chmod 755 script.sh
    touch -d '2001-02-03 04:05:06' old.txt
    ln -sf docs/b.md link
    rmdir empty
    echo changed > .git/HEAD
    head -c 1000 /dev/urandom >> bin/blob.bin
"#;

struct Fixture {
    _tmp: tempfile::TempDir,
    folder: PathBuf,
    store: PathBuf,
}

fn fixture_in(store_parent: Option<&Path>) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("folder");
    fs::create_dir(&folder).unwrap();
    let store = match store_parent {
        Some(p) => p.join("checkpoints"),
        None => tmp.path().join("data/checkpoints"),
    };
    Fixture {
        _tmp: tmp,
        folder,
        store,
    }
}

fn opts() -> SnapshotOptions {
    SnapshotOptions::default()
}

fn undo_redo_round_trip(fx: &Fixture) {
    populate(&fx.folder);
    let cp = Checkpoints::open(&fx.store).unwrap();
    let before = cp.snapshot(&fx.folder, &opts()).unwrap();
    let tree_before = read_tree(&fx.folder);

    sh(&fx.folder, TURN);
    let after = cp.snapshot(&fx.folder, &opts()).unwrap();
    let tree_after = read_tree(&fx.folder);

    // What the turn did, as the session would show it.
    let changes = cp.changes(&before, &after).unwrap();
    let find = |path: &str| {
        changes
            .iter()
            .find(|c| c.path() == path)
            .unwrap_or_else(|| panic!("no change for {path}: {changes:#?}"))
    };
    assert!(
        matches!(find("docs/b.md"), Change::Renamed { before, .. } if before.path == "docs/a.md")
    );
    assert!(matches!(
        find("src/sub/deep/d1.txt"),
        Change::Deleted { .. }
    ));
    assert!(matches!(find("gen/f199.txt"), Change::Added { .. }));
    assert!(
        matches!(find("script.sh"), Change::Metadata { before, after } if before.mode == 0o644 && after.mode == 0o755)
    );
    assert!(matches!(find("old.txt"), Change::Metadata { .. }));
    assert!(matches!(find("link"), Change::Modified { .. }));
    assert!(matches!(find(".git/HEAD"), Change::Modified { .. }));
    assert!(matches!(find("empty"), Change::Deleted { .. }));
    let notes = find("notes.txt");
    let diff = cp.text_diff(notes).unwrap().unwrap();
    assert!(diff.contains("-hello world\n+bye world\n"), "{diff}");
    assert!(
        cp.text_diff(find("bin/blob.bin")).unwrap().is_none(),
        "binary has no text diff"
    );

    // Undo the turn.
    let plan = cp
        .plan_restore(&fx.folder, &before, &after, RestoreScope::Changed)
        .unwrap();
    assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
    let report = cp
        .apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_same_tree(&read_tree(&fx.folder), &tree_before);

    // Redo: the undo is undone by restoring to its redo point.
    let plan = cp
        .plan_restore(
            &fx.folder,
            &report.redo_point,
            &report.after,
            RestoreScope::Changed,
        )
        .unwrap();
    assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
    let redo = cp
        .apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap();
    assert!(redo.failed.is_empty(), "{:?}", redo.failed);
    assert_same_tree(&read_tree(&fx.folder), &tree_after);

    // And the whole-folder restore reaches the same exact tree.
    let plan = cp
        .plan_restore(&fx.folder, &before, &redo.after, RestoreScope::Whole)
        .unwrap();
    cp.apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap();
    assert_same_tree(&read_tree(&fx.folder), &tree_before);
}

#[test]
fn scripted_turn_is_undone_and_redone_exactly() {
    undo_redo_round_trip(&fixture_in(None));
}

/// With the store on another filesystem (tmpfs), staging happens inside the folder instead.
#[test]
fn undo_with_the_store_on_another_filesystem_stages_in_the_folder() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("SKIPPED: no /dev/shm");
        return;
    }
    let store_parent = tempfile::tempdir_in(shm).unwrap();
    undo_redo_round_trip(&fixture_in(Some(store_parent.path())));
}

#[test]
fn user_edits_after_the_agent_are_reported_not_overwritten() {
    let fx = fixture_in(None);
    sh(
        &fx.folder,
        "echo one > a.txt; echo one > b.txt; echo one > c.txt",
    );
    let cp = Checkpoints::open(&fx.store).unwrap();
    let before = cp.snapshot(&fx.folder, &opts()).unwrap();
    sh(
        &fx.folder,
        "echo agent > a.txt; echo agent > c.txt; mkdir d; echo agent > d/x",
    );
    let after = cp.snapshot(&fx.folder, &opts()).unwrap();
    // The user edits a file the agent changed, one it did not, and adds a file in the agent's dir.
    sh(
        &fx.folder,
        "echo user > a.txt; echo user > b.txt; echo user > d/mine",
    );

    let plan = cp
        .plan_restore(&fx.folder, &before, &after, RestoreScope::Changed)
        .unwrap();
    let conflicts: Vec<_> = plan.conflicts.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(conflicts, ["a.txt", "d/mine"]);

    let report = cp.apply_restore(&plan, Resolution::KeepConflicts).unwrap();
    assert_eq!(
        fs::read_to_string(fx.folder.join("a.txt")).unwrap(),
        "user\n"
    );
    assert_eq!(
        fs::read_to_string(fx.folder.join("b.txt")).unwrap(),
        "user\n"
    );
    assert_eq!(
        fs::read_to_string(fx.folder.join("c.txt")).unwrap(),
        "one\n"
    );
    assert_eq!(
        fs::read_to_string(fx.folder.join("d/mine")).unwrap(),
        "user\n"
    );
    assert!(!fx.folder.join("d/x").exists());
    assert!(
        report.kept.contains(&"a.txt".to_owned()),
        "{:?}",
        report.kept
    );

    // Overwriting is an explicit choice, and it is undoable too.
    let plan = cp
        .plan_restore(&fx.folder, &before, &after, RestoreScope::Changed)
        .unwrap();
    let report = cp
        .apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap();
    assert_eq!(
        fs::read_to_string(fx.folder.join("a.txt")).unwrap(),
        "one\n"
    );
    assert!(!fx.folder.join("d").exists());
    let plan = cp
        .plan_restore(
            &fx.folder,
            &report.redo_point,
            &report.after,
            RestoreScope::Changed,
        )
        .unwrap();
    cp.apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap();
    assert_eq!(
        fs::read_to_string(fx.folder.join("a.txt")).unwrap(),
        "user\n"
    );
    assert_eq!(
        fs::read_to_string(fx.folder.join("d/mine")).unwrap(),
        "user\n"
    );
}

#[test]
fn a_plan_is_refused_when_the_folder_changed_since() {
    let fx = fixture_in(None);
    sh(&fx.folder, "echo one > a.txt");
    let cp = Checkpoints::open(&fx.store).unwrap();
    let before = cp.snapshot(&fx.folder, &opts()).unwrap();
    sh(&fx.folder, "echo agent > a.txt");
    let after = cp.snapshot(&fx.folder, &opts()).unwrap();
    let plan = cp
        .plan_restore(&fx.folder, &before, &after, RestoreScope::Changed)
        .unwrap();
    sh(&fx.folder, "echo user > a.txt");
    let err = cp
        .apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap_err();
    assert!(matches!(err, CheckpointError::PlanStale { .. }), "{err}");
    assert_eq!(
        fs::read_to_string(fx.folder.join("a.txt")).unwrap(),
        "user\n"
    );
}

#[test]
fn restore_never_writes_through_a_planted_symlink() {
    let fx = fixture_in(None);
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("victim"), "safe\n").unwrap();
    sh(&fx.folder, "mkdir d; echo orig > d/victim");
    let cp = Checkpoints::open(&fx.store).unwrap();
    let before = cp.snapshot(&fx.folder, &opts()).unwrap();
    // The guest swaps the directory for a link to somewhere outside the folder.
    sh(
        &fx.folder,
        &format!("rm -rf d; ln -s {} d", outside.path().display()),
    );
    let after = cp.snapshot(&fx.folder, &opts()).unwrap();
    let plan = cp
        .plan_restore(&fx.folder, &before, &after, RestoreScope::Changed)
        .unwrap();
    let report = cp
        .apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(
        fs::read_to_string(outside.path().join("victim")).unwrap(),
        "safe\n"
    );
    assert!(fs::symlink_metadata(fx.folder.join("d")).unwrap().is_dir());
    assert_eq!(
        fs::read_to_string(fx.folder.join("d/victim")).unwrap(),
        "orig\n"
    );
}

#[test]
fn size_cap_refuses_before_copying_anything() {
    let fx = fixture_in(None);
    sh(&fx.folder, "head -c 100000 /dev/urandom > big");
    let cp = Checkpoints::open(&fx.store).unwrap();
    let estimate = cp.estimate(&fx.folder, &opts()).unwrap();
    assert_eq!(estimate.bytes_to_read, 100_000);
    let capped = SnapshotOptions {
        max_new_bytes: Some(50_000),
        ..opts()
    };
    let err = cp.snapshot(&fx.folder, &capped).unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::TooLarge {
                needed: 100_000,
                cap: 50_000
            }
        ),
        "{err}"
    );
    assert!(cp.list().unwrap().is_empty());
    assert_eq!(
        fs::read_dir(fx.store.join("blobs")).unwrap().count(),
        0,
        "nothing copied"
    );
}

#[test]
fn incremental_snapshots_store_only_changed_bytes_and_gc_frees_them() {
    let fx = fixture_in(None);
    sh(
        &fx.folder,
        "i=0; while [ $i -lt 50 ]; do head -c 10000 /dev/urandom > f$i; i=$((i+1)); done",
    );
    let cp = Checkpoints::open(&fx.store).unwrap();
    let first = cp.snapshot(&fx.folder, &opts()).unwrap();
    assert_eq!(cp.manifest(&first).unwrap().bytes_added, 500_000);
    let mut ids = vec![first];
    for _ in 0..3 {
        // The same file each time, so each version of it is in exactly one snapshot.
        sh(&fx.folder, "head -c 10000 /dev/urandom > f0");
        let id = cp.snapshot(&fx.folder, &opts()).unwrap();
        assert_eq!(
            cp.manifest(&id).unwrap().bytes_added,
            10_000,
            "only the changed file is stored"
        );
        ids.push(id);
    }
    let used = cp.disk_use().unwrap();
    let report = cp
        .gc(
            workroom_host::checkpoint::Retention {
                keep_last: 2,
                max_age: Duration::from_secs(3600),
            },
            &[ids[0].clone()],
        )
        .unwrap();
    // ids[1] goes (ids[0] is pinned, the last two stay); its version of f0 is in no other snapshot.
    assert_eq!(report.snapshots_removed, vec![ids[1].clone()]);
    assert_eq!(report.blobs_removed, 1);
    assert!(cp.disk_use().unwrap() < used);
    // What remains still restores.
    let plan = cp
        .plan_restore(&fx.folder, &ids[0], &ids[3], RestoreScope::Whole)
        .unwrap();
    cp.apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap();
}

#[test]
fn manifests_grow_with_the_changes_not_the_folder_and_survive_gc_of_their_base() {
    let fx = fixture_in(None);
    sh(
        &fx.folder,
        "mkdir d; i=0; while [ $i -lt 2000 ]; do echo $i > d/f$i; i=$((i+1)); done",
    );
    let cp = Checkpoints::open(&fx.store).unwrap();
    let size_of = |id: &workroom_host::checkpoint::SnapshotId| {
        fs::metadata(fx.store.join("snapshots").join(format!("{id}.json")))
            .unwrap()
            .len()
    };
    let first = cp.snapshot(&fx.folder, &opts()).unwrap();
    let unchanged = cp.snapshot(&fx.folder, &opts()).unwrap();
    sh(&fx.folder, "echo new > d/f7; rm d/f8; echo added > d/g");
    let changed = cp.snapshot(&fx.folder, &opts()).unwrap();
    assert!(size_of(&first) > 100_000, "the first snapshot is whole");
    assert!(
        size_of(&unchanged) < 1_000,
        "no change stores a header only: {} bytes",
        size_of(&unchanged)
    );
    assert!(
        size_of(&changed) < 2_000,
        "three changes store three entries: {} bytes",
        size_of(&changed)
    );
    let whole = cp.manifest(&changed).unwrap();
    assert_eq!(whole.entries.len(), 2 + 2000);
    let changes = cp.changes(&first, &changed).unwrap();
    let paths: Vec<&str> = changes.iter().map(Change::path).collect();
    assert_eq!(paths, ["d/f7", "d/f8", "d/g"]);

    // The base goes; the snapshots stored against it are stored whole first.
    let report = cp
        .gc(
            workroom_host::checkpoint::Retention {
                keep_last: 2,
                max_age: Duration::from_secs(3600),
            },
            &[],
        )
        .unwrap();
    assert_eq!(report.snapshots_removed, vec![first]);
    let after_gc = cp.manifest(&changed).unwrap();
    assert_eq!(after_gc.entries, whole.entries);
    let plan = cp
        .plan_restore(&fx.folder, &unchanged, &changed, RestoreScope::Whole)
        .unwrap();
    cp.apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap();
    assert_eq!(fs::read_to_string(fx.folder.join("d/f7")).unwrap(), "7\n");
    assert_eq!(fs::read_to_string(fx.folder.join("d/f8")).unwrap(), "8\n");
    assert!(!fx.folder.join("d/g").exists());
}

#[test]
fn names_that_are_not_utf8_are_checkpointed_and_restored() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let fx = fixture_in(None);
    let dir = fx.folder.join(OsStr::from_bytes(b"Fotos \xc9t\xe9"));
    fs::create_dir(&dir).unwrap();
    let file = dir.join(OsStr::from_bytes(b"caf\xe9.txt"));
    fs::write(&file, "latin-1 name\n").unwrap();
    std::os::unix::fs::symlink(OsStr::from_bytes(b"caf\xe9.txt"), dir.join("link")).unwrap();
    let cp = Checkpoints::open(&fx.store).unwrap();
    let before = cp.snapshot(&fx.folder, &opts()).unwrap();
    let manifest = cp.manifest(&before).unwrap();
    assert!(manifest.skipped.is_empty(), "{:?}", manifest.skipped);
    assert_eq!(
        manifest.entries.len(),
        4,
        "the folder, the directory, the file and the link"
    );
    sh(&fx.folder, "rm -rf ./*");
    let after = cp.snapshot(&fx.folder, &opts()).unwrap();
    let plan = cp
        .plan_restore(&fx.folder, &before, &after, RestoreScope::Whole)
        .unwrap();
    let report = cp
        .apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(fs::read_to_string(&file).unwrap(), "latin-1 name\n");
    assert_eq!(
        fs::read_link(dir.join("link"))
            .unwrap()
            .as_os_str()
            .as_bytes(),
        b"caf\xe9.txt"
    );
}

/// A turn for the crash tests, and the trees before and after it.
fn crash_fixture() -> (
    Fixture,
    Tree,
    Tree,
    workroom_host::checkpoint::SnapshotId,
    workroom_host::checkpoint::SnapshotId,
) {
    let fx = fixture_in(None);
    populate(&fx.folder);
    let cp = Checkpoints::open(&fx.store).unwrap();
    let before = cp.snapshot(&fx.folder, &opts()).unwrap();
    let tree_before = read_tree(&fx.folder);
    sh(&fx.folder, TURN);
    let after = cp.snapshot(&fx.folder, &opts()).unwrap();
    let tree_after = read_tree(&fx.folder);
    (fx, tree_before, tree_after, before, after)
}

#[test]
fn crash_after_the_commit_point_is_rolled_forward_on_open() {
    let (fx, tree_before, _, before, after) = crash_fixture();
    let cp = Checkpoints::open(&fx.store).unwrap();
    let plan = cp
        .plan_restore(&fx.folder, &before, &after, RestoreScope::Changed)
        .unwrap();
    assert!(plan.ops.len() > 20);
    cp.inject_fault(Some(Fault::DuringCommit {
        after: plan.ops.len() / 2,
    }));
    let err = cp
        .apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap_err();
    assert!(matches!(err, CheckpointError::InjectedFault));
    drop(cp);
    assert_ne!(
        read_tree(&fx.folder),
        tree_before,
        "the crash left the folder half-way"
    );

    let cp = Checkpoints::open(&fx.store).unwrap();
    assert!(
        matches!(cp.recovered(), [r] if r.outcome == RecoveryOutcome::RolledForward { failed: vec![] }),
        "{:?}",
        cp.recovered()
    );
    assert_same_tree(&read_tree(&fx.folder), &tree_before);
    assert!(fs::read_dir(fx.store.join("journal"))
        .unwrap()
        .next()
        .is_none());
    assert!(fs::read_dir(fx.store.join("staging"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn crash_before_the_commit_point_is_rolled_back_on_open() {
    let (fx, _, tree_after, before, after) = crash_fixture();
    let cp = Checkpoints::open(&fx.store).unwrap();
    let plan = cp
        .plan_restore(&fx.folder, &before, &after, RestoreScope::Changed)
        .unwrap();
    cp.inject_fault(Some(Fault::DuringStaging { after: 3 }));
    assert!(cp
        .apply_restore(&plan, Resolution::OverwriteConflicts)
        .is_err());
    drop(cp);
    let cp = Checkpoints::open(&fx.store).unwrap();
    assert!(matches!(cp.recovered(), [r] if r.outcome == RecoveryOutcome::RolledBack));
    assert_same_tree(&read_tree(&fx.folder), &tree_after);
    assert!(fs::read_dir(fx.store.join("staging"))
        .unwrap()
        .next()
        .is_none());
}

/// Runs in a child process (see the next test): applies a slowed-down restore until killed.
#[test]
#[ignore = "helper: runs only as the child of killed_restore_recovers_fully_before_or_after"]
fn child_slow_restore() {
    let (Ok(store), Ok(folder), Ok(target), Ok(expected)) = (
        std::env::var("CHILD_STORE"),
        std::env::var("CHILD_FOLDER"),
        std::env::var("CHILD_TARGET"),
        std::env::var("CHILD_EXPECTED"),
    ) else {
        return;
    };
    let cp = Checkpoints::open(Path::new(&store)).unwrap();
    let plan = cp
        .plan_restore(
            Path::new(&folder),
            &target.parse().unwrap(),
            &expected.parse().unwrap(),
            RestoreScope::Changed,
        )
        .unwrap();
    cp.inject_fault(Some(Fault::SlowCommit {
        step_delay: Duration::from_millis(20),
    }));
    cp.apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap();
}

#[test]
fn killed_restore_recovers_fully_before_or_after() {
    let (fx, tree_before, tree_after, before, after) = crash_fixture();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_slow_restore",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CHILD_STORE", &fx.store)
        .env("CHILD_FOLDER", &fx.folder)
        .env("CHILD_TARGET", before.as_str())
        .env("CHILD_EXPECTED", after.as_str())
        .spawn()
        .unwrap();
    // Wait for the commit to begin, let it run a little, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(60);
    let committing = loop {
        let found = fs::read_dir(fx.store.join("journal"))
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| fs::read_to_string(e.path()).is_ok_and(|s| s.contains("\"committing\"")));
        if found || Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break found;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(committing, "the child never reached the commit");
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let half = read_tree(&fx.folder);
    assert!(
        half != tree_before && half != tree_after,
        "killed mid-commit"
    );

    let cp = Checkpoints::open(&fx.store).unwrap();
    assert!(
        matches!(cp.recovered(), [r] if matches!(r.outcome, RecoveryOutcome::RolledForward { .. }))
    );
    assert_same_tree(&read_tree(&fx.folder), &tree_before);
}

/// Unmounts and detaches the loop image when the test ends, however it ends.
struct LoopMount {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

fn loop_mount(fs_type: &str) -> Result<LoopMount, String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let image = tmp.path().join("image");
    let dir = tmp.path().join("mnt");
    fs::create_dir(&dir).map_err(|e| e.to_string())?;
    fs::File::create(&image)
        .and_then(|f| f.set_len(400 << 20))
        .map_err(|e| e.to_string())?;
    let mkfs = format!("mkfs.{fs_type}");
    let ok = Command::new(&mkfs)
        .arg("-q")
        .arg(&image)
        .output()
        .map_err(|e| format!("{mkfs}: {e}"))?;
    if !ok.status.success() {
        return Err(format!(
            "{mkfs} failed: {}",
            String::from_utf8_lossy(&ok.stderr)
        ));
    }
    let out = Command::new("mount")
        .args(["-o", "loop"])
        .arg(&image)
        .arg(&dir)
        .output()
        .map_err(|e| format!("mount: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mount failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(LoopMount { dir, _tmp: tmp })
}

fn free_bytes(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn reflink_store_on_btrfs_or_xfs_shares_extents_and_restores_exactly() {
    let mut tried = Vec::new();
    for fs_type in ["btrfs", "xfs"] {
        let mount = match loop_mount(fs_type) {
            Ok(m) => m,
            Err(e) => {
                tried.push(format!("{fs_type}: {e}"));
                continue;
            }
        };
        let folder = mount.dir.join("folder");
        fs::create_dir(&folder).unwrap();
        sh(&folder, "head -c 32000000 /dev/urandom > big.bin; sync");
        populate(&folder);
        let store = mount.dir.join("data/checkpoints");
        let cp = Checkpoints::open(&store).unwrap();
        let free = free_bytes(&mount.dir);
        let before = cp.snapshot(&folder, &opts()).unwrap();
        sh(&folder, "sync");
        let used = free.saturating_sub(free_bytes(&mount.dir));
        assert!(
            used < 8_000_000,
            "{fs_type}: a 32 MB file took {used} bytes to checkpoint: not reflinked"
        );
        let tree_before = read_tree(&folder);
        sh(
            &folder,
            &format!("{TURN}\nhead -c 100 /dev/urandom | dd of=big.bin conv=notrunc 2>/dev/null"),
        );
        let after = cp.snapshot(&folder, &opts()).unwrap();
        let plan = cp
            .plan_restore(&folder, &before, &after, RestoreScope::Changed)
            .unwrap();
        let report = cp
            .apply_restore(&plan, Resolution::OverwriteConflicts)
            .unwrap();
        assert!(report.failed.is_empty());
        assert_same_tree(&read_tree(&folder), &tree_before);
        eprintln!("reflink path checked on {fs_type} (checkpoint of 32 MB used {used} bytes)");
        return;
    }
    eprintln!(
        "SKIPPED: no loop-mounted btrfs or xfs: {}",
        tried.join("; ")
    );
}

#[test]
fn a_failure_before_the_commit_point_leaves_the_folder_and_store_clean() {
    let (fx, _, tree_after, before, after) = crash_fixture();
    // Lose the stored content (as if a buggy gc ran): staging cannot complete.
    fs::remove_dir_all(fx.store.join("blobs")).unwrap();
    fs::create_dir(fx.store.join("blobs")).unwrap();
    let cp = Checkpoints::open(&fx.store).unwrap();
    let plan = cp
        .plan_restore(&fx.folder, &before, &after, RestoreScope::Changed)
        .unwrap();
    let err = cp
        .apply_restore(&plan, Resolution::OverwriteConflicts)
        .unwrap_err();
    assert!(matches!(err, CheckpointError::BlobMissing { .. }), "{err}");
    assert_same_tree(&read_tree(&fx.folder), &tree_after);
    assert!(fs::read_dir(fx.store.join("journal"))
        .unwrap()
        .next()
        .is_none());
    assert!(fs::read_dir(fx.store.join("staging"))
        .unwrap()
        .next()
        .is_none());
}
