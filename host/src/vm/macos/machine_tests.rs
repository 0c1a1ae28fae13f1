//! The macOS VM handle driven by a fake hypervisor: everything but the framework calls.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workroom_protocol::vm::ports;

use super::*;
use crate::vm::VmConfig;

/// A hypervisor whose guest is the test.
#[derive(Clone, Default)]
struct FakeHv {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<String>>,
    events: Mutex<Option<Events>>,
    /// Whether the guest shuts down when asked.
    obeys: std::sync::atomic::AtomicBool,
    /// The console's write end, kept open like the framework keeps it.
    console: Mutex<Option<std::fs::File>>,
}

impl FakeHv {
    fn calls(&self) -> Vec<String> {
        self.inner.calls.lock().unwrap().clone()
    }

    fn send(&self, event: HypervisorEvent) {
        let events = self.inner.events.lock().unwrap();
        let _ = events.as_ref().unwrap().send(event);
    }

    /// The guest dials `port`; returns the guest's end.
    fn connect(&self, port: u32) -> std::os::unix::net::UnixStream {
        let (guest, host) = std::os::unix::net::UnixStream::pair().unwrap();
        self.send(HypervisorEvent::Connection {
            port,
            fd: OwnedFd::from(host),
        });
        guest
    }

    fn console(&self, text: &str) {
        let mut console = self.inner.console.lock().unwrap();
        console
            .as_mut()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }

    fn record(&self, call: String) {
        self.inner.calls.lock().unwrap().push(call);
    }
}

impl Hypervisor for FakeHv {
    fn request_stop(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.record("request_stop".into());
            if self.inner.obeys.load(std::sync::atomic::Ordering::Relaxed) {
                self.send(HypervisorEvent::GuestStopped);
            }
            Ok(())
        })
    }

    fn stop(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.record("stop".into());
            Ok(())
        })
    }

    fn set_shares(&self, shares: &ShareSet) -> BoxFuture<'_, Result<(), String>> {
        let names: Vec<_> = shares.iter().map(|(n, _)| n.to_string()).collect();
        Box::pin(async move {
            self.record(format!("set_shares {}", names.join(",")));
            Ok(())
        })
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    hv: FakeHv,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            hv: FakeHv::default(),
        }
    }

    fn plan(&self, boot_timeout: Duration) -> VzPlan {
        let kernel = self.dir.path().join("kernel");
        std::fs::write(&kernel, "k").unwrap();
        let folder = self.dir.path().join("Taxes");
        std::fs::create_dir_all(&folder).unwrap();
        let mut c = VmConfig::new(
            kernel.clone(),
            kernel,
            self.dir.path().join("run"),
            self.dir.path().join("console.log"),
        );
        c.shares = vec![Share {
            tag: "f0".into(),
            host_path: folder,
            read_only: false,
        }];
        c.boot_timeout = boot_timeout;
        VzPlan::new(&c).unwrap()
    }

    async fn start(&self, boot_timeout: Duration) -> VzMachine<FakeHv> {
        let hv = self.hv.clone();
        launch(
            self.plan(boot_timeout),
            move |_plan, console, events| async move {
                *hv.inner.events.lock().unwrap() = Some(events);
                *hv.inner.console.lock().unwrap() = Some(std::fs::File::from(console));
                Ok(hv)
            },
        )
        .await
        .unwrap()
    }

    fn run_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("run")
    }
}

#[tokio::test]
async fn the_first_supervisor_connection_makes_it_running_and_kill_stops_it() {
    let f = Fixture::new();
    let vm = f.start(Duration::from_secs(30)).await;
    assert!(f.run_dir().is_dir());
    assert_eq!(
        *vm.status().borrow(),
        VmStatus::Booting {
            step: BootStep::WaitingForGuest
        }
    );
    f.hv.console("Linux version 6.1\n");
    let mut session = f.hv.connect(ports::SESSION);
    assert!(
        vm.status().borrow().clone() != VmStatus::Running,
        "only the first port counts"
    );
    let mut guest = f.hv.connect(ports::SUPERVISOR);
    vm.ready().await.unwrap();
    assert_eq!(*vm.status().borrow(), VmStatus::Running);
    assert!(vm.timings().to_first_connection().is_some());

    guest.write_all(b"{\"type\":\"hello\"}\n").unwrap();
    let mut host = vm.accept(ports::SUPERVISOR).await.unwrap();
    let mut line = [0u8; 17];
    host.read_exact(&mut line).await.unwrap();
    assert_eq!(&line, b"{\"type\":\"hello\"}\n");
    let mut host_session = vm.accept(ports::SESSION).await.unwrap();
    host_session.write_all(b"hi").await.unwrap();
    let mut two = [0u8; 2];
    std::io::Read::read_exact(&mut session, &mut two).unwrap();
    assert_eq!(&two, b"hi");
    assert!(matches!(
        vm.accept(7).await,
        Err(VmError::PortNotListened { port: 7 })
    ));

    vm.kill().await;
    assert_eq!(
        *vm.status().borrow(),
        VmStatus::Stopped {
            exit: VmExit::Killed
        }
    );
    assert_eq!(f.hv.calls(), ["stop"]);
    assert!(matches!(
        vm.accept(ports::SESSION).await,
        Err(VmError::Stopped { .. })
    ));
    assert_eq!(vm.accel(), Accel::AppleVirtualization);
    assert!(vm.console_tail(100).contains("Linux version 6.1"));
    drop(vm);
    assert!(!f.run_dir().exists(), "run_dir removed with the VM");
    assert_eq!(
        std::fs::read_to_string(f.dir.path().join("console.log")).unwrap(),
        "Linux version 6.1\n"
    );
}

#[tokio::test]
async fn boot_watchdog_stops_the_vm_with_the_console_in_the_error() {
    let f = Fixture::new();
    let vm = f.start(Duration::from_millis(200)).await;
    f.hv.console("EFI stub: Booting Linux Kernel...\n");
    let err = vm.ready().await.unwrap_err();
    assert!(matches!(err, VmError::BootTimeout { .. }), "{err}");
    assert!(
        err.to_string().ends_with("Booting Linux Kernel...\n"),
        "{err}"
    );
    assert_eq!(f.hv.calls(), ["stop"]);
    assert!(matches!(
        *vm.status().borrow(),
        VmStatus::Failed {
            exit: VmExit::BootTimeout { .. },
            ..
        }
    ));
}

#[tokio::test]
async fn a_guest_stop_after_a_panic_is_a_kernel_panic() {
    let f = Fixture::new();
    let vm = f.start(Duration::from_secs(30)).await;
    let _guest = f.hv.connect(ports::SUPERVISOR);
    vm.ready().await.unwrap();
    f.hv.console("[ 1.2] Kernel panic - not syncing: Attempted to kill init!\n");
    // Let the copier see the bytes before the stop is reported.
    tokio::time::sleep(Duration::from_millis(50)).await;
    f.hv.send(HypervisorEvent::GuestStopped);
    let mut status = vm.status();
    let ended = status.wait_for(VmStatus::is_ended).await.unwrap().clone();
    assert_eq!(
        ended,
        VmStatus::Failed {
            exit: VmExit::KernelPanic,
            reason: "the guest kernel panicked: [ 1.2] Kernel panic - not syncing: Attempted to kill init!".into()
        }
    );
    // The connection that arrived before is still handed out, then the end is the error.
    assert!(vm.accept(ports::SUPERVISOR).await.is_ok());
    assert!(matches!(
        vm.accept(ports::SUPERVISOR).await,
        Err(VmError::VmFailed {
            exit: VmExit::KernelPanic,
            ..
        })
    ));
}

#[tokio::test]
async fn a_framework_error_fails_the_vm_with_its_words() {
    let f = Fixture::new();
    let vm = f.start(Duration::from_secs(30)).await;
    f.hv.send(HypervisorEvent::Failed(
        "Internal Virtualization error. The virtual machine stopped unexpectedly.".into(),
    ));
    let err = vm.ready().await.unwrap_err();
    assert!(
        err.to_string().starts_with(
            "the VM stopped unexpectedly (the hypervisor stopped the VM: Internal Virtualization error."
        ),
        "{err}"
    );
}

#[tokio::test]
async fn graceful_stop_asks_first_and_pulls_the_plug_after_the_timeout() {
    let f = Fixture::new();
    let vm = f.start(Duration::from_secs(30)).await;
    let _g = f.hv.connect(ports::SUPERVISOR);
    vm.ready().await.unwrap();
    // A guest that ignores the request.
    assert_eq!(vm.stop(Duration::from_millis(100)).await, VmExit::Killed);
    assert_eq!(f.hv.calls(), ["request_stop", "stop"]);

    let f = Fixture::new();
    f.hv.inner
        .obeys
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let vm = f.start(Duration::from_secs(30)).await;
    let _g = f.hv.connect(ports::SUPERVISOR);
    vm.ready().await.unwrap();
    assert_eq!(vm.stop(Duration::from_secs(5)).await, VmExit::PoweredOff);
    assert_eq!(f.hv.calls(), ["request_stop"]);
}

#[tokio::test]
async fn shares_are_added_to_the_running_vm() {
    let f = Fixture::new();
    let vm = f.start(Duration::from_secs(30)).await;
    let scans = f.dir.path().join("Scans");
    std::fs::create_dir(&scans).unwrap();
    let share = Share {
        tag: "f1".into(),
        host_path: scans.clone(),
        read_only: true,
    };
    assert_eq!(vm.add_share(&share).await.unwrap(), "workroom/f1");
    assert_eq!(f.hv.calls(), ["set_shares f0,f1"]);
    assert!(vm.shares().await.contains("f1"));

    // Refused before the hypervisor hears of it: a duplicate, a missing folder.
    assert!(matches!(
        vm.add_share(&share).await,
        Err(VmError::InvalidConfig(_))
    ));
    let gone = Share {
        tag: "f2".into(),
        host_path: f.dir.path().join("gone"),
        read_only: false,
    };
    assert!(matches!(
        vm.add_share(&gone).await,
        Err(VmError::MissingFile { .. })
    ));
    assert_eq!(f.hv.calls().len(), 1);
    assert_eq!(vm.shares().await.len(), 2);
}

#[tokio::test]
async fn a_failed_start_leaves_nothing_behind() {
    let f = Fixture::new();
    let started = launch(f.plan(Duration::from_secs(1)), |_, _, _| async {
        Err::<FakeHv, _>(VmError::InvalidConfig(
            "The process doesn't have the \"com.apple.security.virtualization\" entitlement."
                .into(),
        ))
    })
    .await;
    assert!(matches!(started, Err(VmError::InvalidConfig(_))));
    assert!(!f.run_dir().exists());

    // A run_dir with someone's files in it is refused, and the files stay.
    std::fs::create_dir_all(f.run_dir()).unwrap();
    std::fs::write(f.run_dir().join("thesis.tex"), "precious").unwrap();
    let hv = f.hv.clone();
    let started = launch(f.plan(Duration::from_secs(1)), move |_, _, _| async move {
        Ok(hv)
    })
    .await;
    assert!(matches!(started, Err(VmError::InvalidConfig(_))));
    assert!(Path::new(&f.run_dir().join("thesis.tex")).exists());
}

#[test]
fn guest_stops_read_as_power_off_unless_the_kernel_panicked() {
    assert_eq!(
        classify_guest_stop("reboot: Power down\n"),
        VmExit::PoweredOff
    );
    assert_eq!(
        classify_guest_stop("Kernel panic - not syncing: VFS\n"),
        VmExit::KernelPanic
    );
}
