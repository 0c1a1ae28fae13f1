//! KVM or TCG: what the host allows, what was asked for, and what worked last time.
//!
//! `/dev/kvm` existing is not enough: on some hosts (nested PVM virtualisation, for one) it opens and
//! answers ioctls but stock guest kernels hang without a byte of output. So the QEMU backend boots
//! with KVM and watches for progress; when there is none it falls back to TCG and records the verdict
//! in `<state_dir>/accel.json`, keyed by what could change it (host kernel release, the `/dev/kvm`
//! device and the KVM modules loaded, the QEMU binary and version), so the next start goes straight
//! to the accelerator that works. `WORKROOM_ACCEL=kvm|tcg|auto` overrides everything.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The environment variable that overrides the accelerator choice.
pub const ACCEL_ENV: &str = "WORKROOM_ACCEL";

/// The accelerator a VM actually runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accel {
    /// Linux KVM (hardware virtualisation).
    Kvm,
    /// QEMU's software emulation.
    Tcg,
    /// Apple's Virtualization framework (macOS backend).
    AppleVirtualization,
}

impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "KVM",
            Accel::Tcg => "TCG (software emulation)",
            Accel::AppleVirtualization => "Apple Virtualization",
        })
    }
}

/// What the caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccelPreference {
    /// KVM if it works here (probed, remembered), else TCG.
    #[default]
    Auto,
    /// KVM or an error; no fallback.
    Kvm,
    /// Always TCG.
    Tcg,
}

impl AccelPreference {
    /// Parses `kvm`, `tcg` or `auto` (case-insensitive).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Some(AccelPreference::Auto),
            "kvm" => Some(AccelPreference::Kvm),
            "tcg" => Some(AccelPreference::Tcg),
            _ => None,
        }
    }

    /// `configured`, unless `WORKROOM_ACCEL` says otherwise (`env` is its value). An unknown value is
    /// ignored with a warning.
    pub fn with_env_override(configured: AccelPreference, env: Option<&str>) -> AccelPreference {
        match env {
            None => configured,
            Some(value) => match AccelPreference::parse(value) {
                Some(AccelPreference::Auto) => configured,
                Some(forced) => forced,
                None => {
                    tracing::warn!(value, "{ACCEL_ENV} must be kvm, tcg or auto; ignoring it");
                    configured
                }
            },
        }
    }
}

/// What identifies "the same host" for a remembered verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostIdentity {
    /// `uname -r`.
    pub kernel_release: String,
    /// `/dev/kvm` device number and the loaded `kvm*` modules, e.g. `10:232 kvm,kvm_pvm`.
    pub kvm_device: String,
    /// The QEMU binary.
    pub qemu: PathBuf,
    /// The first line of `qemu --version`.
    pub qemu_version: String,
}

/// One remembered verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The host it applies to.
    #[serde(flatten)]
    pub host: HostIdentity,
    /// What works.
    pub accel: Accel,
    /// Why, in a sentence.
    pub reason: String,
    /// When it was decided (Unix seconds).
    pub decided_at: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct VerdictFile {
    verdicts: Vec<Verdict>,
}

/// `<state_dir>/accel.json`.
#[derive(Debug, Clone)]
pub struct VerdictStore {
    path: PathBuf,
}

impl VerdictStore {
    /// The store in `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        VerdictStore {
            path: state_dir.join("accel.json"),
        }
    }

    /// The file it lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The remembered accelerator for `host`, if any. A missing or unreadable file means none.
    pub async fn lookup(&self, host: &HostIdentity) -> Option<Verdict> {
        self.load()
            .await
            .verdicts
            .into_iter()
            .find(|v| &v.host == host)
    }

    /// Remembers `accel` for `host`, replacing an older verdict for it. Written atomically.
    pub async fn remember(
        &self,
        host: &HostIdentity,
        accel: Accel,
        reason: &str,
    ) -> std::io::Result<()> {
        let mut file = self.load().await;
        file.verdicts.retain(|v| &v.host != host);
        let decided_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        file.verdicts.push(Verdict {
            host: host.clone(),
            accel,
            reason: reason.to_string(),
            decided_at,
        });
        let json = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        if let Some(dir) = self.path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let tmp = self.path.with_extension("json.tmp");
        tokio::fs::write(&tmp, json).await?;
        tokio::fs::rename(&tmp, &self.path).await
    }

    async fn load(&self) -> VerdictFile {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(path = %self.path.display(), %error, "ignoring an unreadable accelerator verdict file");
                VerdictFile::default()
            }),
            Err(_) => VerdictFile::default(),
        }
    }
}

/// The host facts for [`HostIdentity`] except QEMU's: kernel release and the KVM device description.
pub async fn host_kernel_and_kvm() -> (String, String) {
    let release = tokio::fs::read_to_string("/proc/sys/kernel/osrelease")
        .await
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let device = match tokio::fs::metadata("/dev/kvm").await {
        Ok(meta) => {
            use std::os::unix::fs::MetadataExt;
            super::os::device_number(meta.rdev())
        }
        Err(_) => "absent".to_string(),
    };
    let mut modules = Vec::new();
    if let Ok(mut dir) = tokio::fs::read_dir("/sys/module").await {
        while let Ok(Some(entry)) = dir.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "kvm" || name.starts_with("kvm_") {
                modules.push(name);
            }
        }
    }
    modules.sort();
    (release, format!("{device} {}", modules.join(",")))
}

/// Whether `/dev/kvm` can be opened read-write and speaks the stable KVM API (version 12). `Err` says
/// why not in a sentence.
pub async fn kvm_device_usable() -> Result<(), String> {
    tokio::task::spawn_blocking(|| {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .map_err(|e| format!("/dev/kvm cannot be opened ({e})"))?;
        const KVM_GET_API_VERSION: libc::c_ulong = 0xAE00;
        // SAFETY: KVM_GET_API_VERSION takes no argument and only returns an integer.
        let version = unsafe { libc::ioctl(file.as_raw_fd(), KVM_GET_API_VERSION as _, 0) };
        if version == 12 {
            Ok(())
        } else {
            Err(format!(
                "/dev/kvm answers KVM_GET_API_VERSION with {version}, not 12"
            ))
        }
    })
    .await
    .unwrap_or_else(|e| Err(format!("checking /dev/kvm failed ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(release: &str) -> HostIdentity {
        HostIdentity {
            kernel_release: release.into(),
            kvm_device: "10:232 kvm,kvm_pvm".into(),
            qemu: "/usr/bin/qemu-system-x86_64".into(),
            qemu_version: "QEMU emulator version 10.0.2".into(),
        }
    }

    #[tokio::test]
    async fn verdicts_persist_per_host_identity() {
        let dir = tempfile::tempdir().unwrap();
        let store = VerdictStore::new(&dir.path().join("state"));
        assert_eq!(store.lookup(&host("6.18")).await, None);

        store
            .remember(
                &host("6.18"),
                Accel::Tcg,
                "KVM did not boot the guest within 3 s",
            )
            .await
            .unwrap();
        store
            .remember(&host("6.19"), Accel::Kvm, "KVM booted the guest")
            .await
            .unwrap();
        store
            .remember(&host("6.18"), Accel::Tcg, "again")
            .await
            .unwrap();

        let again = VerdictStore::new(&dir.path().join("state"));
        let v = again.lookup(&host("6.18")).await.unwrap();
        assert_eq!((v.accel, v.reason.as_str()), (Accel::Tcg, "again"));
        assert_eq!(again.lookup(&host("6.19")).await.unwrap().accel, Accel::Kvm);
        let mut other_qemu = host("6.18");
        other_qemu.qemu_version = "QEMU emulator version 7.2.22".into();
        assert_eq!(
            again.lookup(&other_qemu).await,
            None,
            "a new QEMU is probed again"
        );

        let text = std::fs::read_to_string(again.path()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["verdicts"].as_array().unwrap().len(), 2);
        assert_eq!(json["verdicts"][1]["kernel_release"], "6.18");
        assert_eq!(json["verdicts"][1]["accel"], "tcg");
    }

    #[tokio::test]
    async fn a_corrupt_file_is_no_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let store = VerdictStore::new(dir.path());
        std::fs::write(store.path(), "{not json").unwrap();
        assert_eq!(store.lookup(&host("x")).await, None);
        store.remember(&host("x"), Accel::Tcg, "r").await.unwrap();
        assert_eq!(store.lookup(&host("x")).await.unwrap().accel, Accel::Tcg);
    }

    #[test]
    fn env_overrides_the_configured_preference() {
        use AccelPreference::*;
        assert_eq!(AccelPreference::with_env_override(Auto, None), Auto);
        assert_eq!(AccelPreference::with_env_override(Auto, Some("TCG")), Tcg);
        assert_eq!(AccelPreference::with_env_override(Tcg, Some("kvm")), Kvm);
        assert_eq!(AccelPreference::with_env_override(Kvm, Some("auto")), Kvm);
        assert_eq!(AccelPreference::with_env_override(Tcg, Some("fast")), Tcg);
    }
}
