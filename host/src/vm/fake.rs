//! An in-process [`VmBackend`] for tests of the layers above (sessions, broker, relay) on machines
//! without a hypervisor.
//!
//! The test plays the guest: [`FakeBackend::next_guest`] returns a [`FakeGuest`] for each started VM,
//! whose [`FakeGuest::connect`] is the guest dialling a vsock port (the host side comes out of
//! [`Vm::accept`]), and which can power off, crash or write to the console. The boot watchdog works
//! as in the real backend (and with tokio's paused time).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{
    Accel, BootStep, BootTimings, BoxFuture, Vm, VmBackend, VmConfig, VmError, VmExit, VmProcess,
    VmStatus,
};

/// Starts [`FakeGuest`]-driven VMs.
#[derive(Debug)]
pub struct FakeBackend {
    guests: mpsc::UnboundedSender<FakeGuest>,
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<FakeGuest>>,
    started: AtomicUsize,
}

impl Default for FakeBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeBackend {
    /// A backend whose VMs do nothing until the test acts as their guest.
    pub fn new() -> Self {
        let (guests, next) = mpsc::unbounded_channel();
        FakeBackend {
            guests,
            next: tokio::sync::Mutex::new(next),
            started: AtomicUsize::new(0),
        }
    }

    /// The guest of the next VM started (waits for the start).
    pub async fn next_guest(&self) -> Option<FakeGuest> {
        self.next.lock().await.recv().await
    }

    /// How many VMs were started.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::Relaxed)
    }
}

impl VmBackend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn start(&self, config: VmConfig) -> BoxFuture<'_, Result<Box<dyn Vm>, VmError>> {
        Box::pin(async move {
            if config.listen_ports.is_empty() {
                return Err(VmError::InvalidConfig("listen_ports is empty".into()));
            }
            self.started.fetch_add(1, Ordering::Relaxed);
            let mut senders = HashMap::new();
            let mut receivers = HashMap::new();
            for &port in &config.listen_ports {
                let (tx, rx) = mpsc::channel(16);
                senders.insert(port, tx);
                receivers.insert(port, tokio::sync::Mutex::new(rx));
            }
            let shared = Arc::new(FakeShared {
                status: watch::Sender::new(VmStatus::Booting {
                    step: BootStep::WaitingForGuest,
                }),
                senders: Mutex::new(Some(senders)),
                receivers,
                console: Mutex::new(String::new()),
                end: Mutex::new(None),
                timings: Mutex::new(BootTimings {
                    vm_started: Instant::now(),
                    first_connection: None,
                }),
                first_port: config.listen_ports[0],
                config,
            });
            let watchdog = tokio::spawn(watchdog(Arc::clone(&shared)));
            let _ = self.guests.send(FakeGuest {
                shared: Arc::clone(&shared),
            });
            Ok(Box::new(FakeVm { shared, watchdog }) as Box<dyn Vm>)
        })
    }
}

#[derive(Debug)]
struct FakeShared {
    status: watch::Sender<VmStatus>,
    senders: Mutex<Option<HashMap<u32, mpsc::Sender<UnixStream>>>>,
    receivers: HashMap<u32, tokio::sync::Mutex<mpsc::Receiver<UnixStream>>>,
    console: Mutex<String>,
    end: Mutex<Option<(VmExit, String)>>,
    timings: Mutex<BootTimings>,
    first_port: u32,
    config: VmConfig,
}

impl FakeShared {
    fn end(&self, exit: VmExit) {
        let mut end = self.end.lock().unwrap_or_else(PoisonError::into_inner);
        if end.is_some() {
            return;
        }
        let console = self
            .console
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        *end = Some((exit.clone(), console));
        drop(end);
        // Dropping the senders lets queued connections drain, then `accept` reports the end.
        self.senders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let status = match exit {
            VmExit::PoweredOff | VmExit::Killed => VmStatus::Stopped { exit },
            exit => VmStatus::Failed {
                reason: exit.to_string(),
                exit,
            },
        };
        self.status.send_replace(status);
    }

    fn end_error(&self) -> VmError {
        match &*self.end.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((VmExit::BootTimeout { after }, console)) => VmError::BootTimeout {
                after: *after,
                console_tail: console.clone(),
            },
            Some((exit @ (VmExit::Crashed { .. } | VmExit::KernelPanic), console)) => {
                VmError::QemuExited {
                    exit: exit.clone(),
                    stderr_tail: String::new(),
                    console_tail: console.clone(),
                }
            }
            Some((exit @ VmExit::HypervisorError { .. }, console)) => VmError::VmFailed {
                exit: exit.clone(),
                console_tail: console.clone(),
            },
            Some((exit @ VmExit::DaemonExited { .. }, _)) => VmError::DaemonExited {
                exit: exit.clone(),
                log_tail: String::new(),
            },
            Some((exit, _)) => VmError::Stopped { exit: exit.clone() },
            None => VmError::Stopped {
                exit: VmExit::Killed,
            },
        }
    }
}

/// Fails the VM if the guest does not connect on the first port in time; owned by [`FakeVm`].
async fn watchdog(shared: Arc<FakeShared>) {
    let mut status = shared.status.subscribe();
    let timeout = shared.config.boot_timeout;
    let booted = tokio::time::timeout(
        timeout,
        status.wait_for(|s| !matches!(s, VmStatus::Booting { .. })),
    );
    if booted.await.is_err() {
        shared.end(VmExit::BootTimeout { after: timeout });
    }
}

/// A VM of the [`FakeBackend`].
#[derive(Debug)]
pub struct FakeVm {
    shared: Arc<FakeShared>,
    watchdog: JoinHandle<()>,
}

impl Drop for FakeVm {
    fn drop(&mut self) {
        self.watchdog.abort();
        self.shared.end(VmExit::Killed);
    }
}

impl Vm for FakeVm {
    fn ready(&self) -> BoxFuture<'_, Result<(), VmError>> {
        Box::pin(async move {
            let mut status = self.shared.status.subscribe();
            let _ = status
                .wait_for(|s| *s == VmStatus::Running || s.is_ended())
                .await;
            let connected = self
                .shared
                .timings
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .first_connection;
            match connected {
                Some(_) => Ok(()),
                None => Err(self.shared.end_error()),
            }
        })
    }

    fn accept(&self, port: u32) -> BoxFuture<'_, Result<UnixStream, VmError>> {
        Box::pin(async move {
            let queue = self
                .shared
                .receivers
                .get(&port)
                .ok_or(VmError::PortNotListened { port })?;
            match queue.lock().await.recv().await {
                Some(stream) => Ok(stream),
                None => Err(self.shared.end_error()),
            }
        })
    }

    fn status(&self) -> watch::Receiver<VmStatus> {
        self.shared.status.subscribe()
    }

    fn wait_for_exit(&self, timeout: Duration) -> BoxFuture<'_, Result<VmExit, VmError>> {
        Box::pin(async move {
            let mut status = self.shared.status.subscribe();
            let ended = status.wait_for(VmStatus::is_ended);
            let ended =
                tokio::time::timeout(timeout, async { ended.await.map(|s| s.clone()) }).await;
            match ended {
                Ok(Ok(s)) => Ok(s.exit().cloned().unwrap_or(VmExit::Killed)),
                Ok(Err(_)) => Ok(VmExit::Killed),
                Err(_) => Err(VmError::ShutdownTimeout { after: timeout }),
            }
        })
    }

    fn kill(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.shared.end(VmExit::Killed) })
    }

    fn console_tail(&self, bytes: usize) -> String {
        let console = self
            .shared
            .console
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut start = console.len().saturating_sub(bytes);
        while !console.is_char_boundary(start) {
            start += 1;
        }
        console[start..].to_string()
    }

    fn accel(&self) -> Accel {
        Accel::Tcg
    }

    fn processes(&self) -> Vec<VmProcess> {
        Vec::new()
    }

    fn timings(&self) -> BootTimings {
        *self
            .shared
            .timings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The test's side of a fake VM: it acts as the guest.
#[derive(Debug, Clone)]
pub struct FakeGuest {
    shared: Arc<FakeShared>,
}

impl FakeGuest {
    /// The configuration the VM was started with (shares, kernel command line, ports).
    pub fn config(&self) -> &VmConfig {
        &self.shared.config
    }

    /// The guest dials `port` on the host; returns the guest's end. The host's end is queued for
    /// [`Vm::accept`]. The first connection on the first listen port makes the VM `Running`.
    pub async fn connect(&self, port: u32) -> Result<UnixStream, VmError> {
        let sender = {
            let senders = self
                .shared
                .senders
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let senders = senders.as_ref().ok_or_else(|| self.shared.end_error())?;
            senders
                .get(&port)
                .cloned()
                .ok_or(VmError::PortNotListened { port })?
        };
        let (guest, host) =
            UnixStream::pair().map_err(|e| VmError::io("create a socket pair", e))?;
        sender
            .send(host)
            .await
            .map_err(|_| self.shared.end_error())?;
        if port == self.shared.first_port {
            let mut timings = self
                .shared
                .timings
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if timings.first_connection.is_none() {
                timings.first_connection = Some(Instant::now());
                drop(timings);
                self.shared.status.send_if_modified(|s| {
                    let booting = matches!(s, VmStatus::Booting { .. });
                    if booting {
                        *s = VmStatus::Running;
                    }
                    booting
                });
            }
        }
        Ok(guest)
    }

    /// Appends to the serial console.
    pub fn console(&self, text: &str) {
        self.shared
            .console
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_str(text);
    }

    /// The guest powers off.
    pub fn power_off(&self) {
        self.shared.end(VmExit::PoweredOff);
    }

    /// The hypervisor dies (as if killed from outside).
    pub fn crash(&self) {
        self.shared.end(VmExit::Crashed {
            code: None,
            signal: Some(libc::SIGKILL),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use workroom_protocol::vm::ports;

    fn config() -> VmConfig {
        VmConfig::new("k".into(), "i".into(), "r".into(), "c".into())
    }

    #[tokio::test]
    async fn the_test_plays_the_guest() {
        let backend = FakeBackend::new();
        let vm = backend.start(config()).await.unwrap();
        let guest = backend.next_guest().await.unwrap();
        assert_eq!(
            *vm.status().borrow(),
            VmStatus::Booting {
                step: BootStep::WaitingForGuest
            }
        );

        let mut g = guest.connect(ports::SUPERVISOR).await.unwrap();
        vm.ready().await.unwrap();
        assert_eq!(*vm.status().borrow(), VmStatus::Running);
        g.write_all(b"{\"type\":\"hello\"}\n").await.unwrap();
        let host = vm.accept(ports::SUPERVISOR).await.unwrap();
        let mut line = String::new();
        BufReader::new(host).read_line(&mut line).await.unwrap();
        assert_eq!(line, "{\"type\":\"hello\"}\n");

        guest.power_off();
        assert_eq!(
            vm.wait_for_exit(Duration::from_secs(1)).await.unwrap(),
            VmExit::PoweredOff
        );
        assert!(matches!(
            vm.accept(ports::SESSION).await,
            Err(VmError::Stopped { .. })
        ));
        assert!(matches!(
            vm.accept(7).await,
            Err(VmError::PortNotListened { port: 7 })
        ));
    }

    #[tokio::test]
    async fn boot_watchdog_fires_with_the_console() {
        let backend = FakeBackend::new();
        let mut c = config();
        c.boot_timeout = Duration::from_millis(200);
        let vm = backend.start(c).await.unwrap();
        let guest = backend.next_guest().await.unwrap();
        guest.console("Linux version 6.1\n");
        let err = vm.ready().await.unwrap_err();
        assert!(matches!(err, VmError::BootTimeout { .. }), "{err}");
        assert!(
            err.to_string().contains("within 0.2 s")
                && err.to_string().ends_with("Linux version 6.1\n")
        );
        assert!(matches!(
            *vm.status().borrow(),
            VmStatus::Failed {
                exit: VmExit::BootTimeout { .. },
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_crash_is_reported_and_a_new_vm_starts() {
        let backend = FakeBackend::new();
        let vm = backend.start(config()).await.unwrap();
        let guest = backend.next_guest().await.unwrap();
        let _g = guest.connect(ports::SUPERVISOR).await.unwrap();
        let mut status = vm.status();
        guest.crash();
        let s = status.wait_for(VmStatus::is_ended).await.unwrap().clone();
        assert!(matches!(s, VmStatus::Failed { .. }));
        // The connection that arrived before the crash is still handed out, then the crash is the error.
        assert!(vm.accept(ports::SUPERVISOR).await.is_ok());
        assert!(matches!(
            vm.accept(ports::SUPERVISOR).await,
            Err(VmError::QemuExited { .. })
        ));
        drop(vm);
        let _vm2 = backend.start(config()).await.unwrap();
        assert_eq!(backend.started(), 2);
    }
}
