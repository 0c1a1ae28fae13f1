//! Workroom's host: everything outside the VM.
//!
//! - [`vm`]: starting and stopping guest VMs (the [`vm::VmBackend`] trait, its QEMU implementation for
//!   Linux hosts and a fake for tests), the helper daemons and the vsock listeners.
//! - [`guest`]: the channels into a running guest: supervisor link, session routing, model proxy.
//! - [`checkpoint`]: snapshots of shared folders for undo: what a turn changed, restore with a journal.

pub mod checkpoint;
pub mod connectors;
pub mod credentials;
pub mod folders;
pub mod guest;
pub mod image;
pub mod machine;
pub mod paths;
pub mod session;
pub mod settings;
pub mod store;
pub mod vm;
