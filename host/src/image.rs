//! Finding the guest image (kernel, initramfs, manifest) built by `workroom-image`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

use crate::vm::Arch;

/// A guest image on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// The kernel (PVH `vmlinux` on x86_64, `Image` on aarch64).
    pub kernel: PathBuf,
    /// The initramfs.
    pub initramfs: PathBuf,
    /// The builder's manifest (versions, hashes, sizes).
    pub manifest: Value,
}

/// The image is not usable.
#[derive(Debug, Error)]
pub enum ImageError {
    /// Nothing has been built for this architecture yet.
    #[error("the guest image for {arch} is missing ({dir} has no {file}); build it with: workroom image build (or: cargo run -p workroom-image -- build --arch {arch})")]
    Missing {
        /// Architecture.
        arch: Arch,
        /// Where it was looked for.
        dir: PathBuf,
        /// The missing file.
        file: &'static str,
    },
    /// The manifest cannot be read.
    #[error("the guest image manifest {path} is damaged ({reason}); rebuild it with: workroom image build")]
    BadManifest {
        /// The manifest.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// `<images>/<arch>/`, where `workroom-image` puts its output.
pub fn image_dir(images: &Path, arch: Arch) -> PathBuf {
    images.join(arch.as_str())
}

/// Loads the image for `arch` from the images directory.
pub fn locate(images: &Path, arch: Arch) -> Result<Image, ImageError> {
    let dir = image_dir(images, arch);
    let need = |file: &'static str| -> Result<PathBuf, ImageError> {
        let path = dir.join(file);
        if path.is_file() {
            Ok(path)
        } else {
            Err(ImageError::Missing {
                arch,
                dir: dir.clone(),
                file,
            })
        }
    };
    let kernel = need("kernel")?;
    let initramfs = need("initramfs.cpio.gz")?;
    let manifest_path = need("manifest.json")?;
    let manifest = std::fs::read_to_string(&manifest_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        .map_err(|reason| ImageError::BadManifest {
            path: manifest_path,
            reason,
        })?;
    Ok(Image {
        kernel,
        initramfs,
        manifest,
    })
}

/// Where the full userland stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserlandState {
    /// Built; `current` is false when this app's lock names other packages (an update).
    Ready {
        /// The root directory the guest mounts.
        root: PathBuf,
        /// Built from this app's lock.
        current: bool,
        /// Bytes of file contents.
        size_bytes: u64,
        /// Whether LibreOffice is included.
        office: bool,
    },
    /// Not built (or not completely).
    Missing,
}

/// The builder's name for a VM architecture.
impl From<Arch> for workroom_image::Arch {
    fn from(arch: Arch) -> Self {
        match arch {
            Arch::X86_64 => workroom_image::Arch::X86_64,
            Arch::Aarch64 => workroom_image::Arch::Aarch64,
        }
    }
}

/// The full userland for `arch` in the images directory.
pub fn userland(images: &Path, arch: Arch) -> UserlandState {
    let dir = workroom_image::userland::userland_dir(images, arch.into());
    let root = dir.join("root");
    match workroom_image::userland::read_manifest(&dir) {
        Some(manifest) if root.join("usr/bin/bash").exists() => UserlandState::Ready {
            root,
            current: manifest.lock_sha256 == workroom_image::userland::lock_sha256(),
            size_bytes: manifest.size_bytes,
            office: manifest.office,
        },
        _ => UserlandState::Missing,
    }
}

/// Why a session that asked for the full userland cannot have it.
pub const USERLAND_MISSING: &str = "the full toolset (setting userland = full) has not been prepared yet: prepare it in Settings, or run `workroom image userland`, or set userland back to minimal";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_images_say_how_to_build_them() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate(dir.path(), Arch::X86_64).unwrap_err();
        assert!(err.to_string().contains("workroom image build"), "{err}");
        let image = image_dir(dir.path(), Arch::X86_64);
        std::fs::create_dir_all(&image).unwrap();
        for f in ["kernel", "initramfs.cpio.gz"] {
            std::fs::write(image.join(f), b"x").unwrap();
        }
        std::fs::write(image.join("manifest.json"), b"{broken").unwrap();
        assert!(matches!(
            locate(dir.path(), Arch::X86_64),
            Err(ImageError::BadManifest { .. })
        ));
        std::fs::write(image.join("manifest.json"), b"{\"arch\":\"x86_64\"}").unwrap();
        assert_eq!(
            locate(dir.path(), Arch::X86_64).unwrap().manifest["arch"],
            "x86_64"
        );
    }
}
