//! Putting a folder back to a snapshot: planning (what to do, and which paths the user changed
//! since the agent did) and applying with a journal.
//!
//! Applying has two phases separated by one atomic write:
//!
//! 1. **Staging.** The journal (every operation) is written with state `staging`; every file and
//!    symlink to put back is created, with its final mode and mtime, in a staging directory on the
//!    folder's filesystem; the filesystem is flushed. The folder is untouched so far: a crash here
//!    is rolled back by deleting the staging directory.
//! 2. **Commit.** The journal is rewritten with state `committing`; then removals, directory
//!    creations, renames from staging into place and finally directory modes and times. Every
//!    operation is idempotent (it checks what is there first), so after a crash the commit is simply
//!    run again from the start: the folder ends fully restored.
//!
//! Every path is resolved from the folder's descriptor without following symlinks (`fsx`), and
//! files are created by rename, so a symlink the guest planted is replaced, never written through.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fs, io,
    os::fd::{AsFd, BorrowedFd, OwnedFd},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{
    blobs::BlobStore,
    fsx,
    manifest::{write_atomic, Entry, Kind, Manifest, SnapshotId},
    scan::STAGING_PREFIX,
    CheckpointError, Fault,
};

/// One step of a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Remove a file, symlink or (by then empty) directory.
    Remove { path: String, kind: Kind },
    /// Create a directory; its mode and time are set by a later [`Op::DirMeta`].
    Mkdir { path: String },
    /// Put a file or symlink in place with its content, mode and mtime, replacing what is there.
    Put { entry: Entry },
    /// Set a directory's mode and mtime (done last, deepest first, as creating entries moves them).
    DirMeta {
        path: String,
        mode: u32,
        mtime_ns: i64,
    },
}

impl Op {
    pub fn path(&self) -> &str {
        match self {
            Op::Remove { path, .. } | Op::Mkdir { path } | Op::DirMeta { path, .. } => path,
            Op::Put { entry } => &entry.path,
        }
    }
}

/// Which paths a restore touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreScope {
    /// The whole folder: afterwards it matches the target exactly.
    Whole,
    /// Only the paths that differ between the target and `expected_now` (what the turns in between
    /// changed), so edits elsewhere survive. The usual choice for "undo this turn".
    Changed,
    /// These paths and everything under them.
    Paths(Vec<String>),
}

/// What to do with paths the user changed after the agent did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    OverwriteConflicts,
    KeepConflicts,
}

/// A path in scope whose state on disk is neither what the agent left (`expected`) nor what the
/// restore would put there (`wanted`): someone changed it since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub path: String,
    pub expected: Option<Entry>,
    pub found: Option<Entry>,
    pub wanted: Option<Entry>,
}

/// The result of [`super::Checkpoints::plan_restore`]: look at it (show conflicts), then apply.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    pub folder: PathBuf,
    pub target: SnapshotId,
    pub expected_now: SnapshotId,
    pub skip_git: bool,
    pub ops: Vec<Op>,
    pub conflicts: Vec<Conflict>,
    /// What the plan saw on disk for each path in scope, so `apply` can tell whether the folder
    /// changed between plan and apply.
    pub(crate) seen: BTreeMap<String, Option<Entry>>,
}

impl RestorePlan {
    /// True when the folder already matches the target in scope.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedOp {
    pub path: String,
    pub error: String,
}

#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The folder just before the restore: restoring to it (with `expected_now = after`) is redo.
    pub redo_point: SnapshotId,
    /// The folder just after the restore.
    pub after: SnapshotId,
    pub applied: usize,
    /// Conflicting paths left as the user had them ([`Resolution::KeepConflicts`]).
    pub kept: Vec<String>,
    /// Steps that failed after the commit point (the rest was still applied).
    pub failed: Vec<FailedOp>,
}

/// What `open` did about a restore interrupted by a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryOutcome {
    /// The crash came before the commit point: the folder was never touched; staging removed.
    RolledBack,
    /// The crash came after it: the remaining steps were applied.
    RolledForward { failed: Vec<FailedOp> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub restore_id: String,
    pub folder: PathBuf,
    pub outcome: RecoveryOutcome,
}

fn same_content(a: Option<&Entry>, b: Option<&Entry>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.same_content(b),
        _ => false,
    }
}

fn differs_for_restore(a: Option<&Entry>, b: Option<&Entry>) -> bool {
    match (a, b) {
        (None, None) => false,
        (Some(a), Some(b)) => {
            !a.same_restorable(b) || (a.kind == Kind::Dir && a.mtime_ns != b.mtime_ns)
        }
        _ => true,
    }
}

fn is_under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

fn depth(path: &str) -> usize {
    if path.is_empty() {
        0
    } else {
        path.matches('/').count() + 1
    }
}

fn parent_of(path: &str) -> Option<&str> {
    if path.is_empty() {
        None
    } else {
        Some(path.rsplit_once('/').map_or("", |(p, _)| p))
    }
}

/// The parts of a [`RestorePlan`] computed from the manifests.
pub(crate) struct Planned {
    pub ops: Vec<Op>,
    pub conflicts: Vec<Conflict>,
    pub seen: BTreeMap<String, Option<Entry>>,
}

/// Plans a restore from three manifests: the target, what the agent left, and the disk now.
pub(crate) fn plan(
    target: &Manifest,
    expected: &Manifest,
    disk: &[Entry],
    scope: &RestoreScope,
) -> Result<Planned, CheckpointError> {
    let t = target.by_path();
    let e = expected.by_path();
    let d: HashMap<&str, &Entry> = disk.iter().map(|x| (x.path.as_str(), x)).collect();

    let mut in_scope: BTreeSet<String> = match scope {
        RestoreScope::Whole => t.keys().chain(d.keys()).map(|p| (*p).to_owned()).collect(),
        RestoreScope::Changed => t
            .keys()
            .chain(e.keys())
            .filter(|p| differs_for_restore(t.get(*p).copied(), e.get(*p).copied()))
            .map(|p| (*p).to_owned())
            .collect(),
        RestoreScope::Paths(paths) => {
            let mut set = BTreeSet::new();
            for p in paths {
                let p = p.trim_end_matches('/');
                if !fsx::is_safe_rel(p) {
                    return Err(CheckpointError::UnsafePath(p.to_owned()));
                }
                set.extend(
                    t.keys()
                        .chain(d.keys())
                        .filter(|x| **x == p || is_under(x, p))
                        .map(|x| (*x).to_owned()),
                );
                set.insert(p.to_owned());
            }
            set
        }
    };

    // A directory on disk that becomes something else (or nothing) takes its contents with it.
    let doomed: Vec<String> = in_scope
        .iter()
        .filter(|p| {
            d.get(p.as_str()).is_some_and(|x| x.kind == Kind::Dir)
                && t.get(p.as_str()).is_none_or(|x| x.kind != Kind::Dir)
        })
        .cloned()
        .collect();
    for dir in doomed {
        in_scope.extend(
            d.keys()
                .filter(|x| is_under(x, &dir))
                .map(|x| (*x).to_owned()),
        );
    }
    // Whatever is put back needs its parent directories to be directories.
    let needed: Vec<String> = in_scope
        .iter()
        .filter(|p| t.contains_key(p.as_str()))
        .flat_map(|p| {
            let mut ancestors = Vec::new();
            let mut cur = p.as_str();
            while let Some(parent) = parent_of(cur) {
                if d.get(parent).is_none_or(|x| x.kind != Kind::Dir) {
                    ancestors.push(parent.to_owned());
                }
                cur = parent;
            }
            ancestors
        })
        .collect();
    in_scope.extend(needed);

    let mut conflicts = Vec::new();
    let mut seen = BTreeMap::new();
    let mut removes = Vec::new();
    let mut mkdirs = Vec::new();
    let mut puts = Vec::new();
    let mut touched_dirs: BTreeSet<String> = BTreeSet::new();
    for p in &in_scope {
        let want = t.get(p.as_str()).copied();
        let have = d.get(p.as_str()).copied();
        let agent_left = e.get(p.as_str()).copied();
        seen.insert(p.clone(), have.cloned());
        if !same_content(have, agent_left) && !same_content(have, want) {
            conflicts.push(Conflict {
                path: p.clone(),
                expected: agent_left.cloned(),
                found: have.cloned(),
                wanted: want.cloned(),
            });
        }
        let before = removes.len() + mkdirs.len() + puts.len();
        match (want, have) {
            (None, None) => {}
            (None, Some(h)) => {
                if !p.is_empty() {
                    removes.push(Op::Remove {
                        path: p.clone(),
                        kind: h.kind,
                    });
                }
            }
            (Some(w), None) => {
                if w.kind == Kind::Dir {
                    mkdirs.push(Op::Mkdir { path: p.clone() });
                } else {
                    puts.push(Op::Put { entry: w.clone() });
                }
            }
            (Some(w), Some(h)) => match (w.kind == Kind::Dir, h.kind == Kind::Dir) {
                (true, true) => {}
                (true, false) => {
                    removes.push(Op::Remove {
                        path: p.clone(),
                        kind: h.kind,
                    });
                    mkdirs.push(Op::Mkdir { path: p.clone() });
                }
                (false, true) => {
                    removes.push(Op::Remove {
                        path: p.clone(),
                        kind: Kind::Dir,
                    });
                    puts.push(Op::Put { entry: w.clone() });
                }
                (false, false) => {
                    if !w.same_restorable(h) {
                        puts.push(Op::Put { entry: w.clone() });
                    }
                }
            },
        }
        if removes.len() + mkdirs.len() + puts.len() > before {
            if let Some(parent) = parent_of(p) {
                touched_dirs.insert(parent.to_owned());
            }
        }
    }

    // Directory modes and times: those in scope go back to the target's; a directory outside the
    // scope whose entries we change gets back the time it had before we touched it.
    let mut dir_metas = Vec::new();
    let dirs: BTreeSet<&str> = in_scope
        .iter()
        .map(String::as_str)
        .filter(|p| t.get(p).is_some_and(|x| x.kind == Kind::Dir))
        .chain(touched_dirs.iter().map(String::as_str))
        .collect();
    for p in dirs {
        let target_dir = t.get(p).filter(|x| x.kind == Kind::Dir);
        let disk_dir = d.get(p).filter(|x| x.kind == Kind::Dir);
        let source = if in_scope.contains(p) {
            // In scope but not a directory in the target: it is removed or replaced, no times.
            target_dir
        } else {
            disk_dir.or(target_dir)
        };
        let Some(src) = source else { continue };
        let unchanged = disk_dir.is_some_and(|x| x.mode == src.mode && x.mtime_ns == src.mtime_ns);
        if unchanged && !touched_dirs.contains(p) {
            continue;
        }
        dir_metas.push(Op::DirMeta {
            path: p.to_owned(),
            mode: src.mode,
            mtime_ns: src.mtime_ns,
        });
    }

    removes.sort_by(|a, b| {
        depth(b.path())
            .cmp(&depth(a.path()))
            .then(b.path().cmp(a.path()))
    });
    mkdirs.sort_by(|a, b| {
        depth(a.path())
            .cmp(&depth(b.path()))
            .then(a.path().cmp(b.path()))
    });
    dir_metas.sort_by(|a, b| {
        depth(b.path())
            .cmp(&depth(a.path()))
            .then(a.path().cmp(b.path()))
    });
    let mut ops = removes;
    ops.extend(mkdirs);
    ops.extend(puts);
    ops.extend(dir_metas);
    Ok(Planned {
        ops,
        conflicts,
        seen,
    })
}

/// Drops the operations that would overwrite a conflict (and any that depend on them) when the
/// user chose to keep their edits. Returns the remaining operations and the kept paths.
pub(crate) fn resolve(plan: &RestorePlan, resolution: Resolution) -> (Vec<Op>, Vec<String>) {
    if resolution == Resolution::OverwriteConflicts || plan.conflicts.is_empty() {
        return (plan.ops.clone(), Vec::new());
    }
    let mut kept: BTreeSet<String> = plan.conflicts.iter().map(|c| c.path.clone()).collect();
    // Removals come deepest first: a directory that still holds a kept path must stay, and so must
    // its parents, which see it only later in the list.
    for op in &plan.ops {
        if let Op::Remove {
            path,
            kind: Kind::Dir,
        } = op
        {
            if kept.iter().any(|k| is_under(k, path)) {
                kept.insert(path.clone());
            }
        }
    }
    let ops = plan
        .ops
        .iter()
        .filter(|op| {
            let p = op.path();
            matches!(op, Op::DirMeta { .. })
                || !(kept.contains(p)
                    || kept
                        .iter()
                        .any(|k| is_under(p, k) && !plan_keeps_dir(plan, k)))
        })
        .cloned()
        .collect();
    (ops, kept.into_iter().collect())
}

/// Whether `path` will be (or stay) a directory after the plan: then its untouched children can
/// still be restored even though `path` itself is kept.
fn plan_keeps_dir(plan: &RestorePlan, path: &str) -> bool {
    plan.seen
        .get(path)
        .and_then(|e| e.as_ref())
        .is_some_and(|e| e.kind == Kind::Dir)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum JournalState {
    Staging,
    Committing,
}

#[derive(Debug, Serialize, Deserialize)]
struct JournalOp {
    op: Op,
    /// For `Put`: the name of the staged copy in the staging directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    staged: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    version: u32,
    id: String,
    folder: PathBuf,
    /// Absolute path of the staging directory.
    staging: PathBuf,
    /// When true, `staging` is `<folder>/<name>` and is opened through the folder's descriptor.
    staging_in_folder: bool,
    /// The folder's own mode and mtime before the restore. Creating and removing a staging
    /// directory inside the folder moves its mtime, so it is set again afterwards.
    #[serde(default)]
    root_before: Option<(u32, i64)>,
    state: JournalState,
    ops: Vec<JournalOp>,
}

/// Where journals live: `<root>/journal/<id>.json`.
pub(crate) fn journal_dir(root: &Path) -> PathBuf {
    root.join("journal")
}

/// Applies `ops` to `folder` with the journal protocol described at the top of this file.
pub(crate) fn apply(
    root: &Path,
    blobs: &BlobStore,
    folder: &Path,
    ops: Vec<Op>,
    fault: Option<Fault>,
) -> Result<Vec<FailedOp>, CheckpointError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let folder_fd = fsx::open_root(folder).map_err(|e| CheckpointError::io(folder, e))?;
    let staging_root = root.join("staging");
    fs::create_dir_all(&staging_root).map_err(|e| CheckpointError::io(&staging_root, e))?;
    // Renames only work within one filesystem: stage in the data directory when it shares the
    // folder's filesystem (nothing appears in the folder), else in a hidden directory inside it.
    let same_fs = fsx::fstat(folder_fd.as_fd()).map(|m| m.dev).ok()
        == fsx::open_root(&staging_root)
            .and_then(|fd| fsx::fstat(fd.as_fd()))
            .map(|m| m.dev)
            .ok();
    let (staging, staging_in_folder) = if same_fs {
        (staging_root.join(&id), false)
    } else {
        (folder.join(format!("{STAGING_PREFIX}{id}")), true)
    };
    let root_before = fsx::fstat(folder_fd.as_fd())
        .map(|m| (m.mode, m.mtime_ns))
        .map_err(|e| CheckpointError::io(folder, e))?;
    let mut journal = Journal {
        version: 1,
        id: id.clone(),
        folder: folder.to_owned(),
        staging: staging.clone(),
        staging_in_folder,
        root_before: staging_in_folder.then_some(root_before),
        state: JournalState::Staging,
        ops: ops
            .into_iter()
            .enumerate()
            .map(|(i, op)| {
                let staged = matches!(op, Op::Put { .. }).then(|| format!("s{i}"));
                JournalOp { op, staged }
            })
            .collect(),
    };
    let jdir = journal_dir(root);
    fs::create_dir_all(&jdir).map_err(|e| CheckpointError::io(&jdir, e))?;
    let jpath = jdir.join(format!("{id}.json"));
    write_journal(&jpath, &journal)?;

    // Phase 1: staging. The folder is not touched, so any failure here is undone on the spot.
    let staged = (|| {
        let staging_fd = create_staging(&journal, folder_fd.as_fd())?;
        let mut step = 0usize;
        for jop in &journal.ops {
            let (Op::Put { entry }, Some(name)) = (&jop.op, &jop.staged) else {
                continue;
            };
            if let Some(Fault::DuringStaging { after }) = fault {
                if step >= after {
                    return Err(CheckpointError::InjectedFault);
                }
            }
            step += 1;
            stage(blobs, staging_fd.as_fd(), name, entry)?;
        }
        fsx::sync_fs(staging_fd.as_fd()).map_err(|e| CheckpointError::io(&staging, e))?;
        // The commit point.
        journal.state = JournalState::Committing;
        write_journal(&jpath, &journal)?;
        Ok(staging_fd)
    })();
    let staging_fd = match staged {
        Ok(fd) => fd,
        // A simulated crash leaves everything for `open` to find.
        Err(CheckpointError::InjectedFault) => return Err(CheckpointError::InjectedFault),
        Err(e) => {
            if journal.state == JournalState::Staging {
                remove_staging(&journal, folder_fd.as_fd());
                restore_root_meta(&journal, folder_fd.as_fd(), journal.root_before);
                let _ = fs::remove_file(&jpath);
            }
            return Err(e);
        }
    };

    // Phase 2: commit.
    let failed = commit(&journal, folder_fd.as_fd(), staging_fd.as_fd(), fault)?;
    finish(&jpath, &journal, folder_fd.as_fd())?;
    Ok(failed)
}

fn write_journal(path: &Path, journal: &Journal) -> Result<(), CheckpointError> {
    let bytes = serde_json::to_vec(journal).map_err(CheckpointError::Json)?;
    write_atomic(path, &bytes).map_err(|e| CheckpointError::io(path, e))
}

fn create_staging(
    journal: &Journal,
    folder_fd: BorrowedFd<'_>,
) -> Result<OwnedFd, CheckpointError> {
    let io_err = |e| CheckpointError::io(&journal.staging, e);
    if journal.staging_in_folder {
        let name = staging_name(journal)?;
        fsx::mkdir_at(folder_fd, name, 0o700).map_err(io_err)?;
        fsx::open_dir_at(folder_fd, name).map_err(io_err)
    } else {
        fs::create_dir(&journal.staging).map_err(io_err)?;
        fsx::open_root(&journal.staging).map_err(io_err)
    }
}

fn staging_name(journal: &Journal) -> Result<&str, CheckpointError> {
    journal
        .staging
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| n.starts_with(STAGING_PREFIX))
        .ok_or_else(|| {
            CheckpointError::Corrupt(format!("bad staging path in journal {}", journal.id))
        })
}

fn open_staging(journal: &Journal, folder_fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    if journal.staging_in_folder {
        let name = staging_name(journal)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        fsx::open_dir_at(folder_fd, name)
    } else {
        fsx::open_root(&journal.staging)
    }
}

fn stage(
    blobs: &BlobStore,
    dir: BorrowedFd<'_>,
    name: &str,
    entry: &Entry,
) -> Result<(), CheckpointError> {
    match entry.kind {
        Kind::File => {
            let hash = entry.hash.ok_or_else(|| {
                CheckpointError::Corrupt(format!("file without hash: {}", entry.path))
            })?;
            if !blobs.contains(&hash) {
                return Err(CheckpointError::BlobMissing {
                    path: entry.path.clone(),
                    hash: hash.to_hex(),
                });
            }
            blobs
                .materialize(&hash, dir, name, entry.mode, entry.mtime_ns)
                .map_err(|e| CheckpointError::io(Path::new(&entry.path), e))
        }
        Kind::Symlink => {
            let target = entry.target.as_deref().ok_or_else(|| {
                CheckpointError::Corrupt(format!("symlink without target: {}", entry.path))
            })?;
            fsx::symlink_at(target, dir, name)
                .and_then(|()| fsx::set_mtime_nofollow(dir, name, entry.mtime_ns))
                .map_err(|e| CheckpointError::io(Path::new(&entry.path), e))
        }
        Kind::Dir => Err(CheckpointError::Corrupt(format!(
            "directory staged: {}",
            entry.path
        ))),
    }
}

/// Runs every commit step; each is idempotent, so this is also the roll-forward after a crash.
fn commit(
    journal: &Journal,
    folder_fd: BorrowedFd<'_>,
    staging_fd: BorrowedFd<'_>,
    fault: Option<Fault>,
) -> Result<Vec<FailedOp>, CheckpointError> {
    let mut failed = Vec::new();
    for (step, jop) in journal.ops.iter().enumerate() {
        if let Some(Fault::DuringCommit { after }) = fault {
            if step >= after {
                return Err(CheckpointError::InjectedFault);
            }
        }
        if let Some(Fault::SlowCommit { step_delay }) = fault {
            std::thread::sleep(step_delay);
        }
        if let Err(e) = commit_step(folder_fd, staging_fd, jop) {
            warn!(restore = %journal.id, path = %jop.op.path(), error = %e, "restore step failed");
            failed.push(FailedOp {
                path: jop.op.path().to_owned(),
                error: e.to_string(),
            });
        }
    }
    Ok(failed)
}

fn commit_step(root: BorrowedFd<'_>, staging: BorrowedFd<'_>, jop: &JournalOp) -> io::Result<()> {
    match &jop.op {
        Op::Remove { path, kind } => {
            let (parent, name) = match fsx::open_parent(root, path) {
                Ok(Some(x)) => x,
                Ok(None) => return Ok(()),
                // The parent is already gone: so is the entry.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            match fsx::try_stat_at(parent.as_fd(), name)? {
                Some(m) if m.kind == Some(*kind) => {
                    if *kind == Kind::Dir {
                        fsx::rmdir_at(parent.as_fd(), name)
                    } else {
                        fsx::unlink_at(parent.as_fd(), name)
                    }
                }
                // Absent, or already replaced by what comes next: done on an earlier run.
                _ => Ok(()),
            }
        }
        Op::Mkdir { path } => {
            let Some((parent, name)) = fsx::open_parent(root, path)? else {
                return Ok(());
            };
            match fsx::try_stat_at(parent.as_fd(), name)? {
                Some(m) if m.kind == Some(Kind::Dir) => Ok(()),
                _ => fsx::mkdir_at(parent.as_fd(), name, 0o700),
            }
        }
        Op::Put { entry } => {
            let Some(staged) = &jop.staged else {
                return Ok(());
            };
            if fsx::try_stat_at(staging, staged)?.is_none() {
                return Ok(()); // Renamed on an earlier run.
            }
            let Some((parent, name)) = fsx::open_parent(root, &entry.path)? else {
                return Ok(());
            };
            fsx::rename_at(staging, staged, parent.as_fd(), name)
        }
        Op::DirMeta {
            path,
            mode,
            mtime_ns,
        } => {
            let dir = fsx::open_dir_rel(root, path)?;
            fsx::set_meta_fd(dir.as_fd(), *mode, *mtime_ns)
        }
    }
}

fn finish(
    jpath: &Path,
    journal: &Journal,
    folder_fd: BorrowedFd<'_>,
) -> Result<(), CheckpointError> {
    remove_staging(journal, folder_fd);
    // The folder's final mode and time: the restored ones if the plan set them, else as before.
    let root_meta = journal
        .ops
        .iter()
        .find_map(|j| match &j.op {
            Op::DirMeta {
                path,
                mode,
                mtime_ns,
            } if path.is_empty() => Some((*mode, *mtime_ns)),
            _ => None,
        })
        .or(journal.root_before);
    restore_root_meta(journal, folder_fd, root_meta);
    fsx::sync_fs(folder_fd).map_err(|e| CheckpointError::io(&journal.folder, e))?;
    fs::remove_file(jpath).map_err(|e| CheckpointError::io(jpath, e))
}

fn restore_root_meta(journal: &Journal, folder_fd: BorrowedFd<'_>, meta: Option<(u32, i64)>) {
    if !journal.staging_in_folder {
        return;
    }
    if let Some((mode, mtime_ns)) = meta {
        if let Err(e) = fsx::set_meta_fd(folder_fd, mode, mtime_ns) {
            warn!(restore = %journal.id, error = %e, "could not reset the folder's mtime");
        }
    }
}

fn remove_staging(journal: &Journal, folder_fd: BorrowedFd<'_>) {
    // remove_dir_all does not follow a symlink, so a staging directory the guest replaced with a
    // link only loses the link.
    let result = if journal.staging_in_folder {
        match staging_name(journal) {
            Ok(name) => match fsx::try_stat_at(folder_fd, name) {
                Ok(Some(_)) => fs::remove_dir_all(&journal.staging),
                _ => Ok(()),
            },
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        }
    } else {
        match fs::remove_dir_all(&journal.staging) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    };
    if let Err(e) = result {
        warn!(restore = %journal.id, path = %journal.staging.display(), error = %e, "could not remove the staging directory");
    }
}

/// Finishes or discards every restore a crash interrupted.
pub(crate) fn recover(root: &Path) -> Result<Vec<Recovery>, CheckpointError> {
    let jdir = journal_dir(root);
    let mut out = Vec::new();
    let entries = match fs::read_dir(&jdir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(CheckpointError::io(&jdir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| CheckpointError::io(&jdir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| CheckpointError::io(&path, e))?;
        let journal: Journal = serde_json::from_slice(&bytes).map_err(CheckpointError::Json)?;
        let folder_fd = match fsx::open_root(&journal.folder) {
            Ok(fd) => fd,
            Err(e) => {
                // The folder is gone or unreachable (an unmounted disk): keep the journal for later.
                warn!(restore = %journal.id, folder = %journal.folder.display(), error = %e, "cannot recover restore now");
                continue;
            }
        };
        let outcome = match journal.state {
            JournalState::Staging => {
                remove_staging(&journal, folder_fd.as_fd());
                restore_root_meta(&journal, folder_fd.as_fd(), journal.root_before);
                fs::remove_file(&path).map_err(|e| CheckpointError::io(&path, e))?;
                RecoveryOutcome::RolledBack
            }
            JournalState::Committing => {
                let staging_fd = open_staging(&journal, folder_fd.as_fd())
                    .map_err(|e| CheckpointError::io(&journal.staging, e))?;
                let failed = commit(&journal, folder_fd.as_fd(), staging_fd.as_fd(), None)?;
                finish(&path, &journal, folder_fd.as_fd())?;
                RecoveryOutcome::RolledForward { failed }
            }
        };
        info!(restore = %journal.id, folder = %journal.folder.display(), ?outcome, "recovered an interrupted restore");
        out.push(Recovery {
            restore_id: journal.id,
            folder: journal.folder,
            outcome,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::blobs::hash_bytes;

    fn file(path: &str, content: &[u8]) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File,
            mode: 0o644,
            mtime_ns: 1,
            size: content.len() as u64,
            hash: Some(hash_bytes(content)),
            target: None,
            ctime_ns: 0,
            ino: 0,
        }
    }

    fn dir(path: &str) -> Entry {
        Entry {
            kind: Kind::Dir,
            size: 0,
            hash: None,
            mode: 0o755,
            ..file(path, b"")
        }
    }

    fn manifest(entries: Vec<Entry>) -> Manifest {
        Manifest::for_tests(entries)
    }

    #[test]
    fn changed_scope_leaves_other_user_edits_alone_and_reports_conflicts() {
        let before = manifest(vec![
            dir(""),
            file("a", b"1"),
            file("b", b"1"),
            file("c", b"1"),
        ]);
        // The agent changed a and deleted c.
        let after = manifest(vec![dir(""), file("a", b"agent"), file("b", b"1")]);
        // Then the user edited a again and b too.
        let disk = vec![dir(""), file("a", b"user"), file("b", b"user")];
        let Planned { ops, conflicts, .. } =
            plan(&before, &after, &disk, &RestoreScope::Changed).unwrap();
        let paths: Vec<_> = ops.iter().map(Op::path).collect();
        assert!(
            paths.contains(&"a") && paths.contains(&"c") && !paths.contains(&"b"),
            "{ops:?}"
        );
        assert_eq!(
            conflicts
                .iter()
                .map(|c| c.path.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
    }

    #[test]
    fn a_directory_replacing_a_file_is_removed_with_its_contents_first() {
        let target = manifest(vec![dir(""), file("x", b"file")]);
        let expected = manifest(vec![dir(""), dir("x"), file("x/inner", b"i")]);
        let disk = expected.entries.clone();
        let Planned { ops, conflicts, .. } =
            plan(&target, &expected, &disk, &RestoreScope::Changed).unwrap();
        assert!(conflicts.is_empty());
        let kinds: Vec<_> = ops
            .iter()
            .map(|op| match op {
                Op::Remove { path, .. } => format!("rm {path}"),
                Op::Mkdir { path } => format!("mkdir {path}"),
                Op::Put { entry } => format!("put {}", entry.path),
                Op::DirMeta { path, .. } => format!("meta {path}"),
            })
            .collect();
        assert_eq!(kinds, ["rm x/inner", "rm x", "put x", "meta "]);
    }

    #[test]
    fn keep_conflicts_keeps_the_directory_holding_a_user_file() {
        let target = manifest(vec![dir("")]);
        let expected = manifest(vec![dir(""), dir("d"), file("d/agent", b"a")]);
        let disk = vec![
            dir(""),
            dir("d"),
            file("d/agent", b"a"),
            file("d/user", b"u"),
        ];
        let Planned {
            ops,
            conflicts,
            seen,
        } = plan(&target, &expected, &disk, &RestoreScope::Changed).unwrap();
        assert_eq!(conflicts.len(), 1);
        let p = RestorePlan {
            folder: "/x".into(),
            target: target.id.clone(),
            expected_now: expected.id.clone(),
            skip_git: false,
            ops,
            conflicts,
            seen,
        };
        let (ops, kept) = resolve(&p, Resolution::KeepConflicts);
        assert_eq!(kept, ["d", "d/user"]);
        let paths: Vec<_> = ops
            .iter()
            .filter(|o| !matches!(o, Op::DirMeta { .. }))
            .map(Op::path)
            .collect();
        assert_eq!(paths, ["d/agent"]);
    }

    #[test]
    fn paths_with_dot_dot_are_refused() {
        let m = manifest(vec![dir("")]);
        let scope = RestoreScope::Paths(vec!["../etc".into()]);
        assert!(matches!(
            plan(&m, &m, &[], &scope),
            Err(CheckpointError::UnsafePath(_))
        ));
    }
}
