//! Mounting a share, in either of the two forms the host names them by.
//!
//! - `<tag>`: a VirtioFS device of its own (the QEMU backend: one device per share), mounted at the
//!   share's path.
//! - `<tag>/<dir>`: directory `<dir>` of device `<tag>` (Apple's Virtualization framework shares every
//!   folder through one device with a directory per share). The device is mounted once under
//!   [`DEVICES`], then the directory is bind-mounted at the share's path. Read-only shares are
//!   enforced by the host, which is the boundary that counts.
//!
//! The supervisor mounts the boot shares each time it (re)connects, so both steps are idempotent.

use std::collections::HashSet;
use std::io;
use std::sync::{Mutex, PoisonError};

use super::system;

/// Where devices holding several shares are mounted.
pub const DEVICES: &str = "/run/workroom/devices";

/// One mount call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// `mount -t virtiofs <tag> <target>`.
    Device {
        /// The VirtioFS tag.
        tag: String,
        /// Where.
        target: String,
    },
    /// `mount --bind <source> <target>`.
    Bind {
        /// The directory inside a mounted device.
        source: String,
        /// Where.
        target: String,
    },
}

/// The mounts that make share `source` appear at `target` (an absolute path without `..`).
pub fn plan(source: &str, target: &str) -> Result<Vec<Step>, String> {
    if !target.starts_with('/') || target.split('/').any(|c| c == "..") {
        return Err("mount paths must be absolute, without ..".into());
    }
    match source.split_once('/') {
        None if valid_name(source) => Ok(vec![Step::Device {
            tag: source.to_string(),
            target: target.to_string(),
        }]),
        Some((tag, dir)) if valid_name(tag) && valid_name(dir) => {
            let root = format!("{DEVICES}/{tag}");
            Ok(vec![
                Step::Device {
                    tag: tag.to_string(),
                    target: root.clone(),
                },
                Step::Bind {
                    source: format!("{root}/{dir}"),
                    target: target.to_string(),
                },
            ])
        }
        _ => Err(format!(
            "share {source:?} is neither <tag> nor <tag>/<directory>"
        )),
    }
}

/// A tag or directory name: what the host allows (`[A-Za-z0-9_.-]`, 1–36 bytes), never `.` or `..`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 36
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Mounts share `source` at `target`; mounts this process made before are not repeated.
pub fn mount(source: &str, target: &str) -> io::Result<()> {
    static DONE: Mutex<Option<HashSet<Step>>> = Mutex::new(None);
    let steps = plan(source, target).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    for step in steps {
        let mut done = DONE.lock().unwrap_or_else(PoisonError::into_inner);
        let done = done.get_or_insert_with(HashSet::new);
        if done.contains(&step) {
            continue;
        }
        match &step {
            Step::Device { tag, target } => system::mount(tag, target, "virtiofs", 0, None)?,
            Step::Bind { source, target } => {
                system::mount(source, target, "none", libc::MS_BIND, None)?
            }
        }
        done.insert(step);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_of_its_own_is_mounted_at_the_path() {
        assert_eq!(
            plan("f0", "/sessions/a/mnt/Taxes 2026"),
            Ok(vec![Step::Device {
                tag: "f0".into(),
                target: "/sessions/a/mnt/Taxes 2026".into()
            }])
        );
    }

    #[test]
    fn a_directory_of_a_shared_device_is_mounted_once_and_bound() {
        assert_eq!(
            plan("workroom/f0", "/sessions/a/mnt/Taxes"),
            Ok(vec![
                Step::Device {
                    tag: "workroom".into(),
                    target: "/run/workroom/devices/workroom".into()
                },
                Step::Bind {
                    source: "/run/workroom/devices/workroom/f0".into(),
                    target: "/sessions/a/mnt/Taxes".into()
                },
            ])
        );
    }

    #[test]
    fn escapes_are_refused() {
        for (source, target) in [
            ("workroom/..", "/mnt/x"),
            ("workroom/.", "/mnt/x"),
            ("workroom/a/b", "/mnt/x"),
            ("/f0", "/mnt/x"),
            ("workroom/", "/mnt/x"),
            ("", "/mnt/x"),
            ("f0", "relative"),
            ("f0", "/mnt/../etc"),
        ] {
            assert!(plan(source, target).is_err(), "{source} → {target}");
        }
    }
}
