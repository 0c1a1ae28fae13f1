//! The content-addressed store: `blobs/<2 hex>/<62 hex>`, one read-only file per distinct content.
//!
//! A file enters the store through a temporary file in `tmp/` (same filesystem as `blobs/`) that
//! is renamed into place once its hash is known, so a blob is never seen half-written. On btrfs,
//! XFS and APFS the temporary file is a clone of the source (no data copied); elsewhere a copy. In
//! both cases the hash is computed over exactly the bytes kept, so a file changing while it is read
//! can never leave a blob whose name does not match its content.

use std::{
    fs, io,
    os::fd::{AsFd, BorrowedFd, OwnedFd},
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

use super::{fsx, manifest::Hash};

const CHUNK: usize = 256 * 1024;

/// The result of putting one file into the store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stored {
    pub hash: Hash,
    pub size: u64,
    /// Bytes that were not in the store before (0 when the content was already there).
    pub new_bytes: u64,
}

#[derive(Debug)]
pub(crate) struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    pub(crate) fn open(root: &Path) -> io::Result<Self> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        fs::create_dir_all(&blobs)?;
        fs::create_dir_all(&tmp)?;
        Ok(Self { blobs, tmp })
    }

    pub(crate) fn path(&self, hash: &Hash) -> PathBuf {
        let hex = hash.to_hex();
        self.blobs.join(&hex[..2]).join(&hex[2..])
    }

    pub(crate) fn contains(&self, hash: &Hash) -> bool {
        self.path(hash).exists()
    }

    pub(crate) fn blobs_dir(&self) -> &Path {
        &self.blobs
    }

    pub(crate) fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// Copies (or reflinks) the open file `src` into the store.
    pub(crate) fn put(&self, src: BorrowedFd<'_>) -> io::Result<Stored> {
        let tmp_dir = fsx::open_root(&self.tmp)?;
        let name = format!("blob-{}", uuid::Uuid::new_v4().simple());
        let result = (|| {
            let (tmp, (hash, size)) = match fsx::clone_new(tmp_dir.as_fd(), &name, src, 0o600)? {
                // The clone is private to us: hash it, not the source, which may still change.
                Some(clone) => {
                    let hashed = hash_fd(clone.as_fd())?;
                    (clone, hashed)
                }
                None => {
                    let tmp = fsx::create_file_at(tmp_dir.as_fd(), &name, 0o600)?;
                    let copied = copy_and_hash(src, tmp.as_fd())?;
                    (tmp, copied)
                }
            };
            let dest = self.path(&hash);
            if dest.exists() {
                fsx::unlink_at(tmp_dir.as_fd(), &name)?;
                return Ok(Stored {
                    hash,
                    size,
                    new_bytes: 0,
                });
            }
            rustix::fs::fchmod(&tmp, rustix::fs::Mode::from_bits_truncate(0o444))?;
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::rename(self.tmp.join(&name), &dest)?;
            Ok(Stored {
                hash,
                size,
                new_bytes: size,
            })
        })();
        if result.is_err() {
            let _ = fsx::unlink_at(tmp_dir.as_fd(), &name);
        }
        result
    }

    pub(crate) fn open_blob(&self, hash: &Hash) -> io::Result<OwnedFd> {
        let file = fs::File::open(self.path(hash))?;
        Ok(OwnedFd::from(file))
    }

    /// Creates `name` in `dir` with the blob's content, mode and mtime. The file must not exist.
    /// The caller flushes (one `syncfs` for many files).
    pub(crate) fn materialize(
        &self,
        hash: &Hash,
        dir: BorrowedFd<'_>,
        name: &str,
        mode: u32,
        mtime_ns: i64,
    ) -> io::Result<()> {
        let src = self.open_blob(hash)?;
        let dst = match fsx::clone_new(dir, name, src.as_fd(), 0o600)? {
            Some(clone) => clone,
            None => {
                let dst = fsx::create_file_at(dir, name, 0o600)?;
                copy_and_hash(src.as_fd(), dst.as_fd())?;
                dst
            }
        };
        // Mode last but before the time: fchmod does not change mtime, and the time must be the
        // last thing written.
        fsx::set_meta_fd(dst.as_fd(), mode, mtime_ns)
    }

    /// The blob's bytes when it is at most `limit` long.
    pub(crate) fn read_limited(&self, hash: &Hash, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let path = self.path(hash);
        let len = fs::symlink_metadata(&path)?.len();
        if len > limit {
            return Ok(None);
        }
        fs::read(path).map(Some)
    }
}

/// Hashes everything readable from `fd` (from its current offset).
pub(crate) fn hash_fd(fd: BorrowedFd<'_>) -> io::Result<(Hash, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = read_retry(fd, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((finish(hasher), size))
}

fn copy_and_hash(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> io::Result<(Hash, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = read_retry(src, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        let mut written = 0;
        while written < n {
            written += rustix::io::write(dst, &buf[written..n])?;
        }
        size += n as u64;
    }
    Ok((finish(hasher), size))
}

fn read_retry(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn finish(hasher: Sha256) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(hasher.finalize().as_slice());
    Hash(out)
}

/// The hash of a byte string (tests and small helpers).
pub(crate) fn hash_bytes(bytes: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(bytes);
    finish(hasher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_content_addressed_and_deduplicated() {
        let root = tempfile::tempdir().unwrap();
        let store = BlobStore::open(root.path()).unwrap();
        let src = root.path().join("src");
        fs::write(&src, b"hello").unwrap();
        let fd = OwnedFd::from(fs::File::open(&src).unwrap());
        let first = store.put(fd.as_fd()).unwrap();
        assert_eq!(first.hash, hash_bytes(b"hello"));
        assert_eq!(first.new_bytes, 5);
        let fd = OwnedFd::from(fs::File::open(&src).unwrap());
        let second = store.put(fd.as_fd()).unwrap();
        assert_eq!(second.new_bytes, 0);
        assert_eq!(fs::read(store.path(&first.hash)).unwrap(), b"hello");
        // Nothing left behind in tmp/.
        assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn materialize_sets_mode_and_mtime() {
        let root = tempfile::tempdir().unwrap();
        let store = BlobStore::open(root.path()).unwrap();
        let src = root.path().join("src");
        fs::write(&src, b"data").unwrap();
        let fd = OwnedFd::from(fs::File::open(&src).unwrap());
        let stored = store.put(fd.as_fd()).unwrap();
        let out = tempfile::tempdir().unwrap();
        let dir = fsx::open_root(out.path()).unwrap();
        store
            .materialize(
                &stored.hash,
                dir.as_fd(),
                "f",
                0o751,
                1_500_000_000_000_000_007,
            )
            .unwrap();
        let meta = fsx::stat_at(dir.as_fd(), "f").unwrap();
        assert_eq!(meta.mode, 0o751);
        assert_eq!(meta.mtime_ns, 1_500_000_000_000_000_007);
        assert_eq!(fs::read(out.path().join("f")).unwrap(), b"data");
    }
}
