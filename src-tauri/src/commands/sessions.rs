//! Session commands: list, create, open (with its event channel), talk to, rename, delete.

use std::path::PathBuf;

use serde::Deserialize;
use tauri::State;
use workroom_host::session::{NewSession, PermissionAnswer, SendOptions};
use workroom_host::store::{FrameRecord, SessionRecord};

use crate::error::{CommandError, CommandResult};
use crate::session::{EventChannel, SessionSnapshot};
use crate::settings::{self, PERMISSION_MODES};
use crate::state::AppState;

/// How much of the guest console log the page gets.
const CONSOLE_TAIL_BYTES: usize = 16 * 1024;

/// Options for a new session (`NewSessionOptions` in the page).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSessionOptions {
    title: Option<String>,
    model: Option<String>,
    permission_mode: Option<String>,
}

fn check_mode(mode: &str) -> CommandResult<()> {
    if PERMISSION_MODES.contains(&mode) {
        Ok(())
    } else {
        Err(CommandError::invalid(format!(
            "unknown permission mode {mode:?}; expected one of {}",
            PERMISSION_MODES.join(", ")
        )))
    }
}

/// Every stored session, most recently used first.
#[tauri::command]
pub async fn list_sessions(state: State<'_, AppState>) -> CommandResult<Vec<SessionRecord>> {
    Ok(state.host().store().sessions()?)
}

/// Creates a session over existing folders; its VM boots with the first message.
#[tauri::command]
pub async fn create_session(
    state: State<'_, AppState>,
    folders: Vec<PathBuf>,
    options: Option<NewSessionOptions>,
) -> CommandResult<SessionRecord> {
    let options = options.unwrap_or_default();
    let host = state.host();
    let permission_mode = match options.permission_mode {
        Some(mode) => Some(mode),
        None => settings::default_permission_mode(host.store())?,
    };
    if let Some(mode) = &permission_mode {
        check_mode(mode)?;
    }
    let options = NewSession {
        title: options.title.filter(|t| !t.trim().is_empty()),
        model: options.model.filter(|m| !m.trim().is_empty()),
        permission_mode,
    };
    Ok(host.create_session(&folders, options)?)
}

/// Opens a session for this window: a snapshot now, then every event over `on_event`.
#[tauri::command]
pub async fn open_session(
    state: State<'_, AppState>,
    id: String,
    on_event: EventChannel,
) -> CommandResult<SessionSnapshot> {
    state.session(&id)?.attach(on_event).await
}

/// Stops sending this session's events to the window; the session goes on.
#[tauri::command]
pub async fn detach_session(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    match state.session_if_open(&id) {
        Some(session) => session.detach(),
        None => Ok(()),
    }
}

/// Sends a message; boots the VM if it is not running.
#[tauri::command]
pub async fn send_message(
    state: State<'_, AppState>,
    id: String,
    text: String,
    without_undo: Option<bool>,
) -> CommandResult<()> {
    if text.trim().is_empty() {
        return Err(CommandError::invalid("the message is empty"));
    }
    let options = SendOptions {
        without_undo: without_undo.unwrap_or(false),
    };
    state.session(&id)?.send(text, options)
}

/// Interrupts the running turn.
#[tauri::command]
pub async fn interrupt(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    match state.session_if_open(&id) {
        Some(session) => session.interrupt(),
        None => Ok(()),
    }
}

/// Answers a permission question.
#[tauri::command]
pub async fn answer_permission(
    state: State<'_, AppState>,
    id: String,
    request_id: String,
    answer: PermissionAnswer,
) -> CommandResult<()> {
    match state.session_if_open(&id) {
        Some(session) => session.answer(request_id, answer),
        // Questions live only as long as the session's agent; a closed session has none.
        None => Err(CommandError::unknown(
            "this question is no longer waiting: the session was stopped",
        )),
    }
}

/// Changes the session's permission mode (it is kept for the session).
#[tauri::command]
pub async fn set_permission_mode(
    state: State<'_, AppState>,
    id: String,
    mode: String,
) -> CommandResult<()> {
    check_mode(&mode)?;
    match state.session_if_open(&id) {
        Some(session) => session.set_mode(mode),
        None => Ok(state
            .host()
            .store()
            .update_session(&id, None, None, Some(&mode))?),
    }
}

/// Shares one more folder with a session. A running VM is stopped so the next message boots one
/// that also shares the new folder; the conversation continues.
#[tauri::command]
pub async fn add_folder(
    state: State<'_, AppState>,
    id: String,
    folder: PathBuf,
) -> CommandResult<SessionRecord> {
    if let Some(session) = state.session_if_open(&id) {
        session.stop_vm().await?;
    }
    Ok(state.host().add_folder(&id, &folder)?)
}

/// Stops the session's VM; the next message boots it again.
#[tauri::command]
pub async fn stop_vm(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    match state.session_if_open(&id) {
        Some(session) => session.stop_vm().await,
        None => Ok(()),
    }
}

/// Renames a session.
#[tauri::command]
pub async fn rename_session(
    state: State<'_, AppState>,
    id: String,
    title: String,
) -> CommandResult<()> {
    let title = title.trim();
    if title.is_empty() {
        return Err(CommandError::invalid("a session needs a name"));
    }
    Ok(state.host().store().rename_session(&id, title)?)
}

/// Deletes a session (closing it first), its transcript and its VM state.
#[tauri::command]
pub async fn delete_session(state: State<'_, AppState>, id: String) -> CommandResult<()> {
    state.close_session(&id).await;
    Ok(state.host().delete_session(&id)?)
}

/// The stored transcript, oldest first.
#[tauri::command]
pub async fn transcript(state: State<'_, AppState>, id: String) -> CommandResult<Vec<FrameRecord>> {
    let host = state.host();
    host.store().session(&id)?;
    Ok(host.store().frames(&id)?.0)
}

/// The end of the session's guest console log (empty before its first boot).
#[tauri::command]
pub async fn console_log(state: State<'_, AppState>, id: String) -> CommandResult<String> {
    state.host().store().session(&id)?;
    let path = workroom_host::session::console_log(state.data_dir(), &id);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(CONSOLE_TAIL_BYTES);
            Ok(String::from_utf8_lossy(&bytes[start..]).into_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(CommandError::unknown(format!(
            "cannot read the console log {}: {e}",
            path.display()
        ))),
    }
}

/// Folders the app was started with (`workroom-app [FOLDER]...`, `--open-folder PATH`), each
/// handed out once.
#[tauri::command]
pub async fn take_launch_folders(state: State<'_, AppState>) -> CommandResult<Vec<String>> {
    Ok(state.take_launch_folders())
}
