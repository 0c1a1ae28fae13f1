//! The library's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can fail while loading a script or starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The script file could not be read.
    #[error("cannot read script {path}: {source}")]
    ReadScript {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The script is not valid JSON or does not have the script's shape.
    #[error("cannot parse script: {0}")]
    ParseScript(#[source] serde_json::Error),
    /// The script parsed but breaks a rule serde cannot express.
    #[error("invalid script: {0}")]
    InvalidScript(String),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The request log file could not be opened.
    #[error("cannot open request log {path}: {source}")]
    OpenLog {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The server's thread or runtime could not be created.
    #[error("cannot start the server thread: {0}")]
    Runtime(#[source] std::io::Error),
}
