//! Checkpoint benchmark on the fallback (copying) store: trees of 1k, 10k and 100k files.
//!
//! `cargo bench -p workroom-host --bench checkpoint` (add `-- --quick` for 1k and 10k only).
//!
//! For each size: the first snapshot (everything copied), a snapshot with no change (median of
//! three), a snapshot after 1% of the files were rewritten, the diff between the two, a conflict
//! check of the disk against the last snapshot, undo of the 1% (plan + apply), and the store's
//! growth next to the bytes that changed.
//!
//! Files are created, then the benchmark waits out the racy window (2 s) before the first
//! snapshot: a file changed within 2 s before a snapshot is re-read by the next one, by design.

use std::{
    fs,
    path::Path,
    time::{Duration, Instant},
};

use workroom_host::checkpoint::{Checkpoints, Resolution, RestoreScope, SnapshotOptions};

const FILES_PER_DIR: usize = 100;

/// Sizes cycle from 200 B to ~8 KiB so both tiny and block-sized files are represented.
fn file_size(i: usize) -> usize {
    200 + (i * 997) % 8000
}

fn content(i: usize, generation: u64, size: usize) -> Vec<u8> {
    // Cheap, unique per (file, generation): no two files deduplicate.
    let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ generation.wrapping_mul(0xD1B5_4A32_D192_ED03);
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b'a' + (state % 26) as u8
        })
        .collect()
}

fn path_of(root: &Path, i: usize) -> std::path::PathBuf {
    let dir = i / FILES_PER_DIR;
    root.join(format!("d{:02}", dir % 10))
        .join(format!("s{dir:05}"))
        .join(format!("f{i:06}.txt"))
}

fn make_tree(root: &Path, n: usize) -> u64 {
    let mut total = 0;
    for i in 0..n {
        let path = path_of(root, i);
        if i % FILES_PER_DIR == 0 {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
        }
        let data = content(i, 0, file_size(i));
        total += data.len() as u64;
        fs::write(path, data).unwrap();
    }
    total
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn kib(b: u64) -> String {
    format!("{:.0}", b as f64 / 1024.0)
}

fn dir_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let m = e.metadata().unwrap();
            total += m.blocks() * 512;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

struct Row {
    n: usize,
    tree_kib: u64,
    first: Duration,
    unchanged: Duration,
    estimate: Duration,
    changed: Duration,
    diff: Duration,
    on_disk: Duration,
    undo: Duration,
    changed_bytes: u64,
    blobs_growth: u64,
    bytes_added: u64,
    manifest_bytes: u64,
    store_total: u64,
}

fn run(n: usize) -> Row {
    let tmp = tempfile::tempdir_in(
        std::env::var_os("BENCH_DIR").unwrap_or_else(|| std::env::temp_dir().into()),
    )
    .unwrap();
    let folder = tmp.path().join("folder");
    let store = tmp.path().join("checkpoints");
    let tree_bytes = make_tree(&folder, n);
    std::thread::sleep(Duration::from_millis(2100));

    let cp = Checkpoints::open(&store).unwrap();
    let opts = SnapshotOptions::default();
    let (first_id, first) = timed(|| cp.snapshot(&folder, &opts).unwrap());

    let mut runs = Vec::new();
    let mut last = first_id.clone();
    for _ in 0..3 {
        let (id, t) = timed(|| cp.snapshot(&folder, &opts).unwrap());
        runs.push(t);
        last = id;
    }
    runs.sort();
    let unchanged = runs[1];
    // What every message pays before it is sent (the size-cap check): a metadata-only walk.
    let mut estimates: Vec<Duration> = (0..3)
        .map(|_| timed(|| cp.estimate(&folder, &opts).unwrap()).1)
        .collect();
    estimates.sort();
    let estimate = estimates[1];
    assert!(cp.changes(&first_id, &last).unwrap().is_empty());

    // Rewrite 1% of the files, spread over the tree.
    let step = 100;
    let mut changed_bytes = 0u64;
    for i in (0..n).step_by(step) {
        let data = content(i, 1, file_size(i));
        changed_bytes += data.len() as u64;
        fs::write(path_of(&folder, i), data).unwrap();
    }
    let blobs_before = dir_bytes(&store.join("blobs"));
    let (changed_id, changed) = timed(|| cp.snapshot(&folder, &opts).unwrap());
    let blobs_growth = dir_bytes(&store.join("blobs")) - blobs_before;
    let manifest = cp.manifest(&changed_id).unwrap();
    let manifest_bytes = fs::metadata(store.join("snapshots").join(format!("{changed_id}.json")))
        .unwrap()
        .len();

    let (changes, diff) = timed(|| cp.changes(&last, &changed_id).unwrap());
    assert_eq!(changes.len(), n.div_ceil(step));
    let (on_disk_changes, on_disk) = timed(|| cp.changes_on_disk(&changed_id, &folder).unwrap());
    assert!(on_disk_changes.is_empty());

    let (report, undo) = timed(|| {
        let plan = cp
            .plan_restore(&folder, &last, &changed_id, RestoreScope::Changed)
            .unwrap();
        cp.apply_restore(&plan, Resolution::OverwriteConflicts)
            .unwrap()
    });
    assert!(report.failed.is_empty());

    Row {
        n,
        tree_kib: tree_bytes / 1024,
        first,
        unchanged,
        estimate,
        changed,
        diff,
        on_disk,
        undo,
        changed_bytes,
        blobs_growth,
        bytes_added: manifest.bytes_added,
        manifest_bytes,
        store_total: cp.disk_use().unwrap(),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes: &[usize] = if quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    println!("checkpoint benchmark (fallback store, copying; times in ms, sizes in KiB)");
    println!(
        "{:>7} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "files",
        "tree",
        "first",
        "no-chg",
        "estimate",
        "1%-chg",
        "diff",
        "on-disk",
        "undo 1%",
        "chg",
        "added",
        "blobs+",
        "manifest",
        "store"
    );
    for &n in sizes {
        let r = run(n);
        println!(
            "{:>7} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9}",
            r.n,
            r.tree_kib,
            ms(r.first),
            ms(r.unchanged),
            ms(r.estimate),
            ms(r.changed),
            ms(r.diff),
            ms(r.on_disk),
            ms(r.undo),
            kib(r.changed_bytes),
            kib(r.bytes_added),
            kib(r.blobs_growth),
            kib(r.manifest_bytes),
            kib(r.store_total),
        );
    }
    println!(
        "\nfirst/no-chg/1%-chg: snapshot; estimate: the size-cap check before each message; diff: changes() between two snapshots; on-disk: changes_on_disk();\n\
         undo 1%: plan_restore + apply_restore (includes its redo-point and after snapshots);\n\
         chg: bytes rewritten; added: new content stored (logical); blobs+: blob store growth (allocated);\n\
         manifest: one snapshot's manifest; store: whole store after all steps (allocated)."
    );
}
