//! The full userland as the shell's root: the read-only share under a writable overlay (in guest
//! memory, so nothing a command installs outlives the VM or reaches the host), with the kernel's
//! filesystems, `/tmp` and the sessions' folders bound in at the paths the agent uses. The agent
//! itself stays in the initramfs; only shell commands `chroot` here (see `tools::bash`).

use std::io;
use std::path::Path;
use std::sync::OnceLock;

use workroom_protocol::vm::SHELL_ROOT;

use super::system;

/// The overlay's writable layer and its work directory (same tmpfs, as overlayfs requires).
const OVERLAY_RW: &str = "/run/workroom/overlay";

/// The outcome of the one attempt: the root, or why there is none.
static PREPARED: OnceLock<Result<String, String>> = OnceLock::new();

/// Sets up [`SHELL_ROOT`] over the userland mounted at `lower` (once; later calls repeat the
/// first outcome).
pub fn prepare(lower: &str) -> Result<String, String> {
    PREPARED
        .get_or_init(|| {
            let started = std::time::Instant::now();
            let result = assemble(lower).map_err(|e| e.to_string());
            match &result {
                Ok(root) => tracing::info!(
                    root,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "full userland ready"
                ),
                Err(error) => {
                    tracing::error!(%error, "full userland unavailable; shell commands use busybox")
                }
            }
            result
        })
        .clone()
}

/// The shell root, if it was prepared.
pub fn shell_root() -> Option<String> {
    PREPARED.get().and_then(|r| r.as_ref().ok().cloned())
}

fn assemble(lower: &str) -> io::Result<String> {
    if !Path::new(lower).join("usr/bin/bash").exists() {
        return Err(io::Error::other(format!(
            "the userland share at {lower} has no /usr/bin/bash (is it built?)"
        )));
    }
    let step = |what: &str, e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    let nosuid = libc::MS_NOSUID | libc::MS_NODEV;
    // A quarter of the guest's memory at most: /tmp has its own tmpfs, and what a command installs
    // must not starve the agent.
    system::mount(
        "tmpfs",
        OVERLAY_RW,
        "tmpfs",
        nosuid,
        Some("mode=0755,size=25%"),
    )
    .map_err(|e| step("overlay tmpfs", e))?;
    let (upper, work) = (format!("{OVERLAY_RW}/upper"), format!("{OVERLAY_RW}/work"));
    std::fs::create_dir_all(&upper)?;
    std::fs::create_dir_all(&work)?;
    let options = format!("lowerdir={lower},upperdir={upper},workdir={work}");
    system::mount("overlay", SHELL_ROOT, "overlay", 0, Some(&options))
        .map_err(|e| step("overlay", e))?;
    let inside = |path: &str| format!("{SHELL_ROOT}{path}");
    let noexec = nosuid | libc::MS_NOEXEC;
    system::mount("proc", &inside("/proc"), "proc", noexec, None).map_err(|e| step("/proc", e))?;
    system::mount("sysfs", &inside("/sys"), "sysfs", noexec, None).map_err(|e| step("/sys", e))?;
    // Recursive binds: /dev brings /dev/pts and /dev/shm; /sessions brings the folders mounted so
    // far, and later ones follow because /sessions is a shared mount (see `system::mount_basics`).
    let rbind = libc::MS_BIND | libc::MS_REC;
    for path in ["/dev", "/tmp", "/sessions"] {
        system::mount(path, &inside(path), "none", rbind, None).map_err(|e| step(path, e))?;
    }
    Ok(SHELL_ROOT.to_string())
}
