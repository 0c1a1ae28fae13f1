//! Turning the Debian kernel file into what the VM loads.
//!
//! - x86_64: Debian's `vmlinuz` is an xz-compressed bzImage; under TCG decompressing it in the
//!   guest costs ~3 s, and the kernel is built with `CONFIG_PVH=y`, so the builder extracts the
//!   PVH-bootable `vmlinux` ELF (the xz stream inside the bzImage) and QEMU boots it directly.
//! - aarch64: Debian's `vmlinuz` is already an uncompressed arm64 `Image` (what Apple's boot loader
//!   needs); it is checked and used as is, or gunzipped if a distro ships it gzipped.

use std::io::Read;

use crate::elf::{Elf, EM_X86_64};
use crate::{Error, Result};

/// xz stream magic.
pub const XZ_MAGIC: &[u8; 6] = b"\xFD7zXZ\x00";
/// Xen ELF note type `XEN_ELFNOTE_PHYS32_ENTRY`: the PVH entry point.
pub const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

/// The outcome of [`extract_pvh_vmlinux`].
#[derive(Debug)]
pub struct Vmlinux {
    /// The ELF image.
    pub data: Vec<u8>,
    /// Offset of the xz stream inside the bzImage.
    pub xz_offset: usize,
    /// How it was found.
    pub found_by: &'static str,
}

/// Offsets of every xz magic in `data`.
pub fn find_xz_streams(data: &[u8]) -> Vec<usize> {
    data.windows(XZ_MAGIC.len())
        .enumerate()
        .filter(|(_, w)| w == XZ_MAGIC)
        .map(|(i, _)| i)
        .collect()
}

/// Where the boot protocol header (2.08+) says the compressed payload is: `(offset, length)`.
pub fn bzimage_payload(bz: &[u8]) -> Option<(usize, usize)> {
    if bz.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let version = u16::from_le_bytes(bz.get(0x206..0x208)?.try_into().ok()?);
    if version < 0x0208 {
        return None;
    }
    let setup_sects = match *bz.get(0x1f1)? {
        0 => 4,
        n => usize::from(n),
    };
    let offset = u32::from_le_bytes(bz.get(0x248..0x24c)?.try_into().ok()?) as usize;
    let length = u32::from_le_bytes(bz.get(0x24c..0x250)?.try_into().ok()?) as usize;
    let start = (setup_sects + 1) * 512 + offset;
    let end = start.checked_add(length)?;
    (end <= bz.len()).then_some((start, length))
}

/// Decompresses one xz stream from the start of `data` (trailing bytes are ignored).
fn decompress_xz_prefix(data: &[u8], limit: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    lzma_rust2::XzReader::new(data, false)
        .take(limit)
        .read_to_end(&mut out)?;
    if out.len() as u64 >= limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("decompresses to more than {limit} bytes"),
        ));
    }
    Ok(out)
}

/// Extracts the `vmlinux` ELF from an xz-compressed x86 bzImage and checks that it is an x86_64
/// ELF with the PVH entry note (so QEMU can boot it with `-kernel`).
pub fn extract_pvh_vmlinux(bz: &[u8]) -> Result<Vmlinux> {
    // The header's payload location first (exact bounds), then every xz magic in the file.
    let mut candidates: Vec<(usize, usize, &'static str)> = Vec::new();
    if let Some((start, len)) = bzimage_payload(bz) {
        if bz[start..].starts_with(XZ_MAGIC) {
            candidates.push((start, start + len, "boot header payload_offset"));
        }
    }
    for off in find_xz_streams(bz) {
        if !candidates.iter().any(|c| c.0 == off) {
            candidates.push((off, bz.len(), "xz magic search"));
        }
    }
    if candidates.is_empty() {
        return Err(Error::Kernel(
            "no xz stream in the bzImage (is this kernel built with CONFIG_KERNEL_XZ?)".into(),
        ));
    }
    let mut problems = Vec::new();
    for (start, end, found_by) in candidates {
        // A kernel is far below 1 GiB uncompressed; the limit guards against a hostile stream.
        match decompress_xz_prefix(&bz[start..end], 1 << 30) {
            Ok(data) => match check_pvh_elf(&data) {
                Ok(()) => {
                    return Ok(Vmlinux {
                        data,
                        xz_offset: start,
                        found_by,
                    })
                }
                Err(e) => problems.push(format!("offset {start}: {e}")),
            },
            Err(e) => problems.push(format!("offset {start}: {e}")),
        }
    }
    Err(Error::Kernel(format!(
        "no xz stream in the bzImage decompresses to a PVH vmlinux ({})",
        problems.join("; ")
    )))
}

/// Checks that `data` is an x86_64 ELF carrying the Xen PVH entry note.
pub fn check_pvh_elf(data: &[u8]) -> std::result::Result<(), String> {
    let elf = Elf::parse(data).map_err(|e| e.to_string())?;
    if elf.e_machine != EM_X86_64 {
        return Err(format!("ELF machine {} is not x86_64", elf.e_machine));
    }
    let notes = elf.notes().map_err(|e| e.to_string())?;
    if notes
        .iter()
        .any(|n| n.name == b"Xen" && n.n_type == XEN_ELFNOTE_PHYS32_ENTRY)
    {
        Ok(())
    } else {
        Err("x86_64 ELF without the Xen PVH entry note (CONFIG_PVH off?)".into())
    }
}

/// Offset of the arm64 `Image` magic.
const ARM64_MAGIC_OFFSET: usize = 0x38;
/// The arm64 `Image` magic.
const ARM64_MAGIC: &[u8; 4] = b"ARM\x64";

/// Returns the uncompressed arm64 `Image` (gunzipping a gzip `vmlinuz`), after checking its magic.
pub fn arm64_image(vmlinuz: Vec<u8>) -> Result<Vec<u8>> {
    let image = if vmlinuz.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&vmlinuz[..])
            .take(1 << 30)
            .read_to_end(&mut out)
            .map_err(|e| Error::Kernel(format!("cannot gunzip the arm64 vmlinuz: {e}")))?;
        out
    } else {
        vmlinuz
    };
    if image.get(4..8) == Some(b"zimg") {
        return Err(Error::Kernel(
            "the arm64 vmlinuz is an EFI zboot image (CONFIG_EFI_ZBOOT); extracting its payload is not supported".into(),
        ));
    }
    if image.get(ARM64_MAGIC_OFFSET..ARM64_MAGIC_OFFSET + 4) != Some(ARM64_MAGIC) {
        return Err(Error::Kernel(
            "not an arm64 Image (no ARM\\x64 magic at 0x38)".into(),
        ));
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::test_support::{build, note};
    use std::io::Write;

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = lzma_rust2::XzWriter::new(&mut out, lzma_rust2::XzOptions::default()).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap();
        out
    }

    fn pvh_elf() -> Vec<u8> {
        build(
            crate::elf::ET_EXEC,
            EM_X86_64,
            Some(&note(
                b"Xen",
                XEN_ELFNOTE_PHYS32_ENTRY,
                &0x100_0000u32.to_le_bytes(),
            )),
            false,
            &[],
        )
    }

    #[test]
    fn finds_vmlinux_by_search_past_a_decoy() {
        let elf = pvh_elf();
        // A decoy magic that is not a valid stream, then the real stream, then trailing junk
        // (the size word and the rest of the decompressor, as in a real bzImage).
        let mut blob = vec![0x90u8; 1000];
        blob.extend_from_slice(XZ_MAGIC);
        blob.extend_from_slice(b"garbage that is no xz header");
        let real = blob.len();
        blob.extend(xz(&elf));
        blob.extend_from_slice(&(elf.len() as u32).to_le_bytes());
        blob.extend_from_slice(&[0xcc; 333]);
        assert_eq!(find_xz_streams(&blob), vec![1000, real]);
        let v = extract_pvh_vmlinux(&blob).unwrap();
        assert_eq!(v.data, elf);
        assert_eq!(v.xz_offset, real);
        assert_eq!(v.found_by, "xz magic search");
    }

    #[test]
    fn uses_the_boot_header_when_present() {
        let elf = pvh_elf();
        let mut bz = vec![0u8; 2 * 512]; // setup_sects = 1 → protected-mode code at 1024
        bz[0x1f1] = 1;
        bz[0x202..0x206].copy_from_slice(b"HdrS");
        bz[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        bz.extend_from_slice(&[0u8; 100]);
        let payload = xz(&elf);
        bz[0x248..0x24c].copy_from_slice(&100u32.to_le_bytes());
        bz[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        bz.extend(&payload);
        bz.extend_from_slice(&[0xcc; 64]);
        assert_eq!(bzimage_payload(&bz), Some((1124, payload.len())));
        let v = extract_pvh_vmlinux(&bz).unwrap();
        assert_eq!(v.found_by, "boot header payload_offset");
        assert_eq!(v.data, elf);
    }

    #[test]
    fn a_vmlinux_without_pvh_note_is_refused() {
        let plain = build(crate::elf::ET_EXEC, EM_X86_64, None, false, &[]);
        let e = extract_pvh_vmlinux(&xz(&plain)).unwrap_err().to_string();
        assert!(e.contains("PVH"), "{e}");
        let e = extract_pvh_vmlinux(b"no stream here")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no xz stream"), "{e}");
    }

    #[test]
    fn arm64_image_checks() {
        let mut image = vec![0u8; 0x40 + 16];
        image[0..2].copy_from_slice(b"MZ");
        image[0x38..0x3c].copy_from_slice(b"ARM\x64");
        assert_eq!(arm64_image(image.clone()).unwrap(), image);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&image).unwrap();
        assert_eq!(arm64_image(gz.finish().unwrap()).unwrap(), image);
        assert!(arm64_image(vec![0u8; 100]).is_err());
        let mut zboot = image.clone();
        zboot[4..8].copy_from_slice(b"zimg");
        assert!(arm64_image(zboot)
            .unwrap_err()
            .to_string()
            .contains("zboot"));
    }
}
