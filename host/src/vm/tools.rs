//! Finding QEMU, `virtiofsd` and `vhost-device-vsock`, and saying how to install what is missing.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The helper programs of the QEMU backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// `qemu-system-x86_64`.
    pub qemu_x86: PathBuf,
    /// `qemu-system-aarch64`, if installed (only needed for aarch64 guests).
    pub qemu_aarch64: Option<PathBuf>,
    /// `virtiofsd` (1.x, the Rust one).
    pub virtiofsd: PathBuf,
    /// `vhost-device-vsock`.
    pub vhost_device_vsock: PathBuf,
}

/// A program the backend needs and how to install it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingProgram {
    /// The program's file name.
    pub program: &'static str,
    /// The command that installs it.
    pub install: &'static str,
}

/// One or more helper programs were not found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.missing, .searched))]
pub struct MissingTool {
    /// What is missing, with the install command for each.
    pub missing: Vec<MissingProgram>,
    /// The directories that were searched.
    pub searched: Vec<PathBuf>,
}

fn describe(missing: &[MissingProgram], searched: &[PathBuf]) -> String {
    let what = missing
        .iter()
        .map(|m| {
            format!(
                "{} was not found; install it with `{}`",
                m.program, m.install
            )
        })
        .collect::<Vec<_>>()
        .join(". ");
    let dirs = searched
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if dirs.is_empty() {
        what
    } else {
        format!("{what} (searched: {dirs})")
    }
}

/// `qemu-system-x86_64`.
pub const QEMU_X86: MissingProgram = MissingProgram {
    program: "qemu-system-x86_64",
    install: "apt-get install qemu-system-x86",
};
/// `qemu-system-aarch64`.
pub const QEMU_AARCH64: MissingProgram = MissingProgram {
    program: "qemu-system-aarch64",
    install: "apt-get install qemu-system-arm",
};
/// `virtiofsd`.
pub const VIRTIOFSD: MissingProgram = MissingProgram {
    program: "virtiofsd",
    install: "cargo install --locked virtiofsd",
};
/// `vhost-device-vsock`.
pub const VHOST_DEVICE_VSOCK: MissingProgram = MissingProgram {
    program: "vhost-device-vsock",
    install: "cargo install --locked vhost-device-vsock",
};

/// Where distributions put `virtiofsd` outside `PATH`.
const LIBEXEC_DIRS: &[&str] = &["/usr/libexec", "/usr/lib/qemu", "/usr/lib/virtiofsd"];

impl Tools {
    /// Looks for every program in `extra_dir` (the app's tools directory), then on `PATH`, then in
    /// `~/.cargo/bin` (where `cargo install` puts the daemons), then (for `virtiofsd`) in the
    /// distributions' libexec directories. A few `stat` calls: fine at startup, otherwise call it
    /// from `spawn_blocking`.
    pub fn discover(extra_dir: Option<&Path>) -> Result<Tools, MissingTool> {
        let dirs = search_dirs(
            extra_dir,
            std::env::var_os("PATH"),
            std::env::var_os("HOME").map(PathBuf::from),
        );
        Self::discover_in(&dirs)
    }

    /// [`Tools::discover`] over an explicit list of directories (in order).
    pub fn discover_in(dirs: &[PathBuf]) -> Result<Tools, MissingTool> {
        let with_libexec: Vec<PathBuf> = dirs
            .iter()
            .cloned()
            .chain(LIBEXEC_DIRS.iter().map(PathBuf::from))
            .collect();
        let mut missing = Vec::new();
        let mut find = |wanted: MissingProgram, dirs: &[PathBuf]| {
            let found = find_in(wanted.program, dirs);
            if found.is_none() {
                missing.push(wanted);
            }
            found
        };
        let qemu_x86 = find(QEMU_X86, dirs);
        let virtiofsd = find(VIRTIOFSD, &with_libexec);
        let vhost_device_vsock = find(VHOST_DEVICE_VSOCK, dirs);
        let qemu_aarch64 = find_in(QEMU_AARCH64.program, dirs);
        match (qemu_x86, virtiofsd, vhost_device_vsock) {
            (Some(qemu_x86), Some(virtiofsd), Some(vhost_device_vsock)) => Ok(Tools {
                qemu_x86,
                qemu_aarch64,
                virtiofsd,
                vhost_device_vsock,
            }),
            _ => Err(MissingTool {
                missing,
                searched: dirs.to_vec(),
            }),
        }
    }
}

/// The search order: `extra_dir`, `PATH`, `~/.cargo/bin`, without duplicates.
fn search_dirs(
    extra_dir: Option<&Path>,
    path: Option<OsString>,
    home: Option<PathBuf>,
) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let candidates = extra_dir
        .map(Path::to_path_buf)
        .into_iter()
        .chain(path.iter().flat_map(std::env::split_paths))
        .chain(home.map(|h| h.join(".cargo").join("bin")));
    for dir in candidates {
        if !dir.as_os_str().is_empty() && !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

fn find_in(program: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    dirs.iter().map(|d| d.join(program)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn touch_exe(dir: &Path, name: &str) {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn missing_programs_are_named_with_their_install_command() {
        let dir = tempfile::tempdir().unwrap();
        touch_exe(dir.path(), "qemu-system-x86_64");
        let err = Tools::discover_in(&[dir.path().to_path_buf()]).unwrap_err();
        assert_eq!(err.missing, vec![VIRTIOFSD, VHOST_DEVICE_VSOCK]);
        let text = err.to_string();
        assert!(
            text.starts_with(
                "virtiofsd was not found; install it with `cargo install --locked virtiofsd`. \
                 vhost-device-vsock was not found; install it with `cargo install --locked vhost-device-vsock`"
            ),
            "{text}"
        );
        assert!(text.contains(&dir.path().display().to_string()), "{text}");
    }

    #[test]
    fn qemu_hint_is_the_apt_package() {
        let dir = tempfile::tempdir().unwrap();
        let err = Tools::discover_in(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(err.to_string().starts_with(
            "qemu-system-x86_64 was not found; install it with `apt-get install qemu-system-x86`"
        ));
    }

    #[test]
    fn finds_executables_in_order_and_ignores_non_executables() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::write(first.path().join("virtiofsd"), "not executable").unwrap();
        for name in ["qemu-system-x86_64", "virtiofsd", "vhost-device-vsock"] {
            touch_exe(second.path(), name);
        }
        touch_exe(first.path(), "vhost-device-vsock");
        let tools =
            Tools::discover_in(&[first.path().to_path_buf(), second.path().to_path_buf()]).unwrap();
        assert_eq!(tools.virtiofsd, second.path().join("virtiofsd"));
        assert_eq!(
            tools.vhost_device_vsock,
            first.path().join("vhost-device-vsock")
        );
        assert_eq!(tools.qemu_aarch64, None);
    }

    #[test]
    fn search_order_is_tools_dir_then_path_then_cargo_bin() {
        let dirs = search_dirs(
            Some(Path::new("/app/tools")),
            Some(OsString::from("/usr/bin:/bin:/usr/bin")),
            Some(PathBuf::from("/home/u")),
        );
        let expected: Vec<PathBuf> = ["/app/tools", "/usr/bin", "/bin", "/home/u/.cargo/bin"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(dirs, expected);
    }
}
