//! The folders of one VZ VM: Apple's framework shares them through ONE VirtioFS device whose
//! [`VZMultipleDirectoryShare`] has one named directory per folder, so the guest sees one tag
//! ([`DEVICE_TAG`]) with a subdirectory per share. The set can grow while the VM runs: the backend
//! hands the device a new directory map, and the guest mounts the new subdirectory.
//!
//! This module is the bookkeeping (names, paths, read-only flags, how the guest names a share); the
//! framework calls are in `vz`.
//!
//! [`VZMultipleDirectoryShare`]: https://developer.apple.com/documentation/virtualization/vzmultipledirectoryshare

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::vm::Share;

/// The VirtioFS tag of the one directory-sharing device.
pub const DEVICE_TAG: &str = "workroom";

/// The longest share name (the QEMU backend's tag limit, so one `Share` works with both).
const MAX_NAME: usize = 36;

/// Why a share cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// The name is not 1–36 characters of `[A-Za-z0-9_.-]`, or is `.`/`..`.
    #[error("share name {0:?} must be 1 to 36 characters of letters, digits, '_', '.', '-' (and not . or ..)")]
    InvalidName(String),
    /// A share of that name exists already.
    #[error("share name {0:?} is used twice")]
    Duplicate(String),
}

/// One directory of the multiple-directory share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedDir {
    /// The folder on the host.
    pub host_path: PathBuf,
    /// The guest may not modify it (enforced by the framework on the host side).
    pub read_only: bool,
}

/// The directories of the device, by name (sorted, so the map handed to the framework and the
/// tests are deterministic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareSet {
    dirs: BTreeMap<String, SharedDir>,
}

impl ShareSet {
    /// A set with `shares`, each under its tag as name.
    pub fn from_shares(shares: &[Share]) -> Result<Self, ShareError> {
        let mut set = ShareSet::default();
        for share in shares {
            set.add(share)?;
        }
        Ok(set)
    }

    /// Adds `share` under its tag. Nothing changes on error.
    pub fn add(&mut self, share: &Share) -> Result<(), ShareError> {
        check_name(&share.tag)?;
        if self.dirs.contains_key(&share.tag) {
            return Err(ShareError::Duplicate(share.tag.clone()));
        }
        self.dirs.insert(
            share.tag.clone(),
            SharedDir {
                host_path: share.host_path.clone(),
                read_only: share.read_only,
            },
        );
        Ok(())
    }

    /// Removes the share named `name`; whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        self.dirs.remove(name).is_some()
    }

    /// Whether a share is named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.dirs.contains_key(name)
    }

    /// Name and directory of every share, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SharedDir)> {
        self.dirs.iter().map(|(name, dir)| (name.as_str(), dir))
    }

    /// How many shares there are.
    pub fn len(&self) -> usize {
        self.dirs.len()
    }

    /// Whether there are none (then the VM gets no directory-sharing device).
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }
}

/// What the guest mounts for share `name`: subdirectory `name` of device [`DEVICE_TAG`], written
/// `<device>/<name>` (a `/` never occurs in a VirtioFS tag, so the guest tells the forms apart).
pub fn guest_source(name: &str) -> String {
    format!("{DEVICE_TAG}/{name}")
}

fn check_name(name: &str) -> Result<(), ShareError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ShareError::InvalidName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(tag: &str, path: &str, read_only: bool) -> Share {
        Share {
            tag: tag.into(),
            host_path: path.into(),
            read_only,
        }
    }

    #[test]
    fn shares_are_kept_by_name_and_can_grow_while_running() {
        let mut set =
            ShareSet::from_shares(&[share("state", "/s", false), share("f0", "/a", false)])
                .unwrap();
        let names: Vec<_> = set.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["f0", "state"]);

        set.add(&share("f1", "/b", true)).unwrap();
        assert_eq!(set.len(), 3);
        let (_, f1) = set.iter().find(|(n, _)| *n == "f1").unwrap();
        assert_eq!(
            f1,
            &SharedDir {
                host_path: "/b".into(),
                read_only: true
            }
        );
        assert!(set.remove("f1") && !set.remove("f1"));
        assert!(!set.contains("f1") && set.contains("f0"));
    }

    #[test]
    fn bad_and_duplicate_names_change_nothing() {
        let mut set = ShareSet::from_shares(&[share("f0", "/a", false)]).unwrap();
        let before = set.clone();
        for bad in ["", ".", "..", "a/b", "has space", &"x".repeat(37)] {
            assert_eq!(
                set.add(&share(bad, "/x", false)),
                Err(ShareError::InvalidName(bad.to_string()))
            );
        }
        assert_eq!(
            set.add(&share("f0", "/elsewhere", false)),
            Err(ShareError::Duplicate("f0".into()))
        );
        assert_eq!(set, before);
        assert!(
            ShareSet::from_shares(&[share("a", "/a", false), share("a", "/b", false)]).is_err()
        );
    }

    #[test]
    fn the_guest_names_a_share_by_device_and_subdirectory() {
        assert_eq!(guest_source("f0"), "workroom/f0");
    }
}
