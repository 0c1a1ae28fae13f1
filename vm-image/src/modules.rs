//! Choosing the kernel modules for the initramfs: the wanted ones plus their dependencies, minus
//! what is built into the kernel, ordered dependencies first.
//!
//! The dependency graph comes from `modules.dep` when the package ships one; Debian's kernel
//! packages do not (depmod runs at install time), so it is built the way depmod would, from each
//! module's `.modinfo` section (`depends=`). Built-ins come from `modules.builtin`.

use std::collections::{BTreeMap, BTreeSet};

use crate::elf::{Elf, ET_REL};
use crate::{Error, Result};

/// A loadable module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Canonical name (`-` replaced by `_`, no extension).
    pub name: String,
    /// Path relative to `lib/modules/<release>/` as the package has it (`kernel/fs/fuse/fuse.ko`).
    pub path: String,
    /// Canonical names of the modules it needs.
    pub depends: Vec<String>,
}

/// Name → module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepGraph {
    modules: BTreeMap<String, ModuleInfo>,
}

impl DepGraph {
    /// Adds (or replaces) a module.
    pub fn insert(&mut self, info: ModuleInfo) {
        self.modules.insert(info.name.clone(), info);
    }

    /// Looks a module up by any spelling of its name.
    pub fn get(&self, name: &str) -> Option<&ModuleInfo> {
        self.modules.get(&canonical_name(name))
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// Parses `modules.dep` (`kernel/a/x.ko: kernel/b/y.ko kernel/c/z.ko`).
    pub fn from_modules_dep(text: &str) -> Result<Self> {
        let mut graph = DepGraph::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (module, deps) = line.split_once(':').ok_or_else(|| {
                Error::Modules(format!("modules.dep line {}: no `:` in `{line}`", n + 1))
            })?;
            let module = module.trim();
            graph.insert(ModuleInfo {
                name: name_from_path(module),
                path: module.to_string(),
                depends: deps.split_whitespace().map(name_from_path).collect(),
            });
        }
        Ok(graph)
    }

    /// Renders the graph as `modules.dep` text (direct dependencies only), sorted by path.
    pub fn to_modules_dep(&self) -> String {
        let mut lines: Vec<String> = self
            .modules
            .values()
            .map(|m| {
                let deps: Vec<&str> = m
                    .depends
                    .iter()
                    .filter_map(|d| self.modules.get(d).map(|x| x.path.as_str()))
                    .collect();
                format!("{}: {}", m.path, deps.join(" "))
                    .trim_end()
                    .to_string()
            })
            .collect();
        lines.sort();
        lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

/// `virtio-rng` → `virtio_rng` (the kernel treats `-` and `_` alike in module names).
pub fn canonical_name(name: &str) -> String {
    name.replace('-', "_")
}

/// Whether a file name looks like a kernel module (`.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`).
pub fn is_module_file(path: &str) -> bool {
    [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// `kernel/drivers/char/hw_random/virtio-rng.ko.xz` → `virtio_rng`.
pub fn name_from_path(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let stem = base.split(".ko").next().unwrap_or(base);
    canonical_name(stem)
}

/// Parses `modules.builtin` (one `kernel/...ko` path per line) into canonical names.
pub fn parse_modules_builtin(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(name_from_path)
        .collect()
}

/// `name=` and `depends=` from a module's `.modinfo` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModInfoFields {
    /// `name=` (canonical), if present.
    pub name: Option<String>,
    /// `depends=` (canonical names).
    pub depends: Vec<String>,
    /// `vermagic=`, if present (starts with the kernel release).
    pub vermagic: Option<String>,
}

/// Reads `.modinfo` from an (uncompressed) module.
pub fn read_modinfo(ko: &[u8]) -> std::result::Result<ModInfoFields, String> {
    let elf = Elf::parse(ko).map_err(|e| e.to_string())?;
    if elf.e_type != ET_REL {
        return Err("not a relocatable ELF (kernel module)".into());
    }
    let section = elf
        .section_data(".modinfo")
        .map_err(|e| e.to_string())?
        .ok_or("no .modinfo section")?;
    let mut fields = ModInfoFields {
        name: None,
        depends: Vec::new(),
        vermagic: None,
    };
    for entry in section.split(|&b| b == 0) {
        let Ok(entry) = std::str::from_utf8(entry) else {
            continue;
        };
        if let Some(v) = entry.strip_prefix("name=") {
            fields.name = Some(canonical_name(v));
        } else if let Some(v) = entry.strip_prefix("depends=") {
            fields.depends = v
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(canonical_name)
                .collect();
        } else if let Some(v) = entry.strip_prefix("vermagic=") {
            fields.vermagic = Some(v.to_string());
        }
    }
    Ok(fields)
}

/// The modules to pack, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Canonical names, every module after all of its dependencies.
    pub load_order: Vec<String>,
    /// Wanted modules or dependencies that are built into the kernel (skipped).
    pub builtin: Vec<String>,
}

/// Orders `wanted` and everything they depend on, dependencies first (depth-first, in the order
/// given), skipping built-ins. Unknown modules and dependency cycles are errors.
pub fn resolve(
    graph: &DepGraph,
    builtin: &BTreeSet<String>,
    wanted: &[&str],
) -> Result<Resolution> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Visiting,
        Done,
    }
    struct Walk<'a> {
        graph: &'a DepGraph,
        builtin: &'a BTreeSet<String>,
        state: BTreeMap<String, State>,
        out: Resolution,
    }
    impl Walk<'_> {
        fn visit(&mut self, name: &str, needed_by: Option<&str>) -> Result<()> {
            let name = canonical_name(name);
            match self.state.get(&name) {
                Some(State::Done) => return Ok(()),
                Some(State::Visiting) => {
                    return Err(Error::Modules(format!("dependency cycle through {name}")))
                }
                None => {}
            }
            if self.builtin.contains(&name) {
                self.state.insert(name.clone(), State::Done);
                self.out.builtin.push(name);
                return Ok(());
            }
            let graph = self.graph;
            let info = graph.get(&name).ok_or_else(|| {
                Error::Modules(match needed_by {
                    Some(by) => format!(
                        "module {name} (needed by {by}) is neither in the package nor built in"
                    ),
                    None => format!("module {name} is neither in the package nor built in"),
                })
            })?;
            self.state.insert(name.clone(), State::Visiting);
            for dep in &info.depends {
                self.visit(dep, Some(&name))?;
            }
            self.state.insert(name.clone(), State::Done);
            self.out.load_order.push(name);
            Ok(())
        }
    }
    let mut walk = Walk {
        graph,
        builtin,
        state: BTreeMap::new(),
        out: Resolution {
            load_order: Vec::new(),
            builtin: Vec::new(),
        },
    };
    for w in wanted {
        walk.visit(w, None)?;
    }
    Ok(walk.out)
}

/// Gathers modules while a kernel package streams by: records every module's dependencies and
/// keeps the bytes of the ones that are (so far) needed, so one pass usually suffices.
#[derive(Debug, Default)]
pub struct Collector {
    /// Dependencies from `.modinfo`.
    pub graph: DepGraph,
    /// Kept module bytes (decompressed), by canonical name.
    pub kept: BTreeMap<String, Vec<u8>>,
    needed: BTreeSet<String>,
}

impl Collector {
    /// A collector that keeps `wanted` and whatever they turn out to need.
    pub fn new(wanted: &[&str]) -> Self {
        Collector {
            needed: wanted.iter().map(|w| canonical_name(w)).collect(),
            ..Default::default()
        }
    }

    /// Looks at one module file (`rel_path` relative to `lib/modules/<release>/`, `data` as
    /// shipped, possibly compressed).
    pub fn offer(&mut self, rel_path: &str, data: Vec<u8>) -> Result<()> {
        let ko = crate::deb::decompress_by_name(rel_path, data)
            .map_err(|e| Error::Modules(format!("cannot decompress {rel_path}: {e}")))?;
        let info = read_modinfo(&ko).map_err(|e| Error::Modules(format!("{rel_path}: {e}")))?;
        let name = info.name.unwrap_or_else(|| name_from_path(rel_path));
        if self.needed.contains(&name) {
            self.needed.extend(info.depends.iter().cloned());
            self.kept.insert(name.clone(), ko);
        }
        self.graph.insert(ModuleInfo {
            name,
            path: rel_path.to_string(),
            depends: info.depends,
        });
        Ok(())
    }

    /// Keeps a module's bytes regardless of need (second pass).
    pub fn keep(&mut self, name: &str, rel_path: &str, data: Vec<u8>) -> Result<()> {
        let ko = crate::deb::decompress_by_name(rel_path, data)
            .map_err(|e| Error::Modules(format!("cannot decompress {rel_path}: {e}")))?;
        self.kept.insert(canonical_name(name), ko);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::test_support::{build, TestSection};

    const DEP: &str = "\
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/fs/fuse/fuse.ko:
kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/net/vmw_vsock/vsock.ko:
kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko: kernel/net/vmw_vsock/vsock.ko
kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko: kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko kernel/net/vmw_vsock/vsock.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_balloon.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/fs/overlayfs/overlay.ko:
";

    fn position(order: &[String], name: &str) -> usize {
        order.iter().position(|n| n == name).unwrap()
    }

    #[test]
    fn resolves_dependencies_first() {
        let g = DepGraph::from_modules_dep(DEP).unwrap();
        assert_eq!(g.len(), 15);
        let r = resolve(
            &g,
            &BTreeSet::new(),
            &["vmw_vsock_virtio_transport", "virtiofs", "virtio_pci"],
        )
        .unwrap();
        // Every module comes after all its dependencies, each once.
        for (i, m) in r.load_order.iter().enumerate() {
            for d in &g.get(m).unwrap().depends {
                assert!(position(&r.load_order, d) < i, "{d} must precede {m}");
            }
        }
        assert_eq!(
            r.load_order,
            [
                "vsock",
                "vmw_vsock_virtio_transport_common",
                "virtio",
                "virtio_ring",
                "vmw_vsock_virtio_transport",
                "fuse",
                "virtiofs",
                "virtio_pci_modern_dev",
                "virtio_pci_legacy_dev",
                "virtio_pci"
            ]
        );
        assert!(r.builtin.is_empty());
        // Dashes and underscores are the same module.
        assert!(resolve(&g, &BTreeSet::new(), &["virtio-rng"]).is_ok());
    }

    #[test]
    fn built_ins_are_skipped_like_on_arm64() {
        let g = DepGraph::from_modules_dep(DEP).unwrap();
        let builtin = parse_modules_builtin(
            "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n",
        );
        let r = resolve(&g, &builtin, crate::pins::WANTED_MODULES).unwrap();
        assert_eq!(r.builtin, ["virtio_ring", "virtio"]);
        assert_eq!(
            r.load_order,
            [
                "virtio_pci_legacy_dev",
                "virtio_pci_modern_dev",
                "virtio_pci",
                "virtio_mmio",
                "fuse",
                "virtiofs",
                "vsock",
                "vmw_vsock_virtio_transport_common",
                "vmw_vsock_virtio_transport",
                "overlay",
                "virtio_console",
                "virtio_rng",
                "virtio_balloon"
            ]
        );
    }

    #[test]
    fn unknown_modules_and_cycles_are_errors() {
        let g = DepGraph::from_modules_dep(
            "kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\nkernel/c.ko: kernel/missing.ko\n",
        )
        .unwrap();
        let e = resolve(&g, &BTreeSet::new(), &["a"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("cycle"), "{e}");
        let e = resolve(&g, &BTreeSet::new(), &["c"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing (needed by c)"), "{e}");
        assert!(DepGraph::from_modules_dep("no colon here").is_err());
    }

    fn fake_ko(modinfo: &[u8]) -> Vec<u8> {
        build(
            ET_REL,
            crate::elf::EM_X86_64,
            None,
            false,
            &[TestSection {
                name: ".modinfo",
                data: modinfo,
            }],
        )
    }

    #[test]
    fn modinfo_and_collector_build_the_same_graph() {
        let ko = fake_ko(b"license=GPL\0depends=fuse,virtio,virtio_ring\0retpoline=Y\0name=virtiofs\0vermagic=6.1.0-56-amd64 SMP mod_unload\0");
        let info = read_modinfo(&ko).unwrap();
        assert_eq!(info.name.as_deref(), Some("virtiofs"));
        assert_eq!(info.depends, ["fuse", "virtio", "virtio_ring"]);
        assert!(info.vermagic.unwrap().starts_with("6.1.0-56-amd64 "));

        let g = DepGraph::from_modules_dep(DEP).unwrap();
        let mut c = Collector::new(&["virtiofs"]);
        // In archive order fuse comes before virtiofs: it is not known to be needed yet.
        for m in [
            "kernel/drivers/virtio/virtio.ko",
            "kernel/fs/fuse/fuse.ko",
            "kernel/fs/fuse/virtiofs.ko",
            "kernel/drivers/virtio/virtio_ring.ko",
            "kernel/net/vmw_vsock/vsock.ko",
        ] {
            let info = g.get(&name_from_path(m)).unwrap();
            let modinfo = format!("depends={}\0name={}\0", info.depends.join(","), info.name);
            c.offer(m, fake_ko(modinfo.as_bytes())).unwrap();
        }
        assert_eq!(
            c.kept.keys().collect::<Vec<_>>(),
            ["virtio_ring", "virtiofs"],
            "only what was known to be needed when it went by"
        );
        let r = resolve(&c.graph, &BTreeSet::new(), &["virtiofs"]).unwrap();
        assert_eq!(r.load_order, ["fuse", "virtio", "virtio_ring", "virtiofs"]);
        assert_eq!(
            c.graph.to_modules_dep().lines().find(|l| l.starts_with("kernel/fs/fuse/virtiofs.ko")),
            Some("kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko")
        );
    }

    #[test]
    fn module_names_from_paths() {
        assert_eq!(
            name_from_path("kernel/drivers/char/hw_random/virtio-rng.ko.xz"),
            "virtio_rng"
        );
        assert_eq!(name_from_path("fuse.ko"), "fuse");
        assert!(is_module_file("a/b.ko.zst"));
        assert!(!is_module_file("modules.order"));
        assert!(read_modinfo(b"not elf").is_err());
    }
}
