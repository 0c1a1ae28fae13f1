//! Undo commands: what each turn changed, a file's diff, undo and redo (see "Undo" in
//! `ui/BACKEND.md`). Undo reads and writes the person's folders, so it runs off the async threads.

use std::path::PathBuf;

use serde::Serialize;
use tauri::State;
use workroom_host::checkpoint::Conflict;
use workroom_host::session::undo::{OnConflict, TurnChanges, UndoOutcome};
use workroom_host::session::Host;

use crate::error::{CommandError, CommandResult, ErrorCode};
use crate::state::AppState;

/// The result of `undo_turn` / `redo_turn`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UndoResult {
    /// Nothing was changed: the person edited these paths after the agent did.
    Conflicts {
        /// Per folder.
        folders: Vec<FolderConflicts>,
    },
    /// Done.
    Applied {
        /// The turn undone (or redone).
        turn: usize,
        /// Per folder.
        folders: Vec<FolderRestored>,
    },
}

/// One folder's conflicts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FolderConflicts {
    /// The shared folder.
    pub folder: PathBuf,
    /// Paths changed since the agent's turn.
    pub conflicts: Vec<Conflict>,
}

/// What a restore did in one folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FolderRestored {
    /// The shared folder.
    pub folder: PathBuf,
    /// Files, folders and links put back.
    pub restored: usize,
    /// Paths left as the person had them.
    pub kept: Vec<String>,
}

impl From<UndoOutcome> for UndoResult {
    fn from(outcome: UndoOutcome) -> Self {
        match outcome {
            UndoOutcome::Conflicts(folders) => UndoResult::Conflicts {
                folders: folders
                    .into_iter()
                    .map(|(folder, conflicts)| FolderConflicts { folder, conflicts })
                    .collect(),
            },
            UndoOutcome::Applied { turn, folders } => UndoResult::Applied {
                turn,
                folders: folders
                    .into_iter()
                    .map(|(folder, restored, kept)| FolderRestored {
                        folder,
                        restored,
                        kept,
                    })
                    .collect(),
            },
        }
    }
}

fn on_conflict(value: &str) -> CommandResult<OnConflict> {
    match value {
        "ask" => Ok(OnConflict::Ask),
        "keep" => Ok(OnConflict::Keep),
        "overwrite" => Ok(OnConflict::Overwrite),
        other => Err(CommandError::invalid(format!(
            "unknown conflict choice {other:?}; expected ask, keep or overwrite"
        ))),
    }
}

/// Runs blocking host work on the blocking pool.
async fn blocking<T: Send + 'static>(
    host: Host,
    work: impl FnOnce(&Host) -> CommandResult<T> + Send + 'static,
) -> CommandResult<T> {
    tauri::async_runtime::spawn_blocking(move || work(&host))
        .await
        .map_err(|e| CommandError::unknown(format!("the undo task failed: {e}")))?
}

/// What each turn of the session changed, oldest first.
#[tauri::command]
pub async fn turn_changes(
    state: State<'_, AppState>,
    id: String,
) -> CommandResult<Vec<TurnChanges>> {
    blocking(state.host(), move |host| {
        host.store().session(&id)?;
        Ok(host.turn_changes(&id)?)
    })
    .await
}

/// A unified diff of one changed file of a turn; `None` for binary, large or non-file changes.
#[tauri::command]
pub async fn change_diff(
    state: State<'_, AppState>,
    id: String,
    turn: usize,
    folder: PathBuf,
    path: String,
) -> CommandResult<Option<String>> {
    blocking(state.host(), move |host| {
        let turns = host.turn_changes(&id)?;
        let change = turns
            .iter()
            .find(|t| t.turn == turn)
            .and_then(|t| t.folders.iter().find(|f| f.folder == folder))
            .and_then(|f| f.changes.iter().find(|c| c.path() == path))
            .ok_or_else(|| {
                CommandError::new(
                    ErrorCode::NothingToUndo,
                    format!("turn {turn} did not change {path}"),
                )
            })?;
        Ok(host.text_diff(change)?)
    })
    .await
}

/// Puts the folders back to before turn `turn` (default: the last that changed files).
#[tauri::command]
pub async fn undo_turn(
    state: State<'_, AppState>,
    id: String,
    turn: Option<usize>,
    on_conflict: String,
) -> CommandResult<UndoResult> {
    let choice = self::on_conflict(&on_conflict)?;
    blocking(state.host(), move |host| {
        Ok(host.undo(&id, turn, choice)?.into())
    })
    .await
}

/// Re-applies the last undo.
#[tauri::command]
pub async fn redo_turn(
    state: State<'_, AppState>,
    id: String,
    on_conflict: String,
) -> CommandResult<UndoResult> {
    let choice = self::on_conflict(&on_conflict)?;
    blocking(state.host(), move |host| Ok(host.redo(&id, choice)?.into())).await
}
