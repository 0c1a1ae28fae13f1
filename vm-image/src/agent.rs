//! Cross-building the static guest agent (`workroom-agent` for `<arch>-unknown-linux-musl`) and
//! checking a given binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::elf::{Elf, ET_DYN, ET_EXEC};
use crate::{Arch, Error, Result};

/// The agent's package and binary name.
pub const AGENT_PACKAGE: &str = "workroom-agent";

/// A built (or given) agent binary.
#[derive(Debug, Clone)]
pub struct AgentBinary {
    /// Where it is.
    pub path: PathBuf,
    /// Package version (`None` when given with `--agent-bin` and no version was said).
    pub version: Option<String>,
    /// `built` or `given`.
    pub source: &'static str,
}

/// The workspace this builder belongs to (where `workroom-agent` lives).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Adds the Rust target with rustup when it is missing (no-op without rustup).
pub fn ensure_target(arch: Arch) -> Result<()> {
    let target = arch.rust_target();
    let Ok(out) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .stderr(Stdio::inherit())
        .output()
    else {
        eprintln!("rustup not found; assuming the {target} standard library is installed");
        return Ok(());
    };
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == target)
    {
        return Ok(());
    }
    eprintln!("adding Rust target {target} (rustup target add {target})");
    let status = Command::new("rustup")
        .args(["target", "add", target])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| Error::Agent(format!("cannot run rustup target add {target}: {e}")))?;
    if !status.success() {
        return Err(Error::Agent(format!(
            "`rustup target add {target}` failed ({status})"
        )));
    }
    Ok(())
}

/// `cargo build --release -p workroom-agent --no-default-features --target <triple>` in
/// `workspace`, honouring `CARGO_TARGET_DIR`; returns the executable cargo reports.
pub fn build(arch: Arch, workspace: &Path) -> Result<AgentBinary> {
    ensure_target(arch)?;
    let target = arch.rust_target();
    let mut cmd = Command::new(cargo());
    cmd.current_dir(workspace)
        .args([
            "build",
            "--release",
            "-p",
            AGENT_PACKAGE,
            "--bin",
            AGENT_PACKAGE,
            "--no-default-features",
            "--target",
            target,
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if arch == Arch::Aarch64 || !cfg!(target_os = "linux") {
        // The host's default linker cannot link aarch64 musl (recipe §2.1), and on macOS it links
        // no Linux programs at all; rust-lld can (the agent is pure Rust, so no C toolchain is needed).
        let key = format!(
            "CARGO_TARGET_{}_LINKER",
            target.to_ascii_uppercase().replace('-', "_")
        );
        if std::env::var_os(&key).is_none() {
            cmd.env(key, "rust-lld");
        }
    }
    eprintln!(
        "building {AGENT_PACKAGE} for {target} (cargo build --release -p {AGENT_PACKAGE} --no-default-features --target {target})"
    );
    let out = cmd
        .output()
        .map_err(|e| Error::Agent(format!("cannot run cargo: {e}")))?;
    if !out.status.success() {
        return Err(Error::Agent(format!(
            "cargo build for {target} failed ({}); see the compiler output above",
            out.status
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut found: Option<(PathBuf, Option<String>)> = None;
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" || msg["target"]["name"] != AGENT_PACKAGE {
            continue;
        }
        if let Some(exe) = msg["executable"].as_str() {
            let version = msg["package_id"].as_str().and_then(version_from_package_id);
            found = Some((PathBuf::from(exe), version));
        }
    }
    let (path, version) = found
        .ok_or_else(|| Error::Agent("cargo did not report a workroom-agent executable".into()))?;
    let version = match version {
        Some(v) => Some(v),
        None => package_version(workspace)?,
    };
    Ok(AgentBinary {
        path,
        version,
        source: "built",
    })
}

/// The version in a cargo package id (`path+file:///x/guest-agent#workroom-agent@0.1.0`,
/// `path+file:///x/workroom-agent#0.1.0`, or the old `workroom-agent 0.1.0 (path+file:///x)`).
pub fn version_from_package_id(id: &str) -> Option<String> {
    if let Some((_, frag)) = id.rsplit_once('#') {
        let v = frag.rsplit_once('@').map_or(frag, |(_, v)| v);
        return looks_like_version(v).then(|| v.to_string());
    }
    let mut parts = id.split_whitespace();
    let (_, v) = (parts.next()?, parts.next()?);
    looks_like_version(v).then(|| v.to_string())
}

fn looks_like_version(v: &str) -> bool {
    v.split('.').count() >= 3 && v.starts_with(|c: char| c.is_ascii_digit())
}

/// The agent's version from `cargo metadata`.
fn package_version(workspace: &Path) -> Result<Option<String>> {
    let out = Command::new(cargo())
        .current_dir(workspace)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::Agent(format!("cannot run cargo metadata: {e}")))?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Agent(format!("cargo metadata printed bad JSON: {e}")))?;
    Ok(meta["packages"].as_array().and_then(|pkgs| {
        pkgs.iter()
            .find(|p| p["name"] == AGENT_PACKAGE)
            .and_then(|p| p["version"].as_str())
            .map(str::to_string)
    }))
}

/// Checks that `data` is a statically linked ELF executable for `arch` (no `PT_INTERP`: the kernel
/// can run it as `/init` with nothing else in the initramfs).
pub fn verify_static_elf(data: &[u8], arch: Arch, what: &str) -> Result<()> {
    let bad = |message: String| Error::Elf {
        what: what.to_string(),
        message,
    };
    let elf = Elf::parse(data).map_err(|e| bad(e.to_string()))?;
    if elf.e_machine != arch.elf_machine() {
        return Err(bad(format!(
            "built for ELF machine {} but {arch} needs {}",
            elf.e_machine,
            arch.elf_machine()
        )));
    }
    if elf.e_type != ET_EXEC && elf.e_type != ET_DYN {
        return Err(bad(format!("not an executable (ELF type {})", elf.e_type)));
    }
    if elf.has_interpreter().map_err(|e| bad(e.to_string()))? {
        return Err(bad(
            "dynamically linked (has an interpreter); it must be a static musl binary".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::test_support::build as elf;
    use crate::elf::{EM_AARCH64, EM_X86_64};

    #[test]
    fn static_elf_checks() {
        let ok = elf(ET_DYN, EM_X86_64, None, false, &[]);
        verify_static_elf(&ok, Arch::X86_64, "agent").unwrap();
        let e = verify_static_elf(&ok, Arch::Aarch64, "agent")
            .unwrap_err()
            .to_string();
        assert!(e.contains("machine 62"), "{e}");
        let dynamic = elf(ET_DYN, EM_AARCH64, None, true, &[]);
        let e = verify_static_elf(&dynamic, Arch::Aarch64, "agent")
            .unwrap_err()
            .to_string();
        assert!(e.contains("dynamically linked"), "{e}");
        assert!(verify_static_elf(b"#!/bin/sh\n", Arch::X86_64, "agent").is_err());
    }

    #[test]
    fn versions_from_package_ids() {
        assert_eq!(
            version_from_package_id("path+file:///work/main/guest-agent#workroom-agent@0.1.0")
                .as_deref(),
            Some("0.1.0")
        );
        assert_eq!(
            version_from_package_id("path+file:///work/main/workroom-agent#0.2.3").as_deref(),
            Some("0.2.3")
        );
        assert_eq!(
            version_from_package_id("workroom-agent 0.1.0 (path+file:///work/main/guest-agent)")
                .as_deref(),
            Some("0.1.0")
        );
        assert_eq!(version_from_package_id("garbage"), None);
    }
}
