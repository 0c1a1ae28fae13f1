//! The full guest userland: a Debian root filesystem (bash, coreutils, git, curl, Python with the
//! document libraries, poppler-utils, …) that the guest mounts read-only over VirtioFS, under a
//! writable overlay, as the root its shell commands run in. The agent itself stays in the
//! initramfs, so the minimal image keeps working without any of this.
//!
//! What it is made of is fixed by `vm-image/userland.lock.json` ([`lock`]); a build downloads what
//! the lock names into the shared download cache (verified by SHA-256), unpacks it ([`install`])
//! into `<images>/userland-<arch>/root/` and writes `manifest.json` beside it: the lock's hash,
//! the file count, the size, and a hash of the whole tree (same lock, same tree hash).

pub mod install;
pub mod lock;
pub mod resolve;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fetch::{hash_reader, Fetcher};
use crate::pins::DEBIAN_BOOKWORM;
use crate::progress::ProgressSink;
use crate::{hex, Arch, Error, IoContext, Result};

/// The packages asked for; the lock adds what they depend on.
pub const PACKAGES: &[&str] = &[
    // The shell and the tools every script assumes.
    "base-files",
    "bash",
    "coreutils",
    "dash",
    "debianutils",
    "diffutils",
    "findutils",
    "grep",
    "gawk",
    "sed",
    "tar",
    "gzip",
    "bzip2",
    "xz-utils",
    "zip",
    "unzip",
    "patch",
    "procps",
    "less",
    "libc-bin",
    // Files, data and the network (through the host's egress proxy).
    "file",
    "jq",
    "git",
    "curl",
    "ca-certificates",
    // Documents.
    "poppler-utils",
    "python3",
    "python3-pip",
    "python3-openpyxl",
    "python3-docx",
    "python3-pypdf",
    "python3-pdfminer",
    "python3-pil",
    "python3-lxml",
    "python3-xlsxwriter",
];

/// LibreOffice without its graphical front ends, for conversions (`soffice --headless
/// --convert-to pdf`): optional, as it more than doubles the userland.
pub const OFFICE_PACKAGES: &[&str] = &[
    "libreoffice-writer-nogui",
    "libreoffice-calc-nogui",
    "libreoffice-impress-nogui",
];

/// Never chosen to satisfy a dependency (each has an alternative): `usrmerge` converts a split
/// `/usr`, which this root never has, so `usr-is-merged` stands in.
pub const EXCLUDED: &[&str] = &["usrmerge"];

/// Python libraries Debian 12 does not package, as wheels from PyPI: `pdfplumber` at the last
/// version that works with Debian's `pdfminer.six` 20221105, its renderer `pypdfium2`, and
/// `python-pptx`.
pub const WHEELS: &[(&str, &str)] = &[
    ("pdfplumber", "0.10.2"),
    ("pypdfium2", "4.30.0"),
    ("python-pptx", "0.6.23"),
];

/// What a built userland is, as `manifest.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserlandManifest {
    /// Architecture.
    pub arch: String,
    /// SHA-256 of the lock file it was built from (a newer app with a new lock rebuilds).
    pub lock_sha256: String,
    /// Debian packages unpacked.
    pub packages: usize,
    /// Wheels unpacked.
    pub wheels: usize,
    /// Whether LibreOffice is included.
    #[serde(default)]
    pub office: bool,
    /// Files, links and directories in the tree.
    pub entries: u64,
    /// Bytes of file contents (hard links counted once).
    pub size_bytes: u64,
    /// SHA-256 over every entry's path, kind, mode and contents or target, in path order.
    pub tree_sha256: String,
    /// Locked packages that had left the archive, as `name old-version -> new-version`: the tree
    /// is then not the lock's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<String>,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct UserlandOptions {
    /// Guest architecture.
    pub arch: Arch,
    /// The images directory; the userland goes to `<out_dir>/userland-<arch>/`.
    pub out_dir: PathBuf,
    /// Download cache.
    pub cache_dir: PathBuf,
    /// Include LibreOffice ([`OFFICE_PACKAGES`]).
    pub office: bool,
    /// Progress for a window's bar.
    pub progress: ProgressSink,
}

/// `<images>/userland-<arch>`.
pub fn userland_dir(images: &Path, arch: Arch) -> PathBuf {
    images.join(format!("userland-{}", arch.name()))
}

/// SHA-256 of the embedded lock.
pub fn lock_sha256() -> String {
    crate::sha256_hex(lock::EMBEDDED.as_bytes())
}

/// The manifest of the userland in `dir`, if there is a readable one.
pub fn read_manifest(dir: &Path) -> Option<UserlandManifest> {
    let text = fs::read_to_string(dir.join("manifest.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Downloads what the lock names and unpacks it into `<out_dir>/userland-<arch>/`, replacing a
/// previous build only once the new one is complete.
pub fn build(opts: &UserlandOptions) -> Result<(PathBuf, UserlandManifest)> {
    let lock = lock::Lock::embedded()?;
    let entries = lock.arch(opts.arch)?;
    let wanted: Vec<&lock::LockedDeb> = entries
        .debs
        .iter()
        .chain(entries.office.iter().filter(|_| opts.office))
        .collect();
    let total_bytes: u64 = wanted.iter().map(|d| d.size).sum::<u64>()
        + entries.wheels.iter().map(|w| w.size).sum::<u64>();
    let download = opts.progress.phase(0.0, 0.6);
    let fetcher = Fetcher::new(opts.cache_dir.clone())?;
    let mut debs = Vec::new();
    let mut done = 0u64;
    // Debian drops superseded versions from the pool at point releases; then the current package
    // of the same name is taken from the suite's index (fetched once), with a warning.
    let mut current: Option<HashMap<String, crate::index::IndexEntry>> = None;
    let mut replaced = Vec::new();
    for deb in wanted.iter().copied() {
        download.report(
            format!("Downloading {} ({} packages)", deb.package, wanted.len()),
            done as f64 / total_bytes.max(1) as f64,
        );
        let url = format!("{}{}", lock.archive, deb.filename);
        let path = match fetcher.download_cached(&url, &deb.sha256, Some(deb.size)) {
            Err(Error::HttpStatus { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
                if current.is_none() {
                    let text = fetcher.suite_packages(&DEBIAN_BOOKWORM, opts.arch.debian())?;
                    current = Some(
                        crate::index::parse_packages(&text, |_| true)
                            .into_iter()
                            .map(|e| (e.package.clone(), e))
                            .collect(),
                    );
                }
                let entry = current
                    .as_ref()
                    .and_then(|c| c.get(&deb.package))
                    .ok_or_else(|| {
                        Error::Userland(format!(
                            "{} {} has left the Debian archive and has no successor; update the lock",
                            deb.package, deb.version
                        ))
                    })?;
                eprintln!(
                    "warning: {url} is gone; using {} {} (update vm-image/userland.lock.json)",
                    entry.package, entry.version
                );
                replaced.push(format!(
                    "{} {} -> {}",
                    deb.package, deb.version, entry.version
                ));
                let new_url = format!("{}{}", lock.archive, entry.filename);
                fetcher.download_cached(&new_url, &entry.sha256, Some(entry.size))?
            }
            other => other?,
        };
        debs.push((deb.package.clone(), path));
        done += deb.size;
    }
    let mut wheels = Vec::new();
    for wheel in &entries.wheels {
        download.report(
            format!("Downloading {} (Python)", wheel.name),
            done as f64 / total_bytes.max(1) as f64,
        );
        wheels.push(fetcher.download_cached(&wheel.url, &wheel.sha256, Some(wheel.size))?);
        done += wheel.size;
    }

    fs::create_dir_all(&opts.out_dir)
        .io_context(|| format!("cannot create {}", opts.out_dir.display()))?;
    remove_old_trees(&opts.out_dir, opts.arch);
    let dir = userland_dir(&opts.out_dir, opts.arch);
    let staging = tempfile::Builder::new()
        .prefix(&format!(".userland-{}.partial-", opts.arch))
        .tempdir_in(&opts.out_dir)
        .io_context(|| format!("cannot create a directory in {}", opts.out_dir.display()))?;
    let root = staging.path().join("root");
    let unpack = opts.progress.phase(0.6, 0.95);
    let mut installer = install::Installer::new(&root)?;
    for (i, (package, path)) in debs.iter().enumerate() {
        unpack.report(format!("Unpacking {package}"), i as f64 / debs.len() as f64);
        installer.deb(path)?;
    }
    for path in &wheels {
        installer.wheel(path)?;
    }
    installer.finish()?;
    opts.progress.report("Checking the result", 0.96);
    let (entries_count, size_bytes, tree_sha256) =
        tree_digest(&root).io_context(|| format!("cannot read back {}", root.display()))?;
    let manifest = UserlandManifest {
        arch: opts.arch.name().to_string(),
        lock_sha256: lock_sha256(),
        packages: debs.len(),
        wheels: wheels.len(),
        office: opts.office,
        entries: entries_count,
        size_bytes,
        tree_sha256,
        replaced,
    };
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::Userland(format!("cannot write the manifest: {e}")))?;
    fs::write(staging.path().join("manifest.json"), json + "\n")
        .io_context(|| "cannot write the userland manifest".to_string())?;
    // The tree it replaces stays aside: running VMs keep serving it until they stop (a day is
    // far longer than an idle VM lives), and a build after that removes it.
    if let Some(old) = crate::build::replace_dir(&opts.out_dir, &staging.keep(), &dir, true)? {
        eprintln!(
            "the previous userland stays in {} while VMs may use it; a build a day later removes it",
            old.display()
        );
    }
    opts.progress.report("The full toolset is ready", 1.0);
    Ok((dir, manifest))
}

/// Removes trees earlier builds set aside (`.userland-<arch>.old-*`) that are over a day old, and
/// half-built ones (`.userland-<arch>.partial-*`) of the same age (a crashed build).
fn remove_old_trees(out_dir: &Path, arch: Arch) {
    let prefixes = [
        format!(".userland-{}.old-", arch.name()),
        format!(".userland-{}.partial-", arch.name()),
    ];
    let Ok(entries) = fs::read_dir(out_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let old_enough = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(24 * 3600));
        if prefixes.iter().any(|p| name.starts_with(p)) && old_enough {
            if let Err(e) = fs::remove_dir_all(entry.path()) {
                eprintln!("warning: cannot remove {}: {e}", entry.path().display());
            }
        }
    }
}

/// (entries, bytes of unique file contents, SHA-256 of the tree) under `root`.
pub fn tree_digest(root: &Path) -> io::Result<(u64, u64, String)> {
    let mut paths = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let child = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                stack.push(child.clone());
            }
            paths.push(child);
        }
    }
    paths.sort();
    let mut tree = Sha256::new();
    let mut seen: HashMap<(u64, u64), String> = HashMap::new();
    let mut size = 0;
    for rel in &paths {
        let full = root.join(rel);
        let meta = fs::symlink_metadata(&full)?;
        let mode = meta.permissions().mode() & 0o7777;
        let (kind, what) = if meta.file_type().is_symlink() {
            ('l', fs::read_link(&full)?.to_string_lossy().into_owned())
        } else if meta.is_dir() {
            ('d', String::new())
        } else {
            let key = (meta.dev(), meta.ino());
            let hash = match seen.get(&key) {
                Some(h) => h.clone(),
                None => {
                    size += meta.len();
                    let (h, _) = hash_reader(fs::File::open(&full)?)?;
                    seen.insert(key, h.clone());
                    h
                }
            };
            ('f', hash)
        };
        tree.update(format!("{kind} {mode:o} {} {what}\n", rel.display()).as_bytes());
    }
    Ok((paths.len() as u64, size, hex(&tree.finalize())))
}
