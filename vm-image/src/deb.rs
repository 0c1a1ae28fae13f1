//! Reading `.deb` files without dpkg: an `ar` archive holding `debian-binary`, `control.tar.*` and
//! `data.tar.*` (`.xz`, `.zst`, `.gz` or uncompressed); the data tar is streamed, never unpacked
//! to disk.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::{Error, IoContext, Result};

/// One member of an `ar` archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArMember {
    /// Member name (trailing spaces and the GNU `/` removed).
    pub name: String,
    /// Offset of the member's data from the start of the archive.
    pub offset: u64,
    /// Data size in bytes.
    pub size: u64,
}

const AR_MAGIC: &[u8; 8] = b"!<arch>\n";

/// Lists the members of an `ar` archive (common/GNU format, short names as dpkg writes them).
pub fn ar_members<R: Read + Seek>(r: &mut R) -> std::result::Result<Vec<ArMember>, String> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| "too short for an ar archive".to_string())?;
    if &magic != AR_MAGIC {
        return Err("not an ar archive (bad magic)".into());
    }
    let mut members = Vec::new();
    let mut offset: u64 = 8;
    loop {
        let mut header = [0u8; 60];
        match read_full(r, &mut header) {
            Ok(0) => break,
            Ok(60) => {}
            Ok(n) => {
                return Err(format!(
                    "truncated member header at offset {offset} ({n} bytes)"
                ))
            }
            Err(e) => return Err(format!("read error at offset {offset}: {e}")),
        }
        if &header[58..60] != b"`\n" {
            return Err(format!("bad member header at offset {offset}"));
        }
        let name = String::from_utf8_lossy(&header[0..16])
            .trim_end()
            .trim_end_matches('/')
            .to_string();
        let size: u64 = std::str::from_utf8(&header[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("bad size field in member header at offset {offset}"))?;
        let data_offset = offset + 60;
        members.push(ArMember {
            name,
            offset: data_offset,
            size,
        });
        let next = data_offset
            .checked_add(size + (size & 1))
            .ok_or("member size overflow")?;
        let end = r
            .seek(SeekFrom::Start(next))
            .map_err(|e| format!("seek error: {e}"))?;
        offset = end;
    }
    Ok(members)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Compression of a tar member, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `.tar`
    None,
    /// `.tar.gz`
    Gzip,
    /// `.tar.xz`
    Xz,
    /// `.tar.zst`
    Zstd,
}

impl Compression {
    /// From a file name's extension (`None` for an unknown one).
    pub fn from_name(name: &str) -> Option<Compression> {
        if name.ends_with(".tar") {
            Some(Compression::None)
        } else if name.ends_with(".gz") {
            Some(Compression::Gzip)
        } else if name.ends_with(".xz") {
            Some(Compression::Xz)
        } else if name.ends_with(".zst") {
            Some(Compression::Zstd)
        } else {
            None
        }
    }

    /// Wraps `r` in the matching decompressor.
    pub fn reader<'a>(self, r: impl Read + 'a) -> std::io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(r),
            Compression::Gzip => Box::new(flate2::read::GzDecoder::new(r)),
            Compression::Xz => Box::new(lzma_rust2::XzReader::new(r, true)),
            Compression::Zstd => Box::new(
                ruzstd::decoding::StreamingDecoder::new(r)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
            ),
        })
    }
}

/// Decompresses a whole buffer by file name (`x.ko.xz`, `x.ko.zst`, `x.gz`); other names are
/// returned unchanged.
pub fn decompress_by_name(name: &str, data: Vec<u8>) -> std::io::Result<Vec<u8>> {
    let c = if name.ends_with(".xz") {
        Compression::Xz
    } else if name.ends_with(".zst") {
        Compression::Zstd
    } else if name.ends_with(".gz") {
        Compression::Gzip
    } else {
        return Ok(data);
    };
    let mut out = Vec::new();
    c.reader(&data[..])?.read_to_end(&mut out)?;
    Ok(out)
}

/// What the visitor wants after seeing an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Keep going.
    Continue,
    /// Stop reading the archive.
    Stop,
}

/// A regular file in a package's data tar.
pub struct DataEntry<'a> {
    /// Path without the leading `./` or `/` (`boot/vmlinuz-6.1.0-56-amd64`).
    pub path: &'a str,
    /// Permission bits.
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// The contents (read as much as wanted; the rest is skipped).
    pub reader: &'a mut dyn Read,
}

/// A decompressed stream of the `.deb`'s first member whose name starts with `prefix`
/// (`data.tar`, `control.tar`), and that member's name.
fn open_member(deb: &Path, prefix: &str) -> Result<(Box<dyn Read>, String)> {
    let bad = |message: String| Error::Deb {
        path: deb.display().to_string(),
        message,
    };
    let mut file = File::open(deb).io_context(|| format!("cannot open {}", deb.display()))?;
    let members = ar_members(&mut file).map_err(bad)?;
    match members.first() {
        Some(m) if m.name == "debian-binary" => {}
        _ => return Err(bad("first member is not debian-binary".into())),
    }
    let member = members
        .iter()
        .find(|m| m.name.starts_with(prefix))
        .ok_or_else(|| bad(format!("no {prefix} member")))?;
    let compression = Compression::from_name(&member.name)
        .ok_or_else(|| bad(format!("unsupported member {}", member.name)))?;
    file.seek(SeekFrom::Start(member.offset))
        .io_context(|| format!("cannot seek in {}", deb.display()))?;
    let raw = BufReader::with_capacity(1 << 20, file.take(member.size));
    let stream = compression
        .reader(raw)
        .map_err(|e| bad(format!("{}: {e}", member.name)))?;
    Ok((stream, member.name.clone()))
}

/// The `.deb`'s `data.tar.*` as a tar archive, and the member's name (for messages).
pub fn data_tar(deb: &Path) -> Result<(tar::Archive<Box<dyn Read>>, String)> {
    let (stream, name) = open_member(deb, "data.tar")?;
    Ok((tar::Archive::new(stream), name))
}

/// A control file (`postinst`, `control`) of the `.deb`, if it has one, as text (lossy).
pub fn control_file(deb: &Path, file_name: &str) -> Result<Option<String>> {
    let bad = |message: String| Error::Deb {
        path: deb.display().to_string(),
        message,
    };
    let (stream, member) = open_member(deb, "control.tar")?;
    let mut archive = tar::Archive::new(stream);
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("{member}: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("{member}: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("{member}: bad path: {e}")))?
            .to_string_lossy()
            .into_owned();
        if path.trim_start_matches("./") == file_name {
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(|e| bad(format!("{member}: {e}")))?;
            return Ok(Some(String::from_utf8_lossy(&data).into_owned()));
        }
    }
    Ok(None)
}

/// Streams every regular file of the `.deb`'s `data.tar.*` through `visit`, in archive order.
pub fn for_each_data_file(
    deb: &Path,
    mut visit: impl FnMut(DataEntry<'_>) -> Result<Visit>,
) -> Result<()> {
    let bad = |message: String| Error::Deb {
        path: deb.display().to_string(),
        message,
    };
    let (mut archive, member) = data_tar(deb)?;
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("{member}: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("{member}: {e}")))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let raw_path = entry
            .path()
            .map_err(|e| bad(format!("{member}: bad path: {e}")))?
            .to_string_lossy()
            .into_owned();
        let path = raw_path.trim_start_matches("./").trim_start_matches('/');
        let mode = entry.header().mode().unwrap_or(0o644);
        let size = entry.size();
        let visit_result = visit(DataEntry {
            path,
            mode,
            size,
            reader: &mut entry,
        })?;
        if visit_result == Visit::Stop {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builds synthetic `.deb`s for tests.
    use std::io::Write;

    /// An `ar` archive of `(name, data)` members.
    pub fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for (name, data) in members {
            let header = format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name,
                0,
                0,
                0,
                "100644",
                data.len()
            );
            assert_eq!(header.len(), 60);
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    /// A tar of regular files `(path, mode, data)`.
    pub fn tar(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, mode, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// A `.deb` with an xz-compressed data tar.
    pub fn deb_xz(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let tar = tar(files);
        let mut xz = Vec::new();
        {
            let mut w =
                lzma_rust2::XzWriter::new(&mut xz, lzma_rust2::XzOptions::default()).unwrap();
            w.write_all(&tar).unwrap();
            w.finish().unwrap();
        }
        ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.xz", b"not used"),
            ("data.tar.xz", &xz),
        ])
    }

    /// A `.deb` (uncompressed tars) with files, symbolic links `(path, target)`, hard links
    /// `(path, target)` and a `postinst`.
    pub fn deb_with_links(
        files: &[(&str, u32, &[u8])],
        symlinks: &[(&str, &str)],
        hard_links: &[(&str, &str)],
        postinst: &str,
    ) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, mode, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            b.append_data(&mut h, path, *data).unwrap();
        }
        for (kind, links) in [
            (tar::EntryType::Symlink, symlinks),
            (tar::EntryType::Link, hard_links),
        ] {
            for (path, target) in links {
                let mut h = tar::Header::new_gnu();
                h.set_size(0);
                h.set_mode(0o777);
                h.set_entry_type(kind);
                b.append_link(&mut h, path, target).unwrap();
            }
        }
        let data = b.into_inner().unwrap();
        let control = tar(&[("./postinst", 0o755, postinst.as_bytes())]);
        ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", &control),
            ("data.tar", &data),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use std::io::{Cursor, Write};

    #[test]
    fn lists_ar_members_with_odd_padding() {
        let a = ar(&[
            ("debian-binary", b"2.0\n"),
            ("odd", b"abc"),
            ("data.tar.gz/", b"xy"),
        ]);
        let m = ar_members(&mut Cursor::new(&a)).unwrap();
        assert_eq!(
            m.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["debian-binary", "odd", "data.tar.gz"]
        );
        assert_eq!(m[1].size, 3);
        let s = m[2].offset as usize;
        assert_eq!(&a[s..s + 2], b"xy");
    }

    #[test]
    fn rejects_non_ar_and_truncation() {
        assert!(ar_members(&mut Cursor::new(b"PK\x03\x04 nope".to_vec())).is_err());
        let mut a = ar(&[("debian-binary", b"2.0\n")]);
        a.extend_from_slice(b"data.tar.xz     0    ");
        assert!(ar_members(&mut Cursor::new(a)).is_err());
    }

    fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn streams_data_files_from_xz_deb() {
        let deb = deb_xz(&[
            ("./bin/busybox", 0o755, b"\x7fELF busybox"),
            ("./usr/share/doc/x", 0o644, b"doc"),
        ]);
        let f = write_temp(&deb);
        let mut seen = Vec::new();
        for_each_data_file(f.path(), |e| {
            let mut s = String::new();
            e.reader.read_to_string(&mut s).unwrap();
            seen.push((e.path.to_string(), e.mode, s));
            Ok(Visit::Continue)
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (
                    "bin/busybox".to_string(),
                    0o755,
                    "\x7fELF busybox".to_string()
                ),
                ("usr/share/doc/x".to_string(), 0o644, "doc".to_string())
            ]
        );
    }

    #[test]
    fn gzip_data_tar_and_stop() {
        let tar = tar(&[("a", 0o644, b"1"), ("b", 0o644, b"2")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let deb = ar(&[
            ("debian-binary", b"2.0\n"),
            ("data.tar.gz", &gz.finish().unwrap()),
        ]);
        let f = write_temp(&deb);
        let mut n = 0;
        for_each_data_file(f.path(), |_| {
            n += 1;
            Ok(Visit::Stop)
        })
        .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn deb_without_debian_binary_is_rejected() {
        let f = write_temp(&ar(&[("data.tar", b"")]));
        let e = for_each_data_file(f.path(), |_| Ok(Visit::Continue)).unwrap_err();
        assert!(e.to_string().contains("debian-binary"), "{e}");
    }

    #[test]
    fn decompresses_module_files_by_name() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"module").unwrap();
        let packed = gz.finish().unwrap();
        assert_eq!(decompress_by_name("x.gz", packed).unwrap(), b"module");
        assert_eq!(decompress_by_name("x.ko", b"raw".to_vec()).unwrap(), b"raw");
        let mut xz = Vec::new();
        {
            let mut w =
                lzma_rust2::XzWriter::new(&mut xz, lzma_rust2::XzOptions::default()).unwrap();
            w.write_all(b"xz module").unwrap();
            w.finish().unwrap();
        }
        assert_eq!(decompress_by_name("x.ko.xz", xz).unwrap(), b"xz module");
    }
}
