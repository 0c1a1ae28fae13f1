//! The Objective-C delegates: they run on the VM's queue and only send [`HypervisorEvent`]s.

use std::os::fd::{FromRawFd, OwnedFd};

use objc2::rc::Retained;
use objc2::{define_class, msg_send, AllocAnyThread, DefinedClass};
use objc2_foundation::{NSError, NSObject, NSObjectProtocol};
use objc2_virtualization::{
    VZVirtioSocketConnection, VZVirtioSocketDevice, VZVirtioSocketListener,
    VZVirtioSocketListenerDelegate, VZVirtualMachine, VZVirtualMachineDelegate,
};

use super::super::machine::{Events, HypervisorEvent};

/// The state of [`VmDelegate`].
pub(super) struct VmDelegateIvars {
    events: Events,
}

define_class!(
    // SAFETY: NSObject has no subclassing requirements, and `VmDelegate` does not implement `Drop`.
    #[unsafe(super(NSObject))]
    #[name = "WorkroomVirtualMachineDelegate"]
    #[ivars = VmDelegateIvars]
    pub(super) struct VmDelegate;

    unsafe impl NSObjectProtocol for VmDelegate {}

    unsafe impl VZVirtualMachineDelegate for VmDelegate {
        /// The guest powered off (or rebooted: the framework does not reboot Linux guests).
        #[unsafe(method(guestDidStopVirtualMachine:))]
        fn guest_did_stop(&self, _vm: &VZVirtualMachine) {
            tracing::info!("the guest stopped the VM");
            let _ = self.ivars().events.send(HypervisorEvent::GuestStopped);
        }

        /// The framework stopped the VM because of an error (the guest crashed the device model,
        /// the host ran out of resources...).
        #[unsafe(method(virtualMachine:didStopWithError:))]
        fn did_stop_with_error(&self, _vm: &VZVirtualMachine, error: &NSError) {
            let message = error.localizedDescription().to_string();
            tracing::warn!(%message, "the framework stopped the VM");
            let _ = self.ivars().events.send(HypervisorEvent::Failed(message));
        }
    }
);

impl VmDelegate {
    pub(super) fn new(events: Events) -> Retained<Self> {
        let this = Self::alloc().set_ivars(VmDelegateIvars { events });
        // SAFETY: NSObject's designated initializer.
        unsafe { msg_send![super(this), init] }
    }
}

/// The state of [`ListenerDelegate`].
pub(super) struct ListenerIvars {
    events: Events,
}

define_class!(
    // SAFETY: NSObject has no subclassing requirements, and `ListenerDelegate` does not implement
    // `Drop`.
    #[unsafe(super(NSObject))]
    #[name = "WorkroomVirtioSocketListenerDelegate"]
    #[ivars = ListenerIvars]
    pub(super) struct ListenerDelegate;

    unsafe impl NSObjectProtocol for ListenerDelegate {}

    unsafe impl VZVirtioSocketListenerDelegate for ListenerDelegate {
        /// A guest connection to one of the listen ports. The connection object owns its
        /// descriptor and closes it when released, so the host keeps a duplicate.
        #[unsafe(method(listener:shouldAcceptNewConnection:fromSocketDevice:))]
        fn should_accept(
            &self,
            _listener: &VZVirtioSocketListener,
            connection: &VZVirtioSocketConnection,
            _device: &VZVirtioSocketDevice,
        ) -> bool {
            // SAFETY: property reads of a live connection, on the VM's queue.
            let (port, fd) = unsafe { (connection.destinationPort(), connection.fileDescriptor()) };
            match duplicate(fd) {
                Ok(fd) => self
                    .ivars()
                    .events
                    .send(HypervisorEvent::Connection { port, fd })
                    .is_ok(),
                Err(error) => {
                    tracing::warn!(port, %error, "cannot keep a guest connection; refusing it");
                    false
                }
            }
        }
    }
);

impl ListenerDelegate {
    pub(super) fn new(events: Events) -> Retained<Self> {
        let this = Self::alloc().set_ivars(ListenerIvars { events });
        // SAFETY: NSObject's designated initializer.
        unsafe { msg_send![super(this), init] }
    }
}

/// A close-on-exec duplicate of `fd`, owned by the caller.
fn duplicate(fd: libc::c_int) -> std::io::Result<OwnedFd> {
    // SAFETY: fcntl on a descriptor the connection keeps open for the duration of this call.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if copy < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `copy` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}
