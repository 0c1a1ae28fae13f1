//! The one error type every command returns: `{code, message}` on the wire, where `code` is a small
//! enum the page branches on (mirrored in `ui/src/backend/backend.ts`, `ErrorCode`) and `message` is
//! in words for the person using the app.

use serde::Serialize;
use thiserror::Error;
use workroom_host::credentials;
use workroom_host::session::undo::UndoError;
use workroom_host::session::HostError;
use workroom_host::store::StoreError;

/// What kind of failure it was; the page decides what to offer from this alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The session id is not (or no longer) in the database.
    NoSuchSession,
    /// A folder does not exist, is not a folder, or cannot be read.
    FolderNotShareable,
    /// The guest image is missing or damaged: offer to prepare it.
    ImageMissing,
    /// The OS keychain refused the key.
    Keychain,
    /// The disk holding the data directory is full.
    DiskFull,
    /// This build or this machine cannot do it (yet).
    Unsupported,
    /// The page sent something the shell does not accept (an unknown mode, an empty key).
    InvalidInput,
    /// There is no such turn to undo, or no undo to redo.
    NothingToUndo,
    /// The session's agent is working; undo must wait for the turn to end.
    Busy,
    /// Anything else; the message says what.
    Unknown,
}

/// A command's failure.
#[derive(Debug, Clone, Error, Serialize)]
#[error("{message}")]
pub struct CommandError {
    /// The class of failure.
    pub code: ErrorCode,
    /// What happened, in words.
    pub message: String,
}

impl CommandError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The page sent something unusable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    /// Not possible in this build.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unsupported, message)
    }

    /// Anything else.
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unknown, message)
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::NoSuchSession(_) => ErrorCode::NoSuchSession,
            StoreError::DiskFull { .. } => ErrorCode::DiskFull,
            StoreError::Corrupt { .. }
            | StoreError::TooNew { .. }
            | StoreError::Sqlite(_)
            | StoreError::Dir { .. } => ErrorCode::Unknown,
        };
        Self::new(code, e.to_string())
    }
}

impl From<HostError> for CommandError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Store(e) => e.into(),
            HostError::Image(e) => Self::new(ErrorCode::ImageMissing, e.to_string()),
            e @ (HostError::Folder { .. } | HostError::NoFolder) => {
                Self::new(ErrorCode::FolderNotShareable, e.to_string())
            }
        }
    }
}

impl From<UndoError> for CommandError {
    fn from(e: UndoError) -> Self {
        match e {
            UndoError::Host(e) => e.into(),
            e @ UndoError::Nothing(_) => Self::new(ErrorCode::NothingToUndo, e.to_string()),
            e @ UndoError::Busy => Self::new(ErrorCode::Busy, e.to_string()),
            e @ UndoError::Unavailable(_) => Self::new(ErrorCode::Unsupported, e.to_string()),
            e @ UndoError::Checkpoint(_) => Self::new(ErrorCode::Unknown, e.to_string()),
        }
    }
}

impl From<credentials::StoreError> for CommandError {
    fn from(e: credentials::StoreError) -> Self {
        Self::new(ErrorCode::Keychain, e.to_string())
    }
}

/// What commands return.
pub type CommandResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_code_and_message() {
        let e: CommandError = StoreError::NoSuchSession("abc".into()).into();
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"code": "no_such_session", "message": "there is no session abc"})
        );
        let e: CommandError = HostError::NoFolder.into();
        assert_eq!(e.code, ErrorCode::FolderNotShareable);
    }
}
