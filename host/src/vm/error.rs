//! [`VmError`]: why a VM could not be started or used.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::tools::MissingTool;
use super::VmExit;

/// Why a VM operation failed. Every message is a sentence a person can act on; the variants that
/// carry logs include the tail of the relevant one.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A helper program is not installed (returned by `start`). Not retryable until it is installed;
    /// the message says how.
    #[error(transparent)]
    MissingTool(#[from] MissingTool),

    /// The configuration cannot work (returned by `start` before anything runs). Not retryable.
    #[error("the VM configuration is invalid: {0}")]
    InvalidConfig(String),

    /// A file or folder the VM needs does not exist or cannot be read (returned by `start`).
    #[error("{what} {path} cannot be used: {source}")]
    MissingFile {
        /// What it is (`the guest kernel`, `the shared folder`).
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The error from the file system.
        source: io::Error,
    },

    /// A helper program could not be started (returned by `start`). Usually not retryable.
    #[error("could not start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: io::Error,
    },

    /// `virtiofsd` or `vhost-device-vsock` exited or did not get ready (returned by `start`).
    /// Retryable if the cause was transient; the log tail says.
    #[error("{daemon} did not start: {reason}. Its log ends with:\n{log_tail}")]
    DaemonDidNotStart {
        /// The daemon (`vhost-device-vsock`, `virtiofsd[<tag>]`).
        daemon: String,
        /// What went wrong.
        reason: String,
        /// The end of its stderr.
        log_tail: String,
    },

    /// The guest made no connection within the boot timeout; everything was killed (from `ready`,
    /// `accept`). Retryable (a loaded machine can be slow); the console tail shows how far it got.
    #[error(
        "the guest did not connect within {} s, so the VM was stopped. The console log ends with:\n{console_tail}",
        after.as_secs_f32()
    )]
    BootTimeout {
        /// The timeout.
        after: Duration,
        /// The end of the serial console.
        console_tail: String,
    },

    /// QEMU ended on its own: bad arguments, a crash, a guest kernel panic, or a kill from outside
    /// (from `start`, `ready`, `accept`). Retryable with a fresh VM.
    #[error(
        "QEMU stopped unexpectedly ({exit}). Its error output ends with:\n{stderr_tail}\nThe console log ends with:\n{console_tail}"
    )]
    QemuExited {
        /// How it ended.
        exit: VmExit,
        /// The end of QEMU's stderr.
        stderr_tail: String,
        /// The end of the serial console.
        console_tail: String,
    },

    /// The VM of an in-process backend (Apple's Virtualization framework) ended on its own: a
    /// hypervisor error, a guest kernel panic (from `ready`, `accept`). Retryable with a fresh VM.
    #[error("the VM stopped unexpectedly ({exit}). The console log ends with:\n{console_tail}")]
    VmFailed {
        /// How it ended.
        exit: VmExit,
        /// The end of the serial console.
        console_tail: String,
    },

    /// A helper daemon died while the VM ran, so the VM was killed (from `ready`, `accept`).
    /// Retryable with a fresh VM; the log tail says why it died.
    #[error("{exit}, so the VM was stopped. Its log ends with:\n{log_tail}")]
    DaemonExited {
        /// Which daemon and how ([`VmExit::DaemonExited`]).
        exit: VmExit,
        /// The end of the daemon's log.
        log_tail: String,
    },

    /// The VM has ended as asked (powered off or killed), so there is nothing to accept or wait for
    /// (from `ready`, `accept`).
    #[error("the VM is no longer running: {exit}")]
    Stopped {
        /// How it ended.
        exit: VmExit,
    },

    /// The guest did not power off in time (from `wait_for_exit`). The VM is still running: kill it.
    #[error("the VM did not power off within {} s", after.as_secs_f32())]
    ShutdownTimeout {
        /// How long we waited.
        after: Duration,
    },

    /// `accept` on a port that is not in `listen_ports`. A programming error.
    #[error("vsock port {port} is not one of the VM's listen ports")]
    PortNotListened {
        /// The port.
        port: u32,
    },

    /// `WORKROOM_ACCEL=kvm` (or `AccelPreference::Kvm`) but KVM cannot be used here (from `start`).
    #[error(
        "KVM was requested but cannot be used: {reason}. Unset WORKROOM_ACCEL to fall back to TCG"
    )]
    KvmUnavailable {
        /// Why.
        reason: String,
    },

    /// A file-system or socket operation of the host failed (from `start`).
    #[error("could not {action}: {source}")]
    Io {
        /// What we were doing, as a verb phrase (`create the run directory /x`).
        action: String,
        /// The error.
        source: io::Error,
    },
}

impl VmError {
    /// An [`VmError::Io`] with the action it belongs to.
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        VmError::Io {
            action: action.into(),
            source,
        }
    }
}
