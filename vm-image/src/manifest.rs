//! `manifest.json`: what an image is made of, so the host can check and report it.

use serde::{Deserialize, Serialize};

/// Bumped when the layout or meaning of the outputs changes.
pub const FORMAT_VERSION: u32 = 1;

/// The manifest written next to `kernel` and `initramfs.cpio.gz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// `x86_64` or `aarch64`.
    pub arch: String,
    /// The kernel file.
    pub kernel: KernelInfo,
    /// The initramfs file.
    pub initramfs: FileInfo,
    /// The Debian kernel package used.
    pub kernel_package: PackageInfo,
    /// The Debian busybox package used.
    pub busybox_package: PackageInfo,
    /// The agent packed as `/init`.
    pub agent: AgentInfo,
    /// Modules in `/lib/modules`, in load order (file names, as in `/lib/modules/load.order`).
    pub modules: Vec<String>,
    /// Wanted modules that are built into this kernel (nothing to load).
    pub builtin_modules: Vec<String>,
    /// Kernel command line facts the host needs.
    pub cmdline: CmdlineInfo,
}

/// The kernel file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelInfo {
    /// File name inside the image directory (`kernel`).
    pub file: String,
    /// `pvh-elf` (x86_64 `vmlinux` with the PVH entry note) or `arm64-image`.
    pub format: String,
    /// Kernel release (`uname -r`), e.g. `6.1.0-56-amd64`.
    pub release: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: String,
}

/// A produced file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    /// File name inside the image directory.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: String,
    /// Size of the uncompressed cpio.
    pub uncompressed_size: u64,
}

/// A Debian package that went into the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageInfo {
    /// Binary package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Download URL.
    pub url: String,
    /// SHA-256 of the `.deb`.
    pub sha256: String,
    /// Whether this is the pinned package (`false`: the pin had left the archive and this is its
    /// replacement, see `replaces`).
    pub pinned: bool,
    /// `name version` of the pin it replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// The guest agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// Cargo package version, when known.
    pub version: Option<String>,
    /// Rust target triple.
    pub target: String,
    /// `built` (cross-built by this tool) or `given` (`--agent-bin`).
    pub source: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: String,
}

/// What the host puts on the kernel command line for this image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmdlineInfo {
    /// Serial console device: `console=<this>` (`ttyS0` on x86_64, `ttyAMA0` on aarch64 `virt`).
    pub console: String,
    /// `/init` is the agent; the kernel finds it without `rdinit=`. Parameters the image wants
    /// regardless of machine type (boot-time savings measured in the recipe); the host adds the
    /// console, machine-specific ones (`pci=off`, `tsc_early_khz=`) and the `workroom.*` keys.
    pub recommended: String,
}

impl Manifest {
    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let m = Manifest {
            format_version: FORMAT_VERSION,
            arch: "x86_64".into(),
            kernel: KernelInfo {
                file: "kernel".into(),
                format: "pvh-elf".into(),
                release: "6.1.0-56-amd64".into(),
                size: 1,
                sha256: "a".repeat(64),
            },
            initramfs: FileInfo {
                file: "initramfs.cpio.gz".into(),
                size: 2,
                sha256: "b".repeat(64),
                uncompressed_size: 3,
            },
            kernel_package: PackageInfo {
                name: "linux-image-6.1.0-56-amd64".into(),
                version: "6.1.192-2".into(),
                url: "https://deb.debian.org/x.deb".into(),
                sha256: "c".repeat(64),
                pinned: true,
                replaces: None,
            },
            busybox_package: PackageInfo {
                name: "busybox-static".into(),
                version: "1:1.35.0-4+deb12u1+b1".into(),
                url: "https://deb.debian.org/y.deb".into(),
                sha256: "d".repeat(64),
                pinned: false,
                replaces: Some("busybox-static 1:1.35.0-4".into()),
            },
            agent: AgentInfo {
                version: Some("0.1.0".into()),
                target: "x86_64-unknown-linux-musl".into(),
                source: "built".into(),
                size: 4,
                sha256: "e".repeat(64),
            },
            modules: vec!["virtio_ring.ko".into()],
            builtin_modules: vec![],
            cmdline: CmdlineInfo {
                console: "ttyS0".into(),
                recommended: "quiet".into(),
            },
        };
        let json = m.to_json();
        assert!(!json.contains("\"replaces\": null"));
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }
}
