//! Walking a folder into manifest entries, in two phases so a size cap can refuse before anything
//! is copied:
//!
//! 1. [`walk`]: metadata only (`stat` of every entry, without following symlinks). A file whose
//!    size, mtime, ctime and inode match the previous snapshot keeps that snapshot's hash; the
//!    others are listed as needing their content read.
//! 2. [`read_contents`]: reads those files (hashing, and storing them when asked). A file that
//!    changes while it is read (its `fstat` differs before and after) is read again.

use std::{
    collections::HashMap,
    io,
    os::fd::{AsFd, BorrowedFd, OwnedFd},
};

use tracing::debug;

use super::{
    blobs::{self, BlobStore},
    fsx::{self, Meta},
    manifest::{Entry, Kind, Manifest, Skipped, RACY_WINDOW_NS},
};

/// Names at the top of a folder that belong to an in-progress restore (see `restore.rs`); never part
/// of a snapshot.
pub(crate) const STAGING_PREFIX: &str = ".workroom-restore-";

/// How often a file that keeps changing under us is re-read before we record what we read.
const READ_ATTEMPTS: usize = 3;

#[derive(Debug)]
pub(crate) struct Walk {
    pub entries: Vec<Entry>,
    pub skipped: Vec<Skipped>,
    /// Indexes into `entries` of files whose content must be read.
    pub needs_content: Vec<usize>,
    /// Sum of the sizes of those files: what a snapshot may have to copy.
    pub bytes_to_read: u64,
    pub scan_started_ns: i64,
}

/// What to do with the content of a file that looks changed.
pub(crate) enum Content<'a> {
    /// Hash it and put it into the store.
    Store(&'a BlobStore),
    /// Only hash it (conflict checks, plans).
    HashOnly,
}

/// A previous manifest used as a stat cache.
pub(crate) struct Cache<'a> {
    by_path: HashMap<&'a str, &'a Entry>,
    scan_started_ns: i64,
}

impl<'a> Cache<'a> {
    pub(crate) fn new(manifest: &'a Manifest) -> Self {
        Self {
            by_path: manifest.by_path(),
            scan_started_ns: manifest.scan_started_ns,
        }
    }

    fn hash_for(&self, path: &str, meta: &Meta) -> Option<Entry> {
        let prev = self.by_path.get(path)?;
        let trusted = prev.kind == Kind::File
            && prev.ctime_ns != -1
            && prev.size == meta.size
            && prev.mtime_ns == meta.mtime_ns
            && prev.ctime_ns == meta.ctime_ns
            && prev.ino == meta.ino
            // Changed just before the previous scan: a second write in the same clock tick would
            // not have moved the times, so the recorded hash may be stale.
            && prev.ctime_ns.saturating_add(RACY_WINDOW_NS) < self.scan_started_ns;
        trusted.then(|| (*prev).clone())
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

fn entry_from(path: String, meta: &Meta, kind: Kind) -> Entry {
    Entry {
        path,
        kind,
        mode: meta.mode,
        mtime_ns: meta.mtime_ns,
        size: if kind == Kind::File { meta.size } else { 0 },
        hash: None,
        target: None,
        ctime_ns: meta.ctime_ns,
        ino: meta.ino,
    }
}

/// Phase 1: every entry's metadata. Never follows a symlink; a directory is opened relative to its
/// parent with `O_NOFOLLOW`, so a directory swapped for a symlink mid-scan is not entered.
pub(crate) fn walk(
    root: BorrowedFd<'_>,
    cache: Option<&Cache<'_>>,
    skip_git: bool,
) -> io::Result<Walk> {
    let scan_started_ns = super::manifest::now_ns();
    let mut walk = Walk {
        entries: Vec::new(),
        skipped: Vec::new(),
        needs_content: Vec::new(),
        bytes_to_read: 0,
        scan_started_ns,
    };
    let root_meta = fsx::fstat(root)?;
    walk.entries
        .push(entry_from(String::new(), &root_meta, Kind::Dir));

    // An explicit stack instead of recursion: the guest decides how deep the tree is. It holds
    // paths, not open descriptors, so a directory with many subdirectories cannot exhaust them.
    let mut stack: Vec<(String, u64)> = vec![(String::new(), root_meta.ino)];
    while let Some((prefix, ino)) = stack.pop() {
        let dir = match fsx::open_dir_rel(root, &prefix) {
            Ok(fd) => fd,
            Err(e) if is_race(&e) => {
                walk.skipped.push(Skipped {
                    path: prefix,
                    reason: "changed during the scan".into(),
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        if fsx::fstat(dir.as_fd())?.ino != ino {
            walk.skipped.push(Skipped {
                path: prefix,
                reason: "changed during the scan".into(),
            });
            continue;
        }
        let names = match fsx::list_dir(dir.as_fd()) {
            Ok(names) => names,
            Err(e) => {
                walk.skipped.push(Skipped {
                    path: prefix.clone(),
                    reason: format!("cannot list directory: {e}"),
                });
                continue;
            }
        };
        let mut subdirs = Vec::new();
        for raw in names {
            let name = fsx::encode_name(&raw);
            let name = name.as_ref();
            if prefix.is_empty() && name.starts_with(STAGING_PREFIX) {
                continue;
            }
            let path = join(&prefix, name);
            if skip_git && name == ".git" {
                walk.skipped.push(Skipped {
                    path,
                    reason: ".git skipped by setting".into(),
                });
                continue;
            }
            if let Some(sub) = visit(dir.as_fd(), name, path, cache, &mut walk)? {
                subdirs.push(sub);
            }
        }
        // Reverse so the stack pops them in name order (a deterministic manifest).
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(walk)
}

/// Records one entry; returns the opened directory when it is one, to be walked.
fn visit(
    dir: BorrowedFd<'_>,
    name: &str,
    path: String,
    cache: Option<&Cache<'_>>,
    walk: &mut Walk,
) -> io::Result<Option<(String, u64)>> {
    // A few attempts: the entry can change kind between our stat and our open.
    for _ in 0..READ_ATTEMPTS {
        let meta = match fsx::try_stat_at(dir, name)? {
            Some(meta) => meta,
            None => return Ok(None), // Removed while we looked.
        };
        match meta.kind {
            Some(Kind::Dir) => {
                // Opened again (relative, without following links) when its turn comes; the inode
                // tells us then whether it is still the same directory.
                walk.entries
                    .push(entry_from(path.clone(), &meta, Kind::Dir));
                return Ok(Some((path, meta.ino)));
            }
            Some(Kind::File) => {
                let cached = cache.and_then(|c| c.hash_for(&path, &meta));
                let mut entry = entry_from(path, &meta, Kind::File);
                match cached {
                    Some(prev) => entry.hash = prev.hash,
                    None => {
                        walk.needs_content.push(walk.entries.len());
                        walk.bytes_to_read += meta.size;
                    }
                }
                walk.entries.push(entry);
                return Ok(None);
            }
            Some(Kind::Symlink) => {
                let target = match fsx::readlink_at(dir, name) {
                    Ok(t) => t,
                    Err(e) if is_race(&e) => continue,
                    Err(e) => return Err(e),
                };
                let mut entry = entry_from(path, &meta, Kind::Symlink);
                entry.target = Some(fsx::encode_name(&target).into_owned());
                walk.entries.push(entry);
                return Ok(None);
            }
            None => {
                walk.skipped.push(Skipped {
                    path,
                    reason: "not a file, directory or symlink".into(),
                });
                return Ok(None);
            }
        }
    }
    walk.skipped.push(Skipped {
        path,
        reason: "kept changing during the scan".into(),
    });
    Ok(None)
}

/// Errors that mean "the entry changed under us", not "something is broken".
fn is_race(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ELOOP) | Some(libc::EINVAL)
    )
}

/// Phase 2: reads the files listed in `walk.needs_content`. Returns the bytes added to the store.
pub(crate) fn read_contents(
    root: BorrowedFd<'_>,
    walk: &mut Walk,
    content: &Content<'_>,
) -> io::Result<u64> {
    let mut bytes_added = 0u64;
    let mut gone = Vec::new();
    // Entries come in directory order, so consecutive files usually share a parent.
    let mut parent: Option<(String, OwnedFd)> = None;
    for &index in &walk.needs_content {
        let path = walk.entries[index].path.clone();
        let (dir_rel, name) = match path.rsplit_once('/') {
            Some((d, n)) => (d, n),
            None => ("", path.as_str()),
        };
        if parent.as_ref().map(|(p, _)| p.as_str()) != Some(dir_rel) {
            match fsx::open_dir_rel(root, dir_rel) {
                Ok(fd) => parent = Some((dir_rel.to_owned(), fd)),
                Err(e) if is_race(&e) => {
                    gone.push(index);
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        let Some((_, dir)) = parent.as_ref() else {
            continue;
        };
        match read_one(dir.as_fd(), name, content)? {
            Some((stored, meta, stable)) => {
                let entry = &mut walk.entries[index];
                entry.hash = Some(stored.hash);
                entry.size = stored.size;
                entry.mode = meta.mode;
                entry.mtime_ns = meta.mtime_ns;
                entry.ino = meta.ino;
                entry.ctime_ns = if stable { meta.ctime_ns } else { -1 };
                bytes_added += stored.new_bytes;
            }
            None => gone.push(index),
        }
    }
    if !gone.is_empty() {
        debug!(
            count = gone.len(),
            "files changed kind or vanished during the scan"
        );
        for &index in &gone {
            walk.skipped.push(Skipped {
                path: walk.entries[index].path.clone(),
                reason: "changed during the scan".into(),
            });
        }
        let mut i = 0;
        walk.entries.retain(|_| {
            let keep = !gone.contains(&i);
            i += 1;
            keep
        });
    }
    walk.needs_content.clear();
    Ok(bytes_added)
}

/// Reads one file consistently: `fstat` before and after must agree, else read again. Returns
/// `None` when it is no longer a regular file; `stable == false` when it never held still.
fn read_one(
    dir: BorrowedFd<'_>,
    name: &str,
    content: &Content<'_>,
) -> io::Result<Option<(blobs::Stored, Meta, bool)>> {
    let mut last = None;
    for _ in 0..READ_ATTEMPTS {
        let fd = match fsx::open_file_at(dir, name) {
            Ok(fd) => fd,
            Err(e) if is_race(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let before = fsx::fstat(fd.as_fd())?;
        if before.kind != Some(Kind::File) {
            return Ok(None);
        }
        let stored = match content {
            Content::Store(store) => store.put(fd.as_fd())?,
            Content::HashOnly => {
                let (hash, size) = blobs::hash_fd(fd.as_fd())?;
                blobs::Stored {
                    hash,
                    size,
                    new_bytes: 0,
                }
            }
        };
        let after = fsx::fstat(fd.as_fd())?;
        if before == after && stored.size == after.size {
            return Ok(Some((stored, after, true)));
        }
        last = Some((stored, after));
    }
    Ok(last.map(|(stored, meta)| (stored, meta, false)))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn scan(dir: &std::path::Path, skip_git: bool) -> Walk {
        let root = fsx::open_root(dir).unwrap();
        let mut w = walk(root.as_fd(), None, skip_git).unwrap();
        read_contents(root.as_fd(), &mut w, &Content::HashOnly).unwrap();
        w
    }

    #[test]
    fn records_files_dirs_and_symlinks_without_following() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/a.txt"), b"a").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        let w = scan(dir.path(), false);
        // A directory's entries come before its subdirectories' (one directory open at a time).
        let paths: Vec<_> = w.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["", "d", "out", "d/a.txt"]);
        let link = &w.entries[2];
        assert_eq!(link.kind, Kind::Symlink);
        assert_eq!(link.target.as_deref(), outside.path().to_str());
        assert_eq!(w.entries[3].hash, Some(blobs::hash_bytes(b"a")));
    }

    #[test]
    fn skips_git_only_when_asked_and_notes_special_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join(".git/HEAD"), b"ref").unwrap();
        let fifo = std::ffi::CString::new(dir.path().join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let w = scan(dir.path(), false);
        assert!(w.entries.iter().any(|e| e.path == ".git/HEAD"));
        assert!(w.skipped.iter().any(|s| s.path == "fifo"));
        let w = scan(dir.path(), true);
        assert!(!w.entries.iter().any(|e| e.path.starts_with(".git")));
    }

    #[test]
    fn cache_is_trusted_only_for_unchanged_and_settled_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), b"one").unwrap();
        let root = fsx::open_root(dir.path()).unwrap();
        let first = scan(dir.path(), false);
        let mut manifest = Manifest {
            version: 1,
            id: super::super::SnapshotId::generate(),
            folder: dir.path().to_owned(),
            created_at_ms: 0,
            scan_started_ns: first.scan_started_ns,
            skip_git: false,
            bytes_added: 0,
            entries: first.entries,
            skipped: vec![],
        };
        // Just written: inside the racy window, so it is read again.
        let w = walk(root.as_fd(), Some(&Cache::new(&manifest)), false).unwrap();
        assert_eq!(w.needs_content.len(), 1);
        // Pretend the previous scan happened long after the write: now trusted.
        manifest.scan_started_ns += 10 * RACY_WINDOW_NS;
        let w = walk(root.as_fd(), Some(&Cache::new(&manifest)), false).unwrap();
        assert!(w.needs_content.is_empty());
        // Same size, different content and mtime: read again.
        fs::write(dir.path().join("f"), b"two").unwrap();
        let w = walk(root.as_fd(), Some(&Cache::new(&manifest)), false).unwrap();
        assert_eq!(w.needs_content.len(), 1);
    }
}
