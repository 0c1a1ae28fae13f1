//! `workroom-image build --arch x86_64|aarch64 [--out DIR] [--agent-bin PATH]`

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use workroom_image::build::{self, BuildOptions};
use workroom_image::fetch::Fetcher;
use workroom_image::{
    agent, default_cache_dir, default_out_dir, pins, process_env, userland, Arch,
};

const USAGE: &str = "\
Builds the Workroom guest image (kernel, initramfs, manifest).

Usage:
  workroom-image build --arch <x86_64|aarch64> [--out DIR] [--agent-bin PATH]
                       [--agent-version V] [--workspace DIR]
  workroom-image userland --arch <x86_64|aarch64> [--out DIR] [--office]
  workroom-image userland-lock [FILE]
  workroom-image pins
  workroom-image help

Options:
  --arch ARCH          guest architecture: x86_64 or aarch64 (required)
  --out DIR            output base directory; the image goes to DIR/<arch>/
                       (default: $WORKROOM_HOME/images, else $XDG_DATA_HOME/workroom/images,
                       else ~/.local/share/workroom/images)
  --agent-bin PATH     pack this static workroom-agent instead of cross-building one
  --agent-version V    version to record for --agent-bin
  --workspace DIR      cross-build workroom-agent from this Cargo workspace
                       (default: the one this builder was compiled in)

`userland` builds the full guest userland (Debian packages and Python wheels named by the lock
file, verified by SHA-256) into DIR/userland-<arch>/; --office adds LibreOffice.
`userland-lock` resolves the userland's packages afresh from the Debian and PyPI indices and
writes the lock file (default: vm-image/userland.lock.json in the source tree).
`pins` checks every pinned package against the Debian archive (still there? newer one?).

Downloads are cached in $WORKROOM_CACHE/downloads (else $XDG_CACHE_HOME/workroom/downloads,
else ~/.cache/workroom/downloads), named by SHA-256 and verified on every use.
The output directory is printed as the last line of stdout.
";

struct Args {
    arch: Arch,
    out: Option<PathBuf>,
    agent_bin: Option<PathBuf>,
    agent_version: Option<String>,
    workspace: Option<PathBuf>,
    office: bool,
}

enum Command {
    Build(Args),
    Userland(Args),
    UserlandLock(Option<PathBuf>),
    Pins,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Command>> {
    let userland = match args.next().as_deref() {
        Some("build") => false,
        Some("userland") => true,
        Some("userland-lock") => {
            return Ok(Some(Command::UserlandLock(args.next().map(PathBuf::from))))
        }
        Some("pins") => return Ok(Some(Command::Pins)),
        Some("help" | "--help" | "-h") | None => return Ok(None),
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
    };
    let mut arch = None;
    let mut out = None;
    let mut agent_bin = None;
    let mut agent_version = None;
    let mut workspace = None;
    let mut office = false;
    while let Some(arg) = args.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => bail!("{name} needs a value"),
            }
        };
        match key.as_str() {
            "--arch" => arch = Some(value("--arch")?.parse::<Arch>()?),
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--agent-bin" => agent_bin = Some(PathBuf::from(value("--agent-bin")?)),
            "--agent-version" => agent_version = Some(value("--agent-version")?),
            "--workspace" => workspace = Some(PathBuf::from(value("--workspace")?)),
            "--office" if userland => office = true,
            "--help" | "-h" => return Ok(None),
            other => bail!("unknown option `{other}`\n\n{USAGE}"),
        }
    }
    let Some(arch) = arch else {
        bail!("--arch is required (x86_64 or aarch64)\n\n{USAGE}");
    };
    let args = Args {
        arch,
        out,
        agent_bin,
        agent_version,
        workspace,
        office,
    };
    Ok(Some(if userland {
        Command::Userland(args)
    } else {
        Command::Build(args)
    }))
}

/// Reports, for every pinned package, whether its URL still answers and what the archive's
/// newest package of the same pattern is.
fn check_pins() -> Result<()> {
    let fetcher = Fetcher::new(default_cache_dir(process_env)?)?;
    let mut stale = 0;
    for arch in Arch::ALL {
        for pin in [pins::kernel(arch), pins::busybox(arch)] {
            let url = pin.url();
            let status = fetcher.head_status(&url)?;
            let current = fetcher.resolve_current(&pin, arch.debian())?;
            let newest = format!("{} {}", current.entry.package, current.entry.version);
            let same = current.entry.sha256 == pin.sha256;
            if !same || !status.is_success() {
                stale += 1;
            }
            println!(
                "{arch:8} {} {}: {} (HTTP {}); newest in the archive: {}{}",
                pin.package,
                pin.version,
                if status.is_success() {
                    "available"
                } else {
                    "GONE"
                },
                status.as_u16(),
                if same {
                    "the pinned one".to_string()
                } else {
                    newest
                },
                if same {
                    String::new()
                } else {
                    format!(
                        " ({}{}, sha256 {})",
                        current.suite.archive, current.entry.filename, current.entry.sha256
                    )
                }
            );
        }
    }
    if stale > 0 {
        println!("{stale} pin(s) out of date; update vm-image/src/pins.rs");
    }
    Ok(())
}

/// Builds the full userland for `args.arch`.
fn build_userland(args: Args) -> Result<()> {
    let options = userland::UserlandOptions {
        arch: args.arch,
        out_dir: match args.out {
            Some(dir) => dir,
            None => default_out_dir(process_env)?,
        },
        cache_dir: default_cache_dir(process_env)?,
        office: args.office,
        progress: Default::default(),
    };
    let (dir, manifest) = userland::build(&options)
        .with_context(|| format!("building the {} userland failed", options.arch))?;
    eprintln!(
        "{} packages and {} wheels, {} entries, {} (tree sha256 {})",
        manifest.packages,
        manifest.wheels,
        manifest.entries,
        workroom_image::fetch::human_size(manifest.size_bytes),
        manifest.tree_sha256
    );
    println!("{}", dir.display());
    Ok(())
}

/// Resolves the userland afresh and writes the lock file.
fn write_userland_lock(file: Option<PathBuf>) -> Result<()> {
    let file = file.unwrap_or_else(|| agent::workspace_root().join("vm-image/userland.lock.json"));
    let fetcher = Fetcher::new(default_cache_dir(process_env)?)?;
    let lock = userland::lock::generate(&fetcher).context("resolving the userland failed")?;
    std::fs::write(&file, lock.to_json())
        .with_context(|| format!("cannot write {}", file.display()))?;
    for (arch, entries) in &lock.arches {
        let bytes: u64 = entries.debs.iter().map(|d| d.size).sum::<u64>()
            + entries.wheels.iter().map(|w| w.size).sum::<u64>();
        let office: u64 = entries.office.iter().map(|d| d.size).sum();
        eprintln!(
            "{arch}: {} packages, {} wheels, {} to download; LibreOffice adds {} packages, {}",
            entries.debs.len(),
            entries.wheels.len(),
            workroom_image::fetch::human_size(bytes),
            entries.office.len(),
            workroom_image::fetch::human_size(office)
        );
    }
    println!("{}", file.display());
    Ok(())
}

fn main() -> Result<()> {
    let args = match parse(std::env::args().skip(1))? {
        None => {
            print!("{USAGE}");
            return Ok(());
        }
        Some(Command::Pins) => return check_pins(),
        Some(Command::UserlandLock(file)) => return write_userland_lock(file),
        Some(Command::Userland(args)) => return build_userland(args),
        Some(Command::Build(args)) => args,
    };
    let out_dir = match args.out {
        Some(dir) => dir,
        None => default_out_dir(process_env)?,
    };
    let agent_bin = match args.agent_bin {
        Some(p) => Some(
            p.canonicalize()
                .with_context(|| format!("--agent-bin {}", p.display()))?,
        ),
        None => None,
    };
    let opts = BuildOptions {
        arch: args.arch,
        out_dir,
        cache_dir: default_cache_dir(process_env)?,
        agent_bin,
        agent_version: args.agent_version,
        workspace: args.workspace.unwrap_or_else(agent::workspace_root),
        progress: Default::default(),
    };
    let report = build::build(&opts)
        .with_context(|| format!("building the {} guest image failed", opts.arch))?;
    println!("{}", report.dir.display());
    Ok(())
}
