//! What a snapshot records: one entry per file, directory and symlink of the folder, and the
//! on-disk form of that record (`snapshots/<id>.json`, written atomically).
//!
//! On disk most snapshots are stored as the difference from the folder's previous snapshot (its
//! `base`): the entries that differ and the paths that are gone. So a turn that changed three files
//! of a 100k-file folder adds a few hundred bytes of manifest, not 20 MB. Chains are cut every
//! [`MAX_CHAIN`] snapshots (or when a difference is not much smaller than the whole) by storing
//! the whole manifest again, which bounds the cost of reading one.

use std::{
    collections::HashMap,
    fmt, fs, io,
    io::Write as _,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use super::CheckpointError;

/// The id of a snapshot: lowercase letters, digits and `-` only, so it is safe as a file name and
/// as a SQLite text value. Ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SnapshotId(String);

impl SnapshotId {
    pub(crate) fn generate() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let random = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("{ms:013}-{}", &random[..12]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SnapshotId {
    type Error = CheckpointError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s))
        } else {
            Err(CheckpointError::BadId(s))
        }
    }
}

impl std::str::FromStr for SnapshotId {
    type Err = CheckpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl From<SnapshotId> for String {
    fn from(id: SnapshotId) -> Self {
        id.0
    }
}

/// A SHA-256 content hash, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hash(pub(crate) [u8; 32]);

impl Hash {
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        s
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            out[i] = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..12])
    }
}

impl TryFrom<String> for Hash {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::from_hex(&s).ok_or_else(|| format!("not a SHA-256 hex digest: {s:?}"))
    }
}

impl From<Hash> for String {
    fn from(h: Hash) -> Self {
        h.to_hex()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

/// One entry of a folder. Field names are short on disk because a manifest of a 100k-file tree
/// holds 100k of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Relative to the folder, `/`-separated; `""` is the folder itself.
    #[serde(rename = "p")]
    pub path: String,
    #[serde(rename = "k")]
    pub kind: Kind,
    /// Permission bits (`0o7777`).
    #[serde(rename = "m")]
    pub mode: u32,
    /// Modification time in nanoseconds since the Unix epoch.
    #[serde(rename = "t")]
    pub mtime_ns: i64,
    /// Size in bytes (files; 0 otherwise).
    #[serde(rename = "s", default)]
    pub size: u64,
    /// Content hash (files only).
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Hash>,
    /// Link target (symlinks only), as stored in the link, never resolved.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Change time and inode: only used to decide whether the next scan may trust `hash` without
    /// reading the file again. `ctime_ns == -1` means "do not trust".
    #[serde(rename = "c", default)]
    pub(crate) ctime_ns: i64,
    #[serde(rename = "i", default)]
    pub(crate) ino: u64,
}

impl Entry {
    /// Same kind, content (or link target) and mode: what a user would call "the same file".
    pub(crate) fn same_content(&self, other: &Entry) -> bool {
        self.kind == other.kind
            && self.mode == other.mode
            && (self.kind == Kind::Dir || (self.hash == other.hash && self.target == other.target))
    }

    /// What a restore must reproduce: content, mode and, except for directories (whose time is set
    /// in a separate pass), the modification time.
    pub(crate) fn same_restorable(&self, other: &Entry) -> bool {
        self.same_content(other) && (self.kind == Kind::Dir || self.mtime_ns == other.mtime_ns)
    }
}

/// Something the scan saw but did not record, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// A snapshot: the folder's entries at one moment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub id: SnapshotId,
    /// The folder's canonical path.
    pub folder: PathBuf,
    pub created_at_ms: i64,
    /// When the scan began; entries modified within [`RACY_WINDOW_NS`] of it are re-read next time
    /// because a later write in the same timestamp tick would not change their mtime.
    pub scan_started_ns: i64,
    pub skip_git: bool,
    /// Bytes of new content this snapshot added to the store (before any reflink sharing).
    pub bytes_added: u64,
    pub entries: Vec<Entry>,
    pub skipped: Vec<Skipped>,
}

/// Version 2 added `base`, `depth` and `removed` (version 1 files read as full manifests).
pub(crate) const MANIFEST_VERSION: u32 = 2;

/// Most differences stored in a row before a snapshot is stored whole again.
pub(crate) const MAX_CHAIN: u32 = 16;

/// A manifest as stored: whole (`base` is `None`), or the difference from `base`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stored {
    pub version: u32,
    pub id: SnapshotId,
    pub folder: PathBuf,
    pub created_at_ms: i64,
    pub scan_started_ns: i64,
    pub skip_git: bool,
    pub bytes_added: u64,
    /// The snapshot this one is stored against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<SnapshotId>,
    /// Differences between this snapshot and the nearest whole one (0: whole).
    #[serde(default)]
    pub depth: u32,
    /// Whole: every entry. Difference: entries new or different since `base`.
    pub entries: Vec<Entry>,
    /// Difference only: paths of `base` that are gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    pub skipped: Vec<Skipped>,
}

impl Stored {
    /// `manifest` stored whole, or against `base` (with its depth) when that is worth it.
    pub(crate) fn new(manifest: &Manifest, base: Option<(&Manifest, u32)>) -> Self {
        let mut stored = Stored {
            version: MANIFEST_VERSION,
            id: manifest.id.clone(),
            folder: manifest.folder.clone(),
            created_at_ms: manifest.created_at_ms,
            scan_started_ns: manifest.scan_started_ns,
            skip_git: manifest.skip_git,
            bytes_added: manifest.bytes_added,
            base: None,
            depth: 0,
            entries: manifest.entries.clone(),
            removed: Vec::new(),
            skipped: manifest.skipped.clone(),
        };
        let Some((base, base_depth)) = base else {
            return stored;
        };
        if base_depth + 1 > MAX_CHAIN || base.folder != manifest.folder {
            return stored;
        }
        let old = base.by_path();
        let changed: Vec<Entry> = manifest
            .entries
            .iter()
            .filter(|e| old.get(e.path.as_str()) != Some(e))
            .cloned()
            .collect();
        let new: std::collections::HashSet<&str> =
            manifest.entries.iter().map(|e| e.path.as_str()).collect();
        let removed: Vec<String> = base
            .entries
            .iter()
            .filter(|e| !new.contains(e.path.as_str()))
            .map(|e| e.path.clone())
            .collect();
        // A difference touching most of the folder saves little and lengthens every later read.
        if (changed.len() + removed.len()) * 2 > manifest.entries.len() {
            return stored;
        }
        stored.base = Some(base.id.clone());
        stored.depth = base_depth + 1;
        stored.entries = changed;
        stored.removed = removed;
        stored
    }

    /// The whole manifest, given the whole manifest of `base` (for a difference).
    pub(crate) fn into_manifest(self, base: Option<Manifest>) -> Result<Manifest, CheckpointError> {
        let entries = match (&self.base, base) {
            (None, _) => self.entries,
            (Some(_), Some(base)) => apply_difference(base.entries, self.entries, &self.removed),
            (Some(id), None) => {
                return Err(CheckpointError::Corrupt(format!(
                    "snapshot {} is stored against {id}, which was not given",
                    self.id
                )))
            }
        };
        Ok(Manifest {
            version: self.version,
            id: self.id,
            folder: self.folder,
            created_at_ms: self.created_at_ms,
            scan_started_ns: self.scan_started_ns,
            skip_git: self.skip_git,
            bytes_added: self.bytes_added,
            entries,
            skipped: self.skipped,
        })
    }
}

/// `base` with `removed` taken out and `changed` put in (replacing entries of the same path, in
/// place; new paths at the end, sorted, which puts parents before children).
fn apply_difference(base: Vec<Entry>, changed: Vec<Entry>, removed: &[String]) -> Vec<Entry> {
    let removed: std::collections::HashSet<&str> = removed.iter().map(String::as_str).collect();
    let mut changed: HashMap<String, Entry> =
        changed.into_iter().map(|e| (e.path.clone(), e)).collect();
    let mut out: Vec<Entry> = Vec::with_capacity(base.len());
    for e in base {
        if removed.contains(e.path.as_str()) {
            continue;
        }
        out.push(changed.remove(&e.path).unwrap_or(e));
    }
    let mut added: Vec<Entry> = changed.into_values().collect();
    added.sort_by(|a, b| a.path.cmp(&b.path));
    out.extend(added);
    out
}

/// Coarse kernel clocks stamp files in ticks of a few milliseconds; a generous margin costs only a
/// re-read of files touched in the last two seconds before a snapshot.
pub(crate) const RACY_WINDOW_NS: i64 = 2_000_000_000;

impl Manifest {
    /// A manifest of `entries` for a folder `/x`, for unit tests of code that reads manifests.
    #[cfg(test)]
    pub(crate) fn for_tests(entries: Vec<Entry>) -> Self {
        Manifest {
            version: 1,
            id: SnapshotId::generate(),
            folder: "/x".into(),
            created_at_ms: 0,
            scan_started_ns: 0,
            skip_git: false,
            bytes_added: 0,
            entries,
            skipped: vec![],
        }
    }

    pub fn by_path(&self) -> HashMap<&str, &Entry> {
        self.entries.iter().map(|e| (e.path.as_str(), e)).collect()
    }

    /// Total bytes of the files the snapshot describes.
    pub fn logical_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one: a temporary
/// file next to it, fsync, rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".tmp-{}",
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..16)
            .unwrap_or("x")
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_ids_are_validated_and_sort_by_time() {
        let a = SnapshotId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = SnapshotId::generate();
        assert!(a < b);
        assert!("../etc".parse::<SnapshotId>().is_err());
        assert!("ABC".parse::<SnapshotId>().is_err());
        assert_eq!(a.as_str().parse::<SnapshotId>().unwrap(), a);
    }

    fn entry(path: &str, size: u64) -> Entry {
        Entry {
            path: path.into(),
            kind: if size == 0 { Kind::Dir } else { Kind::File },
            mode: 0o644,
            mtime_ns: 1,
            size,
            hash: (size > 0).then_some(Hash([size as u8; 32])),
            target: None,
            ctime_ns: 1,
            ino: size,
        }
    }

    #[test]
    fn a_difference_round_trips_and_long_or_large_ones_are_stored_whole() {
        let base = Manifest::for_tests((1..=10).map(|i| entry(&format!("f{i}"), i)).collect());
        let mut entries: Vec<Entry> = base.entries.clone();
        entries.retain(|e| e.path != "f3");
        entries[0] = entry("f1", 99);
        entries.push(entry("a/new", 7));
        entries.push(entry("a", 0));
        let next = Manifest {
            entries,
            ..Manifest::for_tests(vec![])
        };
        let stored = Stored::new(&next, Some((&base, 2)));
        assert_eq!(stored.base.as_ref(), Some(&base.id));
        assert_eq!(stored.depth, 3);
        assert_eq!(stored.entries.len(), 3);
        assert_eq!(stored.removed, ["f3"]);
        let json = serde_json::to_vec(&stored).unwrap();
        let back: Stored = serde_json::from_slice(&json).unwrap();
        let whole = back.into_manifest(Some(base.clone())).unwrap();
        let sorted = |m: &Manifest| {
            let mut v = m.entries.clone();
            v.sort_by(|a, b| a.path.cmp(&b.path));
            v
        };
        assert_eq!(sorted(&whole), sorted(&next));
        let a = whole.entries.iter().position(|e| e.path == "a").unwrap();
        let a_new = whole
            .entries
            .iter()
            .position(|e| e.path == "a/new")
            .unwrap();
        assert!(a < a_new, "new parents come before their children");

        assert_eq!(Stored::new(&next, Some((&base, MAX_CHAIN))).base, None);
        let all_new = Manifest::for_tests((1..=10).map(|i| entry(&format!("g{i}"), i)).collect());
        assert_eq!(Stored::new(&all_new, Some((&base, 0))).base, None);
        // A difference without its base is an error, not an empty folder.
        assert!(serde_json::from_slice::<Stored>(&json)
            .unwrap()
            .into_manifest(None)
            .is_err());
    }

    #[test]
    fn hash_hex_round_trips() {
        let h = Hash([0xab; 32]);
        assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Hash::from_hex("zz"), None);
    }
}
