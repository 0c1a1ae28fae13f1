//! The Virtualization framework itself (compiled on macOS only): the backend, the VM on its own
//! dispatch queue, and the delegates that report to [`super::machine`].
//!
//! # Threading
//!
//! `VZVirtualMachine` is not `Send`: every call on it must happen on the serial dispatch queue it was
//! created with, and the framework calls completion handlers and delegates there too. So every
//! framework object of a VM lives in a [`Machine`] that only jobs on that queue touch ([`VzQueue`]);
//! async code submits jobs and awaits their results (`completion::on_queue`) and the completion
//! handlers they register (`completion::completion`). Delegates and listeners only send
//! [`HypervisorEvent`](super::machine::HypervisorEvent)s down a channel, which is `Send`.

mod config;
mod delegates;

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, PoisonError};

use block2::RcBlock;
use dispatch2::{DispatchQueue, DispatchRetained};
use objc2::rc::Retained;
use objc2::runtime::ProtocolObject;
use objc2::AllocAnyThread;
use objc2_foundation::NSError;
use objc2_virtualization::{
    VZDirectoryShare, VZVirtioFileSystemDevice, VZVirtioSocketDevice, VZVirtioSocketListener,
    VZVirtualMachine,
};

use super::completion::{completion, on_queue, Abandoned, Pending};
use super::machine::{launch, Events, Hypervisor, VzMachine};
use super::plan::VzPlan;
use super::shares::ShareSet;
use crate::vm::{BoxFuture, Vm, VmBackend, VmConfig, VmError};
use delegates::{ListenerDelegate, VmDelegate};

/// What the framework is called in errors.
const FRAMEWORK: &str = "the VM (Apple Virtualization framework)";

/// A VM of [`AppleVzBackend`]: the [`VzMachine`] handle over the framework.
pub type AppleVzVm = VzMachine<VzHypervisor>;

/// Runs VMs with Apple's Virtualization framework. Needs the `com.apple.security.virtualization`
/// entitlement in the signature of the running program (README, "Build on macOS").
#[derive(Debug, Default)]
pub struct AppleVzBackend {
    _private: (),
}

impl AppleVzBackend {
    /// The backend. Whether this Mac can run VMs is checked at each start.
    pub fn new() -> Self {
        AppleVzBackend::default()
    }

    /// [`VmBackend::start`] with the concrete handle type.
    pub async fn start_vm(&self, config: VmConfig) -> Result<AppleVzVm, VmError> {
        let plan = VzPlan::new(&config)?;
        launch(plan, VzHypervisor::start).await
    }
}

impl VmBackend for AppleVzBackend {
    fn name(&self) -> &'static str {
        "apple-vz"
    }

    fn start(&self, config: VmConfig) -> BoxFuture<'_, Result<Box<dyn Vm>, VmError>> {
        Box::pin(async move {
            self.start_vm(config)
                .await
                .map(|vm| Box::new(vm) as Box<dyn Vm>)
        })
    }
}

/// The framework objects of one VM. Only ever touched by jobs on the VM's queue.
struct Machine {
    vm: Retained<VZVirtualMachine>,
    /// The directory-sharing device, when the VM has shares.
    fs_device: Option<Retained<VZVirtioFileSystemDevice>>,
    /// The framework holds its delegates weakly: these keep them alive as long as the VM.
    _delegate: Retained<VmDelegate>,
    _listener: Retained<VZVirtioSocketListener>,
    _listener_delegate: Retained<ListenerDelegate>,
}

/// A value that only jobs on one serial dispatch queue touch.
struct QueueBound<T>(Mutex<Option<T>>);

// SAFETY: the value is only reached through `VzQueue::run`, whose jobs all run on the VM's serial
// queue, one at a time (the mutex is never contended; it only makes the access safe to write). The
// framework objects inside are thus used on the queue they belong to, as the framework requires,
// and never concurrently.
unsafe impl<T> Send for QueueBound<T> {}
// SAFETY: as for `Send`: shared references only lead to the value through jobs on the queue.
unsafe impl<T> Sync for QueueBound<T> {}

/// A VM's dispatch queue and the objects confined to it.
#[derive(Clone)]
struct VzQueue {
    queue: DispatchRetained<DispatchQueue>,
    machine: Arc<QueueBound<Machine>>,
}

impl VzQueue {
    fn new() -> Self {
        VzQueue {
            // `None` attributes: a serial queue, which `VZVirtualMachine` requires.
            queue: DispatchQueue::new("dev.workroom.vm", None),
            machine: Arc::new(QueueBound(Mutex::new(None))),
        }
    }

    /// Runs `work` on the queue with the VM's objects and awaits its result.
    fn run<R, W>(&self, work: W) -> Pending<R>
    where
        R: Send + 'static,
        W: FnOnce(&mut Option<Machine>, &DispatchQueue) -> R + Send + 'static,
    {
        let machine = Arc::clone(&self.machine);
        let queue = self.queue.clone();
        let target = self.queue.clone();
        on_queue(
            move |job| target.exec_async(job),
            move || {
                let mut machine = machine.0.lock().unwrap_or_else(PoisonError::into_inner);
                work(&mut machine, &queue)
            },
        )
    }
}

/// The framework's side of a VM, for [`VzMachine`].
pub struct VzHypervisor {
    queue: VzQueue,
}

impl VzHypervisor {
    /// Builds the configuration, creates the VM on its own queue with its delegates and vsock
    /// listeners, starts it and waits until the framework says it runs.
    async fn start(plan: VzPlan, console: OwnedFd, events: Events) -> Result<Self, VmError> {
        // SAFETY: a class property without preconditions.
        if !unsafe { VZVirtualMachine::isSupported() } {
            return Err(VmError::InvalidConfig(
                "this Mac cannot run virtual machines (Apple's Virtualization framework reports no support; inside a VM, nested virtualization is missing)".into(),
            ));
        }
        let hypervisor = VzHypervisor {
            queue: VzQueue::new(),
        };
        let (started, start_result) = completion::<Result<(), String>>();
        let created = hypervisor
            .queue
            .run(move |machine, queue| {
                let created = create(&plan, console, events, queue)?;
                let done = RcBlock::new(move |error: *mut NSError| {
                    started.complete(error_result(error));
                });
                // SAFETY: on the VM's queue; the block lives as long as the framework needs it
                // (it retains the block).
                unsafe { created.vm.startWithCompletionHandler(&done) };
                *machine = Some(created);
                Ok(())
            })
            .await;
        match created {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(Abandoned) => return Err(start_error(Abandoned.to_string())),
        }
        match start_result.await {
            Ok(Ok(())) => Ok(hypervisor),
            Ok(Err(message)) => Err(start_error(message)),
            Err(Abandoned) => Err(start_error(Abandoned.to_string())),
        }
    }

    /// Runs `call` on the queue with the VM, turning "no VM" and a dropped job into errors.
    async fn with_vm<W>(&self, call: W) -> Result<(), String>
    where
        W: FnOnce(&Machine) -> Result<(), String> + Send + 'static,
    {
        let ran = self
            .queue
            .run(move |machine, _| match machine {
                Some(machine) => call(machine),
                None => Err("the VM is gone".to_string()),
            })
            .await;
        ran.unwrap_or_else(|e| Err(e.to_string()))
    }
}

impl Hypervisor for VzHypervisor {
    fn request_stop(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(self.with_vm(|machine| {
            // SAFETY: on the VM's queue.
            unsafe { machine.vm.requestStopWithError() }
                .map_err(|e| e.localizedDescription().to_string())
        }))
    }

    fn stop(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let (done, result) = completion::<Result<(), String>>();
            self.with_vm(move |machine| {
                // SAFETY: on the VM's queue.
                if !unsafe { machine.vm.canStop() } {
                    done.complete(Ok(()));
                    return Ok(());
                }
                let block = RcBlock::new(move |error: *mut NSError| {
                    done.complete(error_result(error));
                });
                // SAFETY: on the VM's queue; the framework retains the block.
                unsafe { machine.vm.stopWithCompletionHandler(&block) };
                Ok(())
            })
            .await?;
            result.await.unwrap_or_else(|e| Err(e.to_string()))
        })
    }

    fn set_shares(&self, shares: &ShareSet) -> BoxFuture<'_, Result<(), String>> {
        let shares = shares.clone();
        Box::pin(self.with_vm(move |machine| {
            let Some(device) = &machine.fs_device else {
                // A device cannot be added to a running VM; the VM must be started with a share.
                return Err(
                    "the VM was started without shared folders, so none can be added".into(),
                );
            };
            let share = config::directory_share(&shares)?;
            let share: &VZDirectoryShare = &share;
            // SAFETY: on the VM's queue; the device takes its own reference to the share.
            unsafe { device.setShare(Some(share)) };
            Ok(())
        }))
    }
}

impl Drop for VzHypervisor {
    fn drop(&mut self) {
        // Stop the VM (if it still runs) and release its objects on its own queue; the objects are
        // kept until the stop completed, so nothing is released under the framework's feet.
        let machine = Arc::clone(&self.queue.machine);
        self.queue.queue.exec_async(move || {
            let taken = machine
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let Some(taken) = taken else { return };
            let vm = taken.vm.clone();
            // SAFETY: on the VM's queue.
            if unsafe { vm.canStop() } {
                let keep = std::cell::Cell::new(Some(taken));
                let block = RcBlock::new(move |_error: *mut NSError| drop(keep.take()));
                // SAFETY: on the VM's queue; the framework retains the block (and with it `keep`).
                unsafe { vm.stopWithCompletionHandler(&block) };
            }
        });
    }
}

/// Creates the VM and its delegates and listeners (on the VM's queue).
fn create(
    plan: &VzPlan,
    console: OwnedFd,
    events: Events,
    queue: &DispatchQueue,
) -> Result<Machine, VmError> {
    let configuration = config::configuration(plan, console)?;
    // SAFETY: the configuration was validated; `queue` is the serial queue this job runs on.
    let vm = unsafe {
        VZVirtualMachine::initWithConfiguration_queue(
            VZVirtualMachine::alloc(),
            &configuration,
            queue,
        )
    };
    let delegate = VmDelegate::new(events.clone());
    let listener_delegate = ListenerDelegate::new(events);
    // SAFETY: creating a listener has no preconditions.
    let listener = unsafe { VZVirtioSocketListener::new() };
    // SAFETY: on the VM's queue; the delegates are kept alive by `Machine` as long as the VM.
    let (socket_device, fs_device) = unsafe {
        vm.setDelegate(Some(ProtocolObject::from_ref(&*delegate)));
        listener.setDelegate(Some(ProtocolObject::from_ref(&*listener_delegate)));
        let socket_device = vm
            .socketDevices()
            .firstObject()
            .and_then(|d| d.downcast::<VZVirtioSocketDevice>().ok());
        let fs_device = vm
            .directorySharingDevices()
            .firstObject()
            .and_then(|d| d.downcast::<VZVirtioFileSystemDevice>().ok());
        (socket_device, fs_device)
    };
    let socket_device = socket_device.ok_or_else(|| {
        VmError::InvalidConfig("the framework created the VM without its vsock device".into())
    })?;
    for &port in &plan.listen_ports {
        // SAFETY: on the VM's queue; the device retains the listener.
        unsafe { socket_device.setSocketListener_forPort(&listener, port) };
    }
    Ok(Machine {
        vm,
        fs_device,
        _delegate: delegate,
        _listener: listener,
        _listener_delegate: listener_delegate,
    })
}

/// A completion handler's error argument as a result with the error's description.
fn error_result(error: *mut NSError) -> Result<(), String> {
    // SAFETY: the framework passes nil or a valid NSError that lives for the handler's call.
    match unsafe { error.as_ref() } {
        None => Ok(()),
        Some(error) => Err(error.localizedDescription().to_string()),
    }
}

/// The framework refused to start the VM.
fn start_error(message: String) -> VmError {
    VmError::Spawn {
        program: FRAMEWORK.to_string(),
        source: std::io::Error::other(message),
    }
}
