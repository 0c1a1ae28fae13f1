//! `workroom-image build --arch x86_64|aarch64 [--out DIR] [--agent-bin PATH]`

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use workroom_image::build::{self, BuildOptions};
use workroom_image::fetch::Fetcher;
use workroom_image::{agent, default_cache_dir, default_out_dir, pins, process_env, Arch};

const USAGE: &str = "\
Builds the Workroom guest image (kernel, initramfs, manifest).

Usage:
  workroom-image build --arch <x86_64|aarch64> [--out DIR] [--agent-bin PATH]
                       [--agent-version V] [--workspace DIR]
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
}

enum Command {
    Build(Args),
    Pins,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Command>> {
    match args.next().as_deref() {
        Some("build") => {}
        Some("pins") => return Ok(Some(Command::Pins)),
        Some("help" | "--help" | "-h") | None => return Ok(None),
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
    let mut arch = None;
    let mut out = None;
    let mut agent_bin = None;
    let mut agent_version = None;
    let mut workspace = None;
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
            "--help" | "-h" => return Ok(None),
            other => bail!("unknown option `{other}`\n\n{USAGE}"),
        }
    }
    let Some(arch) = arch else {
        bail!("--arch is required (x86_64 or aarch64)\n\n{USAGE}");
    };
    Ok(Some(Command::Build(Args {
        arch,
        out,
        agent_bin,
        agent_version,
        workspace,
    })))
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

fn main() -> Result<()> {
    let args = match parse(std::env::args().skip(1))? {
        None => {
            print!("{USAGE}");
            return Ok(());
        }
        Some(Command::Pins) => return check_pins(),
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
