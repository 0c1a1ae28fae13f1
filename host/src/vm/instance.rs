//! A running QEMU VM: the handle and the supervisor task that owns its processes.
//!
//! The supervisor task owns QEMU, the daemons and the boot watchdog. It ends when QEMU ends (guest
//! power-off, crash, outside kill), when a daemon dies (the VM is then killed), when the watchdog fires, when [`QemuVm::kill`] is called or when the
//! handle is dropped; in every case it first records why, then kills the daemons, closes the vsock
//! listeners and removes every socket, and only then publishes the final status, so a `Stopped` or
//! `Failed` status means nothing of the VM is left running.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::console::Console;
use super::daemons::DaemonSockets;
use super::listener::VsockListeners;
use super::process::{kill_group, read_tail, ExitInfo};
use super::qemu::Attempt;
use super::{
    Accel, BootStep, BootTimings, BoxFuture, Vm, VmConfig, VmError, VmExit, VmProcess, VmStatus,
};

/// How much of the console and of QEMU's stderr go into errors.
const TAIL_BYTES: usize = 4096;
/// How long QEMU may take to end after a daemon did, before the daemon is blamed.
const DAEMON_EXIT_GRACE: Duration = Duration::from_millis(300);

/// Why the VM ended, with the logs as they were at that moment.
#[derive(Debug, Clone)]
struct EndReport {
    exit: VmExit,
    /// QEMU's stderr, or for [`VmExit::DaemonExited`] the daemon's log.
    stderr_tail: String,
    console_tail: String,
}

impl EndReport {
    fn to_error(&self) -> VmError {
        match &self.exit {
            VmExit::PoweredOff | VmExit::Killed => VmError::Stopped {
                exit: self.exit.clone(),
            },
            VmExit::BootTimeout { after } => VmError::BootTimeout {
                after: *after,
                console_tail: self.console_tail.clone(),
            },
            VmExit::DaemonExited { .. } => VmError::DaemonExited {
                exit: self.exit.clone(),
                log_tail: self.stderr_tail.clone(),
            },
            // QEMU VMs never end this way; should one, it is still QEMU's exit.
            VmExit::KernelPanic | VmExit::Crashed { .. } | VmExit::HypervisorError { .. } => {
                VmError::QemuExited {
                    exit: self.exit.clone(),
                    stderr_tail: self.stderr_tail.clone(),
                    console_tail: self.console_tail.clone(),
                }
            }
        }
    }
}

/// State shared by the handle and the supervisor task.
#[derive(Debug)]
struct Shared {
    status: watch::Sender<VmStatus>,
    end: Mutex<Option<EndReport>>,
    listeners: Arc<VsockListeners>,
    console: Arc<Console>,
    timings: Mutex<BootTimings>,
}

impl Shared {
    fn end_error(&self) -> VmError {
        match &*self.end.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(report) => report.to_error(),
            None => VmError::Stopped {
                exit: VmExit::Killed,
            },
        }
    }

    fn timings(&self) -> BootTimings {
        *self.timings.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A VM run by [`super::QemuBackend`]. See [`Vm`] for the operations.
#[derive(Debug)]
pub struct QemuVm {
    shared: Arc<Shared>,
    accel: Accel,
    processes: Vec<VmProcess>,
    /// Exit watches of the processes, to SIGKILL the live ones synchronously on drop.
    exits: Vec<(u32, watch::Receiver<Option<ExitInfo>>)>,
    run_dir: PathBuf,
    /// Asks the supervisor to kill the VM (`kill` and `Drop`).
    kill: CancellationToken,
    /// The supervisor. Not aborted on drop: it reaps the killed processes and removes the sockets,
    /// then ends by itself.
    _supervisor: JoinHandle<()>,
}

impl QemuVm {
    pub(crate) fn new(
        config: VmConfig,
        attempt: Attempt,
        listeners: Arc<VsockListeners>,
        sockets: DaemonSockets,
    ) -> Self {
        let first = *listeners.first_connection().borrow();
        let status = if first.is_some() {
            VmStatus::Running
        } else {
            VmStatus::Booting {
                step: BootStep::WaitingForGuest,
            }
        };
        let shared = Arc::new(Shared {
            status: watch::Sender::new(status),
            end: Mutex::new(None),
            listeners,
            console: Arc::clone(&attempt.console),
            timings: Mutex::new(BootTimings {
                vm_started: attempt.started,
                first_connection: first,
            }),
        });
        let children: Vec<_> = std::iter::once(&attempt.qemu)
            .chain(attempt.daemons.processes())
            .collect();
        let processes = children
            .iter()
            .map(|c| VmProcess {
                name: c.name().to_string(),
                pid: c.pid(),
            })
            .collect();
        let exits = children.iter().map(|c| (c.pid(), c.exit_watch())).collect();
        let accel = attempt.accel;
        let kill = CancellationToken::new();
        let supervisor = tokio::spawn(supervise(
            Arc::clone(&shared),
            attempt,
            sockets,
            config.boot_timeout,
            kill.clone(),
        ));
        QemuVm {
            shared,
            accel,
            processes,
            exits,
            run_dir: config.run_dir,
            kill,
            _supervisor: supervisor,
        }
    }

    /// [`Vm::ready`].
    pub async fn ready(&self) -> Result<(), VmError> {
        super::until_running_or_ended(self.shared.status.subscribe()).await;
        if self.shared.timings().first_connection.is_some() {
            Ok(())
        } else {
            Err(self.shared.end_error())
        }
    }

    /// [`Vm::accept`].
    pub async fn accept(&self, port: u32) -> Result<UnixStream, VmError> {
        if !self.shared.listeners.has_port(port) {
            return Err(VmError::PortNotListened { port });
        }
        match self.shared.listeners.accept(port).await {
            Some(stream) => Ok(stream),
            None => Err(self.shared.end_error()),
        }
    }

    /// [`Vm::wait_for_exit`].
    pub async fn wait_for_exit(&self, timeout: Duration) -> Result<VmExit, VmError> {
        super::exit_within(self.shared.status.subscribe(), timeout).await
    }

    /// [`Vm::kill`].
    pub async fn kill(&self) {
        self.kill.cancel();
        super::until_ended(self.shared.status.subscribe()).await;
    }
}

impl Vm for QemuVm {
    fn ready(&self) -> BoxFuture<'_, Result<(), VmError>> {
        Box::pin(QemuVm::ready(self))
    }

    fn accept(&self, port: u32) -> BoxFuture<'_, Result<UnixStream, VmError>> {
        Box::pin(QemuVm::accept(self, port))
    }

    fn status(&self) -> watch::Receiver<VmStatus> {
        self.shared.status.subscribe()
    }

    fn wait_for_exit(&self, timeout: Duration) -> BoxFuture<'_, Result<VmExit, VmError>> {
        Box::pin(QemuVm::wait_for_exit(self, timeout))
    }

    fn kill(&self) -> BoxFuture<'_, ()> {
        Box::pin(QemuVm::kill(self))
    }

    fn console_tail(&self, bytes: usize) -> String {
        self.shared.console.tail(bytes)
    }

    fn accel(&self) -> Accel {
        self.accel
    }

    fn processes(&self) -> Vec<VmProcess> {
        self.processes.clone()
    }

    fn timings(&self) -> BootTimings {
        self.shared.timings()
    }
}

impl Drop for QemuVm {
    fn drop(&mut self) {
        // Synchronously, so nothing survives even if the runtime is shutting down and the supervisor
        // never runs again; the supervisor (if it runs) then reaps them.
        for (pid, exit) in &self.exits {
            if exit.borrow().is_none() {
                kill_group(*pid);
            }
        }
        self.kill.cancel();
        // A handful of files; removing them here keeps "no stale sockets after drop" unconditional.
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// Owns the VM's processes until they are gone (see the module docs).
async fn supervise(
    shared: Arc<Shared>,
    mut attempt: Attempt,
    sockets: DaemonSockets,
    boot_timeout: Duration,
    kill: CancellationToken,
) {
    let mut first = shared.listeners.first_connection();
    let mut running = first.borrow().is_some();
    let mut first_open = true;
    let boot_deadline = tokio::time::Instant::from_std(attempt.started + boot_timeout);
    let qemu_exit = loop {
        tokio::select! {
            exit = attempt.qemu.wait() => break Ok(exit),
            seen = async { first.wait_for(Option::is_some).await.map(|at| *at) }, if !running && first_open => match seen {
                Ok(at) => {
                    running = true;
                    shared.timings.lock().unwrap_or_else(PoisonError::into_inner).first_connection = at;
                    shared.status.send_replace(VmStatus::Running);
                    tracing::info!(
                        after_ms = at.map(|t| t.duration_since(attempt.started).as_millis()),
                        "guest connected"
                    );
                }
                Err(_) => first_open = false,
            },
            () = tokio::time::sleep_until(boot_deadline), if !running => {
                tracing::warn!(timeout_s = boot_timeout.as_secs_f32(), "the guest did not connect in time; killing the VM");
                attempt.qemu.kill().await;
                break Err(VmExit::BootTimeout { after: boot_timeout });
            }
            () = kill.cancelled() => {
                attempt.qemu.kill().await;
                break Err(VmExit::Killed);
            }
            (daemon, exit) = attempt.daemons.any_exit() => {
                // virtiofsd also exits when QEMU goes away: give QEMU's own exit a moment to win.
                if let Ok(exit) = tokio::time::timeout(DAEMON_EXIT_GRACE, attempt.qemu.wait()).await {
                    break Ok(exit);
                }
                tracing::warn!(%daemon, %exit, "a helper daemon died while the VM was running; killing the VM");
                attempt.qemu.kill().await;
                break Err(VmExit::DaemonExited { daemon, code: exit.code, signal: exit.signal });
            }
        }
    };
    // QEMU is gone, so its stdout is closed: let the console copier write the last bytes.
    if tokio::time::timeout(Duration::from_secs(1), &mut attempt.console_task)
        .await
        .is_err()
    {
        attempt.console_task.abort();
    }
    let exit = match qemu_exit {
        Ok(exit) => classify(exit, &attempt.console),
        Err(decided) => decided,
    };

    // Logs first (the daemons' state explains a QEMU failure), then cleanup, then the status.
    let mut stderr_tail = match &exit {
        VmExit::DaemonExited { daemon, .. } => attempt.daemons.log_tail(daemon).await,
        _ => read_tail(&attempt.qemu_log, TAIL_BYTES).await,
    };
    let console_tail = attempt.console.tail(TAIL_BYTES);
    let reason = failure_reason(&exit, &stderr_tail, &console_tail);
    if matches!(exit, VmExit::Crashed { .. }) {
        if let Some(daemon) = attempt.daemons.first_exited().await {
            stderr_tail.push_str(&format!("\n(and: {daemon})"));
        }
    }
    let report = EndReport {
        exit: exit.clone(),
        stderr_tail,
        console_tail,
    };
    *shared.end.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);

    attempt.daemons.kill().await;
    shared.listeners.close().await;
    sockets.remove().await;

    let status = match &exit {
        VmExit::PoweredOff | VmExit::Killed => VmStatus::Stopped { exit },
        _ => {
            tracing::warn!(%reason, "the VM failed");
            VmStatus::Failed { exit, reason }
        }
    };
    tracing::info!(status = ?status, "VM ended");
    shared.status.send_replace(status);
}

/// How QEMU's exit reads as a VM exit. Status 0 is a power-off unless the console shows a kernel
/// panic (with `panic=-1` and `-no-reboot`, a panic also ends QEMU with 0).
fn classify(exit: ExitInfo, console: &Console) -> VmExit {
    match exit.code {
        Some(0) if console.tail(TAIL_BYTES).contains("Kernel panic") => VmExit::KernelPanic,
        Some(0) => VmExit::PoweredOff,
        _ => VmExit::Crashed {
            code: exit.code,
            signal: exit.signal,
        },
    }
}

/// A sentence for `VmStatus::Failed`.
fn failure_reason(exit: &VmExit, log_tail: &str, console_tail: &str) -> String {
    let last_line = |text: &str| {
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string())
    };
    match exit {
        VmExit::KernelPanic => {
            let line = console_tail
                .lines()
                .find(|l| l.contains("Kernel panic"))
                .map(|l| l.trim().to_string())
                .unwrap_or_default();
            format!("the guest kernel panicked: {line}")
        }
        VmExit::Crashed { .. } | VmExit::DaemonExited { .. } => match last_line(log_tail) {
            Some(line) => format!("{exit}: {line}"),
            None => exit.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(exit: VmExit, stderr: &str, console: &str) -> EndReport {
        EndReport {
            exit,
            stderr_tail: stderr.into(),
            console_tail: console.into(),
        }
    }

    #[test]
    fn failure_reasons_name_the_cause() {
        assert_eq!(
            failure_reason(
                &VmExit::Crashed { code: Some(1), signal: None },
                "qemu-system-x86_64: -chardev socket,id=vsock: Failed to connect to 'x': No such file\n\n",
                ""
            ),
            "QEMU exited with status 1: qemu-system-x86_64: -chardev socket,id=vsock: Failed to connect to 'x': No such file"
        );
        assert_eq!(
            failure_reason(
                &VmExit::KernelPanic,
                "",
                "[    0.9] Kernel panic - not syncing: No working init found.\n[ 0.9] Rebooting\n"
            ),
            "the guest kernel panicked: [    0.9] Kernel panic - not syncing: No working init found."
        );
        assert_eq!(
            failure_reason(
                &VmExit::Crashed {
                    code: None,
                    signal: Some(9)
                },
                "",
                ""
            ),
            "QEMU was killed by signal 9"
        );
        assert_eq!(
            failure_reason(
                &VmExit::DaemonExited {
                    daemon: "vhost-device-vsock".into(),
                    code: None,
                    signal: Some(9)
                },
                "",
                ""
            ),
            "vhost-device-vsock was killed by signal 9 while the VM was running"
        );
    }

    #[test]
    fn end_reports_become_actionable_errors() {
        let e = report(
            VmExit::BootTimeout {
                after: Duration::from_secs(2),
            },
            "",
            "Linux version 6.1\n",
        )
        .to_error();
        assert!(matches!(e, VmError::BootTimeout { .. }));
        assert!(
            e.to_string()
                .ends_with("The console log ends with:\nLinux version 6.1\n"),
            "{e}"
        );
        assert!(matches!(
            report(VmExit::PoweredOff, "", "").to_error(),
            VmError::Stopped { .. }
        ));
        assert!(matches!(
            report(VmExit::KernelPanic, "", "").to_error(),
            VmError::QemuExited { .. }
        ));
    }
}
