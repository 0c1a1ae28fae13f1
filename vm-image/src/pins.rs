//! Pinned inputs: the Debian packages the image is built from, by path, version, size and SHA-256.
//!
//! Where the hashes come from (fetched by hand on 2026-11-27):
//! - the kernels from `https://deb.debian.org/debian-security/dists/bookworm-security/main/binary-{amd64,arm64}/Packages.xz`
//!   (Release dated 2026-11-25). The 6.1.0-56 kernels are security updates: they live in the
//!   `debian-security` archive under `pool/updates/`, not in `debian/pool/main/` (which only holds
//!   what the last point release, 12.15, shipped: 6.1.0-47 and 6.1.0-50 at the time).
//! - busybox-static from `https://deb.debian.org/debian/dists/bookworm/main/binary-{amd64,arm64}/Packages.xz`
//!   (bookworm 12.15, Release dated 2026-07-11).
//!
//! The same hashes are what `apt-cache show linux-image-6.1.0-56-amd64` prints on a bookworm machine.
//! Debian removes superseded kernels from the pool, so when a pinned URL answers 404 the builder
//! resolves the current package of the same name pattern from the [`FALLBACK_INDICES`] (see
//! [`crate::fetch::resolve_current`]) and says so loudly.

use crate::Arch;

/// One Debian archive suite whose `Packages.xz` can be searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    /// Archive base URL, ending in `/` (`https://deb.debian.org/debian/`).
    pub archive: &'static str,
    /// Suite name under `dists/` (`bookworm`).
    pub suite: &'static str,
}

impl Suite {
    /// `dists/<suite>/Release`
    pub fn release_url(&self) -> String {
        format!("{}dists/{}/Release", self.archive, self.suite)
    }
    /// Path of the index relative to `dists/<suite>/`, as the Release file lists it.
    pub fn packages_rel_path(&self, debian_arch: &str) -> String {
        format!("main/binary-{debian_arch}/Packages.xz")
    }
    /// `dists/<suite>/main/binary-<arch>/Packages.xz`
    pub fn packages_url(&self, debian_arch: &str) -> String {
        format!(
            "{}dists/{}/{}",
            self.archive,
            self.suite,
            self.packages_rel_path(debian_arch)
        )
    }
}

/// The Debian archive (point releases).
pub const DEBIAN_BOOKWORM: Suite = Suite {
    archive: "https://deb.debian.org/debian/",
    suite: "bookworm",
};

/// The Debian security archive (kernel updates between point releases).
pub const DEBIAN_BOOKWORM_SECURITY: Suite = Suite {
    archive: "https://deb.debian.org/debian-security/",
    suite: "bookworm-security",
};

/// Where a replacement for a vanished pinned package is looked for; the highest version wins.
pub const FALLBACK_INDICES: &[Suite] = &[DEBIAN_BOOKWORM_SECURITY, DEBIAN_BOOKWORM];

/// Which package names may replace a pinned one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePattern {
    /// Exactly this name.
    Exact(&'static str),
    /// `<prefix><digits><suffix>`, e.g. `linux-image-6.1.0-` + ABI number + `-amd64`
    /// (which excludes `-cloud-amd64`, `-rt-amd64`, `-dbg` and `-unsigned`).
    Numbered {
        /// Text before the number.
        prefix: &'static str,
        /// Text after the number.
        suffix: &'static str,
    },
}

impl NamePattern {
    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match *self {
            NamePattern::Exact(exact) => name == exact,
            NamePattern::Numbered { prefix, suffix } => name
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(suffix))
                .is_some_and(|digits| {
                    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                }),
        }
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamePattern::Exact(name) => f.write_str(name),
            NamePattern::Numbered { prefix, suffix } => write!(f, "{prefix}<N>{suffix}"),
        }
    }
}

/// A pinned `.deb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebPin {
    /// Binary package name.
    pub package: &'static str,
    /// Debian version (with epoch if any).
    pub version: &'static str,
    /// The suite whose index lists it.
    pub suite: Suite,
    /// `Filename:` from the index, relative to the archive base.
    pub filename: &'static str,
    /// `Size:` from the index.
    pub size: u64,
    /// `SHA256:` from the index.
    pub sha256: &'static str,
    /// Names that may replace it when it has left the archive.
    pub fallback: NamePattern,
}

impl DebPin {
    /// The full download URL.
    pub fn url(&self) -> String {
        format!("{}{}", self.suite.archive, self.filename)
    }
}

/// The Debian kernel package for an architecture.
pub fn kernel(arch: Arch) -> DebPin {
    match arch {
        Arch::X86_64 => DebPin {
            package: "linux-image-6.1.0-56-amd64",
            version: "6.1.192-2",
            suite: DEBIAN_BOOKWORM_SECURITY,
            filename: "pool/updates/main/l/linux-signed-amd64/linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb",
            size: 70_550_672,
            sha256: "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1",
            fallback: NamePattern::Numbered {
                prefix: "linux-image-6.1.0-",
                suffix: "-amd64",
            },
        },
        Arch::Aarch64 => DebPin {
            package: "linux-image-6.1.0-56-arm64",
            version: "6.1.192-2",
            suite: DEBIAN_BOOKWORM_SECURITY,
            filename: "pool/updates/main/l/linux-signed-arm64/linux-image-6.1.0-56-arm64_6.1.192-2_arm64.deb",
            size: 59_812_568,
            sha256: "6f4ed2d1cb9106bc977c2b1960008f175e2eed5740340634b7894e65ef5acc82",
            fallback: NamePattern::Numbered {
                prefix: "linux-image-6.1.0-",
                suffix: "-arm64",
            },
        },
    }
}

/// Debian's `busybox-static` for an architecture.
pub fn busybox(arch: Arch) -> DebPin {
    match arch {
        Arch::X86_64 => DebPin {
            package: "busybox-static",
            version: "1:1.35.0-4+deb12u1+b1",
            suite: DEBIAN_BOOKWORM,
            filename: "pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_amd64.deb",
            size: 928_188,
            sha256: "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744",
            fallback: NamePattern::Exact("busybox-static"),
        },
        Arch::Aarch64 => DebPin {
            package: "busybox-static",
            version: "1:1.35.0-4+deb12u1+b1",
            suite: DEBIAN_BOOKWORM,
            filename: "pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_arm64.deb",
            size: 822_236,
            sha256: "732c9135564fc71337e0e05fb4da4d11e6c28c1834bce3e405e575afef2a52f5",
            fallback: NamePattern::Exact("busybox-static"),
        },
    }
}

/// The modules the guest needs (recipe §2.2), in the order the agent should load them when they
/// are all modules. Built-in ones (arm64 has `virtio` and `virtio_ring` built in) are skipped and
/// dependencies are added, so the actual load order comes from [`crate::modules::resolve`].
pub const WANTED_MODULES: &[&str] = &[
    "virtio_ring",
    "virtio",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_mmio",
    "fuse",
    "virtiofs",
    "vsock",
    "vmw_vsock_virtio_transport_common",
    "vmw_vsock_virtio_transport",
    // The full userland's writable layer over its read-only share.
    "overlay",
    // For Apple's Virtualization framework (the macOS backend): its only console for Linux guests is
    // the virtio console (`hvc0`), and it gets an entropy device and a memory balloon. Modules in
    // Debian's kernels; under QEMU they load and find no device.
    "virtio_console",
    "virtio_rng",
    "virtio_balloon",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_pattern_matches_only_the_plain_flavour() {
        let p = kernel(Arch::X86_64).fallback;
        assert!(p.matches("linux-image-6.1.0-56-amd64"));
        assert!(p.matches("linux-image-6.1.0-57-amd64"));
        assert!(!p.matches("linux-image-6.1.0-56-cloud-amd64"));
        assert!(!p.matches("linux-image-6.1.0-56-amd64-dbg"));
        assert!(!p.matches("linux-image-6.1.0--amd64"));
        assert!(!p.matches("linux-image-6.1.0-56-arm64"));
    }

    #[test]
    fn pins_are_consistent() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for pin in [kernel(arch), busybox(arch)] {
                assert!(pin.fallback.matches(pin.package));
                assert_eq!(pin.sha256.len(), 64);
                assert!(pin.url().starts_with("https://"));
                assert!(pin.filename.ends_with(&format!("_{}.deb", arch.debian())));
            }
        }
    }
}
