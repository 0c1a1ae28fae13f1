//! What changed between two manifests, and unified diffs of text files.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::manifest::{Entry, Hash, Kind, Manifest};

/// One change between two states of a folder. Directories appear as added or deleted like files;
/// a directory's mtime alone (which moves whenever its contents do) is not a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Added {
        after: Entry,
    },
    Deleted {
        before: Entry,
    },
    /// Content, kind or symlink target changed (mode and mtime may have too).
    Modified {
        before: Entry,
        after: Entry,
    },
    /// Same content; only the mode and/or the mtime changed.
    Metadata {
        before: Entry,
        after: Entry,
    },
    /// A file deleted at one path and added with the same content at another (the mode or mtime
    /// may differ).
    Renamed {
        before: Entry,
        after: Entry,
    },
}

impl Change {
    /// The path the change is shown under (the new path for a rename).
    pub fn path(&self) -> &str {
        match self {
            Change::Added { after } | Change::Renamed { after, .. } => &after.path,
            Change::Deleted { before } => &before.path,
            Change::Modified { after, .. } | Change::Metadata { after, .. } => &after.path,
        }
    }

    pub fn before(&self) -> Option<&Entry> {
        match self {
            Change::Added { .. } => None,
            Change::Deleted { before }
            | Change::Modified { before, .. }
            | Change::Metadata { before, .. }
            | Change::Renamed { before, .. } => Some(before),
        }
    }

    pub fn after(&self) -> Option<&Entry> {
        match self {
            Change::Deleted { .. } => None,
            Change::Added { after }
            | Change::Modified { after, .. }
            | Change::Metadata { after, .. }
            | Change::Renamed { after, .. } => Some(after),
        }
    }
}

/// Compares two manifests. The result is sorted by path (renames by their new path).
pub fn compare(from: &Manifest, to: &Manifest) -> Vec<Change> {
    let old = from.by_path();
    let new = to.by_path();
    let mut out: BTreeMap<String, Change> = BTreeMap::new();
    let mut deleted: Vec<&Entry> = Vec::new();
    let mut added: Vec<&Entry> = Vec::new();

    for (path, before) in &old {
        match new.get(path) {
            None => deleted.push(before),
            Some(after) => {
                if let Some(change) = compare_entry(before, after) {
                    out.insert((*path).to_owned(), change);
                }
            }
        }
    }
    for (path, after) in &new {
        if !old.contains_key(path) {
            added.push(after);
        }
    }

    // Renames: pair deleted and added files with the same content. Empty files all share one hash,
    // so pairing them would be noise.
    let mut by_hash: HashMap<Hash, Vec<&Entry>> = HashMap::new();
    deleted.sort_by(|a, b| a.path.cmp(&b.path));
    for d in &deleted {
        if let (Kind::File, Some(h), true) = (d.kind, d.hash, d.size > 0) {
            by_hash.entry(h).or_default().push(d);
        }
    }
    let mut renamed_from = std::collections::HashSet::new();
    added.sort_by(|a, b| a.path.cmp(&b.path));
    for a in added {
        let candidate = match (a.kind, a.hash, a.size > 0) {
            (Kind::File, Some(h), true) => by_hash.get_mut(&h).and_then(|c| {
                // Prefer a source with the same file name (a move between directories).
                let name = a.path.rsplit('/').next();
                let pos = c
                    .iter()
                    .position(|d| d.path.rsplit('/').next() == name)
                    .unwrap_or(0);
                (!c.is_empty()).then(|| c.remove(pos))
            }),
            _ => None,
        };
        match candidate {
            Some(before) => {
                renamed_from.insert(before.path.clone());
                out.insert(
                    a.path.clone(),
                    Change::Renamed {
                        before: before.clone(),
                        after: a.clone(),
                    },
                );
            }
            None => {
                out.insert(a.path.clone(), Change::Added { after: a.clone() });
            }
        }
    }
    for d in deleted {
        if !renamed_from.contains(&d.path) {
            out.insert(d.path.clone(), Change::Deleted { before: d.clone() });
        }
    }
    out.into_values().collect()
}

fn compare_entry(before: &Entry, after: &Entry) -> Option<Change> {
    let content_changed =
        before.kind != after.kind || before.hash != after.hash || before.target != after.target;
    if content_changed {
        return Some(Change::Modified {
            before: before.clone(),
            after: after.clone(),
        });
    }
    let meta_changed = before.mode != after.mode
        || (before.kind != Kind::Dir && before.mtime_ns != after.mtime_ns);
    meta_changed.then(|| Change::Metadata {
        before: before.clone(),
        after: after.clone(),
    })
}

/// Files above this size get no text diff.
pub const TEXT_DIFF_LIMIT: u64 = 1024 * 1024;

/// A unified diff of two texts, `None` when either side looks binary.
pub(crate) fn unified(old: &[u8], new: &[u8], old_name: &str, new_name: &str) -> Option<String> {
    let old = as_text(old)?;
    let new = as_text(new)?;
    Some(
        similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(old_name, new_name)
            .to_string(),
    )
}

fn as_text(bytes: &[u8]) -> Option<&str> {
    // Git's heuristic: a NUL in the first 8 KiB means binary.
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::blobs::hash_bytes;

    fn file(path: &str, content: &[u8], mode: u32, mtime: i64) -> Entry {
        Entry {
            path: path.into(),
            kind: Kind::File,
            mode,
            mtime_ns: mtime,
            size: content.len() as u64,
            hash: Some(hash_bytes(content)),
            target: None,
            ctime_ns: 0,
            ino: 0,
        }
    }

    fn manifest(entries: Vec<Entry>) -> Manifest {
        Manifest::for_tests(entries)
    }

    #[test]
    fn classifies_added_deleted_modified_renamed_and_mode_changes() {
        let from = manifest(vec![
            file("keep", b"k", 0o644, 1),
            file("edit", b"old", 0o644, 1),
            file("gone", b"g", 0o644, 1),
            file("a/moved", b"payload", 0o644, 1),
            file("script", b"#!", 0o644, 1),
            file("empty1", b"", 0o644, 1),
        ]);
        let to = manifest(vec![
            file("keep", b"k", 0o644, 1),
            file("edit", b"new", 0o644, 2),
            file("b/moved", b"payload", 0o644, 1),
            file("script", b"#!", 0o755, 1),
            file("empty2", b"", 0o644, 1),
            file("new", b"n", 0o644, 1),
        ]);
        let kinds: Vec<(String, &str)> = compare(&from, &to)
            .iter()
            .map(|c| {
                let k = match c {
                    Change::Added { .. } => "added",
                    Change::Deleted { .. } => "deleted",
                    Change::Modified { .. } => "modified",
                    Change::Metadata { .. } => "metadata",
                    Change::Renamed { .. } => "renamed",
                };
                (c.path().to_owned(), k)
            })
            .collect();
        let expected: Vec<(String, &str)> = [
            ("b/moved", "renamed"),
            ("edit", "modified"),
            ("empty1", "deleted"),
            ("empty2", "added"),
            ("gone", "deleted"),
            ("new", "added"),
            ("script", "metadata"),
        ]
        .iter()
        .map(|(p, k)| ((*p).to_owned(), *k))
        .collect();
        assert_eq!(kinds, expected);
    }

    #[test]
    fn unified_diff_of_text_and_none_for_binary() {
        let d = unified(b"a\nb\nc\n", b"a\nB\nc\n", "a/f", "b/f").unwrap();
        assert!(d.contains("-b\n+B\n"), "{d}");
        assert!(unified(b"\0bin", b"x", "a", "b").is_none());
    }
}
