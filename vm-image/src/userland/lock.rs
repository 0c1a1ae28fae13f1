//! `vm-image/userland.lock.json`: every file the full userland is made of, by URL, size and
//! SHA-256, for each architecture. Builds read only the lock, so the same lock gives the same
//! userland; `workroom-image userland-lock` writes a new one from the archive's current indices.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::resolve::Universe;
use super::{EXCLUDED, OFFICE_PACKAGES, PACKAGES, WHEELS};
use crate::fetch::Fetcher;
use crate::pins::DEBIAN_BOOKWORM;
use crate::{Arch, Error, Result};

/// The lock as committed (embedded in the builder, so an installed app carries it).
pub const EMBEDDED: &str = include_str!("../../userland.lock.json");

/// The whole lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// What this file is, for a person reading it.
    pub comment: String,
    /// The Debian archive the `.deb` file names are relative to.
    pub archive: String,
    /// The suite the packages were resolved from.
    pub suite: String,
    /// The packages asked for (the rest are their dependencies).
    pub packages: Vec<String>,
    /// Per architecture (`x86_64`, `aarch64`).
    pub arches: BTreeMap<String, ArchLock>,
}

/// What one architecture's userland is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchLock {
    /// Debian packages, by name.
    pub debs: Vec<LockedDeb>,
    /// Python wheels from PyPI (libraries Debian does not package).
    pub wheels: Vec<LockedFile>,
    /// What LibreOffice adds to `debs` (built only when asked for).
    #[serde(default)]
    pub office: Vec<LockedDeb>,
}

/// One `.deb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedDeb {
    /// Package name.
    pub package: String,
    /// Version.
    pub version: String,
    /// Path under the archive.
    pub filename: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 (hex).
    pub sha256: String,
}

/// One file from a URL (a wheel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedFile {
    /// Distribution name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Full URL.
    pub url: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 (hex).
    pub sha256: String,
}

impl Lock {
    /// The embedded lock.
    pub fn embedded() -> Result<Lock> {
        Lock::parse(EMBEDDED)
    }

    /// Parses a lock file.
    pub fn parse(text: &str) -> Result<Lock> {
        serde_json::from_str(text).map_err(|e| Error::Userland(format!("the lock file: {e}")))
    }

    /// The entries of `arch`.
    pub fn arch(&self, arch: Arch) -> Result<&ArchLock> {
        self.arches
            .get(arch.name())
            .ok_or_else(|| Error::Userland(format!("the lock file has nothing for {arch}")))
    }

    /// Pretty JSON with a trailing newline (what is committed).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Resolves [`PACKAGES`] and [`WHEELS`] afresh from Debian's and PyPI's current indices.
pub fn generate(fetcher: &Fetcher) -> Result<Lock> {
    let mut arches = BTreeMap::new();
    for arch in Arch::ALL {
        let text = fetcher.suite_packages(&DEBIAN_BOOKWORM, arch.debian())?;
        let universe = Universe::new(crate::index::parse_packages(&text, |_| true));
        let locked = |e: crate::index::IndexEntry| LockedDeb {
            package: e.package,
            version: e.version,
            filename: e.filename,
            size: e.size,
            sha256: e.sha256,
        };
        let base = universe
            .closure(PACKAGES, EXCLUDED)
            .map_err(|e| Error::Userland(format!("{arch}: {e}")))?;
        let debs: Vec<LockedDeb> = base.iter().cloned().map(locked).collect();
        // Seeded with the base, so LibreOffice never brings a second choice for a dependency the
        // base already satisfies.
        let office = universe
            .closure_over(&base, OFFICE_PACKAGES, EXCLUDED)
            .map_err(|e| Error::Userland(format!("{arch} with LibreOffice: {e}")))?
            .into_iter()
            .filter(|e| !debs.iter().any(|d| d.package == e.package))
            .map(locked)
            .collect();
        let mut wheels = Vec::new();
        for (name, version) in WHEELS {
            wheels.push(pypi_wheel(fetcher, name, version, arch)?);
        }
        arches.insert(
            arch.name().to_string(),
            ArchLock {
                debs,
                wheels,
                office,
            },
        );
    }
    Ok(Lock {
        comment: "Written by `cargo run -p workroom-image -- userland-lock`; do not edit by hand."
            .into(),
        archive: DEBIAN_BOOKWORM.archive.into(),
        suite: DEBIAN_BOOKWORM.suite.into(),
        packages: PACKAGES.iter().map(|p| p.to_string()).collect(),
        arches,
    })
}

/// A file's URL as the index gives it; mirrors of PyPI answer with relative ones
/// (`../../packages/<hash path>/<file>`), which are PyPI's file host's paths.
fn file_url(url: &str) -> Option<String> {
    if url.starts_with("https://") {
        return Some(url.to_string());
    }
    let (_, rest) = url.rsplit_once("packages/")?;
    Some(format!("https://files.pythonhosted.org/packages/{rest}"))
}

/// The wheel of `name==version` for `arch` (a pure-Python one, else a manylinux one), from PyPI's
/// JSON API.
fn pypi_wheel(fetcher: &Fetcher, name: &str, version: &str, arch: Arch) -> Result<LockedFile> {
    let url = format!("https://pypi.org/pypi/{name}/json");
    let bytes = fetcher.get_bytes(&url)?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Userland(format!("{url}: not JSON: {e}")))?;
    let files = doc["releases"][version]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let fits = |file_name: &str| {
        file_name.ends_with("-py3-none-any.whl")
            || (file_name.contains("-py3-none-manylinux") && file_name.contains(arch.name()))
    };
    files
        .iter()
        .find_map(|f| {
            let file_name = f["filename"].as_str()?;
            if !fits(file_name) {
                return None;
            }
            Some(LockedFile {
                name: name.to_string(),
                version: version.to_string(),
                url: file_url(f["url"].as_str()?)?,
                size: f["size"].as_u64()?,
                sha256: f["digests"]["sha256"].as_str()?.to_string(),
            })
        })
        .ok_or_else(|| Error::Userland(format!("PyPI has no {arch} wheel of {name} {version}")))
}
