//! Child processes that never outlive the host.
//!
//! Every helper (QEMU, `virtiofsd`, `vhost-device-vsock`) is started so that it ends with the host, also
//! when the host panics or is SIGKILLed:
//!
//! - `PR_SET_PDEATHSIG(SIGKILL)` in the child before `exec`. The signal fires when the *thread* that
//!   forked the child exits, so every child is forked from one dedicated thread (`workroom-spawner`)
//!   that lives as long as the process; forking from a tokio worker would tie the child to a thread
//!   that `block_in_place` or runtime shutdown may end. After setting it, the child checks that its
//!   parent is still the host (the host may have died between `fork` and `prctl`).
//! - Its own process group (`setpgid(0, 0)`), so a kill reaches anything it forked
//!   (`virtiofsd --sandbox=namespace` forks) and a Ctrl-C on the host's terminal does not.
//! - `kill_on_drop`, and [`ChildProc`]'s `Drop` SIGKILLs the whole group.
//! - No core dumps (`RLIMIT_CORE` 0): a crashing QEMU would write guest memory into the host's cwd.
//!
//! Each child has a reaper task that owns the `tokio::process::Child`, waits for it and publishes the
//! exit; [`ChildProc`] is the handle to that task.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc as std_mpsc;
use std::sync::OnceLock;

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::process::{ChildStdout, Command};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExitInfo {
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Signal, if it was killed.
    pub signal: Option<i32>,
}

impl ExitInfo {
    fn from_status(status: &ExitStatus) -> Self {
        ExitInfo {
            code: status.code(),
            signal: status.signal(),
        }
    }
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit status {code}"),
            (None, Some(signal)) => write!(f, "killed by signal {signal}"),
            (None, None) => f.write_str("unknown exit"),
        }
    }
}

/// What to start.
#[derive(Debug)]
pub(crate) struct ChildSpec {
    /// Name for logs and errors (`qemu`, `virtiofsd[work]`).
    pub name: String,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment.
    pub env: Vec<(OsString, OsString)>,
    /// Where stderr (and stdout unless piped) goes; created or truncated.
    pub log: PathBuf,
    /// Hand stdout to the caller instead of the log.
    pub pipe_stdout: bool,
    /// Run as this uid/gid (supplementary groups cleared). Only meaningful when the host is root.
    pub credentials: Option<(u32, u32)>,
    /// A file descriptor the child inherits under the same number (`FD_CLOEXEC` is cleared in the
    /// child only). The caller keeps ownership.
    pub inherit_fd: Option<RawFd>,
}

/// A running (or finished) child process. Dropping it SIGKILLs the process group; the reaper task
/// then collects the exit status.
#[derive(Debug)]
pub(crate) struct ChildProc {
    name: String,
    pid: u32,
    exit: watch::Receiver<Option<ExitInfo>>,
    kill: CancellationToken,
}

impl ChildProc {
    /// Starts the child (forked from the spawner thread) and its reaper task. Returns the handle and,
    /// with `pipe_stdout`, the child's stdout.
    pub async fn spawn(spec: ChildSpec) -> io::Result<(ChildProc, Option<ChildStdout>)> {
        let log = tokio::fs::File::create(&spec.log).await?.into_std().await;
        let stdout = if spec.pipe_stdout {
            Stdio::piped()
        } else {
            Stdio::from(log.try_clone()?)
        };
        // After setuid the program's own path may be unreachable (tools installed under root's home):
        // open it now and exec it through /proc/self/fd, which needs only execute permission on the
        // file itself. The fd is close-on-exec; the kernel resolves the path before closing it.
        let program_fd = match spec.credentials {
            Some(_) => Some(tokio::fs::File::open(&spec.program).await?.into_std().await),
            None => None,
        };
        let mut cmd = match &program_fd {
            Some(file) => {
                let mut cmd = Command::new(format!("/proc/self/fd/{}", file.as_raw_fd()));
                cmd.arg0(spec.program.file_name().unwrap_or(spec.program.as_os_str()));
                cmd
            }
            None => Command::new(&spec.program),
        };
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .process_group(0);
        if let Some((uid, gid)) = spec.credentials {
            cmd.uid(uid).gid(gid);
        }
        let parent = std::process::id();
        let inherit_fd = spec.inherit_fd;
        // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
        // calls (prctl, getppid, setrlimit, fcntl) on plain values; it allocates nothing (the error values are
        // built from errno without allocating).
        unsafe {
            cmd.pre_exec(move || child_setup(parent, inherit_fd));
        }

        let mut child = spawn_on_spawner_thread(cmd).await?;
        drop(program_fd);
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the child exited before it started"))?;
        let stdout = child.stdout.take();
        let (exit_tx, exit) = watch::channel(None);
        let kill = CancellationToken::new();
        let token = kill.clone();
        let name = spec.name.clone();
        // Detached on purpose: it ends as soon as the child has been reaped, which the kill token
        // (cancelled by `ChildProc::kill` and by `Drop`) guarantees promptly.
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                () = token.cancelled() => {
                    kill_group(pid);
                    child.wait().await
                }
            };
            // Anything the child forked into its group goes with it.
            kill_group(pid);
            let info = match status {
                Ok(status) => ExitInfo::from_status(&status),
                Err(error) => {
                    tracing::warn!(child = %name, pid, %error, "could not collect the exit status");
                    ExitInfo {
                        code: None,
                        signal: None,
                    }
                }
            };
            tracing::debug!(child = %name, pid, exit = %info, "child process ended");
            let _ = exit_tx.send(Some(info));
        });
        tracing::debug!(child = %spec.name, pid, program = %spec.program.display(), "started");
        Ok((
            ChildProc {
                name: spec.name,
                pid,
                exit,
                kill,
            },
            stdout,
        ))
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its pid (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// How it ended, if it has.
    pub fn exit_now(&self) -> Option<ExitInfo> {
        *self.exit.borrow()
    }

    /// A receiver of its exit (`None` while it runs).
    pub fn exit_watch(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exit.clone()
    }

    /// Waits until it has ended and been reaped.
    pub async fn wait(&self) -> ExitInfo {
        let mut rx = self.exit.clone();
        let exit = rx.wait_for(Option::is_some).await.map(|info| *info);
        match exit {
            Ok(info) => info.unwrap_or(ExitInfo {
                code: None,
                signal: None,
            }),
            // The reaper task is gone (runtime shutting down): the child was dropped with
            // kill_on_drop, so it is dead or dying.
            Err(_) => ExitInfo {
                code: None,
                signal: None,
            },
        }
    }

    /// SIGKILLs its process group and waits until it has been reaped.
    pub async fn kill(&self) -> ExitInfo {
        self.kill.cancel();
        self.wait().await
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if self.exit.borrow().is_none() {
            kill_group(self.pid);
        }
        self.kill.cancel();
    }
}

/// SIGKILLs process group `pid` (our children lead their own group). A group that is already gone
/// is not an error.
pub(crate) fn kill_group(pid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Runs in the forked child before exec: die with the parent, stay in our own group, keep `fd`.
fn child_setup(parent: u32, inherit_fd: Option<RawFd>) -> io::Result<()> {
    super::os::kill_with_parent()?;
    // SAFETY: getppid/setrlimit/fcntl are async-signal-safe syscalls on integers and a stack value.
    unsafe {
        // The host died between fork and prctl: the signal will never come, so do not run.
        if u32::try_from(libc::getppid()).ok() != Some(parent) {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        // A crashing QEMU would otherwise dump guest memory into the host's working directory.
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::setrlimit(libc::RLIMIT_CORE, &no_core) == -1 {
            return Err(io::Error::last_os_error());
        }
        if let Some(fd) = inherit_fd {
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

type SpawnJob = Box<dyn FnOnce() + Send>;

/// The thread all children are forked from (see the module docs). It lives for the whole process:
/// its owner is the process itself, and it blocks on an empty channel when idle.
fn spawner() -> io::Result<&'static std_mpsc::Sender<SpawnJob>> {
    static SPAWNER: OnceLock<Option<std_mpsc::Sender<SpawnJob>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = std_mpsc::channel::<SpawnJob>();
            let started = std::thread::Builder::new()
                .name("workroom-spawner".into())
                .spawn(move || {
                    for job in rx {
                        job();
                    }
                });
            match started {
                Ok(_) => Some(tx),
                Err(error) => {
                    tracing::error!(%error, "could not start the process spawner thread");
                    None
                }
            }
        })
        .as_ref()
        .ok_or_else(|| io::Error::other("the process spawner thread could not be started"))
}

async fn spawn_on_spawner_thread(mut cmd: Command) -> io::Result<tokio::process::Child> {
    let runtime = tokio::runtime::Handle::current();
    let (tx, rx) = oneshot::channel();
    spawner()?
        .send(Box::new(move || {
            // The child is registered with the caller's runtime (SIGCHLD handling, orphan reaping).
            let _guard = runtime.enter();
            let _ = tx.send(cmd.spawn());
        }))
        .map_err(|_| io::Error::other("the process spawner thread has stopped"))?;
    rx.await
        .map_err(|_| io::Error::other("the process spawner thread dropped the request"))?
}

/// The last `bytes` bytes of a log file, lossily decoded; empty if it cannot be read.
pub(crate) async fn read_tail(path: &Path, bytes: usize) -> String {
    async fn read(path: &Path, bytes: usize) -> io::Result<Vec<u8>> {
        let mut file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        let start = len.saturating_sub(bytes as u64);
        file.seek(io::SeekFrom::Start(start)).await?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        file.read_to_end(&mut buf).await?;
        Ok(buf)
    }
    match read(path, bytes).await {
        Ok(buf) => String::from_utf8_lossy(&buf).into_owned(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spec(dir: &Path, script: &str) -> ChildSpec {
        ChildSpec {
            name: "sh".into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![],
            log: dir.join("sh.log"),
            pipe_stdout: false,
            credentials: None,
            inherit_fd: None,
        }
    }

    fn alive(pid: u32) -> bool {
        // Missing or a zombie both count as gone.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z'),
            Err(_) => false,
        }
    }

    #[tokio::test]
    async fn kill_reaches_the_whole_group_and_reaps() {
        let dir = tempfile::tempdir().unwrap();
        let grandchild_file = dir.path().join("grandchild");
        let script = format!(
            "sleep 1000 & echo $! > '{}'; wait",
            grandchild_file.display()
        );
        let (child, _) = ChildProc::spawn(spec(dir.path(), &script)).await.unwrap();
        let mut grandchild = None;
        for _ in 0..200 {
            if let Ok(text) = std::fs::read_to_string(&grandchild_file) {
                if let Ok(pid) = text.trim().parse::<u32>() {
                    grandchild = Some(pid);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let grandchild = grandchild.expect("the shell wrote its child's pid");
        assert!(alive(child.pid()) && alive(grandchild));
        let exit = child.kill().await;
        assert_eq!(exit.signal, Some(libc::SIGKILL));
        assert!(!alive(child.pid()));
        for _ in 0..100 {
            if !alive(grandchild) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            !alive(grandchild),
            "the grandchild in the same group was killed"
        );
    }

    /// Runs as a separate "host" process in `children_die_with_a_sigkilled_host`.
    #[tokio::test]
    #[ignore = "helper process for children_die_with_a_sigkilled_host"]
    async fn helper_host_process() {
        let Some(pid_file) = std::env::var_os("WORKROOM_TEST_HELPER_PID_FILE") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (child, _) = ChildProc::spawn(spec(dir.path(), "sleep 1000"))
            .await
            .unwrap();
        std::fs::write(pid_file, child.pid().to_string()).unwrap();
        tokio::time::sleep(Duration::from_secs(1000)).await;
    }

    #[tokio::test]
    async fn children_die_with_a_sigkilled_host() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("child.pid");
        let mut host = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "vm::process::tests::helper_host_process",
                "--ignored",
                "--nocapture",
            ])
            .env("WORKROOM_TEST_HELPER_PID_FILE", &pid_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = None;
        for _ in 0..500 {
            if let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.parse::<u32>().ok())
            {
                child = Some(pid);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let child = child.expect("the helper host started its child");
        assert!(alive(child));
        host.kill().unwrap(); // SIGKILL: no destructor of the host runs
        host.wait().unwrap();
        for _ in 0..200 {
            if !alive(child) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("child {child} outlived its SIGKILLed host");
    }

    #[tokio::test]
    async fn children_lead_their_own_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let (child, _) = ChildProc::spawn(spec(dir.path(), "sleep 1000"))
            .await
            .unwrap();
        let status = std::fs::read_to_string(format!("/proc/{}/stat", child.pid())).unwrap();
        // Fields after the command name: state ppid pgrp ...
        let fields: Vec<&str> = status
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(fields[2], child.pid().to_string(), "own process group");
        drop(child);
    }

    #[tokio::test]
    async fn exit_status_and_log_are_captured() {
        let dir = tempfile::tempdir().unwrap();
        let (child, _) = ChildProc::spawn(spec(dir.path(), "echo out; echo err >&2; exit 3"))
            .await
            .unwrap();
        let exit = child.wait().await;
        assert_eq!(
            exit,
            ExitInfo {
                code: Some(3),
                signal: None
            }
        );
        assert_eq!(
            read_tail(&dir.path().join("sh.log"), 1024).await,
            "out\nerr\n"
        );
        assert_eq!(read_tail(&dir.path().join("sh.log"), 4).await, "err\n");
    }

    #[tokio::test]
    async fn dropping_the_handle_kills_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let (child, _) = ChildProc::spawn(spec(dir.path(), "sleep 1000"))
            .await
            .unwrap();
        let pid = child.pid();
        drop(child);
        for _ in 0..200 {
            if !alive(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("child {pid} survived the drop of its handle");
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), "");
        s.program = dir.path().join("nope");
        let err = ChildProc::spawn(s).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
