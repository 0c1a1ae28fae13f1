//! Unpacking packages into the userland's root directory the way dpkg would leave it, without
//! running any maintainer script: merged `/usr`, `update-alternatives` links read from the
//! `postinst` scripts, the CA bundle `update-ca-certificates` would write, and the few files in
//! `/etc` that scripts create on a real system.
//!
//! Nothing a package contains can write outside the root: every path is resolved inside it the way
//! a chroot would (absolute symbolic links start again at the root, `..` stops there), so a link
//! such as `/usr/lib/ssl/certs -> /etc/ssl/certs` leads to the root's `/etc`, never the builder's.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::{deb, Error, IoContext, Result};

/// Top-level directories that are links into `/usr` on a merged-`/usr` system (Debian 12).
const MERGED: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Documentation and translations: a quarter of the size, and nothing a program needs. Copyright
/// files stay (`usr/share/doc/<package>/copyright`).
const SKIPPED: &[&str] = &[
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
    "usr/share/lintian/",
    "usr/share/bug/",
    "usr/share/gtk-doc/",
];

/// Where wheels go: Debian's Python looks there for packages not installed by dpkg.
const DIST_PACKAGES: &str = "usr/lib/python3/dist-packages";

/// Directories the guest mounts over or programs expect to exist.
const EMPTY_DIRS: &[(&str, u32)] = &[
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
    ("run", 0o755),
    ("tmp", 0o1777),
    ("var/tmp", 0o1777),
    ("root", 0o700),
    ("home", 0o755),
    ("sessions", 0o755),
    ("etc/ssl/certs", 0o755),
];

/// Files a package's scripts would have created.
const ETC_FILES: &[(&str, &str)] = &[
    (
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    ),
    ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
    ("etc/hostname", "workroom\n"),
    ("etc/hosts", "127.0.0.1\tlocalhost workroom\n::1\tlocalhost\n"),
];

/// One `update-alternatives --install` from a `postinst`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    /// The generic name (`awk`).
    pub name: String,
    /// The link (`/usr/bin/awk`).
    pub link: String,
    /// What it points to (`/usr/bin/gawk`).
    pub path: String,
    /// Priority; the highest wins.
    pub priority: i64,
    /// `--slave` links that follow it (program links only: manual pages are not installed).
    pub slaves: Vec<(String, String)>,
}

/// Every `update-alternatives --install` in a maintainer script whose words are literal (a line
/// using shell variables is skipped).
pub fn parse_alternatives(script: &str) -> Vec<Alternative> {
    let joined = script.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let Some(at) = line.find("update-alternatives") else {
            continue;
        };
        let words: Vec<&str> = line[at..]
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
            .collect();
        let Some(install) = words.iter().position(|w| *w == "--install") else {
            continue;
        };
        let [link, name, path, priority] = match words.get(install + 1..install + 5) {
            Some(&[a, b, c, d]) => [a, b, c, d],
            _ => continue,
        };
        let Ok(priority) = priority.parse::<i64>() else {
            continue;
        };
        if [link, name, path].iter().any(|w| w.contains('$')) {
            continue;
        }
        let mut slaves = Vec::new();
        let mut rest = words[install + 5..].iter();
        while let Some(word) = rest.next() {
            if *word != "--slave" {
                if word.starts_with("--") || *word == ";" || *word == "||" || *word == "&&" {
                    break;
                }
                continue;
            }
            let (Some(slave_link), Some(_), Some(slave_path)) =
                (rest.next(), rest.next(), rest.next())
            else {
                break;
            };
            if slave_link.contains("/bin/") && !slave_path.contains('$') {
                slaves.push((slave_link.to_string(), slave_path.to_string()));
            }
        }
        found.push(Alternative {
            name: name.to_string(),
            link: link.to_string(),
            path: path.to_string(),
            priority,
            slaves,
        });
    }
    found
}

/// Every `ucf [options] <packaged copy> <configuration file>` in a maintainer script whose paths are
/// literal: configuration files that `ucf` puts in place from a copy the package ships (LibreOffice's
/// registry is one).
pub fn parse_ucf(script: &str) -> Vec<(String, String)> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| {
            let mut words = line
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == '"' || c == '\''));
            if words.next() != Some("ucf") {
                return None;
            }
            let mut paths = words.filter(|w| !w.starts_with('-'));
            let (source, dest) = (paths.next()?, paths.next()?);
            (source.starts_with('/') && dest.starts_with('/') && !line.contains('$'))
                .then(|| (source.to_string(), dest.to_string()))
        })
        .collect()
}

/// Where a path from a package goes in the root (relative), or `None` when it is left out.
/// `..` is refused; `/bin`, `/lib*` and `/sbin` move under `/usr`.
pub fn guest_path(raw: &str) -> Option<PathBuf> {
    let trimmed = raw.trim_start_matches("./").trim_start_matches('/');
    let mut out = PathBuf::new();
    for (i, component) in Path::new(trimmed).components().enumerate() {
        match component {
            Component::Normal(part) => {
                if i == 0 && MERGED.iter().any(|m| part == *m) {
                    out.push("usr");
                }
                out.push(part);
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    if out.as_os_str().is_empty() {
        return None;
    }
    let text = out.to_string_lossy();
    let skipped = SKIPPED
        .iter()
        .any(|s| text.starts_with(s) || text == s.trim_end_matches('/'))
        && !(text.starts_with("usr/share/doc/")
            && (text.ends_with("/copyright") || text.matches('/').count() == 3));
    (!skipped).then_some(out)
}

/// The real directory `rel` names inside `root`, following symbolic links as a chroot would and
/// creating what is missing.
pub fn resolve_dir(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut pending: Vec<OsString> = rel
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    let mut current = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            current.pop();
            continue;
        }
        let candidate = current.join(&part);
        let full = root.join(&candidate);
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    return Err(io::Error::other(format!(
                        "too many symbolic links under {}",
                        candidate.display()
                    )));
                }
                let target = fs::read_link(&full)?;
                if target.is_absolute() {
                    current = PathBuf::new();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(p) => pending.push(p.to_os_string()),
                        Component::ParentDir => pending.push(OsString::from("..")),
                        _ => {}
                    }
                }
            }
            Ok(meta) if meta.is_dir() => current = candidate,
            Ok(_) => {
                return Err(io::Error::other(format!(
                    "{} is not a directory",
                    candidate.display()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&full)?;
                // Explicitly, so the tree (and its hash) does not depend on the builder's umask.
                fs::set_permissions(&full, fs::Permissions::from_mode(0o755))?;
                current = candidate;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(root.join(current))
}

/// The entry `rel` names inside `root`: its parent resolved as [`resolve_dir`] does (created when
/// missing), plus its own name, which is not followed.
fn resolve_entry(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let parent = resolve_dir(root, rel.parent().unwrap_or(Path::new("")))?;
    Ok(parent.join(rel.file_name().unwrap_or_default()))
}

/// Where the entry at `rel` goes: [`resolve_entry`], with whatever was there (a file or a link,
/// never a directory) removed.
fn place(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let dest = resolve_entry(root, rel)?;
    match fs::symlink_metadata(&dest) {
        Ok(meta) if meta.is_dir() => {
            return Err(io::Error::other(format!(
                "{} is a directory",
                rel.display()
            )))
        }
        Ok(_) => fs::remove_file(&dest)?,
        Err(_) => {}
    }
    Ok(dest)
}

/// Writes `data` as a new file at `dest` with `mode` (set-id bits dropped) and `mtime`.
fn write_file(dest: &Path, mut data: impl Read, mode: u32, mtime: u64) -> io::Result<()> {
    let mut file = File::create(dest)?;
    io::copy(&mut data, &mut file)?;
    file.set_permissions(fs::Permissions::from_mode(mode & 0o777 | 0o200))?;
    file.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))?;
    file.flush()
}

/// Fills a root directory with packages.
#[derive(Debug)]
pub struct Installer {
    root: PathBuf,
    alternatives: BTreeMap<String, Alternative>,
    /// `ucf` configuration files: (packaged copy, destination).
    ucf: Vec<(String, String)>,
}

impl Installer {
    /// Starts an empty root at `root` (created) with the merged-`/usr` links.
    pub fn new(root: &Path) -> Result<Self> {
        let io = |e| Error::Io {
            context: format!("cannot prepare {}", root.display()),
            source: e,
        };
        fs::create_dir_all(root.join("usr")).map_err(io)?;
        for dir in MERGED {
            fs::create_dir_all(root.join("usr").join(dir)).map_err(io)?;
            symlink(format!("usr/{dir}"), root.join(dir)).map_err(io)?;
        }
        for dir in [root.to_path_buf(), root.join("usr")]
            .into_iter()
            .chain(MERGED.iter().map(|d| root.join("usr").join(d)))
        {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
        Ok(Installer {
            root: root.to_path_buf(),
            alternatives: BTreeMap::new(),
            ucf: Vec::new(),
        })
    }

    /// Unpacks a `.deb`'s files and notes its alternatives.
    pub fn deb(&mut self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::Deb {
            path: path.display().to_string(),
            message,
        };
        let (mut archive, member) = deb::data_tar(path)?;
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("{member}: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad(format!("{member}: {e}")))?;
            let raw = entry
                .path()
                .map_err(|e| bad(format!("{member}: bad path: {e}")))?
                .to_string_lossy()
                .into_owned();
            let Some(rel) = guest_path(&raw) else {
                continue;
            };
            let header = entry.header();
            let mode = header.mode().unwrap_or(0o644);
            let mtime = header.mtime().unwrap_or(0);
            let kind = header.entry_type();
            let link = entry
                .link_name()
                .map_err(|e| bad(format!("{member}: bad link: {e}")))?
                .map(|l| l.to_string_lossy().into_owned());
            let result = match (kind, link) {
                (tar::EntryType::Directory, _) => resolve_dir(&self.root, &rel).and_then(|dir| {
                    fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o1777 | 0o700))
                }),
                (tar::EntryType::Regular, _) => place(&self.root, &rel)
                    .and_then(|dest| write_file(&dest, &mut entry, mode, mtime)),
                (tar::EntryType::Symlink, Some(target)) => {
                    place(&self.root, &rel).and_then(|dest| symlink(&target, dest))
                }
                (tar::EntryType::Link, Some(target)) => self.hard_link(&rel, &target),
                // Device nodes and FIFOs: the guest's /dev is its own.
                _ => Ok(()),
            };
            result.io_context(|| format!("{}: cannot unpack {raw}", path.display()))?;
        }
        if let Some(script) = deb::control_file(path, "postinst")? {
            self.ucf.extend(parse_ucf(&script));
            for alt in parse_alternatives(&script) {
                let better = self
                    .alternatives
                    .get(&alt.name)
                    .is_none_or(|old| alt.priority > old.priority);
                if better && self.exists(&alt.path) {
                    self.alternatives.insert(alt.name.clone(), alt);
                }
            }
        }
        Ok(())
    }

    /// A hard link within the package (git's hundred commands are one file).
    fn hard_link(&self, rel: &Path, target: &str) -> io::Result<()> {
        let Some(source_rel) = guest_path(target) else {
            return Err(io::Error::other(format!(
                "it is a hard link to {target}, which is left out"
            )));
        };
        let source = resolve_entry(&self.root, &source_rel)?;
        let dest = place(&self.root, rel)?;
        // link(2) never follows a symbolic link at `source`; a copy would, so there is none.
        fs::hard_link(&source, &dest)
    }

    /// Whether a guest path names something in the root.
    fn exists(&self, guest: &str) -> bool {
        guest_path(guest).is_some_and(|rel| {
            resolve_entry(&self.root, &rel).is_ok_and(|p| fs::symlink_metadata(p).is_ok())
        })
    }

    /// Unpacks a wheel's importable files into `dist-packages`.
    pub fn wheel(&mut self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::Userland(format!("{}: {message}", path.display()));
        let file = File::open(path).io_context(|| format!("cannot open {}", path.display()))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
        for i in 0..zip.len() {
            let mut member = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
            if member.is_dir() {
                continue;
            }
            let Some(name) = member.enclosed_name() else {
                return Err(bad(format!("unsafe member name {:?}", member.name())));
            };
            if name
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
            {
                return Err(bad(format!("unsafe member name {:?}", member.name())));
            }
            let name = name.to_string_lossy().into_owned();
            // `<dist>.data/purelib|platlib/...` (first component only) install like the top level;
            // other data (scripts, headers) is not needed to import the library.
            let (first, inner) = name.split_once('/').unwrap_or((name.as_str(), ""));
            let rel = if first.ends_with(".data") {
                match inner.split_once('/') {
                    Some(("purelib" | "platlib", inner)) => inner.to_string(),
                    _ => continue,
                }
            } else {
                name.clone()
            };
            let mode = member.unix_mode().unwrap_or(0o644);
            let dest_rel = Path::new(DIST_PACKAGES).join(&rel);
            place(&self.root, &dest_rel)
                .and_then(|dest| write_file(&dest, &mut member, mode, 0))
                .io_context(|| format!("{}: cannot unpack {rel}", path.display()))?;
        }
        Ok(())
    }

    /// What maintainer scripts would have done: alternatives, `/bin/sh`, the CA bundle, `/etc`.
    pub fn finish(self) -> Result<()> {
        let root = &self.root;
        let io = |what: String| {
            move |e| Error::Io {
                context: format!("cannot {what}"),
                source: e,
            }
        };
        for alt in self.alternatives.values() {
            let links = std::iter::once((alt.link.as_str(), alt.path.as_str()))
                .chain(alt.slaves.iter().map(|(l, p)| (l.as_str(), p.as_str())));
            for (link, target) in links {
                if !self.exists(target) || self.exists(link) {
                    continue;
                }
                if let Some(rel) = guest_path(link) {
                    place(root, &rel)
                        .and_then(|dest| symlink(target, dest))
                        .map_err(io(format!("link {link} to {target}")))?;
                }
            }
        }
        for (source, dest) in &self.ucf {
            if !self.exists(source) || self.exists(dest) {
                continue;
            }
            let (Some(source_rel), Some(dest_rel)) = (guest_path(source), guest_path(dest)) else {
                continue;
            };
            resolve_entry(root, &source_rel)
                .and_then(|from| {
                    if !fs::symlink_metadata(&from)?.is_file() {
                        return Err(io::Error::other(format!("{source} is not a regular file")));
                    }
                    let data = fs::read(&from)?;
                    place(root, &dest_rel).and_then(|to| write_file(&to, &data[..], 0o644, 0))
                })
                .map_err(io(format!("install {dest} from {source}")))?;
        }
        if !self.exists("/bin/sh") {
            let shell = if self.exists("/bin/dash") {
                "dash"
            } else {
                "bash"
            };
            symlink(shell, root.join("usr/bin/sh")).map_err(io("link /bin/sh".into()))?;
        }
        for (dir, mode) in EMPTY_DIRS {
            let path = resolve_dir(root, Path::new(dir)).map_err(io(format!("create /{dir}")))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(*mode))
                .map_err(io(format!("set the mode of /{dir}")))?;
        }
        for (file, text) in ETC_FILES {
            place(root, Path::new(file))
                .and_then(|dest| write_file(&dest, text.as_bytes(), 0o644, 0))
                .map_err(io(format!("write /{file}")))?;
        }
        let certificates = resolve_dir(root, Path::new("usr/share/ca-certificates"))
            .map_err(io("find the CA certificates".into()))?;
        let bundle = ca_bundle(&certificates).map_err(io("read the CA certificates".into()))?;
        if !bundle.is_empty() {
            place(root, Path::new("etc/ssl/certs/ca-certificates.crt"))
                .and_then(|dest| write_file(&dest, &bundle[..], 0o644, 0))
                .map_err(io("write the CA bundle".into()))?;
        }
        Ok(())
    }
}

/// Every `*.crt` under `dir`, in path order, concatenated (what `update-ca-certificates` writes
/// when every certificate is enabled, as Debian's default configuration does).
fn ca_bundle(dir: &Path) -> io::Result<Vec<u8>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            // file_type() does not follow links: a linked certificate or folder is not read, so
            // nothing outside the root can end up in the bundle.
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "crt") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut bundle = Vec::new();
    for file in files {
        let mut pem = fs::read(&file)?;
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        bundle.extend_from_slice(&pem);
    }
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_paths_move_under_usr_and_documentation_is_left_out() {
        assert_eq!(guest_path("./bin/bash"), Some("usr/bin/bash".into()));
        assert_eq!(
            guest_path("./lib/x86_64-linux-gnu/libc.so.6"),
            Some("usr/lib/x86_64-linux-gnu/libc.so.6".into())
        );
        assert_eq!(guest_path("./usr/bin/git"), Some("usr/bin/git".into()));
        assert_eq!(guest_path("./usr/share/man/man1/git.1.gz"), None);
        assert_eq!(guest_path("./usr/share/doc/git/changelog.gz"), None);
        assert_eq!(
            guest_path("./usr/share/doc/git/copyright"),
            Some("usr/share/doc/git/copyright".into())
        );
        assert_eq!(guest_path("./usr/../../etc/passwd"), None);
        assert_eq!(guest_path("./"), None);
    }

    #[test]
    fn links_resolve_inside_the_root_never_outside_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        Installer::new(&root).unwrap();
        fs::create_dir_all(root.join("etc/ssl/certs")).unwrap();
        fs::create_dir_all(root.join("usr/lib/ssl")).unwrap();
        // An absolute link, and one that climbs past the root.
        symlink("/etc/ssl/certs", root.join("usr/lib/ssl/certs")).unwrap();
        symlink("../../../../../../outside", root.join("usr/lib/ssl/up")).unwrap();
        let certs = resolve_dir(&root, Path::new("usr/lib/ssl/certs")).unwrap();
        assert_eq!(certs, root.join("etc/ssl/certs"));
        let up = resolve_dir(&root, Path::new("usr/lib/ssl/up/x")).unwrap();
        assert_eq!(up, root.join("outside/x"));
        assert!(!dir.path().join("outside").exists());
        // Merged /usr: /bin is usr/bin.
        assert_eq!(
            resolve_dir(&root, Path::new("bin")).unwrap(),
            root.join("usr/bin")
        );
    }

    #[test]
    fn alternatives_come_from_literal_update_alternatives_calls() {
        let script = "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n  update-alternatives --install /usr/bin/awk awk /usr/bin/gawk 10 \\\n    --slave /usr/share/man/man1/awk.1.gz awk.1.gz /usr/share/man/man1/gawk.1.gz \\\n    --slave /usr/bin/nawk nawk /usr/bin/gawk\nfi\nupdate-alternatives --install /usr/bin/x x \"$X\" 5\n";
        let alts = parse_alternatives(script);
        assert_eq!(
            alts,
            vec![Alternative {
                name: "awk".into(),
                link: "/usr/bin/awk".into(),
                path: "/usr/bin/gawk".into(),
                priority: 10,
                slaves: vec![("/usr/bin/nawk".into(), "/usr/bin/gawk".into())],
            }]
        );
    }

    #[test]
    fn ucf_configuration_files_are_found() {
        let script = "if [ \"$1\" = configure ]; then\n\tucf --three-way \"/usr/lib/x/.registry/main.xcd\" \"/etc/x/registry/main.xcd\"\n\tucfr --force p \"/etc/x/registry/main.xcd\"\n\tucf \"$new\" /etc/y\nfi\n";
        assert_eq!(
            parse_ucf(script),
            vec![(
                "/usr/lib/x/.registry/main.xcd".to_string(),
                "/etc/x/registry/main.xcd".to_string()
            )]
        );
    }

    #[test]
    fn a_package_unpacks_with_links_alternatives_and_etc() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let deb_path = dir.path().join("gawk.deb");
        fs::write(
            &deb_path,
            crate::deb::test_support::deb_with_links(
                &[
                    ("./bin/gawk", 0o4755, b"#!gawk"),
                    ("./usr/share/man/man1/gawk.1.gz", 0o644, b"m"),
                ],
                &[("./usr/bin/gawk-alias", "../../bin/gawk")],
                &[("./usr/bin/gawk-hard", "./bin/gawk")],
                "update-alternatives --install /usr/bin/awk awk /usr/bin/gawk 10\n",
            ),
        )
        .unwrap();
        let mut installer = Installer::new(&root).unwrap();
        installer.deb(&deb_path).unwrap();
        installer.finish().unwrap();
        let gawk = root.join("usr/bin/gawk");
        assert_eq!(fs::read(&gawk).unwrap(), b"#!gawk");
        // Set-id bits never survive.
        assert_eq!(
            fs::metadata(&gawk).unwrap().permissions().mode() & 0o7777,
            0o755
        );
        assert!(!root.join("usr/share/man/man1/gawk.1.gz").exists());
        assert_eq!(
            fs::read(root.join("usr/bin/gawk-alias")).unwrap(),
            b"#!gawk"
        );
        assert_eq!(fs::read(root.join("usr/bin/gawk-hard")).unwrap(), b"#!gawk");
        assert_eq!(
            fs::read_link(root.join("usr/bin/awk")).unwrap(),
            PathBuf::from("/usr/bin/gawk")
        );
        assert_eq!(
            fs::read_link(root.join("usr/bin/sh")).unwrap(),
            PathBuf::from("bash")
        );
        assert!(fs::read_to_string(root.join("etc/passwd"))
            .unwrap()
            .starts_with("root:x:0:0"));
        assert_eq!(
            fs::metadata(root.join("tmp")).unwrap().permissions().mode() & 0o7777,
            0o1777
        );
    }
}
