//! What differs between host operating systems, in one place: which backend runs VMs, and the two
//! system facilities of the QEMU backend whose form differs between Linux and macOS (so the QEMU
//! backend compiles unchanged on both; it only runs on Linux, where `vhost-user` exists).

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{MissingTool, VmBackend};

/// The VM backend of this OS: Apple's Virtualization framework, which needs nothing installed.
/// (`state_dir` is the QEMU backend's.)
#[cfg(target_os = "macos")]
pub fn platform_backend(_state_dir: &Path) -> Result<Arc<dyn VmBackend>, MissingTool> {
    Ok(Arc::new(super::macos::AppleVzBackend::new()))
}

/// The VM backend of this OS: QEMU with `virtiofsd` and `vhost-device-vsock` (found on `PATH` or in
/// `~/.cargo/bin`; the error says how to install what is missing). `state_dir` is where it
/// remembers whether KVM works here.
#[cfg(not(target_os = "macos"))]
pub fn platform_backend(state_dir: &Path) -> Result<Arc<dyn VmBackend>, MissingTool> {
    let tools = super::Tools::discover(None)?;
    Ok(Arc::new(super::QemuBackend::new(super::QemuOptions::new(
        tools,
        state_dir.to_path_buf(),
    ))))
}

/// In a forked child before `exec`: SIGKILL the child when the thread that forked it exits
/// (`PR_SET_PDEATHSIG`; see `process`).
#[cfg(target_os = "linux")]
pub(crate) fn kill_with_parent() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only; async-signal-safe.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// macOS has no parent-death signal. The QEMU backend is not used there (the Apple Virtualization
/// backend runs VMs in-process), so children only get their own process group and `kill_on_drop`.
#[cfg(not(target_os = "linux"))]
pub(crate) fn kill_with_parent() -> io::Result<()> {
    Ok(())
}

/// `major:minor` of a device number, as `/dev/kvm`'s identity in the accelerator verdict.
#[cfg(target_os = "linux")]
pub(crate) fn device_number(rdev: u64) -> String {
    format!("{}:{}", libc::major(rdev), libc::minor(rdev))
}

/// `major:minor` of a device number (macOS packs `dev_t` into 32 bits; there is no `/dev/kvm` there,
/// so this only keeps the verdict code compiling).
#[cfg(not(target_os = "linux"))]
pub(crate) fn device_number(rdev: u64) -> String {
    let dev = rdev as libc::dev_t;
    format!("{}:{}", libc::major(dev), libc::minor(dev))
}
