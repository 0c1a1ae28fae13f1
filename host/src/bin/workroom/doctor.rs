//! `workroom doctor`: is everything a session needs here? One line per check, and for each problem
//! the exact command that fixes it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use workroom_host::settings::ProviderKind;
use workroom_host::vm::accel::{self, HostIdentity, VerdictStore, ACCEL_ENV};
use workroom_host::vm::tools::{
    MissingProgram, QEMU_AARCH64, QEMU_X86, VHOST_DEVICE_VSOCK, VIRTIOFSD,
};
use workroom_host::vm::{Accel, Arch, Tools};

use crate::setup::App;
use crate::term::{dim, green, red, yellow};

/// Less free space than this on the data directory's disk is a problem (transcripts, console logs).
const MIN_FREE_BYTES: u64 = 256 << 20;

/// One checked thing.
struct Check {
    ok: bool,
    /// A failure that stops sessions (as opposed to an optional extra).
    needed: bool,
    what: String,
    detail: String,
    fix: Option<String>,
}

impl Check {
    fn pass(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            ok: true,
            needed: true,
            what: what.into(),
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(what: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            ok: false,
            needed: true,
            what: what.into(),
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn optional(mut self) -> Self {
        self.needed = false;
        self
    }

    fn print(&self) {
        let mark = match (self.ok, self.needed) {
            (true, _) => green().apply_to("✓"),
            (false, true) => red().apply_to("✗"),
            (false, false) => yellow().apply_to("–"),
        };
        println!("{mark} {:<22} {}", self.what, self.detail);
        if let Some(fix) = &self.fix {
            println!("  {} {fix}", dim().apply_to("fix:"));
        }
    }
}

pub async fn doctor(app: &App) -> anyhow::Result<ExitCode> {
    let arch = Arch::default();
    let mut checks = Vec::new();
    let tools = Tools::discover(None);
    let missing: Vec<MissingProgram> = match &tools {
        Ok(_) => Vec::new(),
        Err(e) => e.missing.clone(),
    };
    let found = |program: &MissingProgram, path: Option<&Path>| -> Check {
        if missing.iter().any(|m| m.program == program.program) {
            Check::fail(program.program, "not found", program.install)
        } else {
            let path = path
                .map(Path::to_path_buf)
                .or_else(|| on_path(program.program));
            Check::pass(
                program.program,
                path.map(|p| p.display().to_string())
                    .unwrap_or_else(|| "found".into()),
            )
        }
    };
    let ok_tools = tools.as_ref().ok();

    // QEMU for both guest architectures; the host's own is the one sessions use.
    let mut qemu_x86 = found(&QEMU_X86, ok_tools.map(|t| t.qemu_x86.as_path()));
    qemu_x86.detail = with_version(&qemu_x86.detail, ok_tools.map(|t| t.qemu_x86.as_path())).await;
    if arch != Arch::X86_64 {
        qemu_x86 = qemu_x86.optional();
    }
    checks.push(qemu_x86);
    let aarch64_path = ok_tools
        .and_then(|t| t.qemu_aarch64.clone())
        .or_else(|| on_path(QEMU_AARCH64.program));
    let qemu_arm = match aarch64_path {
        Some(path) => Check::pass(
            QEMU_AARCH64.program,
            with_version(&path.display().to_string(), Some(&path)).await,
        ),
        None => Check::fail(
            QEMU_AARCH64.program,
            "not found (only needed for aarch64 guests)",
            QEMU_AARCH64.install,
        ),
    };
    checks.push(if arch == Arch::Aarch64 {
        qemu_arm
    } else {
        qemu_arm.optional()
    });
    checks.push(accelerator(app, ok_tools, arch).await);
    checks.push(found(&VIRTIOFSD, ok_tools.map(|t| t.virtiofsd.as_path())));
    checks.push(found(
        &VHOST_DEVICE_VSOCK,
        ok_tools.map(|t| t.vhost_device_vsock.as_path()),
    ));
    checks.push(image(app, arch));
    checks.extend(store_and_credentials(app));
    checks.push(disk(&app.data_dir));

    for check in &checks {
        check.print();
    }
    let problems = checks.iter().filter(|c| !c.ok && c.needed).count();
    if problems == 0 {
        println!(
            "\n{}",
            green().apply_to("Everything a session needs is here.")
        );
        Ok(ExitCode::SUCCESS)
    } else {
        let s = if problems == 1 { "" } else { "s" };
        println!(
            "\n{}",
            red().apply_to(format!(
                "{problems} problem{s} to fix before a session can run (see the fix lines above)."
            ))
        );
        Ok(ExitCode::FAILURE)
    }
}

/// KVM or TCG: what is remembered for this host, else what a cheap look at `/dev/kvm` says.
async fn accelerator(app: &App, tools: Option<&Tools>, arch: Arch) -> Check {
    let what = "accelerator";
    if let Some(forced) = std::env::var(ACCEL_ENV).ok().filter(|v| !v.is_empty()) {
        return Check::pass(what, format!("{forced} (forced by {ACCEL_ENV})"));
    }
    if Arch::host() != Some(arch) {
        return Check::pass(
            what,
            "TCG (software emulation: the guest is another architecture)",
        );
    }
    if let Err(reason) = accel::kvm_device_usable().await {
        let mut check = Check::pass(what, format!("TCG (software emulation; slower): {reason}"));
        check.fix = Some(
            "for faster VMs, enable KVM: load the module (modprobe kvm_intel or kvm_amd) and make /dev/kvm \
             readable and writable for you (usermod -aG kvm $USER)"
                .into(),
        );
        return check;
    }
    let Some(tools) = tools else {
        return Check::pass(
            what,
            "KVM device usable (QEMU is missing, so not tried yet)",
        );
    };
    let qemu = match arch {
        Arch::Aarch64 => tools
            .qemu_aarch64
            .clone()
            .unwrap_or_else(|| tools.qemu_x86.clone()),
        Arch::X86_64 => tools.qemu_x86.clone(),
    };
    let (kernel_release, kvm_device) = accel::host_kernel_and_kvm().await;
    let host = HostIdentity {
        kernel_release,
        kvm_device,
        qemu: qemu.clone(),
        qemu_version: qemu_version(&qemu).await.unwrap_or_default(),
    };
    match VerdictStore::new(&app.data_dir).lookup(&host).await {
        Some(v) if v.accel == Accel::Kvm => {
            Check::pass(what, format!("KVM (it worked here before: {})", v.reason))
        }
        Some(v) => Check::pass(
            what,
            format!(
                "TCG (software emulation): KVM did not work here before ({})",
                v.reason
            ),
        ),
        None => Check::pass(
            what,
            "KVM device usable; the first boot checks that it works and falls back to TCG if not",
        ),
    }
}

fn image(app: &App, arch: Arch) -> Check {
    let what = format!("guest image ({arch})");
    match workroom_host::image::locate(&app.images, arch) {
        Ok(image) => {
            let m = &image.manifest;
            let part = |label: &str, value: &serde_json::Value| {
                value.as_str().map(|v| format!("{label} {v}"))
            };
            let versions: Vec<String> = [
                part("kernel", &m["kernel"]["release"]),
                part("agent", &m["agent"]["version"]),
                part("busybox", &m["busybox_package"]["version"]),
            ]
            .into_iter()
            .flatten()
            .collect();
            let dir = workroom_host::image::image_dir(&app.images, arch);
            Check::pass(what, format!("{} ({})", versions.join(", "), dir.display()))
        }
        Err(e) => Check::fail(
            what,
            e.to_string(),
            format!("workroom image build --arch {arch}"),
        ),
    }
}

/// The database opens, and the model credentials are there (never printed).
fn store_and_credentials(app: &App) -> Vec<Check> {
    let store = match app.store() {
        Ok(store) => store,
        Err(e) => {
            return vec![Check::fail(
                "data directory",
                format!("{e:#}"),
                format!(
                    "make {} writable for you, or set WORKROOM_HOME to a folder that is",
                    app.data_dir.display()
                ),
            )]
        }
    };
    let data = Check::pass("data directory", app.data_dir.display().to_string());
    let credentials = match workroom_host::settings::Settings::load(&store) {
        Err(e) => Check::fail(
            "model credentials",
            format!("settings unreadable: {e}"),
            "workroom config get",
        ),
        Ok(settings) => {
            let upstream = match settings.provider {
                ProviderKind::Anthropic => "Anthropic API",
                ProviderKind::OpenAi => "OpenAI-compatible server",
            };
            let base = settings
                .base_url
                .clone()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default();
            if settings.has_credentials() {
                let from = match workroom_host::credentials::load(
                    workroom_host::credentials::Secret::AnthropicApiKey,
                ) {
                    Some((_, workroom_host::credentials::Source::Keychain)) => " (system keychain)",
                    Some((_, workroom_host::credentials::Source::Environment)) => " (environment)",
                    None => "",
                };
                Check::pass(
                    "model credentials",
                    format!("configured for the {upstream}{base}{from}"),
                )
            } else {
                Check::fail(
                    "model credentials",
                    format!("no API key for the {upstream}{base}"),
                    "workroom config set-key   (or export ANTHROPIC_API_KEY=<your key>; or a local model: workroom config set provider openai)",
                )
            }
        }
    };
    vec![data, credentials]
}

fn disk(dir: &Path) -> Check {
    // The directory may not exist yet; its nearest existing parent is on the same disk.
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    match free_bytes(existing) {
        Some(free) if free < MIN_FREE_BYTES => Check::fail(
            "free disk space",
            format!("{} left on the disk holding {}", human(free), dir.display()),
            format!("free some space on the disk holding {}", dir.display()),
        ),
        Some(free) => Check::pass("free disk space", format!("{} free", human(free))),
        None => Check::pass("free disk space", "unknown"),
    }
}

fn free_bytes(path: &Path) -> Option<u64> {
    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain old data; zeroed is a valid value that the call overwrites.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a NUL-terminated path and `stat` a valid statvfs, both live for the call.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    // The field types differ between platforms (u64 here, u32 on some); widen them all.
    #[allow(clippy::useless_conversion)]
    let free = u64::from(stat.f_bavail) * u64::from(stat.f_frsize);
    (rc == 0).then_some(free)
}

fn human(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    if bytes >= GIB {
        format!("{:.1} GiB", bytes as f64 / GIB as f64)
    } else {
        format!("{} MiB", bytes / MIB)
    }
}

/// `program` on `PATH` or in `~/.cargo/bin`, where `Tools::discover` also looks.
fn on_path(program: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

async fn with_version(detail: &str, program: Option<&Path>) -> String {
    match program {
        Some(p) => match qemu_version(p).await {
            Some(v) if !v.is_empty() => format!("{detail} ({v})"),
            _ => detail.to_string(),
        },
        None => detail.to_string(),
    }
}

/// The first line of `qemu --version`, as the accelerator verdicts are keyed by it.
async fn qemu_version(qemu: &Path) -> Option<String> {
    let output = tokio::process::Command::new(qemu)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    Some(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
    )
}
