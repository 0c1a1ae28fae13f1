//! The file tree searched by the Grep comparison. Generating 100,000 files takes a while, so the
//! tree is made once and kept in the system temp folder under a versioned name; change
//! [`TREE_VERSION`] whenever the layout or contents change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

const TREE_VERSION: &str = "v1";

/// What both searchers look for. Not a plain literal, so the regex engine has work to do beyond
/// its literal prefilter; decoy lines hold `needle_` without matching.
pub const NEEDLE_REGEX: &str = r"fn\s+needle_[0-9]+\(";

/// Searched files per folder.
const FILES_PER_DIR: usize = 10;
/// One searched file in this many holds the needle.
const NEEDLE_EVERY: u64 = 100;
/// One searched file in this many holds a decoy (`needle_` that does not match).
const DECOY_EVERY: u64 = 20;

pub struct Tree {
    pub root: PathBuf,
    /// Files a search should look at (ignored, hidden and binary extras not counted).
    pub files: usize,
    /// `Some` when this run generated the tree, `None` when it was already cached.
    pub generated_in: Option<Duration>,
}

/// The cached tree of `files` searched files, generated first if missing.
pub fn ensure(files: usize) -> Result<Tree> {
    let root =
        std::env::temp_dir().join(format!("workroom-agent-bench-tree-{TREE_VERSION}-{files}"));
    if root.is_dir() {
        return Ok(Tree {
            root,
            files,
            generated_in: None,
        });
    }
    let started = Instant::now();
    // Built under another name and renamed when complete, so an interrupted run is never reused.
    let partial = root.with_extension(format!("partial-{}", std::process::id()));
    generate(&partial, files).with_context(|| format!("generating {}", partial.display()))?;
    if let Err(e) = std::fs::rename(&partial, &root) {
        // Another bench finished the same tree first: use it, drop ours.
        let _ = std::fs::remove_dir_all(&partial);
        if !root.is_dir() {
            return Err(e).with_context(|| format!("renaming to {}", root.display()));
        }
    }
    Ok(Tree {
        root,
        files,
        generated_in: Some(started.elapsed()),
    })
}

/// Writes the tree: nested folders `m3/m7/m1/m9/` (10 entries per level) each holding
/// [`FILES_PER_DIR`] source-like files, plus content both searchers must skip — a `.gitignore`d
/// `build/` folder and `*.log` files, a hidden folder and binary files — all holding the needle.
fn generate(root: &Path, files: usize) -> Result<()> {
    let leaves = files.div_ceil(FILES_PER_DIR);
    let depth = leaves.saturating_sub(1).to_string().len();
    // `.git` makes the tree a repository, without which `.gitignore` files are not obeyed.
    std::fs::create_dir_all(root.join(".git"))?;
    std::fs::write(root.join(".gitignore"), "build/\n*.log\n")?;
    let mut body = String::new();
    for leaf in 0..leaves {
        let dir = leaf_dir(root, leaf, depth);
        std::fs::create_dir_all(&dir)?;
        let first = leaf * FILES_PER_DIR;
        for index in first..(first + FILES_PER_DIR).min(files) {
            source_file(index as u64, &mut body);
            let ext = ["rs", "py", "txt", "md"][index % 4];
            std::fs::write(dir.join(format!("f{}.{ext}", index - first)), &body)?;
        }
        if leaf % 10 == 0 {
            std::fs::write(dir.join("trace.log"), needle_line(leaf as u64))?;
        }
        if leaf % 50 == 0 {
            let mut blob = needle_line(leaf as u64).into_bytes();
            blob.extend_from_slice(&[0, 1, 2, 3]);
            std::fs::write(dir.join("blob.bin"), blob)?;
        }
    }
    write_flat(&root.join("build/gen"), 500)?;
    write_flat(&root.join(".hidden"), 100)?;
    Ok(())
}

/// `root/m3/m7/m1/m9` for leaf 3719 at depth 4.
fn leaf_dir(root: &Path, leaf: usize, depth: usize) -> PathBuf {
    let digits = format!("{leaf:0depth$}");
    let mut dir = root.to_path_buf();
    for digit in digits.chars() {
        dir.push(format!("m{digit}"));
    }
    dir
}

/// `count` files that all match, in one folder that must be skipped.
fn write_flat(dir: &Path, count: u64) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for i in 0..count {
        std::fs::write(dir.join(format!("f{i}.txt")), needle_line(i))?;
    }
    Ok(())
}

fn needle_line(n: u64) -> String {
    format!("fn needle_{n}(x: u32) -> u32 {{ x }}\n")
}

/// 8 to 15 lines of code-like text into `out`, deterministic in `index`; one file in
/// [`NEEDLE_EVERY`] gets one or two needle lines, one in [`DECOY_EVERY`] a decoy.
fn source_file(index: u64, out: &mut String) {
    out.clear();
    let mut rng = SplitMix(index);
    let lines = 8 + rng.next() % 8;
    let needle_at = (rng.next() % NEEDLE_EVERY == 0).then(|| rng.next() % lines);
    let decoy_at = (rng.next() % DECOY_EVERY == 0).then(|| rng.next() % lines);
    for line in 0..lines {
        let (a, b) = (rng.next() % 1000, rng.next() % 1000);
        let _ = writeln!(
            out,
            "    let value_{line} = compute({a}, {b}); // step {line}"
        );
        if needle_at == Some(line) {
            let _ = writeln!(out, "fn needle_{index}(x: u32) -> u32 {{ x + {a} }}");
            if a % 2 == 0 {
                let _ = writeln!(out, "pub fn  needle_{b}(y: u8) {{}}");
            }
        }
        if decoy_at == Some(line) {
            let _ = writeln!(out, "    // needle_{b} is referenced here, not defined");
        }
    }
}

/// A tiny deterministic generator (SplitMix64), so that the tree is the same on every machine.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
