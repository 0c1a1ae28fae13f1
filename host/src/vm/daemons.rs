//! The vhost-user daemons of one boot: `virtiofsd` per share and one `vhost-device-vsock`.
//!
//! # virtiofsd: who owns what the guest writes
//!
//! The guest agent runs as root. What it creates must belong to the user who owns the shared folder,
//! and the user's files should look like the agent's own inside the guest (so tools such as git do
//! not complain about foreign owners). So `virtiofsd` runs *as the folder's owner*, never as root
//! on someone else's folder, with guest root mapped to that user:
//!
//! | host runs as | folder owner | virtiofsd runs as | flags |
//! |---|---|---|---|
//! | root | root | root | none |
//! | root | uid U, gid G | U:G (setuid/setgid, no supplementary groups) | `--translate-uid=map:0:U:1 --translate-gid=map:0:G:1` |
//! | user U:G | anyone | U:G | `--translate-uid=map:0:U:1 --translate-gid=map:0:G:1` |
//!
//! The kernel then enforces U's permissions on every access, whatever the guest asks for.
//!
//! # virtiofsd: confinement to the shared folder
//!
//! - Only the chosen folder is given to `virtiofsd` (`--shared-dir`); nothing else of the host exists
//!   for the guest.
//! - A symlink inside the share is never followed on the host: `virtiofsd` looks up one path
//!   component at a time with `O_PATH | O_NOFOLLOW` (and `openat2(RESOLVE_IN_ROOT)`, so `..` at the
//!   share root stays at the root) and returns symlinks to the guest as symlinks. The guest kernel
//!   resolves the target in the *guest's* file system, so `share/link -> /etc/shadow` opens the
//!   guest's `/etc/shadow`, never the host's.
//! - `--sandbox=namespace` (default) additionally pivots `virtiofsd` into the shared folder in its own
//!   mount namespace (a user namespace when unprivileged) and applies seccomp, so even a bug in it
//!   cannot reach other host paths. Where namespaces are not allowed (some distributions restrict
//!   unprivileged user namespaces) it falls back to `--sandbox=none` with a warning; the
//!   `O_NOFOLLOW`/`RESOLVE_IN_ROOT` confinement still holds.
//!
//! # Sockets
//!
//! `virtiofsd` gets an already-listening socket (`--fd`) that the host created in `run_dir`, so it needs
//! no access to `run_dir` when it runs as another user. It is ready when it logs that it waits for
//! the hypervisor. `vhost-device-vsock` creates its own sockets in `run_dir`; it is ready when its
//! vhost-user socket exists.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{read_tail, ChildProc, ChildSpec, ExitInfo};
use super::tools::Tools;
use super::{Share, VmError};

/// How long a daemon may take to get ready.
const DAEMON_START_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a daemon's log goes into errors.
const LOG_TAIL_BYTES: usize = 2048;
/// What `virtiofsd` logs once its sandbox and seccomp are set up.
const VIRTIOFSD_READY_LINE: &str = "Waiting for vhost-user socket connection";

/// `virtiofsd --sandbox` modes we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsSandbox {
    /// Own mount (and, unprivileged, user) namespace, pivoted into the shared folder.
    #[default]
    Namespace,
    /// No namespace; confinement by `O_NOFOLLOW` lookups and `openat2(RESOLVE_IN_ROOT)` only.
    None,
}

impl FsSandbox {
    fn flag(self) -> &'static str {
        match self {
            FsSandbox::Namespace => "--sandbox=namespace",
            FsSandbox::None => "--sandbox=none",
        }
    }
}

/// The socket files of one VM's daemons, all in `run_dir`.
#[derive(Debug, Clone)]
pub(crate) struct DaemonSockets {
    /// `vhost-device-vsock --socket` (QEMU connects here).
    pub vsock: PathBuf,
    /// `vhost-device-vsock --uds-path` base; guest connections arrive on `<uds>_<port>`.
    pub uds: PathBuf,
    /// One listening socket per share, handed to `virtiofsd` with `--fd`.
    pub fs: Vec<PathBuf>,
}

impl DaemonSockets {
    pub fn new(run_dir: &Path, shares: usize) -> Self {
        DaemonSockets {
            vsock: run_dir.join("vsock.sock"),
            uds: run_dir.join("vm.vsock"),
            fs: (0..shares)
                .map(|i| run_dir.join(format!("fs{i}.sock")))
                .collect(),
        }
    }

    /// Removes every daemon socket file (not the vsock port listeners). Missing files are fine.
    pub async fn remove(&self) {
        for path in self.fs.iter().chain([&self.vsock, &self.uds]) {
            let _ = tokio::fs::remove_file(path).await;
        }
    }
}

/// Whose identity `virtiofsd` runs with, and how guest root is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FsIdentity {
    /// setuid/setgid to this before exec (`None`: the host's own identity).
    pub run_as: Option<(u32, u32)>,
    /// Map guest uid/gid 0 to this host uid/gid.
    pub guest_root_is: Option<(u32, u32)>,
}

/// The identity table of the module docs. `host` is the host's effective uid/gid, `owner` the shared
/// folder's.
pub(crate) fn fs_identity(host: (u32, u32), owner: (u32, u32)) -> FsIdentity {
    match (host.0, owner.0) {
        (0, 0) => FsIdentity {
            run_as: None,
            guest_root_is: None,
        },
        (0, _) => FsIdentity {
            run_as: Some(owner),
            guest_root_is: Some(owner),
        },
        _ => FsIdentity {
            run_as: None,
            guest_root_is: Some(host),
        },
    }
}

/// `virtiofsd`'s arguments.
pub(crate) fn virtiofsd_args(
    share: &Share,
    fd: i32,
    identity: &FsIdentity,
    sandbox: FsSandbox,
) -> Vec<OsString> {
    let mut shared_dir = OsString::from("--shared-dir=");
    shared_dir.push(share.host_path.as_os_str());
    let mut args: Vec<OsString> = vec![
        format!("--fd={fd}").into(),
        shared_dir,
        sandbox.flag().into(),
    ];
    if let Some((uid, gid)) = identity.guest_root_is {
        args.push(format!("--translate-uid=map:0:{uid}:1").into());
        args.push(format!("--translate-gid=map:0:{gid}:1").into());
    }
    if share.read_only {
        args.push("--readonly".into());
    }
    args
}

/// `vhost-device-vsock`'s arguments.
pub(crate) fn vsock_args(sockets: &DaemonSockets) -> Vec<OsString> {
    let mut socket = OsString::from("--socket=");
    socket.push(&sockets.vsock);
    let mut uds = OsString::from("--uds-path=");
    uds.push(&sockets.uds);
    vec!["--guest-cid=3".into(), socket, uds]
}

/// The running daemons of one boot attempt.
#[derive(Debug)]
pub(crate) struct Daemons {
    pub vsock: ChildProc,
    pub fs: Vec<ChildProc>,
    logs: Vec<(String, PathBuf)>,
}

impl Daemons {
    /// Starts `vhost-device-vsock` and one `virtiofsd` per share and waits until each is ready.
    /// On error every daemon started so far is killed.
    pub async fn start(
        tools: &Tools,
        shares: &[Share],
        sockets: &DaemonSockets,
        run_dir: &Path,
        sandbox: FsSandbox,
    ) -> Result<Daemons, VmError> {
        sockets.remove().await;
        let vsock_log = run_dir.join("vhost-device-vsock.log");
        let (vsock, _) = ChildProc::spawn(ChildSpec {
            name: "vhost-device-vsock".into(),
            program: tools.vhost_device_vsock.clone(),
            args: vsock_args(sockets),
            env: vec![("RUST_LOG".into(), "warn".into())],
            log: vsock_log.clone(),
            pipe_stdout: false,
            credentials: None,
            inherit_fd: None,
        })
        .await
        .map_err(|source| VmError::Spawn {
            program: tools.vhost_device_vsock.display().to_string(),
            source,
        })?;
        let mut daemons = Daemons {
            vsock,
            fs: Vec::new(),
            logs: vec![("vhost-device-vsock".into(), vsock_log)],
        };

        let host = host_ids();
        for (share, socket) in shares.iter().zip(&sockets.fs) {
            let owner = tokio::fs::metadata(&share.host_path)
                .await
                .map(|m| (m.uid(), m.gid()))
                .map_err(|source| VmError::MissingFile {
                    what: "the shared folder",
                    path: share.host_path.clone(),
                    source,
                })?;
            let identity = fs_identity(host, owner);
            let child = start_virtiofsd(tools, share, socket, run_dir, &identity, sandbox).await?;
            daemons.fs.push(child);
            daemons.logs.push((
                format!("virtiofsd[{}]", share.tag),
                log_path(run_dir, share),
            ));
        }

        wait_for_socket(&daemons.vsock, &sockets.vsock, &daemons.logs[0].1).await?;
        Ok(daemons)
    }

    /// Every daemon process (for the VM's process list).
    pub fn processes(&self) -> impl Iterator<Item = &ChildProc> {
        std::iter::once(&self.vsock).chain(self.fs.iter())
    }

    /// The first daemon that has exited, as a sentence with its log tail (explains a QEMU failure).
    pub async fn first_exited(&self) -> Option<String> {
        for (child, (name, log)) in self.processes().zip(&self.logs) {
            if let Some(exit) = child.exit_now() {
                let tail = read_tail(log, LOG_TAIL_BYTES).await;
                return Some(format!(
                    "{name} had exited ({exit}); its log ends with:\n{tail}"
                ));
            }
        }
        None
    }

    /// Resolves when any daemon exits: its name and exit.
    pub async fn any_exit(&self) -> (String, ExitInfo) {
        let waits = self
            .processes()
            .map(|child| Box::pin(async move { (child.name().to_string(), child.wait().await) }));
        futures_util::future::select_all(waits).await.0
    }

    /// The end of a daemon's log.
    pub async fn log_tail(&self, name: &str) -> String {
        match self.logs.iter().find(|(n, _)| n == name) {
            Some((_, log)) => read_tail(log, LOG_TAIL_BYTES).await,
            None => String::new(),
        }
    }

    /// SIGKILLs every daemon and waits until they are reaped.
    pub async fn kill(&self) {
        for child in self.processes() {
            child.kill().await;
        }
    }
}

fn log_path(run_dir: &Path, share: &Share) -> PathBuf {
    run_dir.join(format!("virtiofsd-{}.log", share.tag))
}

fn host_ids() -> (u32, u32) {
    // SAFETY: geteuid/getegid cannot fail and touch no memory.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// Starts one `virtiofsd` and waits for it; retries once with `--sandbox=none` when the namespace
/// sandbox is not allowed here.
async fn start_virtiofsd(
    tools: &Tools,
    share: &Share,
    socket: &Path,
    run_dir: &Path,
    identity: &FsIdentity,
    sandbox: FsSandbox,
) -> Result<ChildProc, VmError> {
    let name = format!("virtiofsd[{}]", share.tag);
    let log = log_path(run_dir, share);
    let attempt = |sandbox| {
        let name = name.clone();
        let log = log.clone();
        async move {
            let listener = listen(socket)?;
            let (child, _) = ChildProc::spawn(ChildSpec {
                name,
                program: tools.virtiofsd.clone(),
                args: virtiofsd_args(share, listener.as_raw_fd(), identity, sandbox),
                env: vec![],
                log: log.clone(),
                pipe_stdout: false,
                credentials: identity.run_as,
                inherit_fd: Some(listener.as_raw_fd()),
            })
            .await
            .map_err(|source| VmError::Spawn {
                program: tools.virtiofsd.display().to_string(),
                source,
            })?;
            // Our copy of the listening socket closes here; virtiofsd holds its own.
            drop(listener);
            wait_for_log_line(&child, &log, VIRTIOFSD_READY_LINE).await?;
            tracing::debug!(
                daemon = child.name(),
                pid = child.pid(),
                ?sandbox,
                run_as = ?identity.run_as,
                guest_root_is = ?identity.guest_root_is,
                "virtiofsd ready"
            );
            Ok(child)
        }
    };
    match attempt(sandbox).await {
        Err(VmError::DaemonDidNotStart { log_tail, .. })
            if sandbox == FsSandbox::Namespace && log_tail.contains("sandbox") =>
        {
            tracing::warn!(
                daemon = %name,
                "virtiofsd could not set up its namespace sandbox here; running it with --sandbox=none \
                 (paths stay confined to the shared folder by O_NOFOLLOW and openat2 RESOLVE_IN_ROOT)"
            );
            tracing::debug!(daemon = %name, %log_tail, "namespace sandbox failure");
            attempt(FsSandbox::None).await
        }
        other => other,
    }
}

/// A listening Unix socket at `path` (mode 0600), as an fd numbered 3 or higher (so it cannot collide
/// with the child's stdio).
fn listen(path: &Path) -> Result<OwnedFd, VmError> {
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| VmError::io(format!("listen on {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| VmError::io(format!("restrict {}", path.display()), e))?;
    // SAFETY: F_DUPFD_CLOEXEC on a valid fd returns a new fd that we own (or -1).
    let fd = unsafe { libc::fcntl(listener.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return Err(VmError::io(
            "duplicate a socket",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` was just returned by fcntl and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Waits until `path` exists, failing if `child` exits first or it takes too long.
async fn wait_for_socket(child: &ChildProc, path: &Path, log: &Path) -> Result<(), VmError> {
    wait_until(child, log, "its socket", || async {
        tokio::fs::try_exists(path).await.unwrap_or(false)
    })
    .await
}

/// Waits until `log` contains `line`. A daemon that is alive but silent after the timeout is assumed
/// ready (the line is a log message, not a contract), so only an exit is an error here.
async fn wait_for_log_line(child: &ChildProc, log: &Path, line: &str) -> Result<(), VmError> {
    let seen = || async { read_tail(log, 64 * 1024).await.contains(line) };
    match wait_until(child, log, "its ready message", seen).await {
        Err(VmError::DaemonDidNotStart { reason, .. }) if reason.starts_with("it did not log") => {
            tracing::debug!(daemon = child.name(), "no ready message seen; continuing");
            Ok(())
        }
        other => other,
    }
}

async fn wait_until<F, Fut>(
    child: &ChildProc,
    log: &Path,
    what: &str,
    ready: F,
) -> Result<(), VmError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DAEMON_START_TIMEOUT;
    loop {
        if ready().await {
            return Ok(());
        }
        if let Some(exit) = child.exit_now() {
            return Err(VmError::DaemonDidNotStart {
                daemon: child.name().to_string(),
                reason: format!("it exited ({exit}) before it was ready"),
                log_tail: read_tail(log, LOG_TAIL_BYTES).await,
            });
        }
        if tokio::time::Instant::now() >= deadline {
            let reason = if what == "its socket" {
                format!(
                    "its socket did not appear within {} s",
                    DAEMON_START_TIMEOUT.as_secs()
                )
            } else {
                format!(
                    "it did not log {what} within {} s",
                    DAEMON_START_TIMEOUT.as_secs()
                )
            };
            return Err(VmError::DaemonDidNotStart {
                daemon: child.name().to_string(),
                reason,
                log_tail: read_tail(log, LOG_TAIL_BYTES).await,
            });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(read_only: bool) -> Share {
        Share {
            tag: "s0".into(),
            host_path: "/home/u/Taxes 2026".into(),
            read_only,
        }
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn root_host_runs_virtiofsd_as_the_folder_owner_with_root_mapped() {
        let id = fs_identity((0, 0), (1000, 1001));
        assert_eq!(
            id,
            FsIdentity {
                run_as: Some((1000, 1001)),
                guest_root_is: Some((1000, 1001))
            }
        );
        assert_eq!(
            strings(virtiofsd_args(&share(false), 7, &id, FsSandbox::Namespace)),
            [
                "--fd=7",
                "--shared-dir=/home/u/Taxes 2026",
                "--sandbox=namespace",
                "--translate-uid=map:0:1000:1",
                "--translate-gid=map:0:1001:1",
            ]
        );
    }

    #[test]
    fn root_owned_folder_needs_no_translation() {
        let id = fs_identity((0, 0), (0, 0));
        assert_eq!(
            id,
            FsIdentity {
                run_as: None,
                guest_root_is: None
            }
        );
        assert_eq!(
            strings(virtiofsd_args(&share(true), 5, &id, FsSandbox::None)),
            [
                "--fd=5",
                "--shared-dir=/home/u/Taxes 2026",
                "--sandbox=none",
                "--readonly"
            ]
        );
    }

    #[test]
    fn unprivileged_host_maps_guest_root_to_itself() {
        let id = fs_identity((1000, 1000), (0, 0));
        assert_eq!(
            id,
            FsIdentity {
                run_as: None,
                guest_root_is: Some((1000, 1000))
            }
        );
    }

    #[test]
    fn vsock_daemon_arguments() {
        let sockets = DaemonSockets::new(Path::new("/run/w/vm1"), 2);
        assert_eq!(
            strings(vsock_args(&sockets)),
            [
                "--guest-cid=3",
                "--socket=/run/w/vm1/vsock.sock",
                "--uds-path=/run/w/vm1/vm.vsock"
            ]
        );
        assert_eq!(
            sockets.fs,
            [
                Path::new("/run/w/vm1/fs0.sock"),
                Path::new("/run/w/vm1/fs1.sock")
            ]
        );
    }

    #[tokio::test]
    async fn a_daemon_that_exits_early_is_reported_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        let (child, _) = ChildProc::spawn(ChildSpec {
            name: "fake-daemon".into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "echo 'bad flag --x' >&2; exit 2".into()],
            env: vec![],
            log: log.clone(),
            pipe_stdout: false,
            credentials: None,
            inherit_fd: None,
        })
        .await
        .unwrap();
        let err = wait_for_socket(&child, &dir.path().join("never.sock"), &log)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "fake-daemon did not start: it exited (exit status 2) before it was ready"
            ),
            "{text}"
        );
        assert!(text.ends_with("bad flag --x\n"), "{text}");
    }
}
