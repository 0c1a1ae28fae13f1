//! The running VM of the macOS backend, written against a small [`Hypervisor`] trait so that all of
//! it — start-up order, the boot watchdog, guest connections, how the VM ended, graceful stop, adding
//! a share — runs in the tests of every OS with a fake hypervisor. `vz` implements the trait with
//! Apple's framework.
//!
//! The framework reports through [`HypervisorEvent`]s on a channel (its delegates and listeners run on
//! the VM's dispatch queue and only send); a supervisor task owns the receiving end. It ends when the
//! guest stops the VM (power-off, or the reboot a kernel panic turns into with `panic=-1`), when the
//! framework reports an error, when the watchdog fires, or when the host kills the VM; it then records
//! why, closes the connection queues and publishes the final status, as the QEMU backend does.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::plan::VzPlan;
use super::shares::{guest_source, ShareSet};
use crate::vm::console::Console;
use crate::vm::{
    Accel, BootStep, BootTimings, BoxFuture, Share, Vm, VmError, VmExit, VmProcess, VmStatus,
};

/// Guest connections waiting to be accepted, per port.
const QUEUE: usize = 16;
/// How much of the console goes into errors.
const TAIL_BYTES: usize = 4096;
/// How long the console copier may take to drain after the VM ended.
const CONSOLE_DRAIN: Duration = Duration::from_millis(500);

/// What the VM handle needs from the hypervisor. Errors are the framework's own descriptions.
pub trait Hypervisor: Send + Sync + 'static {
    /// Asks the guest to shut down (`requestStop`: the guest sees a power button press).
    fn request_stop(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Stops the VM at once (`stop`: pulling the plug).
    fn stop(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Gives the directory-sharing device this set of directories (the VM keeps running).
    fn set_shares(&self, shares: &ShareSet) -> BoxFuture<'_, Result<(), String>>;
}

/// What the hypervisor reports.
#[derive(Debug)]
pub enum HypervisorEvent {
    /// The guest stopped the VM (`guestDidStopVirtualMachine:`).
    GuestStopped,
    /// The framework stopped the VM because of an error (`virtualMachine:didStopWithError:`).
    Failed(String),
    /// The guest connected to `port`; `fd` is the host's end (a duplicate the receiver owns).
    Connection {
        /// The vsock port the guest dialled.
        port: u32,
        /// The connected stream socket.
        fd: OwnedFd,
    },
}

/// Where the hypervisor's start function sends what it has to report.
pub type Events = mpsc::UnboundedSender<HypervisorEvent>;

/// A guest connection's descriptor as a tokio stream.
///
/// The framework's descriptor is a connected stream socket, so the Unix-socket types fit: tokio only
/// registers it with kqueue and reads and writes it; nothing asks for its address (which would not
/// be a Unix-socket address). Non-blocking mode is required by `from_std`.
pub fn into_stream(fd: OwnedFd) -> io::Result<UnixStream> {
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_nonblocking(true)?;
    UnixStream::from_std(stream)
}

/// Starts a VM: checks the plan, prepares `run_dir` and the console, then calls `start` with the
/// console's write end and the event channel; `start` returns once the framework says the VM runs.
/// On error nothing is left running and `run_dir` is removed.
pub async fn launch<H, S, F>(plan: VzPlan, start: S) -> Result<VzMachine<H>, VmError>
where
    H: Hypervisor,
    S: FnOnce(VzPlan, OwnedFd, Events) -> F,
    F: Future<Output = Result<H, VmError>>,
{
    plan.check_files().await?;
    prepare_run_dir(&plan.run_dir).await?;
    let started = launch_in(plan.clone(), start).await;
    if started.is_err() {
        let _ = tokio::fs::remove_dir_all(&plan.run_dir).await;
    }
    started
}

async fn launch_in<H, S, F>(plan: VzPlan, start: S) -> Result<VzMachine<H>, VmError>
where
    H: Hypervisor,
    S: FnOnce(VzPlan, OwnedFd, Events) -> F,
    F: Future<Output = Result<H, VmError>>,
{
    let (console_tx, console_rx) =
        tokio::net::unix::pipe::pipe().map_err(|e| VmError::io("create the console pipe", e))?;
    let console_fd = console_tx
        .into_blocking_fd()
        .map_err(|e| VmError::io("create the console pipe", e))?;
    let console = Console::new();
    let console_task = console
        .start_copy(console_rx, &plan.console_log)
        .await
        .map_err(|e| {
            VmError::io(
                format!("create the console log {}", plan.console_log.display()),
                e,
            )
        })?;
    let (events_tx, events) = mpsc::unbounded_channel();
    let started = Instant::now();
    let hypervisor = match start(plan.clone(), console_fd, events_tx).await {
        Ok(h) => h,
        Err(e) => {
            console_task.abort();
            return Err(e);
        }
    };
    tracing::info!(
        backend = "apple-vz",
        cpus = plan.cpus,
        memory_mib = plan.memory_bytes / (1024 * 1024),
        shares = plan.shares.len(),
        run_dir = %plan.run_dir.display(),
        "VM started"
    );
    Ok(VzMachine::new(
        plan,
        Arc::new(hypervisor),
        events,
        console,
        console_task,
        started,
    ))
}

/// State shared by the handle and the supervisor task.
#[derive(Debug)]
struct Shared {
    status: watch::Sender<VmStatus>,
    end: Mutex<Option<(VmExit, String)>>,
    queues: HashMap<u32, tokio::sync::Mutex<mpsc::Receiver<UnixStream>>>,
    console: Arc<Console>,
    timings: Mutex<BootTimings>,
}

impl Shared {
    fn end_error(&self) -> VmError {
        match &*self.end.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((exit, console)) => end_error(exit, console),
            None => VmError::Stopped {
                exit: VmExit::Killed,
            },
        }
    }

    fn timings(&self) -> BootTimings {
        *self.timings.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The error `ready`/`accept` report once the VM has ended this way.
fn end_error(exit: &VmExit, console_tail: &str) -> VmError {
    match exit {
        VmExit::PoweredOff | VmExit::Killed => VmError::Stopped { exit: exit.clone() },
        VmExit::BootTimeout { after } => VmError::BootTimeout {
            after: *after,
            console_tail: console_tail.to_string(),
        },
        VmExit::KernelPanic
        | VmExit::HypervisorError { .. }
        | VmExit::Crashed { .. }
        | VmExit::DaemonExited { .. } => VmError::VmFailed {
            exit: exit.clone(),
            console_tail: console_tail.to_string(),
        },
    }
}

/// How a guest-initiated stop reads: a power-off, unless the console shows the kernel panicked
/// (with `panic=-1` the panic reboots, and the framework reports a reboot as the guest stopping).
pub fn classify_guest_stop(console_tail: &str) -> VmExit {
    if console_tail.contains("Kernel panic") {
        VmExit::KernelPanic
    } else {
        VmExit::PoweredOff
    }
}

/// A VM of the macOS backend. See [`Vm`] for the operations; [`VzMachine::stop`] and
/// [`VzMachine::add_share`] are its own.
pub struct VzMachine<H: Hypervisor> {
    shared: Arc<Shared>,
    hypervisor: Arc<H>,
    shares: tokio::sync::Mutex<ShareSet>,
    run_dir: PathBuf,
    /// Asks the supervisor to stop the VM (`kill` and `Drop`).
    kill: CancellationToken,
    /// The supervisor. Not aborted on drop: it stops the VM, then ends by itself.
    _supervisor: JoinHandle<()>,
}

impl<H: Hypervisor> std::fmt::Debug for VzMachine<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VzMachine")
            .field("run_dir", &self.run_dir)
            .field("status", &*self.shared.status.borrow())
            .finish_non_exhaustive()
    }
}

impl<H: Hypervisor> VzMachine<H> {
    fn new(
        plan: VzPlan,
        hypervisor: Arc<H>,
        events: mpsc::UnboundedReceiver<HypervisorEvent>,
        console: Arc<Console>,
        console_task: JoinHandle<()>,
        started: Instant,
    ) -> Self {
        let mut senders = HashMap::new();
        let mut queues = HashMap::new();
        for &port in &plan.listen_ports {
            let (tx, rx) = mpsc::channel(QUEUE);
            senders.insert(port, tx);
            queues.insert(port, tokio::sync::Mutex::new(rx));
        }
        let shared = Arc::new(Shared {
            status: watch::Sender::new(VmStatus::Booting {
                step: BootStep::WaitingForGuest,
            }),
            end: Mutex::new(None),
            queues,
            console,
            timings: Mutex::new(BootTimings {
                vm_started: started,
                first_connection: None,
            }),
        });
        let kill = CancellationToken::new();
        let supervisor = tokio::spawn(supervise(Supervisor {
            shared: Arc::clone(&shared),
            hypervisor: Arc::clone(&hypervisor),
            events,
            senders,
            first_port: plan.listen_ports.first().copied().unwrap_or_default(),
            boot_deadline: tokio::time::Instant::from_std(started + plan.boot_timeout),
            boot_timeout: plan.boot_timeout,
            console_task,
            kill: kill.clone(),
        }));
        VzMachine {
            shared,
            hypervisor,
            shares: tokio::sync::Mutex::new(plan.shares),
            run_dir: plan.run_dir,
            kill,
            _supervisor: supervisor,
        }
    }

    /// [`Vm::ready`].
    pub async fn ready(&self) -> Result<(), VmError> {
        crate::vm::until_running_or_ended(self.shared.status.subscribe()).await;
        if self.shared.timings().first_connection.is_some() {
            Ok(())
        } else {
            Err(self.shared.end_error())
        }
    }

    /// [`Vm::accept`].
    pub async fn accept(&self, port: u32) -> Result<UnixStream, VmError> {
        let queue = self
            .shared
            .queues
            .get(&port)
            .ok_or(VmError::PortNotListened { port })?;
        match queue.lock().await.recv().await {
            Some(stream) => Ok(stream),
            None => Err(self.shared.end_error()),
        }
    }

    /// [`Vm::wait_for_exit`].
    pub async fn wait_for_exit(&self, timeout: Duration) -> Result<VmExit, VmError> {
        crate::vm::exit_within(self.shared.status.subscribe(), timeout).await
    }

    /// [`Vm::kill`]: stops the VM at once and waits until it has ended.
    pub async fn kill(&self) {
        self.kill.cancel();
        crate::vm::until_ended(self.shared.status.subscribe()).await;
    }

    /// Graceful stop: asks the guest to shut down, and stops the VM at once if it has not within
    /// `timeout` (or refused to be asked). Returns how the VM ended.
    pub async fn stop(&self, timeout: Duration) -> VmExit {
        match self.hypervisor.request_stop().await {
            Ok(()) => {
                if let Ok(exit) = self.wait_for_exit(timeout).await {
                    return exit;
                }
                tracing::warn!(
                    timeout_s = timeout.as_secs_f32(),
                    "the guest did not shut down in time; stopping the VM"
                );
            }
            Err(error) => {
                tracing::warn!(%error, "the guest could not be asked to shut down; stopping the VM")
            }
        }
        self.kill().await;
        self.shared
            .status
            .borrow()
            .exit()
            .cloned()
            .unwrap_or(VmExit::Killed)
    }

    /// Adds a folder to the running VM's directory share. Returns the source the guest mounts it by
    /// (`workroom/<tag>`, for the supervisor's `mount` request).
    pub async fn add_share(&self, share: &Share) -> Result<String, VmError> {
        let mut shares = self.shares.lock().await;
        let mut next = shares.clone();
        next.add(share)
            .map_err(|e| VmError::InvalidConfig(e.to_string()))?;
        match tokio::fs::metadata(&share.host_path).await {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(VmError::MissingFile {
                    what: "the shared folder",
                    path: share.host_path.clone(),
                    source: io::Error::other("it is not a folder"),
                })
            }
            Err(source) => {
                return Err(VmError::MissingFile {
                    what: "the shared folder",
                    path: share.host_path.clone(),
                    source,
                })
            }
        }
        self.hypervisor
            .set_shares(&next)
            .await
            .map_err(|e| VmError::io("add the folder to the running VM", io::Error::other(e)))?;
        *shares = next;
        tracing::info!(tag = %share.tag, path = %share.host_path.display(), "share added to the running VM");
        Ok(guest_source(&share.tag))
    }

    /// The current shares.
    pub async fn shares(&self) -> ShareSet {
        self.shares.lock().await.clone()
    }
}

impl<H: Hypervisor> Vm for VzMachine<H> {
    fn ready(&self) -> BoxFuture<'_, Result<(), VmError>> {
        Box::pin(VzMachine::ready(self))
    }

    fn accept(&self, port: u32) -> BoxFuture<'_, Result<UnixStream, VmError>> {
        Box::pin(VzMachine::accept(self, port))
    }

    fn status(&self) -> watch::Receiver<VmStatus> {
        self.shared.status.subscribe()
    }

    fn wait_for_exit(&self, timeout: Duration) -> BoxFuture<'_, Result<VmExit, VmError>> {
        Box::pin(VzMachine::wait_for_exit(self, timeout))
    }

    fn kill(&self) -> BoxFuture<'_, ()> {
        Box::pin(VzMachine::kill(self))
    }

    fn console_tail(&self, bytes: usize) -> String {
        self.shared.console.tail(bytes)
    }

    fn accel(&self) -> Accel {
        Accel::AppleVirtualization
    }

    fn processes(&self) -> Vec<VmProcess> {
        // The VM runs inside the host process.
        Vec::new()
    }

    fn timings(&self) -> BootTimings {
        self.shared.timings()
    }
}

impl<H: Hypervisor> Drop for VzMachine<H> {
    fn drop(&mut self) {
        // The supervisor stops the VM; the hypervisor's own drop stops it too if the runtime is
        // shutting down and the supervisor never runs again.
        self.kill.cancel();
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// What the supervisor task owns.
struct Supervisor<H: Hypervisor> {
    shared: Arc<Shared>,
    hypervisor: Arc<H>,
    events: mpsc::UnboundedReceiver<HypervisorEvent>,
    senders: HashMap<u32, mpsc::Sender<UnixStream>>,
    first_port: u32,
    boot_deadline: tokio::time::Instant,
    boot_timeout: Duration,
    console_task: JoinHandle<()>,
    kill: CancellationToken,
}

/// Runs until the VM has ended (see the module docs); owned by [`VzMachine`].
async fn supervise<H: Hypervisor>(mut s: Supervisor<H>) {
    let mut running = false;
    let exit = loop {
        tokio::select! {
            event = s.events.recv() => match event {
                Some(HypervisorEvent::Connection { port, fd }) => {
                    if port == s.first_port && !running {
                        running = true;
                        let now = Instant::now();
                        let started = {
                            let mut timings = s.shared.timings.lock().unwrap_or_else(PoisonError::into_inner);
                            timings.first_connection = Some(now);
                            timings.vm_started
                        };
                        s.shared.status.send_replace(VmStatus::Running);
                        tracing::info!(after_ms = now.duration_since(started).as_millis(), "guest connected");
                    }
                    queue_connection(&s.senders, port, fd);
                }
                Some(HypervisorEvent::GuestStopped) => {
                    break classify_guest_stop(&s.shared.console.tail(TAIL_BYTES));
                }
                Some(HypervisorEvent::Failed(message)) => break VmExit::HypervisorError { message },
                None => break VmExit::HypervisorError {
                    message: "the hypervisor stopped reporting".into(),
                },
            },
            () = tokio::time::sleep_until(s.boot_deadline), if !running => {
                tracing::warn!(timeout_s = s.boot_timeout.as_secs_f32(), "the guest did not connect in time; stopping the VM");
                stop_now(&*s.hypervisor).await;
                break VmExit::BootTimeout { after: s.boot_timeout };
            }
            () = s.kill.cancelled() => {
                stop_now(&*s.hypervisor).await;
                break VmExit::Killed;
            }
        }
    };
    // The console's write end belongs to the VM; give the copier a moment for the last bytes.
    if tokio::time::timeout(CONSOLE_DRAIN, &mut s.console_task)
        .await
        .is_err()
    {
        s.console_task.abort();
    }
    let console_tail = s.shared.console.tail(TAIL_BYTES);
    *s.shared.end.lock().unwrap_or_else(PoisonError::into_inner) =
        Some((exit.clone(), console_tail.clone()));
    // Dropping the senders lets queued connections drain, then `accept` reports the end.
    s.senders.clear();
    let status = match &exit {
        VmExit::PoweredOff | VmExit::Killed => VmStatus::Stopped { exit },
        _ => {
            let reason = failure_reason(&exit, &console_tail);
            tracing::warn!(%reason, "the VM failed");
            VmStatus::Failed { exit, reason }
        }
    };
    tracing::info!(status = ?status, "VM ended");
    s.shared.status.send_replace(status);
}

async fn stop_now<H: Hypervisor + ?Sized>(hypervisor: &H) {
    if let Err(error) = hypervisor.stop().await {
        // Already stopped (the guest won the race) is the usual cause; nothing else can be done.
        tracing::debug!(%error, "stopping the VM failed");
    }
}

fn queue_connection(senders: &HashMap<u32, mpsc::Sender<UnixStream>>, port: u32, fd: OwnedFd) {
    let Some(sender) = senders.get(&port) else {
        tracing::warn!(
            port,
            "the guest connected to a port nobody listens on; closing it"
        );
        return;
    };
    match into_stream(fd) {
        Ok(stream) => {
            if sender.try_send(stream).is_err() {
                tracing::warn!(
                    port,
                    "too many guest connections waiting; closing the new one"
                );
            }
        }
        Err(error) => tracing::warn!(port, %error, "cannot use a guest connection"),
    }
}

/// A sentence for `VmStatus::Failed`.
fn failure_reason(exit: &VmExit, console_tail: &str) -> String {
    match exit {
        VmExit::KernelPanic => {
            let line = console_tail
                .lines()
                .find(|l| l.contains("Kernel panic"))
                .map(|l| l.trim().to_string())
                .unwrap_or_default();
            format!("the guest kernel panicked: {line}")
        }
        other => other.to_string(),
    }
}

/// Creates `run_dir` (mode 0700). The VZ backend keeps nothing in it today, but the contract
/// (created by `start`, removed with the VM) is the same as for QEMU; anything found in it is kept
/// and refused rather than deleted.
async fn prepare_run_dir(run_dir: &std::path::Path) -> Result<(), VmError> {
    if let Ok(mut entries) = tokio::fs::read_dir(run_dir).await {
        if let Ok(Some(entry)) = entries.next_entry().await {
            return Err(VmError::InvalidConfig(format!(
                "run_dir {} already contains {}; use an empty or new folder",
                run_dir.display(),
                entry.file_name().to_string_lossy()
            )));
        }
    }
    crate::vm::create_run_dir(run_dir).await
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
