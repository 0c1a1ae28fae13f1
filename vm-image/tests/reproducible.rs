//! The same inputs (pinned packages, the same agent binary, the same lock) give the same image and
//! the same full userland.
//!
//! Builds twice into separate directories from the agent the test suite cross-built (skipped with
//! a message when it is not there: `cargo run -p workroom-image -- build --arch x86_64` makes it),
//! with downloads from the shared cache, and compares the kernel, the initramfs and the manifest.

use std::path::PathBuf;

use workroom_image::build::{build, BuildOptions};
use workroom_image::progress::ProgressSink;
use workroom_image::{default_cache_dir, sha256_hex, userland, Arch};

fn built_agent() -> Option<PathBuf> {
    // `target/tmp` → `target`.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()?
        .to_path_buf();
    let agent = target.join("x86_64-unknown-linux-musl/release/workroom-agent");
    agent.is_file().then_some(agent)
}

#[test]
fn the_same_inputs_build_the_same_image() {
    let Some(agent) = built_agent() else {
        eprintln!("skipped: no cross-built x86_64 agent yet (build the image once first)");
        return;
    };
    let cache = default_cache_dir(|k| std::env::var(k).ok()).unwrap();
    let digests = |out: &std::path::Path| {
        let report = build(&BuildOptions {
            arch: Arch::X86_64,
            out_dir: out.to_path_buf(),
            cache_dir: cache.clone(),
            agent_bin: Some(agent.clone()),
            agent_version: Some("0.1.0".into()),
            workspace: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."),
            progress: ProgressSink::none(),
        })
        .unwrap();
        ["kernel", "initramfs.cpio.gz", "manifest.json"]
            .map(|f| sha256_hex(&std::fs::read(report.dir.join(f)).unwrap()))
    };
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    assert_eq!(digests(first.path()), digests(second.path()));
}

/// The full userland: the same lock gives the same tree (paths, kinds, modes, contents, link
/// targets), within the size budget, and the tree on disk is what the manifest says.
#[test]
fn the_same_lock_builds_the_same_userland_within_budget() {
    let cache = default_cache_dir(|k| std::env::var(k).ok()).unwrap();
    let build_once = |out: &std::path::Path| {
        userland::build(&userland::UserlandOptions {
            arch: Arch::X86_64,
            out_dir: out.to_path_buf(),
            cache_dir: cache.clone(),
            office: false,
            progress: ProgressSink::none(),
        })
        .unwrap()
    };
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let (dir, one) = build_once(first.path());
    let (_, two) = build_once(second.path());
    assert_eq!(one, two);
    let (entries, size, tree) = userland::tree_digest(&dir.join("root")).unwrap();
    assert_eq!(
        (entries, size, tree),
        (one.entries, one.size_bytes, one.tree_sha256.clone())
    );
    assert!(
        one.size_bytes < 400_000_000,
        "the userland without LibreOffice must stay under 400 MB, it is {} bytes",
        one.size_bytes
    );
    assert_eq!(one.lock_sha256, userland::lock_sha256());
    // Nothing half-built is left next to it.
    let leftovers: Vec<_> = std::fs::read_dir(first.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
