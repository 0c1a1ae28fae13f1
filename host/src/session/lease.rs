//! Guest memory reserved by the running VMs of every Workroom process on this machine.
//!
//! Each running VM holds a lease file `<data>/leases/<session>.json` (`{"pid", "memory_mib"}`), removed
//! when the lease is dropped; leases whose process is gone (a killed app) do not count. Checking the cap
//! and writing a lease happen under a file lock, so two processes cannot both take the last room.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct LeaseFile {
    pid: u32,
    memory_mib: u32,
}

/// A reservation; dropping it gives the memory back.
#[derive(Debug)]
pub struct MemoryLease {
    path: PathBuf,
}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Why no lease was granted.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The VM would not fit under the cap.
    #[error("Too many sessions are running: their VMs use {in_use} MiB of the {cap} MiB allowed. Close a session or raise the limit (workroom config set max_total_memory_mib ...).")]
    Full {
        /// MiB reserved now.
        in_use: u32,
        /// The cap.
        cap: u32,
    },
    /// The lease directory is not usable.
    #[error("cannot reserve memory for the VM: {0}")]
    Io(#[from] std::io::Error),
}

/// Reserves `memory_mib` for `session_id` if everything running plus it stays within `cap`.
pub fn acquire(
    dir: &Path,
    session_id: &str,
    memory_mib: u32,
    cap: u32,
) -> Result<MemoryLease, LeaseError> {
    std::fs::create_dir_all(dir)?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))?;
    // SAFETY: flock on a descriptor we own; released when `lock` is closed at the end of this function.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let path = dir.join(format!("{session_id}.json"));
    let in_use = in_use(dir, &path);
    if in_use + memory_mib > cap {
        return Err(LeaseError::Full { in_use, cap });
    }
    let mut file = std::fs::File::create(&path)?;
    let lease = LeaseFile {
        pid: std::process::id(),
        memory_mib,
    };
    file.write_all(
        serde_json::to_string(&lease)
            .map_err(std::io::Error::other)?
            .as_bytes(),
    )?;
    Ok(MemoryLease { path })
}

/// MiB held by live leases other than `except`; stale leases are removed on the way.
fn in_use(dir: &Path, except: &Path) -> u32 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path == except || path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let lease = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<LeaseFile>(&t).ok());
        match lease {
            Some(lease) if process_alive(lease.pid) => total += lease.memory_mib,
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    total
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    unsafe {
        libc::kill(pid, 0) == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_count_until_dropped_and_dead_processes_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let a = acquire(dir.path(), "a", 512, 1024).unwrap();
        let _b = acquire(dir.path(), "b", 512, 1024).unwrap();
        let full = acquire(dir.path(), "c", 512, 1024).unwrap_err();
        assert!(
            full.to_string().contains("1024 MiB of the 1024 MiB"),
            "{full}"
        );
        drop(a);
        let _c = acquire(dir.path(), "c", 512, 1024).unwrap();
        // A lease left by a process that no longer exists is ignored (and cleaned up).
        std::fs::write(
            dir.path().join("ghost.json"),
            r#"{"pid": 999999999, "memory_mib": 4096}"#,
        )
        .unwrap();
        drop(_c);
        acquire(dir.path(), "d", 512, 1024).unwrap();
        assert!(!dir.path().join("ghost.json").exists());
    }
}
