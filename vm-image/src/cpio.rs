//! A deterministic `newc` cpio writer (the initramfs format), and a reader to check the result.
//!
//! Same entries → same bytes: entries are sorted by path, parents are created implicitly before
//! their children, and every entry has mtime 0, uid/gid 0 and sequential inode numbers. The gzip
//! wrapper has no file name and mtime 0.

use std::collections::BTreeMap;
use std::io::Write;

/// File type bits of `mode`.
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;
const S_IFLNK: u32 = 0o120000;

const TRAILER: &str = "TRAILER!!!";

/// What an archive entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file with its contents.
    File(Vec<u8>),
    /// A character device.
    CharDev {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A symbolic link to a target.
    Symlink(String),
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Permission bits (`0o755`, `0o1777`, ...), without the type.
    pub perm: u32,
    /// Type and contents.
    pub kind: Kind,
}

impl Entry {
    /// The full `st_mode` (type and permission bits).
    pub fn mode(&self) -> u32 {
        let t = match self.kind {
            Kind::Dir => S_IFDIR,
            Kind::File(_) => S_IFREG,
            Kind::CharDev { .. } => S_IFCHR,
            Kind::Symlink(_) => S_IFLNK,
        };
        t | (self.perm & 0o7777)
    }
}

/// Collects entries, then writes them as a newc archive.
#[derive(Debug, Clone, Default)]
pub struct Archive {
    entries: BTreeMap<String, Entry>,
}

fn normalize(path: &str) -> String {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

impl Archive {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry at `path` (leading `/` optional), creating missing parent directories with
    /// mode 0755. A later entry at the same path replaces the earlier one.
    pub fn add(&mut self, path: &str, perm: u32, kind: Kind) {
        let path = normalize(path);
        if path.is_empty() {
            return;
        }
        let mut parent = String::new();
        for component in path.split('/').take(path.split('/').count() - 1) {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(component);
            self.entries.entry(parent.clone()).or_insert(Entry {
                perm: 0o755,
                kind: Kind::Dir,
            });
        }
        self.entries.insert(path, Entry { perm, kind });
    }

    /// Adds a directory.
    pub fn dir(&mut self, path: &str, perm: u32) {
        self.add(path, perm, Kind::Dir);
    }

    /// Adds a regular file.
    pub fn file(&mut self, path: &str, perm: u32, data: Vec<u8>) {
        self.add(path, perm, Kind::File(data));
    }

    /// Adds a character device node.
    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) {
        self.add(path, perm, Kind::CharDev { major, minor });
    }

    /// Entries in archive order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(p, e)| (p.as_str(), e))
    }

    /// The uncompressed newc bytes.
    pub fn to_newc(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (path, entry)) in self.entries.iter().enumerate() {
            let (data, rdev, nlink): (&[u8], (u32, u32), u32) = match &entry.kind {
                Kind::Dir => (&[], (0, 0), 2),
                Kind::File(d) => (d, (0, 0), 1),
                Kind::CharDev { major, minor } => (&[], (*major, *minor), 1),
                Kind::Symlink(target) => (target.as_bytes(), (0, 0), 1),
            };
            write_entry(
                &mut out,
                path,
                i as u32 + 1,
                entry.mode(),
                nlink,
                rdev,
                data,
            );
        }
        write_entry(&mut out, TRAILER, 0, 0, 1, (0, 0), &[]);
        out
    }

    /// The gzip-compressed archive (level 9, no name, mtime 0).
    pub fn to_gzip(&self) -> std::io::Result<Vec<u8>> {
        gzip(&self.to_newc())
    }
}

/// Deterministic gzip: level 9, no file name, mtime 0.
pub fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(data)?;
    gz.finish()
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

fn write_entry(
    out: &mut Vec<u8>,
    name: &str,
    ino: u32,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    data: &[u8],
) {
    let fields: [u32; 13] = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // dev major
        0, // dev minor
        rdev.0,
        rdev.1,
        name.len() as u32 + 1,
        0, // check
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

/// One entry read back by [`parse_newc`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEntry {
    /// Path.
    pub name: String,
    /// Inode number.
    pub ino: u32,
    /// Full mode.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time.
    pub mtime: u32,
    /// Device numbers for device nodes.
    pub rdev: (u32, u32),
    /// Contents.
    pub data: Vec<u8>,
}

/// Reads a newc archive up to its trailer.
pub fn parse_newc(mut data: &[u8]) -> Result<Vec<ParsedEntry>, String> {
    let total = data.len();
    let mut out = Vec::new();
    loop {
        let at = total - data.len();
        if data.len() < 110 {
            return Err(format!("truncated header at offset {at}"));
        }
        if &data[..6] != b"070701" {
            return Err(format!("bad magic at offset {at}"));
        }
        let mut f = [0u32; 13];
        for (i, v) in f.iter_mut().enumerate() {
            let s = std::str::from_utf8(&data[6 + i * 8..14 + i * 8])
                .map_err(|_| format!("bad header at offset {at}"))?;
            *v = u32::from_str_radix(s, 16)
                .map_err(|_| format!("bad header field at offset {at}"))?;
        }
        let namesize = f[11] as usize;
        let filesize = f[6] as usize;
        let name_end = 110 + namesize;
        let data_start = (name_end + 3) & !3;
        let data_end = data_start + filesize;
        if namesize == 0 || data.len() < data_end {
            return Err(format!("truncated entry at offset {at}"));
        }
        let name = std::str::from_utf8(&data[110..name_end - 1])
            .map_err(|_| format!("non-UTF-8 name at offset {at}"))?
            .to_string();
        if name == TRAILER {
            return Ok(out);
        }
        out.push(ParsedEntry {
            name,
            ino: f[0],
            mode: f[1],
            uid: f[2],
            gid: f[3],
            mtime: f[5],
            rdev: (f[9], f[10]),
            data: data[data_start..data_end].to_vec(),
        });
        data = &data[((data_end + 3) & !3).min(data.len())..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Archive {
        let mut a = Archive::new();
        // Added out of order on purpose.
        a.file("/lib/modules/load.order", 0o644, b"fuse.ko\n".to_vec());
        a.file("/init", 0o755, b"\x7fELF agent".to_vec());
        a.char_dev("/dev/console", 0o600, 5, 1);
        a.char_dev("/dev/null", 0o666, 1, 3);
        a.dir("/tmp", 0o1777);
        a.dir("/usr/bin", 0o755);
        a.file("/etc/hosts", 0o644, b"127.0.0.1 localhost\n".to_vec());
        a.add("/bin/sh", 0o777, Kind::Symlink("busybox".into()));
        a
    }

    #[test]
    fn deterministic_bytes() {
        let a = sample().to_gzip().unwrap();
        let mut reordered = Archive::new();
        for (p, e) in sample().entries().collect::<Vec<_>>().into_iter().rev() {
            reordered.add(p, e.perm, e.kind.clone());
        }
        assert_eq!(a, reordered.to_gzip().unwrap());
        // gzip header: magic, deflate, no flags (no name), mtime 0.
        assert_eq!(&a[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn reads_back_sorted_with_parents_and_metadata() {
        let entries = parse_newc(&sample().to_newc()).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/sh",
                "dev",
                "dev/console",
                "dev/null",
                "etc",
                "etc/hosts",
                "init",
                "lib",
                "lib/modules",
                "lib/modules/load.order",
                "tmp",
                "usr",
                "usr/bin"
            ]
        );
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.ino, i as u32 + 1);
            assert_eq!((e.uid, e.gid, e.mtime), (0, 0, 0));
        }
        let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap();
        assert_eq!(get("init").mode, 0o100755);
        assert_eq!(get("init").data, b"\x7fELF agent");
        assert_eq!(get("dev/console").mode, 0o020600);
        assert_eq!(get("dev/console").rdev, (5, 1));
        assert_eq!(get("dev/null").rdev, (1, 3));
        assert_eq!(get("tmp").mode, 0o041777);
        assert_eq!(get("lib").mode, 0o040755);
        assert_eq!(get("bin/sh").mode, 0o120777);
        assert_eq!(get("bin/sh").data, b"busybox");
    }

    #[test]
    fn system_cpio_agrees_if_installed() {
        let Ok(mut child) = std::process::Command::new("cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("cpio not installed; covered by parse_newc");
            return;
        };
        let bytes = sample().to_newc();
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listing = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 14, "{listing}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("crw-------") && l.ends_with("dev/console")),
            "{listing}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("-rwxr-xr-x") && l.contains("root") && l.ends_with(" init")),
            "{listing}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("drwxrwxrwt") && l.ends_with(" tmp")),
            "{listing}"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_newc(b"070701short").is_err());
        assert!(parse_newc(&[b'x'; 200]).is_err());
    }
}
