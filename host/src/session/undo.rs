//! Undo per turn, over the checkpoint store (`crate::checkpoint`).
//!
//! The runtime registers a `PreToolUse` hook for the tools that change files; the first call of a
//! turn snapshots every shared folder before the tool runs (the agent waits for the hook's answer).
//! When the turn's `result` arrives it snapshots them again and records a `workroom_changes` frame
//! in the transcript: per folder, the two snapshot ids and what changed, whatever tool did it.
//! Undo and redo are recorded as `workroom_undo` / `workroom_redo` frames, so the transcript alone
//! says what state each folder should be in now.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::checkpoint::{
    Change, CheckpointError, Checkpoints, Conflict, Resolution, RestoreScope, SnapshotId,
    SnapshotOptions,
};
use crate::store::{Direction, Store};

use super::HostError;

/// The hook callback id the runtime registers.
pub(crate) const CHECKPOINT_HOOK: &str = "workroom-checkpoint";
/// The hook matcher for the tools that may change files: Claude Code's names, then the agent's
/// document writers.
pub(crate) fn mutating_tools() -> String {
    let mut tools = vec![
        "Write",
        "Edit",
        "MultiEdit",
        "NotebookEdit",
        "Bash",
        "KillShell",
    ];
    tools.extend(workroom_protocol::tools::DOCUMENT_WRITERS);
    tools.join("|")
}

/// One folder's checkpoints around a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FolderChanges {
    /// The shared folder on the host.
    pub folder: PathBuf,
    /// Before the turn's first mutating tool.
    pub before: SnapshotId,
    /// After the turn.
    pub after: SnapshotId,
    /// What changed in between.
    pub changes: Vec<Change>,
}

/// What a turn changed, as recorded in the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnChanges {
    /// 1-based among the turns that changed (or tried to change) files.
    pub turn: usize,
    /// Per folder.
    pub folders: Vec<FolderChanges>,
}

/// What to do when the person changed a file after the agent did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Change nothing; report the conflicts.
    Ask,
    /// Put the agent's earlier version back anyway.
    Overwrite,
    /// Leave the person's version; restore the rest.
    Keep,
}

/// The result of an undo or redo.
#[derive(Debug, Clone, PartialEq)]
pub enum UndoOutcome {
    /// Nothing was changed: these paths were edited after the agent (per folder).
    Conflicts(Vec<(PathBuf, Vec<Conflict>)>),
    /// Done: entries put back per folder, and conflicting paths left as they were.
    Applied {
        /// The turn undone (or redone).
        turn: usize,
        /// (folder, entries restored, paths kept as the person had them).
        folders: Vec<(PathBuf, usize, Vec<String>)>,
    },
}

/// Undo errors.
#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    /// The checkpoint store failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The session's records failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// There is nothing to undo (or redo).
    #[error("{0}")]
    Nothing(String),
    /// The session's agent is working on a turn.
    #[error("the agent is still working; undo when its turn has ended (or stop it first)")]
    Busy,
    /// The checkpoint store could not be opened when the host started.
    #[error("undo is not available: {0}")]
    Unavailable(String),
}

/// What a folder's checkpoint would copy, when that is over the cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderEstimate {
    /// The shared folder.
    pub folder: PathBuf,
    /// Bytes of files that changed since its last checkpoint (all of them the first time).
    pub bytes: u64,
}

/// The folders whose next checkpoint would copy more than `opts.max_new_bytes` (blocking: a
/// metadata-only walk of each folder). Empty when there is no cap.
pub(crate) fn over_cap(
    checkpoints: &Checkpoints,
    folders: &[PathBuf],
    opts: &SnapshotOptions,
) -> Result<Vec<FolderEstimate>, CheckpointError> {
    let Some(cap) = opts.max_new_bytes else {
        return Ok(Vec::new());
    };
    let mut over = Vec::new();
    for folder in folders {
        let estimate = checkpoints.estimate(folder, opts)?;
        if estimate.bytes_to_read > cap {
            over.push(FolderEstimate {
                folder: folder.clone(),
                bytes: estimate.bytes_to_read,
            });
        }
    }
    Ok(over)
}

/// Snapshots every folder (blocking: call from `spawn_blocking`).
pub(crate) fn snapshot_all(
    checkpoints: &Checkpoints,
    folders: &[PathBuf],
    opts: &SnapshotOptions,
) -> Result<Vec<(PathBuf, SnapshotId)>, CheckpointError> {
    folders
        .iter()
        .map(|f| Ok((f.clone(), checkpoints.snapshot(f, opts)?)))
        .collect()
}

/// The `workroom_changes` frame for a turn (blocking). The checkpoint after the turn has no cap:
/// without it neither undo nor conflict detection would work for a turn already checkpointed.
pub(crate) fn changes_frame(
    checkpoints: &Checkpoints,
    before: &[(PathBuf, SnapshotId)],
    skip_git: bool,
) -> Result<Value, CheckpointError> {
    let opts = SnapshotOptions {
        max_new_bytes: None,
        skip_git,
    };
    let mut folders = Vec::new();
    for (folder, before) in before {
        let after = checkpoints.snapshot(folder, &opts)?;
        let changes = checkpoints.changes(before, &after)?;
        folders.push(FolderChanges {
            folder: folder.clone(),
            before: before.clone(),
            after,
            changes,
        });
    }
    Ok(json!({"type": "workroom_changes", "folders": folders}))
}

/// Drops checkpoints past the retention settings (blocking). Each turn takes two snapshots per
/// folder, and the newest of each folder always stays.
pub(crate) fn collect_garbage(checkpoints: &Checkpoints, settings: &crate::settings::Settings) {
    let retention = crate::checkpoint::Retention {
        keep_last: settings.checkpoint_keep_turns as usize * 2,
        max_age: std::time::Duration::from_secs(
            u64::from(settings.checkpoint_max_days) * 24 * 3600,
        ),
    };
    if let Err(e) = checkpoints.gc(retention, &[]) {
        tracing::warn!(error = %e, "old checkpoints could not be removed");
    }
}

/// Every recorded turn's changes, oldest first.
pub fn turn_changes(store: &Store, session_id: &str) -> Result<Vec<TurnChanges>, HostError> {
    let (frames, _) = store.frames(session_id)?;
    Ok(frames
        .iter()
        .filter(|f| f.body["type"] == "workroom_changes")
        .filter_map(|f| {
            serde_json::from_value::<Vec<FolderChanges>>(f.body["folders"].clone()).ok()
        })
        .enumerate()
        .map(|(i, folders)| TurnChanges {
            turn: i + 1,
            folders,
        })
        .collect())
}

/// The snapshot each folder should match now: the last `after` the transcript records for it.
fn current_states(
    store: &Store,
    session_id: &str,
) -> Result<HashMap<PathBuf, SnapshotId>, HostError> {
    let (frames, _) = store.frames(session_id)?;
    let mut now = HashMap::new();
    for frame in &frames {
        let kind = frame.body["type"].as_str().unwrap_or_default();
        if !matches!(kind, "workroom_changes" | "workroom_undo" | "workroom_redo") {
            continue;
        }
        for folder in frame.body["folders"].as_array().into_iter().flatten() {
            let path = folder["folder"].as_str().map(PathBuf::from);
            let after = folder["after"]
                .as_str()
                .and_then(|s| s.parse::<SnapshotId>().ok());
            if let (Some(path), Some(after)) = (path, after) {
                now.insert(path, after);
            }
        }
    }
    Ok(now)
}

/// Puts every folder back to `targets` (folder → snapshot), changing only what differs from the
/// state the transcript expects now; records `kind` (`workroom_undo`/`workroom_redo`) on success.
fn restore(
    checkpoints: &Checkpoints,
    store: &Store,
    session_id: &str,
    targets: &[(PathBuf, SnapshotId)],
    on_conflict: OnConflict,
    kind: &str,
    turn: usize,
) -> Result<UndoOutcome, UndoError> {
    let now = current_states(store, session_id)?;
    let mut plans = Vec::new();
    for (folder, target) in targets {
        let expected = now.get(folder).unwrap_or(target);
        plans.push(checkpoints.plan_restore(folder, target, expected, RestoreScope::Changed)?);
    }
    let conflicts: Vec<(PathBuf, Vec<Conflict>)> = plans
        .iter()
        .filter(|p| !p.conflicts.is_empty())
        .map(|p| (p.folder.clone(), p.conflicts.clone()))
        .collect();
    if on_conflict == OnConflict::Ask && !conflicts.is_empty() {
        return Ok(UndoOutcome::Conflicts(conflicts));
    }
    let resolution = match on_conflict {
        OnConflict::Overwrite => Resolution::OverwriteConflicts,
        OnConflict::Ask | OnConflict::Keep => Resolution::KeepConflicts,
    };
    let mut done = Vec::new();
    let mut recorded = Vec::new();
    for (plan, (folder, _)) in plans.iter().zip(targets) {
        let report = checkpoints.apply_restore(plan, resolution)?;
        recorded.push(
            json!({"folder": folder, "redo_point": report.redo_point, "after": report.after}),
        );
        done.push((folder.clone(), report.applied, report.kept));
    }
    store
        .append_frame(
            session_id,
            Direction::Host,
            &json!({"type": kind, "turn": turn, "folders": recorded}),
        )
        .map_err(HostError::from)?;
    Ok(UndoOutcome::Applied {
        turn,
        folders: done,
    })
}

/// Undoes turn `turn` (default: the last one) and every later one: each folder goes back to how
/// it was before that turn's first change. Paths the person edited since are conflicts.
pub fn undo(
    checkpoints: &Checkpoints,
    store: &Store,
    session_id: &str,
    turn: Option<usize>,
    on_conflict: OnConflict,
) -> Result<UndoOutcome, UndoError> {
    let turns = turn_changes(store, session_id)?;
    let chosen = match turn {
        Some(n) => turns.iter().find(|t| t.turn == n),
        None => turns.last(),
    }
    .ok_or_else(|| {
        UndoError::Nothing(match turn {
            Some(n) => format!("turn {n} changed no files (see `workroom changes`)"),
            None => "no turn of this session changed files".into(),
        })
    })?;
    let targets: Vec<(PathBuf, SnapshotId)> = chosen
        .folders
        .iter()
        .map(|f| (f.folder.clone(), f.before.clone()))
        .collect();
    restore(
        checkpoints,
        store,
        session_id,
        &targets,
        on_conflict,
        "workroom_undo",
        chosen.turn,
    )
}

/// Redoes the last undo: each folder goes back to how it was just before it.
pub fn redo(
    checkpoints: &Checkpoints,
    store: &Store,
    session_id: &str,
    on_conflict: OnConflict,
) -> Result<UndoOutcome, UndoError> {
    let (frames, _) = store.frames(session_id).map_err(HostError::from)?;
    let last = frames
        .iter()
        .rev()
        .find(|f| {
            matches!(
                f.body["type"].as_str(),
                Some("workroom_undo" | "workroom_redo" | "workroom_changes")
            )
        })
        .filter(|f| f.body["type"] == "workroom_undo")
        .ok_or_else(|| UndoError::Nothing("there is no undo to redo".into()))?;
    let turn = last.body["turn"].as_u64().unwrap_or(0) as usize;
    let targets: Vec<(PathBuf, SnapshotId)> = last.body["folders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some((
                PathBuf::from(f["folder"].as_str()?),
                f["redo_point"].as_str()?.parse().ok()?,
            ))
        })
        .collect();
    restore(
        checkpoints,
        store,
        session_id,
        &targets,
        on_conflict,
        "workroom_redo",
        turn,
    )
}

/// Opens the store under the data directory; `None` (with the reason logged) when it cannot.
pub(crate) fn open_store(data_dir: &Path) -> Result<Arc<Checkpoints>, String> {
    Checkpoints::open(&data_dir.join("checkpoints"))
        .map(Arc::new)
        .map_err(|e| e.to_string())
}
