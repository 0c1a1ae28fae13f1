//! Retention of snapshots, removal of blobs no snapshot needs, and the store's disk use.

use std::{
    collections::{BTreeMap, HashSet},
    fs, io,
    os::unix::fs::MetadataExt,
    path::Path,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tracing::{info, warn};

use super::{
    manifest::{Hash, SnapshotId},
    CheckpointError, Checkpoints,
};

/// How long snapshots are kept. A snapshot is removed when it is older than `max_age` **or** not
/// among the `keep_last` newest of its folder; the newest snapshot of each folder (the next
/// snapshot's cache and the undo point of the last turn) and pinned snapshots are always kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub keep_last: usize,
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            keep_last: 50,
            max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub snapshots_removed: Vec<SnapshotId>,
    pub blobs_removed: u64,
    pub bytes_freed: u64,
}

/// Temporary files older than this in `tmp/` are leftovers of a crashed snapshot.
const TMP_MAX_AGE: Duration = Duration::from_secs(3600);

pub(crate) fn collect(
    cp: &Checkpoints,
    retention: Retention,
    pinned: &[SnapshotId],
) -> Result<GcReport, CheckpointError> {
    let snapshots_dir = &cp.root.join("snapshots");
    let blobs = &cp.blobs;
    let ids = list_snapshots(snapshots_dir)?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let max_age_ms = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);

    // First pass: who is whose, how old, and stored against what (files as stored: a difference
    // is small, and manifests are dropped right away to bound memory).
    let mut by_folder: BTreeMap<std::path::PathBuf, Vec<(SnapshotId, i64)>> = BTreeMap::new();
    let mut bases: Vec<(SnapshotId, SnapshotId)> = Vec::new();
    for id in &ids {
        match cp.stored(id) {
            Ok(m) => {
                if let Some(base) = m.base {
                    bases.push((m.id.clone(), base));
                }
                by_folder
                    .entry(m.folder)
                    .or_default()
                    .push((m.id, m.created_at_ms));
            }
            Err(e) => warn!(snapshot = %id, error = %e, "unreadable snapshot kept as is"),
        }
    }
    let mut removed = Vec::new();
    for snaps in by_folder.values_mut() {
        snaps.sort();
        let n = snaps.len();
        for (i, (id, created)) in snaps.iter().enumerate() {
            let newest_rank = n - 1 - i;
            if newest_rank == 0 || pinned.contains(id) {
                continue;
            }
            let too_old = now_ms.saturating_sub(*created) > max_age_ms;
            if newest_rank >= retention.keep_last || too_old {
                removed.push(id.clone());
            }
        }
    }
    // A snapshot that stays but is stored against one that goes is stored whole first; until all
    // of them are, nothing is removed, so a crash in between loses nothing.
    let going: HashSet<&SnapshotId> = removed.iter().collect();
    for (id, base) in &bases {
        if going.contains(base) && !going.contains(id) {
            cp.store_whole(id)?;
        }
    }
    for id in &removed {
        let path = snapshots_dir.join(format!("{id}.json"));
        fs::remove_file(&path).map_err(|e| CheckpointError::io(&path, e))?;
    }

    // Second pass: every blob a remaining snapshot needs. The entries of the stored files are
    // enough: each entry of a snapshot is in its own file or in one of its bases', all of which
    // remain.
    let mut live: HashSet<Hash> = HashSet::new();
    for id in list_snapshots(snapshots_dir)? {
        // An unreadable manifest keeps nothing alive; it was logged above. Refusing to collect
        // would be safer for it but would let one bad file grow the store forever.
        if let Ok(m) = cp.stored(&id) {
            live.extend(m.entries.iter().filter_map(|e| e.hash));
        }
    }
    let mut report = GcReport {
        snapshots_removed: removed,
        ..GcReport::default()
    };
    for shard in read_dir_or_empty(blobs.blobs_dir())? {
        let shard = shard.map_err(|e| CheckpointError::io(blobs.blobs_dir(), e))?;
        let shard_name = shard.file_name().to_string_lossy().into_owned();
        for blob in read_dir_or_empty(&shard.path())? {
            let blob = blob.map_err(|e| CheckpointError::io(&shard.path(), e))?;
            let name = format!("{shard_name}{}", blob.file_name().to_string_lossy());
            let keep = Hash::from_hex(&name).is_some_and(|h| live.contains(&h));
            if !keep {
                let meta = blob
                    .metadata()
                    .map_err(|e| CheckpointError::io(&blob.path(), e))?;
                fs::remove_file(blob.path()).map_err(|e| CheckpointError::io(&blob.path(), e))?;
                report.blobs_removed += 1;
                report.bytes_freed += meta.blocks() * 512;
            }
        }
    }
    for tmp in read_dir_or_empty(blobs.tmp_dir())? {
        let tmp = tmp.map_err(|e| CheckpointError::io(blobs.tmp_dir(), e))?;
        let old = tmp
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > TMP_MAX_AGE);
        if old {
            let _ = fs::remove_file(tmp.path());
        }
    }
    info!(
        snapshots_removed = report.snapshots_removed.len(),
        blobs_removed = report.blobs_removed,
        bytes_freed = report.bytes_freed,
        "checkpoint gc"
    );
    Ok(report)
}

pub(crate) fn list_snapshots(dir: &Path) -> Result<Vec<SnapshotId>, CheckpointError> {
    let mut ids = Vec::new();
    for entry in read_dir_or_empty(dir)? {
        let entry = entry.map_err(|e| CheckpointError::io(dir, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if let Ok(id) = stem.parse::<SnapshotId>() {
            ids.push(id);
        }
    }
    ids.sort();
    Ok(ids)
}

fn read_dir_or_empty(
    dir: &Path,
) -> Result<Box<dyn Iterator<Item = io::Result<fs::DirEntry>>>, CheckpointError> {
    match fs::read_dir(dir) {
        Ok(it) => Ok(Box::new(it)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Box::new(std::iter::empty())),
        Err(e) => Err(CheckpointError::io(dir, e)),
    }
}

/// Bytes allocated under `root` (blocks, so sparse files and small files count what they use).
/// Reflinked blobs count in full although their extents are shared with the user's files.
pub(crate) fn disk_use(root: &Path) -> Result<u64, CheckpointError> {
    let mut total = 0u64;
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in read_dir_or_empty(&dir)? {
            let entry = entry.map_err(|e| CheckpointError::io(&dir, e))?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CheckpointError::io(&entry.path(), e)),
            };
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Ok(total)
}
