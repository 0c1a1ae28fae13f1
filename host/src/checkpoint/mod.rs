//! Checkpoints of shared folders, for undo (issue 7).
//!
//! Before a turn's first mutating tool call the session takes a [`Checkpoints::snapshot`] of each
//! folder; after the turn, [`Checkpoints::changes`] says what the turn did, whatever tool did it.
//! Undo is [`Checkpoints::plan_restore`] (shows conflicts: paths the user changed after the agent)
//! then [`Checkpoints::apply_restore`], which first snapshots the current state so the undo can
//! itself be undone.
//!
//! Everything is computed on the host from the folder on disk; the guest is not trusted with any of
//! it, and every file operation inside the folder refuses to follow symlinks (see `fsx`).
//!
//! Layout of the store (`<data_dir>/checkpoints`):
//!
//! - `blobs/ab/cdef…`: file contents by SHA-256 (`blobs`), reflinked where the filesystem can.
//! - `snapshots/<id>.json`: one manifest per snapshot (`manifest`).
//! - `folders/<key>`: the newest snapshot of each folder, the stat cache of the next scan.
//! - `journal/<id>.json` and `staging/<id>/`: restores in progress (`restore`).
//! - `tmp/`: blobs being written. `lock`: shared by writers, exclusive for [`Checkpoints::gc`].
//!
//! Modules: `fsx` (fd-relative file operations), `scan` (folder → entries), `blobs` (content
//! store), `manifest` (records, ids), `diff` (changes, text diffs), `restore` (plans, journal,
//! recovery), `gc` (retention, disk use).

mod blobs;
mod diff;
mod fsx;
mod gc;
mod manifest;
mod restore;
mod scan;

use std::{
    fs, io,
    os::fd::{AsFd, OwnedFd},
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use tracing::{debug, info};

pub use diff::{Change, TEXT_DIFF_LIMIT};
pub use fsx::display_name;
pub use gc::{GcReport, Retention};
pub use manifest::{Entry, Hash, Kind, Manifest, Skipped, SnapshotId};
pub use restore::{
    Conflict, FailedOp, Op, Recovery, RecoveryOutcome, Resolution, RestorePlan, RestoreReport,
    RestoreScope,
};

use blobs::BlobStore;
use scan::{Cache, Content};

/// Errors of the checkpoint store.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A file operation failed; `path` is the file (or, inside a folder, the relative path).
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// The snapshot would copy more than the cap allows. Returned before anything is copied, so
    /// the caller can offer to run the turn without undo.
    #[error("checkpoint needs {needed} bytes, over the cap of {cap}")]
    TooLarge { needed: u64, cap: u64 },
    #[error("no snapshot {0}")]
    NotFound(SnapshotId),
    #[error("invalid snapshot id {0:?}")]
    BadId(String),
    #[error("unsafe path {0:?}")]
    UnsafePath(String),
    /// A snapshot of another folder was passed (e.g. a mixed-up id from the database).
    #[error("snapshot {snapshot} is of {snapshot_folder}, not {folder}")]
    WrongFolder {
        snapshot: SnapshotId,
        snapshot_folder: PathBuf,
        folder: PathBuf,
    },
    /// The folder changed between `plan_restore` and `apply_restore`: plan again.
    #[error("the folder changed since the restore was planned: {paths:?}")]
    PlanStale { paths: Vec<String> },
    /// The content to restore was garbage-collected (the snapshot itself should have been too).
    #[error("content of {path} ({hash}) is no longer in the store")]
    BlobMissing { path: String, hash: String },
    #[error("corrupt checkpoint data: {0}")]
    Corrupt(String),
    #[error("checkpoint data: {0}")]
    Json(#[source] serde_json::Error),
    /// Only from [`Checkpoints::inject_fault`] (tests): the operation stopped as if the process died.
    #[error("injected fault")]
    InjectedFault,
}

impl CheckpointError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Options of one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Refuse ([`CheckpointError::TooLarge`]) when more than this many bytes of files look changed
    /// since the previous snapshot (all of them for a first snapshot). An upper bound of what is
    /// copied: content already in the store is not copied again.
    pub max_new_bytes: Option<u64>,
    /// Leave `.git` directories out (they are protected by default).
    pub skip_git: bool,
}

/// What a snapshot would read, from a metadata-only scan ([`Checkpoints::estimate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub entries: usize,
    /// Files that look changed since the previous snapshot.
    pub files_to_read: usize,
    pub bytes_to_read: u64,
    /// Size of all files of the folder.
    pub total_bytes: u64,
}

/// Test hooks: make a restore stop as if the process died, or slow it down so a test can kill it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    DuringStaging { after: usize },
    DuringCommit { after: usize },
    SlowCommit { step_delay: Duration },
}

/// The checkpoint store. Methods are blocking (run them with `spawn_blocking`) and may be called
/// from several threads; `gc` waits for snapshots and restores in progress, including other
/// processes', through a file lock.
#[derive(Debug)]
pub struct Checkpoints {
    root: PathBuf,
    blobs: BlobStore,
    recovered: Vec<Recovery>,
    fault: Mutex<Option<Fault>>,
}

impl Checkpoints {
    /// Opens (creating) the store at `root`, normally `<data_dir>/checkpoints`, and finishes or
    /// rolls back any restore a crash interrupted; see [`Checkpoints::recovered`].
    pub fn open(root: &Path) -> Result<Self, CheckpointError> {
        for dir in ["snapshots", "folders", "journal", "staging"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(|e| CheckpointError::io(&path, e))?;
        }
        let blobs = BlobStore::open(root).map_err(|e| CheckpointError::io(root, e))?;
        let mut this = Self {
            root: root.to_owned(),
            blobs,
            recovered: Vec::new(),
            fault: Mutex::new(None),
        };
        // Exclusive: a restore still running in another process holds the shared lock, and its
        // journal must not be mistaken for a crashed one.
        let _lock = this.lock(true)?;
        this.recovered = restore::recover(root)?;
        Ok(this)
    }

    /// The restores `open` rolled back or forward.
    pub fn recovered(&self) -> &[Recovery] {
        &self.recovered
    }

    #[doc(hidden)]
    pub fn inject_fault(&self, fault: Option<Fault>) {
        if let Ok(mut f) = self.fault.lock() {
            *f = fault;
        }
    }

    fn fault(&self) -> Option<Fault> {
        self.fault.lock().ok().and_then(|f| *f)
    }

    fn lock(&self, exclusive: bool) -> Result<OwnedFd, CheckpointError> {
        let path = self.root.join("lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| CheckpointError::io(&path, e))?;
        let fd = OwnedFd::from(file);
        fsx::lock(fd.as_fd(), exclusive).map_err(|e| CheckpointError::io(&path, e))?;
        Ok(fd)
    }

    fn canonical(folder: &Path) -> Result<PathBuf, CheckpointError> {
        fs::canonicalize(folder).map_err(|e| CheckpointError::io(folder, e))
    }

    fn folder_key_path(&self, folder: &Path) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let hex = blobs::hash_bytes(folder.as_os_str().as_bytes()).to_hex();
        self.root.join("folders").join(&hex[..32])
    }

    /// The newest snapshot of `folder`, if any.
    pub fn latest(&self, folder: &Path) -> Result<Option<SnapshotId>, CheckpointError> {
        let folder = Self::canonical(folder)?;
        let path = self.folder_key_path(&folder);
        match fs::read_to_string(&path) {
            Ok(s) => Ok(s.trim().parse().ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CheckpointError::io(&path, e)),
        }
    }

    /// The manifest of a snapshot.
    pub fn manifest(&self, id: &SnapshotId) -> Result<Manifest, CheckpointError> {
        Ok(self.resolve(id)?.0)
    }

    fn snapshot_path(&self, id: &SnapshotId) -> PathBuf {
        self.root.join("snapshots").join(format!("{id}.json"))
    }

    /// A snapshot's file as stored (whole, or a difference from its base).
    pub(crate) fn stored(&self, id: &SnapshotId) -> Result<manifest::Stored, CheckpointError> {
        let path = self.snapshot_path(id);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CheckpointError::NotFound(id.clone()))
            }
            Err(e) => return Err(CheckpointError::io(&path, e)),
        };
        serde_json::from_slice(&bytes).map_err(CheckpointError::Json)
    }

    /// The whole manifest of `id` and how many differences it is stored behind.
    fn resolve(&self, id: &SnapshotId) -> Result<(Manifest, u32), CheckpointError> {
        let mut chain = vec![self.stored(id)?];
        while let Some(base) = chain.last().and_then(|s| s.base.clone()) {
            // Depth is bounded when writing; a longer chain is a cycle or a damaged store.
            if chain.len() > manifest::MAX_CHAIN as usize + 1 {
                return Err(CheckpointError::Corrupt(format!(
                    "snapshot {id}: chain of differences longer than {}",
                    manifest::MAX_CHAIN
                )));
            }
            chain.push(self.stored(&base).map_err(|e| match e {
                CheckpointError::NotFound(missing) => CheckpointError::Corrupt(format!(
                    "snapshot {id} is stored against {missing}, which is missing"
                )),
                other => other,
            })?);
        }
        let depth = u32::try_from(chain.len() - 1).unwrap_or(u32::MAX);
        let mut whole: Option<Manifest> = None;
        while let Some(stored) = chain.pop() {
            whole = Some(stored.into_manifest(whole)?);
        }
        let whole = whole.ok_or_else(|| CheckpointError::Corrupt(format!("snapshot {id}")))?;
        Ok((whole, depth))
    }

    /// Stores `manifest` (against `base` when that is smaller) and makes it its folder's newest.
    fn write_manifest(
        &self,
        manifest: &Manifest,
        base: Option<(&Manifest, u32)>,
    ) -> Result<(), CheckpointError> {
        let stored = manifest::Stored::new(manifest, base);
        let path = self.snapshot_path(&manifest.id);
        let bytes = serde_json::to_vec(&stored).map_err(CheckpointError::Json)?;
        manifest::write_atomic(&path, &bytes).map_err(|e| CheckpointError::io(&path, e))
    }

    /// Rewrites a snapshot stored as a difference as a whole manifest, so its base can go (gc).
    pub(crate) fn store_whole(&self, id: &SnapshotId) -> Result<(), CheckpointError> {
        let (manifest, _) = self.resolve(id)?;
        self.write_manifest(&manifest, None)
    }

    fn manifest_of(&self, id: &SnapshotId, folder: &Path) -> Result<Manifest, CheckpointError> {
        let m = self.manifest(id)?;
        if m.folder != folder {
            return Err(CheckpointError::WrongFolder {
                snapshot: id.clone(),
                snapshot_folder: m.folder,
                folder: folder.to_owned(),
            });
        }
        Ok(m)
    }

    /// The folder's newest snapshot and its depth: the stat cache and base of the next one.
    fn previous(&self, folder: &Path) -> Option<(Manifest, u32)> {
        let id = self.latest(folder).ok()??;
        self.resolve(&id).ok()
    }

    /// A metadata-only scan: how much a snapshot would read. Cheap (no file is opened); use it to
    /// warn before a turn starts.
    pub fn estimate(
        &self,
        folder: &Path,
        opts: &SnapshotOptions,
    ) -> Result<Estimate, CheckpointError> {
        let folder = Self::canonical(folder)?;
        let prev = self.previous(&folder);
        let cache = prev.as_ref().map(|(m, _)| Cache::new(m));
        let root = fsx::open_root(&folder).map_err(|e| CheckpointError::io(&folder, e))?;
        let walk = scan::walk(root.as_fd(), cache.as_ref(), opts.skip_git)
            .map_err(|e| CheckpointError::io(&folder, e))?;
        Ok(Estimate {
            entries: walk.entries.len(),
            files_to_read: walk.needs_content.len(),
            bytes_to_read: walk.bytes_to_read,
            total_bytes: walk.entries.iter().map(|e| e.size).sum(),
        })
    }

    /// Records the folder as it is now. Incremental: files whose size, times and inode match the
    /// previous snapshot of the same folder are not read again.
    pub fn snapshot(
        &self,
        folder: &Path,
        opts: &SnapshotOptions,
    ) -> Result<SnapshotId, CheckpointError> {
        let _lock = self.lock(false)?;
        let folder = Self::canonical(folder)?;
        let started = std::time::Instant::now();
        let prev = self.previous(&folder);
        let cache = prev.as_ref().map(|(m, _)| Cache::new(m));
        let root = fsx::open_root(&folder).map_err(|e| CheckpointError::io(&folder, e))?;
        let mut walk = scan::walk(root.as_fd(), cache.as_ref(), opts.skip_git)
            .map_err(|e| CheckpointError::io(&folder, e))?;
        if let Some(cap) = opts.max_new_bytes {
            if walk.bytes_to_read > cap {
                return Err(CheckpointError::TooLarge {
                    needed: walk.bytes_to_read,
                    cap,
                });
            }
        }
        let files_read = walk.needs_content.len();
        let bytes_added =
            scan::read_contents(root.as_fd(), &mut walk, &Content::Store(&self.blobs))
                .map_err(|e| CheckpointError::io(&folder, e))?;
        if bytes_added > 0 {
            // One flush for all new blobs, before the manifest that refers to them exists.
            let blobs = fsx::open_root(self.blobs.blobs_dir())
                .and_then(|fd| fsx::sync_fs(fd.as_fd()))
                .map_err(|e| CheckpointError::io(self.blobs.blobs_dir(), e));
            blobs?;
        }
        let id = SnapshotId::generate();
        let manifest = Manifest {
            version: manifest::MANIFEST_VERSION,
            id: id.clone(),
            folder: folder.clone(),
            created_at_ms: manifest::now_ns() / 1_000_000,
            scan_started_ns: walk.scan_started_ns,
            skip_git: opts.skip_git,
            bytes_added,
            entries: walk.entries,
            skipped: walk.skipped,
        };
        self.write_manifest(&manifest, prev.as_ref().map(|(m, depth)| (m, *depth)))?;
        let key = self.folder_key_path(&folder);
        manifest::write_atomic(&key, id.as_str().as_bytes())
            .map_err(|e| CheckpointError::io(&key, e))?;
        info!(
            snapshot = %id,
            folder = %folder.display(),
            entries = manifest.entries.len(),
            files_read,
            bytes_added,
            skipped = manifest.skipped.len(),
            elapsed_ms = started.elapsed().as_millis(),
            "checkpoint taken"
        );
        Ok(id)
    }

    /// What changed from one snapshot to another (of the same folder).
    pub fn changes(
        &self,
        from: &SnapshotId,
        to: &SnapshotId,
    ) -> Result<Vec<Change>, CheckpointError> {
        let from = self.manifest(from)?;
        let to = self.manifest_of(to, &from.folder)?;
        Ok(diff::compare(&from, &to))
    }

    /// What changed on disk since a snapshot, without storing anything (files that look changed
    /// are hashed). Text diffs of these changes are not available (their content is not stored).
    pub fn changes_on_disk(
        &self,
        since: &SnapshotId,
        folder: &Path,
    ) -> Result<Vec<Change>, CheckpointError> {
        let folder = Self::canonical(folder)?;
        let since = self.manifest_of(since, &folder)?;
        let now = self.scan_hash_only(&folder, &since, since.skip_git)?;
        Ok(diff::compare(&since, &now))
    }

    fn scan_hash_only(
        &self,
        folder: &Path,
        cache: &Manifest,
        skip_git: bool,
    ) -> Result<Manifest, CheckpointError> {
        let root = fsx::open_root(folder).map_err(|e| CheckpointError::io(folder, e))?;
        let cache = Cache::new(cache);
        let mut walk = scan::walk(root.as_fd(), Some(&cache), skip_git)
            .map_err(|e| CheckpointError::io(folder, e))?;
        scan::read_contents(root.as_fd(), &mut walk, &Content::HashOnly)
            .map_err(|e| CheckpointError::io(folder, e))?;
        Ok(Manifest {
            version: manifest::MANIFEST_VERSION,
            id: SnapshotId::generate(),
            folder: folder.to_owned(),
            created_at_ms: manifest::now_ns() / 1_000_000,
            scan_started_ns: walk.scan_started_ns,
            skip_git,
            bytes_added: 0,
            entries: walk.entries,
            skipped: walk.skipped,
        })
    }

    /// A unified diff for a change between text files (an absent side is empty), `None` for
    /// binary files, files over [`TEXT_DIFF_LIMIT`], non-files, or content not in the store.
    pub fn text_diff(&self, change: &Change) -> Result<Option<String>, CheckpointError> {
        let side = |e: Option<&Entry>| -> Result<Option<Vec<u8>>, CheckpointError> {
            match e {
                None => Ok(Some(Vec::new())),
                Some(e) if e.kind != Kind::File => Ok(None),
                Some(e) => {
                    let Some(hash) = e.hash else { return Ok(None) };
                    if !self.blobs.contains(&hash) {
                        return Ok(None);
                    }
                    self.blobs
                        .read_limited(&hash, TEXT_DIFF_LIMIT)
                        .map_err(|err| CheckpointError::io(Path::new(&e.path), err))
                }
            }
        };
        let (Some(old), Some(new)) = (side(change.before())?, side(change.after())?) else {
            return Ok(None);
        };
        let old_name = change
            .before()
            .map_or("/dev/null".to_owned(), |e| format!("a/{}", e.path));
        let new_name = change
            .after()
            .map_or("/dev/null".to_owned(), |e| format!("b/{}", e.path));
        Ok(diff::unified(&old, &new, &old_name, &new_name))
    }

    /// Plans putting `folder` back to `target`. `expected_now` is the snapshot the folder should
    /// match now (taken right after the turn); paths that differ from it are [`Conflict`]s.
    pub fn plan_restore(
        &self,
        folder: &Path,
        target: &SnapshotId,
        expected_now: &SnapshotId,
        scope: RestoreScope,
    ) -> Result<RestorePlan, CheckpointError> {
        let folder = Self::canonical(folder)?;
        let target_m = self.manifest_of(target, &folder)?;
        let expected_m = self.manifest_of(expected_now, &folder)?;
        let skip_git = target_m.skip_git || expected_m.skip_git;
        let disk = self.scan_hash_only(&folder, &expected_m, skip_git)?;
        let restore::Planned {
            ops,
            conflicts,
            seen,
        } = restore::plan(&target_m, &expected_m, &disk.entries, &scope)?;
        debug!(folder = %folder.display(), target = %target, ops = ops.len(), conflicts = conflicts.len(), "restore planned");
        Ok(RestorePlan {
            folder,
            target: target.clone(),
            expected_now: expected_now.clone(),
            skip_git,
            ops,
            conflicts,
            seen,
        })
    }

    /// Applies a plan: snapshots the folder first (the redo point), checks the folder still looks
    /// as planned, then restores with a journal (see `restore`) and snapshots the result.
    pub fn apply_restore(
        &self,
        plan: &RestorePlan,
        resolution: Resolution,
    ) -> Result<RestoreReport, CheckpointError> {
        let _lock = self.lock(false)?;
        let opts = SnapshotOptions {
            max_new_bytes: None,
            skip_git: plan.skip_git,
        };
        let redo_point = self.snapshot(&plan.folder, &opts)?;
        let now = self.manifest(&redo_point)?;
        let now_by_path = now.by_path();
        let stale: Vec<String> = plan
            .seen
            .iter()
            .filter(
                |(path, seen)| match (seen.as_ref(), now_by_path.get(path.as_str())) {
                    (None, None) => false,
                    (Some(a), Some(b)) => !a.same_restorable(b),
                    _ => true,
                },
            )
            .map(|(p, _)| p.clone())
            .collect();
        if !stale.is_empty() {
            return Err(CheckpointError::PlanStale { paths: stale });
        }
        let (ops, kept) = restore::resolve(plan, resolution);
        let applied = ops.len();
        let failed = restore::apply(&self.root, &self.blobs, &plan.folder, ops, self.fault())?;
        let after = self.snapshot(&plan.folder, &opts)?;
        info!(
            folder = %plan.folder.display(),
            target = %plan.target,
            redo_point = %redo_point,
            applied,
            kept = kept.len(),
            failed = failed.len(),
            "restore applied"
        );
        Ok(RestoreReport {
            redo_point,
            after,
            applied,
            kept,
            failed,
        })
    }

    /// Removes snapshots beyond the retention (never the newest of a folder, never `pinned`) and
    /// then every blob no remaining snapshot refers to.
    pub fn gc(
        &self,
        retention: Retention,
        pinned: &[SnapshotId],
    ) -> Result<GcReport, CheckpointError> {
        let _lock = self.lock(true)?;
        gc::collect(self, retention, pinned)
    }

    /// Bytes the store occupies on disk.
    pub fn disk_use(&self) -> Result<u64, CheckpointError> {
        gc::disk_use(&self.root)
    }

    /// Every snapshot in the store, oldest first.
    pub fn list(&self) -> Result<Vec<SnapshotId>, CheckpointError> {
        gc::list_snapshots(&self.root.join("snapshots"))
    }
}
