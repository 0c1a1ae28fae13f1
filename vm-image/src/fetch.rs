//! Downloads over HTTPS into a cache named by SHA-256, verified on every use, and the fallback
//! that finds the current replacement for a pinned package Debian has removed.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::index::{self, IndexEntry};
use crate::pins::{DebPin, Suite, FALLBACK_INDICES};
use crate::progress::Phase;
use crate::{hex, Error, IoContext, Result};

/// A `.deb` ready to read, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedDeb {
    /// Binary package name actually used.
    pub package: String,
    /// Its version.
    pub version: String,
    /// Where it came from.
    pub url: String,
    /// Its SHA-256 (verified).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// The cached file.
    pub path: PathBuf,
    /// The pin it replaced, when the pinned package had left the archive.
    pub replaced: Option<ReplacedPin>,
}

/// A pin that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacedPin {
    /// Pinned package name.
    pub package: String,
    /// Pinned version.
    pub version: String,
    /// Pinned URL (which answered 404).
    pub url: String,
}

/// HTTP client plus download cache.
pub struct Fetcher {
    client: reqwest::blocking::Client,
    cache_dir: PathBuf,
    fallback_indices: Vec<Suite>,
    progress: Option<Phase>,
}

impl Fetcher {
    /// A fetcher caching into `cache_dir` (created when needed).
    pub fn new(cache_dir: PathBuf) -> Result<Self> {
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("workroom-image/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(30 * 60))
            .build()
            .map_err(|e| Error::http("(client setup)", e))?;
        Ok(Fetcher {
            client,
            cache_dir,
            fallback_indices: FALLBACK_INDICES.to_vec(),
            progress: None,
        })
    }

    /// Reports the bytes of the following downloads into `phase` (`None`: stderr only).
    pub fn set_progress(&mut self, phase: Option<Phase>) {
        self.progress = phase;
    }

    /// Searches these suites instead of [`FALLBACK_INDICES`] for replacements.
    pub fn with_fallback_indices(mut self, suites: Vec<Suite>) -> Self {
        self.fallback_indices = suites;
        self
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The cached path for a hash.
    pub fn cache_path(&self, sha256: &str) -> PathBuf {
        self.cache_dir.join(sha256)
    }

    /// The pinned package, from the cache or the archive; when the archive has dropped it (404),
    /// the current package of the same name pattern, with a warning on stderr.
    pub fn fetch_deb(&self, pin: &DebPin, debian_arch: &str) -> Result<FetchedDeb> {
        let url = pin.url();
        let pinned = |path: PathBuf| FetchedDeb {
            package: pin.package.to_string(),
            version: pin.version.to_string(),
            url: url.clone(),
            sha256: pin.sha256.to_string(),
            size: pin.size,
            path,
            replaced: None,
        };
        match self.download_cached(&url, pin.sha256, Some(pin.size)) {
            Ok(path) => Ok(pinned(path)),
            Err(Error::HttpStatus { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
                eprintln!("warning: {url} is gone (404); looking for the current {} in the Debian archive index", pin.fallback);
                let entry = self.resolve_current(pin, debian_arch)?;
                let new_url = format!("{}{}", entry.suite.archive, entry.entry.filename);
                eprintln!(
                    "warning: using {} {} instead of pinned {} {} ({new_url}); update src/pins.rs",
                    entry.entry.package, entry.entry.version, pin.package, pin.version
                );
                let path =
                    self.download_cached(&new_url, &entry.entry.sha256, Some(entry.entry.size))?;
                Ok(FetchedDeb {
                    package: entry.entry.package,
                    version: entry.entry.version,
                    url: new_url,
                    sha256: entry.entry.sha256,
                    size: entry.entry.size,
                    path,
                    replaced: Some(ReplacedPin {
                        package: pin.package.to_string(),
                        version: pin.version.to_string(),
                        url,
                    }),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Finds the newest package matching `pin.fallback` in the fallback indices
    /// ([`FALLBACK_INDICES`] unless changed).
    ///
    /// Each `Packages.xz` is checked against the SHA-256 its suite's `Release` file lists (that
    /// catches corruption; authenticity rests on HTTPS, as the Release signature is not checked).
    pub fn resolve_current(&self, pin: &DebPin, debian_arch: &str) -> Result<ResolvedEntry> {
        let mut candidates = Vec::new();
        let mut failures = Vec::new();
        for suite in &self.fallback_indices {
            match self.suite_packages(suite, debian_arch) {
                Ok(text) => {
                    for entry in index::parse_packages(&text, |p| pin.fallback.matches(p)) {
                        candidates.push(ResolvedEntry {
                            suite: *suite,
                            entry,
                        });
                    }
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        let best = candidates
            .into_iter()
            .fold(None::<ResolvedEntry>, |best, c| match best {
                Some(b)
                    if index::compare_versions(&c.entry.version, &b.entry.version)
                        != std::cmp::Ordering::Greater =>
                {
                    Some(b)
                }
                _ => Some(c),
            });
        best.ok_or_else(|| Error::Index {
            url: self
                .fallback_indices
                .iter()
                .map(|s| s.packages_url(debian_arch))
                .collect::<Vec<_>>()
                .join(", "),
            message: if failures.is_empty() {
                format!("no package matching {} for {debian_arch}", pin.fallback)
            } else {
                format!(
                    "no package matching {} for {debian_arch} ({})",
                    pin.fallback,
                    failures.join("; ")
                )
            },
        })
    }

    /// A suite's `Packages` text for an architecture, verified against its `Release`.
    pub fn suite_packages(&self, suite: &Suite, debian_arch: &str) -> Result<String> {
        let release_url = suite.release_url();
        let release = self.get_text(&release_url)?;
        let rel_path = suite.packages_rel_path(debian_arch);
        let url = suite.packages_url(debian_arch);
        let (want_hash, want_size) =
            index::release_sha256(&release, &rel_path).ok_or_else(|| Error::Index {
                url: release_url.clone(),
                message: format!("no SHA256 entry for {rel_path}"),
            })?;
        let xz = self.get_bytes(&url)?;
        if xz.len() as u64 != want_size {
            return Err(Error::SizeMismatch {
                what: url,
                expected: want_size,
                actual: xz.len() as u64,
            });
        }
        let got = crate::sha256_hex(&xz);
        if got != want_hash {
            return Err(Error::Sha256Mismatch {
                what: url,
                expected: want_hash,
                actual: got,
            });
        }
        let mut text = String::new();
        lzma_rust2::XzReader::new(&xz[..], false)
            .read_to_string(&mut text)
            .map_err(|e| Error::Index {
                url: url.clone(),
                message: format!("cannot decompress: {e}"),
            })?;
        Ok(text)
    }

    /// The cached file for `sha256` if present and intact; a corrupt one is deleted (with a note).
    fn cached(&self, sha256: &str, url: &str) -> Result<Option<PathBuf>> {
        let path = self.cache_path(sha256);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).io_context(|| format!("cannot open {}", path.display())),
        };
        let (actual, _) =
            hash_reader(file).io_context(|| format!("cannot read {}", path.display()))?;
        if actual == sha256 {
            eprintln!("using cached {} ({url})", path.display());
            return Ok(Some(path));
        }
        eprintln!(
            "warning: cached {} is corrupt (sha256 {actual}); downloading {url} again",
            path.display()
        );
        std::fs::remove_file(&path).io_context(|| format!("cannot remove {}", path.display()))?;
        Ok(None)
    }

    /// The cached file for `sha256`, downloading `url` first when it is not there (or corrupt).
    pub fn download_cached(&self, url: &str, sha256: &str, size: Option<u64>) -> Result<PathBuf> {
        match self.cached(sha256, url)? {
            Some(path) => Ok(path),
            None => self.download(url, sha256, size),
        }
    }

    /// Downloads `url` into the cache, checking size (when known) and SHA-256 before the file
    /// gets its final name.
    pub fn download(&self, url: &str, sha256: &str, size: Option<u64>) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.cache_dir)
            .io_context(|| format!("cannot create {}", self.cache_dir.display()))?;
        let started = Instant::now();
        let mut response = self.send(url)?;
        let total = size.or(response.content_length());
        eprintln!(
            "downloading {url}{}",
            total
                .map(|t| format!(" ({})", human_size(t)))
                .unwrap_or_default()
        );
        let mut tmp = tempfile::Builder::new()
            .prefix(".download-")
            .tempfile_in(&self.cache_dir)
            .io_context(|| format!("cannot create a file in {}", self.cache_dir.display()))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut received: u64 = 0;
        let mut next_report = Instant::now() + Duration::from_secs(5);
        let file_name = url.rsplit('/').next().unwrap_or(url);
        let mut meter = self.progress.as_ref().map(|phase| {
            phase.bytes(
                format!("Downloading {file_name}"),
                total,
                Duration::from_millis(200),
            )
        });
        loop {
            let n = response.read(&mut buf).map_err(|e| Error::Io {
                context: format!("download of {url} failed"),
                source: e,
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .io_context(|| format!("cannot write to {}", tmp.path().display()))?;
            received += n as u64;
            if let Some(meter) = &mut meter {
                meter.update(received);
            }
            if Instant::now() >= next_report {
                next_report = Instant::now() + Duration::from_secs(5);
                match total {
                    Some(t) if t > 0 => eprintln!(
                        "  {} of {} ({}%)",
                        human_size(received),
                        human_size(t),
                        received * 100 / t
                    ),
                    _ => eprintln!("  {}", human_size(received)),
                }
            }
        }
        if let Some(expected) = size {
            if received != expected {
                return Err(Error::SizeMismatch {
                    what: url.to_string(),
                    expected,
                    actual: received,
                });
            }
        }
        let actual = hex(&hasher.finalize());
        if actual != sha256 {
            return Err(Error::Sha256Mismatch {
                what: url.to_string(),
                expected: sha256.to_string(),
                actual,
            });
        }
        let path = self.cache_path(sha256);
        tmp.as_file()
            .sync_all()
            .io_context(|| format!("cannot sync {}", tmp.path().display()))?;
        tmp.persist(&path).map_err(|e| Error::Io {
            context: format!("cannot move the download to {}", path.display()),
            source: e.error,
        })?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "  done: {} in {secs:.1} s ({}/s)",
            human_size(received),
            human_size((received as f64 / secs.max(0.001)) as u64)
        );
        Ok(path)
    }

    fn send(&self, url: &str) -> Result<reqwest::blocking::Response> {
        let response = self
            .client
            .get(url)
            .send()
            .map_err(|e| Error::http(url, e))?;
        if !response.status().is_success() {
            return Err(Error::HttpStatus {
                url: url.to_string(),
                status: response.status(),
            });
        }
        Ok(response)
    }

    /// The HTTP status of a `HEAD` request (whether a pinned file is still in the archive).
    pub fn head_status(&self, url: &str) -> Result<reqwest::StatusCode> {
        self.client
            .head(url)
            .send()
            .map(|r| r.status())
            .map_err(|e| Error::http(url, e))
    }

    /// A small document, in memory, uncached.
    pub fn get_bytes(&self, url: &str) -> Result<Vec<u8>> {
        let response = self.send(url)?;
        response
            .bytes()
            .map(|b| b.to_vec())
            .map_err(|e| Error::http(url, e))
    }

    fn get_text(&self, url: &str) -> Result<String> {
        String::from_utf8(self.get_bytes(url)?).map_err(|_| Error::Index {
            url: url.to_string(),
            message: "not UTF-8 text".into(),
        })
    }
}

/// A replacement package and the suite it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEntry {
    /// Where it is listed.
    pub suite: Suite,
    /// The index entry.
    pub entry: IndexEntry,
}

/// SHA-256 (hex) and length of everything `r` yields.
pub fn hash_reader(r: impl Read) -> std::io::Result<(String, u64)> {
    let mut r = BufReader::with_capacity(256 * 1024, r);
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

/// `70.6 MB`-style sizes (decimal units).
pub fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_hit_is_verified_and_corruption_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let f = Fetcher::new(dir.path().to_path_buf()).unwrap();
        let data = b"hello deb";
        let sha = crate::sha256_hex(data);
        std::fs::write(f.cache_path(&sha), data).unwrap();
        assert_eq!(
            f.cached(&sha, "https://example.invalid/x").unwrap(),
            Some(f.cache_path(&sha))
        );
        std::fs::write(f.cache_path(&sha), b"tampered").unwrap();
        assert_eq!(f.cached(&sha, "https://example.invalid/x").unwrap(), None);
        assert!(!f.cache_path(&sha).exists());
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1 serving fixed paths (404 for the rest); it handles at
    /// most `max_requests` connections and then stops.
    fn serve(routes: Vec<(String, Vec<u8>)>, max_requests: usize) -> String {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(max_requests) {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                }
                let mut parts = request_line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let path = parts
                    .next()
                    .unwrap_or("")
                    .trim_start_matches('/')
                    .to_string();
                let found = routes.iter().find(|(p, _)| *p == path);
                let (status, body): (&str, &[u8]) = match found {
                    Some((_, body)) => ("200 OK", body),
                    None => ("404 Not Found", b""),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                if method != "HEAD" {
                    let _ = stream.write_all(body);
                }
            }
        });
        base
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = lzma_rust2::XzWriter::new(&mut out, lzma_rust2::XzOptions::default()).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap();
        out
    }

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    #[test]
    fn a_vanished_pin_is_replaced_from_the_index() {
        let new_deb = b"the replacement kernel package".to_vec();
        let new_sha = crate::sha256_hex(&new_deb);
        let packages = format!(
            "Package: linux-image-6.1.0-57-amd64\nVersion: 6.1.199-1\nFilename: pool/updates/k57.deb\nSize: {}\nSHA256: {new_sha}\n\n\
             Package: linux-image-6.1.0-57-cloud-amd64\nVersion: 6.1.199-1\nFilename: pool/updates/cloud.deb\nSize: 1\nSHA256: {}\n\n\
             Package: linux-image-6.1.0-55-amd64\nVersion: 6.1.192-1\nFilename: pool/updates/k55.deb\nSize: 1\nSHA256: {}\n",
            new_deb.len(),
            "0".repeat(64),
            "1".repeat(64)
        );
        let packages_xz = xz(packages.as_bytes());
        let release = format!(
            "Suite: bookworm-security\nSHA256:\n {} {} main/binary-amd64/Packages.xz\n",
            crate::sha256_hex(&packages_xz),
            packages_xz.len()
        );
        let base = serve(
            vec![
                (
                    "sec/dists/bookworm-security/Release".into(),
                    release.into_bytes(),
                ),
                (
                    "sec/dists/bookworm-security/main/binary-amd64/Packages.xz".into(),
                    packages_xz,
                ),
                ("sec/pool/updates/k57.deb".into(), new_deb.clone()),
            ],
            20,
        );
        let suite = Suite {
            archive: leak(format!("{base}sec/")),
            suite: "bookworm-security",
        };
        // A second suite that does not answer at all is reported but does not stop the search.
        let broken = Suite {
            archive: leak(format!("{base}gone/")),
            suite: "bookworm",
        };
        let pin = DebPin {
            suite,
            filename: "pool/updates/k56.deb",
            ..crate::pins::kernel(crate::Arch::X86_64)
        };
        let cache = tempfile::tempdir().unwrap();
        let f = Fetcher::new(cache.path().to_path_buf())
            .unwrap()
            .with_fallback_indices(vec![suite, broken]);
        let got = f.fetch_deb(&pin, "amd64").unwrap();
        assert_eq!(got.package, "linux-image-6.1.0-57-amd64");
        assert_eq!(got.version, "6.1.199-1");
        assert_eq!(got.sha256, new_sha);
        assert_eq!(got.url, format!("{base}sec/pool/updates/k57.deb"));
        assert_eq!(std::fs::read(&got.path).unwrap(), new_deb);
        assert_eq!(got.path, cache.path().join(&new_sha));
        let replaced = got.replaced.unwrap();
        assert_eq!(replaced.package, "linux-image-6.1.0-56-amd64");
        assert_eq!(replaced.version, "6.1.192-2");
    }

    #[test]
    fn a_download_with_the_wrong_hash_is_refused_and_not_cached() {
        let base = serve(vec![("x.deb".into(), b"evil".to_vec())], 5);
        let cache = tempfile::tempdir().unwrap();
        let f = Fetcher::new(cache.path().to_path_buf()).unwrap();
        let want = crate::sha256_hex(b"good");
        let e = f
            .download(&format!("{base}x.deb"), &want, None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("sha256 mismatch for http://"), "{e}");
        assert!(!f.cache_path(&want).exists());
        let e = f
            .download(&format!("{base}missing.deb"), &want, None)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("missing.deb failed: 404 Not Found"), "{e}");
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(70_550_672), "70.6 MB");
    }
}
