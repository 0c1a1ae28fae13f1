//! File operations relative to directory descriptors (openat-style).
//!
//! The shared folder is written by the guest, which is not trusted: it can plant a symlink where a
//! directory used to be, between our look and our write. Every operation here therefore starts from
//! an open directory descriptor and refuses to follow a symlink in any component (`O_NOFOLLOW`,
//! `AT_SYMLINK_NOFOLLOW`), so nothing is ever read or written outside the folder. The folder's own
//! path is the one exception: it comes from the host and is opened normally.

use std::{
    borrow::Cow,
    ffi::OsStr,
    io,
    os::{
        fd::{AsFd, BorrowedFd, OwnedFd},
        unix::ffi::OsStrExt,
    },
    path::Path,
};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, CWD};

use super::manifest::Kind;

/// What `stat` says about one entry, in the units the manifest uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// `None` for kinds the checkpoint does not record (sockets, FIFOs, devices).
    pub kind: Option<Kind>,
    /// Permission bits only (`0o7777`).
    pub mode: u32,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub size: u64,
    pub ino: u64,
    pub dev: u64,
}

// The `stat` field types differ between Linux and macOS (e.g. `st_dev` is `i32` on macOS), so the
// casts are unnecessary on one platform and needed on the other.
#[allow(clippy::unnecessary_cast, clippy::cast_sign_loss)]
pub(crate) fn meta_of(st: &rfs::Stat) -> Meta {
    let raw_mode = st.st_mode as u32;
    let kind = match FileType::from_raw_mode(st.st_mode as _) {
        FileType::RegularFile => Some(Kind::File),
        FileType::Directory => Some(Kind::Dir),
        FileType::Symlink => Some(Kind::Symlink),
        _ => None,
    };
    Meta {
        kind,
        mode: raw_mode & 0o7777,
        mtime_ns: (st.st_mtime as i64)
            .saturating_mul(1_000_000_000)
            .saturating_add(st.st_mtime_nsec as i64),
        ctime_ns: (st.st_ctime as i64)
            .saturating_mul(1_000_000_000)
            .saturating_add(st.st_ctime_nsec as i64),
        size: st.st_size.max(0) as u64,
        ino: st.st_ino as u64,
        dev: st.st_dev as u64,
    }
}

/// Opens the folder itself (a host-given path, so symlinks in it are followed on purpose).
pub(crate) fn open_root(path: &Path) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens a directory inside `dir`, refusing a symlink.
pub(crate) fn open_dir_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        dir,
        os_str(&native(name)?),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens a regular file inside `dir` for reading, refusing a symlink. `NONBLOCK` keeps a FIFO
/// swapped in after our `stat` from hanging the scan.
pub(crate) fn open_file_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        dir,
        os_str(&native(name)?),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )?)
}

/// Creates a new file (never an existing one, never through a symlink).
pub(crate) fn create_file_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        dir,
        os_str(&native(name)?),
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_bits_truncate(mode as _),
    )?)
}

/// `stat` of an entry without following it.
pub(crate) fn stat_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<Meta> {
    Ok(meta_of(&rfs::statat(
        dir,
        os_str(&native(name)?),
        AtFlags::SYMLINK_NOFOLLOW,
    )?))
}

/// `stat` of an entry, `None` when it does not exist.
pub(crate) fn try_stat_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<Option<Meta>> {
    match stat_at(dir, name) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<Meta> {
    Ok(meta_of(&rfs::fstat(fd)?))
}

/// One name in a directory listing, as raw bytes (names need not be UTF-8).
pub(crate) type RawName = Vec<u8>;

/// The names in a directory, without `.` and `..`, sorted so scans are deterministic.
pub(crate) fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<RawName>> {
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    names.sort_unstable();
    Ok(names)
}

pub(crate) fn readlink_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<Vec<u8>> {
    Ok(rfs::readlinkat(dir, os_str(&native(name)?), Vec::new())?.into_bytes())
}

pub(crate) fn symlink_at(target: &str, dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    Ok(rfs::symlinkat(
        os_str(&native(target)?),
        dir,
        os_str(&native(name)?),
    )?)
}

pub(crate) fn mkdir_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<()> {
    Ok(rfs::mkdirat(
        dir,
        os_str(&native(name)?),
        Mode::from_bits_truncate(mode as _),
    )?)
}

pub(crate) fn unlink_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    Ok(rfs::unlinkat(
        dir,
        os_str(&native(name)?),
        AtFlags::empty(),
    )?)
}

pub(crate) fn rmdir_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    Ok(rfs::unlinkat(
        dir,
        os_str(&native(name)?),
        AtFlags::REMOVEDIR,
    )?)
}

/// Renames within or across directories; replaces a non-directory target atomically, and never
/// follows a symlink at either end (rename acts on names).
pub(crate) fn rename_at(
    from_dir: BorrowedFd<'_>,
    from: &str,
    to_dir: BorrowedFd<'_>,
    to: &str,
) -> io::Result<()> {
    Ok(rfs::renameat(
        from_dir,
        os_str(&native(from)?),
        to_dir,
        os_str(&native(to)?),
    )?)
}

fn timespec(ns: i64) -> Timespec {
    Timespec {
        tv_sec: ns.div_euclid(1_000_000_000) as _,
        tv_nsec: ns.rem_euclid(1_000_000_000) as _,
    }
}

fn times(mtime_ns: i64) -> Timestamps {
    Timestamps {
        // The access time is not recorded; leave it alone.
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: rfs::UTIME_OMIT,
        },
        last_modification: timespec(mtime_ns),
    }
}

/// Sets mode and mtime through an open descriptor (no path, so no symlink can be swapped in).
pub(crate) fn set_meta_fd(fd: BorrowedFd<'_>, mode: u32, mtime_ns: i64) -> io::Result<()> {
    rfs::fchmod(fd, Mode::from_bits_truncate(mode as _))?;
    rfs::futimens(fd, &times(mtime_ns))?;
    Ok(())
}

/// Sets the mtime of an entry itself (a symlink's own time, not its target's).
pub(crate) fn set_mtime_nofollow(dir: BorrowedFd<'_>, name: &str, mtime_ns: i64) -> io::Result<()> {
    Ok(rfs::utimensat(
        dir,
        os_str(&native(name)?),
        &times(mtime_ns),
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

/// Flushes the whole filesystem holding `fd`: one call instead of an `fsync` per staged file.
pub(crate) fn sync_fs(fd: BorrowedFd<'_>) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        Ok(rfs::syncfs(fd)?)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        // No syncfs elsewhere; fsync of the directory is the best cheap approximation.
        Ok(rfs::fsync(fd)?)
    }
}

/// Creates `name` in `dir` as a copy-on-write clone of the open file `src`, when the filesystem
/// can (`FICLONE` on btrfs and XFS, `fclonefileat` on APFS): no data is copied. `Ok(None)`, with
/// nothing left behind, when it cannot (another filesystem, or one without clones): the caller
/// copies instead. The new file is open for reading and writing; `name` must not exist.
pub(crate) fn clone_new(
    dir: BorrowedFd<'_>,
    name: &str,
    src: BorrowedFd<'_>,
    mode: u32,
) -> io::Result<Option<OwnedFd>> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let dst = create_file_at(dir, name, mode)?;
        match rfs::ioctl_ficlone(&dst, src) {
            Ok(()) => Ok(Some(dst)),
            Err(e) if clone_unsupported(e) => {
                drop(dst);
                unlink_at(dir, name)?;
                Ok(None)
            }
            Err(e) => {
                let _ = unlink_at(dir, name);
                Err(e.into())
            }
        }
    }
    #[cfg(target_os = "macos")]
    {
        use std::os::fd::AsRawFd;
        let c_name = std::ffi::CString::new(native(name)?.into_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: both descriptors are open for the call and `c_name` is a valid C string.
        let rc =
            unsafe { libc::fclonefileat(src.as_raw_fd(), dir.as_raw_fd(), c_name.as_ptr(), 0) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOTSUP | libc::EXDEV | libc::EINVAL | libc::EPERM) => Ok(None),
                _ => Err(e),
            };
        }
        let fd = rfs::openat(
            dir,
            os_str(&native(name)?),
            OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rfs::fchmod(&fd, Mode::from_bits_truncate(mode as _))?;
        Ok(Some(fd))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos")))]
    {
        let _ = (dir, name, src, mode);
        Ok(None)
    }
}

/// Errors that mean "this filesystem cannot clone here", not a failure.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn clone_unsupported(e: rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    [
        Errno::OPNOTSUPP,
        Errno::XDEV,
        Errno::INVAL,
        Errno::NOTTY,
        Errno::PERM,
        Errno::BADF,
    ]
    .contains(&e)
}

/// Takes an advisory lock on `fd` (shared or exclusive); released when the descriptor closes.
pub(crate) fn lock(fd: BorrowedFd<'_>, exclusive: bool) -> io::Result<()> {
    let op = if exclusive {
        rfs::FlockOperation::LockExclusive
    } else {
        rfs::FlockOperation::LockShared
    };
    Ok(rfs::flock(fd, op)?)
}

/// A relative path as stored in a manifest: `/`-separated, not absolute, and no component that is
/// empty, `.` or `..` or holds `/` or NUL once decoded (see [`encode_name`]). The empty string is
/// the folder itself.
pub(crate) fn is_safe_rel(path: &str) -> bool {
    if path.is_empty() {
        return true;
    }
    path.split('/').all(|c| {
        decode_name(c).is_some_and(|raw| {
            !raw.is_empty()
                && *raw != *b"."
                && *raw != *b".."
                && !raw.iter().any(|&b| b == b'/' || b == 0)
        })
    })
}

/// Marks an escaped byte in a stored name. NUL never occurs in a file name, so a name that holds
/// it can only be an escaped one.
const ESCAPE: char = '\0';

/// A file name (or link target) as stored in a manifest. Names that are UTF-8 are stored as they
/// are; in others each byte that is not part of valid UTF-8 is written as NUL and two hex digits,
/// so files with such names (old archives, other locales) are checkpointed and restored like any
/// other instead of being left out of undo.
pub(crate) fn encode_name(raw: &[u8]) -> Cow<'_, str> {
    if let Ok(name) = std::str::from_utf8(raw) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(raw.len() + 8);
    for chunk in raw.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push(ESCAPE);
            out.push_str(&format!("{b:02x}"));
        }
    }
    Cow::Owned(out)
}

/// The bytes of a stored name; `None` when an escape is malformed.
pub(crate) fn decode_name(name: &str) -> Option<Cow<'_, [u8]>> {
    if !name.contains(ESCAPE) {
        return Some(Cow::Borrowed(name.as_bytes()));
    }
    let mut out = Vec::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find(ESCAPE) {
        out.extend_from_slice(&rest.as_bytes()[..at]);
        let hex = rest.get(at + 1..at + 3)?;
        out.push(u8::from_str_radix(hex, 16).ok()?);
        rest = &rest[at + 3..];
    }
    out.extend_from_slice(rest.as_bytes());
    Some(Cow::Owned(out))
}

/// A stored name or path for people: escaped bytes shown as `\xe9`, as `ls -b` would.
pub fn display_name(name: &str) -> Cow<'_, str> {
    if name.contains(ESCAPE) {
        Cow::Owned(name.replace(ESCAPE, "\\x"))
    } else {
        Cow::Borrowed(name)
    }
}

/// A stored name as the bytes the kernel wants.
fn native(name: &str) -> io::Result<Cow<'_, [u8]>> {
    decode_name(name).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("malformed name {name:?}"),
        )
    })
}

/// Opens the directory that holds `rel` (walking each component without following symlinks) and
/// returns it with the last component. For the folder itself (`""`) returns `None`.
pub(crate) fn open_parent<'a>(
    root: BorrowedFd<'_>,
    rel: &'a str,
) -> io::Result<Option<(OwnedFd, &'a str)>> {
    if rel.is_empty() {
        return Ok(None);
    }
    if !is_safe_rel(rel) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unsafe relative path {rel:?}"),
        ));
    }
    let (dirs, name) = match rel.rsplit_once('/') {
        Some((dirs, name)) => (Some(dirs), name),
        None => (None, rel),
    };
    let mut fd = rustix::io::dup(root)?;
    if let Some(dirs) = dirs {
        for component in dirs.split('/') {
            fd = open_dir_at(fd.as_fd(), component)?;
        }
    }
    Ok(Some((fd, name)))
}

/// Opens a directory by relative path (`""` is the folder itself), never following symlinks.
pub(crate) fn open_dir_rel(root: BorrowedFd<'_>, rel: &str) -> io::Result<OwnedFd> {
    match open_parent(root, rel)? {
        None => Ok(rustix::io::dup(root)?),
        Some((parent, name)) => open_dir_at(parent.as_fd(), name),
    }
}

pub(crate) fn os_str(raw: &[u8]) -> &OsStr {
    OsStr::from_bytes(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_utf8_round_trip_and_cannot_smuggle_dots_or_slashes() {
        let raw: &[u8] = b"caf\xe9 \xff\xfe.txt";
        let stored = encode_name(raw);
        assert_eq!(stored, "caf\u{0}e9 \u{0}ff\u{0}fe.txt");
        assert_eq!(decode_name(&stored).unwrap().as_ref(), raw);
        assert_eq!(encode_name("naïve.txt".as_bytes()), "naïve.txt");
        assert!(is_safe_rel(&format!("dir/{stored}")));
        // An escape is decoded before the checks: it cannot spell `.`, `..`, `/` or NUL.
        for bad in [
            "\u{0}2e",
            "\u{0}2e\u{0}2e",
            "a\u{0}2fb",
            "\u{0}00",
            "\u{0}zz",
            "x\u{0}4",
        ] {
            assert!(!is_safe_rel(bad), "{bad:?}");
        }
    }

    #[test]
    fn rejects_unsafe_relative_paths() {
        for bad in ["/etc", "a/../b", "..", "a//b", "a/./b", "a/", "x\0y"] {
            assert!(!is_safe_rel(bad), "{bad:?}");
        }
        for good in ["", "a", "a/b.txt", ".hidden/x", "a..b"] {
            assert!(is_safe_rel(good), "{good:?}");
        }
    }

    #[test]
    fn open_parent_refuses_a_symlinked_directory() {
        let outside = tempfile::tempdir().unwrap();
        let folder = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), folder.path().join("link")).unwrap();
        let root = open_root(folder.path()).unwrap();
        let err = open_parent(root.as_fd(), "link/file").unwrap_err();
        // ELOOP (Linux) or ENOTDIR: either way, not the outside directory.
        assert!(err.raw_os_error().is_some(), "{err}");
    }

    #[test]
    fn set_mtime_on_symlink_does_not_touch_target() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("target"), b"x").unwrap();
        std::os::unix::fs::symlink("target", dir.path().join("link")).unwrap();
        let root = open_root(dir.path()).unwrap();
        let before = stat_at(root.as_fd(), "target").unwrap();
        set_mtime_nofollow(root.as_fd(), "link", 1_000_000_000_123).unwrap();
        assert_eq!(
            stat_at(root.as_fd(), "link").unwrap().mtime_ns,
            1_000_000_000_123
        );
        assert_eq!(
            stat_at(root.as_fd(), "target").unwrap().mtime_ns,
            before.mtime_ns
        );
    }
}
