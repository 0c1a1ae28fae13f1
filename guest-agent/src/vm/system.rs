//! PID 1 duties that talk to the kernel: filesystems, device nodes, modules, loopback, power off.

use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in string"))
}

/// mount(2); an already-mounted target counts as success.
pub fn mount(
    source: &str,
    target: &str,
    fstype: &str,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    std::fs::create_dir_all(target)?;
    let (source, target_c, fstype) = (cstr(source)?, cstr(target)?, cstr(fstype)?);
    let data = data.map(cstr).transpose()?;
    // SAFETY: all pointers are valid NUL-terminated strings (or null for data) for the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target_c.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |d| d.as_ptr().cast()),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EBUSY) {
        return Ok(());
    }
    Err(err)
}

/// The filesystems every program expects.
pub fn mount_basics() {
    let nosuid = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    let mounts: [(&str, &str, &str, libc::c_ulong, Option<&str>); 8] = [
        ("proc", "/proc", "proc", nosuid, None),
        ("sysfs", "/sys", "sysfs", nosuid, None),
        (
            "devtmpfs",
            "/dev",
            "devtmpfs",
            libc::MS_NOSUID,
            Some("mode=0755"),
        ),
        (
            "devpts",
            "/dev/pts",
            "devpts",
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some("gid=5,mode=0620,ptmxmode=0666"),
        ),
        (
            "tmpfs",
            "/dev/shm",
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            Some("mode=1777"),
        ),
        (
            "tmpfs",
            "/tmp",
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            Some("mode=1777"),
        ),
        (
            "tmpfs",
            "/run",
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            Some("mode=0755"),
        ),
        // The sessions' folders are mounted under here. A mount of its own, made shared below, so
        // folders mounted later also appear in the full userland's bind of it.
        (
            "tmpfs",
            "/sessions",
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            Some("mode=0755"),
        ),
    ];
    for (source, target, fstype, flags, data) in mounts {
        if let Err(e) = mount(source, target, fstype, flags, data) {
            tracing::warn!(target, error = %e, "mount failed");
        }
    }
    if let Err(e) = mount("none", "/sessions", "", libc::MS_SHARED, None) {
        tracing::warn!(error = %e, "cannot make /sessions a shared mount");
    }
}

/// The parameters the kernel command line gives module `module` (`<module>.<param>=<value>`, dashes
/// and underscores alike), as `finit_module` takes them. The kernel applies such words only to
/// built-in code; for a loadable module it is the loader's job (`modprobe` does the same). QEMU's
/// microvm without ACPI describes its devices this way (`virtio_mmio.device=512@0xfeb00e00:12`).
pub fn module_params(cmdline: &str, module: &str) -> String {
    let normal = |s: &str| s.replace('-', "_");
    let module = normal(module);
    cmdline
        .split_ascii_whitespace()
        .filter_map(|word| {
            let (name, param) = word.split_once('.')?;
            (normal(name) == module && !param.is_empty()).then_some(param)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Loads the modules listed in `/lib/modules/load.order`, in order, with their parameters from the
/// kernel command line. Returns how many loaded.
pub fn load_modules(dir: &Path) -> usize {
    let Ok(order) = std::fs::read_to_string(dir.join("load.order")) else {
        return 0;
    };
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let mut loaded = 0;
    for name in order.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let path = dir.join(name);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(module = name, error = %e, "cannot open module");
                continue;
            }
        };
        let module = name.strip_suffix(".ko").unwrap_or(name);
        let Ok(params) = std::ffi::CString::new(module_params(&cmdline, module)) else {
            continue;
        };
        // SAFETY: finit_module with a valid open descriptor, a NUL-terminated parameter string that
        // outlives the call, and no flags.
        let rc =
            unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), params.as_ptr(), 0) };
        if rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST) {
            loaded += 1;
        } else {
            tracing::warn!(module = name, error = %io::Error::last_os_error(), "module did not load");
        }
    }
    loaded
}

/// Brings the loopback interface up, so programs can use 127.0.0.1 (the model proxy listens there).
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: a plain datagram socket used only for the interface ioctl.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain old data; zero is a valid start.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write `req`, which outlives the calls.
    let result = unsafe {
        if libc::ioctl(sock, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            Err(io::Error::last_os_error())
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(sock, libc::SIOCSIFFLAGS as _, &req) < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: closing the socket we opened.
    unsafe { libc::close(sock) };
    result
}

/// Flushes filesystems and powers the machine off. Does not return on success.
pub fn power_off() -> io::Error {
    // SAFETY: sync(2) and reboot(2) take no pointers.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    io::Error::last_os_error()
}

/// Kernel release (`uname -r`).
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// (MemTotal, MemAvailable) in KiB.
pub fn memory_kb() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// Guest uptime in milliseconds.
pub fn uptime_ms() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map(|secs| (secs * 1000.0) as u64)
        .unwrap_or(0)
}

/// One-minute load average.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_parameters_come_from_the_command_line() {
        let cmdline = "console=ttyS0 virtio_mmio.device=512@0xfeb00e00:12 quiet \
                       virtio-mmio.device=512@0xfeb00c00:13 virtio_mmio_x.y=1 .bad=2";
        assert_eq!(
            module_params(cmdline, "virtio_mmio"),
            "device=512@0xfeb00e00:12 device=512@0xfeb00c00:13"
        );
        assert_eq!(module_params(cmdline, "fuse"), "");
    }
}
