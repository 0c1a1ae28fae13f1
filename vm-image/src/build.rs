//! The whole build: fetch → extract → cross-build → pack → write atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::agent::{self, AgentBinary};
use crate::cpio::{self, Archive};
use crate::deb::{self, Visit};
use crate::fetch::{human_size, FetchedDeb, Fetcher};
use crate::manifest::{self, Manifest};
use crate::modules::{self, Collector, DepGraph};
use crate::progress::ProgressSink;
use crate::{pins, sha256_hex, Arch, Error, IoContext, Result};

/// Output file names inside `<out>/<arch>/`.
pub const KERNEL_FILE: &str = "kernel";
/// The initramfs.
pub const INITRAMFS_FILE: &str = "initramfs.cpio.gz";
/// The manifest.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The initramfs budget (compressed).
pub const INITRAMFS_BUDGET: u64 = 5_000_000;

/// Largest single file read out of a package (the arm64 Image is ~33 MB).
const MAX_FILE: u64 = 256 << 20;

/// What to build and where.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Guest architecture.
    pub arch: Arch,
    /// Base output directory; the image goes to `<out_dir>/<arch>/`.
    pub out_dir: PathBuf,
    /// Download cache.
    pub cache_dir: PathBuf,
    /// Use this agent binary instead of building one.
    pub agent_bin: Option<PathBuf>,
    /// Version to record for `agent_bin`.
    pub agent_version: Option<String>,
    /// Workspace containing `workroom-agent`.
    pub workspace: PathBuf,
    /// Where progress as numbers goes (stderr gets the messages either way).
    pub progress: ProgressSink,
}

/// The result of a build.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// `<out_dir>/<arch>/`.
    pub dir: PathBuf,
    /// What was written as `manifest.json`.
    pub manifest: Manifest,
}

/// Kernel command-line parameters the image wants on every machine type (recipe §4: the crypto
/// self-tests alone cost ~0.3 s of boot under TCG).
pub fn recommended_cmdline(arch: Arch) -> String {
    let common = "quiet cryptomgr.notests random.trust_cpu=on";
    match arch {
        Arch::X86_64 => format!(
            "{common} tsc=reliable no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
        ),
        Arch::Aarch64 => common.to_string(),
    }
}

/// Builds the image for `opts.arch` into `<out_dir>/<arch>/`, replacing any previous one only
/// once everything is written.
pub fn build(opts: &BuildOptions) -> Result<BuildReport> {
    let started = Instant::now();

    // The agent build takes the longest; it runs while the packages are fetched and unpacked.
    let agent_job = {
        let opts = opts.clone();
        std::thread::spawn(move || -> Result<(AgentBinary, Vec<u8>)> {
            let t = Instant::now();
            let bin = match &opts.agent_bin {
                Some(path) => AgentBinary {
                    path: path.clone(),
                    version: opts.agent_version.clone(),
                    source: "given",
                },
                None => agent::build(opts.arch, &opts.workspace)?,
            };
            let data = std::fs::read(&bin.path)
                .io_context(|| format!("cannot read the agent binary {}", bin.path.display()))?;
            agent::verify_static_elf(&data, opts.arch, &bin.path.display().to_string())?;
            eprintln!(
                "agent: {} ({}, {:.1} s)",
                bin.path.display(),
                human_size(data.len() as u64),
                t.elapsed().as_secs_f64()
            );
            Ok((bin, data))
        })
    };

    build_inner(opts, started, agent_job)
}

type AgentJob = std::thread::JoinHandle<Result<(AgentBinary, Vec<u8>)>>;

fn join_agent(job: AgentJob) -> Result<(AgentBinary, Vec<u8>)> {
    job.join()
        .map_err(|_| Error::Agent("the agent build thread panicked".into()))?
}

/// On failure, lets a running cargo finish (rather than leave it orphaned mid-write) and returns
/// the original error.
fn abandon(agent_job: AgentJob, e: Error) -> Error {
    if !agent_job.is_finished() {
        eprintln!("error: {e}\nwaiting for the agent build to finish before exiting");
    }
    let _ = join_agent(agent_job);
    e
}

fn build_inner(opts: &BuildOptions, started: Instant, agent_job: AgentJob) -> Result<BuildReport> {
    let arch = opts.arch;
    // The overall range by what each phase costs on a first run: the ~60 MB kernel package
    // download dominates; a cached one makes the bar jump.
    let progress = &opts.progress;
    progress.report("Downloading the Linux kernel", 0.0);
    let fetched = (|| -> Result<(FetchedDeb, FetchedDeb)> {
        let mut fetcher = Fetcher::new(opts.cache_dir.clone())?;
        fetcher.set_progress(Some(progress.phase(0.0, 0.70)));
        let kernel_deb = fetcher.fetch_deb(&pins::kernel(arch), arch.debian())?;
        fetcher.set_progress(Some(progress.phase(0.70, 0.74)));
        let busybox_deb = fetcher.fetch_deb(&pins::busybox(arch), arch.debian())?;
        Ok((kernel_deb, busybox_deb))
    })();
    let (kernel_deb, busybox_deb) = match fetched {
        Ok(f) => f,
        Err(e) => return Err(abandon(agent_job, e)),
    };
    eprintln!("downloads ready ({:.1} s)", started.elapsed().as_secs_f64());

    progress.report("Unpacking the Linux kernel and its modules", 0.74);
    let unpacked = (|| -> Result<_> {
        let t = Instant::now();
        let scan = scan_kernel_package(&kernel_deb.path, pins::WANTED_MODULES)?;
        eprintln!(
            "kernel package {} {}: release {}, {} modules indexed ({:.1} s)",
            kernel_deb.package,
            kernel_deb.version,
            scan.release,
            scan.graph.len(),
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let kernel = convert_kernel(arch, scan.vmlinuz)?;
        eprintln!(
            "kernel: {} {} ({:.1} s)",
            kernel.1,
            human_size(kernel.0.len() as u64),
            t.elapsed().as_secs_f64()
        );
        let busybox = read_busybox(&busybox_deb.path, arch)?;
        Ok((scan.release, scan.resolution, scan.modules, kernel, busybox))
    })();
    let (release, resolution, module_bytes, (kernel, kernel_format), busybox) = match unpacked {
        Ok(u) => u,
        Err(e) => return Err(abandon(agent_job, e)),
    };

    if !agent_job.is_finished() {
        progress.report("Building the guest agent", 0.86);
    }
    let (agent_bin, agent_data) = join_agent(agent_job)?;
    progress.report("Packing the guest image", 0.94);

    // The initramfs.
    let mut archive = Archive::new();
    archive.file("/init", 0o755, agent_data.clone());
    archive.file("/bin/busybox", 0o755, busybox);
    let mut load_order = String::new();
    let mut module_files = Vec::new();
    for name in &resolution.load_order {
        let file = format!("{name}.ko");
        let data = module_bytes
            .get(name)
            .ok_or_else(|| Error::Modules(format!("{name} was resolved but not extracted")))?;
        archive.file(&format!("/lib/modules/{file}"), 0o644, data.clone());
        load_order.push_str(&file);
        load_order.push('\n');
        module_files.push(file);
    }
    archive.file("/lib/modules/load.order", 0o644, load_order.into_bytes());
    archive.char_dev("/dev/console", 0o600, 5, 1);
    archive.char_dev("/dev/null", 0o666, 1, 3);
    for (dir, perm) in [
        ("/proc", 0o555),
        ("/sys", 0o555),
        ("/dev", 0o755),
        ("/tmp", 0o1777),
        ("/run", 0o755),
        ("/sessions", 0o755),
        ("/mnt", 0o755),
        ("/etc", 0o755),
        ("/root", 0o700),
        ("/usr/bin", 0o755),
        ("/usr/sbin", 0o755),
        ("/sbin", 0o755),
        ("/var/tmp", 0o1777),
    ] {
        archive.dir(dir, perm);
    }
    archive.file(
        "/etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
    );
    archive.file("/etc/group", 0o644, b"root:x:0:\n".to_vec());
    archive.file("/etc/hosts", 0o644, b"127.0.0.1 localhost\n".to_vec());
    let newc = archive.to_newc();
    let mut initramfs = cpio::gzip(&newc).io_context(|| "cannot compress the initramfs".into())?;
    pad_for_top_of_ram(&mut initramfs);
    if initramfs.len() as u64 > INITRAMFS_BUDGET {
        return Err(Error::Initramfs(format!(
            "{} compressed is over the {} budget (agent {}, busybox and {} modules)",
            human_size(initramfs.len() as u64),
            human_size(INITRAMFS_BUDGET),
            human_size(agent_data.len() as u64),
            module_files.len()
        )));
    }
    eprintln!(
        "initramfs: {} compressed, {} uncompressed, {} modules",
        human_size(initramfs.len() as u64),
        human_size(newc.len() as u64),
        module_files.len()
    );

    let package = |d: &FetchedDeb| manifest::PackageInfo {
        name: d.package.clone(),
        version: d.version.clone(),
        url: d.url.clone(),
        sha256: d.sha256.clone(),
        pinned: d.replaced.is_none(),
        replaces: d
            .replaced
            .as_ref()
            .map(|r| format!("{} {}", r.package, r.version)),
    };
    let manifest = Manifest {
        format_version: manifest::FORMAT_VERSION,
        arch: arch.name().to_string(),
        kernel: manifest::KernelInfo {
            file: KERNEL_FILE.into(),
            format: kernel_format.into(),
            release,
            size: kernel.len() as u64,
            sha256: sha256_hex(&kernel),
        },
        initramfs: manifest::FileInfo {
            file: INITRAMFS_FILE.into(),
            size: initramfs.len() as u64,
            sha256: sha256_hex(&initramfs),
            uncompressed_size: newc.len() as u64,
        },
        kernel_package: package(&kernel_deb),
        busybox_package: package(&busybox_deb),
        agent: manifest::AgentInfo {
            version: agent_bin.version.clone(),
            target: arch.rust_target().into(),
            source: agent_bin.source.into(),
            size: agent_data.len() as u64,
            sha256: sha256_hex(&agent_data),
        },
        modules: module_files,
        builtin_modules: resolution.builtin.clone(),
        cmdline: manifest::CmdlineInfo {
            console: arch.console().into(),
            recommended: recommended_cmdline(arch),
        },
    };

    let dir = opts.out_dir.join(arch.name());
    install(
        &opts.out_dir,
        &dir,
        &[
            (KERNEL_FILE, &kernel),
            (INITRAMFS_FILE, &initramfs),
            (MANIFEST_FILE, manifest.to_json().as_bytes()),
        ],
    )?;
    progress.report("The guest image is ready", 1.0);
    eprintln!(
        "image for {arch} written to {} in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(BuildReport { dir, manifest })
}

/// How far the initramfs may reach into the last page of guest RAM (see [`pad_for_top_of_ram`]).
const TOP_PAGE_REACH: usize = 16;

/// QEMU loads the initramfs at the top of guest RAM, page-aligned at its start, so its last
/// `len % 4096` bytes land in the top page, where x86 microvm keeps its ACPI tables (e820:
/// reserved). An initramfs reaching 3.4 KB into that page hung the guest at APIC setup or damaged
/// its `/init`, depending on the agent's size; 173 bytes were harmless. Zero padding, which the
/// kernel skips between archives, keeps the reach at [`TOP_PAGE_REACH`] bytes whatever the size.
fn pad_for_top_of_ram(initramfs: &mut Vec<u8>) {
    const PAGE: usize = 4096;
    let reach = initramfs.len() % PAGE;
    let pad = (TOP_PAGE_REACH + PAGE - reach) % PAGE;
    initramfs.resize(initramfs.len() + pad, 0);
}

/// What the kernel package yields.
struct KernelScan {
    release: String,
    vmlinuz: Vec<u8>,
    graph: DepGraph,
    resolution: modules::Resolution,
    modules: BTreeMap<String, Vec<u8>>,
}

/// `lib/modules/<release>/<rel>` or `usr/lib/modules/<release>/<rel>` → `(release, rel)`.
fn split_modules_path(path: &str) -> Option<(&str, &str)> {
    let p = path.strip_prefix("usr/").unwrap_or(path);
    p.strip_prefix("lib/modules/")?.split_once('/')
}

fn read_entry(e: &mut deb::DataEntry<'_>, deb: &Path) -> Result<Vec<u8>> {
    if e.size > MAX_FILE {
        return Err(Error::Deb {
            path: deb.display().to_string(),
            message: format!("{} is implausibly large ({} bytes)", e.path, e.size),
        });
    }
    let mut buf = Vec::with_capacity(e.size as usize);
    e.reader.read_to_end(&mut buf).map_err(|err| Error::Deb {
        path: deb.display().to_string(),
        message: format!("cannot read {}: {err}", e.path),
    })?;
    Ok(buf)
}

/// One pass over the kernel package: the kernel, `modules.builtin`/`modules.dep`, and the
/// modules; a second pass only if a needed module went by before it was known to be needed.
fn scan_kernel_package(deb: &Path, wanted: &[&str]) -> Result<KernelScan> {
    let mut release: Option<String> = None;
    let mut vmlinuz: Option<(String, Vec<u8>)> = None;
    let mut builtin_text: Option<String> = None;
    let mut dep_text: Option<String> = None;
    let mut collector = Collector::new(wanted);
    let set_release = |release: &mut Option<String>, r: &str| -> Result<()> {
        match release {
            Some(existing) if existing != r => Err(Error::Kernel(format!(
                "package has more than one kernel release ({existing}, {r})"
            ))),
            Some(_) => Ok(()),
            None => {
                *release = Some(r.to_string());
                Ok(())
            }
        }
    };
    deb::for_each_data_file(deb, |mut e| {
        if let Some(r) = e.path.strip_prefix("boot/vmlinuz-") {
            set_release(&mut release, r)?;
            let r = r.to_string();
            vmlinuz = Some((r, read_entry(&mut e, deb)?));
        } else if let Some((r, rel)) = split_modules_path(e.path) {
            if rel == "modules.builtin" {
                set_release(&mut release, r)?;
                builtin_text = Some(String::from_utf8_lossy(&read_entry(&mut e, deb)?).into());
            } else if rel == "modules.dep" {
                dep_text = Some(String::from_utf8_lossy(&read_entry(&mut e, deb)?).into());
            } else if modules::is_module_file(rel) {
                set_release(&mut release, r)?;
                let rel = rel.to_string();
                let data = read_entry(&mut e, deb)?;
                collector.offer(&rel, data)?;
            }
        }
        Ok(Visit::Continue)
    })?;
    let (vmlinuz_release, vmlinuz) =
        vmlinuz.ok_or_else(|| Error::Kernel("no boot/vmlinuz-* in the kernel package".into()))?;
    let release = release.unwrap_or(vmlinuz_release);
    let builtin: BTreeSet<String> = match &builtin_text {
        Some(t) => modules::parse_modules_builtin(t),
        None => {
            return Err(Error::Modules(format!(
                "no lib/modules/{release}/modules.builtin in the kernel package"
            )))
        }
    };
    // Prefer the package's own modules.dep; Debian ships none, so fall back to `.modinfo`.
    let graph = match &dep_text {
        Some(t) => DepGraph::from_modules_dep(t)?,
        None => collector.graph.clone(),
    };
    let resolution = modules::resolve(&graph, &builtin, wanted)?;
    let missing: BTreeMap<String, String> = resolution
        .load_order
        .iter()
        .filter(|n| !collector.kept.contains_key(*n))
        .filter_map(|n| graph.get(n).map(|m| (m.path.clone(), n.clone())))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "second pass over the kernel package for {}",
            missing.values().cloned().collect::<Vec<_>>().join(", ")
        );
        deb::for_each_data_file(deb, |mut e| {
            if let Some((_, rel)) = split_modules_path(e.path) {
                if let Some(name) = missing.get(rel) {
                    let data = read_entry(&mut e, deb)?;
                    collector.keep(name, rel, data)?;
                }
            }
            Ok(Visit::Continue)
        })?;
    }
    let mut selected = BTreeMap::new();
    for name in &resolution.load_order {
        let data = collector.kept.remove(name).ok_or_else(|| {
            Error::Modules(format!("{name} is listed but its file was not found"))
        })?;
        // A module built for another kernel would be refused by finit_module at boot.
        let info =
            modules::read_modinfo(&data).map_err(|e| Error::Modules(format!("{name}: {e}")))?;
        if let Some(vermagic) = &info.vermagic {
            if vermagic.split_whitespace().next() != Some(release.as_str()) {
                return Err(Error::Modules(format!(
                    "{name} is built for {vermagic}, not {release}"
                )));
            }
        }
        selected.insert(name.clone(), data);
    }
    Ok(KernelScan {
        release,
        vmlinuz,
        graph,
        resolution,
        modules: selected,
    })
}

/// The file the VM boots, and its format name for the manifest.
fn convert_kernel(arch: Arch, vmlinuz: Vec<u8>) -> Result<(Vec<u8>, &'static str)> {
    match arch {
        Arch::X86_64 => {
            let v = crate::kernel::extract_pvh_vmlinux(&vmlinuz)?;
            eprintln!(
                "kernel: xz stream at offset {} of the bzImage (found by {})",
                v.xz_offset, v.found_by
            );
            Ok((v.data, "pvh-elf"))
        }
        Arch::Aarch64 => Ok((crate::kernel::arm64_image(vmlinuz)?, "arm64-image")),
    }
}

/// `bin/busybox` from `busybox-static`, checked to be a static binary for `arch`.
fn read_busybox(deb: &Path, arch: Arch) -> Result<Vec<u8>> {
    let mut found = None;
    deb::for_each_data_file(deb, |mut e| {
        if e.path == "bin/busybox" || e.path == "usr/bin/busybox" {
            found = Some(read_entry(&mut e, deb)?);
            return Ok(Visit::Stop);
        }
        Ok(Visit::Continue)
    })?;
    let data = found.ok_or_else(|| Error::Deb {
        path: deb.display().to_string(),
        message: "no bin/busybox in the busybox-static package".into(),
    })?;
    agent::verify_static_elf(&data, arch, "busybox from busybox-static")?;
    Ok(data)
}

/// Writes `files` into a fresh temporary directory next to `dir`, then swaps it into place, so a
/// half-written image never carries the final name.
pub fn install(out_dir: &Path, dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    std::fs::create_dir_all(out_dir)
        .io_context(|| format!("cannot create {}", out_dir.display()))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-"))
        .tempdir_in(out_dir)
        .io_context(|| format!("cannot create a directory in {}", out_dir.display()))?;
    for (file, data) in files {
        let path = staging.path().join(file);
        std::fs::write(&path, data).io_context(|| format!("cannot write {}", path.display()))?;
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .io_context(|| format!("cannot sync {}", path.display()))?;
    }
    replace_dir(out_dir, &staging.keep(), dir, false).map(|_| ())
}

/// Moves the finished directory `staged` (in `out_dir`) to `dir`, replacing what was there: the
/// old one is moved aside first and deleted last (or, with `keep_old`, left aside and returned, for
/// trees that running VMs may still be serving), so `dir` is always whole or absent.
pub fn replace_dir(
    out_dir: &Path,
    staged: &Path,
    dir: &Path,
    keep_old: bool,
) -> Result<Option<PathBuf>> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let old = if dir.exists() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let old = out_dir.join(format!(".{name}.old-{}-{nanos}", std::process::id()));
        std::fs::rename(dir, &old)
            .io_context(|| format!("cannot move the previous {} aside", dir.display()))?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(staged, dir) {
        if let Some(old) = &old {
            let _ = std::fs::rename(old, dir);
        }
        let _ = std::fs::remove_dir_all(staged);
        return Err(Error::Io {
            context: format!("cannot move the new build into {}", dir.display()),
            source: e,
        });
    }
    match old {
        Some(old) if keep_old => Ok(Some(old)),
        Some(old) => {
            std::fs::remove_dir_all(&old)
                .io_context(|| format!("cannot remove the previous {}", old.display()))?;
            Ok(None)
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initramfs_reaches_only_a_little_into_the_top_page() {
        for len in [1, 173, 3418, 4096, 4097, 8191] {
            let mut data = vec![1u8; len];
            pad_for_top_of_ram(&mut data);
            assert_eq!(data.len() % 4096, TOP_PAGE_REACH, "{len}");
            assert!(data.len() >= len && data[len..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn install_replaces_atomically_and_leaves_no_debris() {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("x86_64");
        install(
            out.path(),
            &dir,
            &[("kernel", b"one"), ("manifest.json", b"{}")],
        )
        .unwrap();
        assert_eq!(std::fs::read(dir.join("kernel")).unwrap(), b"one");
        install(out.path(), &dir, &[("kernel", b"two")]).unwrap();
        assert_eq!(std::fs::read(dir.join("kernel")).unwrap(), b"two");
        assert!(!dir.join("manifest.json").exists());
        let names: Vec<String> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["x86_64"]);
    }

    #[test]
    fn module_paths_split() {
        assert_eq!(
            split_modules_path("lib/modules/6.1.0-56-amd64/kernel/fs/fuse/fuse.ko"),
            Some(("6.1.0-56-amd64", "kernel/fs/fuse/fuse.ko"))
        );
        assert_eq!(
            split_modules_path("usr/lib/modules/6.12.0-1-arm64/modules.builtin"),
            Some(("6.12.0-1-arm64", "modules.builtin"))
        );
        assert_eq!(split_modules_path("boot/vmlinuz-6.1.0-56-amd64"), None);
    }

    #[test]
    fn scans_a_synthetic_kernel_package() {
        use crate::elf::test_support::{build as elf, TestSection};
        let ko = |name: &str, deps: &str| {
            elf(
                crate::elf::ET_REL,
                crate::elf::EM_X86_64,
                None,
                false,
                &[TestSection {
                    name: ".modinfo",
                    data: format!("depends={deps}\0name={name}\0vermagic=6.1.0-9-amd64 SMP\0")
                        .as_bytes(),
                }],
            )
        };
        let fuse = ko("fuse", "");
        let virtiofs = ko("virtiofs", "fuse,virtio");
        let virtio = ko("virtio", "");
        let deb = crate::deb::test_support::deb_xz(&[
            ("./boot/vmlinuz-6.1.0-9-amd64", 0o644, b"bzImage"),
            (
                "./lib/modules/6.1.0-9-amd64/kernel/drivers/virtio/virtio.ko",
                0o644,
                &virtio,
            ),
            // fuse goes by before anything says it is needed: the second pass picks it up.
            (
                "./lib/modules/6.1.0-9-amd64/kernel/fs/fuse/fuse.ko",
                0o644,
                &fuse,
            ),
            (
                "./lib/modules/6.1.0-9-amd64/kernel/fs/fuse/virtiofs.ko",
                0o644,
                &virtiofs,
            ),
            (
                "./lib/modules/6.1.0-9-amd64/modules.builtin",
                0o644,
                b"kernel/drivers/virtio/virtio_ring.ko\n",
            ),
        ]);
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, &deb).unwrap();
        let scan = scan_kernel_package(f.path(), &["virtio_ring", "virtiofs"]).unwrap();
        assert_eq!(scan.release, "6.1.0-9-amd64");
        assert_eq!(scan.vmlinuz, b"bzImage");
        assert_eq!(scan.resolution.builtin, ["virtio_ring"]);
        assert_eq!(scan.resolution.load_order, ["fuse", "virtio", "virtiofs"]);
        assert_eq!(scan.modules["fuse"], fuse);
        assert_eq!(scan.modules["virtiofs"], virtiofs);
    }
}
