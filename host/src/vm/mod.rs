//! Guest VMs: the backend trait, its configuration and status types, and the Linux QEMU backend.
//!
//! # Shape
//!
//! A [`VmBackend`] starts VMs from a [`VmConfig`]; a started VM is a [`Vm`] handle. All host ⇄ guest
//! traffic is guest-initiated vsock: before the guest boots, the backend listens on every port in
//! [`VmConfig::listen_ports`], and [`Vm::accept`] hands over the next guest connection on a port as a
//! [`tokio::net::UnixStream`]. The first listen port (normally the supervisor port) doubles as the boot
//! watchdog: no connection there within [`VmConfig::boot_timeout`] and the VM is killed with
//! [`VmError::BootTimeout`].
//!
//! | module | job |
//! |---|---|
//! | [`qemu`] | the QEMU backend: command line, boot attempts, KVM probing and fallback |
//! | `instance` | the running QEMU VM handle: supervisor task, watchdog, shutdown, cleanup |
//! | `daemons` | `virtiofsd` per share and `vhost-device-vsock`, with their readiness checks |
//! | [`accel`] | choosing KVM or TCG and remembering the verdict |
//! | [`tools`] | finding QEMU and the daemons, with install hints |
//! | `listener` | the Unix-socket listeners that receive the guest's vsock connections |
//! | `process` | child processes that die with the host (`PR_SET_PDEATHSIG`, process groups) |
//! | `console` | the serial console: to the log file and an in-memory tail |
//! | [`fake`] | an in-process fake backend for tests of the layers above |
//! | [`macos`] | the macOS backend (Apple's Virtualization framework); its framework calls compile on macOS only |
//! | `os` | what differs between host OSes: the backend ([`platform_backend`]), two system calls |
//!
//! [`platform_backend`] picks the backend of the OS the host runs on. `#[cfg(target_os)]` belongs at
//! module boundaries only.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;
use tokio::sync::watch;
use workroom_protocol::vm::ports;

pub mod accel;
mod console;
mod daemons;
mod error;
pub mod fake;
mod instance;
mod listener;
pub mod macos;
mod os;
mod process;
pub mod qemu;
pub mod tools;

pub use accel::{Accel, AccelPreference};
pub use daemons::FsSandbox;
pub use error::VmError;
pub use fake::{FakeBackend, FakeGuest};
pub use instance::QemuVm;
pub use os::platform_backend;
pub use qemu::{MachineKind, QemuBackend, QemuOptions};
pub use tools::{MissingTool, Tools};

/// A boxed future, so the traits stay object-safe (`Box<dyn VmBackend>`, `Box<dyn Vm>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Guest CPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// `x86_64` (QEMU `microvm` or `q35`).
    X86_64,
    /// `aarch64` (QEMU `virt`).
    Aarch64,
}

impl Arch {
    /// The architecture this host runs on, if it is one we can run guests for natively.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The name used in image directories and by `uname -m`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

impl Default for Arch {
    fn default() -> Self {
        Arch::host().unwrap_or(Arch::X86_64)
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host folder shared with the guest over VirtioFS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// VirtioFS tag the guest mounts it by (1–36 bytes of `[A-Za-z0-9_.-]`).
    pub tag: String,
    /// The folder on the host. Only this folder (and what is below it) is visible to the guest.
    pub host_path: PathBuf,
    /// The guest may not modify anything in it.
    pub read_only: bool,
}

/// Everything needed to start one VM.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// Guest architecture (default: the host's).
    pub arch: Arch,
    /// Kernel: for x86_64 the PVH `vmlinux` of the image, for aarch64 the uncompressed `Image`.
    pub kernel: PathBuf,
    /// The initramfs (`initramfs.cpio.gz`).
    pub initramfs: PathBuf,
    /// Guest memory in MiB (default 512).
    pub memory_mib: u32,
    /// Virtual CPUs (default 1).
    pub cpus: u32,
    /// Folders shared with the guest; each is one VirtioFS device and one `virtiofsd`.
    pub shares: Vec<Share>,
    /// Words appended to the kernel command line (`workroom.share=...`, `workroom.log=...`).
    pub cmdline_extra: Vec<String>,
    /// vsock ports the guest dials on the host; listeners exist before the VM starts. The first one is
    /// the one the boot watchdog waits on.
    pub listen_ports: Vec<u32>,
    /// Per-VM runtime directory for sockets and daemon logs: created by `start`, removed when the VM
    /// handle is dropped. It must be empty or absent, and short enough for Unix socket paths.
    pub run_dir: PathBuf,
    /// Where the guest's serial console is written (truncated at each boot). Keep it outside `run_dir`
    /// if it should survive the VM.
    pub console_log: PathBuf,
    /// How long the guest may take to make its first connection on `listen_ports[0]`.
    pub boot_timeout: Duration,
}

impl VmConfig {
    /// A configuration with the defaults: host arch, 512 MiB, 1 CPU, no shares, listening on every
    /// port of [`workroom_protocol::vm::ports`] (supervisor first), 30 s boot timeout.
    pub fn new(
        kernel: PathBuf,
        initramfs: PathBuf,
        run_dir: PathBuf,
        console_log: PathBuf,
    ) -> Self {
        VmConfig {
            arch: Arch::default(),
            kernel,
            initramfs,
            memory_mib: 512,
            cpus: 1,
            shares: Vec::new(),
            cmdline_extra: Vec::new(),
            listen_ports: vec![
                ports::SUPERVISOR,
                ports::SESSION,
                ports::MODEL,
                ports::EGRESS,
            ],
            run_dir,
            console_log,
            boot_timeout: Duration::from_secs(30),
        }
    }
}

/// What a booting VM is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootStep {
    /// Starting `virtiofsd` and `vhost-device-vsock`.
    StartingDaemons,
    /// Booting with KVM and watching whether the guest makes progress.
    ProbingKvm,
    /// The hypervisor runs; waiting for the guest's first connection.
    WaitingForGuest,
}

/// How a VM ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmExit {
    /// The guest powered off (QEMU exited with status 0).
    PoweredOff,
    /// The host killed it ([`Vm::kill`] or dropping the handle).
    Killed,
    /// The guest kernel panicked (seen on the console; QEMU then exits because of `panic=-1`).
    KernelPanic,
    /// The hypervisor process ended on its own: an error exit or a signal from outside.
    Crashed {
        /// Exit code, when it exited.
        code: Option<i32>,
        /// Signal number, when it was killed.
        signal: Option<i32>,
    },
    /// The guest did not connect within the boot timeout, so the host killed it.
    BootTimeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// An in-process hypervisor (Apple's Virtualization framework) stopped the VM with an error.
    HypervisorError {
        /// The hypervisor's description of the error.
        message: String,
    },
    /// A helper daemon (`virtiofsd`, `vhost-device-vsock`) died while the VM ran, so the host
    /// killed the VM (it could no longer reach the guest or its files).
    DaemonExited {
        /// The daemon (`vhost-device-vsock`, `virtiofsd[<tag>]`).
        daemon: String,
        /// Its exit code, when it exited.
        code: Option<i32>,
        /// The signal, when it was killed.
        signal: Option<i32>,
    },
}

impl std::fmt::Display for VmExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VmExit::PoweredOff => f.write_str("the guest powered off"),
            VmExit::Killed => f.write_str("the host stopped it"),
            VmExit::KernelPanic => f.write_str("the guest kernel panicked"),
            VmExit::Crashed {
                code: Some(code), ..
            } => write!(f, "QEMU exited with status {code}"),
            VmExit::Crashed {
                signal: Some(signal),
                ..
            } => {
                write!(f, "QEMU was killed by signal {signal}")
            }
            VmExit::Crashed { .. } => f.write_str("QEMU ended for an unknown reason"),
            VmExit::HypervisorError { message } => {
                write!(f, "the hypervisor stopped the VM: {message}")
            }
            VmExit::BootTimeout { after } => {
                write!(
                    f,
                    "the guest did not connect within {} s",
                    after.as_secs_f32()
                )
            }
            VmExit::DaemonExited {
                daemon,
                code: Some(code),
                ..
            } => {
                write!(
                    f,
                    "{daemon} exited with status {code} while the VM was running"
                )
            }
            VmExit::DaemonExited { daemon, signal, .. } => write!(
                f,
                "{daemon} was killed by signal {} while the VM was running",
                signal.unwrap_or(0)
            ),
        }
    }
}

/// The life of a VM, as seen through [`Vm::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmStatus {
    /// Not ready yet.
    Booting {
        /// What is happening.
        step: BootStep,
    },
    /// The guest made its first connection on the first listen port.
    Running,
    /// Ended as asked: the guest powered off or the host killed it. Every helper process is gone.
    Stopped {
        /// How.
        exit: VmExit,
    },
    /// Ended against the host's will: boot timeout, crash, kernel panic, killed from outside.
    /// Every helper process is gone.
    Failed {
        /// How.
        exit: VmExit,
        /// A plain sentence for logs and the UI.
        reason: String,
    },
}

impl VmStatus {
    /// Whether the VM has ended (stopped or failed).
    pub fn is_ended(&self) -> bool {
        matches!(self, VmStatus::Stopped { .. } | VmStatus::Failed { .. })
    }

    /// How it ended, if it has.
    pub fn exit(&self) -> Option<&VmExit> {
        match self {
            VmStatus::Stopped { exit } | VmStatus::Failed { exit, .. } => Some(exit),
            _ => None,
        }
    }
}

/// A helper process of a VM (for diagnostics and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmProcess {
    /// `qemu`, `vhost-device-vsock`, `virtiofsd[<tag>]`.
    pub name: String,
    /// Its process id (also its process group id).
    pub pid: u32,
}

/// Boot timings of one VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootTimings {
    /// When the hypervisor of the final boot attempt was started.
    pub vm_started: Instant,
    /// When the first connection on the first listen port arrived.
    pub first_connection: Option<Instant>,
}

impl BootTimings {
    /// Hypervisor start → first guest connection.
    pub fn to_first_connection(&self) -> Option<Duration> {
        self.first_connection
            .map(|t| t.duration_since(self.vm_started))
    }
}

/// Starts VMs. Implemented by [`QemuBackend`] (Linux), [`FakeBackend`] (tests) and, later, the
/// Apple Virtualization framework backend.
pub trait VmBackend: Send + Sync {
    /// Short name for logs (`qemu`, `fake`, `apple-vz`).
    fn name(&self) -> &'static str;

    /// Starts a VM. Returns once the hypervisor runs and the listeners exist; the guest may still be
    /// booting (see [`Vm::ready`]). On error nothing is left running and `run_dir` is removed.
    fn start(&self, config: VmConfig) -> BoxFuture<'_, Result<Box<dyn Vm>, VmError>>;
}

/// A started VM. Dropping it kills every process of the VM and removes its `run_dir`.
pub trait Vm: Send + Sync {
    /// Resolves when the guest made its first connection on the first listen port (that connection
    /// stays queued for [`Vm::accept`]), or with the reason it never will
    /// ([`VmError::BootTimeout`], [`VmError::QemuExited`], [`VmError::Stopped`]).
    fn ready(&self) -> BoxFuture<'_, Result<(), VmError>>;

    /// The next guest-initiated connection on `port`. Connections that arrived before the VM ended
    /// are still handed out; after that the call fails with why the VM ended.
    fn accept(&self, port: u32) -> BoxFuture<'_, Result<UnixStream, VmError>>;

    /// Status updates; the current value is always available. An outside kill or crash of the
    /// hypervisor shows up here within milliseconds.
    fn status(&self) -> watch::Receiver<VmStatus>;

    /// Waits until the VM has ended (after the guest was asked to power off) and every helper process
    /// is gone. [`VmError::ShutdownTimeout`] if it takes longer than `timeout` (the VM keeps running;
    /// call [`Vm::kill`]).
    fn wait_for_exit(&self, timeout: Duration) -> BoxFuture<'_, Result<VmExit, VmError>>;

    /// Kills the VM and its helpers (SIGKILL) and waits until they are gone and the sockets removed.
    fn kill(&self) -> BoxFuture<'_, ()>;

    /// The last `bytes` bytes of the serial console (lossy UTF-8).
    fn console_tail(&self, bytes: usize) -> String;

    /// The accelerator the VM runs with.
    fn accel(&self) -> Accel;

    /// The helper processes of the running VM (empty for in-process backends).
    fn processes(&self) -> Vec<VmProcess>;

    /// Hypervisor start and first-connection times.
    fn timings(&self) -> BootTimings;
}

// What every backend's `Vm` does the same way over its status channel and its run directory.

/// Waits until the VM runs or has ended ([`Vm::ready`] then tells which).
pub(crate) async fn until_running_or_ended(mut status: watch::Receiver<VmStatus>) {
    let _ = status
        .wait_for(|s| *s == VmStatus::Running || s.is_ended())
        .await;
}

/// Waits until the VM has ended ([`Vm::kill`]).
pub(crate) async fn until_ended(mut status: watch::Receiver<VmStatus>) {
    let _ = status.wait_for(VmStatus::is_ended).await;
}

/// How the VM ended, waiting at most `timeout` ([`Vm::wait_for_exit`]).
pub(crate) async fn exit_within(
    mut status: watch::Receiver<VmStatus>,
    timeout: Duration,
) -> Result<VmExit, VmError> {
    let ended = status.wait_for(VmStatus::is_ended);
    match tokio::time::timeout(timeout, async { ended.await.map(|s| s.clone()) }).await {
        Ok(Ok(status)) => Ok(status.exit().cloned().unwrap_or(VmExit::Killed)),
        // The supervisor is gone without a final status: only possible at runtime shutdown.
        Ok(Err(_)) => Ok(VmExit::Killed),
        Err(_) => Err(VmError::ShutdownTimeout { after: timeout }),
    }
}

/// Creates [`VmConfig::run_dir`] readable by the host user only (mode 0700).
pub(crate) async fn create_run_dir(run_dir: &std::path::Path) -> Result<(), VmError> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::create_dir_all(run_dir)
        .await
        .map_err(|e| VmError::io(format!("create the run directory {}", run_dir.display()), e))?;
    tokio::fs::set_permissions(run_dir, std::fs::Permissions::from_mode(0o700))
        .await
        .map_err(|e| {
            VmError::io(
                format!("restrict the run directory {}", run_dir.display()),
                e,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_reasons_read_as_sentences() {
        assert_eq!(
            VmExit::Crashed {
                code: None,
                signal: Some(9)
            }
            .to_string(),
            "QEMU was killed by signal 9"
        );
        assert_eq!(
            VmExit::BootTimeout {
                after: Duration::from_secs(30)
            }
            .to_string(),
            "the guest did not connect within 30 s"
        );
    }

    #[test]
    fn default_config_listens_on_the_supervisor_port_first() {
        let c = VmConfig::new("k".into(), "i".into(), "r".into(), "c".into());
        assert_eq!(c.listen_ports.first(), Some(&ports::SUPERVISOR));
        assert_eq!((c.memory_mib, c.cpus), (512, 1));
    }
}
