//! Turning a [`VmConfig`] into what the Virtualization framework is given: checked numbers, the
//! kernel command line, the directory share. Pure (plus [`VzPlan::check_files`]), so it is tested on
//! every OS; `vz` only copies the plan into framework objects.

use std::path::PathBuf;
use std::time::Duration;

use workroom_protocol::vm::{cmdline, decode_cmdline_value};

use super::shares::{guest_source, ShareSet, DEVICE_TAG};
use crate::vm::{Arch, VmConfig, VmError};

/// The least guest memory the image boots with.
const MIN_MEMORY_MIB: u32 = 64;

/// The start of every command line. VZ has no UART for Linux guests: the console is the virtio
/// console's first port, `hvc0`, on both architectures (the `virtio_console` module is in the image).
/// `panic=-1` makes a guest kernel panic reboot, which the framework reports as the guest stopping,
/// so a panic ends the VM at once instead of waiting for the boot watchdog.
const BASE_CMDLINE: &[&str] = &["console=hvc0", "quiet", "cryptomgr.notests", "panic=-1"];

/// Everything a VZ VM is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VzPlan {
    /// Guest architecture: the host's (VZ runs no other).
    pub arch: Arch,
    /// The kernel: the uncompressed arm64 `Image`, or the x86_64 kernel on Intel Macs.
    pub kernel: PathBuf,
    /// The initramfs.
    pub initramfs: PathBuf,
    /// The full kernel command line.
    pub command_line: String,
    /// Guest memory in bytes.
    pub memory_bytes: u64,
    /// Virtual CPUs.
    pub cpus: usize,
    /// The directories of the one VirtioFS device ([`DEVICE_TAG`]).
    pub shares: ShareSet,
    /// vsock ports the guest dials; the first one is the boot watchdog's.
    pub listen_ports: Vec<u32>,
    /// Where the console goes.
    pub console_log: PathBuf,
    /// The per-VM directory (created by `start`, removed with the VM).
    pub run_dir: PathBuf,
    /// How long the guest may take to dial `listen_ports[0]`.
    pub boot_timeout: Duration,
}

impl VzPlan {
    /// Checks `config` and builds the plan; nothing is touched on disk.
    pub fn new(config: &VmConfig) -> Result<Self, VmError> {
        let invalid = |msg: String| Err(VmError::InvalidConfig(msg));
        if Arch::host() != Some(config.arch) {
            return invalid(format!(
                "the guest is {} but this Mac is {}; Apple's Virtualization framework runs guests of the host's architecture only",
                config.arch,
                std::env::consts::ARCH
            ));
        }
        if config.listen_ports.is_empty() {
            return invalid(
                "listen_ports is empty; the guest needs at least the supervisor port".into(),
            );
        }
        if config.memory_mib < MIN_MEMORY_MIB {
            return invalid(format!(
                "memory_mib is {}; the guest needs at least {MIN_MEMORY_MIB}",
                config.memory_mib
            ));
        }
        if config.cpus == 0 {
            return invalid("cpus is 0".into());
        }
        let shares = ShareSet::from_shares(&config.shares)
            .map_err(|e| VmError::InvalidConfig(e.to_string()))?;
        let mut words: Vec<String> = BASE_CMDLINE.iter().map(|w| w.to_string()).collect();
        for word in &config.cmdline_extra {
            if word.is_empty() || word.contains(char::is_whitespace) {
                return invalid(format!(
                    "kernel command line word {word:?} is empty or contains whitespace"
                ));
            }
            words.push(rewrite_share_word(word, &shares)?);
        }
        Ok(VzPlan {
            arch: config.arch,
            kernel: config.kernel.clone(),
            initramfs: config.initramfs.clone(),
            command_line: words.join(" "),
            memory_bytes: u64::from(config.memory_mib) * 1024 * 1024,
            cpus: usize::try_from(config.cpus).unwrap_or(usize::MAX),
            shares,
            listen_ports: config.listen_ports.clone(),
            console_log: config.console_log.clone(),
            run_dir: config.run_dir.clone(),
            boot_timeout: config.boot_timeout,
        })
    }

    /// Checks that the kernel, the initramfs and every shared folder can be used (the framework's
    /// own errors for these are much less clear).
    pub async fn check_files(&self) -> Result<(), VmError> {
        for (what, path) in [
            ("the guest kernel", &self.kernel),
            ("the guest initramfs", &self.initramfs),
        ] {
            if let Err(source) = tokio::fs::File::open(path).await {
                return Err(VmError::MissingFile {
                    what,
                    path: path.clone(),
                    source,
                });
            }
        }
        for (_, dir) in self.shares.iter() {
            let source = match tokio::fs::metadata(&dir.host_path).await {
                Ok(meta) if meta.is_dir() => continue,
                Ok(_) => std::io::Error::other("it is not a folder"),
                Err(e) => e,
            };
            return Err(VmError::MissingFile {
                what: "the shared folder",
                path: dir.host_path.clone(),
                source,
            });
        }
        Ok(())
    }

    /// The VirtioFS tag of the directory-sharing device, if there is one.
    pub fn device_tag(&self) -> Option<&'static str> {
        (!self.shares.is_empty()).then_some(DEVICE_TAG)
    }
}

/// `workroom.share=<tag>:<path>` names a QEMU-style device per share; here every share is a
/// subdirectory of the one device, so the word becomes `workroom.share=<device>/<tag>:<path>`.
/// Other words pass through unchanged.
fn rewrite_share_word(word: &str, shares: &ShareSet) -> Result<String, VmError> {
    let Some(value) = word
        .strip_prefix(cmdline::SHARE)
        .and_then(|rest| rest.strip_prefix('='))
    else {
        return Ok(word.to_string());
    };
    let parsed = value
        .split_once(':')
        .filter(|(_, path)| decode_cmdline_value(path).is_some_and(|p| p.starts_with('/')));
    match parsed {
        Some((tag, path)) if shares.contains(tag) => Ok(format!(
            "{}={}:{path}",
            cmdline::SHARE,
            guest_source(tag)
        )),
        Some((tag, _)) => Err(VmError::InvalidConfig(format!(
            "kernel command line word {word:?} mounts share {tag:?}, which is not one of the VM's shares"
        ))),
        None => Err(VmError::InvalidConfig(format!(
            "kernel command line word {word:?} is not <tag>:<absolute guest path>"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::Share;
    use workroom_protocol::vm::ports;

    fn config() -> VmConfig {
        let mut c = VmConfig::new(
            "/img/kernel".into(),
            "/img/initramfs.cpio.gz".into(),
            "/run/w/vm1".into(),
            "/var/w/console.log".into(),
        );
        c.memory_mib = 1024;
        c.cpus = 2;
        c.shares = vec![
            Share {
                tag: "f0".into(),
                host_path: "/Users/u/Taxes".into(),
                read_only: false,
            },
            Share {
                tag: "state".into(),
                host_path: "/Users/u/state".into(),
                read_only: true,
            },
        ];
        c.cmdline_extra = vec![
            "workroom.share=f0:/sessions/x/mnt/Taxes%202026".into(),
            "workroom.share=state:/run/workroom/state".into(),
            "workroom.log=info".into(),
        ];
        c
    }

    #[test]
    fn a_config_becomes_one_share_device_and_an_hvc0_command_line() {
        let plan = VzPlan::new(&config()).unwrap();
        assert_eq!(
            plan.command_line,
            "console=hvc0 quiet cryptomgr.notests panic=-1 \
             workroom.share=workroom/f0:/sessions/x/mnt/Taxes%202026 \
             workroom.share=workroom/state:/run/workroom/state workroom.log=info"
        );
        assert_eq!(plan.memory_bytes, 1024 * 1024 * 1024);
        assert_eq!(plan.cpus, 2);
        assert_eq!(plan.device_tag(), Some("workroom"));
        let dirs: Vec<_> = plan
            .shares
            .iter()
            .map(|(n, d)| (n, d.host_path.to_str().unwrap(), d.read_only))
            .collect();
        assert_eq!(
            dirs,
            [
                ("f0", "/Users/u/Taxes", false),
                ("state", "/Users/u/state", true)
            ]
        );
        assert_eq!(plan.listen_ports[0], ports::SUPERVISOR);
    }

    #[test]
    fn no_shares_means_no_device() {
        let mut c = config();
        c.shares.clear();
        c.cmdline_extra.clear();
        assert_eq!(VzPlan::new(&c).unwrap().device_tag(), None);
    }

    #[test]
    fn invalid_configs_are_refused_with_reasons() {
        let reason = |c: VmConfig| match VzPlan::new(&c) {
            Err(VmError::InvalidConfig(msg)) => msg,
            other => panic!("expected InvalidConfig, got {other:?}"),
        };
        let mut c = config();
        c.memory_mib = 32;
        assert!(reason(c).contains("at least 64"));
        let mut c = config();
        c.cpus = 0;
        assert_eq!(reason(c), "cpus is 0");
        let mut c = config();
        c.listen_ports.clear();
        assert!(reason(c).contains("supervisor port"));
        let mut c = config();
        c.cmdline_extra.push("workroom.share=f9:/mnt/x".into());
        assert!(reason(c).contains("not one of the VM's shares"));
        let mut c = config();
        c.cmdline_extra.push("workroom.share=f0:relative".into());
        assert!(reason(c).contains("absolute guest path"));
        let mut c = config();
        c.cmdline_extra.push("two words".into());
        assert!(reason(c).contains("whitespace"));
        let mut c = config();
        c.shares[1].tag = "f0".into();
        assert!(reason(c).contains("used twice"));
        let mut c = config();
        c.arch = match Arch::default() {
            Arch::X86_64 => Arch::Aarch64,
            Arch::Aarch64 => Arch::X86_64,
        };
        assert!(reason(c).contains("host's architecture"));
    }

    #[tokio::test]
    async fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("kernel");
        std::fs::write(&kernel, "k").unwrap();
        let mut c = config();
        c.kernel = kernel.clone();
        c.initramfs = kernel;
        c.shares[0].host_path = dir.path().to_path_buf();
        c.shares[1].host_path = dir.path().join("gone");
        let err = VzPlan::new(&c)
            .unwrap()
            .check_files()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the shared folder ") && err.contains("gone cannot be used"),
            "{err}"
        );
        c.shares[1].host_path = dir.path().to_path_buf();
        VzPlan::new(&c).unwrap().check_files().await.unwrap();
    }
}
