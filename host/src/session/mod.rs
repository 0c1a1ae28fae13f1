//! Sessions: a conversation over some folders, with its settings and its VM.
//!
//! [`Host`] owns the database, the VM backend and the settings; [`Host::open_session`] returns a
//! [`SessionHandle`], a queue pair in the codex style: commands in ([`SessionHandle::send`],
//! [`SessionHandle::answer`], ...), [`SessionEvent`]s out. The CLI and the desktop app both drive
//! sessions through it. Each open session has one task (see `runtime`) that boots the VM on the first
//! message, stores every frame, brokers permissions, records usage, stops the VM when idle, and boots it
//! again (resuming the agent's conversation) when the next message comes.

pub mod broker;
mod connection;
pub mod lease;
pub(crate) mod runtime;
pub mod undo;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::image::ImageError;
use crate::settings::Settings;
use crate::store::{SessionRecord, Store, StoreError};
use crate::vm::VmBackend;
pub use broker::{PermissionAnswer, PermissionPrompt};
pub use runtime::{console_log, session_dir};

/// Why a session operation failed, in words for the person using the app.
#[derive(Debug, Error)]
pub enum HostError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The guest image is missing or damaged.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A folder cannot be shared.
    #[error("the folder {path} cannot be shared: {reason}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A session needs at least one folder.
    #[error("choose at least one folder for the session")]
    NoFolder,
}

/// How a session's VM is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum VmState {
    /// Booting, with the current step in words.
    Booting {
        /// What is happening.
        step: String,
    },
    /// Ready for messages.
    Running {
        /// Accelerator in use (`kvm`/`tcg`).
        accel: String,
        /// Milliseconds from start to the guest's hello.
        boot_ms: u64,
        /// What shell commands run in: `minimal` (busybox) or `full` (the Debian userland).
        #[serde(default)]
        userland: String,
        /// Why the full userland that was asked for did not come up (shell commands then use
        /// busybox).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        userland_error: Option<String>,
    },
    /// Not running (idle, closed); the next message boots it.
    Stopped {
        /// Why, in words.
        reason: String,
    },
    /// It failed; the conversation is kept and the next message tries again.
    Failed {
        /// Why, in words.
        reason: String,
        /// The end of the guest's console log, for "show details".
        console_tail: String,
    },
}

/// What a session tells its front end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionEvent {
    /// The VM changed state.
    Vm(VmState),
    /// A frame from the agent (already stored).
    Frame {
        /// The stream-json frame.
        frame: Value,
    },
    /// The agent asks permission; answer with [`SessionHandle::answer`].
    Permission(PermissionPrompt),
    /// A pending question was withdrawn (the turn was interrupted).
    PermissionWithdrawn {
        /// The request id.
        request_id: String,
    },
    /// The host answered a permission question by itself.
    AutoAllowed {
        /// The request id.
        request_id: String,
        /// Why (`new file`, ...).
        reason: String,
        /// The sentence describing the action.
        summary: String,
    },
    /// The message was not sent: checkpointing the folders for undo would copy more than the
    /// `checkpoint_max_mb` setting allows. Send it again with
    /// [`SendOptions::without_undo`] to run the turn without undo.
    UndoOverCap {
        /// The message, for sending again.
        text: String,
        /// The cap in bytes.
        cap_bytes: u64,
        /// The folders over it and what each checkpoint would copy.
        folders: Vec<undo::FolderEstimate>,
    },
    /// Something went wrong; the session goes on.
    Error {
        /// What happened, in words.
        message: String,
    },
    /// The session task ended.
    Closed,
}

/// How a message is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Run the turn without a checkpoint (after [`SessionEvent::UndoOverCap`]); it cannot be undone.
    pub without_undo: bool,
}

/// Commands to a session task.
#[derive(Debug)]
pub(crate) enum Command {
    Send(String, SendOptions),
    Interrupt,
    Answer(String, PermissionAnswer),
    SetMode(String),
    Close,
}

/// Options for a new session.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    /// Title (default: the folder names).
    pub title: Option<String>,
    /// Model (default: the settings').
    pub model: Option<String>,
    /// Permission mode (default `default`).
    pub permission_mode: Option<String>,
}

/// Shared state of the host.
pub(crate) struct HostInner {
    pub store: Store,
    pub data_dir: PathBuf,
    pub images: PathBuf,
    pub backend: Arc<dyn VmBackend>,
    pub settings: Settings,
    /// Checkpoints of shared folders for undo; `Err` says why undo is unavailable.
    pub checkpoints: Result<Arc<crate::checkpoint::Checkpoints>, String>,
}

impl HostInner {
    /// The settings as stored now, for a VM about to start: the app reopens its host when settings
    /// change, but a session opened before keeps this one, and "applies to VMs that start after
    /// the change" must hold for it too. Falls back to the settings the host opened with.
    pub fn vm_settings(&self) -> Settings {
        Settings::load(&self.store).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the settings; using those the host opened with");
            self.settings.clone()
        })
    }
}

/// Sessions of this process whose agent is working on a turn. Process-wide rather than per
/// [`Host`]: the app reopens its host when settings change, and sessions opened before keep
/// running under the old one.
fn working_sessions() -> std::sync::MutexGuard<'static, std::collections::HashSet<String>> {
    static WORKING: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    WORKING
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Marks a session as working on a turn (or not).
pub(crate) fn set_working(session_id: &str, working: bool) {
    let mut set = working_sessions();
    if working {
        set.insert(session_id.to_string());
    } else {
        set.remove(session_id);
    }
}

/// The host: sessions, their VMs and their records.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Opens the data directory (creating the database if needed).
    pub fn open(
        data_dir: &Path,
        images: &Path,
        backend: Arc<dyn VmBackend>,
    ) -> Result<Self, HostError> {
        Self::open_with(data_dir, images, backend, |_| {})
    }

    /// [`Host::open`], with the stored settings adjusted for this process only (command-line
    /// options such as `workroom run --mcp-config`).
    pub fn open_with(
        data_dir: &Path,
        images: &Path,
        backend: Arc<dyn VmBackend>,
        adjust: impl FnOnce(&mut Settings),
    ) -> Result<Self, HostError> {
        let store = Store::open(data_dir)?;
        let mut settings = Settings::load(&store)?;
        adjust(&mut settings);
        let checkpoints = undo::open_store(data_dir);
        if let Err(reason) = &checkpoints {
            tracing::warn!(%reason, "the checkpoint store cannot be opened; undo is unavailable");
        }
        Ok(Self {
            inner: Arc::new(HostInner {
                store,
                data_dir: data_dir.to_path_buf(),
                images: images.to_path_buf(),
                backend,
                settings,
                checkpoints,
            }),
        })
    }

    /// Refuses undo and redo while the session's agent works: its next tool would run on a folder
    /// that changed under it, and the turn's own checkpoint would be mixed up with the restore.
    fn not_working(session_id: &str) -> Result<(), undo::UndoError> {
        if working_sessions().contains(session_id) {
            return Err(undo::UndoError::Busy);
        }
        Ok(())
    }

    fn checkpoints(&self) -> Result<&crate::checkpoint::Checkpoints, undo::UndoError> {
        self.inner
            .checkpoints
            .as_deref()
            .map_err(|reason| undo::UndoError::Unavailable(reason.clone()))
    }

    /// What each turn of the session changed in its folders, oldest first.
    pub fn turn_changes(&self, session_id: &str) -> Result<Vec<undo::TurnChanges>, HostError> {
        undo::turn_changes(&self.inner.store, session_id)
    }

    /// Puts the session's folders back to how they were before turn `turn` (default: the last
    /// turn that changed files). Blocking: it reads and writes the folders.
    pub fn undo(
        &self,
        session_id: &str,
        turn: Option<usize>,
        on_conflict: undo::OnConflict,
    ) -> Result<undo::UndoOutcome, undo::UndoError> {
        Self::not_working(session_id)?;
        undo::undo(
            self.checkpoints()?,
            &self.inner.store,
            session_id,
            turn,
            on_conflict,
        )
    }

    /// A unified diff of a changed text file (`None` for binary or large files). Blocking.
    pub fn text_diff(
        &self,
        change: &crate::checkpoint::Change,
    ) -> Result<Option<String>, undo::UndoError> {
        Ok(self.checkpoints()?.text_diff(change)?)
    }

    /// Bytes the checkpoints take on disk. Blocking.
    pub fn checkpoint_disk_use(&self) -> Result<u64, undo::UndoError> {
        Ok(self.checkpoints()?.disk_use()?)
    }

    /// Re-applies the last undo. Blocking.
    pub fn redo(
        &self,
        session_id: &str,
        on_conflict: undo::OnConflict,
    ) -> Result<undo::UndoOutcome, undo::UndoError> {
        Self::not_working(session_id)?;
        undo::redo(
            self.checkpoints()?,
            &self.inner.store,
            session_id,
            on_conflict,
        )
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Creates a session over `folders` (which must exist); the VM boots on the first message.
    pub fn create_session(
        &self,
        folders: &[PathBuf],
        options: NewSession,
    ) -> Result<SessionRecord, HostError> {
        if folders.is_empty() {
            return Err(HostError::NoFolder);
        }
        let mut canonical = Vec::new();
        for folder in folders {
            let path = shareable(folder)?;
            if !canonical.contains(&path) {
                canonical.push(path);
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        let title = options.title.unwrap_or_else(|| {
            canonical
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", ")
        });
        let mode = options.permission_mode.unwrap_or_else(|| "default".into());
        Ok(self.inner.store.create_session(
            &id,
            &title,
            &canonical,
            options.model.as_deref(),
            &mode,
        )?)
    }

    /// Shares one more folder with a session. It takes effect when the session is next opened: a
    /// session open now must be closed first (its VM stops; the conversation resumes in a VM that
    /// also shares the new folder, which the agent gets as an extra working folder).
    pub fn add_folder(&self, id: &str, folder: &Path) -> Result<SessionRecord, HostError> {
        Ok(self.inner.store.add_folder(id, &shareable(folder)?)?)
    }

    /// Opens a session: its task starts now; its VM boots with the first message.
    pub fn open_session(&self, id: &str) -> Result<SessionHandle, HostError> {
        let record = self.inner.store.session(id)?;
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(runtime::run(
            self.inner.clone(),
            record,
            command_rx,
            event_tx,
        ));
        Ok(SessionHandle {
            id: id.to_string(),
            commands,
            events,
            task: Some(task),
        })
    }

    /// Deletes a session, its transcript and its VM state.
    pub fn delete_session(&self, id: &str) -> Result<(), HostError> {
        self.inner.store.delete_session(id)?;
        let dir = runtime::session_dir(&self.inner.data_dir, id);
        if dir.exists() {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove the session's VM state");
            }
        }
        Ok(())
    }
}

/// A session's queue pair.
pub struct SessionHandle {
    /// The session id.
    pub id: String,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<SessionEvent>,
    task: Option<JoinHandle<()>>,
}

impl SessionHandle {
    fn command(&self, command: Command) {
        if self.commands.send(command).is_err() {
            tracing::warn!(session = %self.id, "session task has ended");
        }
    }

    /// Sends a message (boots the VM if it is not running). Messages sent while the agent works are
    /// queued and run in order.
    pub fn send(&self, text: impl Into<String>) {
        self.send_with(text, SendOptions::default());
    }

    /// [`SessionHandle::send`] with options.
    pub fn send_with(&self, text: impl Into<String>, options: SendOptions) {
        self.command(Command::Send(text.into(), options));
    }

    /// Interrupts the running turn.
    pub fn interrupt(&self) {
        self.command(Command::Interrupt);
    }

    /// Answers a permission question.
    pub fn answer(&self, request_id: &str, answer: PermissionAnswer) {
        self.command(Command::Answer(request_id.to_string(), answer));
    }

    /// Changes the permission mode.
    pub fn set_mode(&self, mode: &str) {
        self.command(Command::SetMode(mode.to_string()));
    }

    /// The next event; `None` after [`SessionEvent::Closed`].
    pub async fn next_event(&mut self) -> Option<SessionEvent> {
        self.events.recv().await
    }

    /// Stops the VM (the conversation stays resumable) and ends the session task.
    pub async fn close(mut self) {
        self.command(Command::Close);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// The canonical path of a folder that can be shared, or why it cannot.
fn shareable(folder: &Path) -> Result<PathBuf, HostError> {
    let path = folder.canonicalize().map_err(|e| HostError::Folder {
        path: folder.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !path.is_dir() {
        return Err(HostError::Folder {
            path,
            reason: "it is not a folder".into(),
        });
    }
    Ok(path)
}
