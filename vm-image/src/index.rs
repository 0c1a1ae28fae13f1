//! Debian archive indices: `Packages` stanzas, the `SHA256:` list of a `Release` file, and dpkg's
//! version ordering (to pick the newest of several candidates).

use std::cmp::Ordering;

/// One binary package as listed in a `Packages` index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// `Package:`
    pub package: String,
    /// `Version:`
    pub version: String,
    /// `Filename:` (relative to the archive base).
    pub filename: String,
    /// `Size:`
    pub size: u64,
    /// `SHA256:`
    pub sha256: String,
    /// `Pre-Depends:` and `Depends:`, joined with `, ` (empty when there are none).
    pub depends: String,
    /// `Provides:` (empty when there are none).
    pub provides: String,
    /// `Installed-Size:` in KiB (0 when absent).
    pub installed_kib: u64,
}

/// Parses a `Packages` file, keeping only stanzas whose package name passes `keep` and that have
/// every field this crate needs. Continuation lines are ignored.
pub fn parse_packages(text: &str, keep: impl Fn(&str) -> bool) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut package = None;
        let mut version = None;
        let mut filename = None;
        let mut size = None;
        let mut sha256 = None;
        let mut depends: Vec<&str> = Vec::new();
        let mut provides = "";
        let mut installed_kib = 0;
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key {
                "Package" => package = Some(value),
                "Version" => version = Some(value),
                "Filename" => filename = Some(value),
                "Size" => size = value.parse::<u64>().ok(),
                "SHA256" => sha256 = Some(value),
                "Pre-Depends" | "Depends" if !value.is_empty() => depends.push(value),
                "Provides" => provides = value,
                "Installed-Size" => installed_kib = value.parse().unwrap_or(0),
                _ => {}
            }
        }
        if let (Some(p), Some(v), Some(f), Some(s), Some(h)) =
            (package, version, filename, size, sha256)
        {
            if keep(p) && is_sha256_hex(h) {
                out.push(IndexEntry {
                    package: p.to_string(),
                    version: v.to_string(),
                    filename: f.to_string(),
                    size: s,
                    sha256: h.to_ascii_lowercase(),
                    depends: depends.join(", "),
                    provides: provides.to_string(),
                    installed_kib,
                });
            }
        }
    }
    out
}

/// The newest entry by Debian version (ties: the first one).
pub fn newest(entries: impl IntoIterator<Item = IndexEntry>) -> Option<IndexEntry> {
    entries.into_iter().fold(None, |best, e| match best {
        Some(b) if compare_versions(&e.version, &b.version) != Ordering::Greater => Some(b),
        _ => Some(e),
    })
}

/// The SHA-256 and size a `Release` file gives for `rel_path` (e.g. `main/binary-amd64/Packages.xz`).
pub fn release_sha256(release: &str, rel_path: &str) -> Option<(String, u64)> {
    let mut in_sha256 = false;
    for line in release.lines() {
        if !line.starts_with(' ') {
            in_sha256 = line.trim_end() == "SHA256:";
            continue;
        }
        if in_sha256 {
            let mut parts = line.split_whitespace();
            if let (Some(hash), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next())
            {
                if path == rel_path && is_sha256_hex(hash) {
                    return Some((hash.to_ascii_lowercase(), size.parse().ok()?));
                }
            }
        }
    }
    None
}

/// Whether `s` is 64 hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// dpkg's version comparison (`[epoch:]upstream[-revision]`, with `~` sorting before anything).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_version(a);
    let (eb, ub, rb) = split_version(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua, ub))
        .then_with(|| compare_part(ra, rb))
}

fn split_version(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

fn char_order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        // Non-digit prefix, compared with dpkg's character order.
        let na = a.iter().position(u8::is_ascii_digit).unwrap_or(a.len());
        let nb = b.iter().position(u8::is_ascii_digit).unwrap_or(b.len());
        let (pa, pb) = (&a[..na], &b[..nb]);
        for i in 0..na.max(nb) {
            let o = char_order(pa.get(i).copied()).cmp(&char_order(pb.get(i).copied()));
            if o != Ordering::Equal {
                return o;
            }
        }
        a = &a[na..];
        b = &b[nb..];
        // Digit run, compared numerically.
        let da = a
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(a.len());
        let db = b
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(b.len());
        let strip =
            |s: &[u8]| -> Vec<u8> { s.iter().copied().skip_while(|&c| c == b'0').collect() };
        let (sa, sb) = (strip(&a[..da]), strip(&b[..db]));
        let o = sa.len().cmp(&sb.len()).then_with(|| sa.cmp(&sb));
        if o != Ordering::Equal {
            return o;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_version_order() {
        use Ordering::*;
        let cases = [
            ("6.1.192-2", "6.1.192-1", Greater),
            ("6.1.192-2", "6.1.176-1", Greater),
            ("6.1.9-1", "6.1.10-1", Less),
            ("1:1.35.0-4", "1.36.0-1", Greater),
            ("1.0~rc1-1", "1.0-1", Less),
            ("1.0-1", "1.0-1", Equal),
            ("1.0", "1.0-0", Equal),
            ("1.0a", "1.0+", Less),
            ("1:1.35.0-4+deb12u1+b1", "1:1.35.0-4+deb12u1", Greater),
            ("001.2", "1.2", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    const PACKAGES: &str = "\
Package: linux-image-6.1.0-55-amd64
Source: linux-signed-amd64 (6.1.192+1)
Version: 6.1.192-1
Description: Linux 6.1 for 64-bit PCs (signed)
 The Linux kernel 6.1 and modules for use on PCs with AMD64, Intel 64 or
 VIA Nano processors.
Filename: pool/updates/main/l/linux-signed-amd64/linux-image-6.1.0-55-amd64_6.1.192-1_amd64.deb
Size: 70570480
SHA256: d03c3c62571c6a2e0af73f9c99f826d62e1155e744061dfa2d880b6f207fc25f

Package: linux-image-6.1.0-56-cloud-amd64
Version: 6.1.192-2
Filename: pool/x.deb
Size: 1
SHA256: 0000000000000000000000000000000000000000000000000000000000000000

Package: linux-image-6.1.0-56-amd64
Version: 6.1.192-2
Filename: pool/updates/main/l/linux-signed-amd64/linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb
Size: 70550672
SHA256: A86E2049672F52354C4536A089203B6C82639420424D31C91CF31A181FD4D8F1

Package: linux-image-6.1.0-57-amd64
Version: 6.1.199-1
Filename: pool/broken.deb
Size: 1
";

    #[test]
    fn parses_packages_and_picks_newest() {
        let pattern = crate::pins::kernel(crate::Arch::X86_64).fallback;
        let found = parse_packages(PACKAGES, |p| pattern.matches(p));
        // The cloud flavour is filtered out, the stanza without SHA256 dropped.
        assert_eq!(found.len(), 2);
        let best = newest(found).unwrap();
        assert_eq!(best.package, "linux-image-6.1.0-56-amd64");
        assert_eq!(best.size, 70_550_672);
        assert_eq!(
            best.sha256,
            "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1"
        );
    }

    #[test]
    fn finds_index_hash_in_release() {
        let release = "\
Origin: Debian
MD5Sum:
 0123456789abcdef0123456789abcdef  1234 main/binary-amd64/Packages.xz
SHA256:
 1111111111111111111111111111111111111111111111111111111111111111     5 main/binary-arm64/Packages.xz
 2222222222222222222222222222222222222222222222222222222222222222  8790396 main/binary-amd64/Packages.xz
";
        assert_eq!(
            release_sha256(release, "main/binary-amd64/Packages.xz"),
            Some(("2".repeat(64), 8_790_396))
        );
        assert_eq!(
            release_sha256(release, "main/binary-i386/Packages.xz"),
            None
        );
    }
}
