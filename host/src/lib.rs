//! Workroom's host: everything outside the VM.
//!
//! - `vm`: starting and stopping guest VMs (the `VmBackend` trait and its QEMU implementation).
//! - [`guest`]: the channels into a running guest: supervisor link, session routing, model proxy.

pub mod guest;
