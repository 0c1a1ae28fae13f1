//! The macOS backend: VMs run in-process by Apple's Virtualization framework (VZ).
//!
//! # Shape
//!
//! Most of the backend does not touch the framework and is compiled and tested on every OS; only
//! `vz` (compiled on macOS alone) calls it, through the `objc2-virtualization` bindings.
//!
//! | module | job | OS |
//! |---|---|---|
//! | [`plan`] | `VmConfig` → checked numbers, the `hvc0` kernel command line, the share set | all |
//! | [`shares`] | the directories of the one multiple-directory VirtioFS device, growable at run time | all |
//! | `completion` | completion handlers as futures; work submitted to the VM's queue | all |
//! | [`machine`] | the VM handle over a small `Hypervisor` trait: watchdog, connections, status, stop | all |
//! | `vz` | the framework: configuration objects, the VM on its own dispatch queue, delegates | macOS |
//!
//! # The framework in brief
//!
//! - `VZLinuxBootLoader` boots the image's kernel (the arm64 `Image` must be uncompressed, which the
//!   image builder guarantees) and initramfs with the plan's command line.
//! - One `VZVirtioFileSystemDeviceConfiguration` (tag [`shares::DEVICE_TAG`]) carries a
//!   `VZMultipleDirectoryShare`: the guest mounts the device once and bind-mounts one subdirectory per
//!   share (`workroom.share=workroom/<tag>:<path>` on the command line). A running VM's device can be
//!   given a new directory map, so folders can be added without a reboot ([`machine::VzMachine::add_share`]).
//! - `VZVirtioSocketDeviceConfiguration` with a `VZVirtioSocketListener` per listen port: guest
//!   connections arrive in the listener's delegate, whose connection object owns the descriptor, so
//!   the delegate `dup`s it and hands the copy to tokio.
//! - A virtio console port (`hvc0`) written to the console pipe, an entropy device and a memory
//!   balloon.
//! - `VZVirtualMachine` is not `Send` and must be used on the serial dispatch queue it was created
//!   with; `vz` keeps every framework object behind that queue and turns completion handlers into
//!   futures.

pub mod completion;
pub mod machine;
pub mod plan;
pub mod shares;
#[cfg(target_os = "macos")]
mod vz;

pub use machine::VzMachine;
pub use plan::VzPlan;
pub use shares::{ShareError, ShareSet};
#[cfg(target_os = "macos")]
pub use vz::{AppleVzBackend, AppleVzVm};
