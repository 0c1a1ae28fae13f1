//! The QEMU backend for Linux hosts: the command line, one boot attempt (daemons + QEMU + console),
//! and the KVM probe with its TCG fallback.
//!
//! The x86_64 line is the fastest measured one on a TCG host (recipe §3.2): `microvm` with ACPI,
//! the PVH `vmlinux`, virtio-mmio vhost-user devices, a trimmed kernel command line and
//! `tsc_early_khz` from the host (without it the guest can hang calibrating its TSC under load, because
//! `microvm` has no HPET or PM timer). Guest RAM is a shared memfd (vhost-user daemons map it; with
//! `share=off` nothing errors but vsock never connects). `q35` is kept as an option; aarch64 uses `virt`
//! with PCI devices.
//!
//! `microvm` runs with `pit=off`: with QEMU 10.0 under TCG and a busy host, the Debian 6.1 guest
//! often dies right after enabling interrupts (`divide error` in `start_kernel`, then a silent reset
//! that ends QEMU with status 0) while the i8254 PIT is present; measured here: 0 of 5 boots failed
//! with `pit=off`, 4 of 5 without, in the same minutes (q35 was unaffected). Without the PIT the
//! guest cannot calibrate its TSC itself, so `tsc_early_khz` is required: when the host's frequency
//! is unknown the backend boots `q35` instead.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use super::accel::{self, Accel, AccelPreference, HostIdentity, VerdictStore, ACCEL_ENV};
use super::console::Console;
use super::daemons::{DaemonSockets, Daemons, FsSandbox};
use super::instance::QemuVm;
use super::listener::{port_socket_path, VsockListeners};
use super::process::{ChildProc, ChildSpec};
use super::tools::{Tools, QEMU_AARCH64};
use super::{Arch, BoxFuture, MissingTool, Vm, VmBackend, VmConfig, VmError};

/// How long a KVM boot may show no sign of life before we fall back to TCG.
pub const KVM_PROBE_WINDOW: Duration = Duration::from_secs(3);

/// The longest Unix socket path (`sun_path` holds 108 bytes including the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// x86_64 machine type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MachineKind {
    /// `microvm` + virtio-mmio: fastest boot (default).
    #[default]
    Microvm,
    /// `q35` + virtio-pci: slower to boot, needs no `tsc_early_khz`.
    Q35,
}

/// How the QEMU backend runs VMs.
#[derive(Debug, Clone)]
pub struct QemuOptions {
    /// The programs.
    pub tools: Tools,
    /// KVM, TCG or probe (overridden by `WORKROOM_ACCEL`).
    pub accel: AccelPreference,
    /// Where the KVM verdict is remembered (`accel.json`).
    pub state_dir: PathBuf,
    /// x86_64 machine type.
    pub machine: MachineKind,
    /// How long a KVM boot may show no progress before falling back to TCG.
    pub kvm_probe_window: Duration,
    /// `virtiofsd`'s sandbox (namespace, falling back to none where namespaces are not allowed).
    pub fs_sandbox: FsSandbox,
}

impl QemuOptions {
    /// Defaults: probe KVM, `microvm`, 3 s probe window, namespace sandbox.
    pub fn new(tools: Tools, state_dir: PathBuf) -> Self {
        QemuOptions {
            tools,
            accel: AccelPreference::Auto,
            state_dir,
            machine: MachineKind::Microvm,
            kvm_probe_window: KVM_PROBE_WINDOW,
            fs_sandbox: FsSandbox::Namespace,
        }
    }
}

/// Runs VMs with QEMU, `virtiofsd` and `vhost-device-vsock`.
#[derive(Debug)]
pub struct QemuBackend {
    options: QemuOptions,
    tsc_khz: OnceCell<Option<u64>>,
}

impl QemuBackend {
    /// A backend with these options.
    pub fn new(options: QemuOptions) -> Self {
        QemuBackend {
            options,
            tsc_khz: OnceCell::new(),
        }
    }

    /// The options it runs with.
    pub fn options(&self) -> &QemuOptions {
        &self.options
    }

    /// [`VmBackend::start`] with the concrete handle type.
    pub async fn start_vm(&self, config: VmConfig) -> Result<QemuVm, VmError> {
        validate(&config).await?;
        let qemu = self.qemu_binary(config.arch)?;
        prepare_run_dir(&config.run_dir).await?;
        let started = self.boot(config.clone(), qemu).await;
        if started.is_err() {
            let _ = tokio::fs::remove_dir_all(&config.run_dir).await;
        }
        started
    }

    fn qemu_binary(&self, arch: Arch) -> Result<PathBuf, VmError> {
        match arch {
            Arch::X86_64 => Ok(self.options.tools.qemu_x86.clone()),
            Arch::Aarch64 => self.options.tools.qemu_aarch64.clone().ok_or_else(|| {
                VmError::MissingTool(MissingTool {
                    missing: vec![QEMU_AARCH64],
                    searched: vec![],
                })
            }),
        }
    }

    async fn boot(&self, config: VmConfig, qemu: PathBuf) -> Result<QemuVm, VmError> {
        let sockets = DaemonSockets::new(&config.run_dir, config.shares.len());
        let listeners = Arc::new(VsockListeners::bind(&sockets.uds, &config.listen_ports).await?);
        let plan = self.accel_plan(config.arch, &qemu).await?;
        // microvm boots without the PIT (see `qemu_args`), so it needs the TSC frequency from the
        // host; without it, q35 (HPET) is the safe choice.
        let (machine, tsc_khz) = match (config.arch, self.options.machine) {
            (Arch::X86_64, MachineKind::Microvm) => {
                match *self.tsc_khz.get_or_init(host_tsc_khz).await {
                    Some(khz) => (MachineKind::Microvm, Some(khz)),
                    None => (MachineKind::Q35, None),
                }
            }
            (_, machine) => (machine, None),
        };
        let mut accel = plan.first;
        let attempt = loop {
            let launch = Launch {
                config: &config,
                qemu: &qemu,
                machine,
                accel,
                tsc_khz,
                sockets: &sockets,
            };
            let attempt = Attempt::launch(&launch, &self.options).await?;
            if !(accel == Accel::Kvm && plan.probe) {
                break attempt;
            }
            let window = self.options.kvm_probe_window;
            match attempt.probe_kvm(&listeners, window).await {
                Ok(()) => {
                    if let Some(host) = &plan.host {
                        if plan.remembered != Some(Accel::Kvm) {
                            self.remember(host, Accel::Kvm, "KVM booted the guest")
                                .await;
                        }
                    }
                    break attempt;
                }
                Err(why) => {
                    tracing::warn!("{why}; falling back to TCG (software emulation)");
                    attempt.kill().await;
                    if let Some(host) = &plan.host {
                        self.remember(host, Accel::Tcg, &why).await;
                    }
                    accel = Accel::Tcg;
                }
            }
        };
        tracing::info!(
            accel = %attempt.accel,
            run_dir = %config.run_dir.display(),
            pid = attempt.qemu.pid(),
            "VM started"
        );
        Ok(QemuVm::new(config, attempt, listeners, sockets))
    }

    async fn remember(&self, host: &HostIdentity, accel: Accel, reason: &str) {
        let store = VerdictStore::new(&self.options.state_dir);
        if let Err(error) = store.remember(host, accel, reason).await {
            tracing::warn!(path = %store.path().display(), %error, "could not remember the accelerator verdict");
        }
    }

    async fn accel_plan(&self, arch: Arch, qemu: &Path) -> Result<AccelPlan, VmError> {
        let env = std::env::var(ACCEL_ENV).ok();
        let preference = AccelPreference::with_env_override(self.options.accel, env.as_deref());
        let native = Arch::host() == Some(arch);
        let tcg = AccelPlan {
            first: Accel::Tcg,
            probe: false,
            host: None,
            remembered: None,
        };
        match preference {
            AccelPreference::Tcg => Ok(tcg),
            AccelPreference::Kvm => {
                if !native {
                    return Err(VmError::KvmUnavailable {
                        reason: format!(
                            "the guest is {arch} but the host is {}",
                            std::env::consts::ARCH
                        ),
                    });
                }
                accel::kvm_device_usable()
                    .await
                    .map_err(|reason| VmError::KvmUnavailable { reason })?;
                Ok(AccelPlan {
                    first: Accel::Kvm,
                    probe: false,
                    host: None,
                    remembered: None,
                })
            }
            AccelPreference::Auto => {
                if !native {
                    return Ok(tcg);
                }
                if let Err(reason) = accel::kvm_device_usable().await {
                    tracing::info!("{reason}; using TCG (software emulation)");
                    return Ok(tcg);
                }
                let (kernel_release, kvm_device) = accel::host_kernel_and_kvm().await;
                let host = HostIdentity {
                    kernel_release,
                    kvm_device,
                    qemu: qemu.to_path_buf(),
                    qemu_version: qemu_version(qemu).await,
                };
                let remembered = VerdictStore::new(&self.options.state_dir)
                    .lookup(&host)
                    .await;
                if let Some(verdict) = &remembered {
                    if verdict.accel == Accel::Tcg {
                        tracing::info!(
                            reason = %verdict.reason,
                            "using TCG (software emulation): KVM did not work on this host before"
                        );
                        return Ok(tcg);
                    }
                }
                let remembered = remembered.map(|v| v.accel);
                Ok(AccelPlan {
                    first: Accel::Kvm,
                    probe: true,
                    host: Some(host),
                    remembered,
                })
            }
        }
    }
}

impl VmBackend for QemuBackend {
    fn name(&self) -> &'static str {
        "qemu"
    }

    fn start(&self, config: VmConfig) -> BoxFuture<'_, Result<Box<dyn Vm>, VmError>> {
        Box::pin(async move {
            self.start_vm(config)
                .await
                .map(|vm| Box::new(vm) as Box<dyn Vm>)
        })
    }
}

/// Which accelerator to boot with first, and whether to watch a KVM boot for progress.
#[derive(Debug)]
struct AccelPlan {
    first: Accel,
    probe: bool,
    host: Option<HostIdentity>,
    remembered: Option<Accel>,
}

/// Everything the QEMU command line depends on.
#[derive(Debug)]
pub(crate) struct Launch<'a> {
    pub config: &'a VmConfig,
    pub qemu: &'a Path,
    pub machine: MachineKind,
    pub accel: Accel,
    pub tsc_khz: Option<u64>,
    pub sockets: &'a DaemonSockets,
}

/// One boot: the daemons, QEMU and the console copier.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub accel: Accel,
    pub qemu: ChildProc,
    pub qemu_log: PathBuf,
    pub daemons: Daemons,
    pub console: Arc<Console>,
    pub console_task: JoinHandle<()>,
    pub started: Instant,
}

impl Attempt {
    /// Starts the daemons, waits until they are ready, then starts QEMU.
    async fn launch(launch: &Launch<'_>, options: &QemuOptions) -> Result<Attempt, VmError> {
        let config = launch.config;
        let daemons = Daemons::start(
            &options.tools,
            &config.shares,
            launch.sockets,
            &config.run_dir,
            options.fs_sandbox,
        )
        .await?;
        let qemu_log = config.run_dir.join("qemu.log");
        let args = qemu_args(launch);
        tracing::debug!(args = ?args, "starting QEMU");
        let (qemu, stdout) = ChildProc::spawn(ChildSpec {
            name: "qemu".into(),
            program: launch.qemu.to_path_buf(),
            args,
            env: vec![],
            log: qemu_log.clone(),
            pipe_stdout: true,
            credentials: None,
            inherit_fd: None,
        })
        .await
        .map_err(|source| VmError::Spawn {
            program: launch.qemu.display().to_string(),
            source,
        })?;
        let started = Instant::now();
        let console = Console::new();
        let stdout = stdout.ok_or_else(|| {
            VmError::io(
                "read QEMU's console",
                std::io::Error::other("no stdout pipe"),
            )
        })?;
        let console_task = console
            .start_copy(stdout, &config.console_log)
            .await
            .map_err(|e| {
                VmError::io(
                    format!("create the console log {}", config.console_log.display()),
                    e,
                )
            })?;
        Ok(Attempt {
            accel: launch.accel,
            qemu,
            qemu_log,
            daemons,
            console,
            console_task,
            started,
        })
    }

    /// Waits for the guest's first connection. Console output alone extends the window once (a
    /// slow but live guest); no output, or QEMU exiting, is a failure with a sentence saying why.
    async fn probe_kvm(&self, listeners: &VsockListeners, window: Duration) -> Result<(), String> {
        let mut first = listeners.first_connection();
        let mut deadline = tokio::time::Instant::now() + window;
        let mut extended = false;
        loop {
            tokio::select! {
                connected = first.wait_for(Option::is_some) => {
                    return connected.map(|_| ()).map_err(|_| "the vsock listener stopped".to_string());
                }
                exit = self.qemu.wait() => {
                    return Err(format!("KVM could not run the guest (QEMU ended: {exit})"));
                }
                () = tokio::time::sleep_until(deadline) => {
                    if !extended && *self.console.seen().borrow() > 0 {
                        extended = true;
                        deadline += window * 2;
                        continue;
                    }
                    return Err(format!(
                        "KVM did not boot the guest within {} s",
                        window.as_secs_f32()
                    ));
                }
            }
        }
    }

    /// Kills QEMU and the daemons and waits until they are reaped. The console task ends by itself
    /// at QEMU's end of output.
    pub async fn kill(&self) {
        self.qemu.kill().await;
        self.daemons.kill().await;
    }
}

/// The kernel command line.
pub(crate) fn kernel_cmdline(
    arch: Arch,
    machine: MachineKind,
    tsc_khz: Option<u64>,
    extra: &[String],
) -> String {
    /// Measured to cut x86 boot time (recipe §4): no crypto self-tests, no i8042 probing, no TSC
    /// re-checks.
    const X86_TRIMMED: &[&str] = &[
        "quiet",
        "cryptomgr.notests",
        "tsc=reliable",
        "no_timer_check",
        "i8042.noaux",
        "i8042.nomux",
        "i8042.nopnp",
        "i8042.dumbkbd",
        "random.trust_cpu=on",
        "mitigations=off",
    ];
    let mut words: Vec<String> = Vec::new();
    match arch {
        Arch::X86_64 => {
            words.push("console=ttyS0".into());
            words.extend(X86_TRIMMED.iter().map(|w| w.to_string()));
            if machine == MachineKind::Microvm {
                words.push("pci=off".into());
                if let Some(khz) = tsc_khz {
                    words.push(format!("tsc_early_khz={khz}"));
                }
            }
        }
        Arch::Aarch64 => {
            words.extend(["console=ttyAMA0", "quiet", "cryptomgr.notests"].map(String::from));
        }
    }
    // A guest kernel panic reboots, which -no-reboot turns into QEMU exiting: reported at once
    // instead of hanging until the boot watchdog fires.
    words.push("panic=-1".into());
    words.extend(extra.iter().cloned());
    words.join(" ")
}

/// QEMU's arguments for one boot.
pub(crate) fn qemu_args(launch: &Launch<'_>) -> Vec<OsString> {
    let config = launch.config;
    let mem = format!("{}M", config.memory_mib);
    let (machine, cpu, pci) = match (config.arch, launch.machine, launch.accel) {
        (Arch::X86_64, MachineKind::Microvm, Accel::Kvm) => {
            ("microvm,pit=off", Some("host"), false)
        }
        (Arch::X86_64, MachineKind::Microvm, _) => ("microvm,pit=off", None, false),
        (Arch::X86_64, MachineKind::Q35, Accel::Kvm) => ("q35", Some("host"), true),
        (Arch::X86_64, MachineKind::Q35, _) => ("q35", None, true),
        (Arch::Aarch64, _, Accel::Kvm) => ("virt", Some("host"), true),
        (Arch::Aarch64, _, _) => ("virt", Some("cortex-a72"), true),
    };
    let accel = match launch.accel {
        Accel::Kvm => "kvm",
        Accel::Tcg | Accel::AppleVirtualization => "tcg",
    };
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |a: &str, b: String| {
        args.push(a.into());
        args.push(b.into());
    };
    push("-machine", format!("{machine},memory-backend=mem"));
    push("-accel", accel.to_string());
    if let Some(cpu) = cpu {
        push("-cpu", cpu.to_string());
    }
    push("-m", mem.clone());
    push("-smp", config.cpus.to_string());
    push(
        "-object",
        format!("memory-backend-memfd,id=mem,size={mem},share=on"),
    );
    args.push("-kernel".into());
    args.push(config.kernel.clone().into());
    args.push("-initrd".into());
    args.push(config.initramfs.clone().into());
    args.push("-append".into());
    args.push(
        kernel_cmdline(
            config.arch,
            launch.machine,
            launch.tsc_khz,
            &config.cmdline_extra,
        )
        .into(),
    );
    for flag in [
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
    ] {
        args.push(flag.into());
    }
    let mut push = |a: &str, b: OsString| {
        args.push(a.into());
        args.push(b);
    };
    push("-chardev", "stdio,id=console,signal=off".into());
    push("-serial", "chardev:console".into());
    let (fs_device, vsock_device) = if pci {
        ("vhost-user-fs-pci", "vhost-user-vsock-pci")
    } else {
        ("vhost-user-fs-device", "vhost-user-vsock-device")
    };
    for (i, (share, socket)) in config.shares.iter().zip(&launch.sockets.fs).enumerate() {
        push("-chardev", chardev_socket(&format!("fs{i}"), socket));
        push(
            "-device",
            format!("{fs_device},chardev=fs{i},tag={}", share.tag).into(),
        );
    }
    push("-chardev", chardev_socket("vsock", &launch.sockets.vsock));
    push("-device", format!("{vsock_device},chardev=vsock").into());
    args
}

/// `socket,id=<id>,path=<path>` with QEMU's comma escaping (`,` → `,,`).
fn chardev_socket(id: &str, path: &Path) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut bytes = format!("socket,id={id},path=").into_bytes();
    for &b in path.as_os_str().as_bytes() {
        bytes.push(b);
        if b == b',' {
            bytes.push(b',');
        }
    }
    OsString::from_vec(bytes)
}

/// `tsc_early_khz` for the guest: the host's `cpu MHz` from `/proc/cpuinfo`, in kHz.
pub fn tsc_early_khz(cpuinfo: &str) -> Option<u64> {
    let mhz: f64 = cpuinfo
        .lines()
        .find(|l| l.starts_with("cpu MHz"))?
        .split_once(':')?
        .1
        .trim()
        .parse()
        .ok()?;
    (mhz.is_finite() && mhz > 0.0).then(|| (mhz * 1000.0).round() as u64)
}

async fn host_tsc_khz() -> Option<u64> {
    let cpuinfo = tokio::fs::read_to_string("/proc/cpuinfo").await.ok()?;
    let khz = tsc_early_khz(&cpuinfo);
    if khz.is_none() {
        tracing::warn!(
            "/proc/cpuinfo has no `cpu MHz`, which the microvm machine needs (tsc_early_khz); using q35"
        );
    }
    khz
}

async fn qemu_version(qemu: &Path) -> String {
    let output = tokio::process::Command::new(qemu)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    match output {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        Err(error) => {
            tracing::debug!(%error, "qemu --version failed");
            String::new()
        }
    }
}

/// Checks the configuration before anything is created.
async fn validate(config: &VmConfig) -> Result<(), VmError> {
    let invalid = |msg: String| Err(VmError::InvalidConfig(msg));
    if config.listen_ports.is_empty() {
        return invalid(
            "listen_ports is empty; the guest needs at least the supervisor port".into(),
        );
    }
    if config.memory_mib < 64 {
        return invalid(format!(
            "memory_mib is {}; the guest needs at least 64",
            config.memory_mib
        ));
    }
    if config.cpus == 0 {
        return invalid("cpus is 0".into());
    }
    if let Some(word) = config
        .cmdline_extra
        .iter()
        .find(|w| w.is_empty() || w.contains(char::is_whitespace))
    {
        return invalid(format!(
            "kernel command line word {word:?} is empty or contains whitespace"
        ));
    }
    let mut tags = std::collections::HashSet::new();
    for share in &config.shares {
        let ok = !share.tag.is_empty()
            && share.tag.len() <= 36
            && share
                .tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return invalid(format!(
                "share tag {:?} must be 1 to 36 characters of letters, digits, '_', '.', '-'",
                share.tag
            ));
        }
        if !tags.insert(share.tag.as_str()) {
            return invalid(format!("share tag {:?} is used twice", share.tag));
        }
        match tokio::fs::metadata(&share.host_path).await {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(VmError::MissingFile {
                    what: "the shared folder",
                    path: share.host_path.clone(),
                    source: std::io::Error::other("it is not a folder"),
                })
            }
            Err(source) => {
                return Err(VmError::MissingFile {
                    what: "the shared folder",
                    path: share.host_path.clone(),
                    source,
                })
            }
        }
    }
    for (what, path) in [
        ("the guest kernel", &config.kernel),
        ("the guest initramfs", &config.initramfs),
    ] {
        if let Err(source) = tokio::fs::File::open(path).await {
            return Err(VmError::MissingFile {
                what,
                path: path.clone(),
                source,
            });
        }
    }
    let longest_port = config.listen_ports.iter().copied().max().unwrap_or(0);
    let longest = port_socket_path(&config.run_dir.join("vm.vsock"), longest_port);
    if longest.as_os_str().len() > MAX_SOCKET_PATH {
        return invalid(format!(
            "run_dir {} is too long for Unix socket paths ({} of at most {MAX_SOCKET_PATH} bytes); use a shorter one",
            config.run_dir.display(),
            longest.as_os_str().len()
        ));
    }
    Ok(())
}

/// Creates `run_dir` (mode 0700). An existing one must hold nothing but what a previous VM left there
/// (sockets, logs), which is removed; anything else is refused rather than deleted.
async fn prepare_run_dir(run_dir: &Path) -> Result<(), VmError> {
    if let Ok(mut entries) = tokio::fs::read_dir(run_dir).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name.ends_with(".sock")
                || name.ends_with(".log")
                || name == "vm.vsock"
                || name.starts_with("vm.vsock_");
            if !ours {
                return Err(VmError::InvalidConfig(format!(
                    "run_dir {} already contains {name}, which is not from a VM; use an empty or new folder",
                    run_dir.display()
                )));
            }
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
    super::create_run_dir(run_dir).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::Share;

    fn config(arch: Arch) -> VmConfig {
        let mut c = VmConfig::new(
            "/img/kernel".into(),
            "/img/initramfs.cpio.gz".into(),
            "/run/w/vm1".into(),
            "/var/w/console.log".into(),
        );
        c.arch = arch;
        c.shares = vec![
            Share {
                tag: "s0".into(),
                host_path: "/home/u/a".into(),
                read_only: false,
            },
            Share {
                tag: "s1".into(),
                host_path: "/home/u/b".into(),
                read_only: true,
            },
        ];
        c.cmdline_extra = vec![
            "workroom.share=s0:/sessions/x/mnt/a".into(),
            "workroom.log=info".into(),
        ];
        c
    }

    fn args(launch: &Launch<'_>) -> Vec<String> {
        qemu_args(launch)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn x86_microvm_tcg_line() {
        let c = config(Arch::X86_64);
        let sockets = DaemonSockets::new(&c.run_dir, 2);
        let launch = Launch {
            config: &c,
            qemu: Path::new("qemu-system-x86_64"),
            machine: MachineKind::Microvm,
            accel: Accel::Tcg,
            tsc_khz: Some(2_596_122),
            sockets: &sockets,
        };
        let expected = [
            "-machine", "microvm,pit=off,memory-backend=mem",
            "-accel", "tcg",
            "-m", "512M",
            "-smp", "1",
            "-object", "memory-backend-memfd,id=mem,size=512M,share=on",
            "-kernel", "/img/kernel",
            "-initrd", "/img/initramfs.cpio.gz",
            "-append", "console=ttyS0 quiet cryptomgr.notests tsc=reliable no_timer_check i8042.noaux \
                        i8042.nomux i8042.nopnp i8042.dumbkbd random.trust_cpu=on mitigations=off pci=off \
                        tsc_early_khz=2596122 panic=-1 workroom.share=s0:/sessions/x/mnt/a workroom.log=info",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-chardev", "stdio,id=console,signal=off",
            "-serial", "chardev:console",
            "-chardev", "socket,id=fs0,path=/run/w/vm1/fs0.sock",
            "-device", "vhost-user-fs-device,chardev=fs0,tag=s0",
            "-chardev", "socket,id=fs1,path=/run/w/vm1/fs1.sock",
            "-device", "vhost-user-fs-device,chardev=fs1,tag=s1",
            "-chardev", "socket,id=vsock,path=/run/w/vm1/vsock.sock",
            "-device", "vhost-user-vsock-device,chardev=vsock",
        ];
        assert_eq!(args(&launch), expected);
    }

    #[test]
    fn x86_kvm_uses_the_host_cpu_and_q35_uses_pci() {
        let c = config(Arch::X86_64);
        let sockets = DaemonSockets::new(&c.run_dir, 2);
        let launch = Launch {
            config: &c,
            qemu: Path::new("q"),
            machine: MachineKind::Q35,
            accel: Accel::Kvm,
            tsc_khz: Some(1),
            sockets: &sockets,
        };
        let a = args(&launch);
        assert_eq!(
            a[..8],
            [
                "-machine",
                "q35,memory-backend=mem",
                "-accel",
                "kvm",
                "-cpu",
                "host",
                "-m",
                "512M"
            ]
        );
        assert!(a.contains(&"vhost-user-fs-pci,chardev=fs0,tag=s0".to_string()));
        assert!(a.contains(&"vhost-user-vsock-pci,chardev=vsock".to_string()));
        let append = &a[a.iter().position(|x| x == "-append").unwrap() + 1];
        assert!(
            !append.contains("pci=off") && !append.contains("tsc_early_khz"),
            "{append}"
        );
    }

    #[test]
    fn aarch64_virt_line() {
        let mut c = config(Arch::Aarch64);
        c.memory_mib = 256;
        c.cpus = 2;
        c.shares.truncate(1);
        let sockets = DaemonSockets::new(&c.run_dir, 1);
        let launch = Launch {
            config: &c,
            qemu: Path::new("qemu-system-aarch64"),
            machine: MachineKind::Microvm, // ignored for aarch64
            accel: Accel::Tcg,
            tsc_khz: None,
            sockets: &sockets,
        };
        let expected = [
            "-machine",
            "virt,memory-backend=mem",
            "-accel",
            "tcg",
            "-cpu",
            "cortex-a72",
            "-m",
            "256M",
            "-smp",
            "2",
            "-object",
            "memory-backend-memfd,id=mem,size=256M,share=on",
            "-kernel",
            "/img/kernel",
            "-initrd",
            "/img/initramfs.cpio.gz",
            "-append",
            "console=ttyAMA0 quiet cryptomgr.notests panic=-1 \
                        workroom.share=s0:/sessions/x/mnt/a workroom.log=info",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
            "-chardev",
            "stdio,id=console,signal=off",
            "-serial",
            "chardev:console",
            "-chardev",
            "socket,id=fs0,path=/run/w/vm1/fs0.sock",
            "-device",
            "vhost-user-fs-pci,chardev=fs0,tag=s0",
            "-chardev",
            "socket,id=vsock,path=/run/w/vm1/vsock.sock",
            "-device",
            "vhost-user-vsock-pci,chardev=vsock",
        ];
        assert_eq!(args(&launch), expected);
    }

    #[test]
    fn commas_in_socket_paths_are_escaped() {
        assert_eq!(
            chardev_socket("vsock", Path::new("/tmp/a,b/vsock.sock")),
            OsString::from("socket,id=vsock,path=/tmp/a,,b/vsock.sock")
        );
    }

    #[test]
    fn tsc_khz_comes_from_cpu_mhz() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu MHz\t\t: 2596.122\ncache size\t: 512 KB\n\
                       processor\t: 1\ncpu MHz\t\t: 2400.000\n";
        assert_eq!(tsc_early_khz(cpuinfo), Some(2_596_122));
        assert_eq!(tsc_early_khz("cpu MHz\t\t: 2596\n"), Some(2_596_000));
        assert_eq!(tsc_early_khz("processor\t: 0\nBogoMIPS\t: 50.00\n"), None);
        assert_eq!(tsc_early_khz("cpu MHz\t: nan\n"), None);
        assert_eq!(tsc_early_khz("cpu MHz\t: -5\n"), None);
    }

    #[tokio::test]
    async fn invalid_configs_are_refused_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let kernel = dir.path().join("kernel");
        std::fs::write(&kernel, "k").unwrap();
        let base = || {
            let mut c = VmConfig::new(
                kernel.clone(),
                kernel.clone(),
                dir.path().join("run"),
                dir.path().join("c.log"),
            );
            c.shares = vec![Share {
                tag: "s0".into(),
                host_path: dir.path().to_path_buf(),
                read_only: false,
            }];
            c
        };
        assert!(validate(&base()).await.is_ok());

        let mut c = base();
        c.shares[0].tag = "has,comma".into();
        assert!(validate(&c)
            .await
            .unwrap_err()
            .to_string()
            .contains("share tag \"has,comma\""));

        let mut c = base();
        c.cmdline_extra = vec!["a b".into()];
        assert!(matches!(validate(&c).await, Err(VmError::InvalidConfig(_))));

        let mut c = base();
        c.initramfs = dir.path().join("missing.cpio.gz");
        let err = validate(&c).await.unwrap_err().to_string();
        assert!(
            err.starts_with("the guest initramfs ")
                && err.contains("missing.cpio.gz cannot be used"),
            "{err}"
        );

        let mut c = base();
        c.run_dir = dir.path().join("x".repeat(120));
        assert!(validate(&c)
            .await
            .unwrap_err()
            .to_string()
            .contains("too long for Unix socket paths"));
    }

    #[tokio::test]
    async fn run_dir_with_foreign_files_is_refused_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stale.sock"), "").unwrap();
        std::fs::write(dir.path().join("vm.vsock_1024"), "").unwrap();
        prepare_run_dir(dir.path()).await.unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "leftovers removed"
        );
        std::fs::write(dir.path().join("thesis.tex"), "precious").unwrap();
        assert!(prepare_run_dir(dir.path()).await.is_err());
        assert!(dir.path().join("thesis.tex").exists());
    }
}
