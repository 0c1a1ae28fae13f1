//! Builds Workroom's guest image: a kernel and an initramfs whose `/init` is the static
//! `workroom-agent`, plus a manifest.
//!
//! Everything comes from pinned Debian packages fetched over HTTPS (no `apt`, so it works on macOS
//! too) and from cross-building `workroom-agent` for musl. See `build::build` for the steps and
//! `../shared/docs/linux-vm-recipe.md` for why each choice was made.

pub mod agent;
pub mod build;
pub mod cpio;
pub mod deb;
pub mod elf;
pub mod fetch;
pub mod index;
pub mod kernel;
pub mod manifest;
pub mod modules;
pub mod pins;
pub mod progress;
pub mod userland;

use std::path::PathBuf;

/// A guest architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// x86_64 (Debian `amd64`).
    X86_64,
    /// aarch64 (Debian `arm64`).
    Aarch64,
}

impl Arch {
    /// Every supported architecture.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// `x86_64` / `aarch64`: the name used on the command line, in paths and in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// Debian's name: `amd64` / `arm64`.
    pub fn debian(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// Rust target triple of the static guest agent.
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// ELF `e_machine`.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => elf::EM_X86_64,
            Arch::Aarch64 => elf::EM_AARCH64,
        }
    }

    /// The guest's serial console device (`console=<this>` on the kernel command line).
    pub fn console(self) -> &'static str {
        match self {
            Arch::X86_64 => "ttyS0",
            Arch::Aarch64 => "ttyAMA0",
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Arch {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "x86_64" | "amd64" | "x86-64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            other => Err(Error::Usage(format!(
                "unknown architecture `{other}` (expected x86_64 or aarch64)"
            ))),
        }
    }
}

/// Everything that can go wrong while building an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad command-line value.
    #[error("{0}")]
    Usage(String),
    /// The HTTP request itself failed (DNS, TLS, connection, body).
    #[error("download of {url} failed: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What the client said, with every underlying cause.
        reason: String,
    },
    /// The server answered with a non-success status.
    #[error("download of {url} failed: {status}")]
    HttpStatus {
        /// The URL.
        url: String,
        /// The status.
        status: reqwest::StatusCode,
    },
    /// Downloaded or cached bytes are not the pinned ones.
    #[error("sha256 mismatch for {what}: expected {expected}, got {actual}")]
    Sha256Mismatch {
        /// What was checked (a URL or a path).
        what: String,
        /// The pinned hash.
        expected: String,
        /// The computed hash.
        actual: String,
    },
    /// A download ended with the wrong length.
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What was checked.
        what: String,
        /// The pinned size.
        expected: u64,
        /// The actual size.
        actual: u64,
    },
    /// A file-system or pipe operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A `.deb` could not be read.
    #[error("{path}: not a usable .deb: {message}")]
    Deb {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A Debian archive index (`Release`, `Packages`) could not be used.
    #[error("Debian archive index {url}: {message}")]
    Index {
        /// Where it came from.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The kernel could not be extracted or does not look right.
    #[error("kernel: {0}")]
    Kernel(String),
    /// Module resolution failed.
    #[error("kernel modules: {0}")]
    Modules(String),
    /// An ELF file is malformed or not what was expected.
    #[error("{what}: {message}")]
    Elf {
        /// Which file.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// Building or finding the guest agent failed.
    #[error("guest agent: {0}")]
    Agent(String),
    /// The initramfs is over budget or malformed.
    #[error("initramfs: {0}")]
    Initramfs(String),
    /// The full userland could not be resolved or assembled.
    #[error("full userland: {0}")]
    Userland(String),
    /// No directory to put things in.
    #[error("cannot find a home directory for {what}; set {env_var}")]
    NoHome {
        /// Outputs or downloads.
        what: &'static str,
        /// The variable that would fix it.
        env_var: &'static str,
    },
}

impl Error {
    /// An HTTP client error, with its whole cause chain in the message (reqwest's own message is
    /// only "error sending request"; the useful part, such as an unknown certificate issuer,
    /// is a few causes down).
    pub(crate) fn http(url: &str, err: reqwest::Error) -> Error {
        let err = err.without_url();
        let mut reason = err.to_string();
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            let text = c.to_string();
            if !reason.ends_with(&text) {
                reason.push_str(": ");
                reason.push_str(&text);
            }
            cause = c.source();
        }
        Error::Http {
            url: url.to_string(),
            reason,
        }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds a human-readable context to an I/O error.
pub(crate) trait IoContext<T> {
    fn io_context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn io_context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: context(),
            source,
        })
    }
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Where built images go: `$WORKROOM_HOME/images`, else `$XDG_DATA_HOME/workroom/images`, else
/// `~/.local/share/workroom/images`. `env` looks a variable up (empty counts as unset).
pub fn default_out_dir(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(home) = get("WORKROOM_HOME") {
        return Ok(PathBuf::from(home).join("images"));
    }
    if let Some(data) = get("XDG_DATA_HOME") {
        return Ok(PathBuf::from(data).join("workroom").join("images"));
    }
    match get("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/workroom/images")),
        None => Err(Error::NoHome {
            what: "images",
            env_var: "WORKROOM_HOME",
        }),
    }
}

/// Where downloads are cached: `$WORKROOM_CACHE/downloads`, else
/// `$XDG_CACHE_HOME/workroom/downloads`, else `~/.cache/workroom/downloads`.
pub fn default_cache_dir(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(cache) = get("WORKROOM_CACHE") {
        return Ok(PathBuf::from(cache).join("downloads"));
    }
    if let Some(cache) = get("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(cache).join("workroom").join("downloads"));
    }
    match get("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".cache/workroom/downloads")),
        None => Err(Error::NoHome {
            what: "downloads",
            env_var: "WORKROOM_CACHE",
        }),
    }
}

/// Looks a variable up in the process environment.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn out_dir_precedence() {
        let all = [
            ("WORKROOM_HOME", "/w"),
            ("XDG_DATA_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(
            default_out_dir(env(&all)).unwrap(),
            PathBuf::from("/w/images")
        );
        assert_eq!(
            default_out_dir(env(&all[1..])).unwrap(),
            PathBuf::from("/x/workroom/images")
        );
        assert_eq!(
            default_out_dir(env(&[("HOME", "/h"), ("WORKROOM_HOME", "")])).unwrap(),
            PathBuf::from("/h/.local/share/workroom/images")
        );
        assert!(default_out_dir(env(&[])).is_err());
    }

    #[test]
    fn cache_dir_precedence() {
        let all = [
            ("WORKROOM_CACHE", "/c"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(
            default_cache_dir(env(&all)).unwrap(),
            PathBuf::from("/c/downloads")
        );
        assert_eq!(
            default_cache_dir(env(&all[1..])).unwrap(),
            PathBuf::from("/x/workroom/downloads")
        );
        assert_eq!(
            default_cache_dir(env(&all[2..])).unwrap(),
            PathBuf::from("/h/.cache/workroom/downloads")
        );
    }

    #[test]
    fn arch_parsing() {
        assert_eq!("x86_64".parse::<Arch>().unwrap(), Arch::X86_64);
        assert_eq!("arm64".parse::<Arch>().unwrap(), Arch::Aarch64);
        let err = "riscv64".parse::<Arch>().unwrap_err().to_string();
        assert!(err.contains("riscv64"), "{err}");
    }

    #[test]
    fn sha256_of_empty() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
